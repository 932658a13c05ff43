//! `sockasm worker` (hidden): one side of a checked traffic workload, for the
//! kernel tests and `sockasm bench` (each end of a cell). Pins itself to a
//! CPU, joins a cgroup and/or network namespace first (in that order), then
//! creates its sockets, so they are charged to that cgroup and live in that
//! namespace. Prints one JSON line with the result (servers print
//! `{"listening": PORT}` before it) and exits non-zero with a message on any
//! data mismatch.
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Result;
use crate::traffic::report::{Failed, Listening, line};
use crate::traffic::{self, ClientConfig, ClientMode, Endpoint, Listener, ReaderKind, ServeConfig, ServeMode};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Move this process into this cgroup v2 directory first.
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
    /// Then enter the network namespace /run/netns/NAME.
    #[arg(long)]
    pub netns: Option<String>,
    /// Pin this process to one CPU (sched_setaffinity) first.
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Exit with an error after this many seconds, whatever happens.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// The pid of the process that started this one: die with it, and do
    /// nothing if it has already ended (so a late worker never joins a cgroup).
    #[arg(long)]
    pub parent: Option<u32>,
    #[command(subcommand)]
    pub role: Role,
}

#[derive(clap::Subcommand, Debug)]
pub enum Role {
    /// Accept N connections and echo or sink each until EOF.
    Serve(ServeArgs),
    /// Open N connections (C at a time), send a checked pattern, verify.
    Client(ClientArgs),
    /// Both ends of one connection in this one thread: the reader reads
    /// exactly when the scenario says, whatever the machine's speed.
    Pair(PairArgs),
    /// Many connections, random writes, readers that change how they read
    /// at every call; every byte checked in order.
    Chaos(ChaosArgs),
    /// A connection opened before `sockasm load`, with a reader idle,
    /// blocked in recv() or busy while it runs (the adoption tests).
    Adopt(AdoptArgs),
}

#[derive(clap::Args, Debug)]
pub struct AdoptArgs {
    /// 127.0.0.1, ::1, or an address of the --listen-netns namespace
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// idle | plain | waitall | lowat | busy
    #[arg(long)]
    pub reader: crate::traffic::adopt::Reader,
    /// Bytes each way after the go file.
    #[arg(long, default_value_t = 1 << 20)]
    pub bytes: u64,
    /// Print {"ready": true} and wait for this file (run `sockasm load` meanwhile).
    #[arg(long)]
    pub go_file: PathBuf,
    /// Listen in the network namespace /run/netns/NAME (from a thread that stays there).
    #[arg(long)]
    pub listen_netns: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ChaosArgs {
    /// 127.0.0.1 or ::1
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 100)]
    pub conns: u64,
    /// Connections at a time.
    #[arg(long, default_value_t = 8)]
    pub parallel: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Bytes per connection: random between these two.
    #[arg(long, default_value_t = 16384)]
    pub min_bytes: u64,
    #[arg(long, default_value_t = 1 << 20)]
    pub max_bytes: u64,
    /// Read every time this way (plain, waitall, rcvlowat, peek, nonblocking,
    /// epoll, fionread) instead of a random way per call.
    #[arg(long)]
    pub reader: Option<String>,
    /// Every write this many bytes instead of a random size.
    #[arg(long)]
    pub write_size: Option<usize>,
    /// Pause this many ms after every second write instead of a random pause.
    #[arg(long)]
    pub pause_ms: Option<u64>,
    /// Bytes the accepting end writes back, started before, racing with, or
    /// after the forward stream's spill (the leave-against-redirect race).
    #[arg(long, default_value_t = 0)]
    pub reverse_bytes: u64,
}

