/* bpf_loop with a callback: the program passes add's address (BPF_PSEUDO_FUNC),
 * so the kernel wants a BTF type per function (func_info), which sockasm makes.
 * Returns the rounds run << 8 | 0 + 1 + ... + 9. */
#include "common.h"

static long (*bpf_loop)(unsigned int nr_loops, void *callback_fn, void *callback_ctx,
			unsigned long long flags) = (void *)181;

static int add(unsigned int i, void *ctx)
{
	*(unsigned long long *)ctx += i;
	return 0;
}

SEC("socket") int loop_sum(struct __sk_buff *skb)
{
	unsigned long long sum = 0;
	long n = bpf_loop(10, add, &sum, 0);

	return (n << 8) | sum;
}

char _license[] SEC("license") = "GPL";
