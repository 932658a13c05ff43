//! `load`'s adoption of connections opened before it (see
//! [`crate::progs::adopt`] for the passes and why they are safe): loads the
//! two iterator programs for this run (never pinned), finds the network
//! namespaces of the attached cgroup's processes, and runs the passes in
//! each of them from a helper thread that enters the namespace (the main
//! thread never changes its namespace).
//!
//! What the host may refuse (an older kernel without the iterators or
//! `bpf_task_pt_regs`, a kernel whose BTF lacks a field) skips adoption and
//! says why ([`Adoption::Skipped`]); a failing system call in the middle is
//! an error, and the adoption is undone first: every adopted socket that is
//! not confirmed leaves the SOCKHASH again (nothing was redirected into it).

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use super::offsets;
use super::pins::Objects;
use super::{DeployError, Result};
use crate::cgroup::{self, Cgroup};
use crate::progs;
use crate::progs::adopt::{self as ad, AdoptOffsets};
use crate::progs::counters::{Counter, Totals};
use crate::progs::{CONFIRM_CONFIRMED, INFO_OFF_CONFIRM, INFO_VALUE_SIZE, KernelOffsets, Policy};
use crate::syscall::error::effective_caps;
use crate::syscall::{self, Map};

/// Confirm rounds `load` runs, and the pause between two.
const ROUNDS: u32 = 5;
const ROUND_PAUSE: Duration = Duration::from_millis(20);
/// Cgroups walked below the attached one (processes are looked up there).
const MAX_CGROUPS: usize = 10_000;

/// What adoption did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Adoption {
    /// `load --no-adopt`.
    Off,
    /// The host cannot run it; why.
    Skipped(String),
    Done(AdoptReport),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdoptReport {
    /// Network namespaces walked (those of the cgroup's processes).
    pub namespaces: usize,
    /// Sockets put into the SOCKHASH.
    pub adopted: u64,
    /// Adopted sockets that may receive redirected bytes.
    pub confirmed: u64,
    /// Adopted sockets never confirmed in the rounds (they stay on TCP).
    pub deferred: u64,
    /// Established sockets whose peer end was not found in the cgroup.
    pub unpaired: u64,
    /// Sockets sock_ops had added whose key the pass recomputed, and how
    /// many of those differed (a bug if ever non-zero).
    pub key_checks: u64,
    pub key_mismatches: u64,
    pub rounds: u32,
    /// Sockets the last task scan found a task reading from (host-wide,
    /// not only the cgroup's), and whether it found a read it could not
    /// place (io_uring, a 32-bit socketcall), which defers everything.
    pub busy: u64,
    pub all_busy: bool,
}

fn counters(objs: &Objects) -> Result<Totals> {
    let per_cpu = objs
        .map(progs::MAP_COUNTERS)?
        .lookup_percpu(&0u32.to_ne_bytes())
        .map_err(DeployError::step("reading counters"))?
        .unwrap_or_default();
    Ok(Totals::sum(per_cpu.iter().map(Vec::as_slice)))
}

/// The loaded iterator programs and their links, with the maps of this run.
struct Passes {
    maps: crate::loader::Maps,
    tcp: OwnedFd,
    task: OwnedFd,
    // The programs stay open while the links live.
    _progs: Vec<OwnedFd>,
    namespaces: Vec<File>,
    pollwake: u64,
}

