/* Calls: a helper is called by number, a function of the program by a
 * relative offset (BPF-to-BPF call); arguments go in r1-r5, the result in r0 */
#define SEC(name) __attribute__((section(name), used))

static unsigned long (*bpf_ktime_get_ns)(void) = (void *)5;       /* helper 5 */
static unsigned int (*bpf_get_prandom_u32)(void) = (void *)7;     /* helper 7 */

static __attribute__((noinline)) int pick(unsigned long t, unsigned int r)
{
	return (t ^ r) & 1;
}

SEC("socket") int calls(void *skb)
{
	return pick(bpf_ktime_get_ns(), bpf_get_prandom_u32()) + 1;
}

char _license[] SEC("license") = "GPL";
