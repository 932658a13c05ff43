//! BPF_PROG_ATTACH / BPF_PROG_DETACH / BPF_PROG_QUERY for cgroups and
//! sockmap/sockhash.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use super::error::{Result, SysError};
use super::types::*;
use super::{Cmd, bpf_attr, fd_u32, mut_ptr_u64, sys_bpf};

/// `union bpf_attr` member for BPF_PROG_ATTACH/DETACH (kernel 6.6+ layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ProgAttachAttr {
    /// `target_fd` / `target_ifindex`.
    pub target_fd: u32,
    pub attach_bpf_fd: u32,
    pub attach_type: u32,
    pub attach_flags: u32,
    pub replace_bpf_fd: u32,
    /// `relative_fd` / `relative_id`.
    pub relative_fd: u32,
    pub expected_revision: u64,
}

/// `union bpf_attr` member for BPF_PROG_QUERY (kernel 6.6+ layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ProgQueryAttr {
    pub target_fd: u32,
    pub attach_type: u32,
    pub query_flags: u32,
    pub attach_flags: u32,
    pub prog_ids: u64,
    /// `prog_cnt` / `count`.
    pub prog_cnt: u32,
    pub _pad0: u32,
    pub prog_attach_flags: u64,
    pub link_ids: u64,
    pub link_attach_flags: u64,
    pub revision: u64,
}

bpf_attr!(ProgAttachAttr, ProgQueryAttr);

const _: () = {
    assert!(size_of::<ProgAttachAttr>() == 32);
    assert!(size_of::<ProgQueryAttr>() == 64);
    assert!(std::mem::offset_of!(ProgQueryAttr, prog_attach_flags) == 32);
};

#[allow(unsafe_code)]
fn attach_raw(
    cmd: Cmd,
    prog: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: AttachType,
    flags: u32,
    what: &str,
) -> Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: fd_u32(target),
        attach_bpf_fd: fd_u32(prog),
        attach_type: attach_type.0,
        attach_flags: flags,
        ..Default::default()
    };
    // SAFETY: the attr holds only fds (borrowed for the call) and integers.
    unsafe { sys_bpf(cmd, &mut attr) }
        .map(|_| ())
        .map_err(|e| SysError::bpf(cmd, e, format!("{what} fd {} ({attach_type})", fd_u32(target))))
}

/// Attach `prog` to the cgroup directory fd `cgroup` (e.g.
/// [`AttachType::CGROUP_SOCK_OPS`] with [`BPF_F_ALLOW_MULTI`]).
pub fn attach_cgroup(prog: BorrowedFd<'_>, cgroup: BorrowedFd<'_>, attach_type: AttachType, flags: u32) -> Result<()> {
    attach_raw(Cmd::ProgAttach, prog, cgroup, attach_type, flags, "cgroup")
}

/// Detach `prog` from the cgroup `cgroup`.
pub fn detach_cgroup(prog: BorrowedFd<'_>, cgroup: BorrowedFd<'_>, attach_type: AttachType) -> Result<()> {
    attach_raw(Cmd::ProgDetach, prog, cgroup, attach_type, 0, "cgroup")
}

/// Attach `prog` to a sockmap/sockhash (e.g. [`AttachType::SK_MSG_VERDICT`]).
pub fn attach_map(prog: BorrowedFd<'_>, map: BorrowedFd<'_>, attach_type: AttachType) -> Result<()> {
    attach_raw(Cmd::ProgAttach, prog, map, attach_type, 0, "map")
}

/// Detach `prog` from a sockmap/sockhash.
pub fn detach_map(prog: BorrowedFd<'_>, map: BorrowedFd<'_>, attach_type: AttachType) -> Result<()> {
    attach_raw(Cmd::ProgDetach, prog, map, attach_type, 0, "map")
}

/// Result of [`query_cgroup_full`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgQuery {
    /// The cgroup's attach flags for this attach type (e.g.
    /// [`BPF_F_ALLOW_MULTI`]); 0 for effective queries.
    pub attach_flags: u32,
    /// Program ids, in execution order.
    pub prog_ids: Vec<u32>,
    /// Per-program attach flags (kernel >= 6.0, non-effective queries only;
    /// otherwise empty).
    pub prog_attach_flags: Vec<u32>,
    /// Attachment revision (kernel >= 6.6; else 0).
    pub revision: u64,
}

