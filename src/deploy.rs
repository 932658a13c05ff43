//! The bypass's life cycle: `load` (create maps, load, attach, pin), `unload`
//! and `status`. Data flows one way: this module → progs (DSL) → syscall.
//!
//! Pins in the pin directory (mode 0600):
//! `sock_hash`, `sock_info`, `sk_state`, `counters`, `config` (maps), `sockops`, `skmsg` (programs).
//! Which cgroups the bypass is attached to is not stored anywhere: it is read
//! back from the kernel (PROG_QUERY on each cgroup), so it cannot go stale.
//! `load` and `unload` hold [`LOCK_PATH`] while they change anything; `status`
//! and `unload` also find sockasm programs no pin refers to any more by
//! walking the kernel's program ids ([`orphans`]).

use crate::asm::AsmError;
use crate::cgroup::{self, Cgroup, CgroupError};
use crate::json::Json;
use crate::progs::{self, Builtin, KernelOffsets, Policy, config, counters};
use crate::syscall::{self, AttachType, LoadError, Map, MapSpec, ProgSpec, SysError};
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/sockasm";
pub const DEFAULT_MAX_ENTRIES: u32 = 65_535;
/// Upper bound of `--max-entries`: the SOCKHASH and sock_info are sized by
/// it (about 32 bytes of kernel memory per entry up front: 32 MiB here);
/// 2^27 made the kernel vmalloc 4 GiB for 14 s.
pub const MAX_MAX_ENTRIES: u32 = 1 << 20;
/// The lock `load`, `unload` and bench cleanups take, host-wide (flock).
pub const LOCK_PATH: &str = "/run/sockasm/lock";
/// How long `load`/`unload` wait for another one to finish.
const LOCK_WAIT: Duration = Duration::from_secs(30);

const PIN_SOCKHASH: &str = "sock_hash";
const PIN_SK_STATE: &str = "sk_state";
const PIN_SOCK_INFO: &str = "sock_info";
const PIN_COUNTERS: &str = "counters";
const PIN_CONFIG: &str = "config";
const PIN_PORTS: &str = "ports";
const PIN_SOCKOPS: &str = "sockops";
const PIN_SKMSG: &str = "skmsg";
const ALL_PINS: [&str; 8] =
    [PIN_SOCKOPS, PIN_SKMSG, PIN_SOCKHASH, PIN_SOCK_INFO, PIN_SK_STATE, PIN_COUNTERS, PIN_CONFIG, PIN_PORTS];

/// Where the running kernel describes its types.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// `config` value flag: the programs were loaded peer-aware.
const CONFIG_PEER_AWARE: u64 = 1;

/// Cgroups visited at most when looking for attachments.
const MAX_CGROUP_WALK: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("{step} failed")]
    Step { step: String, source: SysError },
    #[error(
        "sockasm {command} needs root, or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN \
         (running as uid {uid}); try: sudo sockasm {command}"
    )]
    NotPrivileged { command: &'static str, uid: u32 },
    #[error(
        "the verifier rejected the built-in program {name} (a bug in sockasm, or a kernel without a feature it needs)"
    )]
    Rejected { name: &'static str, source: LoadError },
    #[error("built-in program does not assemble (a bug in sockasm): {0}")]
    Asm(#[from] AsmError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "{} holds only some of sockasm's pins ({present}); remove the directory or run `sockasm unload --pin-dir {}`",
        dir.display(), dir.display()
    )]
    PartialPins { dir: PathBuf, present: String },
    #[error(
        "refusing pin directory {}: {why}; another user could remove or replace sockasm's pins there. \
         Remove it (rm -r {}) and run `sockasm load` again, or choose another --pin-dir",
        dir.display(), dir.display()
    )]
    UnsafePinDir { dir: PathBuf, why: String },
    #[error(
        "refusing lock directory {}: owned by uid {uid} with mode {mode:o}; another user could hold sockasm's lock \
         forever. Remove it (rm -r {}); sockasm creates it again, owned by root with mode 0700",
        dir.display(), dir.display()
    )]
    UnsafeLockDir { dir: PathBuf, uid: u32, mode: u32 },
    #[error("cannot take the lock {}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    #[error(
        "another sockasm load/unload/bench cleanup has held {} for {}s; wait for it to finish, \
         or find it with `fuser {}`", path.display(), waited.as_secs(), path.display()
    )]
    LockTimeout { path: PathBuf, waited: Duration },
    #[error("cannot read {}: permission denied; sockasm {command} needs root (running as uid {uid}); try: sudo sockasm {command}", path.display())]
    NoPermission { command: &'static str, path: PathBuf, uid: u32 },
}

