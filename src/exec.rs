//! `sockasm exec`: one command with the bypass, in a cgroup of its own.
//!
//! A run owns a fresh child cgroup directly under the cgroup2 mount
//! (`sockasm-exec-<pid>-<n>-<nanos>`, never the root itself) and a pin directory
//! of the same name (`/sys/fs/bpf/sockasm-exec-<pid>-<n>-<nanos>`), loads the bypass there
//! ([`deploy::load`]) and starts CMD through a helper, `sockasm exec-child`,
//! which moves itself into the cgroup and then execs CMD: CMD and everything
//! it starts are in the cgroup from their first instruction.
//!
//! When CMD has exited, whatever it left running in the cgroup is killed
//! (`cgroup.kill`), the counters are read, the bypass unloaded and both
//! directories removed, on every path ([`Scratch`]'s `Drop`): a step failing
//! half-way, Ctrl-C before CMD started, CMD crashing. If exec itself is
//! SIGKILLed, CMD is killed with it (`PR_SET_PDEATHSIG`) and
//! `sockasm unload --stale` removes the directories.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use crate::cgroup::CgroupError;
use crate::deploy::{self, DeployError, LoadOptions, Scratch, scratch};
use crate::progs::counters::Totals;

/// Prefix of the cgroup and pin directory names.
pub const NAME_PREFIX: &str = scratch::EXEC_PREFIX;
/// Signals exec passes on to CMD.
pub const FORWARDED: [Signal; 4] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT];

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("{0} arrived before the command started; the bypass was unloaded and nothing is left behind")]
    Interrupted(Signal),
    #[error("cannot set up signal forwarding ({step})")]
    Signals { step: &'static str, source: nix::errno::Errno },
    #[error("cannot start {}", exe.display())]
    Spawn { exe: PathBuf, source: std::io::Error },
    #[error("waiting for the command (pid {pid})")]
    Wait { pid: u32, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the command {exit}, but cleaning up failed; `sockasm status` lists what is left and \
         `sockasm unload --stale` removes it"
    )]
    Cleanup { exit: Exit, source: Box<ExecError> },
}

/// How CMD ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal { signal: i32, core_dumped: bool },
}

impl Exit {
    /// The status exec exits with: CMD's own, or 128 + the signal that killed it.
    pub fn status(self) -> u8 {
        match self {
            Exit::Code(c) => (c & 0xff) as u8,
            Exit::Signal { signal, .. } => (128 + signal).clamp(0, 255) as u8,
        }
    }

    /// `SIGSEGV`, or the number when it has no name.
    pub fn signal_name(self) -> Option<String> {
        match self {
            Exit::Code(_) => None,
            Exit::Signal { signal, .. } => {
                Some(Signal::try_from(signal).map(|s| s.as_str().to_string()).unwrap_or_else(|_| signal.to_string()))
            }
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with status {c}"),
            Exit::Signal { core_dumped, .. } => write!(
                f,
                "was killed by {}{}",
                self.signal_name().unwrap_or_default(),
                if *core_dumped { " (core dumped)" } else { "" }
            ),
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// CMD and its arguments.
    pub command: Vec<OsString>,
    pub max_entries: Option<u32>,
    pub max_queue: Option<u32>,
    /// The executable with the hidden `exec-child` subcommand.
    pub exe: PathBuf,
}

/// What happened.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub exit: Exit,
    /// Counters when CMD and its leftovers had ended.
    pub counters: Totals,
    /// Processes still in the cgroup after CMD exited, killed then.
    pub killed: Vec<u32>,
    pub cgroup: PathBuf,
    pub pin_dir: PathBuf,
    pub elapsed: Duration,
}

/// Passes SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to exec on to CMD, by its
/// PID while it is unreaped (so a recycled PID is never hit). A signal from
/// the terminal (Ctrl-C, hangup) is not passed on: the terminal sends it to
/// the whole foreground process group, CMD included. Before CMD starts, any
/// of them stops the run; after CMD has exited they are ignored, so cleanup
/// always finishes (it is bounded).
#[derive(Debug, Default)]
pub struct Signals {
    state: Mutex<SigState>,
}

#[derive(Debug, Default)]
struct SigState {
    child: Option<Pid>,
    pending: Option<Signal>,
    done: bool,
}

impl Signals {
    /// Blocks the forwarded signals and reads them on a thread of its own.
    /// Call it before any other thread exists, so that every thread inherits
    /// the mask (children get an empty mask from `Command`).
    pub fn install() -> Result<Arc<Signals>, ExecError> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(s);
        }
        set.thread_block().map_err(|source| ExecError::Signals { step: "blocking them", source })?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)
            .map_err(|source| ExecError::Signals { step: "signalfd", source })?;
        let sig = Arc::new(Signals::default());
        let s = sig.clone();
        std::thread::spawn(move || {
            while let Ok(Some(info)) = fd.read_signal() {
                let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else { continue };
                s.deliver(signal, info.ssi_code == libc::SI_KERNEL);
            }
        });
        Ok(sig)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SigState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deliver(&self, signal: Signal, from_terminal: bool) {
        let mut st = self.lock();
        if st.done {
            return;
        }
        match st.child {
            Some(pid) if !from_terminal => {
                let _ = kill(pid, signal);
            }
            Some(_) => {}
            None => st.pending = Some(signal),
        }
    }

    fn check(&self) -> Result<(), ExecError> {
        match self.lock().pending {
            Some(s) => Err(ExecError::Interrupted(s)),
            None => Ok(()),
        }
    }
}

