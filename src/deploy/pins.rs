//! The objects a loaded bypass pins, listed once ([`PINNED`]), and the pin
//! directory that holds them.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::load::Undo;
use super::{DeployError, Result};
use crate::cgroup;
use crate::loader::Collection;
use crate::progs;
use crate::syscall::{self, Map};

pub(super) const PIN_SOCKOPS: &str = "sockops";
pub(super) const PIN_SKMSG: &str = "skmsg";

/// What a pin holds: a map of the spec (pinned under its spec name) or a
/// program of the spec, by its name there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Map,
    Prog(&'static str),
}

/// One pinned object: its file in the pin directory, and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pinned {
    pub pin: &'static str,
    pub kind: Kind,
}

const fn map(name: &'static str) -> Pinned {
    Pinned { pin: name, kind: Kind::Map }
}

/// Every object of a loaded bypass, in the order messages list them and
/// `unload` removes them. Each map and program of
/// [`progs::collection`] is here (a unit test checks it).
pub(super) const PINNED: [Pinned; 8] = [
    Pinned { pin: PIN_SOCKOPS, kind: Kind::Prog(progs::sockops::NAME) },
    Pinned { pin: PIN_SKMSG, kind: Kind::Prog(progs::skmsg::NAME) },
    map(progs::MAP_SOCKHASH),
    map(progs::MAP_SOCK_INFO),
    map(progs::MAP_SK_STATE),
    map(progs::MAP_COUNTERS),
    map(progs::MAP_CONFIG),
    map(progs::MAP_PORTS),
];

