//! `sockasm bench`: the bypass against plain loopback TCP and AF_UNIX.
//!
//! The run owns everything it touches: a temporary child cgroup directly
//! under the cgroup2 mount (`sockasm-bench-<pid>-…`) and a pin directory
//! (`/sys/fs/bpf/sockasm-bench-<pid>-…`). It loads the built-in programs
//! there ([`crate::deploy::load`], timed, with verifier statistics), runs every cell
//! (workload × size × transport, `repeat` times, interleaved so drift hits all
//! transports alike), then unloads and removes both directories, on every
//! exit path ([`Scratch`]'s `Drop`), Ctrl-C included ([`Interrupt`]).
//!
//! Each cell is two child processes of the same executable, two hidden
//! `sockasm worker`s ([`crate::traffic`]): a server and a client. Every byte
//! is checked against the workload pattern: the server checks each request
//! or stream byte, the client each echo, and a stream ends with the server's
//! `[received length, OK]` trailer, so a lost or duplicated byte fails the
//! cell. For the bypass rows both first join the
//! benchmark's cgroup; for TCP and AF_UNIX neither does. The benchmark
//! process itself never joins. After each cell the bypass's counters
//! ([`crate::deploy::status`]) and the endpoints' own `/proc/self/cgroup` must show
//! it: both sockets of every connection added to the map and bytes
//! redirected for bypass rows, no counter moved at all for the others.
//! Anything else fails the run.

pub mod proc;
mod report;
pub mod sample;
mod svg;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cgroup::{self, CgroupError};
use crate::deploy::{DeployError, LoadOptions, ProgStatus, Scratch, scratch};
use crate::progs::counters::{Counter, Totals};
use crate::traffic::probe;
use crate::traffic::report::{self as wire, ClientReport, Listening, ServeReport};

pub use proc::Interrupt;
use proc::Proc;
pub use sample::Samples;

/// Prefix of the cgroup and pin directory names.
pub const NAME_PREFIX: &str = scratch::BENCH_PREFIX;
pub const DEFAULT_SIZES: [usize; 5] = [64, 1024, 16 * 1024, 64 * 1024, 1 << 20];
const MAX_SIZE: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("cannot start a benchmark endpoint: {0}")]
    Spawn(String),
    #[error("benchmark endpoint failed: {0}")]
    Endpoint(String),
    #[error("the benchmark's processes are not where they should be: {0}")]
    Placement(String),
    #[error("{0}")]
    Invalid(String),
}

/// Label hashed into every stream header: the server rejects anything else.
pub const TAG: &str = "sockasm-bench";
/// The stream reader's buffer.
pub const STREAM_READ_BUF: usize = 64 * 1024;

/// What one cell measures.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub enum Workload {
    /// Request/response ping-pong with TCP_NODELAY: one `size`-byte request,
    /// the same bytes back, next request.
    Rr,
    /// One-way stream of `size`-byte writes; the reader reads 64 KiB at a time.
    Stream,
}

impl Workload {
    pub const ALL: [Workload; 2] = [Workload::Rr, Workload::Stream];
    pub fn name(self) -> &'static str {
        match self {
            Workload::Rr => "rr",
            Workload::Stream => "stream",
        }
    }
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Workload, String> {
        Workload::ALL.into_iter().find(|w| w.name() == s).ok_or_else(|| format!("unknown workload {s:?} (rr, stream)"))
    }
}

/// What carries the bytes of a row. The workers only see an address; whether
/// TCP goes through the bypass depends on the cgroup they run in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    /// TCP over loopback, both ends in the cgroup with the bypass attached.
    Bypass,
    /// TCP over loopback, outside any bypassed cgroup.
    Tcp,
    /// AF_UNIX stream socket.
    Unix,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Bypass, Transport::Tcp, Transport::Unix];
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Bypass => "bypass",
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
        }
    }
}

/// Where the two endpoints of a cell run.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub enum Placement {
    /// Server and client pinned to two different CPUs: every round trip
    /// wakes the other CPU (on a VM, an idle virtual CPU: tens of µs).
    Spread,
    /// Both pinned to one CPU: no cross-CPU wake-up, so what remains is what
    /// the network stack (or the bypass) costs.
    SameCpu,
    /// Nothing pinned: the scheduler decides where each endpoint runs, and
    /// may move it, as it does for every service in production. The report
    /// says where they ran ([`Measurement::together`]).
    Free,
}

