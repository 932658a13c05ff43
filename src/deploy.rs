//! The bypass's life cycle: `load` (create maps, load, attach, pin), `unload`
//! and `status`. Data flows one way: this module → progs (DSL) → syscall.
//!
//! Pins in the pin directory (mode 0600):
//! `sock_hash`, `sock_info`, `sk_state`, `counters`, `config` (maps), `sockops`, `skmsg` (programs).
//! Which cgroups the bypass is attached to is not stored anywhere: it is read
//! back from the kernel (PROG_QUERY on each cgroup), so it cannot go stale.

use crate::asm::AsmError;
use crate::cgroup::{self, Cgroup, CgroupError};
use crate::json::Json;
use crate::progs::{self, Builtin, KernelOffsets, Policy, config, counters};
use crate::syscall::{self, AttachType, LoadError, Map, MapSpec, ProgSpec, SysError};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/sockasm";
pub const DEFAULT_MAX_ENTRIES: u32 = 65_535;

const PIN_SOCKHASH: &str = "sock_hash";
const PIN_SK_STATE: &str = "sk_state";
const PIN_SOCK_INFO: &str = "sock_info";
const PIN_COUNTERS: &str = "counters";
const PIN_CONFIG: &str = "config";
const PIN_SOCKOPS: &str = "sockops";
const PIN_SKMSG: &str = "skmsg";
const ALL_PINS: [&str; 7] =
    [PIN_SOCKOPS, PIN_SKMSG, PIN_SOCKHASH, PIN_SOCK_INFO, PIN_SK_STATE, PIN_COUNTERS, PIN_CONFIG];

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

fn pins_present(dir: &Path) -> Vec<&'static str> {
    ALL_PINS.iter().copied().filter(|p| dir.join(p).exists()).collect()
}

/// Load the bypass (or reuse the pinned one) and attach it to a cgroup.
/// On any error, everything this call did is undone.
pub fn load(opts: &LoadOptions) -> Result<LoadReport> {
    let start = Instant::now();
    check_privileges("load")?;
    if opts.max_entries == Some(0) {
        return Err(DeployError::Invalid("--max-entries must be at least 1".into()));
    }
    if let Some(q) = opts.max_queue.filter(|q| !(config::MIN_MAX_QUEUE..=config::MAX_MAX_QUEUE).contains(q)) {
        return Err(DeployError::Invalid(format!(
            "--max-queue {q} is out of range: give {} to {} bytes",
            config::MIN_MAX_QUEUE,
            config::MAX_MAX_QUEUE
        )));
    }
    let cg = resolve_cgroup(opts.cgroup.as_deref())?;
    let mounted_bpffs = ensure_pin_fs(&opts.pin_dir)?;
    let mut undo = Undo::default();

    let present = pins_present(&opts.pin_dir);
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
        stale_removed,
        elapsed: start.elapsed(),
    })
}

/// The `config` map's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub max_queue: u32,
    pub peer_aware: bool,
    pub rcvbuf_floor: u32,
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
    })
}

