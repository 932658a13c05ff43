//! What a `sockasm bench` or `sockasm exec` killed with SIGKILL left behind,
//! and `sockasm unload --stale`, which removes it.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::link::detach_from_cgroup;
use super::lock::lock;
use super::orphans::cgroup_progs;
use super::privileges::check_privileges;
use super::scratch::PREFIXES;
use super::unload::{UnloadOutcome, unload_locked};
use super::{DeployError, Result};
use crate::cgroup::{self, Cgroup};
use crate::syscall;

/// What a `sockasm bench` or `sockasm exec` killed with SIGKILL leaves
/// behind: its cgroup (with sock_ops attached), its pin directory, and for
/// bench its AF_UNIX socket files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stale {
    pub path: PathBuf,
    /// The bench or exec process named in the path; it no longer exists.
    pub pid: u32,
}

/// `sockasm-bench-<pid>-…` and `sockasm-exec-<pid>-…` leftovers whose
/// process is gone. Leftovers of a running bench or exec are not listed.
pub fn stale_leftovers() -> Result<Vec<Stale>> {
    let prefixes = PREFIXES.map(|p| format!("{p}-"));
    let mut out = Vec::new();
    for dir in [cgroup::cgroup2_mount()?, PathBuf::from(cgroup::BPFFS_DEFAULT), PathBuf::from("/tmp")] {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| prefixes.iter().find_map(|p| n.strip_prefix(p.as_str())))
                .and_then(|r| r.split('-').next()?.parse().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                out.push(Stale { path: e.path(), pid });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// What [`remove_stale`] did with one leftover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaleOutcome {
    Removed,
    /// A pin directory whose SOCKHASH still holds sockets after waiting.
    Draining {
        connections: usize,
    },
}

/// How long [`remove_stale`] waits for a stale cgroup's processes to end and
/// for a stale SOCKHASH to drain.
const STALE_WAIT: Duration = Duration::from_secs(5);

/// Removes every leftover [`stale_leftovers`] lists: first the cgroups (their
/// remaining processes, only ever the dead run's endpoints, are killed; only
/// sockasm's programs are detached), then the pin directories, then socket files.
pub fn remove_stale() -> Result<Vec<(Stale, StaleOutcome)>> {
    check_privileges("unload")?;
    let _lock = lock()?;
    let stale = stale_leftovers()?;
    let mount = cgroup::cgroup2_mount()?;
    let mut done = Vec::new();
    let (cgroups, rest): (Vec<Stale>, Vec<Stale>) = stale.into_iter().partition(|s| s.path.starts_with(&mount));
    for s in cgroups {
        remove_stale_cgroup(&s.path)?;
        done.push((s, StaleOutcome::Removed));
    }
    for s in rest {
        if s.path.starts_with(cgroup::BPFFS_DEFAULT) {
            let end = Instant::now() + STALE_WAIT;
            let outcome = loop {
                let r = unload_locked(None, PathBuf::new(), &s.path)?;
                match r.outcome {
                    UnloadOutcome::Draining { connections } if Instant::now() >= end => {
                        break StaleOutcome::Draining { connections };
                    }
                    UnloadOutcome::Draining { .. } => std::thread::sleep(Duration::from_millis(20)),
                    UnloadOutcome::StillAttached(left) => {
                        let left: Vec<String> = left.iter().map(|c| c.display().to_string()).collect();
                        return Err(DeployError::Invalid(format!(
                            "the stale pin directory {} is still attached to {}; run `sockasm unload --cgroup CG --pin-dir {}` for each",
                            s.path.display(),
                            left.join(", "),
                            s.path.display()
                        )));
                    }
                    UnloadOutcome::Removed | UnloadOutcome::NotLoaded => break StaleOutcome::Removed,
                }
            };
            if outcome == StaleOutcome::Removed {
                // Pins of another layout (an older sockasm) stay; say so.
                std::fs::remove_dir(&s.path)
                    .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
                    .map_err(|e| {
                        DeployError::Invalid(format!("cannot remove stale pin directory {}: {e}", s.path.display()))
                    })?;
            }
            done.push((s, outcome));
        } else {
            std::fs::remove_file(&s.path).map_err(|e| {
                DeployError::Invalid(format!("cannot remove stale socket file {}: {e}", s.path.display()))
            })?;
            done.push((s, StaleOutcome::Removed));
        }
    }
    Ok(done)
}

fn remove_stale_cgroup(path: &Path) -> Result<()> {
    let label = path.display().to_string();
    // Everything in it belongs to the dead run (an endpoint or a command it
    // started); kill it, again whenever something joined since.
    let populated = || {
        std::fs::read_to_string(path.join("cgroup.events"))
            .map(|s| s.lines().any(|l| l == "populated 1"))
            .unwrap_or(false)
    };
    let kill = || {
        if populated() {
            let _ = std::fs::write(path.join("cgroup.kill"), "1");
        }
    };
    kill();
    let cg = Cgroup::open(path)?;
    for cp in cgroup_progs()? {
        let attached = syscall::query_cgroup(cg.fd(), cp.attach_type)
            .map_err(DeployError::step(format!("querying cgroup {label}")))?;
        for id in attached {
            let Ok(fd) = syscall::prog_fd_by_id(id) else { continue };
            if syscall::prog_info(fd.as_fd()).is_ok_and(|i| i.name == cp.name) {
                detach_from_cgroup(fd.as_fd(), &cg, cp.attach_type).map_err(|source| DeployError::Step {
                    step: format!("detaching {} from stale cgroup {label}", cp.name),
                    source,
                })?;
            }
        }
    }
    drop(cg);
    let end = Instant::now() + STALE_WAIT;
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() >= end => {
                return Err(DeployError::Invalid(format!(
                    "cannot remove stale cgroup {label} ({e}); `cat {label}/cgroup.procs` lists what still runs in it"
                )));
            }
            Err(_) => {
                kill();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