impl Placement {
    pub const ALL: [Placement; 3] = [Placement::Spread, Placement::SameCpu, Placement::Free];
    pub fn name(self) -> &'static str {
        match self {
            Placement::Spread => "spread",
            Placement::SameCpu => "same-cpu",
            Placement::Free => "free",
        }
    }
    /// The placement pins its endpoints (sched_setaffinity).
    pub fn pinned(self) -> bool {
        self != Placement::Free
    }
}

impl FromStr for Placement {
    type Err = String;
    fn from_str(s: &str) -> Result<Placement, String> {
        Placement::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown placement {s:?} (spread, same-cpu, free, all)"))
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Measured seconds per cell.
    pub seconds: f64,
    /// Runs per cell; the median is reported.
    pub repeat: u32,
    pub sizes: Vec<usize>,
    /// Connections in parallel per cell.
    pub conns: u32,
    pub workloads: Vec<Workload>,
    pub placements: Vec<Placement>,
    /// The executable that has the hidden `worker` subcommand.
    pub exe: PathBuf,
    /// Progress line on stderr.
    pub progress: bool,
    /// One line per cell on stderr.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seconds: 1.0,
            repeat: 3,
            sizes: DEFAULT_SIZES.to_vec(),
            conns: 1,
            workloads: Workload::ALL.to_vec(),
            placements: Placement::ALL.to_vec(),
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sockasm")),
            progress: true,
            verbose: false,
        }
    }
}

impl Config {
    /// Warm-up before each measured window: a fifth of it, 10 ms to 0.5 s.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64((self.seconds / 5.0).clamp(0.01, 0.5))
    }

    pub fn measure(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }

    pub fn validate(&self) -> Result<(), BenchError> {
        let bad = |m: String| Err(BenchError::Invalid(m));
        if !(self.seconds.is_finite() && self.seconds >= 0.001 && self.seconds <= 600.0) {
            return bad(format!("--seconds must be between 0.001 and 600, not {}", self.seconds));
        }
        if !(1..=100).contains(&self.repeat) {
            return bad(format!("--repeat must be between 1 and 100, not {}", self.repeat));
        }
        if !(1..=512).contains(&self.conns) {
            return bad(format!("--conns must be between 1 and 512, not {}", self.conns));
        }
        if self.sizes.is_empty() || self.sizes.len() > 32 {
            return bad("--sizes needs 1 to 32 sizes".into());
        }
        if let Some(s) = self.sizes.iter().find(|s| **s == 0 || **s > MAX_SIZE) {
            return bad(format!("size {s} out of range (1 B to 64 MiB)"));
        }
        if self.workloads.is_empty() {
            return bad("no workload selected".into());
        }
        if self.placements.is_empty() {
            return bad("no placement selected".into());
        }
        Ok(())
    }

    /// Cells in one full run.
    pub fn cells(&self) -> usize {
        self.repeat as usize * self.placements.len() * self.workloads.len() * self.sizes.len() * Transport::ALL.len()
    }
}

/// Counter deltas a cell caused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delta(pub [u64; Counter::ALL.len()]);

impl Delta {
    fn between(before: &Totals, after: &Totals) -> Delta {
        let mut d = [0u64; Counter::ALL.len()];
        for (i, v) in d.iter_mut().enumerate() {
            *v = after.0[i].saturating_sub(before.0[i]);
        }
        Delta(d)
    }
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }
    fn add(&mut self, o: &Delta) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
    }
    fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }
}

/// One measured cell (one run).
#[derive(Clone, Debug)]
pub struct Measurement {
    pub placement: Placement,
    pub workload: Workload,
    pub size: usize,
    pub transport: Transport,
    pub run: u32,
    pub tps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub gbps: f64,
    /// Bytes the receiving ends checked against the pattern.
    pub verified_bytes: u64,
    pub counters: Delta,
    pub spurious_eagain: u64,
    /// CPU time (user + system) of both endpoints in the measured window, in
    /// µs per transaction (rr) or per GiB (stream).
    pub cpu_us_per_op: f64,
    /// CPUs the server's and the client's threads were seen on (`0,1`).
    pub ran_on: (String, String),
    /// Where both ran, sampled from outside every few ms while the cell ran.
    pub samples: Samples,
}

