/* Goal: mix the numbers 0..n-1, n = __sk_buff.len (the packet's length
 * after its Ethernet header), into one value */
#define SEC(name) __attribute__((section(name), used))

struct __sk_buff { unsigned int len, pkt_type, mark; };

SEC("socket") int mix(struct __sk_buff *skb)
{
	unsigned int n = skb->len, h = 0;

	for (unsigned int i = 0; i < n; i++)
		h = (h << 3) ^ (h >> 5) ^ i;
	return h & 0xffff;
}

char _license[] SEC("license") = "GPL";
