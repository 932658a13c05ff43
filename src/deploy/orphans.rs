//! sockasm programs attached to cgroups that no pin refers to any more,
//! found by walking the kernel's program ids.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::cgroups::attachments_of;
use super::pins::PIN_SOCKOPS;
use super::{DeployError, Result};
use crate::cgroup::Cgroup;
use crate::progs;
use crate::syscall::{self, AttachType, Map};

/// Program ids visited at most when walking the kernel's programs.
const MAX_PROG_WALK: usize = 1_000_000;
/// Directory entries visited at most when looking for sockasm pins on bpffs.
const MAX_PIN_WALK: usize = 100_000;

/// A sockasm sock_ops program, found in the kernel by its name.
struct KernelProg {
    id: u32,
    map_ids: Vec<u32>,
}

/// Every program named [`progs::sockops::NAME`] the kernel has, by walking
/// program ids: pins can be deleted and a crash can leave an attachment
/// behind, but this list cannot go stale.
fn kernel_sockops() -> Result<Vec<KernelProg>> {
    let mut out = Vec::new();
    let mut cur = 0;
    for _ in 0..MAX_PROG_WALK {
        let Some(id) = syscall::prog_next_id(cur).map_err(DeployError::step("walking BPF program ids"))? else {
            break;
        };
        cur = id;
        // ENOENT: unloaded since the walk saw it.
        let Ok(fd) = syscall::prog_fd_by_id(id) else { continue };
        let Ok(info) = syscall::prog_info(fd.as_fd()) else { continue };
        if info.name != progs::sockops::NAME || info.prog_type != syscall::ProgType::SOCK_OPS {
            continue;
        }
        let map_ids = syscall::prog_map_ids(fd.as_fd()).unwrap_or_default();
        out.push(KernelProg { id, map_ids });
    }
    Ok(out)
}

/// Ids of the sock_ops programs pinned in any sockasm pin directory, on
/// every bpffs mount (and in `extra`, which may lie elsewhere).
fn pinned_sockops_ids(extra: &Path) -> BTreeSet<u32> {
    pinned_sockops(extra).into_keys().collect()
}

/// The sock_ops programs pinned in sockasm pin directories, by id, with
/// the directory that pins each.
fn pinned_sockops(extra: &Path) -> BTreeMap<u32, PathBuf> {
    let mut roots: Vec<PathBuf> = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|mi| {
            mi.lines()
                .filter_map(|l| l.split_once(" - "))
                .filter(|(_, post)| post.split_whitespace().next() == Some("bpf"))
                .filter_map(|(pre, _)| pre.split_whitespace().nth(4).map(PathBuf::from))
                .collect()
        })
        .unwrap_or_default();
    roots.push(extra.to_path_buf());
    let mut ids = BTreeMap::new();
    let mut visited = 0;
    let mut stack: Vec<(PathBuf, u32)> = roots.into_iter().map(|r| (r, 0)).collect();
    while let Some((dir, depth)) = stack.pop() {
        let pin = dir.join(PIN_SOCKOPS);
        if let Ok(fd) = syscall::get_pinned(&pin)
            && let Ok(info) = syscall::prog_info(fd.as_fd())
        {
            ids.entry(info.id).or_insert(dir.clone());
        }
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            visited += 1;
            if visited > MAX_PIN_WALK {
                return ids;
            }
            if depth < 8 && e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    ids
}

/// Another sockasm's sock_ops program attached to the same cgroup: only the
/// first program in attach order adds a socket to its SOCKHASH (the others
/// find it handled), so two pin directories on one cgroup split its
/// sockets, and a pair split between them stays on TCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherAttachment {
    pub cgroup: PathBuf,
    pub prog_id: u32,
    /// The pin directory that holds it; `None`: no pin left (an orphan).
    pub pin_dir: Option<PathBuf>,
}

