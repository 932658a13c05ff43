//! sockasm programs attached to cgroups that no pin refers to any more,
//! found by walking the kernel's program ids.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::cgroups::attachments_of;
use super::link::detach_from_cgroup;
use super::pins::{declared, pin_of, pins};
use super::{DeployError, Result};
use crate::cgroup::Cgroup;
use crate::progs::{ATTACHMENTS, Attachment, Target};
use crate::syscall::{self, AttachType, Map, ProgType};

/// Program ids visited at most when walking the kernel's programs.
const MAX_PROG_WALK: usize = 1_000_000;
/// Directory entries visited at most when looking for sockasm pins on bpffs.
const MAX_PIN_WALK: usize = 100_000;

/// A program of [`ATTACHMENTS`] attached to cgroups: how the kernel names
/// it, and its pin.
pub(super) struct CgroupProg {
    pub attachment: Attachment,
    pub name: &'static str,
    pub prog_type: ProgType,
    pub attach_type: AttachType,
    pub pin: String,
}

impl CgroupProg {
    /// Whether the program `info` describes is one of these (by name and type).
    fn is(&self, info: &syscall::ProgInfo) -> bool {
        info.name == self.name && info.prog_type == self.prog_type
    }
}

/// The cgroup attachments of [`ATTACHMENTS`].
pub(super) fn cgroup_progs() -> Result<Vec<CgroupProg>> {
    let (spec, pins) = (declared()?, pins()?);
    let mut out = Vec::new();
    for a in ATTACHMENTS.iter().filter(|a| a.target == Target::Cgroup) {
        let prog_type = spec.program(a.program).map(|p| p.prog_type).ok_or_else(|| {
            DeployError::Invalid(format!(
                "{} is in ATTACHMENTS but not in the collection (a bug in sockasm)",
                a.program
            ))
        })?;
        out.push(CgroupProg {
            attachment: *a,
            name: a.program,
            prog_type,
            attach_type: a.attach_type,
            pin: pin_of(&pins, a.program)?.file.clone(),
        });
    }
    Ok(out)
}

/// A program of ours, found in the kernel by its name.
struct KernelProg {
    id: u32,
    map_ids: Vec<u32>,
}

/// Every program the kernel has that `p` describes, by walking program ids:
/// pins can be deleted and a crash can leave an attachment behind, but this
/// list cannot go stale.
fn kernel_progs(p: &CgroupProg) -> Result<Vec<KernelProg>> {
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
        if !p.is(&info) {
            continue;
        }
        let map_ids = syscall::prog_map_ids(fd.as_fd()).unwrap_or_default();
        out.push(KernelProg { id, map_ids });
    }
    Ok(out)
}

/// Ids of the programs `p` pinned in any sockasm pin directory, on every
/// bpffs mount (and in `extra`, which may lie elsewhere).
fn pinned_ids(p: &CgroupProg, extra: &Path) -> BTreeSet<u32> {
    pinned(p, extra).into_keys().collect()
}

/// The programs `p` pinned in sockasm pin directories, by id, with the
/// directory that pins each.
fn pinned(p: &CgroupProg, extra: &Path) -> BTreeMap<u32, PathBuf> {
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
        let pin = dir.join(&p.pin);
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

/// The programs `p` describes, other than `ours`, attached directly to each
/// of `cgroups`.
pub(super) fn other_attachments(
    p: &CgroupProg,
    cgroups: &[PathBuf],
    ours: u32,
    pin_dir: &Path,
) -> Vec<OtherAttachment> {
    let mut found = Vec::new();
    for path in cgroups {
        let Ok(cg) = Cgroup::open(path) else { continue };
        let Ok(ids) = syscall::query_cgroup(cg.fd(), p.attach_type) else { continue };
        for id in ids.into_iter().filter(|id| *id != ours) {
            let Ok(fd) = syscall::prog_fd_by_id(id) else { continue };
            let Ok(info) = syscall::prog_info(fd.as_fd()) else { continue };
            if p.is(&info) {
                found.push(OtherAttachment { cgroup: path.clone(), prog_id: id, pin_dir: None });
            }
        }
    }
    if !found.is_empty() {
        let pins = pinned(p, pin_dir);
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
    let mut out = Vec::new();
    for cp in cgroup_progs()? {
        let progs = kernel_progs(&cp)?;
        if progs.is_empty() {
            continue;
        }
        let pinned = pinned_ids(&cp, pin_dir);
        let unpinned: Vec<&KernelProg> = progs.iter().filter(|p| !pinned.contains(&p.id)).collect();
        let ids: Vec<u32> = unpinned.iter().map(|p| p.id).collect();
        let mut att = attachments_of(&ids, cp.attach_type)?;
        out.extend(unpinned.into_iter().filter_map(|p| {
            let cgroups = att.remove(&p.id)?;
            Some(Orphan { id: p.id, cgroups, sockets: sockhash_entries(p) })
        }));
    }
    Ok(out)
}

/// Sockets in the SOCKHASH a sock_ops program feeds.
fn sockhash_entries(p: &KernelProg) -> Option<usize> {
    p.map_ids.iter().find_map(|id| {
        let m = Map::from_id(*id).ok()?;
        (m.spec().map_type == syscall::MapType::SOCKHASH).then(|| m.count_entries().ok())?
    })
}

/// Detaches from `cg` every program `p` describes among `attached` that is
/// not pinned anywhere (other than `ours`, handled by the caller). Programs
/// of other tools, and sockasm programs pinned in another pin directory, stay.
pub(super) fn detach_orphans(
    p: &CgroupProg,
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
        if syscall::prog_info(fd.as_fd()).is_ok_and(|i| p.is(&i)) {
            named.push((id, fd));
        }
    }
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let pinned = pinned_ids(p, pin_dir);
    let mut done = Vec::new();
    for (id, fd) in named.into_iter().filter(|(id, _)| !pinned.contains(id)) {
        // ENOENT (someone detached it meanwhile) is done too.
        detach_from_cgroup(fd.as_fd(), cg, p.attach_type).map_err(|source| DeployError::Step {
            step: format!("detaching orphaned {} id {id} from cgroup {label}", p.name),
            source,
        })?;
        done.push(id);
    }
    Ok(done)
}