/// The median of a cell over its runs.
#[derive(Clone, Debug)]
pub struct Row {
    pub placement: Placement,
    pub workload: Workload,
    pub size: usize,
    pub conns: u32,
    pub transport: Transport,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub tps: Option<f64>,
    pub gbps: Option<f64>,
    pub verified_bytes: u64,
    pub counters: Delta,
    /// tps (rr) or Gbit/s (stream) of each run.
    pub runs: Vec<f64>,
    /// Median over the runs of [`Measurement::cpu_us_per_op`].
    pub cpu_us_per_op: f64,
    /// CPUs the server's and the client's threads were seen on, all runs.
    pub ran_on: (String, String),
    /// The samples of all runs together.
    pub samples: Samples,
}

/// The machine the numbers come from.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            cpu_model,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
        }
    }
}

/// Everything `sockasm bench` prints.
#[derive(Clone, Debug)]
pub struct Report {
    pub config: Config,
    pub machine: Machine,
    pub rows: Vec<Row>,
    pub measurements: Vec<Measurement>,
    /// Wall time of `deploy::load`: create maps, load and verify both programs, attach, pin.
    pub load: Duration,
    pub unload: Duration,
    pub programs: Vec<ProgStatus>,
    pub cgroup: PathBuf,
    pub pin_dir: PathBuf,
    /// CPUs of the server and the client: same-cpu puts both on the first,
    /// spread the client on the second (free pins neither).
    pub cpus: (usize, usize),
    /// The CPUs this process, and so a free endpoint, may run on.
    pub allowed: Vec<usize>,
    /// Both directories were gone at the end.
    pub cleaned_up: bool,
    pub total: Duration,
}

static SOCK_SEQ: AtomicU64 = AtomicU64::new(0);

fn micros(d: Duration) -> String {
    d.as_micros().to_string()
}

/// `/x/y` relative to the cgroup2 mount, as /proc/PID/cgroup shows it.
fn cgroup_rel(path: &Path) -> Result<String, BenchError> {
    let mount = cgroup::cgroup2_mount()?;
    let rel = path
        .strip_prefix(&mount)
        .map_err(|_| BenchError::Invalid(format!("{} is not under {}", path.display(), mount.display())))?;
    Ok(format!("/{}", rel.display()))
}

struct Runner<'a> {
    cfg: &'a Config,
    cpus: (usize, usize),
    allowed: Vec<usize>,
    intr: &'a Arc<Interrupt>,
    cg_path: PathBuf,
    cg_rel: String,
    done: usize,
    total: usize,
    tty: bool,
    started: Instant,
}