/// Adopts the established sockets of `cg`'s processes into the loaded
/// bypass `objs`. `peer_aware`: the loaded programs read kernel memory (the
/// only kind that can check a confirmed peer's `write_seq`).
pub(super) fn adopt(objs: &Objects, cg: &Cgroup, kernel_btf: &Path, peer_aware: bool) -> Result<Adoption> {
    let skip = |why: String| Ok(Adoption::Skipped(why));
    if !peer_aware {
        return skip("the loaded programs are peer-blind (they cannot check an adopted peer)".into());
    }
    let info = objs.map(progs::MAP_SOCK_INFO)?;
    if info.spec().value_size != INFO_VALUE_SIZE {
        return skip(format!(
            "the pinned maps come from an older sockasm (sock_info values of {} bytes, not {INFO_VALUE_SIZE}); \
             unload and load again to adopt",
            info.spec().value_size
        ));
    }
    let namespaces = namespaces(cg)?;
    if namespaces.is_empty() {
        // No process in the cgroup: no socket to adopt, nothing to load.
        return Ok(Adoption::Done(AdoptReport::default()));
    }
    let o = match offsets::adopt_offsets(kernel_btf) {
        Ok(o) => o,
        Err(why) => return skip(why),
    };
    let Policy::PeerAware(k) = offsets::policy(kernel_btf, effective_caps().unwrap_or(0)) else {
        return skip("the kernel's offsets are not readable (peer-blind)".into());
    };
    let mut passes = match Passes::new(objs, &o, &k)? {
        Ok(p) => p,
        Err(why) => return skip(why),
    };
    passes.namespaces = namespaces;
    let before = counters(objs)?;
    let mut rounds = 0;
    let mut busy = (0, false);
    let run = (|| -> Result<()> {
        passes.config(cg)?;
        passes.tcp_pass(ad::MODE_RECORD)?;
        passes.tcp_pass(ad::MODE_ADOPT)?;
        while rounds < ROUNDS && unconfirmed(info)? > 0 {
            if rounds > 0 {
                std::thread::sleep(ROUND_PAUSE);
            }
            rounds += 1;
            passes.tcp_pass(ad::MODE_CONFIRM1)?;
            busy = passes.task_pass()?;
            passes.tcp_pass(ad::MODE_CONFIRM2)?;
        }
        passes.tcp_pass(ad::MODE_DEFER)
    })();
    if let Err(e) = run {
        undo(info, objs.map(progs::MAP_SOCKHASH)?);
        return Err(e);
    }
    let d = counters(objs)?;
    let delta = |c: Counter| d.get(c).saturating_sub(before.get(c));
    Ok(Adoption::Done(AdoptReport {
        namespaces: passes.namespaces.len(),
        adopted: delta(Counter::SocketsAdopted),
        confirmed: delta(Counter::AdoptConfirmed),
        deferred: delta(Counter::AdoptDeferred),
        unpaired: delta(Counter::AdoptUnpaired),
        key_checks: delta(Counter::AdoptKeyChecks),
        key_mismatches: delta(Counter::AdoptKeyMismatches),
        rounds,
        busy: busy.0,
        all_busy: busy.1,
    }))
}

impl Passes {
    /// Creates this run's maps and loads and links both programs; `Ok(Err)`
    /// when the kernel refuses one (a feature the host lacks).
    fn new(objs: &Objects, o: &AdoptOffsets, k: &KernelOffsets) -> Result<std::result::Result<Passes, String>> {
        let mut maps = crate::loader::Maps::default();
        let entries = objs.map(progs::MAP_SOCKHASH)?.spec().max_entries.max(1024);
        for (name, spec) in ad::map_specs(entries) {
            let m = Map::create(&spec).map_err(DeployError::step(format!("creating the {name} map")))?;
            maps.push(name, m);
        }
        for name in [
            progs::MAP_SOCKHASH,
            progs::MAP_SOCK_INFO,
            progs::MAP_SK_STATE,
            progs::MAP_COUNTERS,
            progs::MAP_CONFIG,
            progs::MAP_PORTS,
        ] {
            let fd = objs.map(name)?.fd().try_clone_to_owned();
            let fd = fd.map_err(|e| DeployError::Invalid(format!("cannot duplicate a file descriptor: {e}")))?;
            maps.push(name, Map::from_fd(fd).map_err(DeployError::step(format!("opening the {name} map")))?);
        }
        let specs = [ad::tcp_program(o, k)?, ad::task_program(o)?];
        let mut progs = Vec::new();
        let mut links = Vec::new();
        for spec in &specs {
            let prog = match crate::loader::load_program(spec, &maps, 0) {
                Ok(p) => p,
                Err(e) => {
                    let why = e.decisive_lines(3).join(" / ");
                    return Ok(Err(format!(
                        "the kernel refused the iterator program {} ({}): {why}",
                        spec.name, e.errno
                    )));
                }
            };
            match syscall::iter_link(prog.fd()) {
                Ok(l) => links.push(l),
                Err(e) => return Ok(Err(format!("the kernel refused an iterator link for {}: {e}", spec.name))),
            }
            progs.push(prog.fd);
        }
        let (Some(task), Some(tcp)) = (links.pop(), links.pop()) else {
            return Err(DeployError::Invalid("two iterator links expected (a bug in sockasm)".into()));
        };
        Ok(Ok(Passes { maps, tcp, task, _progs: progs, namespaces: Vec::new(), pollwake: o.pollwake }))
    }