impl DeployError {
    fn step(step: impl Into<String>) -> impl FnOnce(SysError) -> DeployError {
        let step = step.into();
        move |source| DeployError::Step { step, source }
    }
    /// The whole verifier log, when the error is a rejection.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            DeployError::Rejected { source, .. } => Some(source.log()),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, DeployError>;

/// What `load` needs.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The cgroup whose sockets get the bypass; `None` = the cgroup2 root (whole host).
    pub cgroup: Option<PathBuf>,
    pub pin_dir: PathBuf,
    /// SOCKHASH capacity; `None` = [`DEFAULT_MAX_ENTRIES`] for a new load, and
    /// whatever the pinned map has when reusing.
    pub max_entries: Option<u32>,
    /// Keep the verifier log of successful loads (stats and sizes).
    pub verifier_stats: bool,
    /// The most a peer's receive queue may hold before writes go over TCP;
    /// `None` = [`config::DEFAULT_MAX_QUEUE`] for a new load, unchanged when reusing.
    pub max_queue: Option<u32>,
    /// The kernel BTF to read struct offsets from ([`KERNEL_BTF`]).
    pub kernel_btf: PathBuf,
    /// Admit only new connections with one of these local or remote ports
    /// (empty: all); `None` keeps what is set.
    pub ports_only: Option<Vec<u16>>,
    /// Never admit new connections with one of these ports; `None` keeps what is set.
    pub ports_except: Option<Vec<u16>>,
}

/// Which connections the bypass admits, by local or remote port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSelection {
    /// When not empty, only connections with one of these ports.
    pub only: Vec<u16>,
    /// Never connections with one of these ports (wins over `only`).
    pub except: Vec<u16>,
}

impl PortSelection {
    fn describe(&self) -> String {
        let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        match (self.only.is_empty(), self.except.is_empty()) {
            (true, true) => "all ports".into(),
            (false, true) => format!("only ports {}", list(&self.only)),
            (true, false) => format!("all ports except {}", list(&self.except)),
            (false, false) => format!("only ports {}, except {}", list(&self.only), list(&self.except)),
        }
    }
}

impl std::fmt::Display for PortSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            cgroup: None,
            pin_dir: PathBuf::from(DEFAULT_PIN_DIR),
            max_entries: None,
            verifier_stats: false,
            max_queue: None,
            kernel_btf: PathBuf::from(KERNEL_BTF),
            ports_only: None,
            ports_except: None,
        }
    }
}

/// How the programs will decide, on this kernel and with these privileges.
/// Pure reads: no BPF object is created.
pub fn kernel_policy(btf_path: &Path) -> Policy {
    // CapEff bit 38 (CAP_PERFMON) or 21 (CAP_SYS_ADMIN, which implies it).
    let caps = effective_caps();
    if caps & ((1 << 38) | (1 << 21)) == 0 {
        return Policy::PeerBlind {
            reason: "without CAP_PERFMON the verifier refuses to store a socket's address or read kernel memory".into(),
        };
    }
    let blob = match std::fs::read(btf_path) {
        Ok(b) => b,
        Err(e) => {
            return Policy::PeerBlind {
                reason: format!(
                    "cannot read the kernel's BTF at {}: {e} (a kernel built without CONFIG_DEBUG_INFO_BTF?)",
                    btf_path.display()
                ),
            };
        }
    };
    match KernelOffsets::from_btf(&blob) {
        Ok(o) => Policy::PeerAware(o),
        Err(e) => Policy::PeerBlind { reason: format!("{}: {e}", btf_path.display()) },
    }
}

fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_string())))
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0)
}

/// One loaded program, as `load` and `status` report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgStatus {
    pub name: String,
    pub id: u32,
    pub prog_type: String,
    pub xlated_bytes: u32,
    pub jited_bytes: u32,
    /// "processed N insns", when the program was loaded by this call with stats.
    pub verifier_insns: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct LoadReport {
    pub cgroup: PathBuf,
    pub pin_dir: PathBuf,
    /// False when pinned objects from an earlier `load` were reused.
    pub created: bool,
    pub attach: Attach,
    pub mounted_bpffs: bool,
    pub programs: Vec<ProgStatus>,
    /// The decision rule in force (for a reuse: the one loaded earlier).
    pub peer_aware: bool,
    /// Why the programs are peer-blind, when this call loaded them so.
    pub peer_blind_reason: Option<String>,
    pub max_queue: u32,
    /// The port selection in force.
    pub ports: PortSelection,
    /// Stale `sock_info` entries removed (their sockets closed while no
    /// program was attached to see it).
    pub stale_removed: usize,
    /// Wall time of the whole load.
    pub elapsed: Duration,
}

/// What `load` did on the cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attach {
    /// Attached now.
    Attached,
    /// It was attached to this cgroup already.
    Already,
    /// An ancestor cgroup has it attached, so it already runs for this
    /// cgroup's sockets; attaching again would run it twice.
    Inherited(PathBuf),
}

/// Undo log: what a failing `load` must take back, newest first.
#[derive(Default)]
struct Undo {
    actions: Vec<UndoAction>,
}

enum UndoAction {
    Unpin(PathBuf),
    RemoveDir(PathBuf),
    DetachCgroup { prog: OwnedFd, cgroup: OwnedFd },
    DetachMap { prog: OwnedFd, map: OwnedFd },
}

