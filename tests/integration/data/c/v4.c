/* Compiled with -mcpu=v4: sign-extending loads and moves, bswap, signed
 * division, 32-bit atomics. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __s64);
} vals SEC(".maps");

SEC("socket") int v4_forms(struct __sk_buff *skb)
{
	__u32 k = skb->len & 3;
	__s64 *v = bpf_map_lookup_elem(&vals, &k);
	if (!v)
		return 0;
	__s8 b = *(__s8 *)v;
	__s16 h = (__s16)skb->mark;
	__s64 x = (__s64)b * h;
	x = x / (__s64)(skb->priority | 1);
	x = x % (__s64)(skb->hash | 3);
	__u32 w = __builtin_bswap32((__u32)x);
	__u64 q = __builtin_bswap64((__u64)x);
	__u32 *p32 = (__u32 *)v;
	__sync_fetch_and_or(p32, w);
	__sync_fetch_and_xor(p32 + 1, 5);
	__u32 old = __sync_val_compare_and_swap(p32, w, 7);
	__u32 ex = __atomic_exchange_n(p32 + 1, old, __ATOMIC_SEQ_CST);
	return (int)(w ^ (__u32)q ^ ex);
}

char _license[] SEC("license") = "GPL";