fn write_config(map: &Map, cfg: &Config) -> Result<()> {
    let mut v = [0u8; config::VALUE_SIZE as usize];
    let at = |off: i16| off as usize..off as usize + 8;
    v[at(config::OFF_MAX_QUEUE)].copy_from_slice(&(cfg.max_queue as u64).to_ne_bytes());
    let flags = if cfg.peer_aware { CONFIG_PEER_AWARE } else { 0 };
    v[at(config::OFF_FLAGS)].copy_from_slice(&flags.to_ne_bytes());
    v[at(config::OFF_RCVBUF_FLOOR)].copy_from_slice(&(cfg.rcvbuf_floor as u64).to_ne_bytes());
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
    let [(_, sock_hash), (_, sock_info), (_, sk_state), (_, counters), (_, config)] = maps;
    let cfg = Config {
        max_queue: config::DEFAULT_MAX_QUEUE,
        peer_aware: policy.offsets().is_some(),
        rcvbuf_floor: tcp_rmem_max(),
    };
    write_config(&config, &cfg)?;

    let undo_detach = UndoAction::DetachMap { prog: dup(skmsg.as_fd())?, map: dup(sock_hash.as_fd())? };
    syscall::attach_map(skmsg.as_fd(), sock_hash.as_fd(), AttachType::SK_MSG_VERDICT)
        .map_err(DeployError::step("attaching sk_msg to the SOCKHASH"))?;
    undo.actions.push(undo_detach);

    if !dir.exists() {
        std::fs::create_dir(dir)
            .map_err(|e| DeployError::Invalid(format!("cannot create pin directory {}: {e}", dir.display())))?;
        undo.actions.push(UndoAction::RemoveDir(dir.clone()));
    }
    let to_pin: [(&str, BorrowedFd<'_>); 7] = [
        (PIN_SOCKHASH, sock_hash.as_fd()),
        (PIN_SOCK_INFO, sock_info.as_fd()),
        (PIN_SK_STATE, sk_state.as_fd()),
        (PIN_COUNTERS, counters.as_fd()),
        (PIN_CONFIG, config.as_fd()),
        (PIN_SOCKOPS, sockops.as_fd()),
        (PIN_SKMSG, skmsg.as_fd()),
    ];
    for (name, fd) in to_pin {
        let path = dir.join(name);
        syscall::pin(fd, &path).map_err(DeployError::step(format!("pinning {}", path.display())))?;
        undo.actions.push(UndoAction::Unpin(path));
    }
    Ok(Objects { sock_hash, sock_info, sk_state, counters, config, sockops, skmsg, stats })
}

/// Creates the programs' maps (unpinned), named as the programs refer to them.
pub fn create_maps(max_entries: u32) -> Result<[(&'static str, Map); 5]> {
    let create = |(name, spec): (&'static str, MapSpec)| {
        Map::create(&spec)
            .map(|m| (name, m))
            .map_err(DeployError::step(format!("creating the {name} map ({})", spec.map_type)))
    };
    let [a, b, c, d, e] = progs::map_specs(max_entries);
    Ok([create(a)?, create(b)?, create(c)?, create(d)?, create(e)?])
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
    let root = cgroup::cgroup2_mount()?;
    let mut found = Vec::new();
    let mut stack = vec![root];
    let mut visited = 0;
    while let Some(dir) = stack.pop() {
        visited += 1;
        if visited > MAX_CGROUP_WALK {
            break;
        }
        if let Ok(cg) = Cgroup::open(&dir)
            && syscall::query_cgroup(cg.fd(), AttachType::CGROUP_SOCK_OPS).is_ok_and(|ids| ids.contains(&prog_id))
        {
            found.push(dir.clone());
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
    found.sort();
    Ok(found)
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
    /// Whether this call detached sock_ops from the cgroup.
    pub detached: bool,
    pub outcome: UnloadOutcome,
}

/// Detach from a cgroup; when no cgroup and no connection is left, remove
/// everything. Idempotent.
pub fn unload(cgroup_path: Option<&Path>, pin_dir: &Path) -> Result<UnloadReport> {
    check_privileges("unload")?;
    // A removed cgroup took its attachments with it: nothing to detach there.
    let cg = match cgroup_path {
        Some(p) if !p.exists() => None,
        _ => Some(resolve_cgroup(cgroup_path)?),
    };
    let cgroup = match (&cg, cgroup_path) {
        (Some(c), _) => c.path().to_path_buf(),
        (None, p) => p.map(Path::to_path_buf).unwrap_or_default(),
    };
    let present = pins_present(pin_dir);
    if present.is_empty() {
        remove_dir_if_empty(pin_dir);
        return Ok(UnloadReport { cgroup, detached: false, outcome: UnloadOutcome::NotLoaded });
    }
    let mut detached = false;
    if present.contains(&PIN_SOCKOPS) {
        let sockops = syscall::get_pinned(pin_dir.join(PIN_SOCKOPS))
            .map_err(DeployError::step(format!("opening pin {}", pin_dir.join(PIN_SOCKOPS).display())))?;
        let id = syscall::prog_info(sockops.as_fd()).map_err(DeployError::step("reading sock_ops info"))?.id;
        if let Some(cg) = &cg {
            let ids = syscall::query_cgroup(cg.fd(), AttachType::CGROUP_SOCK_OPS)
                .map_err(DeployError::step(format!("querying cgroup {}", cgroup.display())))?;
            if ids.contains(&id) {
                syscall::detach_cgroup(sockops.as_fd(), cg.fd(), AttachType::CGROUP_SOCK_OPS)
                    .map_err(DeployError::step(format!("detaching sock_ops from cgroup {}", cgroup.display())))?;
                detached = true;
            }
        }
        let left = cgroups_with_prog(id)?;
        if !left.is_empty() {
            return Ok(UnloadReport { cgroup, detached, outcome: UnloadOutcome::StillAttached(left) });
        }
    }
    if present.contains(&PIN_SOCKHASH) {
        let map = Map::from_pinned(pin_dir.join(PIN_SOCKHASH))
            .map_err(DeployError::step(format!("opening pinned map {}", pin_dir.join(PIN_SOCKHASH).display())))?;
        let connections = map.count_entries().map_err(DeployError::step("counting SOCKHASH entries"))?;
        if connections > 0 {
            return Ok(UnloadReport { cgroup, detached, outcome: UnloadOutcome::Draining { connections } });
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
    Ok(UnloadReport { cgroup, detached, outcome: UnloadOutcome::Removed })
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
        counters: counters::Totals::default(),
    };
    let present = pins_present(pin_dir);
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
                    Some(c) => Json::obj([("peer_aware", Json::from(c.peer_aware)), ("max_queue", c.max_queue.into())]),
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
