//! `sockasm exec` on the real kernel: a shell script's server and client pair
//! up through the bypass, CMD's status comes back, and whatever happens (a
//! crash, leftover children, SIGINT, a failing load, two runs at once) no
//! cgroup and no pin directory of the run is left. Needs root, cgroup v2 and
//! bpffs, like the kernel tests.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::kernel::harness::{cgroup2_mount, unique};
use crate::kernel::json::{Field, Value, parse};
use crate::kernel::kernel_ok;

const BIN: &str = env!("CARGO_BIN_EXE_sockasm");

/// Starts a server worker, waits (bounded) for its port, runs a checked
/// 1 MiB echo client against it, waits for the server, exits with $3.
const ECHO_SCRIPT: &str = r#"
set -e
B="$1"; D="$2"; code="$3"
"$B" worker --timeout 60 serve --listen 127.0.0.1:0 --conns 2 > "$D/srv" &
i=0
until grep -q listening "$D/srv" 2>/dev/null; do
  i=$((i+1)); [ "$i" -lt 3000 ] || { echo "server did not listen" >&2; exit 90; }
  sleep 0.01
done
port=$(sed -n 's/.*"listening": *\([0-9]*\).*/\1/p' "$D/srv" | head -n 1)
"$B" worker --timeout 60 client --connect "127.0.0.1:$port" --conns 2 --concurrent 2 --bytes 1048576 --half-close > "$D/cli"
wait
exit "$code"
"#;

