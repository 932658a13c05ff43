//! `sockasm load`: open or create the objects, apply the configuration and
//! ports, attach, pin what is new; undo all of it when a step fails.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::adopt::{self, Adoption};
use super::cgroups::{attach_state, resolve_cgroup};
use super::config::{
    Config, PortSelection, add_ports, read_config, read_ports, remove_other_ports, tcp_rmem_max, write_config,
};
use super::link::Link;
use super::lock::lock;
use super::offsets::{self, KERNEL_BTF};
use super::orphans::{OtherAttachment, cgroup_progs, other_attachments};
use super::pins::{
    Objects, Pin, check_pin_dir_owner, ensure_pin_fs, pin_dir_path, pins, pins_present, remove_dir_if_empty,
};
use super::privileges::require_caps;
use super::status::{ProgStatus, prog_status};
use super::{DEFAULT_PIN_DIR, DeployError, MAX_MAX_ENTRIES, Result};
use crate::cgroup::Cgroup;
use crate::progs::{self, ATTACHMENTS, DEFAULT_MAX_ENTRIES, Policy, Target, config};
use crate::syscall;
use crate::syscall::error::effective_caps;

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

/// Undo log of the pins a failing `load` must take back, newest first
/// (its attachments are [`Link`]s, which detach themselves).
#[derive(Default)]
pub(super) struct Undo {
    actions: Vec<UndoAction>,
}

enum UndoAction {
    Unpin(PathBuf),
    RemoveDir(PathBuf),
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
            match a {
                UndoAction::Unpin(p) => {
                    let _ = syscall::unpin(&p);
                }
                UndoAction::RemoveDir(p) => remove_dir_if_empty(&p),
            }
        }
    }
}

/// Load the bypass (or reuse the pinned one) and attach it to a cgroup, in
/// one line: open or create the objects, apply the configuration and the
/// ports, attach ([`ATTACHMENTS`]), pin what is new. On any error,
/// everything this call did is undone.
pub fn load(opts: &LoadOptions) -> Result<LoadReport> {
    let start = Instant::now();
    // Read once: they decide both whether we may load and the policy.
    let caps = effective_caps().unwrap_or(0);
    require_caps("load", caps)?;
    check_options(opts)?;
    let opts = &LoadOptions { pin_dir: pin_dir_path(&opts.pin_dir)?, ..opts.clone() };
    let cg = resolve_cgroup(opts.cgroup.as_deref())?;
    let _lock = lock()?;
    let mounted_bpffs = ensure_pin_fs(&opts.pin_dir)?;
    check_pin_dir_owner(&opts.pin_dir)?;

    let (objs, created) = open_or_create(opts, caps)?;
    let (cfg, ports) = configure(&objs.objects, created.as_ref(), opts)?;
    let stale_removed = if created.is_some() { 0 } else { sweep_stale_info(&objs.objects)? };
    let (links, attach) = attach(&objs.objects, created.is_some(), &cg)?;
    let mut undo = Undo::default();
    if created.is_some() {
        pin_new(&objs, &opts.pin_dir, &mut undo)?;
    }

    // After sock_ops is attached: a connection established from now on is
    // sock_ops' (the adopt pass only checks its key). A failure here undoes
    // the load like any other step (and the adoption undoes itself).
    let adoption =
        if opts.adopt { adopt::adopt(&objs.objects, &cg, &opts.kernel_btf, cfg.peer_aware)? } else { Adoption::Off };
    let programs = objs.objects.programs().map(|(fd, insns)| prog_status(fd, insns)).collect::<Result<Vec<_>>>()?;
    let mut others = Vec::new();
    for cp in cgroup_progs()? {
        let id = prog_id(objs.objects.prog(cp.name)?)?;
        others.extend(other_attachments(&cp, &[cg.path().to_path_buf()], id, &opts.pin_dir));
    }
    links.into_iter().for_each(Link::keep);
    undo.commit();
    Ok(LoadReport {
        cgroup: cg.path().to_path_buf(),
        pin_dir: opts.pin_dir.clone(),
        created: created.is_some(),
        attach,
        mounted_bpffs,
        programs,
        peer_aware: cfg.peer_aware,
        peer_blind_reason: created.and_then(|c| c.peer_blind_reason),
        max_queue: cfg.max_queue,
        same_netns: cfg.same_netns,
        ports,
        stale_removed,
        others,
        adoption,
        elapsed: start.elapsed(),
    })
}

fn check_options(opts: &LoadOptions) -> Result<()> {
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
    Ok(())
}

fn prog_id(fd: BorrowedFd<'_>) -> Result<u32> {
    Ok(syscall::prog_info(fd).map_err(DeployError::step("reading program info"))?.id)
}

/// The objects `load` works on, and their pins.
struct Opened {
    objects: Objects,
    pins: Vec<Pin>,
}

/// What `load` knows only when it created the objects.
struct Created {
    /// The `config` value for new objects.
    config: Config,
    /// Why the programs are peer-blind, if they are.
    peer_blind_reason: Option<String>,
}