impl Undo {
    fn commit(mut self) {
        self.actions.clear();
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        // Best effort: the original error is what the user needs to see.
        while let Some(a) = self.actions.pop() {
            let _ = match a {
                UndoAction::Unpin(p) => syscall::unpin(&p),
                UndoAction::RemoveDir(p) => {
                    remove_dir_if_empty(&p);
                    Ok(())
                }
                UndoAction::DetachCgroup { prog, cgroup } => {
                    syscall::detach_cgroup(prog.as_fd(), cgroup.as_fd(), AttachType::CGROUP_SOCK_OPS)
                }
                UndoAction::DetachMap { prog, map } => {
                    syscall::detach_map(prog.as_fd(), map.as_fd(), AttachType::SK_MSG_VERDICT)
                }
            };
        }
    }
}

fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned().map_err(|e| DeployError::Invalid(format!("cannot duplicate a file descriptor: {e}")))
}

/// The objects of a loaded bypass.
struct Objects {
    sock_hash: Map,
    sock_info: Map,
    sk_state: Map,
    counters: Map,
    config: Map,
    ports: Map,
    sockops: OwnedFd,
    skmsg: OwnedFd,
    stats: [Option<u64>; 2],
}

fn resolve_cgroup(path: Option<&Path>) -> Result<Cgroup> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => cgroup::cgroup2_mount()?,
    };
    Ok(Cgroup::open(path)?)
}

