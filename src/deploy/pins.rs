//! The bypass's objects as `load`, `unload`, `status` and `agent` find them:
//! the declaration ([`declared`]: the maps and programs of
//! [`progs::collection`] with their pinning, and [`progs::ATTACHMENTS`]),
//! taken from a fresh load or opened from their pins, and the pin
//! directory that holds them.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::load::Undo;
use super::{DeployError, Result};
use crate::cgroup;
use crate::loader::Collection;
use crate::progs::{self, Policy};
use crate::spec::{CollectionSpec, Object};
use crate::syscall::{self, Map};

/// The bypass's declaration: names, pinning and attach types, which do not
/// depend on the kernel (the programs are assembled peer-blind, and their
/// code is not used).
pub(super) fn declared() -> Result<CollectionSpec> {
    Ok(progs::collection(&Policy::without_perfmon(), 1)?)
}

/// One pinned object of the declaration: its pin's file name, and the map
/// or program it holds (by name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pin {
    pub file: String,
    pub object: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Map(String),
    Program(String),
}

/// Every pin of a loaded bypass, in the order messages list them and
/// `unload` removes them: the programs, then the maps.
pub(super) fn pins() -> Result<Vec<Pin>> {
    Ok(declared()?
        .pinned()
        .into_iter()
        .map(|p| Pin {
            file: p.file.to_string(),
            object: match p.object {
                Object::Map(n) => Kind::Map(n.to_string()),
                Object::Program(n) => Kind::Program(n.to_string()),
            },
        })
        .collect())
}

/// The pin of the program or map named `name`.
pub(super) fn pin_of<'a>(pins: &'a [Pin], name: &str) -> Result<&'a Pin> {
    pins.iter()
        .find(|p| matches!(&p.object, Kind::Map(n) | Kind::Program(n) if n == name))
        .ok_or_else(|| Objects::missing(name))
}

/// The objects of a loaded bypass: maps and programs by name.
#[derive(Default)]
pub(super) struct Objects {
    maps: Vec<(String, Map)>,
    progs: Vec<(String, OwnedFd)>,
    /// "processed N insns" of the programs this call loaded, by name.
    stats: Vec<(String, u64)>,
}

impl Objects {
    fn missing(name: &str) -> DeployError {
        DeployError::Invalid(format!("{name} is missing from the loaded objects (a bug in sockasm)"))
    }

    pub fn map(&self, name: &str) -> Result<&Map> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, m)| m).ok_or_else(|| Self::missing(name))
    }

    pub fn prog(&self, name: &str) -> Result<BorrowedFd<'_>> {
        self.progs.iter().find(|(n, _)| n == name).map(|(_, p)| p.as_fd()).ok_or_else(|| Self::missing(name))
    }

    /// The programs, in declaration order, with the verifier's instruction
    /// count when this call loaded them.
    pub fn programs(&self) -> impl Iterator<Item = (BorrowedFd<'_>, Option<u64>)> {
        self.progs.iter().map(|(n, fd)| (fd.as_fd(), self.stats.iter().find(|(s, _)| s == n).map(|(_, v)| *v)))
    }

    fn fd(&self, object: &Kind) -> Result<BorrowedFd<'_>> {
        match object {
            Kind::Map(name) => self.map(name).map(AsFd::as_fd),
            Kind::Program(name) => self.prog(name),
        }
    }

    /// Takes every map and program of `spec` from a freshly loaded collection.
    pub fn from_collection(mut c: Collection, spec: &CollectionSpec) -> Result<Objects> {
        let mut objs = Objects::default();
        for p in &spec.programs {
            let prog = c.programs.take(&p.name).ok_or_else(|| Self::missing(&p.name))?;
            if let Some(s) = &prog.verifier_stats {
                objs.stats.push((p.name.clone(), s.processed_insns));
            }
            objs.progs.push((p.name.clone(), prog.fd));
        }
        for (name, _) in &spec.maps {
            objs.maps.push((name.clone(), c.maps.take(name).ok_or_else(|| Self::missing(name))?));
        }
        Ok(objs)
    }

    /// Opens every pin of `pins` in `dir`.
    pub fn open(dir: &Path, pins: &[Pin]) -> Result<Objects> {
        let mut objs = Objects::default();
        for p in pins {
            let path = dir.join(&p.file);
            match &p.object {
                Kind::Map(name) => objs.maps.push((
                    name.clone(),
                    Map::from_pinned(&path)
                        .map_err(DeployError::step(format!("opening pinned map {}", path.display())))?,
                )),
                Kind::Program(name) => objs.progs.push((
                    name.clone(),
                    syscall::get_pinned(&path).map_err(DeployError::step(format!("opening pin {}", path.display())))?,
                )),
            }
        }
        Ok(objs)
    }

    /// Pins every object of `pins` in `dir`, recording each pin in `undo`.
    pub fn pin_all(&self, dir: &Path, pins: &[Pin], undo: &mut Undo) -> Result<()> {
        for p in pins {
            let path = dir.join(&p.file);
            syscall::pin(self.fd(&p.object)?, &path)
                .map_err(DeployError::step(format!("pinning {}", path.display())))?;
            undo.unpin(path);
        }
        Ok(())
    }
}

/// The pins that exist in `dir`. A directory sockasm may not read is an
/// error, not "not loaded".
pub(super) fn pins_present(dir: &Path, pins: &[Pin], command: &'static str) -> Result<Vec<String>> {
    let mut present = Vec::new();
    for pin in pins {
        let p = dir.join(&pin.file);
        match std::fs::symlink_metadata(&p) {
            Ok(_) => present.push(pin.file.clone()),
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
