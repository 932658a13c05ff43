//! `sockasm load`: create (or reuse) the objects, set the policy, attach,
//! pin; undo all of it when a step fails.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::adopt::{self, Adoption};
use super::cgroups::{attach_state, resolve_cgroup};
use super::config::{Config, PortSelection, read_config, read_ports, tcp_rmem_max, write_config, write_ports};
use super::lock::lock;
use super::offsets;
use super::offsets::KERNEL_BTF;
use super::orphans::{OtherAttachment, other_attachments};
use super::pins::{
    Objects, PINNED, check_pin_dir_owner, ensure_pin_fs, pin_dir_path, pins_present, remove_dir_if_empty,
};
use super::privileges::require_caps;
use super::status::{ProgStatus, prog_status};
use super::{DEFAULT_PIN_DIR, DeployError, MAX_MAX_ENTRIES, Result};
use crate::progs::{self, DEFAULT_MAX_ENTRIES, Policy, config};
use crate::syscall::error::effective_caps;
use crate::syscall::{self, AttachType};

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
    /// Redirect only between sockets of one network namespace; `None`: no
    /// for a new load (yes when peer-blind, which cannot refuse TCP_REPAIR
    /// sockets), unchanged when reusing.
    pub same_netns: Option<bool>,
    /// Adopt the cgroup's established connections (`load --no-adopt`: false).
    pub adopt: bool,
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
            same_netns: None,
            adopt: true,
        }
    }
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
    /// Pairing limited to one network namespace.
    pub same_netns: bool,
    /// The port selection in force.
    pub ports: PortSelection,
    /// Stale `sock_info` entries removed (their sockets closed while no
    /// program was attached to see it).
    pub stale_removed: usize,
    /// Other sockasm pin directories' programs attached to the same cgroup.
    pub others: Vec<OtherAttachment>,
    /// Connections opened before this load, adopted (or why not).
    pub adoption: Adoption,
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
pub(super) struct Undo {
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

    pub(super) fn unpin(&mut self, path: PathBuf) {
        self.actions.push(UndoAction::Unpin(path));
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

/// Load the bypass (or reuse the pinned one) and attach it to a cgroup.
/// On any error, everything this call did is undone.
pub fn load(opts: &LoadOptions) -> Result<LoadReport> {
    let start = Instant::now();
    // Read once: they decide both whether we may load and the policy.
    let caps = effective_caps().unwrap_or(0);
    require_caps("load", caps)?;
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
        let policy = offsets::policy(&opts.kernel_btf, caps);
        if let Policy::PeerBlind { reason } = &policy {
            peer_blind_reason = Some(reason.clone());
        }
        create_objects(opts, &policy, &mut undo)?
    } else if present.len() == PINNED.len() {
        let objs = Objects::open(&opts.pin_dir)?;
        let have = objs.map(progs::MAP_SOCKHASH)?.spec().max_entries;
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
    let (config_map, ports_map) = (objs.map(progs::MAP_CONFIG)?, objs.map(progs::MAP_PORTS)?);
    let mut cfg = read_config(config_map)?;
    // Peer-blind programs cannot tell a TCP_REPAIR socket: they pair only
    // within one network namespace, whatever is asked.
    let same_netns = opts.same_netns.map(|s| s || !cfg.peer_aware);
    if created || opts.max_queue.is_some_and(|q| q != cfg.max_queue) || same_netns.is_some_and(|s| s != cfg.same_netns)
    {
        if let Some(q) = opts.max_queue {
            cfg.max_queue = q;
        }
        if let Some(s) = same_netns {
            cfg.same_netns = s;
        }
        write_config(config_map, &cfg)?;
    }
    let mut ports = read_ports(ports_map)?;
    if opts.ports_only.is_some() || opts.ports_except.is_some() {
        let mut want = ports.clone();
        if let Some(only) = &opts.ports_only {
            want.only = only.clone();
        }
        if let Some(except) = &opts.ports_except {
            want.except = except.clone();
        }
        write_ports(ports_map, config_map, &want, &mut cfg)?;
        ports = read_ports(ports_map)?;
    }
    let stale_removed = if created { 0 } else { sweep_stale_info(&objs)? };

    let sockops = objs.prog(progs::sockops::NAME)?;
    let sockops_id = syscall::prog_info(sockops).map_err(DeployError::step("reading sock_ops info"))?.id;
    let attach = attach_state(&cg, sockops_id)?;
    if attach == Attach::Attached {
        // The undo entry's fds first: nothing may fail between attaching and recording it.
        let undo_detach = UndoAction::DetachCgroup { prog: dup(sockops)?, cgroup: dup(cg.fd())? };
        syscall::attach_cgroup(sockops, cg.fd(), AttachType::CGROUP_SOCK_OPS, syscall::BPF_F_ALLOW_MULTI)
            .map_err(DeployError::step(format!("attaching sock_ops to cgroup {}", cg.path().display())))?;
        undo.actions.push(undo_detach);
    }
    // After sock_ops is attached: a connection established from now on is
    // sock_ops' (the adopt pass only checks its key).
    let adoption = if opts.adopt { adopt::adopt(&objs, &cg, &opts.kernel_btf, cfg.peer_aware)? } else { Adoption::Off };
    let programs = objs.programs().map(|(fd, insns)| prog_status(fd, insns)).collect::<Result<Vec<_>>>()?;
    let others = other_attachments(&[cg.path().to_path_buf()], sockops_id, &opts.pin_dir);
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
        same_netns: cfg.same_netns,
        ports,
        stale_removed,
        others,
        adoption,
        elapsed: start.elapsed(),
    })
}

