/* sum 0..9 with the open-coded number iterator, from C: the kfuncs are
 * declared as extern functions in the .ksyms section (libbpf's __ksym) */
#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))

struct bpf_iter_num { unsigned long long __opaque[1]; } __attribute__((aligned(8)));
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

/* for (i = start; i < end; i++), as the iterator walks it: new before the
 * loop, next at every round, destroy when the loop's scope ends (cleanup) */
#define for_each_num(i, start, end)                                            \
	for (struct bpf_iter_num it__ __attribute__((cleanup(bpf_iter_num_destroy))), \
	     *it_p__ = (bpf_iter_num_new(&it__, (start), (end)), &it__);           \
	     ({ int *v__ = bpf_iter_num_next(it_p__); if (v__) i = *v__; v__; });)

SEC("socket") int sum(void *skb)
{
	int i, s = 0;

	for_each_num(i, 0, 10)
		s += i;
	return s;
}

char _license[] SEC("license") = "GPL";
