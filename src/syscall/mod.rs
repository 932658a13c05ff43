//! Thin, typed wrappers around the `bpf(2)` system call.
//!
//! This module (and its children) is the only place in the crate that contains
//! `unsafe` code (the crate denies it in Cargo.toml; each function here that
//! needs it allows it, with a `SAFETY:` comment on every block). All raw system calls go through exactly one function,
//! [`sys_bpf`], which takes a `#[repr(C)]` attribute struct implementing the
//! sealed [`BpfAttr`] trait. Everything else is safe, typed Rust that uses
//! [`OwnedFd`]/[`BorrowedFd`] for kernel objects.
//!
//! Layouts follow the kernel UAPI (`include/uapi/linux/bpf.h`, kernel 6.x):
//! every command has its own attribute struct mirroring the corresponding
//! member of `union bpf_attr`, with explicit padding so that zero
//! initialisation (`Default`) really zeroes every byte the kernel reads.

pub mod attach;
pub mod btf;
pub mod error;
pub mod info;
pub mod ioctl;
pub mod iter;
pub mod map;
pub mod mmap;
pub mod pin;
pub mod prog;
/// The UAPI types and flags, which live in [`crate::uapi`]; re-exported under
/// their old paths.
pub use crate::uapi::types;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

pub use crate::btf::builder::{BtfBuilder, sk_storage_btf};
pub use crate::spec::MapSpec;
pub use attach::{ProgQuery, attach_cgroup, attach_map, detach_cgroup, detach_map, query_cgroup, query_cgroup_full};
pub use btf::{LoadedBtf, load_btf};
pub use error::{Result, SysError};
pub use info::{
    JitedProg, MapInfo, ProgInfo, btf_blob_by_id, map_fd_by_id, map_ids, map_info, map_next_id, prog_fd_by_id,
    prog_ids, prog_info, prog_jited, prog_map_ids, prog_next_id, prog_xlated_insns,
};
pub use iter::{iter_create, iter_link, iter_run};
pub use map::{Map, UpdateFlag, possible_cpus};
pub use pin::{get_pinned, get_pinned_with_flags, pin, unpin};
pub use prog::{
    LoadError, LoadedProg, ProgSpec, TestRun, TestRunResult, VerifierError, VerifierStats, insns_from_u64,
    parse_verifier_stats, test_run,
};
pub use types::*;

/// `bpf(2)` command numbers (`enum bpf_cmd`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cmd {
    MapCreate = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgLoad = 5,
    ObjPin = 6,
    ObjGet = 7,
    ProgAttach = 8,
    ProgDetach = 9,
    ProgTestRun = 10,
    ProgGetNextId = 11,
    MapGetNextId = 12,
    ProgGetFdById = 13,
    MapGetFdById = 14,
    ObjGetInfoByFd = 15,
    ProgQuery = 16,
    BtfLoad = 18,
    BtfGetFdById = 19,
    LinkCreate = 28,
    IterCreate = 33,
}

impl Cmd {
    /// The UAPI name of the command, e.g. `BPF_MAP_CREATE`.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ObjPin => "BPF_OBJ_PIN",
            Cmd::ObjGet => "BPF_OBJ_GET",
            Cmd::ProgAttach => "BPF_PROG_ATTACH",
            Cmd::ProgDetach => "BPF_PROG_DETACH",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::ProgGetNextId => "BPF_PROG_GET_NEXT_ID",
            Cmd::MapGetNextId => "BPF_MAP_GET_NEXT_ID",
            Cmd::ProgGetFdById => "BPF_PROG_GET_FD_BY_ID",
            Cmd::MapGetFdById => "BPF_MAP_GET_FD_BY_ID",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::ProgQuery => "BPF_PROG_QUERY",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::BtfGetFdById => "BPF_BTF_GET_FD_BY_ID",
            Cmd::LinkCreate => "BPF_LINK_CREATE",
            Cmd::IterCreate => "BPF_ITER_CREATE",
        }
    }
}

impl std::fmt::Display for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Marker for the `#[repr(C)]` attribute structs of this module. Sealed: only
/// structs defined here, whose layout matches a `union bpf_attr` member and
/// which contain no implicit padding, implement it.
pub trait BpfAttr: sealed::Sealed {}

macro_rules! bpf_attr {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::syscall::sealed::Sealed for $t {} impl $crate::syscall::BpfAttr for $t {})*
    };
}
pub(crate) use bpf_attr;