/// Program ids attached directly to `cgroup` for `attach_type`.
pub fn query_cgroup(cgroup: BorrowedFd<'_>, attach_type: AttachType) -> Result<Vec<u32>> {
    Ok(query_cgroup_full(cgroup, attach_type, 0)?.prog_ids)
}

/// BPF_PROG_QUERY with `query_flags` (e.g. [`BPF_F_QUERY_EFFECTIVE`]).
#[allow(unsafe_code)]
pub fn query_cgroup_full(cgroup: BorrowedFd<'_>, attach_type: AttachType, query_flags: u32) -> Result<ProgQuery> {
    let effective = query_flags & BPF_F_QUERY_EFFECTIVE != 0;
    let mut want_flags = !effective;
    let mut cap: usize = 16;
    for _ in 0..8 {
        let mut ids = vec![0u32; cap];
        let mut pflags = vec![0u32; if want_flags { cap } else { 0 }];
        let mut attr = ProgQueryAttr {
            target_fd: fd_u32(cgroup),
            attach_type: attach_type.0,
            query_flags,
            prog_ids: mut_ptr_u64(&mut ids),
            prog_cnt: cap as u32,
            prog_attach_flags: mut_ptr_u64(&mut pflags),
            ..Default::default()
        };
        // SAFETY: prog_ids points to `cap` u32s and prog_attach_flags to
        // `cap` u32s (or is 0); prog_cnt == cap.
        match unsafe { sys_bpf(Cmd::ProgQuery, &mut attr) } {
            Ok(_) => {
                let n = attr.prog_cnt as usize;
                if n > cap {
                    cap = n;
                    continue;
                }
                ids.truncate(n);
                pflags.truncate(if want_flags { n } else { 0 });
                return Ok(ProgQuery {
                    attach_flags: attr.attach_flags,
                    prog_ids: ids,
                    prog_attach_flags: pflags,
                    revision: attr.revision,
                });
            }
            Err(Errno::ENOSPC) => cap = (attr.prog_cnt as usize).max(cap * 2),
            Err(Errno::E2BIG | Errno::EINVAL) if want_flags => want_flags = false,
            Err(e) => {
                return Err(SysError::bpf(Cmd::ProgQuery, e, format!("cgroup fd {} ({attach_type})", fd_u32(cgroup))));
            }
        }
    }
    Err(SysError::bpf(Cmd::ProgQuery, Errno::EAGAIN, "cgroup (attachments kept changing)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::{Map, MapSpec, ProgSpec, insns_from_u64};

    #[test]
    fn sk_msg_on_sockhash() {
        if !crate::syscall::testutil::root_or_skip() {
            return;
        }
        let m = Map::create(&MapSpec::new(MapType::SOCKHASH, 4, 8, 16).with_name("test_skmsg_h")).unwrap();
        // r0 = SK_PASS (1); exit
        let insns = insns_from_u64(&[0x0000_0001_0000_00b7, 0x95]);
        let p = ProgSpec::new(ProgType::SK_MSG, "sockasm_skmsg", &insns)
            .with_expected_attach_type(AttachType::SK_MSG_VERDICT)
            .load()
            .unwrap();
        attach_map(p.fd(), m.fd(), AttachType::SK_MSG_VERDICT).unwrap();
        // a second verdict program replaces the first
        let p2 = ProgSpec::new(ProgType::SK_MSG, "sockasm_skmsg2", &insns).load().unwrap();
        attach_map(p2.fd(), m.fd(), AttachType::SK_MSG_VERDICT).unwrap();
        let e = detach_map(p.fd(), m.fd(), AttachType::SK_MSG_VERDICT).unwrap_err();
        assert!(e.errno().is_some(), "{e}");
        detach_map(p2.fd(), m.fd(), AttachType::SK_MSG_VERDICT).unwrap();
        // wrong attach type for a cgroup-less target: EINVAL with a hint
        let e = attach_map(p.fd(), m.fd(), AttachType::CGROUP_SOCK_OPS).unwrap_err();
        assert!(e.to_string().contains("BPF_PROG_ATTACH"), "{e}");
    }
}
