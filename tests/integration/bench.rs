//! `sockasm bench`: a short smoke run (tiny sizes, a fraction of a second per
//! cell) checks that all three transports ran with verified data, that the
//! bypass's counters moved only for the bypass rows, and that nothing is left
//! behind; a second run is interrupted with SIGINT and must clean up too.
//! Speed itself is not asserted. Needs root, cgroup v2 and bpffs, like the
//! kernel tests (`SOCKASM_SKIP_KERNEL_TESTS=1` skips them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kernel::harness::cgroup2_mount;
use crate::kernel::json::{Value, parse};
use crate::kernel::kernel_ok;

const BIN: &str = env!("CARGO_BIN_EXE_sockasm");

/// Directories a bench run with this PID created and did not remove.
fn leftovers(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("sockasm-bench-{pid}-");
    let mut left = Vec::new();
    for dir in [cgroup2_mount(), PathBuf::from("/sys/fs/bpf")] {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                left.push(e.path());
            }
        }
    }
    for e in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            left.push(e.path());
        }
    }
    left
}

fn num(v: &Value, k: &str) -> f64 {
    v.f64(k)
}

#[test]
fn bench_smoke_all_transports_verified_and_clean() {
    if !kernel_ok() {
        return;
    }
    let conns = 2u64;
    let child = Command::new(BIN)
        .args(["bench", "--seconds", "0.05", "--repeat", "1", "--sizes", "64,20000", "--conns", "2", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockasm bench");
    let pid = child.id();
    let o = child.wait_with_output().expect("wait for sockasm bench");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "sockasm bench failed: {:?}\n--- stdout\n{out}--- stderr\n{err}", o.status);
    assert!(err.contains("sockasm bench [") && err.contains("/12]"), "no progress lines on stderr:\n{err}");
    let v = parse(out.trim()).unwrap_or_else(|e| panic!("bench --json is not one JSON object ({e}):\n{out}"));

    let rows = v.arr("rows");
    assert_eq!(rows.len(), 2 * 2 * 3, "{v}");
    for w in ["rr", "stream"] {
        for size in [64u64, 20000] {
            for t in ["bypass", "tcp", "unix"] {
                let r = rows
                    .iter()
                    .find(|r| {
                        r.at("workload").as_str() == Some(w)
                            && r.u64("size") == size
                            && r.at("transport").as_str() == Some(t)
                    })
                    .unwrap_or_else(|| panic!("no row {w} {size} {t}: {v}"));
                let what = format!("{w} {size} {t}: {r}");
                assert_eq!(r.u64("conns"), conns, "{what}");
                assert!(r.u64("verified_bytes") >= size, "{what}");
                if w == "rr" {
                    assert!(
                        num(r, "tps") > 0.0 && num(r, "p50_us") > 0.0 && num(r, "p99_us") >= num(r, "p50_us"),
                        "{what}"
                    );
                    assert_eq!(r.at("gbps"), &Value::Null, "{what}");
                } else {
                    assert!(num(r, "gbps") > 0.0, "{what}");
                    assert_eq!(r.at("tps"), &Value::Null, "{what}");
                }
                if t == "bypass" {
                    assert!(r.u64("counters.redirected_bytes") > 0, "counters did not move for a bypass row: {what}");
                    assert!(r.u64("counters.sockets_added") >= 2 * conns, "{what}");
                } else {
                    let Value::Obj(cs) = r.at("counters") else { panic!("{what}") };
                    for (k, c) in cs {
                        assert_eq!(c, &Value::Num("0".into()), "counter {k} moved for a {t} row: {what}");
                    }
                }
            }
        }
    }
    // Requests of 20000 bytes are not small writes: every byte went through the bypass.
    let rr_big = rows
        .iter()
        .find(|r| {
            r.at("workload").as_str() == Some("rr")
                && r.u64("size") == 20000
                && r.at("transport").as_str() == Some("bypass")
        })
        .expect("row");
    assert_eq!(rr_big.u64("counters.passed_bytes"), 0, "{rr_big}");

    // The cost of sockasm itself.
    assert!(num(&v, "load_ms") > 0.0, "{v}");
    let progs = v.arr("programs");
    assert_eq!(progs.len(), 2, "{v}");
    for p in progs {
        assert!(p.u64("verifier_insns") > 0 && p.u64("xlated_bytes") > 0 && p.u64("jited_bytes") > 0, "{p}");
    }

    // Nothing left behind.
    assert!(v.bool("cleaned_up"), "{v}");
    for k in ["cgroup", "pin_dir"] {
        let p = v.at(k).as_str().expect("path");
        assert!(p.contains(&format!("sockasm-bench-{pid}-")), "{k} {p}");
        assert!(!Path::new(p).exists(), "{k} {p} still exists");
    }
    assert_eq!(leftovers(pid), Vec::<PathBuf>::new());
}

#[test]
fn bench_interrupted_cleans_up() {
    if !kernel_ok() {
        return;
    }
    let mut child = Command::new(BIN)
        .args(["bench", "--seconds", "2", "--repeat", "1", "--sizes", "1024"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockasm bench");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let errp = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for l in BufReader::new(errp).lines() {
            let Ok(l) = l else { break };
            let _ = tx.send(l);
        }
    });
    // Wait until the first cell runs (cgroup made, bypass loaded, endpoints started).
    let end = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while Instant::now() < end {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.push_str(&l);
            seen.push('\n');
            if l.contains("[  1/") {
                break;
            }
        }
    }
    assert!(seen.contains("[  1/"), "no progress line within 30 s:\n{seen}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!leftovers(pid).is_empty(), "the run made no cgroup or pin dir?");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sockasm bench did not end within 30 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.push_str(&l);
        seen.push('\n');
    }
    assert_eq!(status.code(), Some(130), "{status:?}\n{seen}");
    assert_eq!(leftovers(pid), Vec::<PathBuf>::new(), "{seen}");
    // Its endpoints are gone too (killed by PID, then reaped).
    let ours = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("cmdline"))
                .is_ok_and(|c| c.contains("endpoint") && c.contains(&format!("sockasm-bench-{pid}-")))
        })
        .count();
    assert_eq!(ours, 0, "endpoint processes survived the interrupted run");
}