/// A scratch directory in /tmp, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let p = std::env::temp_dir().join(unique("sockasm-exec-test"));
        std::fs::create_dir(&p).expect("mkdir scratch");
        Scratch(p)
    }
    fn s(&self) -> &str {
        self.0.to_str().expect("utf-8")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Cgroups and pin directories an exec run with this PID left.
fn leftovers(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("sockasm-exec-{pid}-");
    [cgroup2_mount(), PathBuf::from("/sys/fs/bpf")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// A running `sockasm exec`; SIGKILLed on drop if still running, and what it
/// left then removed with `unload --stale`.
struct Exec {
    child: Option<Child>,
    pid: u32,
    _scratch: Option<Scratch>,
}

impl Exec {
    fn spawn(args: &[&str]) -> Exec {
        let child = Command::new(BIN)
            .arg("exec")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockasm exec");
        Exec { pid: child.id(), child: Some(child), _scratch: None }
    }

    /// Waits at most `within` for the exit; output and the JSON summary
    /// (stderr's last line), when there is one.
    fn finish(&mut self, within: Duration) -> (Output, Option<Value>) {
        let mut child = self.child.take().expect("running");
        let end = Instant::now() + within;
        while child.try_wait().expect("try_wait").is_none() {
            if Instant::now() >= end {
                let _ = child.kill();
                let o = child.wait_with_output().expect("wait");
                panic!("sockasm exec still ran after {within:?}:\n{}", show(&o));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let o = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let summary = err.lines().last().and_then(|l| parse(l).ok());
        (o, summary)
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            let _ = Command::new(BIN).args(["unload", "--stale"]).stdin(Stdio::null()).output();
        }
        let left = leftovers(self.pid);
        assert!(left.is_empty() || std::thread::panicking(), "sockasm exec left {left:?}");
    }
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v.at(k).as_str().unwrap_or_else(|| panic!("{k} is not a string"))
}

fn echo_run(code: &str) -> Exec {
    let d = Scratch::new();
    let mut e = Exec::spawn(&["--json", "--", "sh", "-c", ECHO_SCRIPT, "sh", BIN, d.s(), code]);
    e._scratch = Some(d);
    e
}

fn check_echo(e: &mut Exec, code: i32) -> Value {
    let (o, summary) = e.finish(Duration::from_secs(120));
    let v = summary.unwrap_or_else(|| panic!("no JSON summary on stderr:\n{}", show(&o)));
    assert_eq!(o.status.code(), Some(code), "{}", show(&o));
    assert_eq!(v.u64("status"), code as u64, "{}", show(&o));
    assert!(v.u64("counters.sockets_added") >= 4, "both ends of both connections in the map: {}", show(&o));
    assert!(v.u64("counters.redirected_bytes") > 0, "nothing redirected: {}", show(&o));
    assert_eq!(v.u64("counters.tcp_no_peer"), 0, "a peer was not found: {}", show(&o));
    assert!(leftovers(e.pid).is_empty(), "left {:?}", leftovers(e.pid));
    v
}

#[test]
fn exec_script_pair_goes_through_bypass_and_status_passes_on() {
    if !kernel_ok() {
        return;
    }
    let mut e = echo_run("3");
    let v = check_echo(&mut e, 3);
    assert_eq!(v.get("cleaned_up"), Some(&Value::Bool(true)));
    assert!(!PathBuf::from(text(&v, "cgroup")).exists() && !PathBuf::from(text(&v, "pin_dir")).exists());
}

#[test]
fn exec_two_runs_at_once_do_not_disturb_each_other() {
    if !kernel_ok() {
        return;
    }
    let mut a = echo_run("0");
    let mut b = echo_run("0");
    let va = check_echo(&mut a, 0);
    let vb = check_echo(&mut b, 0);
    assert_ne!(text(&va, "cgroup"), text(&vb, "cgroup"));
    assert_ne!(text(&va, "pin_dir"), text(&vb, "pin_dir"));
}

#[test]
fn exec_crash_kills_leftover_children_and_cleans_up() {
    if !kernel_ok() {
        return;
    }
    let mut e = Exec::spawn(&["--json", "--", "sh", "-c", "sleep 600 & sleep 600 & kill -SEGV $$"]);
    let (o, v) = e.finish(Duration::from_secs(60));
    let v = v.unwrap_or_else(|| panic!("no JSON summary:\n{}", show(&o)));
    assert_eq!(o.status.code(), Some(128 + 11), "{}", show(&o));
    assert_eq!(text(&v, "signal"), "SIGSEGV");
    let killed = v.arr("killed");
    assert_eq!(killed.len(), 2, "the two sleeps: {}", show(&o));
    assert!(leftovers(e.pid).is_empty());
}

#[test]
fn exec_sigint_is_passed_on_and_cleans_up() {
    if !kernel_ok() {
        return;
    }
    let d = Scratch::new();
    let ready = d.0.join("ready");
    let script = format!("sleep 600 & touch '{}'; wait", ready.display());
    let mut e = Exec::spawn(&["--json", "--", "sh", "-c", &script]);
    let end = Instant::now() + Duration::from_secs(30);
    while !ready.exists() {
        assert!(Instant::now() < end, "the command never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(e.pid as i32), nix::sys::signal::Signal::SIGINT)
        .expect("SIGINT to sockasm exec");
    let (o, v) = e.finish(Duration::from_secs(60));
    let v = v.unwrap_or_else(|| panic!("no JSON summary:\n{}", show(&o)));
    // sh died of the SIGINT passed on; its background sleep ignores SIGINT
    // (as sh sets it up) and was killed through cgroup.kill.
    assert_eq!(o.status.code(), Some(130), "{}", show(&o));
    assert_eq!(text(&v, "signal"), "SIGINT");
    let killed = v.arr("killed");
    assert_eq!(killed.len(), 1, "the sleep: {}", show(&o));
    assert!(leftovers(e.pid).is_empty());
}

#[test]
fn exec_failures_leave_nothing() {
    if !kernel_ok() {
        return;
    }
    // The load fails half-way (after the cgroup and pin directory exist).
    let mut e = Exec::spawn(&["--max-queue", "1", "--", "true"]);
    let (o, _) = e.finish(Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(125), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("error: "), "{}", show(&o));
    assert!(leftovers(e.pid).is_empty());
    // CMD cannot be found: 127, as in a shell.
    let mut e = Exec::spawn(&["--", "/nonexistent/sockasm-test-cmd"]);
    let (o, _) = e.finish(Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(127), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot run /nonexistent/sockasm-test-cmd"), "{}", show(&o));
    assert!(leftovers(e.pid).is_empty());
    // stdout stays CMD's.
    let mut e = Exec::spawn(&["--", "echo", "only this"]);
    let (o, _) = e.finish(Duration::from_secs(60));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "only this\n", "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("redirected_bytes"), "{}", show(&o));
}
