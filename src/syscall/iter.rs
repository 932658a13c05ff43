//! BPF iterators: BPF_LINK_CREATE with `BPF_TRACE_ITER` (a link for an
//! `iter/...` tracing program), BPF_ITER_CREATE (one walk, as a file
//! descriptor), and reading that file, which runs the program once per
//! object (socket, task) the kernel visits.

use std::io::Read;
use std::os::fd::{BorrowedFd, OwnedFd};

use super::error::{Result, SysError};
use super::types::*;
use super::{Cmd, bpf_attr, fd_u32, owned_fd_from_ret, sys_bpf};

/// `union bpf_attr` member for BPF_LINK_CREATE, as an iterator link uses it
/// (`iter_info`/`iter_info_len` left 0: no map, cgroup or task filter).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkCreateAttr {
    pub prog_fd: u32,
    /// `target_fd` / `target_ifindex`.
    pub target_fd: u32,
    pub attach_type: u32,
    pub flags: u32,
    /// `iter_info`: a `union bpf_iter_link_info *`.
    pub iter_info: u64,
    pub iter_info_len: u32,
    pub _pad0: u32,
    /// The rest of the union's largest member, zero.
    pub _rest: [u64; 2],
}

/// `union bpf_attr` member for BPF_ITER_CREATE.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IterCreateAttr {
    pub link_fd: u32,
    pub flags: u32,
}

bpf_attr!(LinkCreateAttr, IterCreateAttr);

const _: () = {
    use std::mem::offset_of;
    assert!(offset_of!(LinkCreateAttr, iter_info) == 16);
    assert!(offset_of!(LinkCreateAttr, iter_info_len) == 24);
    assert!(size_of::<LinkCreateAttr>() == 48);
    assert!(size_of::<IterCreateAttr>() == 8);
};

/// A link for an `iter/...` program (loaded as [`ProgType::TRACING`] with
/// expected attach type [`AttachType::TRACE_ITER`] and the `attach_btf_id`
/// of the kernel's `bpf_iter_<target>` function). Closing the link detaches it.
#[allow(unsafe_code)]
pub fn iter_link(prog: BorrowedFd<'_>) -> Result<OwnedFd> {
    let mut attr =
        LinkCreateAttr { prog_fd: fd_u32(prog), attach_type: AttachType::TRACE_ITER.0, ..Default::default() };
    // SAFETY: the attr holds a borrowed fd and integers; iter_info is 0.
    unsafe { sys_bpf(Cmd::LinkCreate, &mut attr) }
        .and_then(owned_fd_from_ret)
        .map_err(|e| SysError::bpf(Cmd::LinkCreate, e, format!("iterator program fd {}", fd_u32(prog))))
}

/// One walk of the iterator `link`, as a file to read. The walk's scope is
/// fixed here, by the calling thread: the TCP iterator walks the sockets of
/// the calling thread's network namespace.
#[allow(unsafe_code)]
pub fn iter_create(link: BorrowedFd<'_>) -> Result<OwnedFd> {
    let mut attr = IterCreateAttr { link_fd: fd_u32(link), flags: 0 };
    // SAFETY: the attr holds a borrowed fd and a zero flag word.
    unsafe { sys_bpf(Cmd::IterCreate, &mut attr) }
        .and_then(owned_fd_from_ret)
        .map_err(|e| SysError::bpf(Cmd::IterCreate, e, format!("iterator link fd {}", fd_u32(link))))
}

/// Runs one walk of `link` to its end (`read()` until 0) and returns what
/// the program wrote with `bpf_seq_write`/`bpf_seq_printf`.
pub fn iter_run(link: BorrowedFd<'_>) -> Result<Vec<u8>> {
    let fd = iter_create(link)?;
    let mut out = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut out).map_err(|e| {
        let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        SysError::bpf(Cmd::IterCreate, errno, "reading the iterator (the walk stopped)")
    })?;
    Ok(out)
}
