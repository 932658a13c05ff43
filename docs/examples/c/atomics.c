/* Atomics: the __sync builtins on memory (here a map value) */
#define SEC(name) __attribute__((section(name), used))

struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") counts = { .type = 2 /* ARRAY */, .key_size = 4, .value_size = 8, .max_entries = 1 };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

SEC("socket") int atomics(void *skb)
{
	unsigned int key = 0;
	unsigned long *v = bpf_map_lookup_elem(&counts, &key);

	if (!v)
		return 0;
	__sync_fetch_and_add(v, 1);                   /* result unused: add */
	long old = __sync_fetch_and_add(v, 2);        /* result used: fetch_add */
	old += __sync_lock_test_and_set(v, 10);       /* xchg */
	old += __sync_val_compare_and_swap(v, 10, 0); /* cmpxchg: r0 is the expected value */
	return old;
}

char _license[] SEC("license") = "GPL";