impl Runner<'_> {
    /// CPUs of the server and the client in this placement (None: not pinned).
    fn cpus(&self, p: Placement) -> (Option<usize>, Option<usize>) {
        match p {
            Placement::SameCpu => (Some(self.cpus.0), Some(self.cpus.0)),
            Placement::Spread => (Some(self.cpus.0), Some(self.cpus.1)),
            Placement::Free => (None, None),
        }
    }

    fn progress(&mut self, p: Placement, w: Workload, size: usize, t: Transport, run: u32) {
        if !self.cfg.progress {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = if self.done > 0 { elapsed / self.done as f64 * (self.total - self.done) as f64 } else { 0.0 };
        let line = format!(
            "sockasm bench [{:>3}/{}] {:<8} {:<6} {:>7} {:<6} run {}/{}  ({:.0} s, ~{:.0} s left)",
            self.done + 1,
            self.total,
            p.name(),
            w.name(),
            report::fmt_size(size),
            t.name(),
            run,
            self.cfg.repeat,
            elapsed,
            eta
        );
        if self.tty {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }

    /// `sockasm worker` arguments of one end of a cell.
    fn worker_args(
        &self,
        t: Transport,
        cpu: Option<usize>,
        role: &str,
        ep: &str,
        w: Workload,
        size: usize,
    ) -> Vec<String> {
        let timeout = (self.cfg.warmup() + self.cfg.measure()).as_secs() + 30;
        let conns = self.cfg.conns.to_string();
        let mut a: Vec<String> = vec!["worker".into(), "--timeout".into(), timeout.to_string()];
        if let Some(cpu) = cpu {
            a.extend(["--cpu".into(), cpu.to_string()]);
        }
        a.extend(["--parent".into(), std::process::id().to_string()]);
        if t == Transport::Bypass {
            a.extend(["--cgroup".into(), self.cg_path.display().to_string()]);
        }
        let size_s = size.to_string();
        let mut more: Vec<&str> = vec![role, "--conns", &conns, "--warmup-us"];
        let warmup = micros(self.cfg.warmup());
        more.push(&warmup);
        let measure = micros(self.cfg.measure());
        let read_buf = STREAM_READ_BUF.to_string();
        if role == "serve" {
            more.extend(["--listen", ep, "--expect-tag", TAG, "--reader", "blocking"]);
            match w {
                Workload::Rr => more.extend(["--mode", "echo", "--msg-size", &size_s, "--buf-size", &size_s]),
                Workload::Stream => more.extend(["--mode", "sink", "--buf-size", &read_buf]),
            }
        } else {
            more.extend(["--connect", ep, "--concurrent", &conns, "--tag", TAG, "--measure-us", &measure]);
            match w {
                Workload::Rr => more.extend(["--mode", "pingpong", "--msg-size", &size_s, "--nodelay"]),
                Workload::Stream => more.extend(["--mode", "stream", "--write-size", &size_s]),
            }
        }
        a.extend(more.into_iter().map(String::from));
        a
    }

    /// The endpoint ran where it was pinned: its affinity is exactly `cpu`
    /// and its connection threads were seen on no other CPU. Unpinned (free),
    /// its affinity is this process's own, untouched, and it ran within it.
    fn check_cpu(&self, who: &str, at: &wire::Placement, cpu: Option<usize>, label: &str) -> Result<(), BenchError> {
        let (aff, ran) = (at.affinity.as_str(), at.ran_on.as_str());
        let Some(cpu) = cpu else {
            let want = probe::cpu_list(&self.allowed);
            let ok = ran.split(',').all(|c| c.parse().is_ok_and(|c: usize| self.allowed.contains(&c)));
            if aff != want || ran.is_empty() || !ok {
                return Err(BenchError::Placement(format!(
                    "{label}: the {who} should not be pinned (affinity {want}); its affinity is {aff:?} and it ran on {ran:?}"
                )));
            }
            return Ok(());
        };
        let want = cpu.to_string();
        if aff != want || ran.is_empty() || ran.split(',').any(|c| c != want) {
            return Err(BenchError::Placement(format!(
                "{label}: the {who} should run on CPU {cpu} only; its affinity is {aff:?} and it ran on {ran:?}"
            )));
        }
        Ok(())
    }

    fn check_cgroup(&self, who: &str, at: &wire::Placement, t: Transport) -> Result<(), BenchError> {
        let got = at.cgroup.as_str();
        let inside = got == self.cg_rel || got.starts_with(&format!("{}/", self.cg_rel));
        if (t == Transport::Bypass) != inside {
            return Err(BenchError::Placement(format!(
                "the {} {who} of a {} row runs in cgroup {got:?}; it should be {} {}",
                t.name(),
                t.name(),
                if t == Transport::Bypass { "in" } else { "outside" },
                self.cg_rel
            )));
        }
        Ok(())
    }

    fn cell(
        &mut self,
        sb: &Scratch,
        p: Placement,
        w: Workload,
        size: usize,
        t: Transport,
        run: u32,
    ) -> Result<Measurement, BenchError> {
        self.intr.check()?;
        let sock_path;
        let listen = match t {
            Transport::Unix => {
                sock_path = Some(PathBuf::from(format!(
                    "/tmp/{NAME_PREFIX}-{}-{}.sock",
                    std::process::id(),
                    SOCK_SEQ.fetch_add(1, Ordering::Relaxed)
                )));
                format!("unix:{}", sock_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default())
            }
            _ => {
                sock_path = None;
                "127.0.0.1:0".to_string()
            }
        };
        struct RmSock(Option<PathBuf>);
        impl Drop for RmSock {
            fn drop(&mut self) {
                if let Some(p) = &self.0 {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        let _rm = RmSock(sock_path);
        let before = sb.counters()?;
        let label = format!("{} {} {} {}", p.name(), w.name(), report::fmt_size(size), t.name());
        let (srv_cpu, cli_cpu) = self.cpus(p);
        let mut srv = Proc::spawn(
            &self.cfg.exe,
            &self.worker_args(t, srv_cpu, "serve", &listen, w, size),
            format!("{label} server"),
            self.intr,
        )?;
        let hello: Listening = srv.next_line(Duration::from_secs(20))?;
        let connect = match t {
            Transport::Unix => listen.clone(),
            _ => match hello.listening {
                Some(p @ 1..) => format!("127.0.0.1:{p}"),
                _ => return Err(BenchError::Endpoint(format!("{label} server: no port in its first line {hello:?}"))),
            },
        };
        let mut cli = Proc::spawn(
            &self.cfg.exe,
            &self.worker_args(t, cli_cpu, "client", &connect, w, size),
            format!("{label} client"),
            self.intr,
        )?;
        let within = self.cfg.warmup() + self.cfg.measure() + Duration::from_secs(40);
        let sampler = sample::Sampler::start(srv.pid(), cli.pid(), within);
        let c: ClientReport = cli.next_line(within)?;
        let samples = sampler.finish();
        let s: ServeReport = srv.next_line(Duration::from_secs(20))?;
        cli.finish(Duration::from_secs(10))?;
        srv.finish(Duration::from_secs(10))?;
        self.check_cgroup("client", &c.placement, t)?;
        self.check_cgroup("server", &s.placement, t)?;
        self.check_cpu("client", &c.placement, cli_cpu, &label)?;
        self.check_cpu("server", &s.placement, srv_cpu, &label)?;
        let d = Delta::between(&before, &sb.counters()?);
        let sent = c.bytes_sent;
        // Every byte either end received was checked against the pattern.
        let verified = s.bytes_in + c.bytes_received;
        if s.bytes_in != sent {
            return Err(BenchError::Endpoint(format!(
                "{label}: the client sent {sent} bytes, the server checked {}",
                s.bytes_in
            )));
        }
        let conns = self.cfg.conns as u64;
        if t == Transport::Bypass {
            // Both ends of every connection entered the map (so both were in
            // the cgroup), and sk_msg saw every byte (rr requests and echoes,
            // or the stream and its 16-byte trailers) unless a socket moved to
            // TCP for good and left the map; after that sk_msg no longer runs
            // for its writes. Bytes over TCP are not an error (the small-write
            // fallback does that on purpose) but the row reports them.
            let want = match w {
                Workload::Rr => 2 * sent,
                Workload::Stream => sent + 16 * conns,
            };
            let (redir, passed, added, left) = (
                d.get(Counter::RedirectedBytes),
                d.get(Counter::PassedBytes),
                d.get(Counter::SocketsAdded),
                d.get(Counter::SocketsLeft),
            );
            if redir == 0 || (redir + passed < want && left == 0) || added < 2 * conns {
                return Err(BenchError::Placement(format!(
                    "{label}: the bypass saw {} of {want} bytes ({redir} redirected, {passed} passed to TCP) and {added} sockets for {conns} connection(s): \
                     the endpoints were not both in {}; counters {d:?}",
                    redir + passed,
                    sb.cgroup().display()
                )));
            }
        } else if !d.is_zero() {
            return Err(BenchError::Placement(format!(
                "{label}: the bypass's counters moved ({d:?}) for a row whose endpoints should be outside {}",
                sb.cgroup().display()
            )));
        }
        // Both endpoints' own CPU accounting over the measured window.
        let cpu_us = (c.cpu_us + s.cpu_us) as f64;
        let ops = match w {
            Workload::Rr => c.transactions as f64,
            Workload::Stream => c.measured_bytes as f64 / GIB,
        };
        if !(cpu_us > 0.0 && ops > 0.0) {
            return Err(BenchError::Endpoint(format!(
                "{label}: no CPU time or no work recorded in the measured window ({cpu_us} µs, {ops} ops); \
                 try a longer --seconds"
            )));
        }
        let m = Measurement {
            placement: p,
            workload: w,
            size,
            transport: t,
            run,
            tps: c.tps,
            p50_us: c.p50_us,
            p99_us: c.p99_us,
            gbps: c.gbps,
            verified_bytes: verified,
            counters: d,
            spurious_eagain: c.spurious_eagain + s.spurious_eagain,
            cpu_us_per_op: cpu_us / ops,
            ran_on: (s.placement.ran_on.clone(), c.placement.ran_on.clone()),
            samples,
        };
        if self.cfg.verbose {
            if self.tty && self.cfg.progress {
                eprintln!();
            }
            eprintln!(
                "  {label} run {run}: {}, CPU {} (verified {} bytes, redirected {} bytes, spurious EAGAIN {})",
                match w {
                    Workload::Rr => format!("{:.0} tps, p50 {:.1} µs, p99 {:.1} µs", m.tps, m.p50_us, m.p99_us),
                    Workload::Stream => format!("{:.2} Gbit/s", m.gbps),
                },
                report::fmt_cpu(w, m.cpu_us_per_op),
                m.verified_bytes,
                d.get(Counter::RedirectedBytes),
                m.spurious_eagain
            );
        }
        Ok(m)
    }
}

/// The median (mean of the two middle values for an even count).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 }
}

/// The union of CPU lists (`0,1` and `1,2` give `0,1,2`).
fn union<'a>(lists: impl Iterator<Item = &'a String>) -> String {
    let set: std::collections::BTreeSet<usize> =
        lists.flat_map(|l| l.split(',').filter_map(|c| c.parse().ok())).collect();
    probe::cpu_list(&set)
}

fn rows(cfg: &Config, ms: &[Measurement]) -> Vec<Row> {
    let mut groups: BTreeMap<(usize, usize, usize, usize), Vec<&Measurement>> = BTreeMap::new();
    for m in ms {
        let pi = cfg.placements.iter().position(|p| *p == m.placement).unwrap_or(0);
        let wi = cfg.workloads.iter().position(|w| *w == m.workload).unwrap_or(0);
        let si = cfg.sizes.iter().position(|s| *s == m.size).unwrap_or(0);
        let ti = Transport::ALL.iter().position(|t| *t == m.transport).unwrap_or(0);
        groups.entry((pi, wi, si, ti)).or_default().push(m);
    }
    groups
        .into_values()
        .map(|g| {
            let f = |x: fn(&Measurement) -> f64| median(&g.iter().map(|m| x(m)).collect::<Vec<_>>());
            let rr = g[0].workload == Workload::Rr;
            let mut counters = Delta::default();
            let mut samples = Samples::default();
            for m in &g {
                counters.add(&m.counters);
                samples.add(&m.samples);
            }
            Row {
                placement: g[0].placement,
                workload: g[0].workload,
                size: g[0].size,
                conns: cfg.conns,
                transport: g[0].transport,
                p50_us: rr.then(|| f(|m| m.p50_us)),
                p99_us: rr.then(|| f(|m| m.p99_us)),
                tps: rr.then(|| f(|m| m.tps)),
                gbps: (!rr).then(|| f(|m| m.gbps)),
                verified_bytes: g.iter().map(|m| m.verified_bytes).sum(),
                counters,
                runs: g.iter().map(|m| if rr { m.tps } else { m.gbps }).collect(),
                cpu_us_per_op: f(|m| m.cpu_us_per_op),
                ran_on: (union(g.iter().map(|m| &m.ran_on.0)), union(g.iter().map(|m| &m.ran_on.1))),
                samples,
            }
        })
        .collect()
}

/// Warns when the benchmark's own cgroup already runs sock_ops programs
/// (another bypass on the host would make the "plain TCP" rows something else).
fn foreign_sock_ops_warning() -> Option<String> {
    let mount = cgroup::cgroup2_mount().ok()?;
    let own = probe::own_cgroup();
    let path = mount.join(own.trim_start_matches('/'));
    let cg = cgroup::Cgroup::open(&path).ok()?;
    let q = crate::syscall::query_cgroup_full(
        cg.fd(),
        crate::syscall::AttachType::CGROUP_SOCK_OPS,
        crate::syscall::BPF_F_QUERY_EFFECTIVE,
    )
    .ok()?;
    (!q.prog_ids.is_empty()).then(|| {
        format!(
            "warning: {} sock_ops program(s) already run for this process's cgroup {} (ids {:?}); the tcp and unix rows may not be plain",
            q.prog_ids.len(),
            path.display(),
            q.prog_ids
        )
    })
}

const GIB: f64 = (1u64 << 30) as f64;

/// The server's and the client's CPU for spread (same-cpu uses the first for
/// both): the first two CPUs this process may run on.
fn pick_cpus(placements: &[Placement], allowed: &[usize]) -> Result<(usize, usize), BenchError> {
    match allowed {
        [] => Err(BenchError::Invalid("cannot read this process's CPU affinity (sched_getaffinity)".into())),
        [one] if placements.contains(&Placement::Spread) => Err(BenchError::Invalid(format!(
            "--placement spread needs two CPUs, but this process may only run on CPU {one}; use --placement same-cpu"
        ))),
        [one] => Ok((*one, *one)),
        [a, b, ..] => Ok((*a, *b)),
    }
}

/// Runs the whole benchmark. Whatever happens (error, Ctrl-C through
/// `intr`), the children are killed, the bypass unloaded, and the cgroup and
/// pin directory removed before this returns.
pub fn run(cfg: &Config, intr: &Arc<Interrupt>) -> Result<Report, BenchError> {
    cfg.validate()?;
    if !nix::unistd::geteuid().is_root() {
        return Err(BenchError::Invalid(
            "sockasm bench needs root (it creates a cgroup and loads BPF programs)".into(),
        ));
    }
    let started = Instant::now();
    let allowed = probe::affinity();
    let cpus = pick_cpus(&cfg.placements, &allowed)?;
    if let Some(w) = foreign_sock_ops_warning() {
        eprintln!("sockasm bench: {w}");
    }
    intr.check()?;
    let mut sb = Scratch::create(NAME_PREFIX)?;
    let (cg_path, pin_path) = (sb.cgroup().to_path_buf(), sb.pin_dir().to_path_buf());
    if cfg.progress {
        eprintln!("sockasm bench: cgroup {}, pins {}", cg_path.display(), pin_path.display());
    }
    intr.check()?;
    let lr = sb.load(LoadOptions { verifier_stats: true, adopt: false, ..LoadOptions::default() })?;
    intr.check()?;
    let mut runner = Runner {
        cfg,
        cpus,
        allowed: allowed.clone(),
        intr,
        cg_rel: cgroup_rel(&cg_path)?,
        cg_path: cg_path.clone(),
        done: 0,
        total: cfg.cells(),
        tty: std::io::stderr().is_terminal(),
        started: Instant::now(),
    };
    let mut ms = Vec::with_capacity(runner.total);
    for run in 1..=cfg.repeat {
        for &w in &cfg.workloads {
            for &size in &cfg.sizes {
                for &p in &cfg.placements {
                    for t in Transport::ALL {
                        runner.progress(p, w, size, t, run);
                        ms.push(runner.cell(&sb, p, w, size, t, run)?);
                        runner.done += 1;
                    }
                }
            }
        }
    }
    if cfg.progress && runner.tty {
        eprintln!();
    }
    let unload = sb.unload()?;
    drop(sb);
    let cleaned_up = !cg_path.exists() && !pin_path.exists();
    if !cleaned_up {
        return Err(BenchError::Invalid(format!("could not remove {} or {}", cg_path.display(), pin_path.display())));
    }
    Ok(Report {
        config: cfg.clone(),
        machine: Machine::probe(),
        rows: rows(cfg, &ms),
        measurements: ms,
        load: lr.elapsed,
        unload,
        programs: lr.programs,
        cgroup: cg_path,
        pin_dir: pin_path,
        cpus,
        allowed,
        cleaned_up,
        total: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_config() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(union([String::from("1"), "0,1".into(), "".into()].iter()), "0,1");
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.cells(), 3 * 3 * 2 * 5 * 3);
        assert!(Config { placements: vec![], ..Config::default() }.validate().is_err());
        assert_eq!("same-cpu".parse::<Placement>(), Ok(Placement::SameCpu));
        assert_eq!("free".parse::<Placement>(), Ok(Placement::Free));
        assert!(!Placement::Free.pinned() && Placement::Spread.pinned());
        assert!("one".parse::<Placement>().is_err());
        assert_eq!(c.warmup(), Duration::from_millis(200));
        assert!(Config { seconds: 0.0, ..Config::default() }.validate().is_err());
        assert!(Config { sizes: vec![0], ..Config::default() }.validate().is_err());
        assert!(Config { conns: 0, ..Config::default() }.validate().is_err());
    }
}
