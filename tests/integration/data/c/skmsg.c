/* An sk_msg program: redirects to the peer found in a SOCKHASH (BTF .maps),
 * counting messages in a per-CPU array. */
#include "common.h"

struct sock_key { __u32 sip, dip, sport, dport; };

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1024);
	__type(key, struct sock_key);
	__type(value, __u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, 4);
	__uint(value_size, 8);
} msgs SEC(".maps");

SEC("sk_msg") int on_msg(struct sk_msg_md *msg)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&msgs, &zero);
	if (n)
		*n += 1;
	struct sock_key k = {
		.sip = msg->remote_ip4, .dip = msg->local_ip4,
		.sport = msg->remote_port >> 16, .dport = msg->local_port << 16,
	};
	bpf_msg_redirect_hash(msg, &sock_map, &k, BPF_F_INGRESS);
	return 1;
}

char _license[] SEC("license") = "GPL";
