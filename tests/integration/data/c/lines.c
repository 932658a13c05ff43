/* Rejected: reads byte 8 of a packet only checked to hold 4 bytes. Compiled
 * with -g, so the object carries BTF line info (.BTF.ext). */
#include "common.h"

SEC("xdp") int read_past(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	if (data + 4 > end)
		return 1;
	return data[8] == 0x45 ? 2 : 1;
}

char _license[] SEC("license") = "GPL";
