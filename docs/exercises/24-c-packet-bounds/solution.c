/* Solution: the compare against data_end is the bounds check the verifier
 * reads (r=14 for `data + 14 > end`); reading data[14] needs 15 bytes, so
 * the check must say 15 */
#define SEC(name) __attribute__((section(name), used))

struct xdp_md { unsigned int data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };

SEC("xdp") int first_byte(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;
	unsigned char *end = (unsigned char *)(long)ctx->data_end;

	if (data + 15 > end)            /* byte 14 must be inside */
		return 0;
	return data[14];
}

char _license[] SEC("license") = "GPL";
