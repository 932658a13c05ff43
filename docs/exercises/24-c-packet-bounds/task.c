/* Goal: return the first byte after the Ethernet header (byte 14), or 0
 * when the packet is shorter than 15 bytes */
#define SEC(name) __attribute__((section(name), used))

struct xdp_md { unsigned int data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };

SEC("xdp") int first_byte(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;
	unsigned char *end = (unsigned char *)(long)ctx->data_end;

	if (data + 14 > end)            /* no Ethernet header */
		return 0;
	return data[14];
}

char _license[] SEC("license") = "GPL";
