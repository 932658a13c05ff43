//! `sockasm agent` on the host: each test runs agents on its own child
//! cgroup and pin directory (never the root cgroup), with `--listen
//! 127.0.0.1:0`, and ends them by their own PID.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::kernel::harness::{BIN, Env, capture, cgroup_attachments, show, sockasm};
use crate::kernel::json::{Field, Value};
use crate::kernel::kernel_ok;
use crate::ops::{parse_exposition, prometheus_client, samples};

/// A running `sockasm agent`; SIGKILLed by its PID on drop if still running.
pub struct Agent {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Agent {
    pub fn start(env: &Env, extra: &[&str]) -> Agent {
        let mut args = vec!["agent", "--cgroup", env.cg_str(), "--pin-dir", env.pin_str(), "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockasm agent");
        let log = capture(child.stderr.take().expect("stderr"));
        Agent { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until the log has `needle` `count` times; panics with the log after `within`.
    pub fn wait_log(&mut self, needle: &str, count: usize, within: Duration) {
        let end = Instant::now() + within;
        while self.log().matches(needle).count() < count {
            if Instant::now() >= end || matches!(self.child.try_wait(), Ok(Some(_))) {
                std::thread::sleep(Duration::from_millis(100));
                if self.log().matches(needle).count() >= count {
                    return;
                }
                panic!("agent log has no {needle:?} (x{count}) after {within:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address of its `event=listening` line.
    pub fn addr(&mut self) -> String {
        self.wait_log("event=listening", 1, Duration::from_secs(30));
        let log = self.log();
        let line = log.lines().find(|l| l.contains("event=listening")).expect("listening line");
        line.split(' ').find_map(|w| w.strip_prefix("addr=")).expect("addr=").to_string()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).expect("signal the agent");
    }

    /// Waits for its exit: Some(exit code), None if it did not exit within `within` (then killed).
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let end = Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => return Some(st.code().unwrap_or(-1)),
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return None;
                }
            }
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET path` on `addr`: (status code, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("send request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read response");
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("response: {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (code, body)
}

/// Sends 256 KiB through a server and a client in the env's cgroup; the
/// workers check every byte. Returns the redirected bytes it added.
pub fn traffic(env: &Env) -> u64 {
    let before = env.counters();
    let (mut srv, port) = env.server(true, None, &["--listen", "127.0.0.1:0"]);
    let target = format!("127.0.0.1:{port}");
    let mut cli = env.client(true, None, &["--connect", &target, "--bytes", "262144", "--half-close"]);
    cli.finish();
    srv.finish();
    env.counters().since(&before).redirected_bytes
}

/// sock_ops programs attached to the env's cgroup (bpftool; None without it).
fn attachments(env: &Env) -> Option<usize> {
    cgroup_attachments(&env.cg).map(|v| v.len())
}

fn metric(v: &Value, family: &str) -> f64 {
    samples(v, family)[0].2
}

#[test]
fn agent_serves_metrics_and_reattaches_when_its_pins_are_deleted() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    let mut agent = Agent::start(&env, &["--check-interval", "0.2", "--on-exit", "unload"]);
    let addr = agent.addr();
    assert_eq!(http_get(&addr, "/healthz").0, 200, "{}", agent.log());
    assert_eq!(http_get(&addr, "/nope").0, 404);
    assert!(traffic(&env) >= 262_144, "{}", agent.log());
    // `load` is idempotent with the agent.
    let o = env.try_load(&[]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("reused"), "{}", show(&o));
    let (code, text) = http_get(&addr, "/metrics");
    assert_eq!(code, 200, "{text}");
    if prometheus_client() {
        let v = parse_exposition(text.as_bytes());
        assert_eq!(metric(&v, "sockasm_loaded"), 1.0, "{text}");
        assert!(metric(&v, "sockasm_redirected_bytes") >= 262_144.0, "{text}");
        assert_eq!(metric(&v, "sockasm_agent_reattachments"), 0.0, "{text}");
        assert_eq!(v.at("sockasm_agent_reattachments").get("type").and_then(Value::as_str), Some("counter"));
        assert_eq!(samples(&v, "sockasm_attached")[0].1.get("cgroup").and_then(Value::as_str), Some(env.cg_str()));
    }

    // Pins deleted under it: it re-attaches, with one sock_ops on the cgroup.
    std::fs::remove_dir_all(&env.pin).expect("rm -r pin dir");
    agent.wait_log("event=reattached", 1, Duration::from_secs(15));
    assert!(agent.log().contains("reason=\"the pins in"), "{}", agent.log());
    if let Some(n) = attachments(&env) {
        assert_eq!(n, 1, "one sock_ops attached after re-attaching:\n{}", agent.log());
    }
    assert!(traffic(&env) >= 262_144, "traffic through the new pins:\n{}", agent.log());
    let (_, text) = http_get(&addr, "/metrics");
    assert!(text.contains("sockasm_agent_reattachments_total{"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("sockasm_agent_reattachments_total{") && l.ends_with(" 1")), "{text}");
    // Detached by someone else (pins kept): attached again.
    let o = env.unload();
    assert!(o.status.success(), "{}", show(&o));
    agent.wait_log("event=reattached", 2, Duration::from_secs(15));

    agent.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0), "{}", agent.log());
    assert!(agent.log().contains("event=exiting on_exit=unload"), "{}", agent.log());
    assert_eq!(env.status().get("loaded"), Some(&Value::Bool(false)), "{}", agent.log());
    if let Some(n) = attachments(&env) {
        assert_eq!(n, 0, "{}", agent.log());
    }
}

#[test]
fn agent_sigterm_during_load_finishes_the_load_then_exits() {
    if !kernel_ok() {
        return;
    }
    for on_exit in ["unload", "keep"] {
        let env = Env::new();
        // Hold the node's lifecycle lock, so that the agent's load waits in it.
        let held = sockasm::deploy::lock().expect("take the lifecycle lock");
        let mut agent = Agent::start(&env, &["--on-exit", on_exit]);
        agent.wait_log("event=loading", 1, Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(100));
        agent.signal(nix::sys::signal::Signal::SIGTERM);
        std::thread::sleep(Duration::from_millis(300));
        assert!(matches!(agent.child.try_wait(), Ok(None)), "the load is still waiting:\n{}", agent.log());
        drop(held);
        assert_eq!(agent.wait_exit(Duration::from_secs(20)), Some(0), "{}", agent.log());
        let log = agent.log();
        assert!(log.contains("event=loaded") && log.contains("event=signal signal=SIGTERM"), "{log}");
        let st = env.status();
        match on_exit {
            "unload" => {
                assert_eq!(st.get("loaded"), Some(&Value::Bool(false)), "{log}");
                if let Some(n) = attachments(&env) {
                    assert_eq!(n, 0, "{log}");
                }
            }
            _ => {
                // Kept whole: every pin, still attached.
                assert_eq!(st.get("loaded"), Some(&Value::Bool(true)), "{log}");
                if let Some(n) = attachments(&env) {
                    assert_eq!(n, 1, "{log}");
                }
            }
        }
    }
}

#[test]
fn agent_second_agent_waits_for_the_first_then_adopts_its_pins() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    let mut first = Agent::start(&env, &["--on-exit", "keep", "--check-interval", "0.2"]);
    let _ = first.addr();
    // A second agent of the same pin directory gives up after --lock-wait, naming the first.
    let mut second = Agent::start(&env, &["--lock-wait", "0.5"]);
    assert_eq!(second.wait_exit(Duration::from_secs(15)), Some(1), "{}", second.log());
    let want = format!("another sockasm agent (pid {})", first.pid());
    assert!(second.log().contains(&want), "{want}:\n{}", second.log());
    if let Some(n) = attachments(&env) {
        assert_eq!(n, 1);
    }
    // One that waits long enough takes over when the first exits, keeping the bypass.
    let mut third = Agent::start(&env, &["--lock-wait", "30", "--on-exit", "unload"]);
    third.wait_log("event=waiting_for_agent", 1, Duration::from_secs(15));
    first.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(first.wait_exit(Duration::from_secs(10)), Some(0), "{}", first.log());
    third.wait_log("event=loaded", 1, Duration::from_secs(20));
    let log = third.log();
    assert!(log.contains("pins=reused attach=already"), "the next agent adopts the pins:\n{log}");
    if let Some(n) = attachments(&env) {
        assert_eq!(n, 1, "{log}");
    }
    assert!(traffic(&env) >= 262_144, "{log}");
    third.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(third.wait_exit(Duration::from_secs(10)), Some(0), "{}", third.log());
    assert_eq!(env.status().get("loaded"), Some(&Value::Bool(false)), "{}", third.log());
    let o = sockasm(&["status", "--pin-dir", env.pin_str()]);
    assert!(o.status.success(), "{}", show(&o));
}
