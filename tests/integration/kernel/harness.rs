//! Test environments that clean up after themselves: a child cgroup directly
//! under the cgroup2 mount, a pin dir on bpffs, optional network namespaces,
//! and worker processes that are killed (by their own PID) on drop.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::json::{Field, Value, parse};

pub const BIN: &str = env!("CARGO_BIN_EXE_sockasm");
/// Each worker gives up after this many seconds (its own watchdog).
pub const WORKER_TIMEOUT_S: u64 = 60;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// `PREFIX-<pid>-<n>`, unique within this machine for this run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// The cgroup2 mount point (the library's own discovery).
pub fn cgroup2_mount() -> PathBuf {
    static M: OnceLock<PathBuf> = OnceLock::new();
    M.get_or_init(|| sockasm::cgroup::cgroup2_mount().unwrap_or_else(|e| panic!("{e}"))).clone()
}

/// Runs `sockasm ARGS` to completion (bounded by the commands themselves).
pub fn sockasm(args: &[&str]) -> Output {
    Command::new(BIN).args(args).stdin(Stdio::null()).output().expect("run sockasm")
}

pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run_quiet(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd).args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("run {cmd} {args:?}: {e}"))
}

/// The counters of `status --json`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub sockets_added: u64,
    pub insert_failures: u64,
    pub redirected_msgs: u64,
    pub redirected_bytes: u64,
    pub passed_msgs: u64,
    pub passed_bytes: u64,
    pub small_write_streams: u64,
    pub sockets_left: u64,
    pub spills: u64,
    pub tcp_peer_queue_full: u64,
    pub tcp_no_peer: u64,
    pub tcp_peer_stale: u64,
    pub tcp_small_write_stream: u64,
    pub tcp_for_good: u64,
    pub sockets_skipped_by_port: u64,
    pub sockets_refused_repair: u64,
    pub tcp_other_netns: u64,
    pub sockets_adopted: u64,
    pub sockets_adopt_confirmed: u64,
    pub sockets_adopt_deferred: u64,
    pub sockets_adopt_unpaired: u64,
    pub tcp_peer_unconfirmed: u64,
    pub adopt_key_checks: u64,
    pub adopt_key_mismatches: u64,
}

impl Counters {
    pub fn from_status(s: &Value) -> Counters {
        Counters {
            sockets_added: s.u64("counters.sockets_added"),
            insert_failures: s.u64("counters.insert_failures"),
            redirected_msgs: s.u64("counters.redirected_msgs"),
            redirected_bytes: s.u64("counters.redirected_bytes"),
            passed_msgs: s.u64("counters.passed_msgs"),
            passed_bytes: s.u64("counters.passed_bytes"),
            small_write_streams: s.u64("counters.small_write_streams"),
            sockets_left: s.u64("counters.sockets_left"),
            spills: s.u64("counters.spills"),
            tcp_peer_queue_full: s.u64("counters.tcp_peer_queue_full"),
            tcp_no_peer: s.u64("counters.tcp_no_peer"),
            tcp_peer_stale: s.u64("counters.tcp_peer_stale"),
            tcp_small_write_stream: s.u64("counters.tcp_small_write_stream"),
            tcp_for_good: s.u64("counters.tcp_for_good"),
            sockets_skipped_by_port: s.u64("counters.sockets_skipped_by_port"),
            sockets_refused_repair: s.u64("counters.sockets_refused_repair"),
            tcp_other_netns: s.u64("counters.tcp_other_netns"),
            sockets_adopted: s.u64("counters.sockets_adopted"),
            sockets_adopt_confirmed: s.u64("counters.sockets_adopt_confirmed"),
            sockets_adopt_deferred: s.u64("counters.sockets_adopt_deferred"),
            sockets_adopt_unpaired: s.u64("counters.sockets_adopt_unpaired"),
            tcp_peer_unconfirmed: s.u64("counters.tcp_peer_unconfirmed"),
            adopt_key_checks: s.u64("counters.adopt_key_checks"),
            adopt_key_mismatches: s.u64("counters.adopt_key_mismatches"),
        }
    }
    pub fn since(&self, before: &Counters) -> Counters {
        Counters {
            sockets_added: self.sockets_added - before.sockets_added,
            insert_failures: self.insert_failures - before.insert_failures,
            redirected_msgs: self.redirected_msgs - before.redirected_msgs,
            redirected_bytes: self.redirected_bytes - before.redirected_bytes,
            passed_msgs: self.passed_msgs - before.passed_msgs,
            passed_bytes: self.passed_bytes - before.passed_bytes,
            small_write_streams: self.small_write_streams - before.small_write_streams,
            sockets_left: self.sockets_left - before.sockets_left,
            spills: self.spills - before.spills,
            tcp_peer_queue_full: self.tcp_peer_queue_full - before.tcp_peer_queue_full,
            tcp_no_peer: self.tcp_no_peer - before.tcp_no_peer,
            tcp_peer_stale: self.tcp_peer_stale - before.tcp_peer_stale,
            tcp_small_write_stream: self.tcp_small_write_stream - before.tcp_small_write_stream,
            tcp_for_good: self.tcp_for_good - before.tcp_for_good,
            sockets_skipped_by_port: self.sockets_skipped_by_port - before.sockets_skipped_by_port,
            sockets_refused_repair: self.sockets_refused_repair - before.sockets_refused_repair,
            tcp_other_netns: self.tcp_other_netns - before.tcp_other_netns,
            sockets_adopted: self.sockets_adopted - before.sockets_adopted,
            sockets_adopt_confirmed: self.sockets_adopt_confirmed - before.sockets_adopt_confirmed,
            sockets_adopt_deferred: self.sockets_adopt_deferred - before.sockets_adopt_deferred,
            sockets_adopt_unpaired: self.sockets_adopt_unpaired - before.sockets_adopt_unpaired,
            tcp_peer_unconfirmed: self.tcp_peer_unconfirmed - before.tcp_peer_unconfirmed,
            adopt_key_checks: self.adopt_key_checks - before.adopt_key_checks,
            adopt_key_mismatches: self.adopt_key_mismatches - before.adopt_key_mismatches,
        }
    }
}