/// The pins that exist in `dir`. A directory sockasm may not read is an
/// error, not "not loaded".
fn pins_present(dir: &Path, command: &'static str) -> Result<Vec<&'static str>> {
    let mut present = Vec::new();
    for name in ALL_PINS {
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

/// Held while `load`, `unload` or a cleanup changes pins and attachments, so
/// that two of them never interleave (one `load` creating the pins while
/// another reuses half of them, or an `unload` unpinning what a `load` just
/// attached). One lock for the whole host: these steps take milliseconds.
#[derive(Debug)]
pub struct LifecycleLock {
    _file: nix::fcntl::Flock<std::fs::File>,
}

/// Takes [`LOCK_PATH`], waiting at most [`LOCK_WAIT`]. Released on drop,
/// and by the kernel if the process dies.
pub fn lock() -> Result<LifecycleLock> {
    lock_at(Path::new(LOCK_PATH), LOCK_WAIT)
}

fn lock_at(path: &Path, wait: Duration) -> Result<LifecycleLock> {
    use nix::fcntl::{Flock, FlockArg};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    let err = |source| DeployError::Lock { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(err)?;
        // Someone else's directory could hold a lock file we never get.
        let md = std::fs::symlink_metadata(dir).map_err(err)?;
        if md.uid() != nix::unistd::geteuid().as_raw() || md.mode() & 0o022 != 0 || !md.is_dir() {
            return Err(DeployError::UnsafeLockDir { dir: dir.to_path_buf(), uid: md.uid(), mode: md.mode() & 0o7777 });
        }
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(err)?;
    let start = Instant::now();
    let mut file = file;
    // Polled rather than blocking, so that the wait is bounded.
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => return Ok(LifecycleLock { _file: l }),
            Err((f, nix::errno::Errno::EWOULDBLOCK)) if start.elapsed() < wait => {
                file = f;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(DeployError::LockTimeout { path: path.to_path_buf(), waited: start.elapsed() });
            }
            Err((_, e)) => return Err(err(std::io::Error::from_raw_os_error(e as i32))),
        }
    }
}

/// An absolute pin directory whose parent exists on bpffs (relative paths
/// are taken from the current directory).
fn pin_dir_path(pin_dir: &Path) -> Result<PathBuf> {
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
fn check_pin_dir_owner(dir: &Path) -> Result<()> {
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

/// Load the bypass (or reuse the pinned one) and attach it to a cgroup.
/// On any error, everything this call did is undone.
pub fn load(opts: &LoadOptions) -> Result<LoadReport> {
    let start = Instant::now();
    check_privileges("load")?;
    if let Some(n) = opts.max_entries.filter(|n| !(1..=MAX_MAX_ENTRIES).contains(n)) {
        return Err(DeployError::Invalid(format!(
            "--max-entries must be between 1 and {MAX_MAX_ENTRIES} (sockets), not {n}"
        )));
    }
    if let Some(q) = opts.max_queue.filter(|q| !(config::MIN_MAX_QUEUE..=config::MAX_MAX_QUEUE).contains(q)) {
        return Err(DeployError::Invalid(format!(
            "--max-queue {q} is out of range: give {} to {} bytes",
            config::MIN_MAX_QUEUE,
            config::MAX_MAX_QUEUE
        )));
    }
    let opts = &LoadOptions { pin_dir: pin_dir_path(&opts.pin_dir)?, ..opts.clone() };
    let cg = resolve_cgroup(opts.cgroup.as_deref())?;
    let _lock = lock()?;
    let mounted_bpffs = ensure_pin_fs(&opts.pin_dir)?;
    check_pin_dir_owner(&opts.pin_dir)?;
    let mut undo = Undo::default();

    let present = pins_present(&opts.pin_dir, "load")?;
    let created = present.is_empty();
    let mut peer_blind_reason = None;
    let objs = if created {
        let policy = kernel_policy(&opts.kernel_btf);
        if let Policy::PeerBlind { reason } = &policy {
            peer_blind_reason = Some(reason.clone());
        }
        create_objects(opts, &policy, &mut undo)?
    } else if present.len() == ALL_PINS.len() {
        let objs = open_objects(&opts.pin_dir)?;
        let have = objs.sock_hash.spec().max_entries;
        if let Some(want) = opts.max_entries.filter(|w| *w != have) {
            return Err(DeployError::Invalid(format!(
                "sockasm is already loaded at {} with --max-entries {have}; to change it to {want}, \
                 unload it from every cgroup first (`sockasm status` lists them)",
                opts.pin_dir.display()
            )));
        }
        objs
    } else {
        return Err(DeployError::PartialPins { dir: opts.pin_dir.clone(), present: present.join(", ") });
    };
    let mut cfg = read_config(&objs.config)?;
    if created || opts.max_queue.is_some_and(|q| q != cfg.max_queue) {
        if let Some(q) = opts.max_queue {
            cfg.max_queue = q;
        }
        write_config(&objs.config, &cfg)?;
    }
    let mut ports = read_ports(&objs.ports)?;
    if opts.ports_only.is_some() || opts.ports_except.is_some() {
        let mut want = ports.clone();
        if let Some(only) = &opts.ports_only {
            want.only = only.clone();
        }
        if let Some(except) = &opts.ports_except {
            want.except = except.clone();
        }
        write_ports(&objs, &want, &mut cfg)?;
        ports = read_ports(&objs.ports)?;
    }
    let stale_removed = if created { 0 } else { sweep_stale_info(&objs)? };

    let sockops_id = syscall::prog_info(objs.sockops.as_fd()).map_err(DeployError::step("reading sock_ops info"))?.id;
    let attach = attach_state(&cg, sockops_id)?;
    if attach == Attach::Attached {
        // The undo entry's fds first: nothing may fail between attaching and recording it.
        let undo_detach = UndoAction::DetachCgroup { prog: dup(objs.sockops.as_fd())?, cgroup: dup(cg.fd())? };
        syscall::attach_cgroup(objs.sockops.as_fd(), cg.fd(), AttachType::CGROUP_SOCK_OPS, syscall::BPF_F_ALLOW_MULTI)
            .map_err(DeployError::step(format!("attaching sock_ops to cgroup {}", cg.path().display())))?;
        undo.actions.push(undo_detach);
    }
    let programs =
        vec![prog_status(objs.sockops.as_fd(), objs.stats[0])?, prog_status(objs.skmsg.as_fd(), objs.stats[1])?];
    undo.commit();
    Ok(LoadReport {
        cgroup: cg.path().to_path_buf(),
        pin_dir: opts.pin_dir.clone(),
        created,
        attach,
        mounted_bpffs,
        programs,
        peer_aware: cfg.peer_aware,
        peer_blind_reason,
        max_queue: cfg.max_queue,
        ports,
        stale_removed,
        elapsed: start.elapsed(),
    })
}

/// Replaces the `ports` map's contents and the "only listed" flag.
fn write_ports(objs: &Objects, sel: &PortSelection, cfg: &mut Config) -> Result<()> {
    if sel.only.len() + sel.except.len() > progs::MAX_PORTS as usize {
        return Err(DeployError::Invalid(format!(
            "--ports and --exclude-ports name at most {} ports",
            progs::MAX_PORTS
        )));
    }
    if let Some(p) = sel.only.iter().chain(&sel.except).find(|p| **p == 0) {
        return Err(DeployError::Invalid(format!("port {p} is not a port a connection can have")));
    }
    let mut want = std::collections::BTreeMap::<u32, u32>::new();
    for p in &sel.only {
        *want.entry(u32::from(*p)).or_default() |= progs::PORT_INCLUDE as u32;
    }
    for p in &sel.except {
        *want.entry(u32::from(*p)).or_default() |= progs::PORT_EXCLUDE as u32;
    }
    // New and changed entries first, then the flag, then removals: a
    // connection established meanwhile sees either selection, never none.
    for (port, v) in &want {
        objs.ports
            .update(&port.to_ne_bytes(), &v.to_ne_bytes(), syscall::UpdateFlag::Any)
            .map_err(DeployError::step(format!("writing port {port} to the ports map")))?;
    }
    cfg.only_listed = !sel.only.is_empty();
    write_config(&objs.config, cfg)?;
    for key in objs.ports.keys().collect::<Vec<_>>() {
        let key = key.map_err(DeployError::step("listing the ports map"))?;
        let port = u32::from_ne_bytes(key[..4].try_into().unwrap_or([0; 4]));
        if !want.contains_key(&port) {
            objs.ports.delete(&key).map_err(DeployError::step(format!("removing port {port} from the ports map")))?;
        }
    }
    Ok(())
}

fn read_ports(map: &Map) -> Result<PortSelection> {
    let mut sel = PortSelection::default();
    for key in map.keys() {
        let key = key.map_err(DeployError::step("listing the ports map"))?;
        let Some(v) = map.get(&key).map_err(DeployError::step("reading the ports map"))? else { continue };
        let port = u32::from_ne_bytes(key[..4].try_into().unwrap_or([0; 4])) as u16;
        let v = u32::from_ne_bytes(v[..4].try_into().unwrap_or([0; 4]));
        if v & progs::PORT_INCLUDE as u32 != 0 {
            sel.only.push(port);
        }
        if v & progs::PORT_EXCLUDE as u32 != 0 {
            sel.except.push(port);
        }
    }
    sel.only.sort_unstable();
    sel.except.sort_unstable();
    Ok(sel)
}

/// The `config` map's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub max_queue: u32,
    pub peer_aware: bool,
    pub rcvbuf_floor: u32,
    /// Only connections with an INCLUDE port are admitted.
    pub only_listed: bool,
}

/// `tcp_rmem[2]` of the calling process's network namespace (6 MiB by default).
fn tcp_rmem_max() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_rmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(6 << 20)
}

fn read_config(map: &Map) -> Result<Config> {
    let v = map
        .get(&0u32.to_ne_bytes())
        .map_err(DeployError::step("reading the config map"))?
        .ok_or_else(|| DeployError::Invalid("the config map has no entry 0".into()))?;
    let word = |off: usize| v.get(off..off + 8).map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])));
    Ok(Config {
        max_queue: word(config::OFF_MAX_QUEUE as usize).min(u32::MAX as u64) as u32,
        peer_aware: word(config::OFF_FLAGS as usize) & CONFIG_PEER_AWARE != 0,
        rcvbuf_floor: word(config::OFF_RCVBUF_FLOOR as usize).min(u32::MAX as u64) as u32,
        only_listed: word(config::OFF_PORT_FLAGS as usize) & config::PORTS_ONLY_LISTED as u64 != 0,
    })
}

