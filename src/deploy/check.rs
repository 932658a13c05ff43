//! Is a loaded bypass still pinned and attached? `sockasm agent` asks this
//! periodically and loads again when the answer is no.

use std::os::fd::AsFd;
use std::path::Path;

use super::cgroups::{attach_state, resolve_cgroup};
use super::load::Attach;
use super::orphans::cgroup_progs;
use super::pins::{pin_dir_path, pins, pins_present};
use super::{DeployError, Result};
use crate::syscall;

/// What [`check_attached`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachCheck {
    /// Every pin is there and the pinned sock_ops runs for the cgroup
    /// (attached to it, or to an ancestor).
    Attached,
    /// Every pin is there, but the pinned sock_ops is not attached to the
    /// cgroup (someone detached it).
    Detached,
    /// No pin is left (someone deleted the pin directory); the old programs
    /// may still be attached, with no pin referring to them.
    PinsMissing,
    /// Only these pins are left.
    PartialPins(Vec<String>),
}

/// Checks the bypass pinned at `pin_dir` against `cgroup` (`None`: the
/// cgroup2 root), without changing anything and without the lock.
pub fn check_attached(cgroup: Option<&Path>, pin_dir: &Path) -> Result<AttachCheck> {
    let pin_dir = pin_dir_path(pin_dir)?;
    let pins = pins()?;
    let present = pins_present(&pin_dir, &pins, "agent")?;
    if present.is_empty() {
        return Ok(AttachCheck::PinsMissing);
    }
    if present.len() != pins.len() {
        return Ok(AttachCheck::PartialPins(present));
    }
    let cg = resolve_cgroup(cgroup)?;
    for cp in cgroup_progs()? {
        let path = pin_dir.join(&cp.pin);
        let prog = match syscall::get_pinned(&path) {
            Ok(fd) => fd,
            // Deleted between the listing and now.
            Err(e) if e.errno() == Some(nix::errno::Errno::ENOENT) => return Ok(AttachCheck::PinsMissing),
            Err(source) => return Err(DeployError::Step { step: format!("opening pin {}", path.display()), source }),
        };
        let id = syscall::prog_info(prog.as_fd()).map_err(DeployError::step("reading program info"))?.id;
        if attach_state(&cg, id, cp.attach_type)? == Attach::Attached {
            return Ok(AttachCheck::Detached);
        }
    }
    Ok(AttachCheck::Attached)
}
