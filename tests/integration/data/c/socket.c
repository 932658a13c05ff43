/* A socket filter: keeps the first 64 bytes of IPv4 packets, drops the rest.
 * Socket filters see the packet from the network header on, and read it
 * with legacy LD_ABS loads. */
#include "common.h"

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

SEC("socket") int sock_filter(struct __sk_buff *skb)
{
	if (skb->len < 20)
		return 0;
	return (load_byte(skb, 0) >> 4) == 4 ? 64 : 0;
}

/* A section name sockasm does not know. */
SEC("mystery/thing") int odd(void *ctx)
{
	return 0;
}

char _license[] SEC("license") = "Dual BSD/GPL";
