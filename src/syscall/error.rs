//! Error type for the bpf(2) wrappers, with actionable hints.

use std::path::PathBuf;

use nix::errno::Errno;

use super::Cmd;
use super::prog::LoadError;
use super::types::MapType;

/// Result alias for this module.
pub type Result<T, E = SysError> = std::result::Result<T, E>;

/// An error from a `bpf(2)` wrapper.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    /// The `bpf(2)` syscall failed.
    #[error("{cmd} failed for {object}: {errno}{hint}",
        hint = hint.as_deref().map(|h| format!("; hint: {h}")).unwrap_or_default())]
    Bpf {
        /// The command that failed.
        cmd: Cmd,
        /// The errno the kernel returned.
        errno: Errno,
        /// The object or path involved, e.g. `map 'socks' (SOCKHASH)`.
        object: String,
        /// What the user can do about it, if we know.
        hint: Option<String>,
    },
    /// Loading a program failed (carries the verifier log).
    #[error(transparent)]
    Load(Box<LoadError>),
    /// A file-system operation around a bpf object failed.
    #[error("{op} {}: {err}", path.display())]
    Io {
        /// What we were doing, e.g. `chmod 0600`.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error (shown in the message, so not also a `source()`).
        err: std::io::Error,
    },
    /// The arguments were rejected before calling the kernel.
    #[error("invalid argument: {0}")]
    InvalidInput(String),
}

impl From<LoadError> for SysError {
    fn from(e: LoadError) -> Self {
        SysError::Load(Box::new(e))
    }
}

impl SysError {
    /// Build a [`SysError::Bpf`] with an automatic hint.
    pub fn bpf(cmd: Cmd, errno: Errno, object: impl Into<String>) -> Self {
        let object = object.into();
        let hint = hint_for(cmd, errno, &object);
        SysError::Bpf { cmd, errno, object, hint }
    }

    /// A failed BPF_MAP_CREATE of a `map_type` map: as [`SysError::bpf`], but
    /// an EPERM's hint is [`map_create_eperm_hint`] for this map type and the
    /// process's effective capabilities (read now, from `/proc/self/status`).
    pub fn map_create(errno: Errno, map_type: MapType, object: impl Into<String>) -> Self {
        let object = object.into();
        let hint = if errno == Errno::EPERM {
            Some(map_create_eperm_hint(map_type, effective_caps(), unprivileged_bpf_disabled()))
        } else {
            hint_for(Cmd::MapCreate, errno, &object)
        };
        SysError::Bpf { cmd: Cmd::MapCreate, errno, object, hint }
    }

    /// The errno, if this error came from the kernel.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            SysError::Bpf { errno, .. } => Some(*errno),
            SysError::Load(e) => Some(e.errno),
            SysError::Io { err, .. } => err.raw_os_error().map(Errno::from_raw),
            SysError::InvalidInput(_) => None,
        }
    }
}

/// A hint for what to do about `errno` from `cmd` on `object`.
pub fn hint_for(cmd: Cmd, errno: Errno, object: &str) -> Option<String> {
    let path = object.strip_prefix("path ").unwrap_or(object);
    let h = match (cmd, errno) {
        (Cmd::ObjPin, Errno::EPERM) => format!(
            "run as root (CAP_BPF+CAP_SYS_ADMIN), and make sure the parent directory of {path} is on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)"
        ),
        (_, Errno::EPERM) => "run as root or grant CAP_BPF+CAP_NET_ADMIN (and check kernel.unprivileged_bpf_disabled); attaching to a cgroup that already has a program without BPF_F_ALLOW_MULTI also gives EPERM".into(),
        (Cmd::ObjGet, Errno::ENOENT) => format!("nothing is pinned at {path}"),
        (Cmd::ObjPin, Errno::ENOENT) => format!("the parent directory of {path} does not exist"),
        (Cmd::ObjPin, Errno::EEXIST) => format!("something is already pinned at {path}; unpin (rm) it first"),
        (Cmd::MapLookupElem | Cmd::MapDeleteElem, Errno::ENOENT) => "no such key in the map".into(),
        (Cmd::MapGetNextKey, Errno::ENOENT) => "no more keys".into(),
        (Cmd::ProgGetFdById | Cmd::MapGetFdById, Errno::ENOENT) => "no object with this id exists (any more)".into(),
        (Cmd::ProgDetach, Errno::ENOENT) => "the program is not attached there".into(),
        (Cmd::MapUpdateElem, Errno::EEXIST) => "the key already exists (BPF_NOEXIST was given)".into(),
        (Cmd::MapUpdateElem, Errno::ENOENT) => "the key does not exist (BPF_EXIST was given)".into(),
        (Cmd::MapUpdateElem, Errno::E2BIG) => "the map is full (max_entries reached)".into(),
        (Cmd::MapUpdateElem, Errno::EOPNOTSUPP) => "this socket cannot be put in a sockmap/sockhash (must be a TCP socket in ESTABLISHED/LISTEN state, or a UDP/unix socket)".into(),
        (_, Errno::E2BIG) => "the kernel saw a non-zero attr field it does not know (kernel too old for this feature?), or a size/count limit was exceeded".into(),
        (Cmd::MapCreate, Errno::EINVAL) => "kernel may not support this map type or attr (check key/value sizes, max_entries, flags; SK_STORAGE needs BPF_F_NO_PREALLOC, max_entries 0, 4-byte key and BTF)".into(),
        (Cmd::ProgAttach | Cmd::ProgDetach, Errno::EINVAL) => "kernel may not support this attach type for this program/target (check the program's type and expected_attach_type)".into(),
        (_, Errno::EINVAL) => "kernel may not support this map/program type or attr".into(),
        (Cmd::ProgLoad, Errno::ENOSPC) => "the verifier log buffer was too small".into(),
        (_, Errno::ENOSPC) => "a buffer or limit was too small (e.g. too many attached programs)".into(),
        (_, Errno::EBADF) => "bad file descriptor: the object was closed or the fd is of the wrong kind".into(),
        (Cmd::ProgLoad, Errno::EACCES) => "the verifier rejected the program; see the log".into(),
        (_, Errno::EACCES) => format!("permission denied on {object} (file mode of the pin, an LSM, or read-only map flags)"),
        (_, Errno::ENOMEM) => "out of memory (or RLIMIT_MEMLOCK/memcg limit on older kernels)".into(),
        (_, Errno::EFAULT) => "the kernel could not access a buffer (bug in sockasm?)".into(),
        (_, Errno::EBUSY) => "the object is busy (already attached?)".into(),
        (_, Errno::EOPNOTSUPP) => "operation not supported for this map/program type".into(),
        (_, Errno::UnknownErrno) => "the kernel returned an errno unknown to libc, most likely ENOTSUPP (524): operation not supported for this map/program type".into(),
        (_, Errno::ENOSYS) => "the kernel has no bpf(2) (CONFIG_BPF_SYSCALL off?)".into(),
        _ => return None,
    };
    Some(h)
}