/// The pinned objects at the pin directory, or new ones (`Some(Created)`)
/// when there are none. New objects are not pinned yet: [`pin_new`] pins
/// them once they are configured and attached.
fn open_or_create(opts: &LoadOptions, caps: u64) -> Result<(Opened, Option<Created>)> {
    let pins = pins()?;
    let present = pins_present(&opts.pin_dir, &pins, "load")?;
    if present.len() == pins.len() {
        let objects = Objects::open(&opts.pin_dir, &pins)?;
        let have = objects.map(progs::MAP_SOCKHASH)?.spec().max_entries;
        if let Some(want) = opts.max_entries.filter(|w| *w != have) {
            return Err(DeployError::Invalid(format!(
                "sockasm is already loaded at {} with --max-entries {have}; to change it to {want}, \
                 unload it from every cgroup first (`sockasm status` lists them)",
                opts.pin_dir.display()
            )));
        }
        return Ok((Opened { objects, pins }, None));
    }
    if !present.is_empty() {
        return Err(DeployError::PartialPins { dir: opts.pin_dir.clone(), present: present.join(", ") });
    }
    let policy = offsets::policy(&opts.kernel_btf, caps);
    let spec = progs::collection(&policy, opts.max_entries.unwrap_or(DEFAULT_MAX_ENTRIES))?;
    let log_level = if opts.verifier_stats { syscall::BPF_LOG_STATS } else { 0 };
    let loaded = crate::loader::load(&spec, log_level).map_err(DeployError::loading)?;
    let objects = Objects::from_collection(loaded, &spec)?;
    let config = Config {
        max_queue: config::DEFAULT_MAX_QUEUE,
        peer_aware: policy.offsets().is_some(),
        // At the largest --max-queue, so the bound is --max-queue itself: a
        // reader's small autotuned rcvbuf must not make it smaller, as a
        // spill is final.
        rcvbuf_floor: tcp_rmem_max().max(config::MAX_MAX_QUEUE),
        only_listed: false,
        same_netns: policy.offsets().is_none(),
    };
    let peer_blind_reason = match policy {
        Policy::PeerBlind { reason } => Some(reason),
        Policy::PeerAware(_) => None,
    };
    Ok((Opened { objects, pins }, Some(Created { config, peer_blind_reason })))
}

/// Applies the options to the `config` value (written once, when it
/// changes or is new) and the `ports` map. Returns what is in force.
fn configure(objs: &Objects, created: Option<&Created>, opts: &LoadOptions) -> Result<(Config, PortSelection)> {
    let (config_map, ports_map) = (objs.map(progs::MAP_CONFIG)?, objs.map(progs::MAP_PORTS)?);
    let was = match created {
        Some(c) => c.config,
        None => read_config(config_map)?,
    };
    let mut cfg = was;
    if let Some(q) = opts.max_queue {
        cfg.max_queue = q;
    }
    // Peer-blind programs cannot tell a TCP_REPAIR socket: they pair only
    // within one network namespace, whatever is asked.
    if let Some(s) = opts.same_netns {
        cfg.same_netns = s || !cfg.peer_aware;
    }
    let ports = if created.is_some() { PortSelection::default() } else { read_ports(ports_map)? };
    if opts.ports_only.is_none() && opts.ports_except.is_none() {
        if created.is_some() || cfg != was {
            write_config(config_map, &cfg)?;
        }
        return Ok((cfg, ports));
    }
    let want = PortSelection {
        only: opts.ports_only.clone().unwrap_or(ports.only),
        except: opts.ports_except.clone().unwrap_or(ports.except),
    };
    // New and changed entries first, then the flag, then removals: a
    // connection established meanwhile sees either selection, never none.
    let entries = add_ports(ports_map, &want)?;
    cfg.only_listed = !want.only.is_empty();
    write_config(config_map, &cfg)?;
    remove_other_ports(ports_map, &entries)?;
    Ok((cfg, read_ports(ports_map)?))
}

/// Attaches what [`ATTACHMENTS`] says: each program to the cgroup (unless
/// it runs there already), and, for new objects, each program to its map.
/// Returns the new attachments and what happened on the cgroup.
fn attach(objs: &Objects, created: bool, cg: &Cgroup) -> Result<(Vec<Link>, Attach)> {
    let mut links = Vec::new();
    let mut on_cgroup = Attach::Already;
    for a in &ATTACHMENTS {
        let state = match a.target {
            Target::Cgroup => attach_state(cg, prog_id(objs.prog(a.program)?)?, a.attach_type)?,
            // A map's attachment lives with the objects: made when they are.
            Target::Map(_) if created => Attach::Attached,
            Target::Map(_) => Attach::Already,
        };
        if state == Attach::Attached {
            links.push(Link::attach(a, objs, cg)?);
        }
        if a.target == Target::Cgroup && on_cgroup == Attach::Already {
            on_cgroup = state;
        }
    }
    Ok((links, on_cgroup))
}

/// Pins new objects: creates the pin directory (mode 0700) and pins every
/// object of the declaration; each step is recorded in `undo`.
fn pin_new(objs: &Opened, dir: &Path, undo: &mut Undo) -> Result<()> {
    if !dir.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .map_err(|e| DeployError::Invalid(format!("cannot create pin directory {}: {e}", dir.display())))?;
        undo.actions.push(UndoAction::RemoveDir(dir.to_path_buf()));
    }
    objs.objects.pin_all(dir, &objs.pins, undo)
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
