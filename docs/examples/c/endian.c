/* Byte order: the network's is big-endian, BPF hosts are mostly
 * little-endian; __builtin_bswap16/32/64 (what ntohs, ntohl and be64toh are
 * on such a host) become the v4 unconditional byte swaps */
#define SEC(name) __attribute__((section(name), used))

struct __sk_buff { unsigned int len, pkt_type, mark; };

SEC("socket") int endian(struct __sk_buff *skb)
{
	unsigned short port = __builtin_bswap16(skb->mark);
	unsigned int addr = __builtin_bswap32(skb->len);
	unsigned long wide = (unsigned long)skb->len * skb->pkt_type;

	return port ^ addr ^ (__builtin_bswap64(wide) >> 32);
}

char _license[] SEC("license") = "GPL";