#[derive(clap::Args, Debug)]
pub struct PairArgs {
    /// 127.0.0.1 or ::1
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// stall | bursts | small-stream | leave | pingpong | semantics | repair | fastopen
    #[arg(long)]
    pub scenario: String,
    #[arg(long, default_value_t = 65536)]
    pub write_size: usize,
    /// stall: give up filling after this many bytes (no push-back).
    #[arg(long, default_value_t = 1 << 30)]
    pub cap: u64,
    /// stall: bytes written after the push-back, while reading.
    #[arg(long, default_value_t = 8 << 20)]
    pub extra: u64,
    /// bursts, pingpong: rounds; small-stream: writes; fastopen: connections.
    #[arg(long, default_value_t = 20)]
    pub rounds: u32,
    /// bursts: bytes per burst.
    #[arg(long, default_value_t = 4 << 20)]
    pub burst: u64,
    /// Print {"ready": true} and wait for this file before the scenario.
    #[arg(long)]
    pub go_file: Option<PathBuf>,
    /// Listen on this port (0: any free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// ADDR:PORT (port 0 picks one), [::]:PORT (dual-stack), or unix:PATH.
    #[arg(long)]
    pub listen: Endpoint,
    #[arg(long, default_value_t = 1)]
    pub conns: u64,
    /// blocking | epoll-lt | epoll-et | fionread
    #[arg(long, default_value = "blocking")]
    pub reader: ReaderKind,
    /// echo | sink | drain
    #[arg(long, default_value = "echo")]
    pub mode: ServeMode,
    /// Reject streams whose header carries another tag (label).
    #[arg(long)]
    pub expect_tag: Option<String>,
    /// Keep each finished connection open this many ms before closing.
    #[arg(long, default_value_t = 0)]
    pub hold_ms: u64,
    #[arg(long, default_value_t = 65536)]
    pub buf_size: usize,
    /// Echo whole messages of this size (request/response).
    #[arg(long)]
    pub msg_size: Option<usize>,
    /// CPU time counts from this long after the last accept.
    #[arg(long, default_value_t = 0)]
    pub warmup_us: u64,
}

#[derive(clap::Args, Debug)]
pub struct ClientArgs {
    /// ADDR:PORT or unix:PATH.
    #[arg(long)]
    pub connect: Endpoint,
    #[arg(long, default_value_t = 1)]
    pub conns: u64,
    #[arg(long, default_value_t = 1)]
    pub concurrent: u64,
    /// Bytes per connection (stream header included).
    #[arg(long, default_value_t = 1 << 20)]
    pub bytes: u64,
    #[arg(long, default_value_t = 65536)]
    pub write_size: usize,
    /// shutdown(SHUT_WR) after sending and read the echo to EOF.
    #[arg(long)]
    pub half_close: bool,
    /// echo | stream | pingpong | send-close
    #[arg(long, default_value = "echo")]
    pub mode: ClientMode,
    /// Ping-pong message size.
    #[arg(long, default_value_t = 64)]
    pub msg_size: usize,
    /// Ping-pong rounds per connection.
    #[arg(long, default_value_t = 1000)]
    pub rounds: u64,
    /// Ping-pong and stream: warm up this long, then...
    #[arg(long, default_value_t = 0)]
    pub warmup_us: u64,
    /// ...measure this long, instead of --rounds or --bytes.
    #[arg(long)]
    pub measure_us: Option<u64>,
    /// Label hashed into every stream header (e.g. the namespace).
    #[arg(long, default_value = "")]
    pub tag: String,
    /// Index of the first connection.
    #[arg(long, default_value_t = 0)]
    pub first_conn: u64,
    /// Bind to this local ADDR:PORT (SO_REUSEADDR) before connecting.
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Set TCP_NODELAY.
    #[arg(long)]
    pub nodelay: bool,
}

fn print_line(v: &impl serde::Serialize) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line(v));
    let _ = out.flush();
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    let res = run_role(args);
    if let Err(e) = &res {
        print_line(&Failed::new(e.to_string()));
    }
    res
}

fn run_role(args: &Args) -> Result<()> {
    // If the starter dies, so does this worker, also when it died while this
    // process started: otherwise the worker would join the cgroup later and
    // keep it busy.
    if let Some(parent) = args.parent {
        crate::exec::die_with_parent(parent)?;
    }
    // Before any thread starts: threads inherit the affinity (and the namespace).
    if let Some(cpu) = args.cpu {
        let mut set = nix::sched::CpuSet::new();
        set.set(cpu).map_err(|e| format!("--cpu {cpu}: {e}"))?;
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
            .map_err(|e| format!("pinning to CPU {cpu}: {e} (is CPU {cpu} online and allowed?)"))?;
    }
    if let Some(cg) = &args.cgroup {
        traffic::enter_cgroup(cg)?;
    }
    if let Some(ns) = &args.netns {
        traffic::enter_netns(ns)?;
    }
    let timeout = Duration::from_secs(args.timeout.max(1));
    // Watchdog: whatever hangs, the process ends.
    let secs = args.timeout.max(1) + 5;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        eprintln!("sockasm worker: watchdog: still running after {secs} s, exiting");
        std::process::exit(3);
    });
    match &args.role {
        Role::Serve(a) => serve(a, timeout),
        Role::Client(a) => client(a, timeout),
        Role::Pair(a) => pair(a, timeout),
        Role::Chaos(a) => chaos(a, timeout),
        Role::Adopt(a) => {
            let cfg = crate::traffic::adopt::AdoptConfig {
                host: a.host.clone(),
                reader: a.reader,
                bytes: a.bytes,
                go_file: a.go_file.clone(),
                listen_netns: a.listen_netns.clone(),
                timeout,
            };
            print_line(&crate::traffic::adopt::run_adopt(&cfg)?);
            Ok(())
        }
    }
}

