//! Adopting connections opened before `load` (issue 19, item 3): a worker
//! opens a connection in the test's cgroup, puts a reader into the state the
//! test names (idle, blocked in recv() three ways, busy), and waits while the
//! test runs `load`; then bytes go each way, every one checked in order by
//! the worker. A host that refuses the iterator programs prints SKIPPED with
//! the reason `load` gives.

use std::path::PathBuf;
use std::time::Duration;

use super::kernel::harness::{Counters, Env, Worker, show};
use super::kernel::json::Field;
use super::kernel::kernel_ok;
use super::pairing::veth;

const MIB: u64 = 1 << 20;

/// The go file of one worker, removed on drop.
struct Go(PathBuf);

impl Go {
    fn new(env: &Env) -> Go {
        let p = std::env::temp_dir().join(format!("{}-go", env.name));
        let _ = std::fs::remove_file(&p);
        Go(p)
    }
    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8")
    }
    fn go(&self) {
        std::fs::write(&self.0, b"go").expect("write the go file");
    }
}

impl Drop for Go {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A worker holding a connection with `reader`, ready (its connection is
/// established and the reader in place) when this returns.
fn opened(env: &Env, go: &Go, netns: Option<&str>, args: &[&str]) -> Worker {
    let mut a = vec!["adopt", "--go-file", go.path()];
    a.extend_from_slice(args);
    let mut w = env.worker(true, netns, &a);
    w.wait_ready(Duration::from_secs(20));
    w
}

/// `load` (adopting); `None` after a SKIPPED line when the host cannot adopt.
fn load_adopting(env: &Env, test: &str, extra: &[&str]) -> Option<String> {
    let o = env.try_load(extra);
    assert!(o.status.success(), "sockasm load failed:\n{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    if let Some(line) = out.lines().find(|l| l.contains("adoption of connections opened before this load: skipped")) {
        eprintln!("SKIPPED {test}: {}", line.trim());
        return None;
    }
    assert!(out.contains("adopted "), "{out}");
    Some(out)
}

/// (a) Nobody reads while `load` runs: both sockets are adopted and
/// confirmed, and afterwards both directions are redirected, intact.
#[test]
fn kernel_adopts_a_connection_with_an_idle_reader() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    let go = Go::new(&env);
    let bytes = 4 * MIB;
    let mut w = opened(&env, &go, None, &["--reader", "idle", "--bytes", &bytes.to_string()]);
    let Some(out) = load_adopting(&env, "kernel_adopts_a_connection_with_an_idle_reader", &[]) else { return };
    let after_load = env.counters();
    go.go();
    let r = w.finish();
    let d = env.counters();
    eprintln!("[adopt idle] {out}\ncounters {d:?}");
    assert_eq!((r.u64("bytes_up"), r.u64("bytes_down")), (bytes, bytes), "{r}");
    assert_eq!(d.sockets_adopted, 2, "{d:?}");
    assert_eq!(d.sockets_adopt_confirmed, 2, "{d:?}");
    assert_eq!((d.sockets_adopt_deferred, d.sockets_added), (0, 0), "{d:?}");
    let moved = d.since(&after_load);
    assert!(moved.redirected_bytes >= 2 * bytes, "both directions redirected: {moved:?}");
    assert_eq!((moved.tcp_peer_unconfirmed, moved.tcp_peer_stale), (0, 0), "{moved:?}");
}

/// (b) A reader blocked in recv() while `load` runs (plain, MSG_WAITALL,
/// SO_RCVLOWAT) is never confirmed: its socket stays on TCP, and the reader
/// gets every byte in order without hanging (SO_RCVTIMEO bounds it).
#[test]
fn kernel_adoption_never_confirms_a_reader_blocked_in_recv() {
    if !kernel_ok() {
        return;
    }
    for reader in ["plain", "waitall", "lowat"] {
        let env = Env::new();
        let go = Go::new(&env);
        let bytes = 2 * MIB;
        let mut w = opened(&env, &go, None, &["--reader", reader, "--bytes", &bytes.to_string()]);
        let test = "kernel_adoption_never_confirms_a_reader_blocked_in_recv";
        let Some(out) = load_adopting(&env, test, &[]) else { return };
        go.go();
        let (ok, v, why) = w.outcome(Duration::from_secs(60));
        let d = env.counters();
        eprintln!("[adopt {reader}] {out}\ncounters {d:?}");
        assert!(ok, "{why}");
        assert_eq!(v.map(|v| v.u64("bytes_up")), Some(bytes), "{why}");
        assert_eq!(d.sockets_adopted, 2, "{reader}: {d:?}");
        // The reading end is never confirmed; the writing end (idle reader side) may be.
        assert!(d.sockets_adopt_deferred >= 1, "{reader}: {d:?}");
        assert!(d.sockets_adopt_confirmed <= 1, "{reader}: {d:?}");
        assert_eq!(d.redirected_bytes, 0, "{reader}: nothing may reach the blocked reader's psock: {d:?}");
        assert!(d.passed_bytes >= bytes, "{reader}: {d:?}");
        // The task scan saw the reader inside recv() (other tasks on the host may add to it).
        let busy: u64 = out
            .split("task scan: ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{reader}: no task scan count in the load report: {out}"));
        assert!(busy >= 1, "{reader}: {out}");
    }
}