/// The sockasm sock_ops programs other than `ours` attached directly to
/// each of `cgroups`.
pub fn other_attachments(cgroups: &[PathBuf], ours: u32, pin_dir: &Path) -> Vec<OtherAttachment> {
    let mut found = Vec::new();
    for path in cgroups {
        let Ok(cg) = Cgroup::open(path) else { continue };
        let Ok(ids) = syscall::query_cgroup(cg.fd(), AttachType::CGROUP_SOCK_OPS) else { continue };
        for id in ids.into_iter().filter(|id| *id != ours) {
            let Ok(fd) = syscall::prog_fd_by_id(id) else { continue };
            let Ok(info) = syscall::prog_info(fd.as_fd()) else { continue };
            if info.name == progs::sockops::NAME && info.prog_type == syscall::ProgType::SOCK_OPS {
                found.push(OtherAttachment { cgroup: path.clone(), prog_id: id, pin_dir: None });
            }
        }
    }
    if !found.is_empty() {
        let pins = pinned_sockops(pin_dir);
        for o in &mut found {
            o.pin_dir = pins.get(&o.prog_id).cloned();
        }
    }
    found
}

/// A sockasm sock_ops program attached to cgroups with no pin left anywhere
/// (a crash, a deleted pin, or a `load` that raced an `unload` before the lock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Orphan {
    pub id: u32,
    pub cgroups: Vec<PathBuf>,
    /// Sockets in its SOCKHASH, if that could be read.
    pub sockets: Option<usize>,
}

/// Every orphaned sockasm attachment on the host. `pin_dir` is searched for
/// pins too, in case it is not under a bpffs mount point's usual place.
pub fn orphans(pin_dir: &Path) -> Result<Vec<Orphan>> {
    let progs = kernel_sockops()?;
    if progs.is_empty() {
        return Ok(Vec::new());
    }
    let pinned = pinned_sockops_ids(pin_dir);
    let unpinned: Vec<&KernelProg> = progs.iter().filter(|p| !pinned.contains(&p.id)).collect();
    let ids: Vec<u32> = unpinned.iter().map(|p| p.id).collect();
    let mut att = attachments_of(&ids)?;
    Ok(unpinned
        .into_iter()
        .filter_map(|p| {
            let cgroups = att.remove(&p.id)?;
            Some(Orphan { id: p.id, cgroups, sockets: sockhash_entries(p) })
        })
        .collect())
}

/// Sockets in the SOCKHASH a sock_ops program feeds.
fn sockhash_entries(p: &KernelProg) -> Option<usize> {
    p.map_ids.iter().find_map(|id| {
        let m = Map::from_id(*id).ok()?;
        (m.spec().map_type == syscall::MapType::SOCKHASH).then(|| m.count_entries().ok())?
    })
}

/// Detaches from `cg` every sockasm sock_ops program among `attached` that
/// is not pinned anywhere (other than `ours`, handled by the caller).
/// Programs of other tools, and sockasm programs pinned in another pin
/// directory, stay.
pub(super) fn detach_orphans(
    cg: &Cgroup,
    attached: &[u32],
    ours: Option<u32>,
    pin_dir: &Path,
    label: &str,
) -> Result<Vec<u32>> {
    let candidates: Vec<u32> = attached.iter().copied().filter(|i| Some(*i) != ours).collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut named = Vec::new();
    for id in candidates {
        let Ok(fd) = syscall::prog_fd_by_id(id) else { continue };
        if syscall::prog_info(fd.as_fd())
            .is_ok_and(|i| i.name == progs::sockops::NAME && i.prog_type == syscall::ProgType::SOCK_OPS)
        {
            named.push((id, fd));
        }
    }
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let pinned = pinned_sockops_ids(pin_dir);
    let mut done = Vec::new();
    for (id, fd) in named.into_iter().filter(|(id, _)| !pinned.contains(id)) {
        match syscall::detach_cgroup(fd.as_fd(), cg.fd(), AttachType::CGROUP_SOCK_OPS) {
            // ENOENT: someone detached it meanwhile.
            Err(e) if e.errno() != Some(nix::errno::Errno::ENOENT) => {
                return Err(DeployError::Step {
                    step: format!("detaching orphaned sock_ops id {id} from cgroup {label}"),
                    source: e,
                });
            }
            _ => done.push(id),
        }
    }
    Ok(done)
}