/// One test's cgroup + pin dir (+ namespaces). Dropping it unloads, kills
/// whatever is left in its cgroup, removes the cgroup, the pins and the
/// namespaces.
pub struct Env {
    pub name: String,
    pub cg: PathBuf,
    pub pin: PathBuf,
    netns: Vec<String>,
}

impl Env {
    pub fn new() -> Env {
        let name = unique("sockasm-test");
        let mount = cgroup2_mount();
        let cg = mount.join(&name);
        assert_ne!(cg, mount);
        std::fs::create_dir(&cg).unwrap_or_else(|e| panic!("mkdir {}: {e}", cg.display()));
        let pin = Path::new("/sys/fs/bpf").join(&name);
        Env { name, cg, pin, netns: Vec::new() }
    }

    /// Another cgroup (directly under the mount) sharing `pin`.
    pub fn new_with_pin(pin: &Path) -> Env {
        let mut e = Env::new();
        e.pin = pin.to_path_buf();
        e
    }

    /// A cgroup inside `parent`'s cgroup, sharing its pin dir. Drop it before
    /// the parent (declare it after).
    pub fn new_child(parent: &Env) -> Env {
        let name = unique("sockasm-test-child");
        let cg = parent.cg.join(&name);
        std::fs::create_dir(&cg).unwrap_or_else(|e| panic!("mkdir {}: {e}", cg.display()));
        Env { name, cg, pin: parent.pin.clone(), netns: Vec::new() }
    }

    pub fn cg_str(&self) -> &str {
        self.cg.to_str().expect("utf-8 cgroup path")
    }
    pub fn pin_str(&self) -> &str {
        self.pin.to_str().expect("utf-8 pin path")
    }

    pub fn try_load(&self, extra: &[&str]) -> Output {
        let mut args = vec!["load", "--cgroup", self.cg_str(), "--pin-dir", self.pin_str()];
        args.extend_from_slice(extra);
        sockasm(&args)
    }

    pub fn load(&self, extra: &[&str]) {
        let o = self.try_load(extra);
        assert!(o.status.success(), "sockasm load failed:\n{}", show(&o));
    }

    pub fn unload(&self) -> Output {
        sockasm(&["unload", "--cgroup", self.cg_str(), "--pin-dir", self.pin_str()])
    }

    pub fn status(&self) -> Value {
        status_of(&self.pin)
    }

    pub fn counters(&self) -> Counters {
        Counters::from_status(&self.status())
    }

    pub fn entries(&self) -> u64 {
        self.status().u64("map.entries")
    }

