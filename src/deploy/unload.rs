//! `sockasm unload`: detach from a cgroup, and remove everything once no
//! cgroup and no connection is left.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::cgroups::{cgroups_with_prog, resolve_cgroup};
use super::lock::lock;
use super::orphans::detach_orphans;
use super::pins::{PIN_SKMSG, PIN_SOCKOPS, pin_dir_path, pins_present, remove_dir_if_empty};
use super::privileges::check_privileges;
use super::{DeployError, Result};
use crate::cgroup::Cgroup;
use crate::progs;
use crate::syscall::{self, AttachType, Map};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnloadOutcome {
    /// Nothing was loaded at this pin directory.
    NotLoaded,
    /// Detached (or was not attached) from the cgroup; still attached elsewhere.
    StillAttached(Vec<PathBuf>),
    /// No cgroup is left, but connections still use the bypass: the map and
    /// sk_msg stay pinned so their queued bytes are not lost.
    Draining { connections: usize },
    /// Everything removed.
    Removed,
}

#[derive(Clone, Debug)]
pub struct UnloadReport {
    pub cgroup: PathBuf,
    /// The cgroup directory does not exist (a removed cgroup takes its
    /// attachments with it).
    pub cgroup_missing: bool,
    /// Whether this call detached sock_ops from the cgroup.
    pub detached: bool,
    /// Ids of orphaned sockasm programs (no pins left) this call detached from the cgroup.
    pub orphans_detached: Vec<u32>,
    pub outcome: UnloadOutcome,
}

/// Detach from a cgroup; when no cgroup and no connection is left, remove
/// everything. Idempotent. Orphaned sockasm programs attached to the cgroup
/// (found in the kernel by name, no pin left anywhere) are detached too.
pub fn unload(cgroup_path: Option<&Path>, pin_dir: &Path) -> Result<UnloadReport> {
    check_privileges("unload")?;
    let pin_dir = &pin_dir_path(pin_dir)?;
    // A removed cgroup took its attachments with it: nothing to detach there.
    let cg = match cgroup_path {
        Some(p) if !p.exists() => None,
        _ => Some(resolve_cgroup(cgroup_path)?),
    };
    let cgroup = match (&cg, cgroup_path) {
        (Some(c), _) => c.path().to_path_buf(),
        (None, p) => p.map(Path::to_path_buf).unwrap_or_default(),
    };
    let _lock = lock()?;
    unload_locked(cg.as_ref(), cgroup, pin_dir)
}

/// [`unload`] with the lock held; `cg` None: only remove what no cgroup uses.
pub(super) fn unload_locked(cg: Option<&Cgroup>, cgroup: PathBuf, pin_dir: &Path) -> Result<UnloadReport> {
    let present = pins_present(pin_dir, "unload")?;
    let mut report = UnloadReport {
        cgroup_missing: cg.is_none(),
        cgroup,
        detached: false,
        orphans_detached: vec![],
        outcome: UnloadOutcome::NotLoaded,
    };
    let sockops = match present.contains(&PIN_SOCKOPS) {
        true => Some(
            syscall::get_pinned(pin_dir.join(PIN_SOCKOPS))
                .map_err(DeployError::step(format!("opening pin {}", pin_dir.join(PIN_SOCKOPS).display())))?,
        ),
        false => None,
    };
    let id = match &sockops {
        Some(fd) => Some(syscall::prog_info(fd.as_fd()).map_err(DeployError::step("reading sock_ops info"))?.id),
        None => None,
    };
    if let Some(cg) = cg {
        let label = report.cgroup.display().to_string();
        let ids = syscall::query_cgroup(cg.fd(), AttachType::CGROUP_SOCK_OPS)
            .map_err(DeployError::step(format!("querying cgroup {label}")))?;
        if let (Some(fd), Some(id)) = (&sockops, id)
            && ids.contains(&id)
        {
            syscall::detach_cgroup(fd.as_fd(), cg.fd(), AttachType::CGROUP_SOCK_OPS)
                .map_err(DeployError::step(format!("detaching sock_ops from cgroup {label}")))?;
            report.detached = true;
        }
        report.orphans_detached = detach_orphans(cg, &ids, id, pin_dir, &label)?;
    }
    if present.is_empty() {
        remove_dir_if_empty(pin_dir);
        return Ok(report);
    }
    if let Some(id) = id {
        let left = cgroups_with_prog(id)?;
        if !left.is_empty() {
            report.outcome = UnloadOutcome::StillAttached(left);
            return Ok(report);
        }
    }
    if present.contains(&progs::MAP_SOCKHASH) {
        let map = Map::from_pinned(pin_dir.join(progs::MAP_SOCKHASH)).map_err(DeployError::step(format!(
            "opening pinned map {}",
            pin_dir.join(progs::MAP_SOCKHASH).display()
        )))?;
        let connections = map.count_entries().map_err(DeployError::step("counting SOCKHASH entries"))?;
        if connections > 0 {
            report.outcome = UnloadOutcome::Draining { connections };
            return Ok(report);
        }
        if present.contains(&PIN_SKMSG) {
            let skmsg = syscall::get_pinned(pin_dir.join(PIN_SKMSG))
                .map_err(DeployError::step(format!("opening pin {}", pin_dir.join(PIN_SKMSG).display())))?;
            // ENOENT: already detached by an earlier, interrupted unload.
            match syscall::detach_map(skmsg.as_fd(), map.as_fd(), AttachType::SK_MSG_VERDICT) {
                Err(e) if e.errno() != Some(nix::errno::Errno::ENOENT) => {
                    return Err(DeployError::Step { step: "detaching sk_msg from the SOCKHASH".into(), source: e });
                }
                _ => {}
            }
        }
    }
    for name in present {
        let p = pin_dir.join(name);
        syscall::unpin(&p).map_err(DeployError::step(format!("removing pin {}", p.display())))?;
    }
    remove_dir_if_empty(pin_dir);
    report.outcome = UnloadOutcome::Removed;
    Ok(report)
}
