//! UAPI constants: program types, map types, attach types and flags
//! (from `include/uapi/linux/bpf.h`), with the C types of the fields they go
//! into; a program that puts one in an immediate converts it there.

use std::fmt;

macro_rules! uapi_enum {
    (
        $(#[$m:meta])*
        $name:ident, $prefix:literal { $($variant:ident = $val:literal),* $(,)? }
    ) => {
        $(#[$m])*
        ///
        /// A transparent newtype over the raw `u32`, so values unknown to this
        /// crate (newer kernels) are still representable.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
        pub struct $name(pub u32);

        #[allow(missing_docs)]
        impl $name {
            $(pub const $variant: $name = $name($val);)*

            /// Every value known to this crate, in numeric order.
            pub const ALL: &'static [$name] = &[$($name($val)),*];

            /// The UAPI prefix, e.g. `BPF_PROG_TYPE_`.
            pub const PREFIX: &'static str = $prefix;

            /// Short name without the UAPI prefix (e.g. `SOCK_OPS`), if known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some(stringify!($variant)),)*
                    _ => None,
                }
            }

            /// Parse a name, case-insensitively, with or without the UAPI
            /// prefix (`sock_ops`, `BPF_PROG_TYPE_SOCK_OPS`), or a number.
            pub fn from_name(s: &str) -> Option<Self> {
                let up = s.trim().to_ascii_uppercase();
                if let Ok(n) = up.parse::<u32>() {
                    return Some($name(n));
                }
                let short = up.strip_prefix($prefix).unwrap_or(&up);
                match short {
                    $(stringify!($variant) => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}{}", $prefix, n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl From<u32> for $name {
            fn from(v: u32) -> Self { $name(v) }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 { v.0 }
        }
    };
}

uapi_enum! {
    /// `enum bpf_prog_type`.
    ProgType, "BPF_PROG_TYPE_" {
        UNSPEC = 0,
        SOCKET_FILTER = 1,
        KPROBE = 2,
        SCHED_CLS = 3,
        SCHED_ACT = 4,
        TRACEPOINT = 5,
        XDP = 6,
        PERF_EVENT = 7,
        CGROUP_SKB = 8,
        CGROUP_SOCK = 9,
        LWT_IN = 10,
        LWT_OUT = 11,
        LWT_XMIT = 12,
        SOCK_OPS = 13,
        SK_SKB = 14,
        CGROUP_DEVICE = 15,
        SK_MSG = 16,
        RAW_TRACEPOINT = 17,
        CGROUP_SOCK_ADDR = 18,
        LWT_SEG6LOCAL = 19,
        LIRC_MODE2 = 20,
        SK_REUSEPORT = 21,
        FLOW_DISSECTOR = 22,
        CGROUP_SYSCTL = 23,
        RAW_TRACEPOINT_WRITABLE = 24,
        CGROUP_SOCKOPT = 25,
        TRACING = 26,
        STRUCT_OPS = 27,
        EXT = 28,
        LSM = 29,
        SK_LOOKUP = 30,
        SYSCALL = 31,
        NETFILTER = 32,
    }
}

uapi_enum! {
    /// `enum bpf_map_type`.
    MapType, "BPF_MAP_TYPE_" {
        UNSPEC = 0,
        HASH = 1,
        ARRAY = 2,
        PROG_ARRAY = 3,
        PERF_EVENT_ARRAY = 4,
        PERCPU_HASH = 5,
        PERCPU_ARRAY = 6,
        STACK_TRACE = 7,
        CGROUP_ARRAY = 8,
        LRU_HASH = 9,
        LRU_PERCPU_HASH = 10,
        LPM_TRIE = 11,
        ARRAY_OF_MAPS = 12,
        HASH_OF_MAPS = 13,
        DEVMAP = 14,
        SOCKMAP = 15,
        CPUMAP = 16,
        XSKMAP = 17,
        SOCKHASH = 18,
        CGROUP_STORAGE = 19,
        REUSEPORT_SOCKARRAY = 20,
        PERCPU_CGROUP_STORAGE = 21,
        QUEUE = 22,
        STACK = 23,
        SK_STORAGE = 24,
        DEVMAP_HASH = 25,
        STRUCT_OPS = 26,
        RINGBUF = 27,
        INODE_STORAGE = 28,
        TASK_STORAGE = 29,
        BLOOM_FILTER = 30,
        USER_RINGBUF = 31,
        CGRP_STORAGE = 32,
        ARENA = 33,
    }
}

impl MapType {
    /// Per-CPU maps: user space reads/writes one value per possible CPU.
    pub fn is_percpu(self) -> bool {
        matches!(
            self,
            MapType::PERCPU_HASH | MapType::PERCPU_ARRAY | MapType::LRU_PERCPU_HASH | MapType::PERCPU_CGROUP_STORAGE
        )
    }

    /// Maps whose user-space value is a `u32` fd/id regardless of value_size.
    pub fn is_fd_map(self) -> bool {
        matches!(
            self,
            MapType::PROG_ARRAY
                | MapType::PERF_EVENT_ARRAY
                | MapType::CGROUP_ARRAY
                | MapType::ARRAY_OF_MAPS
                | MapType::HASH_OF_MAPS
        )
    }

    /// Local-storage maps, which need BTF for key and value.
    pub fn needs_btf(self) -> bool {
        matches!(self, MapType::SK_STORAGE | MapType::INODE_STORAGE | MapType::TASK_STORAGE | MapType::CGRP_STORAGE)
    }
}

uapi_enum! {
    /// `enum bpf_attach_type`.
    AttachType, "BPF_" {
        CGROUP_INET_INGRESS = 0,
        CGROUP_INET_EGRESS = 1,
        CGROUP_INET_SOCK_CREATE = 2,
        CGROUP_SOCK_OPS = 3,
        SK_SKB_STREAM_PARSER = 4,
        SK_SKB_STREAM_VERDICT = 5,
        CGROUP_DEVICE = 6,
        SK_MSG_VERDICT = 7,
        CGROUP_INET4_BIND = 8,
        CGROUP_INET6_BIND = 9,
        CGROUP_INET4_CONNECT = 10,
        CGROUP_INET6_CONNECT = 11,
        CGROUP_INET4_POST_BIND = 12,
        CGROUP_INET6_POST_BIND = 13,
        CGROUP_UDP4_SENDMSG = 14,
        CGROUP_UDP6_SENDMSG = 15,
        LIRC_MODE2 = 16,
        FLOW_DISSECTOR = 17,
        CGROUP_SYSCTL = 18,
        CGROUP_UDP4_RECVMSG = 19,
        CGROUP_UDP6_RECVMSG = 20,
        CGROUP_GETSOCKOPT = 21,
        CGROUP_SETSOCKOPT = 22,
        TRACE_RAW_TP = 23,
        TRACE_FENTRY = 24,
        TRACE_FEXIT = 25,
        MODIFY_RETURN = 26,
        LSM_MAC = 27,
        TRACE_ITER = 28,
        CGROUP_INET4_GETPEERNAME = 29,
        CGROUP_INET6_GETPEERNAME = 30,
        CGROUP_INET4_GETSOCKNAME = 31,
        CGROUP_INET6_GETSOCKNAME = 32,
        XDP_DEVMAP = 33,
        CGROUP_INET_SOCK_RELEASE = 34,
        XDP_CPUMAP = 35,
        SK_LOOKUP = 36,
        XDP = 37,
        SK_SKB_VERDICT = 38,
        SK_REUSEPORT_SELECT = 39,
        SK_REUSEPORT_SELECT_OR_MIGRATE = 40,
        PERF_EVENT = 41,
        TRACE_KPROBE_MULTI = 42,
        LSM_CGROUP = 43,
        STRUCT_OPS = 44,
        NETFILTER = 45,
        TCX_INGRESS = 46,
        TCX_EGRESS = 47,
        TRACE_UPROBE_MULTI = 48,
        CGROUP_UNIX_CONNECT = 49,
        CGROUP_UNIX_SENDMSG = 50,
        CGROUP_UNIX_RECVMSG = 51,
        CGROUP_UNIX_GETPEERNAME = 52,
        CGROUP_UNIX_GETSOCKNAME = 53,
        NETKIT_PRIMARY = 54,
        NETKIT_PEER = 55,
        TRACE_KPROBE_SESSION = 56,
        TRACE_UPROBE_SESSION = 57,
    }
}

// ---- map update flags (BPF_MAP_UPDATE_ELEM `flags`) ----
/// Create a new element or update an existing one.
pub const BPF_ANY: u64 = 0;
/// Create a new element only if it did not exist.
pub const BPF_NOEXIST: u64 = 1;
/// Update an existing element.
pub const BPF_EXIST: u64 = 2;
/// Spin-lock-protected update/lookup.
pub const BPF_F_LOCK: u64 = 4;

// ---- helper flags and verdicts the programs use ----
/// `bpf_msg_redirect_hash` & co.: into the peer's receive queue.
pub const BPF_F_INGRESS: u64 = 1;
/// `bpf_sk_storage_get`: create the storage if the socket has none.
pub const BPF_SK_STORAGE_GET_F_CREATE: u64 = 1;
/// `enum sk_action`: the verdict of sk_msg and sk_skb programs.
pub const SK_DROP: u32 = 0;
pub const SK_PASS: u32 = 1;

// ---- sock_ops callbacks (`bpf_sock_ops.op`) and their flags ----
pub const BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: u32 = 4;
pub const BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: u32 = 5;
pub const BPF_SOCK_OPS_STATE_CB: u32 = 10;
pub const BPF_SOCK_OPS_RTT_CB: u32 = 12;
/// `bpf_sock_ops_cb_flags_set` bits.
pub const BPF_SOCK_OPS_STATE_CB_FLAG: u32 = 1 << 2;
pub const BPF_SOCK_OPS_RTT_CB_FLAG: u32 = 1 << 3;
/// `BPF_TCP_CLOSE`, the new state in `args[1]` of a STATE_CB.
pub const BPF_TCP_CLOSE: u32 = 7;

// ---- map creation flags (`map_flags`) ----
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
pub const BPF_F_RDONLY: u32 = 1 << 3;
pub const BPF_F_WRONLY: u32 = 1 << 4;
pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
pub const BPF_F_CLONE: u32 = 1 << 9;
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

// ---- attach flags (BPF_PROG_ATTACH `attach_flags`) ----
pub const BPF_F_ALLOW_OVERRIDE: u32 = 1 << 0;
pub const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
pub const BPF_F_REPLACE: u32 = 1 << 2;

// ---- query flags (BPF_PROG_QUERY `query_flags`) ----
pub const BPF_F_QUERY_EFFECTIVE: u32 = 1 << 0;

// ---- prog load flags (`prog_flags`) ----
pub const BPF_F_STRICT_ALIGNMENT: u32 = 1 << 0;
pub const BPF_F_ANY_ALIGNMENT: u32 = 1 << 1;
pub const BPF_F_TEST_RND_HI32: u32 = 1 << 2;
pub const BPF_F_TEST_STATE_FREQ: u32 = 1 << 3;
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;

// ---- verifier log levels (`log_level`) ----
/// Basic verifier log (instructions + register state on error).
pub const BPF_LOG_LEVEL1: u32 = 1;
/// Verbose verifier log (register state at every instruction).
pub const BPF_LOG_LEVEL2: u32 = 2;
/// Statistics only: "processed N insns (limit ...) ...".
pub const BPF_LOG_STATS: u32 = 4;
/// Fixed (non-rotating) log buffer (kernel >= 6.4).
pub const BPF_LOG_FIXED: u32 = 8;

/// Size of one eBPF instruction slot in bytes.
pub const INSN_SIZE: usize = 8;
/// Maximum object name length (including the terminating NUL).
pub const BPF_OBJ_NAME_LEN: usize = 16;

impl ProgType {
    /// The expected attach type a program of this type is loaded with when
    /// nothing else names one: the types with a single attach point, and
    /// XDP's plain hook. One table for `verify --type` and ELF section names.
    pub fn default_attach_type(self) -> Option<AttachType> {
        Some(match self {
            ProgType::SOCK_OPS => AttachType::CGROUP_SOCK_OPS,
            ProgType::SK_MSG => AttachType::SK_MSG_VERDICT,
            ProgType::XDP => AttachType::XDP,
            ProgType::SK_LOOKUP => AttachType::SK_LOOKUP,
            ProgType::FLOW_DISSECTOR => AttachType::FLOW_DISSECTOR,
            ProgType::LIRC_MODE2 => AttachType::LIRC_MODE2,
            ProgType::NETFILTER => AttachType::NETFILTER,
            ProgType::CGROUP_DEVICE => AttachType::CGROUP_DEVICE,
            ProgType::CGROUP_SYSCTL => AttachType::CGROUP_SYSCTL,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(ProgType::SOCK_OPS.0, 13);
        assert_eq!(ProgType::SK_MSG.0, 16);
        assert_eq!(MapType::SOCKHASH.0, 18);
        assert_eq!(MapType::SK_STORAGE.0, 24);
        assert_eq!(AttachType::CGROUP_SOCK_OPS.0, 3);
        assert_eq!(AttachType::SK_MSG_VERDICT.0, 7);
        assert_eq!(ProgType::from_name("sock_ops"), Some(ProgType::SOCK_OPS));
        assert_eq!(ProgType::from_name("BPF_PROG_TYPE_SK_MSG"), Some(ProgType::SK_MSG));
        assert_eq!(AttachType::from_name("bpf_sk_msg_verdict"), Some(AttachType::SK_MSG_VERDICT));
        assert_eq!(MapType::from_name("7"), Some(MapType::STACK_TRACE));
        assert_eq!(ProgType(999).to_string(), "ProgType(999)");
        assert_eq!(format!("{:?}", MapType::HASH), "BPF_MAP_TYPE_HASH");
        for (i, t) in ProgType::ALL.iter().enumerate() {
            assert_eq!(t.0 as usize, i);
            assert_eq!(ProgType::from_name(t.name().unwrap()), Some(*t));
        }
        for (i, t) in MapType::ALL.iter().enumerate() {
            assert_eq!(t.0 as usize, i);
        }
        for (i, t) in AttachType::ALL.iter().enumerate() {
            assert_eq!(t.0 as usize, i);
        }
    }
}
