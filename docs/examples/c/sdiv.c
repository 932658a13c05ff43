/* Division: `/` of unsigned operands is BPF's unsigned div, of signed
 * operands -mcpu=v4's s/ (older CPUs have none); `%` may become a - a/b*b */
#define SEC(name) __attribute__((section(name), used))

struct __sk_buff { unsigned int len, pkt_type, mark; };

SEC("socket") int sdiv(struct __sk_buff *skb)
{
	long a = (int)skb->mark;       /* may be negative */
	long b = (int)skb->pkt_type;
	unsigned int u = skb->len;

	return a / b + a % b + u / 7;
}

char _license[] SEC("license") = "GPL";