/// Issue item 8: `sockasm bench` killed with SIGKILL cannot clean up; its
/// cgroup (with sock_ops attached), pins and socket files are listed by
/// `status` as stale, and `unload --stale` removes them (only leftovers whose
/// process is gone, so other runs are never touched).
#[test]
fn bench_killed_leftovers_found_and_removed() {
    if !kernel_ok() {
        return;
    }
    let mut child = Command::new(BIN)
        .args(["bench", "--seconds", "2", "--repeat", "1", "--sizes", "1024"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockasm bench");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let errp = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for l in BufReader::new(errp).lines() {
            let Ok(l) = l else { break };
            let _ = tx.send(l);
        }
    });
    let end = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while Instant::now() < end && !seen.contains("[  1/") {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.push_str(&l);
            seen.push('\n');
        }
    }
    assert!(seen.contains("[  1/"), "no progress line within 30 s:\n{seen}");
    child.kill().expect("SIGKILL our bench");
    child.wait().expect("reap");
    let left = leftovers(pid);
    assert!(left.len() >= 2, "kill -9 should leave the cgroup and the pins: {left:?}\n{seen}");

    let o = Command::new(BIN).args(["status", "--json"]).output().expect("status");
    let v = parse(String::from_utf8_lossy(&o.stdout).trim())
        .unwrap_or_else(|e| panic!("status --json ({e}): {}", String::from_utf8_lossy(&o.stderr)));
    let listed: Vec<String> = v
        .arr("stale")
        .iter()
        .filter(|s| s.u64("pid") == pid as u64)
        .filter_map(|s| s.at("path").as_str().map(str::to_string))
        .collect();
    for p in &left {
        assert!(listed.iter().any(|l| Path::new(l) == p), "status does not list {}: {v}", p.display());
    }

    let o = Command::new(BIN).args(["unload", "--stale"]).output().expect("unload --stale");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "unload --stale: {out}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(leftovers(pid), Vec::<PathBuf>::new(), "{out}");
    assert!(out.contains(&format!("(pid {pid} is gone)")), "{out}");
}
