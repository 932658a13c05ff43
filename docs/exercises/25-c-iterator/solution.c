/* Solution: a loop whose count comes from the packet has no bound the
 * verifier can see, so it walks it round by round into its limit. The
 * number iterator (bpf_iter_num_*, kfuncs) is a loop the verifier checks
 * once, whatever the count: the same body, driven by new/next/destroy */
#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))

struct __sk_buff { unsigned int len, pkt_type, mark; };
struct bpf_iter_num { unsigned long long __opaque[1]; } __attribute__((aligned(8)));
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

SEC("socket") int mix(struct __sk_buff *skb)
{
	unsigned int n = skb->len, h = 0;
	struct bpf_iter_num it;
	int *i;

	bpf_iter_num_new(&it, 0, n);
	while ((i = bpf_iter_num_next(&it)))
		h = (h << 3) ^ (h >> 5) ^ *i;
	bpf_iter_num_destroy(&it);
	return h & 0xffff;
}

char _license[] SEC("license") = "GPL";
