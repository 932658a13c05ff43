/* An XDP program with a legacy `maps` section map and a BPF-to-BPF call. */
#include "common.h"

struct bpf_map_def SEC("maps") pkt_count = {
	.type = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 1,
};

/* noinline: a real call (R_BPF_64_32 against .text). */
static __attribute__((noinline)) int classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return 1; /* XDP_DROP */
	__u8 *eth = data;
	return eth[12] == 0x08 ? 2 : 3; /* XDP_PASS : XDP_TX */
}

__attribute__((noinline)) int global_helper(int x)
{
	return x * 3 + 1;
}

SEC("xdp") int xdp_count(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&pkt_count, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	int r = classify(ctx);
	if (global_helper(r) == 100)
		return 0;
	return r;
}

char _license[] SEC("license") = "GPL";