fn serve(a: &ServeArgs, timeout: Duration) -> Result<()> {
    traffic::raise_nofile(a.conns * 2 + 64)?;
    let listener = Listener::bind(&a.listen)?;
    print_line(&Listening { listening: listener.port() });
    let cfg = ServeConfig {
        conns: a.conns,
        reader: a.reader,
        mode: a.mode,
        expect_tag: a.expect_tag.as_deref().map(traffic::tag_hash),
        hold: Duration::from_millis(a.hold_ms),
        timeout,
        buf_size: a.buf_size.max(1),
        msg_size: a.msg_size,
        warmup: Duration::from_micros(a.warmup_us),
    };
    let r = traffic::serve(&listener, &cfg)?;
    print_line(&r.report());
    Ok(())
}

fn client(a: &ClientArgs, timeout: Duration) -> Result<()> {
    traffic::raise_nofile(a.concurrent.min(a.conns) * 2 + 64)?;
    let cfg = ClientConfig {
        connect: a.connect.clone(),
        conns: a.conns,
        concurrent: a.concurrent,
        bytes: a.bytes,
        write_size: a.write_size.max(1),
        half_close: a.half_close,
        mode: a.mode,
        msg_size: a.msg_size,
        rounds: a.rounds,
        warmup: Duration::from_micros(a.warmup_us),
        measure: a.measure_us.map(Duration::from_micros),
        tag: a.tag.clone(),
        first_conn: a.first_conn,
        bind: a.bind,
        nodelay: a.nodelay,
        timeout,
    };
    let r = traffic::run_client(&cfg)?;
    print_line(&r.report());
    Ok(())
}

fn chaos(a: &ChaosArgs, timeout: Duration) -> Result<()> {
    use crate::traffic::chaos::{ChaosConfig, ReadMode, run_chaos};
    let reader = match &a.reader {
        None => None,
        Some(r) => Some(ReadMode::parse(r).ok_or_else(|| {
            let names: Vec<&str> = ReadMode::ALL.iter().map(|m| m.name()).collect();
            format!("unknown --reader `{r}` ({})", names.join(", "))
        })?),
    };
    let cfg = ChaosConfig {
        host: a.host.clone(),
        conns: a.conns,
        parallel: a.parallel,
        seed: a.seed,
        min_bytes: a.min_bytes,
        max_bytes: a.max_bytes,
        reader,
        write_size: a.write_size.map(|n| n.max(1)),
        pause_ms: a.pause_ms,
        reverse_bytes: a.reverse_bytes,
        timeout,
    };
    print_line(&run_chaos(&cfg)?);
    Ok(())
}

fn pair(a: &PairArgs, timeout: Duration) -> Result<()> {
    use crate::traffic::pair::{PairConfig, Scenario, run_pair};
    let scenario = match a.scenario.as_str() {
        "stall" => Scenario::Stall { cap: a.cap, extra: a.extra },
        "bursts" => Scenario::Bursts { rounds: a.rounds, burst: a.burst },
        "small-stream" => Scenario::SmallStream { writes: a.rounds },
        "leave" => Scenario::Leave { writes: a.rounds },
        "pingpong" => Scenario::PingPong { rounds: a.rounds },
        "semantics" => Scenario::Semantics,
        "repair" => Scenario::Repair,
        "fastopen" => Scenario::FastOpen { conns: a.rounds },
        s => {
            return Err(format!(
                "unknown scenario `{s}` (stall, bursts, small-stream, leave, pingpong, semantics, repair, fastopen)"
            )
            .into());
        }
    };
    let cfg = PairConfig {
        host: a.host.clone(),
        scenario,
        write_size: a.write_size,
        go_file: a.go_file.clone(),
        timeout,
        port: a.port,
    };
    print_line(&run_pair(&cfg)?);
    Ok(())
}
