//! `sockasm unload`: detach from a cgroup, and remove everything once no
//! cgroup and no connection is left.

use std::path::{Path, PathBuf};

use super::cgroups::{cgroups_with_prog, resolve_cgroup};
use super::link::detach;
use super::lock::lock;
use super::orphans::cgroup_progs;
use super::orphans::detach_orphans;
use super::pins::{Objects, Pin, pin_dir_path, pins, pins_present, remove_dir_if_empty};
use super::privileges::check_privileges;
use super::{DeployError, Result};
use crate::cgroup::Cgroup;
use crate::progs::{self, ATTACHMENTS, Target};
use crate::syscall;

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
    let pins = pins()?;
    let present = pins_present(pin_dir, &pins, "unload")?;
    let mut report = UnloadReport {
        cgroup_missing: cg.is_none(),
        cgroup,
        detached: false,
        orphans_detached: vec![],
        outcome: UnloadOutcome::NotLoaded,
    };
    // What is left of the bypass: an interrupted unload may have removed some pins.
    let left: Vec<Pin> = pins.into_iter().filter(|p| present.contains(&p.file)).collect();
    let objs = Objects::open(pin_dir, &left)?;
    let mut ours = Vec::new();
    for cp in cgroup_progs()? {
        let id = match objs.prog(cp.name) {
            Ok(fd) => Some(syscall::prog_info(fd).map_err(DeployError::step("reading program info"))?.id),
            Err(_) => None,
        };
        ours.push((cp, id));
    }
    if let Some(cg) = cg {
        let label = report.cgroup.display().to_string();
        for (cp, id) in &ours {
            let ids = syscall::query_cgroup(cg.fd(), cp.attach_type)
                .map_err(DeployError::step(format!("querying cgroup {label}")))?;
            if id.is_some_and(|id| ids.contains(&id)) {
                report.detached |= detach(&cp.attachment, &objs, Some(cg))?;
            }
            report.orphans_detached.extend(detach_orphans(cp, cg, &ids, *id, pin_dir, &label)?);
        }
    }
    if present.is_empty() {
        remove_dir_if_empty(pin_dir);
        return Ok(report);
    }
    let mut still = Vec::new();
    for (cp, id) in &ours {
        if let Some(id) = id {
            still.extend(cgroups_with_prog(*id, cp.attach_type)?);
        }
    }
    if !still.is_empty() {
        report.outcome = UnloadOutcome::StillAttached(still);
        return Ok(report);
    }
    if let Ok(map) = objs.map(progs::MAP_SOCKHASH) {
        let connections = map.count_entries().map_err(DeployError::step("counting SOCKHASH entries"))?;
        if connections > 0 {
            report.outcome = UnloadOutcome::Draining { connections };
            return Ok(report);
        }
    }
    // The attachments to maps go with the objects.
    for a in ATTACHMENTS.iter().filter(|a| matches!(a.target, Target::Map(m) if objs.map(m).is_ok())) {
        if objs.prog(a.program).is_ok() {
            detach(a, &objs, None)?;
        }
    }
    drop(objs);
    for name in present {
        let p = pin_dir.join(name);
        syscall::unpin(&p).map_err(DeployError::step(format!("removing pin {}", p.display())))?;
    }
    remove_dir_if_empty(pin_dir);
    report.outcome = UnloadOutcome::Removed;
    Ok(report)
}