/// (c) A reader that reads all the time (a writer streams into it from
/// before `load` until after) is never idle at a pass: not confirmed, and
/// every byte still arrives, over TCP.
#[test]
fn kernel_adoption_leaves_a_busy_reader_on_tcp() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    let go = Go::new(&env);
    let mut w = opened(&env, &go, None, &["--reader", "busy"]);
    let Some(out) = load_adopting(&env, "kernel_adoption_leaves_a_busy_reader_on_tcp", &[]) else { return };
    // Streaming goes on for a while after the load.
    std::thread::sleep(Duration::from_millis(200));
    go.go();
    let r = w.finish();
    let d = env.counters();
    eprintln!("[adopt busy] {out}\ncounters {d:?}");
    assert!(r.u64("bytes_up") > 0, "{r}");
    assert_eq!(d.sockets_adopted, 2, "{d:?}");
    assert!(d.sockets_adopt_deferred >= 1 && d.sockets_adopt_confirmed <= 1, "{d:?}");
    assert_eq!(d.redirected_bytes, 0, "{d:?}");
}

/// (d) The adopt pass computes the key sock_ops computes: a connection
/// opened after `load` (keyed by sock_ops) is recomputed, both ends, by the
/// adopt pass of a second `load`, and matches; nothing is adopted twice.
#[test]
fn kernel_adopted_key_equals_the_sock_ops_key() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    let go = Go::new(&env);
    let Some(_) = load_adopting(&env, "kernel_adopted_key_equals_the_sock_ops_key", &[]) else { return };
    let mut w = opened(&env, &go, None, &["--reader", "idle", "--bytes", &MIB.to_string()]);
    let before = env.counters();
    let Some(out) = load_adopting(&env, "kernel_adopted_key_equals_the_sock_ops_key", &[]) else { return };
    let d = env.counters().since(&before);
    eprintln!("[adopt key] {out}\ncounters {d:?}");
    assert_eq!(d.adopt_key_checks, 2, "both ends recomputed: {d:?}");
    assert_eq!(d.adopt_key_mismatches, 0, "{d:?}");
    assert_eq!(d.sockets_adopted, 0, "sock_ops' sockets are not adopted again: {d:?}");
    go.go();
    let r = w.finish();
    assert_eq!(r.u64("bytes_up"), MIB, "{r}");
    let d = env.counters().since(&before);
    assert!(d.redirected_bytes >= 2 * MIB, "{d:?}");
}

/// (e) A connection between two network namespaces (a veth), opened before
/// `load`: the pass runs in both namespaces, adopts both ends and pairs
/// them; afterwards the bytes are redirected and the veth carries none.
#[test]
fn kernel_adopts_a_connection_across_two_namespaces() {
    if !kernel_ok() {
        return;
    }
    let mut env = Env::new();
    let (a, b) = (env.add_netns(), env.add_netns());
    veth(&a, "10.203.11.1", &b, "10.203.11.2");
    let go = Go::new(&env);
    let bytes = 4 * MIB;
    let args = ["--reader", "idle", "--host", "10.203.11.2", "--listen-netns", &b, "--bytes", &bytes.to_string()];
    let mut w = opened(&env, &go, Some(&a), &args);
    let test = "kernel_adopts_a_connection_across_two_namespaces";
    let Some(out) = load_adopting(&env, test, &[]) else { return };
    assert!(out.contains("(2 network namespaces)"), "{out}");
    let after_load = env.counters();
    go.go();
    let r = w.finish();
    let d = env.counters();
    eprintln!("[adopt netns] {out}\ncounters {d:?}");
    assert_eq!((r.u64("bytes_up"), r.u64("bytes_down")), (bytes, bytes), "{r}");
    assert_eq!((d.sockets_adopted, d.sockets_adopt_confirmed), (2, 2), "{d:?}");
    assert!(d.since(&after_load).redirected_bytes >= 2 * bytes, "{d:?}");
}

/// `load --no-adopt`: the connection stays outside the map, on TCP.
#[test]
fn kernel_no_adopt_leaves_old_connections_alone() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    let go = Go::new(&env);
    let mut w = opened(&env, &go, None, &["--reader", "idle", "--bytes", &MIB.to_string()]);
    env.load(&["--no-adopt"]);
    go.go();
    let r = w.finish();
    let d: Counters = env.counters();
    assert_eq!(r.u64("bytes_up"), MIB, "{r}");
    assert_eq!((d.sockets_adopted, d.redirected_bytes, d.passed_bytes), (0, 0, 0), "not in the map at all: {d:?}");
    assert_eq!(env.entries(), 0);
}
