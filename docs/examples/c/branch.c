/* Jumps: each comparison becomes a conditional jump; signed, unsigned,
 * 32-bit and 64-bit compares have their own forms */
#define SEC(name) __attribute__((section(name), used))

struct __sk_buff { unsigned int len, pkt_type, mark; };

SEC("socket") int branch(struct __sk_buff *skb)
{
	int mark = skb->mark;                   /* signed 32-bit */
	long diff = (long)skb->len - skb->pkt_type; /* signed 64-bit */

	if (mark < 0)
		return 1;
	if (diff > 1500)
		return 2;
	return 3;
}

char _license[] SEC("license") = "GPL";
