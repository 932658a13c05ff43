//! Attachments as values: a [`Link`] detaches its program when dropped,
//! unless [`Link::keep`] hands it to the kernel for good (as cilium/ebpf's
//! `link.Link`). `load` holds its new attachments as links, so a failing
//! step detaches them; `unload` detaches with [`detach`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::pins::Objects;
use super::{DeployError, Result};
use crate::cgroup::Cgroup;
use crate::progs::{Attachment, Target};
use crate::syscall::{self, AttachType, SysError};

/// An attachment this process made.
pub(super) struct Link {
    prog: OwnedFd,
    target: OwnedFd,
    on: On,
    attach_type: AttachType,
    /// Detach on drop (cleared by [`Link::keep`]).
    armed: bool,
}

#[derive(Clone, Copy)]
enum On {
    Cgroup,
    Map,
}

fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned().map_err(|e| DeployError::Invalid(format!("cannot duplicate a file descriptor: {e}")))
}

/// The program of `a` and the fd of its target: `cg` for a cgroup, the map
/// of `objs` for a map.
fn resolve<'a>(
    a: &Attachment,
    objs: &'a Objects,
    cg: Option<&'a Cgroup>,
) -> Result<(BorrowedFd<'a>, BorrowedFd<'a>, On)> {
    let prog = objs.prog(a.program)?;
    Ok(match (a.target, cg) {
        (Target::Cgroup, Some(cg)) => (prog, cg.fd(), On::Cgroup),
        (Target::Cgroup, None) => {
            return Err(DeployError::Invalid(format!("{} needs a cgroup (a bug in sockasm)", a.program)));
        }
        (Target::Map(m), _) => (prog, objs.map(m)?.as_fd(), On::Map),
    })
}

/// The program and the target, for errors: `sock_ops`, `cgroup /x`; `sk_msg`, `the SOCKHASH`.
fn what(a: &Attachment, objs: &Objects, cg: Option<&Cgroup>) -> (String, String) {
    let prog = objs
        .prog(a.program)
        .ok()
        .and_then(|fd| syscall::prog_info(fd).ok())
        .and_then(|i| i.prog_type.name().map(str::to_ascii_lowercase))
        .unwrap_or_else(|| a.program.to_string());
    match (a.target, cg) {
        (Target::Cgroup, Some(cg)) => (prog, format!("cgroup {}", cg.path().display())),
        (Target::Cgroup, None) => (prog, "a cgroup".to_string()),
        (Target::Map(m), _) => match objs.map(m) {
            Ok(map) => (prog, format!("the {}", map.spec().map_type)),
            Err(_) => (prog, format!("map {m}")),
        },
    }
}

impl Link {
    /// Attaches the program of `a` to its target (`cg`, or a map of `objs`).
    pub fn attach(a: &Attachment, objs: &Objects, cg: &Cgroup) -> Result<Link> {
        let cg = Some(cg);
        let (prog, target, on) = resolve(a, objs, cg)?;
        // The fds first: nothing may fail between attaching and holding the link.
        let mut link = Link { prog: dup(prog)?, target: dup(target)?, on, attach_type: a.attach_type, armed: false };
        match on {
            // Several programs may share a cgroup (other tools', another pin directory's).
            On::Cgroup => syscall::attach_cgroup(prog, target, a.attach_type, syscall::BPF_F_ALLOW_MULTI),
            On::Map => syscall::attach_map(prog, target, a.attach_type),
        }
        .map_err(|source| {
            let (prog, target) = what(a, objs, cg);
            DeployError::Step { step: format!("attaching {prog} to {target}"), source }
        })?;
        link.armed = true;
        Ok(link)
    }

    /// Leaves the attachment in place after this value and this process.
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: the error that made `load` give up is what the user needs to see.
            let _ = detach_raw(self.prog.as_fd(), self.target.as_fd(), self.on, self.attach_type);
        }
    }
}

fn detach_raw(prog: BorrowedFd<'_>, target: BorrowedFd<'_>, on: On, attach_type: AttachType) -> syscall::Result<()> {
    match on {
        On::Cgroup => syscall::detach_cgroup(prog, target, attach_type),
        On::Map => syscall::detach_map(prog, target, attach_type),
    }
}

/// Detaches the program of `a` from its target (`cg`, or a map of `objs`);
/// `Ok(false)` when it was not attached there (ENOENT: detached already, by
/// an earlier interrupted call).
pub(super) fn detach(a: &Attachment, objs: &Objects, cg: Option<&Cgroup>) -> Result<bool> {
    let (prog, target, on) = resolve(a, objs, cg)?;
    match detach_raw(prog, target, on, a.attach_type) {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == Some(nix::errno::Errno::ENOENT) => Ok(false),
        Err(source) => {
            let (prog, target) = what(a, objs, cg);
            Err(DeployError::Step { step: format!("detaching {prog} from {target}"), source })
        }
    }
}

/// Detaches the program `prog` (found by id, not one of ours) from `cg`.
pub(super) fn detach_from_cgroup(
    prog: BorrowedFd<'_>,
    cg: &Cgroup,
    attach_type: AttachType,
) -> std::result::Result<(), SysError> {
    match syscall::detach_cgroup(prog, cg.fd(), attach_type) {
        Err(e) if e.errno() != Some(nix::errno::Errno::ENOENT) => Err(e),
        _ => Ok(()),
    }
}