    /// Polls until the SOCKHASH is empty (sockets leave it on close).
    pub fn wait_entries_zero(&self, within: Duration) -> u64 {
        let end = Instant::now() + within;
        loop {
            let n = self.entries();
            if n == 0 || Instant::now() >= end {
                return n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new network namespace with `lo` up, deleted on drop.
    pub fn add_netns(&mut self) -> String {
        let name = unique("sockasm-t");
        let o = run_quiet("ip", &["netns", "add", &name]);
        assert!(o.status.success(), "ip netns add {name}: {}", show(&o));
        self.netns.push(name.clone());
        let o = run_quiet("ip", &["-n", &name, "link", "set", "lo", "up"]);
        assert!(o.status.success(), "ip -n {name} link set lo up: {}", show(&o));
        name
    }

    /// Starts a worker. `in_cg`: join this env's cgroup first.
    pub fn worker(&self, in_cg: bool, netns: Option<&str>, role_args: &[&str]) -> Worker {
        self.worker_opts(in_cg, netns, &[], role_args)
    }

    /// A worker in this env's cgroup with `opts` (e.g. `--cpu 0`) before its role.
    pub fn worker_with(&self, in_cg: bool, opts: &[&str], role_args: &[&str]) -> Worker {
        self.worker_opts(in_cg, None, opts, role_args)
    }

    /// [`Env::server`] with worker options.
    pub fn server_with(&self, in_cg: bool, opts: &[&str], role_args: &[&str]) -> (Worker, u16) {
        let mut args = vec!["serve"];
        args.extend_from_slice(role_args);
        let mut w = self.worker_opts(in_cg, None, opts, &args);
        let port = w.wait_listening(Duration::from_secs(20));
        (w, port)
    }

    fn worker_opts(&self, in_cg: bool, netns: Option<&str>, opts: &[&str], role_args: &[&str]) -> Worker {
        let timeout = WORKER_TIMEOUT_S.to_string();
        let mut args: Vec<&str> = vec!["worker", "--timeout", &timeout];
        args.extend_from_slice(opts);
        if in_cg {
            args.extend_from_slice(&["--cgroup", self.cg_str()]);
        }
        if let Some(ns) = netns {
            args.extend_from_slice(&["--netns", ns]);
        }
        args.extend_from_slice(role_args);
        Worker::spawn(&args)
    }

    /// Starts a server worker and waits for its `{"listening": port}` line.
    pub fn server(&self, in_cg: bool, netns: Option<&str>, role_args: &[&str]) -> (Worker, u16) {
        let mut args = vec!["serve"];
        args.extend_from_slice(role_args);
        let mut w = self.worker(in_cg, netns, &args);
        let port = w.wait_listening(Duration::from_secs(20));
        (w, port)
    }

    pub fn client(&self, in_cg: bool, netns: Option<&str>, role_args: &[&str]) -> Worker {
        let mut args = vec!["client"];
        args.extend_from_slice(role_args);
        self.worker(in_cg, netns, &args)
    }

    /// Pids currently in the cgroup.
    pub fn pids(&self) -> Vec<u32> {
        std::fs::read_to_string(self.cg.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Only our workers ever join this cgroup: end them first, so their
        // sockets leave the map and unload can remove everything.
        if !self.pids().is_empty() {
            let _ = std::fs::write(self.cg.join("cgroup.kill"), "1");
            let end = Instant::now() + Duration::from_secs(5);
            while !self.pids().is_empty() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            // Fallback: move strays out to the root cgroup.
            for pid in self.pids() {
                let _ = std::fs::write(cgroup2_mount().join("cgroup.procs"), pid.to_string());
            }
        }
        let o = self.unload();
        if !o.status.success() {
            eprintln!("[{}] cleanup: unload failed:\n{}", self.name, show(&o));
        }
        for _ in 0..100 {
            match std::fs::remove_dir(&self.cg) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        if self.cg.exists() {
            eprintln!("[{}] cleanup: could not remove {}", self.name, self.cg.display());
        }
        if self.pin.exists() {
            let _ = std::fs::remove_dir_all(&self.pin);
        }
        for ns in &self.netns {
            let _ = run_quiet("ip", &["netns", "del", ns]);
        }
    }
}

/// `sockasm status --pin-dir DIR --json`, parsed.
pub fn status_of(pin: &Path) -> Value {
    let o = sockasm(&["status", "--pin-dir", pin.to_str().expect("utf-8"), "--json"]);
    let text = String::from_utf8_lossy(&o.stdout);
    let v = parse(text.trim()).unwrap_or_else(|e| panic!("status --json is not one JSON object ({e}):\n{}", show(&o)));
    assert!(matches!(v, Value::Object(_)), "status --json: {}", show(&o));
    v
}

/// A running `sockasm worker`; killed by its PID when dropped.
pub struct Worker {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    args: String,
    last: Option<String>,
}

impl Worker {
    fn spawn(args: &[&str]) -> Worker {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockasm worker");
        let (tx, lines) = channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = capture(child.stderr.take().expect("stderr"));
        Worker { child, lines, stderr, args: args.join(" "), last: None }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn next_line(&mut self, within: Duration) -> Option<String> {
        match self.lines.recv_timeout(within) {
            Ok(l) => Some(l),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the `{"ready": true}` line of a gated worker.
    pub fn wait_ready(&mut self, within: Duration) {
        match self.next_line(within) {
            Some(l) if parse(&l).is_ok_and(|v| v.get("ready") == Some(&Value::Bool(true))) => {}
            other => {
                self.kill();
                panic!("worker `{}` did not get ready (got {other:?}); stderr:\n{}", self.args, self.stderr());
            }
        }
    }

    pub fn wait_listening(&mut self, within: Duration) -> u16 {
        let line = self.next_line(within);
        let Some(line) = line else {
            self.kill();
            panic!("worker `{}` printed no listening line; stderr:\n{}", self.args, self.stderr());
        };
        let v = parse(&line).unwrap_or_else(|e| panic!("worker `{}`: {e}", self.args));
        match v.get("listening") {
            // AF_UNIX: no port.
            Some(Value::Null) => 0,
            Some(p) if p.as_u64().is_some_and(|p| p <= 0xffff) => p.as_u64().unwrap_or_default() as u16,
            _ => panic!("worker `{}`: want a listening line, got {line}; stderr:\n{}", self.args, self.stderr()),
        }
    }

    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Waits for exit (killing it after `within`) and returns the last JSON
    /// line and whether the exit was successful.
    pub fn outcome(&mut self, within: Duration) -> (bool, Option<Value>, String) {
        let end = Instant::now() + within;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    self.kill();
                    break None;
                }
            }
        };
        // Drain stdout (the reader thread ends at EOF).
        while let Some(l) = self.next_line(Duration::from_millis(500)) {
            self.last = Some(l);
        }
        std::thread::sleep(Duration::from_millis(20));
        let v = self.last.as_deref().and_then(|l| parse(l).ok());
        let ok = status.is_some_and(|s| s.success());
        let why = match status {
            None => format!("worker `{}` killed after {within:?}", self.args),
            Some(s) => format!("worker `{}` exited with {s}", self.args),
        };
        (ok, v, format!("{why}\nlast line: {:?}\nstderr:\n{}", self.last, self.stderr()))
    }

    /// Waits for a successful exit and returns the result line.
    pub fn finish(&mut self) -> Value {
        let (ok, v, why) = self.outcome(Duration::from_secs(WORKER_TIMEOUT_S + 10));
        match v {
            Some(v) if ok && v.get("ok") == Some(&Value::Bool(true)) => v,
            _ => panic!("{why}"),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `Tcp: OutSegs` from /proc/net/snmp, in the given namespace (or ours).
pub fn tcp_out_segs(netns: Option<&str>) -> u64 {
    let text = match netns {
        Some(ns) => {
            let o = run_quiet("ip", &["netns", "exec", ns, "cat", "/proc/net/snmp"]);
            assert!(o.status.success(), "{}", show(&o));
            String::from_utf8_lossy(&o.stdout).into_owned()
        }
        None => std::fs::read_to_string("/proc/net/snmp").expect("read /proc/net/snmp"),
    };
    let tcp: Vec<&str> = text.lines().filter(|l| l.starts_with("Tcp:")).collect();
    assert!(tcp.len() >= 2, "no Tcp lines in /proc/net/snmp");
    let names: Vec<&str> = tcp[0].split_whitespace().collect();
    let vals: Vec<&str> = tcp[1].split_whitespace().collect();
    let i = names.iter().position(|n| *n == "OutSegs").expect("OutSegs column");
    vals[i].parse().expect("OutSegs value")
}

pub fn bpftool() -> Option<&'static str> {
    ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/usr/local/sbin/bpftool"].into_iter().find(|p| Path::new(p).exists())
}

/// Program lines of `bpftool cgroup show CG` (empty when nothing is attached).
pub fn cgroup_attachments(cg: &Path) -> Option<Vec<String>> {
    let tool = bpftool()?;
    let o = run_quiet(tool, &["cgroup", "show", cg.to_str()?]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    Some(
        text.lines()
            .skip_while(|l| !l.trim_start().starts_with("ID"))
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// Collects what a child writes to `pipe`, in a thread, into a string the
/// test can read at any time.
pub fn capture(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap_or_else(|e| e.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}
