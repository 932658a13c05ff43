/* A tc classifier: marks IPv4 packets, with a hash map in BTF .maps. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} by_proto SEC(".maps");

SEC("tc") int tc_mark(struct __sk_buff *skb)
{
	__u32 proto = skb->protocol;
	__u64 *seen = bpf_map_lookup_elem(&by_proto, &proto);
	if (seen) {
		__sync_fetch_and_add(seen, 1);
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&by_proto, &proto, &one, BPF_NOEXIST);
	}
	if (skb->len > 1000)
		skb->mark = 42;
	return 0; /* TC_ACT_OK */
}

SEC("classifier") int tc_drop_small(struct __sk_buff *skb)
{
	return skb->len < 60 ? 2 : 0; /* TC_ACT_SHOT : TC_ACT_OK */
}

char _license[] SEC("license") = "GPL";
