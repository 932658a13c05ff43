//! Cgroups: the one `load` attaches to, and walks of the cgroup tree for
//! where a program is attached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::load::Attach;
use super::{DeployError, Result};
use crate::cgroup::{self, Cgroup};
use crate::syscall::{self, AttachType};

/// Cgroups visited at most when looking for attachments.
const MAX_CGROUP_WALK: usize = 100_000;

pub(super) fn resolve_cgroup(path: Option<&Path>) -> Result<Cgroup> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => cgroup::cgroup2_mount()?,
    };
    Ok(Cgroup::open(path)?)
}

/// Whether `prog_id` still needs attaching to `cg` for `attach_type`
/// (`Attached` means "do it").
pub(super) fn attach_state(cg: &Cgroup, prog_id: u32, attach_type: AttachType) -> Result<Attach> {
    let query = |flags| {
        syscall::query_cgroup_full(cg.fd(), attach_type, flags)
            .map_err(DeployError::step(format!("querying cgroup {}", cg.path().display())))
    };
    if query(0)?.prog_ids.contains(&prog_id) {
        return Ok(Attach::Already);
    }
    if !query(syscall::BPF_F_QUERY_EFFECTIVE)?.prog_ids.contains(&prog_id) {
        return Ok(Attach::Attached);
    }
    // Effective but not attached here: some ancestor has it.
    let ancestor = cg
        .path()
        .ancestors()
        .skip(1)
        .find(|p| {
            Cgroup::open(p)
                .is_ok_and(|a| syscall::query_cgroup(a.fd(), attach_type).is_ok_and(|ids| ids.contains(&prog_id)))
        })
        .map_or_else(|| PathBuf::from("an ancestor cgroup"), Path::to_path_buf);
    Ok(Attach::Inherited(ancestor))
}

/// Every cgroup under the cgroup2 mount that has program `prog_id` attached
/// directly for `attach_type`.
pub fn cgroups_with_prog(prog_id: u32, attach_type: AttachType) -> Result<Vec<PathBuf>> {
    Ok(attachments_of(&[prog_id], attach_type)?.remove(&prog_id).unwrap_or_default())
}

/// For each of `ids`, the cgroups that have it attached directly for
/// `attach_type` (one walk of the cgroup tree for all of them).
pub(super) fn attachments_of(ids: &[u32], attach_type: AttachType) -> Result<BTreeMap<u32, Vec<PathBuf>>> {
    let mut found: BTreeMap<u32, Vec<PathBuf>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(found);
    }
    let root = cgroup::cgroup2_mount()?;
    let mut stack = vec![root];
    let mut visited = 0;
    while let Some(dir) = stack.pop() {
        visited += 1;
        if visited > MAX_CGROUP_WALK {
            break;
        }
        if let Ok(cg) = Cgroup::open(&dir)
            && let Ok(attached) = syscall::query_cgroup(cg.fd(), attach_type)
        {
            for id in attached.into_iter().filter(|id| ids.contains(id)) {
                found.entry(id).or_default().push(dir.clone());
            }
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
    for v in found.values_mut() {
        v.sort();
    }
    Ok(found)
}