/// The objects of a loaded bypass: maps by spec name, programs by name.
#[derive(Default)]
pub(super) struct Objects {
    maps: Vec<(&'static str, Map)>,
    progs: Vec<(&'static str, OwnedFd)>,
    /// "processed N insns" of the programs this call loaded, by name.
    stats: Vec<(&'static str, u64)>,
}

impl Objects {
    fn missing(name: &str) -> DeployError {
        DeployError::Invalid(format!("{name} is missing from the loaded objects (a bug in sockasm)"))
    }

    pub fn map(&self, name: &str) -> Result<&Map> {
        self.maps.iter().find(|(n, _)| *n == name).map(|(_, m)| m).ok_or_else(|| Self::missing(name))
    }

    pub fn prog(&self, name: &str) -> Result<BorrowedFd<'_>> {
        self.progs.iter().find(|(n, _)| *n == name).map(|(_, p)| p.as_fd()).ok_or_else(|| Self::missing(name))
    }

    /// The programs, in [`PINNED`] order, with the verifier's instruction
    /// count when this call loaded them.
    pub fn programs(&self) -> impl Iterator<Item = (BorrowedFd<'_>, Option<u64>)> {
        self.progs.iter().map(|(n, fd)| (fd.as_fd(), self.stats.iter().find(|(s, _)| s == n).map(|(_, v)| *v)))
    }

    fn fd(&self, p: &Pinned) -> Result<BorrowedFd<'_>> {
        match p.kind {
            Kind::Map => self.map(p.pin).map(AsFd::as_fd),
            Kind::Prog(name) => self.prog(name),
        }
    }

    /// Takes every object of [`PINNED`] from a freshly loaded collection.
    pub fn from_collection(mut c: Collection) -> Result<Objects> {
        let mut objs = Objects::default();
        for p in PINNED {
            match p.kind {
                Kind::Map => objs.maps.push((p.pin, c.maps.take(p.pin).ok_or_else(|| Self::missing(p.pin))?)),
                Kind::Prog(name) => {
                    let prog = c.programs.take(name).ok_or_else(|| Self::missing(name))?;
                    if let Some(s) = &prog.verifier_stats {
                        objs.stats.push((name, s.processed_insns));
                    }
                    objs.progs.push((name, prog.fd));
                }
            }
        }
        Ok(objs)
    }

    /// Opens every pin of [`PINNED`] in `dir`.
    pub fn open(dir: &Path) -> Result<Objects> {
        let mut objs = Objects::default();
        for p in PINNED {
            let path = dir.join(p.pin);
            match p.kind {
                Kind::Map => objs.maps.push((
                    p.pin,
                    Map::from_pinned(&path)
                        .map_err(DeployError::step(format!("opening pinned map {}", path.display())))?,
                )),
                Kind::Prog(name) => objs.progs.push((
                    name,
                    syscall::get_pinned(&path).map_err(DeployError::step(format!("opening pin {}", path.display())))?,
                )),
            }
        }
        Ok(objs)
    }

    /// Pins every object in `dir`, recording each pin in `undo`.
    pub fn pin_all(&self, dir: &Path, undo: &mut Undo) -> Result<()> {
        for p in &PINNED {
            let path = dir.join(p.pin);
            syscall::pin(self.fd(p)?, &path).map_err(DeployError::step(format!("pinning {}", path.display())))?;
            undo.unpin(path);
        }
        Ok(())
    }
}

/// The pins that exist in `dir`. A directory sockasm may not read is an
/// error, not "not loaded".
pub(super) fn pins_present(dir: &Path, command: &'static str) -> Result<Vec<&'static str>> {
    let mut present = Vec::new();
    for name in PINNED.map(|p| p.pin) {
        let p = dir.join(name);
        match std::fs::symlink_metadata(&p) {
            Ok(_) => present.push(name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(DeployError::NoPermission { command, path: p, uid: nix::unistd::geteuid().as_raw() });
            }
            Err(e) => return Err(DeployError::Invalid(format!("cannot stat {}: {e}", p.display()))),
        }
    }
    Ok(present)
}

/// An absolute pin directory whose parent exists on bpffs (relative paths
/// are taken from the current directory).
pub(super) fn pin_dir_path(pin_dir: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(pin_dir)
        .map_err(|e| DeployError::Invalid(format!("--pin-dir {}: {e}", pin_dir.display())))?;
    if abs.parent().is_none() {
        return Err(DeployError::Invalid(format!(
            "--pin-dir {} is not a directory sockasm can use; use one under {}",
            abs.display(),
            cgroup::BPFFS_DEFAULT
        )));
    }
    Ok(abs)
}

/// Refuses a pin directory another user could change.
pub(super) fn check_pin_dir_owner(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let md = match std::fs::symlink_metadata(dir) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(DeployError::Invalid(format!("cannot stat pin directory {}: {e}", dir.display()))),
    };
    let why = if !md.is_dir() {
        Some("it is not a directory (a symlink or a file)".to_string())
    } else if md.uid() != nix::unistd::geteuid().as_raw() {
        Some(format!("it is owned by uid {}, not by the user running sockasm", md.uid()))
    } else if md.mode() & 0o022 != 0 {
        Some(format!("group or others can write to it (mode {:o})", md.mode() & 0o7777))
    } else {
        None
    };
    match why {
        Some(why) => Err(DeployError::UnsafePinDir { dir: dir.to_path_buf(), why }),
        None => Ok(()),
    }
}

/// Makes sure the pin directory's parent is on bpffs (mounting bpffs at
/// /sys/fs/bpf if that is where it should be).
pub(super) fn ensure_pin_fs(pin_dir: &Path) -> Result<bool> {
    let parent = pin_dir.parent().unwrap_or(Path::new("/"));
    if parent == Path::new(cgroup::BPFFS_DEFAULT) {
        return Ok(cgroup::ensure_bpffs(parent)?);
    }
    if !parent.is_dir() {
        return Err(DeployError::Invalid(format!(
            "the parent directory {} of the pin directory does not exist; create it on bpffs (mkdir -p {}) \
             or use a directory directly under {}",
            parent.display(),
            parent.display(),
            cgroup::BPFFS_DEFAULT
        )));
    }
    if !cgroup::is_bpffs(parent) {
        return Err(DeployError::Invalid(format!(
            "the pin directory must be inside a bpffs mount, and {} is not on bpffs; use a directory under {}",
            parent.display(),
            cgroup::BPFFS_DEFAULT
        )));
    }
    Ok(false)
}

pub(super) fn remove_dir_if_empty(dir: &Path) {
    // Fails harmlessly if the directory is missing or holds other files.
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table names every object of the spec once, and nothing else.
    #[test]
    fn pinned_table_matches_the_spec() {
        let spec = progs::collection(&progs::Policy::PeerBlind { reason: "test".into() }, 1).unwrap();
        assert_eq!(PINNED.len(), spec.maps.len() + spec.programs.len());
        for (name, _) in &spec.maps {
            assert_eq!(PINNED.iter().filter(|p| p.kind == Kind::Map && p.pin == name).count(), 1, "{name}");
        }
        for p in &spec.programs {
            let n = PINNED.iter().filter(|x| matches!(x.kind, Kind::Prog(n) if n == p.name)).count();
            assert_eq!(n, 1, "{}", p.name);
        }
        let mut pins: Vec<&str> = PINNED.iter().map(|p| p.pin).collect();
        pins.sort_unstable();
        pins.dedup();
        assert_eq!(pins.len(), PINNED.len(), "two objects share a pin");
    }
}