fn write_config(map: &Map, cfg: &Config) -> Result<()> {
    let mut v = [0u8; config::VALUE_SIZE as usize];
    let at = |off: i16| off as usize..off as usize + 8;
    v[at(config::OFF_MAX_QUEUE)].copy_from_slice(&(cfg.max_queue as u64).to_ne_bytes());
    let flags = if cfg.peer_aware { CONFIG_PEER_AWARE } else { 0 };
    v[at(config::OFF_FLAGS)].copy_from_slice(&flags.to_ne_bytes());
    v[at(config::OFF_RCVBUF_FLOOR)].copy_from_slice(&(cfg.rcvbuf_floor as u64).to_ne_bytes());
    let port_flags = if cfg.only_listed { config::PORTS_ONLY_LISTED as u64 } else { 0 };
    v[at(config::OFF_PORT_FLAGS)].copy_from_slice(&port_flags.to_ne_bytes());
    map.update(&0u32.to_ne_bytes(), &v, syscall::UpdateFlag::Any).map_err(DeployError::step("writing the config map"))
}

/// Removes `sock_info` entries whose socket is no longer in the SOCKHASH
/// under that key: their sockets closed while sock_ops was detached (after
/// an `unload` that left connections draining), so no STATE_CB removed them.
/// Returns how many went.
fn sweep_stale_info(objs: &Objects) -> Result<usize> {
    let cookie_at =
        |v: &[u8], off: usize| v.get(off..off + 8).map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])));
    // A SOCKHASH lookup from user space gives the socket's cookie.
    let stale = |key: &[u8]| -> Result<bool> {
        let Some(info) = objs.sock_info.get(key).map_err(DeployError::step("reading a sock_info entry"))? else {
            return Ok(false);
        };
        let live = objs.sock_hash.get(key).ok().flatten().and_then(|v| cookie_at(&v, 0));
        Ok(live.is_none() || live != cookie_at(&info, progs::INFO_OFF_COOKIE as usize))
    };
    let mut candidates = Vec::new();
    for key in objs.sock_info.keys() {
        let key = key.map_err(DeployError::step("listing sock_info entries"))?;
        if stale(&key)? {
            candidates.push(key);
        }
    }
    if candidates.is_empty() {
        return Ok(0);
    }
    // sock_ops writes sock_info just before the SOCKHASH: an entry seen in
    // between is not stale. A second look, a moment later, tells them apart.
    std::thread::sleep(Duration::from_millis(5));
    let mut removed = 0;
    for key in candidates {
        if stale(&key)? && objs.sock_info.delete(&key).map_err(DeployError::step("removing a stale sock_info entry"))? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Fails early, with a clear message, when the kernel would refuse us.
pub fn check_privileges(command: &'static str) -> Result<()> {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return Ok(());
    }
    // CapEff bits: CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21, CAP_BPF 39.
    let caps = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_string())))
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0);
    let need = (1u64 << 12) | (1 << 21) | (1 << 39);
    if caps & need == need {
        return Ok(());
    }
    Err(DeployError::NotPrivileged { command, uid: uid.as_raw() })
}

