/* A sock_ops program: puts established sockets into a SOCKHASH (BTF .maps). */
#include "common.h"

struct sock_key { __u32 sip, dip, sport, dport; };

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1024);
	__type(key, struct sock_key);
	__type(value, __u64);
} sock_map SEC(".maps");

SEC("sockops") int on_sockops(struct bpf_sock_ops *ops)
{
	/* BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB = 4, PASSIVE = 5 */
	if (ops->op != 4 && ops->op != 5)
		return 1;
	if (ops->family != 2)
		return 1;
	struct sock_key k = {
		.sip = ops->local_ip4, .dip = ops->remote_ip4,
		.sport = ops->local_port, .dport = ops->remote_port,
	};
	bpf_sock_hash_update(ops, &sock_map, &k, BPF_NOEXIST);
	return 1;
}

char _license[] SEC("license") = "GPL";
