/* ALU: unsigned int arithmetic is 32-bit (w registers), unsigned long
 * arithmetic 64-bit (r registers) */
#define SEC(name) __attribute__((section(name), used))

struct __sk_buff { unsigned int len, pkt_type, mark; };

SEC("socket") int alu(struct __sk_buff *skb)
{
	unsigned int n = skb->len, m = skb->mark;
	unsigned int w = n * m + 7;             /* 32-bit multiply and add */
	unsigned long x = (unsigned long)n * m; /* 64-bit multiply */

	return (x >> 32) ^ (w - (m & 15));      /* the return value is r0 */
}

char _license[] SEC("license") = "GPL";