/// The single funnel for the `bpf(2)` system call.
///
/// Returns the (non-negative) return value of the syscall, or the errno.
///
/// # Safety
///
/// `attr` must be the attribute struct that the kernel expects for `cmd`
/// (`T` is always one of this module's `#[repr(C)]` structs), and every
/// pointer stored in it (as a `u64`) must either be zero or point to memory
/// that is valid for reads and/or writes of the length stated next to it in
/// the struct (or implied by the object, e.g. a map's key/value size) for the
/// whole duration of the call.
#[allow(unsafe_code)]
pub(crate) unsafe fn sys_bpf<T: BpfAttr>(cmd: Cmd, attr: &mut T) -> std::result::Result<i64, Errno> {
    let size = std::mem::size_of::<T>() as libc::c_uint;
    let ptr = attr as *mut T as *mut libc::c_void;
    // SAFETY: `ptr` points to a live, exclusively borrowed, fully initialised
    // `#[repr(C)]` struct of `size` bytes; the caller guarantees that the
    // pointers inside it are valid for the kernel to use during the call.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd as libc::c_int, ptr, size) };
    if ret < 0 { Err(Errno::last()) } else { Ok(ret as i64) }
}

/// Wrap a file descriptor returned by a successful `bpf(2)` call (or other
/// fd-creating call) into an [`OwnedFd`], making sure it is not fd 0.
#[allow(unsafe_code)]
pub(crate) fn owned_fd_from_ret(ret: i64) -> std::result::Result<OwnedFd, Errno> {
    let raw = RawFd::try_from(ret).map_err(|_| Errno::EBADF)?;
    if raw < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: the kernel just returned `raw` as a newly created file
    // descriptor for this process; nobody else owns it, so taking ownership
    // (and closing it on drop) is correct.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    ensure_not_fd0(fd).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)))
}

/// The UAPI treats fd 0 as "no fd" in several attrs. If `fd` is 0, duplicate
/// it to a descriptor >= 3 (`F_DUPFD_CLOEXEC`) and close the 0.
pub fn ensure_not_fd0(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() != 0 {
        return Ok(fd);
    }
    // `try_clone_to_owned` uses fcntl(F_DUPFD_CLOEXEC, 3).
    let dup = fd.as_fd().try_clone_to_owned()?;
    drop(fd);
    Ok(dup)
}

/// A raw fd as the `u32` the UAPI wants.
pub(crate) fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

/// Address of a slice's data as the `u64` the UAPI wants (0 for empty).
pub(crate) fn ptr_u64<T>(s: &[T]) -> u64 {
    if s.is_empty() { 0 } else { s.as_ptr() as usize as u64 }
}

/// Mutable counterpart of [`ptr_u64`].
pub(crate) fn mut_ptr_u64<T>(s: &mut [T]) -> u64 {
    if s.is_empty() { 0 } else { s.as_mut_ptr() as usize as u64 }
}

/// Copy `name` into a 16-byte, NUL-terminated object-name buffer
/// (`BPF_OBJ_NAME_LEN`). Kernel accepts `[A-Za-z0-9_.]`, at most 15 bytes.
pub(crate) fn obj_name(name: &str) -> std::result::Result<[u8; 16], String> {
    if name.len() > 15 {
        return Err(format!("object name '{name}' is {} bytes long; the kernel allows at most 15", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.')) {
        return Err(format!("object name '{name}' contains '{c}'; only [A-Za-z0-9_.] is allowed"));
    }
    let mut out = [0u8; 16];
    out[..name.len()].copy_from_slice(name.as_bytes());
    Ok(out)
}

/// Decode a NUL-padded C name buffer.
pub(crate) fn name_from_buf(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
pub(crate) mod testutil {
    /// For tests that call bpf(2): true as root. Otherwise the test fails
    /// saying so (passing without testing would hide the kernel path), unless
    /// `SOCKASM_SKIP_KERNEL_TESTS` is set, as for the kernel integration tests:
    /// then it says it skips, and the caller returns.
    pub fn root_or_skip() -> bool {
        if nix::unistd::geteuid().is_root() {
            return true;
        }
        if std::env::var_os("SOCKASM_SKIP_KERNEL_TESTS").is_some() {
            eprintln!("skipping: needs root for bpf(2) (SOCKASM_SKIP_KERNEL_TESTS is set)");
            return false;
        }
        panic!(
            "needs root: this test loads BPF objects with bpf(2); run as root, or set SOCKASM_SKIP_KERNEL_TESTS=1 to skip it"
        );
    }
}