/// Whether `prog_id` still needs attaching to `cg` (`Attached` means "do it").
fn attach_state(cg: &Cgroup, prog_id: u32) -> Result<Attach> {
    let query = |flags| {
        syscall::query_cgroup_full(cg.fd(), AttachType::CGROUP_SOCK_OPS, flags)
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
            Cgroup::open(p).is_ok_and(|a| {
                syscall::query_cgroup(a.fd(), AttachType::CGROUP_SOCK_OPS).is_ok_and(|ids| ids.contains(&prog_id))
            })
        })
        .map_or_else(|| PathBuf::from("an ancestor cgroup"), Path::to_path_buf);
    Ok(Attach::Inherited(ancestor))
}

/// Makes sure the pin directory's parent is on bpffs (mounting bpffs at
/// /sys/fs/bpf if that is where it should be).
fn ensure_pin_fs(pin_dir: &Path) -> Result<bool> {
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

fn create_objects(opts: &LoadOptions, policy: &Policy, undo: &mut Undo) -> Result<Objects> {
    let dir = &opts.pin_dir;
    let maps = create_maps(opts.max_entries.unwrap_or(DEFAULT_MAX_ENTRIES))?;
    let fd_of = |name: &str| -> Option<i32> {
        use std::os::fd::AsRawFd;
        maps.iter().find(|(n, _)| *n == name).map(|(_, m)| m.as_fd().as_raw_fd())
    };
    let mut built = progs::builtin(policy)?;
    let log_level = if opts.verifier_stats { syscall::BPF_LOG_STATS } else { 0 };
    let mut fds = Vec::new();
    let mut stats = [None, None];
    for (i, b) in built.iter_mut().enumerate() {
        b.asm.bind_maps(fd_of)?;
        let bytes = b.asm.to_bytes().map_err(|e| DeployError::Invalid(format!("encoding {}: {e}", b.name)))?;
        let loaded = ProgSpec::new(b.prog_type, b.name, &bytes)
            .with_expected_attach_type(b.expected_attach_type)
            .with_log_level(log_level)
            .load()
            .map_err(|source| DeployError::Rejected { name: b.name, source })?;
        stats[i] = loaded.verifier_stats.as_ref().map(|s| s.processed_insns);
        fds.push(loaded.fd);
    }
    let skmsg = fds.pop().expect("two programs");
    let sockops = fds.pop().expect("two programs");
    let [(_, sock_hash), (_, sock_info), (_, sk_state), (_, counters), (_, config), (_, ports)] = maps;
    let cfg = Config {
        max_queue: config::DEFAULT_MAX_QUEUE,
        peer_aware: policy.offsets().is_some(),
        rcvbuf_floor: tcp_rmem_max(),
        only_listed: false,
    };
    write_config(&config, &cfg)?;

    let undo_detach = UndoAction::DetachMap { prog: dup(skmsg.as_fd())?, map: dup(sock_hash.as_fd())? };
    syscall::attach_map(skmsg.as_fd(), sock_hash.as_fd(), AttachType::SK_MSG_VERDICT)
        .map_err(DeployError::step("attaching sk_msg to the SOCKHASH"))?;
    undo.actions.push(undo_detach);

    if !dir.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .map_err(|e| DeployError::Invalid(format!("cannot create pin directory {}: {e}", dir.display())))?;
        undo.actions.push(UndoAction::RemoveDir(dir.clone()));
    }
    let to_pin: [(&str, BorrowedFd<'_>); 8] = [
        (PIN_SOCKHASH, sock_hash.as_fd()),
        (PIN_SOCK_INFO, sock_info.as_fd()),
        (PIN_SK_STATE, sk_state.as_fd()),
        (PIN_COUNTERS, counters.as_fd()),
        (PIN_CONFIG, config.as_fd()),
        (PIN_PORTS, ports.as_fd()),
        (PIN_SOCKOPS, sockops.as_fd()),
        (PIN_SKMSG, skmsg.as_fd()),
    ];
    for (name, fd) in to_pin {
        let path = dir.join(name);
        syscall::pin(fd, &path).map_err(DeployError::step(format!("pinning {}", path.display())))?;
        undo.actions.push(UndoAction::Unpin(path));
    }
    Ok(Objects { sock_hash, sock_info, sk_state, counters, config, ports, sockops, skmsg, stats })
}

/// Creates the programs' maps (unpinned), named as the programs refer to them.
pub fn create_maps(max_entries: u32) -> Result<[(&'static str, Map); 6]> {
    let create = |(name, spec): (&'static str, MapSpec)| {
        Map::create(&spec)
            .map(|m| (name, m))
            .map_err(DeployError::step(format!("creating the {name} map ({})", spec.map_type)))
    };
    let [a, b, c, d, e, f] = progs::map_specs(max_entries);
    Ok([create(a)?, create(b)?, create(c)?, create(d)?, create(e)?, create(f)?])
}

fn open_objects(dir: &Path) -> Result<Objects> {
    let get = |name: &str| {
        let p = dir.join(name);
        syscall::get_pinned(&p).map_err(DeployError::step(format!("opening pin {}", p.display())))
    };
    let map = |name: &str| {
        let p = dir.join(name);
        Map::from_pinned(&p).map_err(DeployError::step(format!("opening pinned map {}", p.display())))
    };
    Ok(Objects {
        sock_hash: map(PIN_SOCKHASH)?,
        sock_info: map(PIN_SOCK_INFO)?,
        sk_state: map(PIN_SK_STATE)?,
        counters: map(PIN_COUNTERS)?,
        config: map(PIN_CONFIG)?,
        ports: map(PIN_PORTS)?,
        sockops: get(PIN_SOCKOPS)?,
        skmsg: get(PIN_SKMSG)?,
        stats: [None, None],
    })
}

fn prog_status(fd: BorrowedFd<'_>, verifier_insns: Option<u64>) -> Result<ProgStatus> {
    let info = syscall::prog_info(fd).map_err(DeployError::step("reading program info"))?;
    Ok(ProgStatus {
        name: info.name,
        id: info.id,
        prog_type: info.prog_type.name().map_or_else(|| info.prog_type.0.to_string(), |n| n.to_ascii_lowercase()),
        xlated_bytes: info.xlated_prog_len,
        jited_bytes: info.jited_prog_len,
        verifier_insns: verifier_insns.or(if info.verified_insns > 0 {
            Some(info.verified_insns as u64)
        } else {
            None
        }),
    })
}

/// Every cgroup under the cgroup2 mount that has program `prog_id` attached
/// directly for sock_ops.
pub fn cgroups_with_prog(prog_id: u32) -> Result<Vec<PathBuf>> {
    Ok(attachments_of(&[prog_id])?.remove(&prog_id).unwrap_or_default())
}

/// For each of `ids`, the cgroups that have it attached directly for
/// sock_ops (one walk of the cgroup tree for all of them).
fn attachments_of(ids: &[u32]) -> Result<BTreeMap<u32, Vec<PathBuf>>> {
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
            && let Ok(attached) = syscall::query_cgroup(cg.fd(), AttachType::CGROUP_SOCK_OPS)
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
    let mut ids = BTreeSet::new();
    let mut visited = 0;
    let mut stack: Vec<(PathBuf, u32)> = roots.into_iter().map(|r| (r, 0)).collect();
    while let Some((dir, depth)) = stack.pop() {
        let pin = dir.join(PIN_SOCKOPS);
        if let Ok(fd) = syscall::get_pinned(&pin)
            && let Ok(info) = syscall::prog_info(fd.as_fd())
        {
            ids.insert(info.id);
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
fn unload_locked(cg: Option<&Cgroup>, cgroup: PathBuf, pin_dir: &Path) -> Result<UnloadReport> {
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
    if present.contains(&PIN_SOCKHASH) {
        let map = Map::from_pinned(pin_dir.join(PIN_SOCKHASH))
            .map_err(DeployError::step(format!("opening pinned map {}", pin_dir.join(PIN_SOCKHASH).display())))?;
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

/// Detaches from `cg` every sockasm sock_ops program among `attached` that
/// is not pinned anywhere (other than `ours`, handled by the caller).
/// Programs of other tools, and sockasm programs pinned in another pin
/// directory, stay.
fn detach_orphans(cg: &Cgroup, attached: &[u32], ours: Option<u32>, pin_dir: &Path, label: &str) -> Result<Vec<u32>> {
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
    let prefixes = [format!("{}-", crate::bench::NAME_PREFIX), format!("{}-", crate::exec::NAME_PREFIX)];
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
    let attached = syscall::query_cgroup(cg.fd(), AttachType::CGROUP_SOCK_OPS)
        .map_err(DeployError::step(format!("querying cgroup {label}")))?;
    for id in attached {
        let Ok(fd) = syscall::prog_fd_by_id(id) else { continue };
        if syscall::prog_info(fd.as_fd()).is_ok_and(|i| i.name == progs::sockops::NAME) {
            match syscall::detach_cgroup(fd.as_fd(), cg.fd(), AttachType::CGROUP_SOCK_OPS) {
                Err(e) if e.errno() != Some(nix::errno::Errno::ENOENT) => {
                    return Err(DeployError::Step {
                        step: format!("detaching sock_ops from stale cgroup {label}"),
                        source: e,
                    });
                }
                _ => {}
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

fn remove_dir_if_empty(dir: &Path) {
    // Fails harmlessly if the directory is missing or holds other files.
    let _ = std::fs::remove_dir(dir);
}

/// The SOCKHASH as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapStatus {
    pub id: u32,
    pub max_entries: u32,
    pub entries: usize,
}

#[derive(Clone, Debug)]
pub struct Status {
    pub loaded: bool,
    pub pin_dir: PathBuf,
    pub cgroups: Vec<PathBuf>,
    pub programs: Vec<ProgStatus>,
    pub map: Option<MapStatus>,
    pub config: Option<Config>,
    pub ports: Option<PortSelection>,
    pub counters: counters::Totals,
}

/// Reads the state of the bypass pinned at `pin_dir`.
pub fn status(pin_dir: &Path) -> Result<Status> {
    let mut st = Status {
        loaded: false,
        pin_dir: pin_dir.to_path_buf(),
        cgroups: vec![],
        programs: vec![],
        map: None,
        config: None,
        ports: None,
        counters: counters::Totals::default(),
    };
    let present = pins_present(pin_dir, "status")?;
    if present.is_empty() {
        return Ok(st);
    }
    if present.len() != ALL_PINS.len() {
        return Err(DeployError::PartialPins { dir: pin_dir.to_path_buf(), present: present.join(", ") });
    }
    let objs = open_objects(pin_dir)?;
    st.loaded = true;
    st.programs = vec![prog_status(objs.sockops.as_fd(), None)?, prog_status(objs.skmsg.as_fd(), None)?];
    st.cgroups = cgroups_with_prog(st.programs[0].id)?;
    let info = syscall::map_info(objs.sock_hash.as_fd()).map_err(DeployError::step("reading SOCKHASH info"))?;
    let entries = objs.sock_hash.count_entries().map_err(DeployError::step("counting SOCKHASH entries"))?;
    st.map = Some(MapStatus { id: info.id, max_entries: info.max_entries, entries });
    st.counters = read_counters(&objs.counters)?;
    st.config = Some(read_config(&objs.config)?);
    st.ports = Some(read_ports(&objs.ports)?);
    let _ = (&objs.sk_state, &objs.sock_info);
    Ok(st)
}

fn read_counters(map: &Map) -> Result<counters::Totals> {
    let per_cpu =
        map.lookup_percpu(&0u32.to_ne_bytes()).map_err(DeployError::step("reading counters"))?.unwrap_or_default();
    Ok(counters::Totals::sum(per_cpu.iter().map(Vec::as_slice)))
}

impl ProgStatus {
    pub fn to_json(&self) -> Json {
        Json::obj([
            ("name", Json::from(self.name.as_str())),
            ("id", self.id.into()),
            ("type", self.prog_type.as_str().into()),
            ("xlated_bytes", self.xlated_bytes.into()),
            ("jited_bytes", self.jited_bytes.into()),
        ])
    }
}

impl Status {
    pub fn to_json(&self) -> Json {
        let map = match &self.map {
            Some(m) => Json::obj([
                ("id", Json::from(m.id)),
                ("max_entries", m.max_entries.into()),
                ("entries", m.entries.into()),
            ]),
            None => Json::Null,
        };
        Json::obj([
            ("loaded", Json::from(self.loaded)),
            ("pin_dir", self.pin_dir.display().to_string().into()),
            ("cgroups", Json::Arr(self.cgroups.iter().map(|c| c.display().to_string().into()).collect())),
            ("programs", Json::Arr(self.programs.iter().map(ProgStatus::to_json).collect())),
            ("map", map),
            (
                "policy",
                match &self.config {
                    Some(c) => Json::obj([
                        ("peer_aware", Json::from(c.peer_aware)),
                        ("max_queue", c.max_queue.into()),
                        ("rcvbuf_floor", c.rcvbuf_floor.into()),
                    ]),
                    None => Json::Null,
                },
            ),
            (
                "ports",
                match &self.ports {
                    Some(p) => Json::obj([
                        ("only", Json::Arr(p.only.iter().map(|&v| u64::from(v).into()).collect())),
                        ("except", Json::Arr(p.except.iter().map(|&v| u64::from(v).into()).collect())),
                    ]),
                    None => Json::Null,
                },
            ),
            (
                "counters",
                Json::Obj(
                    counters::Counter::ALL
                        .iter()
                        .map(|c| (c.name().to_string(), self.counters.get(*c).into()))
                        .collect(),
                ),
            ),
        ])
    }
}

/// The built-in programs as `load` would build them on this kernel, for listings.
pub fn builtin_programs() -> Result<Vec<Builtin>> {
    Ok(progs::builtin(&kernel_policy(Path::new(KERNEL_BTF)))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_excludes_and_is_released_on_drop() {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!("sockasm-lock-test-{}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        let path = dir.join("lock");
        let held = lock_at(&path, Duration::ZERO).unwrap();
        let t = Instant::now();
        match lock_at(&path, Duration::from_millis(50)) {
            Err(DeployError::LockTimeout { path: p, .. }) => assert_eq!(p, path),
            other => panic!("a second lock while the first is held: {:?}", other.map(|_| ())),
        }
        assert!(t.elapsed() >= Duration::from_millis(50));
        drop(held);
        let again = lock_at(&path, Duration::ZERO).unwrap();
        drop(again);
        // A lock directory others can write is refused.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(lock_at(&path, Duration::ZERO), Err(DeployError::UnsafeLockDir { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
