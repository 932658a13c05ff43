/* Loads and stores: the C type's size picks the access size; a signed
 * narrow type sign-extends (v4: *(s8 *)), a local variable lives on the stack */
#define SEC(name) __attribute__((section(name), used))

struct __sk_buff { unsigned int len, pkt_type, mark; };
struct hdr { unsigned short port; signed char ttl; unsigned char flags; };

SEC("socket") int loadstore(struct __sk_buff *skb)
{
	volatile struct hdr h;      /* volatile: keep it in memory, on the stack */

	h.port = skb->len;          /* a u32 load, a u16 store */
	h.ttl = skb->mark;          /* a u8 store */
	h.flags = 0x80;             /* a store of an immediate */
	long ttl = h.ttl;           /* signed char: a sign-extending load */
	return ttl + h.flags;       /* unsigned char: a zero-extending load */
}

char _license[] SEC("license") = "GPL";
