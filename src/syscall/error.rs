//! Error type for the bpf(2) wrappers, with actionable hints.

use std::path::PathBuf;

use nix::errno::Errno;

use super::Cmd;
use super::prog::LoadError;

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
