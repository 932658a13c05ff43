//! The program type a section name stands for, by libbpf's conventions
//! (`SEC("sockops")`, `SEC("xdp")`, `SEC("kprobe/tcp_connect")`, ...).

use crate::uapi::{AttachType, ProgType};

/// What a program section's name says about its programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionKind {
    /// `None`: the name is not one sockasm knows.
    pub prog_type: Option<ProgType>,
    pub expected_attach_type: Option<AttachType>,
    /// Why such a program cannot be loaded by sockasm, if it cannot (it
    /// needs a BTF attach target, for instance).
    pub unloadable: Option<&'static str>,
}

impl SectionKind {
    const UNKNOWN: SectionKind = SectionKind { prog_type: None, expected_attach_type: None, unloadable: None };

    fn of(t: ProgType) -> SectionKind {
        SectionKind { prog_type: Some(t), expected_attach_type: None, unloadable: None }
    }
    /// `t` with its default expected attach type ([`ProgType::default_attach_type`]).
    fn default(t: ProgType) -> SectionKind {
        SectionKind { prog_type: Some(t), expected_attach_type: t.default_attach_type(), unloadable: None }
    }
    fn attach(t: ProgType, a: AttachType) -> SectionKind {
        SectionKind { prog_type: Some(t), expected_attach_type: Some(a), unloadable: None }
    }
    fn btf(t: ProgType, a: AttachType) -> SectionKind {
        SectionKind {
            prog_type: Some(t),
            expected_attach_type: Some(a),
            unloadable: Some(
                "it needs a BTF attach target (a kernel function or type), which sockasm does not resolve",
            ),
        }
    }

    /// Human-readable: `XDP (expected attach type XDP)`, or `unknown`.
    pub fn describe(&self) -> String {
        match (self.prog_type, self.expected_attach_type) {
            (None, _) => "unknown".to_string(),
            (Some(t), None) => t.to_string(),
            (Some(t), Some(a)) => format!("{t} (expected attach type {a})"),
        }
    }
}