    fn map(&self, name: &str) -> Result<&Map> {
        self.maps.get(name).ok_or_else(|| DeployError::Invalid(format!("no {name} map (a bug in sockasm)")))
    }

    /// The attached cgroup's id and depth, `pollwake`'s address, and key 0
    /// of the busy map.
    fn config(&self, cg: &Cgroup) -> Result<()> {
        let md = std::fs::metadata(cg.path())
            .map_err(|e| DeployError::Invalid(format!("cannot stat {}: {e}", cg.path().display())))?;
        let mount = cgroup::cgroup2_mount()?;
        let mount = std::fs::canonicalize(&mount).unwrap_or(mount);
        let level = cg.path().strip_prefix(&mount).map_or(0, |rel| rel.components().count()) as u64;
        let mut v = vec![0u8; ad::CFG_VALUE_SIZE as usize];
        v[ad::CFG_OFF_CGROUP_ID as usize..][..8].copy_from_slice(&md.ino().to_ne_bytes());
        v[ad::CFG_OFF_CGROUP_LEVEL as usize..][..8].copy_from_slice(&level.to_ne_bytes());
        v[ad::CFG_OFF_POLLWAKE as usize..][..8].copy_from_slice(&self.pollwake.to_ne_bytes());
        self.map(ad::MAP_ADOPT_CONFIG)?
            .update(&0u32.to_ne_bytes(), &v, syscall::UpdateFlag::Any)
            .map_err(DeployError::step("writing the adopt configuration"))?;
        self.clear_busy()
    }

    fn set_mode(&self, mode: u64) -> Result<()> {
        let m = self.map(ad::MAP_ADOPT_CONFIG)?;
        let mut v = m
            .get(&0u32.to_ne_bytes())
            .map_err(DeployError::step("reading the adopt configuration"))?
            .unwrap_or_else(|| vec![0; ad::CFG_VALUE_SIZE as usize]);
        v[..8].copy_from_slice(&mode.to_ne_bytes());
        m.update(&0u32.to_ne_bytes(), &v, syscall::UpdateFlag::Any)
            .map_err(DeployError::step("writing the adopt configuration"))
    }

    /// Empties the busy map, except key 0 (everything busy), set to 0.
    fn clear_busy(&self) -> Result<()> {
        let busy = self.map(ad::MAP_ADOPT_BUSY)?;
        let keys: Vec<Vec<u8>> =
            busy.keys().collect::<std::result::Result<_, _>>().map_err(DeployError::step("listing adopt_busy"))?;
        for key in keys {
            busy.delete(&key).map_err(DeployError::step("clearing adopt_busy"))?;
        }
        busy.update(&0u64.to_ne_bytes(), &0u64.to_ne_bytes(), syscall::UpdateFlag::Any)
            .map_err(DeployError::step("resetting adopt_busy"))
    }