/// Removes `sock_info` entries whose socket is no longer in the SOCKHASH
/// under that key: their sockets closed while sock_ops was detached (after
/// an `unload` that left connections draining), so no STATE_CB removed them.
/// Returns how many went.
fn sweep_stale_info(objs: &Objects) -> Result<usize> {
    let (sock_info, sock_hash) = (objs.map(progs::MAP_SOCK_INFO)?, objs.map(progs::MAP_SOCKHASH)?);
    let cookie_at =
        |v: &[u8], off: usize| v.get(off..off + 8).map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])));
    // A SOCKHASH lookup from user space gives the socket's cookie.
    let stale = |key: &[u8]| -> Result<bool> {
        let Some(info) = sock_info.get(key).map_err(DeployError::step("reading a sock_info entry"))? else {
            return Ok(false);
        };
        let live = sock_hash.get(key).ok().flatten().and_then(|v| cookie_at(&v, 0));
        Ok(live.is_none() || live != cookie_at(&info, progs::INFO_OFF_COOKIE as usize))
    };
    let mut candidates = Vec::new();
    for key in sock_info.keys() {
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
        if stale(&key)? && sock_info.delete(&key).map_err(DeployError::step("removing a stale sock_info entry"))? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Creates the maps and programs of [`progs::collection`] through the
/// loader, writes the `config` value, attaches sk_msg to the SOCKHASH and
/// pins every object of [`PINNED`]; each step is recorded in `undo`.
fn create_objects(opts: &LoadOptions, policy: &Policy, undo: &mut Undo) -> Result<Objects> {
    let dir = &opts.pin_dir;
    let spec = progs::collection(policy, opts.max_entries.unwrap_or(DEFAULT_MAX_ENTRIES))?;
    let log_level = if opts.verifier_stats { syscall::BPF_LOG_STATS } else { 0 };
    let objs = Objects::from_collection(crate::loader::load(&spec, log_level).map_err(DeployError::loading)?)?;
    let cfg = Config {
        max_queue: config::DEFAULT_MAX_QUEUE,
        peer_aware: policy.offsets().is_some(),
        // At the largest --max-queue, so the bound is --max-queue itself: a
        // reader's small autotuned rcvbuf must not make it smaller, as a
        // spill is final.
        rcvbuf_floor: tcp_rmem_max().max(config::MAX_MAX_QUEUE),
        only_listed: false,
        same_netns: policy.offsets().is_none(),
    };
    write_config(objs.map(progs::MAP_CONFIG)?, &cfg)?;

    let (skmsg, sock_hash) = (objs.prog(progs::skmsg::NAME)?, objs.map(progs::MAP_SOCKHASH)?.as_fd());
    let undo_detach = UndoAction::DetachMap { prog: dup(skmsg)?, map: dup(sock_hash)? };
    syscall::attach_map(skmsg, sock_hash, AttachType::SK_MSG_VERDICT)
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
    objs.pin_all(dir, undo)?;
    Ok(objs)
}