/// The program type and expected attach type of section `name`.
pub fn infer(name: &str) -> SectionKind {
    use AttachType as A;
    use ProgType as P;
    // Exact names first, then prefixes (`kprobe/` takes anything after the slash).
    let exact = match name {
        "socket" => Some(SectionKind::of(P::SOCKET_FILTER)),
        "sockops" => Some(SectionKind::default(P::SOCK_OPS)),
        "sk_msg" => Some(SectionKind::default(P::SK_MSG)),
        "sk_skb" => Some(SectionKind::of(P::SK_SKB)),
        "sk_skb/stream_parser" => Some(SectionKind::attach(P::SK_SKB, A::SK_SKB_STREAM_PARSER)),
        "sk_skb/stream_verdict" => Some(SectionKind::attach(P::SK_SKB, A::SK_SKB_STREAM_VERDICT)),
        "sk_skb/verdict" => Some(SectionKind::attach(P::SK_SKB, A::SK_SKB_VERDICT)),
        "xdp" | "xdp.frags" => Some(SectionKind::default(P::XDP)),
        "xdp/devmap" | "xdp.frags/devmap" => Some(SectionKind::attach(P::XDP, A::XDP_DEVMAP)),
        "xdp/cpumap" | "xdp.frags/cpumap" => Some(SectionKind::attach(P::XDP, A::XDP_CPUMAP)),
        "tc" | "classifier" => Some(SectionKind::of(P::SCHED_CLS)),
        "tc/ingress" | "tcx/ingress" => Some(SectionKind::attach(P::SCHED_CLS, A::TCX_INGRESS)),
        "tc/egress" | "tcx/egress" => Some(SectionKind::attach(P::SCHED_CLS, A::TCX_EGRESS)),
        "action" => Some(SectionKind::of(P::SCHED_ACT)),
        "cgroup/skb" => Some(SectionKind::of(P::CGROUP_SKB)),
        "cgroup_skb/ingress" => Some(SectionKind::attach(P::CGROUP_SKB, A::CGROUP_INET_INGRESS)),
        "cgroup_skb/egress" => Some(SectionKind::attach(P::CGROUP_SKB, A::CGROUP_INET_EGRESS)),
        "cgroup/sock" | "cgroup/sock_create" => Some(SectionKind::attach(P::CGROUP_SOCK, A::CGROUP_INET_SOCK_CREATE)),
        "cgroup/sock_release" => Some(SectionKind::attach(P::CGROUP_SOCK, A::CGROUP_INET_SOCK_RELEASE)),
        "cgroup/post_bind4" => Some(SectionKind::attach(P::CGROUP_SOCK, A::CGROUP_INET4_POST_BIND)),
        "cgroup/post_bind6" => Some(SectionKind::attach(P::CGROUP_SOCK, A::CGROUP_INET6_POST_BIND)),
        "cgroup/bind4" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_INET4_BIND)),
        "cgroup/bind6" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_INET6_BIND)),
        "cgroup/connect4" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_INET4_CONNECT)),
        "cgroup/connect6" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_INET6_CONNECT)),
        "cgroup/connect_unix" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_UNIX_CONNECT)),
        "cgroup/sendmsg4" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_UDP4_SENDMSG)),
        "cgroup/sendmsg6" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_UDP6_SENDMSG)),
        "cgroup/recvmsg4" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_UDP4_RECVMSG)),
        "cgroup/recvmsg6" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_UDP6_RECVMSG)),
        "cgroup/getpeername4" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_INET4_GETPEERNAME)),
        "cgroup/getpeername6" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_INET6_GETPEERNAME)),
        "cgroup/getsockname4" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_INET4_GETSOCKNAME)),
        "cgroup/getsockname6" => Some(SectionKind::attach(P::CGROUP_SOCK_ADDR, A::CGROUP_INET6_GETSOCKNAME)),
        "cgroup/dev" => Some(SectionKind::default(P::CGROUP_DEVICE)),
        "cgroup/sysctl" => Some(SectionKind::default(P::CGROUP_SYSCTL)),
        "cgroup/getsockopt" => Some(SectionKind::attach(P::CGROUP_SOCKOPT, A::CGROUP_GETSOCKOPT)),
        "cgroup/setsockopt" => Some(SectionKind::attach(P::CGROUP_SOCKOPT, A::CGROUP_SETSOCKOPT)),
        "sk_lookup" => Some(SectionKind::default(P::SK_LOOKUP)),
        "flow_dissector" => Some(SectionKind::default(P::FLOW_DISSECTOR)),
        "sk_reuseport" => Some(SectionKind::attach(P::SK_REUSEPORT, A::SK_REUSEPORT_SELECT)),
        "sk_reuseport/migrate" => Some(SectionKind::attach(P::SK_REUSEPORT, A::SK_REUSEPORT_SELECT_OR_MIGRATE)),
        "lwt_in" => Some(SectionKind::of(P::LWT_IN)),
        "lwt_out" => Some(SectionKind::of(P::LWT_OUT)),
        "lwt_xmit" => Some(SectionKind::of(P::LWT_XMIT)),
        "lwt_seg6local" => Some(SectionKind::of(P::LWT_SEG6LOCAL)),
        "lirc_mode2" => Some(SectionKind::default(P::LIRC_MODE2)),
        "perf_event" => Some(SectionKind::of(P::PERF_EVENT)),
        "syscall" => Some(SectionKind::of(P::SYSCALL)),
        "netfilter" => Some(SectionKind::default(P::NETFILTER)),
        "kprobe" | "kretprobe" | "uprobe" | "uretprobe" => Some(SectionKind::of(P::KPROBE)),
        _ => None,
    };
    if let Some(k) = exact {
        return k;
    }
    let prefixes: &[(&str, SectionKind)] = &[
        ("kprobe/", SectionKind::of(P::KPROBE)),
        ("kretprobe/", SectionKind::of(P::KPROBE)),
        ("uprobe/", SectionKind::of(P::KPROBE)),
        ("uretprobe/", SectionKind::of(P::KPROBE)),
        ("ksyscall/", SectionKind::of(P::KPROBE)),
        ("kretsyscall/", SectionKind::of(P::KPROBE)),
        ("tracepoint/", SectionKind::of(P::TRACEPOINT)),
        ("tp/", SectionKind::of(P::TRACEPOINT)),
        ("raw_tracepoint/", SectionKind::of(P::RAW_TRACEPOINT)),
        ("raw_tp/", SectionKind::of(P::RAW_TRACEPOINT)),
        ("raw_tracepoint.w/", SectionKind::of(P::RAW_TRACEPOINT_WRITABLE)),
        ("raw_tp.w/", SectionKind::of(P::RAW_TRACEPOINT_WRITABLE)),
        ("xdp/", SectionKind::default(P::XDP)),
        ("socket/", SectionKind::of(P::SOCKET_FILTER)),
        ("classifier/", SectionKind::of(P::SCHED_CLS)),
        ("perf_event/", SectionKind::of(P::PERF_EVENT)),
        ("tp_btf/", SectionKind::btf(P::TRACING, A::TRACE_RAW_TP)),
        ("fentry/", SectionKind::btf(P::TRACING, A::TRACE_FENTRY)),
        ("fexit/", SectionKind::btf(P::TRACING, A::TRACE_FEXIT)),
        ("fmod_ret/", SectionKind::btf(P::TRACING, A::MODIFY_RETURN)),
        ("iter/", SectionKind::btf(P::TRACING, A::TRACE_ITER)),
        ("lsm/", SectionKind::btf(P::LSM, A::LSM_MAC)),
        ("lsm_cgroup/", SectionKind::btf(P::LSM, A::LSM_CGROUP)),
        ("struct_ops", SectionKind::btf(P::STRUCT_OPS, A::STRUCT_OPS)),
        ("freplace/", SectionKind::btf(P::EXT, A(0))),
    ];
    for (p, k) in prefixes {
        if name.starts_with(p) {
            return *k;
        }
    }
    SectionKind::UNKNOWN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(infer("sockops").prog_type, Some(ProgType::SOCK_OPS));
        assert_eq!(infer("sk_msg").expected_attach_type, Some(AttachType::SK_MSG_VERDICT));
        assert_eq!(infer("kprobe/tcp_connect").prog_type, Some(ProgType::KPROBE));
        assert_eq!(infer("tracepoint/syscalls/sys_enter_open").prog_type, Some(ProgType::TRACEPOINT));
        assert_eq!(infer("cgroup/connect4").prog_type, Some(ProgType::CGROUP_SOCK_ADDR));
        assert_eq!(infer("tc").prog_type, Some(ProgType::SCHED_CLS));
        assert_eq!(infer("classifier").prog_type, Some(ProgType::SCHED_CLS));
        assert_eq!(infer("nonsense").prog_type, None);
        assert_eq!(infer("nonsense").describe(), "unknown");
        assert!(infer("fentry/tcp_sendmsg").unloadable.is_some());
    }
}
