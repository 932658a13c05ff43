/* Rejected by the verifier: dereferences a number (skb->mark) as a pointer. */
#include "common.h"

SEC("socket") int bad_deref(struct __sk_buff *skb)
{
	__u32 *p = (__u32 *)(long)skb->mark;
	return *p;
}

char _license[] SEC("license") = "GPL";
