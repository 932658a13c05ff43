/* 64-bit immediates: a constant that does not fit in 32 bits, and the
 * address of a map, both loaded with lddw (two slots) */
#define SEC(name) __attribute__((section(name), used))

struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") seen = { .type = 2 /* ARRAY */, .key_size = 4, .value_size = 8, .max_entries = 1 };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

SEC("socket") int imm64(void *skb)
{
	unsigned int key = 0;
	unsigned long *v = bpf_map_lookup_elem(&seen, &key); /* &seen: a relocation */

	if (v)
		*v = 0x1122334455667788;                      /* a 64-bit constant */
	return 1;
}

char _license[] SEC("license") = "GPL";