/// `CAP_NET_ADMIN` (include/uapi/linux/capability.h).
pub const CAP_NET_ADMIN: u32 = 12;
/// `CAP_SYS_ADMIN`.
pub const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_BPF` (Linux 5.8).
pub const CAP_BPF: u32 = 39;

/// The effective capability set of this process (`CapEff` of
/// `/proc/self/status`), if it can be read.
pub fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

/// `kernel.unprivileged_bpf_disabled`, if it can be read.
pub fn unprivileged_bpf_disabled() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled").ok()?.trim().parse().ok()
}

/// The capability BPF_MAP_CREATE checks for `map_type` (kernel/bpf/syscall.c
/// `map_create`, Linux 6.18), `None` for the types any user may create.
/// CAP_SYS_ADMIN satisfies either check (`bpf_token_capable`).
pub fn map_create_capability(map_type: MapType) -> Option<u32> {
    match map_type {
        MapType::SOCKMAP | MapType::SOCKHASH | MapType::DEVMAP | MapType::DEVMAP_HASH | MapType::XSKMAP => {
            Some(CAP_NET_ADMIN)
        }
        MapType::ARENA
        | MapType::LRU_HASH
        | MapType::LRU_PERCPU_HASH
        | MapType::QUEUE
        | MapType::STACK
        | MapType::LPM_TRIE
        | MapType::BLOOM_FILTER
        | MapType::SK_STORAGE
        | MapType::TASK_STORAGE
        | MapType::INODE_STORAGE
        | MapType::CGRP_STORAGE
        | MapType::STRUCT_OPS
        | MapType::CPUMAP
        | MapType::STACK_TRACE
        | MapType::REUSEPORT_SOCKARRAY => Some(CAP_BPF),
        _ => None,
    }
}

fn cap_name(cap: u32) -> &'static str {
    match cap {
        CAP_NET_ADMIN => "CAP_NET_ADMIN",
        CAP_SYS_ADMIN => "CAP_SYS_ADMIN",
        CAP_BPF => "CAP_BPF",
        _ => "a capability",
    }
}

/// The hint for EPERM from BPF_MAP_CREATE of a `map_type` map, given the
/// process's effective capabilities (`cap_eff`, `CapEff` of
/// `/proc/self/status`) and `kernel.unprivileged_bpf_disabled`, `None` where
/// unknown. Names the capability the kernel checks if the process lacks it;
/// if it has every one, the refusal comes from after those checks (the map
/// type's allocation on this kernel build, or a security module), and the
/// hint says so instead of telling root to become root.
pub fn map_create_eperm_hint(map_type: MapType, cap_eff: Option<u64>, unpriv_disabled: Option<u32>) -> String {
    // (capability, why), one entry per capability: CAP_BPF may be needed
    // for the type and for the sysctl.
    let mut needed: Vec<(u32, String)> = Vec::new();
    if let Some(cap) = map_create_capability(map_type) {
        needed.push((cap, format!("for {map_type} maps")));
    }
    if let Some(v) = unpriv_disabled.filter(|v| *v != 0) {
        let why = format!("for every map type while kernel.unprivileged_bpf_disabled is {v}");
        match needed.iter_mut().find(|(c, _)| *c == CAP_BPF) {
            Some((_, w)) => *w = format!("{w} and {why}"),
            None => needed.push((CAP_BPF, why)),
        }
    }
    let Some(eff) = cap_eff else {
        let caps: Vec<String> = needed.iter().map(|(c, why)| format!("{} {why}", cap_name(*c))).collect();
        let caps = if caps.is_empty() { "no capability".to_string() } else { caps.join(" and ") };
        return format!(
            "BPF_MAP_CREATE checks {caps} (CAP_SYS_ADMIN also satisfies it); this process's capabilities could not be read from /proc/self/status; if it has them, the refusal comes from this kernel build or a security module"
        );
    };
    let has = |cap: u32| eff & (1 << cap) != 0 || eff & (1 << CAP_SYS_ADMIN) != 0;
    if let Some((cap, why)) = needed.iter().find(|(c, _)| !has(*c)) {
        return format!(
            "this process lacks {} (CapEff {eff:#018x}), which BPF_MAP_CREATE requires {why}; grant it (or CAP_SYS_ADMIN) or run as root",
            cap_name(*cap)
        );
    }
    let passed = if needed.is_empty() {
        format!("BPF_MAP_CREATE checks no capability for {map_type} maps")
    } else {
        let caps: Vec<String> = needed.iter().map(|(c, why)| format!("{} {why}", cap_name(*c))).collect();
        format!("the capability checks of BPF_MAP_CREATE pass ({}; CapEff {eff:#018x})", caps.join(", "))
    };
    let arena = if map_type == MapType::ARENA { "; some hosts refuse ARENA maps even to root" } else { "" };
    format!(
        "{passed}, so the refusal comes from this kernel build (the map type's allocation) or a security module, which sockasm cannot change{arena}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Root's usual set on a host without CAP_SYS_RESOURCE: bits 0-40 but 24.
    const ROOT_NO_RESOURCE: u64 = 0x0000_01ff_feff_ffff;

    #[test]
    fn eperm_from_map_create_names_a_missing_capability() {
        // Root in a container that dropped CAP_BPF and CAP_SYS_ADMIN.
        let eff = ROOT_NO_RESOURCE & !(1 << CAP_BPF) & !(1 << CAP_SYS_ADMIN);
        let h = map_create_eperm_hint(MapType::ARENA, Some(eff), Some(2));
        assert!(h.starts_with(&format!("this process lacks CAP_BPF (CapEff {eff:#018x})")), "{h}");
        assert!(h.contains("for ARENA maps and for every map type while kernel.unprivileged_bpf_disabled is 2"), "{h}");
        let h = map_create_eperm_hint(MapType::ARENA, Some(eff), Some(0));
        assert!(h.contains("lacks CAP_BPF") && h.contains("for ARENA maps"), "{h}");
        let h = map_create_eperm_hint(MapType::SOCKHASH, Some(eff & !(1 << CAP_NET_ADMIN)), Some(0));
        assert!(h.contains("lacks CAP_NET_ADMIN") && h.contains("for SOCKHASH maps"), "{h}");
        // A HASH map needs nothing unless unprivileged BPF is disabled.
        let h = map_create_eperm_hint(MapType::HASH, Some(0), Some(1));
        assert!(h.contains("lacks CAP_BPF") && h.contains("for every map type"), "{h}");
    }

    #[test]
    fn eperm_from_map_create_with_the_capabilities_blames_the_kernel_build() {
        let h = map_create_eperm_hint(MapType::ARENA, Some(ROOT_NO_RESOURCE), Some(2));
        assert!(!h.contains("lacks") && !h.contains("run as root"), "{h}");
        assert!(
            h.contains("capability checks of BPF_MAP_CREATE pass") && h.contains("CapEff 0x000001fffeffffff"),
            "{h}"
        );
        assert!(
            h.contains("CAP_BPF for ARENA maps") && h.contains("kernel build") && h.contains("security module"),
            "{h}"
        );
        assert!(h.contains("some hosts refuse ARENA maps"), "{h}");
        // CAP_SYS_ADMIN alone satisfies the CAP_BPF check.
        let h = map_create_eperm_hint(MapType::LRU_HASH, Some(1 << CAP_SYS_ADMIN), Some(0));
        assert!(h.contains("checks of BPF_MAP_CREATE pass") && !h.contains("ARENA"), "{h}");
        let h = map_create_eperm_hint(MapType::ARRAY, Some(0), Some(0));
        assert!(h.starts_with("BPF_MAP_CREATE checks no capability for ARRAY maps"), "{h}");
        let h = map_create_eperm_hint(MapType::ARENA, None, None);
        assert!(h.contains("CAP_BPF for ARENA maps") && h.contains("could not be read"), "{h}");
    }

    #[test]
    fn other_eperm_keeps_its_hint() {
        let h = hint_for(Cmd::ProgAttach, Errno::EPERM, "cgroup").unwrap();
        assert!(h.starts_with("run as root or grant CAP_BPF+CAP_NET_ADMIN"), "{h}");
    }
}
