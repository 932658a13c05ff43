//! A scratch cgroup with its own pin directory and the bypass loaded, for
//! one `sockasm bench` or `sockasm exec` run: on drop, whatever is left in
//! the cgroup is killed, the bypass unloaded, and both directories removed.
//! What a run killed with SIGKILL leaves is found by its name
//! ([`PREFIXES`], see `stale`).

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::load::{LoadOptions, LoadReport, load};
use super::status::status;
use super::unload::{UnloadOutcome, unload};
use super::{DeployError, Result};
use crate::cgroup::{self, TempCgroup, TempPinDir};
use crate::progs::counters::Totals;

/// Name prefix of `sockasm bench`'s cgroup, pin directory and socket files.
pub const BENCH_PREFIX: &str = "sockasm-bench";
/// Name prefix of `sockasm exec`'s cgroup and pin directory.
pub const EXEC_PREFIX: &str = "sockasm-exec";
/// Every prefix a scratch run names its leftovers with.
pub const PREFIXES: [&str; 2] = [BENCH_PREFIX, EXEC_PREFIX];

/// How long cleanup waits for the cgroup to empty and the SOCKHASH to drain.
pub const CLEANUP_WAIT: Duration = Duration::from_secs(5);

/// The scratch cgroup and pin directory of one run.
pub struct Scratch {
    loaded: bool,
    // Dropped in this order after `drop` ran: the cgroup, then the pins.
    cg: TempCgroup,
    pin: TempPinDir,
}

impl Scratch {
    /// A new cgroup under the cgroup2 root and a pin directory under
    /// /sys/fs/bpf, both named `PREFIX-<pid>-…` (one name for both, so a
    /// leftover cgroup and its pins match by eye). Nothing is loaded yet.
    pub fn create(prefix: &str) -> Result<Scratch> {
        let name = cgroup::unique_name(prefix);
        let cg = TempCgroup::create_named(&name)?;
        let pin = TempPinDir::create_named_in(cgroup::BPFFS_DEFAULT, &name)?;
        Ok(Scratch { loaded: false, cg, pin })
    }

    pub fn cgroup(&self) -> &Path {
        self.cg.path()
    }

    pub fn pin_dir(&self) -> &Path {
        self.pin.path()
    }

    /// Loads the bypass into this cgroup and pin directory (`opts`' own
    /// cgroup and pin directory are replaced by them).
    pub fn load(&mut self, opts: LoadOptions) -> Result<LoadReport> {
        let opts =
            LoadOptions { cgroup: Some(self.cgroup().to_path_buf()), pin_dir: self.pin_dir().to_path_buf(), ..opts };
        let report = load(&opts)?;
        self.loaded = true;
        Ok(report)
    }

    /// The bypass's counters, summed over CPUs.
    pub fn counters(&self) -> Result<Totals> {
        Ok(status(self.pin_dir())?.counters)
    }

    /// Kills what is left in the cgroup and waits (bounded) until it is empty.
    /// Returns the PIDs that were there.
    pub fn kill_all(&self) -> Vec<u32> {
        let pids = self.cg.pids().unwrap_or_default();
        if pids.is_empty() {
            return pids;
        }
        // cgroup.kill (Linux 5.14) also gets processes forked meanwhile.
        if std::fs::write(self.cg.path().join("cgroup.kill"), "1").is_err() {
            for p in &pids {
                let _ = kill(Pid::from_raw(*p as i32), Signal::SIGKILL);
            }
        }
        let end = Instant::now() + CLEANUP_WAIT;
        while !self.cg.pids().unwrap_or_default().is_empty() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        pids
    }

    /// Unloads the bypass, waiting at most [`CLEANUP_WAIT`] for sockets to
    /// leave the SOCKHASH (they do as their owners close them). Returns how
    /// long it took.
    pub fn unload(&mut self) -> Result<Duration> {
        let start = Instant::now();
        let end = start + CLEANUP_WAIT;
        loop {
            let r = unload(Some(self.cgroup()), self.pin_dir())?;
            match r.outcome {
                UnloadOutcome::Draining { .. } if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                UnloadOutcome::Removed | UnloadOutcome::NotLoaded => {
                    self.loaded = false;
                    return Ok(start.elapsed());
                }
                UnloadOutcome::Draining { connections } => {
                    return Err(DeployError::Invalid(format!(
                        "{connections} socket(s) still in the SOCKHASH pinned at {} after {}s; \
                         a process outside the cgroup holds them",
                        self.pin_dir().display(),
                        CLEANUP_WAIT.as_secs()
                    )));
                }
                UnloadOutcome::StillAttached(left) => {
                    return Err(DeployError::Invalid(format!(
                        "the pins in {} are still attached to {left:?}",
                        self.pin_dir().display()
                    )));
                }
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.kill_all();
        if self.loaded
            && let Err(e) = self.unload()
        {
            eprintln!("sockasm: warning: unload during cleanup: {e}");
        }
    }
}