/// Runs CMD with the bypass and cleans up. Whatever happens, the cgroup and
/// pin directory are gone when this returns (or the error says what is left).
pub fn run(opts: &Options, sig: &Signals) -> Result<Outcome, ExecError> {
    let started = Instant::now();
    if opts.command.is_empty() {
        return Err(ExecError::Invalid("no command given: sockasm exec [OPTIONS] -- CMD [ARGS...]".into()));
    }
    deploy::check_privileges("exec")?;
    sig.check()?;
    let mut sb = Scratch::create(NAME_PREFIX)?;
    let (cg_path, pin_path) = (sb.cgroup().to_path_buf(), sb.pin_dir().to_path_buf());
    sig.check()?;
    sb.load(LoadOptions {
        max_entries: opts.max_entries,
        max_queue: opts.max_queue,
        adopt: false,
        ..LoadOptions::default()
    })?;
    let mut child = spawn(opts, &cg_path, sig)?;
    let exit = wait(&mut child, sig)?;
    // From here on the command's status must reach the user, whatever fails.
    let cleanup = |e: ExecError| ExecError::Cleanup { exit, source: Box::new(e) };
    let killed = sb.kill_all();
    let counters = sb.counters().map_err(|e| cleanup(e.into()))?;
    sb.unload().map_err(|e| cleanup(e.into()))?;
    drop(sb);
    let left: Vec<String> =
        [&cg_path, &pin_path].iter().filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
    if !left.is_empty() {
        return Err(cleanup(ExecError::Invalid(format!("could not remove {}", left.join(" and ")))));
    }
    Ok(Outcome { exit, counters, killed, cgroup: cg_path, pin_dir: pin_path, elapsed: started.elapsed() })
}

fn spawn(opts: &Options, cg: &Path, sig: &Signals) -> Result<Child, ExecError> {
    let mut cmd = Command::new(&opts.exe);
    cmd.arg("exec-child")
        .arg("--cgroup")
        .arg(cg)
        .arg("--parent")
        .arg(std::process::id().to_string())
        .arg("--")
        .args(&opts.command);
    // Held across the spawn: a signal either stops the run before it or
    // finds the PID after it.
    let mut st = sig.lock();
    if let Some(s) = st.pending {
        return Err(ExecError::Interrupted(s));
    }
    let child = cmd.spawn().map_err(|source| ExecError::Spawn { exe: opts.exe.clone(), source })?;
    st.child = Some(Pid::from_raw(child.id() as i32));
    Ok(child)
}

fn wait(child: &mut Child, sig: &Signals) -> Result<Exit, ExecError> {
    let pid = child.id();
    let err = |source| ExecError::Wait { pid, source };
    // Wait without reaping, forget the PID, then reap: the signal thread
    // never signals a PID that may have been reused.
    loop {
        match waitid(Id::Pid(Pid::from_raw(pid as i32)), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(err(std::io::Error::from_raw_os_error(e as i32))),
        }
    }
    {
        let mut st = sig.lock();
        st.child = None;
        st.done = true;
    }
    let status = child.wait().map_err(err)?;
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal { signal: s, core_dumped: status.core_dumped() },
        (None, None) => Exit::Code(255),
    })
}

/// Makes this process die with `parent` (SIGKILL when it ends); fails if
/// `parent` has ended already, so nobody would stop or clean up after us.
pub fn die_with_parent(parent: u32) -> std::result::Result<(), String> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("cannot set the parent-death signal: {e}"))?;
    // The parent may have died before the line above.
    if nix::unistd::getppid().as_raw() as u32 != parent {
        return Err(format!("process {parent} that started this one has ended"));
    }
    Ok(())
}

/// What `exec-child` does: dies with exec, joins the cgroup, becomes CMD.
/// Returns only on failure, with the status to exit with (125: joining
/// failed, 126: CMD cannot run, 127: CMD not found, as `env` does).
pub fn child(cgroup: &Path, parent: u32, command: &[OsString]) -> (u8, String) {
    if let Err(why) = die_with_parent(parent) {
        return (125, why);
    }
    let procs = cgroup.join("cgroup.procs");
    if let Err(e) = std::fs::write(&procs, std::process::id().to_string()) {
        return (125, format!("cannot join cgroup {} (writing {}): {e}", cgroup.display(), procs.display()));
    }
    let Some((prog, args)) = command.split_first() else {
        return (125, "no command given".into());
    };
    let e = Command::new(prog).args(args).exec();
    let code = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
    (code, format!("cannot run {}: {e}", prog.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_as_a_shell_reports_it() {
        assert_eq!(Exit::Code(3).status(), 3);
        assert_eq!(Exit::Signal { signal: 11, core_dumped: true }.status(), 139);
        assert_eq!(Exit::Signal { signal: 2, core_dumped: false }.to_string(), "was killed by SIGINT");
        assert_eq!(Exit::Signal { signal: 11, core_dumped: true }.to_string(), "was killed by SIGSEGV (core dumped)");
        assert_eq!(Exit::Code(0).to_string(), "exited with status 0");
    }

    #[test]
    fn signals_before_the_command_stop_the_run_and_after_it_are_ignored() {
        let s = Signals::default();
        s.check().unwrap();
        s.deliver(Signal::SIGTERM, false);
        assert!(matches!(s.check(), Err(ExecError::Interrupted(Signal::SIGTERM))));
        let s = Signals::default();
        s.lock().done = true;
        s.deliver(Signal::SIGINT, true);
        s.check().unwrap();
    }
}