    /// One `iter/tcp` pass in every namespace, each from a thread that
    /// enters it (the iterator walks its creator's namespace).
    fn tcp_pass(&self, mode: u64) -> Result<()> {
        self.set_mode(mode)?;
        for ns in &self.namespaces {
            let link = self.tcp.as_fd();
            std::thread::scope(|s| {
                s.spawn(move || -> Result<()> {
                    nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                        DeployError::Invalid(format!("cannot enter a network namespace of the cgroup (setns): {e}"))
                    })?;
                    syscall::iter_run(link).map(|_| ()).map_err(DeployError::step("running the adopt pass"))
                })
                .join()
                .unwrap_or_else(|_| Err(DeployError::Invalid("the adopt pass thread panicked".into())))
            })?;
        }
        Ok(())
    }

    /// The task scan (all tasks; the iterator is not per namespace): how
    /// many sockets it marked, and whether it marked everything.
    fn task_pass(&self) -> Result<(u64, bool)> {
        self.clear_busy()?;
        syscall::iter_run(self.task.as_fd()).map_err(DeployError::step("running the task scan"))?;
        let busy = self.map(ad::MAP_ADOPT_BUSY)?;
        let (mut n, mut all) = (0, false);
        for key in busy.keys() {
            let key = key.map_err(DeployError::step("listing adopt_busy"))?;
            if key == 0u64.to_ne_bytes() {
                let v = busy.get(&key).map_err(DeployError::step("reading adopt_busy"))?.unwrap_or_default();
                all = v.iter().any(|b| *b != 0);
            } else {
                n += 1;
            }
        }
        Ok((n, all))
    }
}

/// The network namespaces of the processes in `cg` and below, one open
/// `/proc/PID/ns/net` each (a process that exits meanwhile is skipped).
fn namespaces(cg: &Cgroup) -> Result<Vec<File>> {
    let mut dirs = vec![cg.path().to_path_buf()];
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut walked = 0;
    while let Some(dir) = dirs.pop() {
        walked += 1;
        if walked > MAX_CGROUPS {
            return Err(DeployError::Invalid(format!(
                "more than {MAX_CGROUPS} cgroups below {}; use --no-adopt",
                cg.path().display()
            )));
        }
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
            // Every thread's: a thread may live in another namespace than
            // the process's first one (and its sockets with it).
            let tids: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
                .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            for tid in tids {
                let Ok(f) = File::open(format!("/proc/{pid}/task/{tid}/ns/net")) else { continue };
                let Ok(md) = f.metadata() else { continue };
                if seen.insert((md.dev(), md.ino())) {
                    out.push(f);
                }
            }
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            dirs.extend(rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()));
        }
    }
    Ok(out)
}

/// How many adopted sockets are not confirmed.
fn unconfirmed(info: &Map) -> Result<u64> {
    let mut n = 0;
    for key in info.keys() {
        let key = key.map_err(DeployError::step("listing sock_info entries"))?;
        if let Some(v) = info.get(&key).map_err(DeployError::step("reading a sock_info entry"))? {
            let w = confirm_word(&v);
            if w != 0 && w & CONFIRM_CONFIRMED as u64 == 0 {
                n += 1;
            }
        }
    }
    Ok(n)
}

fn confirm_word(v: &[u8]) -> u64 {
    v.get(INFO_OFF_CONFIRM as usize..INFO_OFF_CONFIRM as usize + 8)
        .map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
}

/// After a failure: every adopted socket not confirmed leaves the map (no
/// bytes were ever redirected into it). Best effort.
fn undo(info: &Map, sock_hash: &Map) {
    let keys: Vec<Vec<u8>> = info.keys().flatten().collect();
    for key in keys {
        if let Ok(Some(v)) = info.get(&key) {
            let w = confirm_word(&v);
            if w != 0 && w & CONFIRM_CONFIRMED as u64 == 0 {
                let _ = sock_hash.delete(&key);
                let _ = info.delete(&key);
            }
        }
    }
}
