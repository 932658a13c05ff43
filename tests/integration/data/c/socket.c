/* A socket filter: keeps the first 64 bytes of IPv4 packets, drops the rest.
 * Socket filters read the packet with legacy LD_ABS loads. */
#include "common.h"

unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

SEC("socket") int sock_filter(struct __sk_buff *skb)
{
	if (skb->len < 14)
		return 0;
	return load_half(skb, 12) == 0x0800 ? 64 : 0;
}

/* A section name sockasm does not know. */
SEC("mystery/thing") int odd(void *ctx)
{
	return 0;
}

char _license[] SEC("license") = "Dual BSD/GPL";
