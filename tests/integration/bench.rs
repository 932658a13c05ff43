//! `sockasm bench`: a short smoke run (tiny sizes, a fraction of a second per
//! cell) checks that all three transports ran with verified data, that the
//! bypass's counters moved only for the bypass rows, and that nothing is left
//! behind; a second run is interrupted with SIGINT and must clean up too.
//! Placement (both endpoints on one CPU, or on two), the CPU cost per row and
//! the `--svg` chart are checked from a run's own report.
//! Speed itself is not asserted. Needs root, cgroup v2 and bpffs, like the
//! kernel tests (`SOCKASM_SKIP_KERNEL_TESTS=1` skips them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kernel::harness::cgroup2_mount;
use crate::kernel::json::{Field, Value, parse};
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

/// Every (placement, workload, size, transport) of a run.
fn cells<'a>(ps: &[&'a str], ws: &[&'a str], sizes: &[u64]) -> Vec<(&'a str, &'a str, u64, &'static str)> {
    let mut v = Vec::new();
    for &p in ps {
        for &w in ws {
            for &size in sizes {
                for t in ["bypass", "tcp", "unix"] {
                    v.push((p, w, size, t));
                }
            }
        }
    }
    v
}

fn row<'a>(v: &'a Value, p: &str, w: &str, size: u64, t: &str) -> &'a Value {
    v.arr("rows")
        .iter()
        .find(|r| {
            r.at("placement").as_str() == Some(p)
                && r.at("workload").as_str() == Some(w)
                && r.u64("size") == size
                && r.at("transport").as_str() == Some(t)
        })
        .unwrap_or_else(|| panic!("no row {p} {w} {size} {t}: {v}"))
}

/// Runs `cmd` to its end with stdout and stderr captured; panics unless it
/// succeeds and prints one JSON document. Returns (its pid, the JSON, stderr).
fn run_json(cmd: &mut Command, what: &str) -> (u32, Value, String) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    let pid = child.id();
    let o = child.wait_with_output().unwrap_or_else(|e| panic!("wait for {what}: {e}"));
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{what} failed: {:?}\n--- stdout\n{out}--- stderr\n{err}", o.status);
    let v = parse(out.trim()).unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{out}\n{err}"));
    (pid, v, err)
}

#[test]
fn bench_smoke_all_transports_verified_and_clean() {
    if !kernel_ok() {
        return;
    }
    let conns = 2u64;
    let (pid, v, err) = run_json(
        Command::new(BIN).args([
            "bench",
            // 0.2 s cells: the sampler must see both ends at least once even
            // when the machine is busy (with 0.05 s cells it once saw none).
            "--seconds",
            "0.2",
            "--repeat",
            "1",
            "--sizes",
            "64,20000",
            "--conns",
            "2",
            "--json",
        ]),
        "sockasm bench",
    );
    // The default placement is all three, every cell three times; where
    // this test may use only one CPU (taskset), same-cpu and free (unpinned
    // on that CPU), and bench says so.
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let placements: &[&str] = if cpus >= 2 { &["spread", "same-cpu", "free"] } else { &["same-cpu", "free"] };
    let cells_total = 2 * 2 * 3 * placements.len();
    assert!(
        err.contains("sockasm bench [") && err.contains(&format!("/{cells_total}]")),
        "no progress lines on stderr:\n{err}"
    );
    if cpus < 2 {
        assert!(err.contains("only one CPU is available"), "{err}");
    }

    let rows = v.arr("rows");
    assert_eq!(rows.len(), cells_total, "{v}");
    for (p, w, size, t) in cells(placements, &["rr", "stream"], &[64, 20000]) {
        let r = row(&v, p, w, size, t);
        let what = format!("{p} {w} {size} {t}: {r}");
        assert_eq!(r.u64("conns"), conns, "{what}");
        // Where the endpoints ran, sampled from outside: at least once, and
        // for the pinned placements exactly as pinned.
        assert!(r.u64("cpu_samples") > 0, "{what}");
        let together = num(r, "same_cpu_share");
        assert!((0.0..=1.0).contains(&together), "{what}");
        match p {
            "same-cpu" => assert_eq!(together, 1.0, "{what}"),
            "spread" => assert_eq!(together, 0.0, "{what}"),
            _ => {
                for k in ["server_ran_on", "client_ran_on"] {
                    assert!(!r.at(k).as_str().unwrap_or("").is_empty(), "{k}: {what}");
                }
            }
        }
        assert!(num(r, "cpu_us_per_op") > 0.0, "{what}");
        assert!(r.u64("verified_bytes") >= size, "{what}");
        if w == "rr" {
            assert!(num(r, "tps") > 0.0 && num(r, "p50_us") > 0.0 && num(r, "p99_us") >= num(r, "p50_us"), "{what}");
            assert_eq!(r.at("gbps"), &Value::Null, "{what}");
        } else {
            assert!(num(r, "gbps") > 0.0, "{what}");
            assert_eq!(r.at("tps"), &Value::Null, "{what}");
        }
        if t == "bypass" {
            assert!(r.u64("counters.redirected_bytes") > 0, "counters did not move for a bypass row: {what}");
            assert!(r.u64("counters.sockets_added") >= 2 * conns, "{what}");
        } else {
            let Value::Object(cs) = r.at("counters") else { panic!("{what}") };
            for (k, c) in cs {
                assert_eq!(c.as_u64(), Some(0), "counter {k} moved for a {t} row: {what}");
            }
        }
    }
    // Requests of 20000 bytes are not small writes: every byte went through the bypass.
    for &p in placements {
        let rr_big = row(&v, p, "rr", 20000, "bypass");
        assert_eq!(rr_big.u64("counters.passed_bytes"), 0, "{rr_big}");
    }

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

/// Starts a 2-second `sockasm bench` and returns once its first cell runs
/// (cgroup made, bypass loaded, endpoints started): the child, its pid, the
/// progress lines seen so far and the channel of the ones to come.
fn bench_until_first_cell() -> (std::process::Child, u32, String, std::sync::mpsc::Receiver<String>) {
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
    if !seen.contains("[  1/") {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no progress line within 30 s:\n{seen}");
    }
    (child, pid, seen, rx)
}

#[test]
fn bench_interrupted_cleans_up() {
    if !kernel_ok() {
        return;
    }
    let (mut child, pid, mut seen, rx) = bench_until_first_cell();
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
                .is_ok_and(|c| c.contains("worker") && c.contains(&format!("sockasm-bench-{pid}-")))
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
    let (mut child, pid, seen, _) = bench_until_first_cell();
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

/// The CPUs of a `0,1` list.
fn cpu_set(s: &str) -> Vec<u64> {
    s.split(',').filter_map(|c| c.parse().ok()).collect()
}

/// `--placement same-cpu`, `spread` and `free`: every row carries its
/// placement, the endpoints' own sched_getcpu samples show where they ran
/// (one CPU for both, a different one each, or wherever the scheduler put
/// them within this process's CPUs), the CPU cost is there, and `--svg`
/// writes an SVG that parses as XML with a bar per row and ratio.
#[test]
fn bench_placement_cpu_cost_and_svg() {
    if !kernel_ok() {
        return;
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let placements: &[&str] = if cpus >= 2 { &["same-cpu", "spread", "free"] } else { &["same-cpu", "free"] };
    let allowed: Vec<u64> = (0..1024u64)
        .filter(|c| {
            nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
                .is_ok_and(|s| s.is_set(*c as usize).unwrap_or(false))
        })
        .collect();
    for &placement in placements {
        let svg = std::env::temp_dir().join(format!("sockasm-bench-test-{}-{placement}.svg", std::process::id()));
        let (pid, v, _) = run_json(
            Command::new(BIN)
                .args(["bench", "--seconds", "0.05", "--repeat", "1", "--sizes", "64,4096", "--json", "--quiet"])
                .args(["--placement", placement, "--svg"])
                .arg(&svg),
            &format!("sockasm bench --placement {placement}"),
        );
        assert_eq!(v.arr("rows").len(), 2 * 2 * 3, "{v}");
        assert_eq!(v.arr("placements").len(), 1, "{v}");
        for (p, w, size, t) in cells(&[placement], &["rr", "stream"], &[64, 4096]) {
            let r = row(&v, p, w, size, t);
            assert!(num(r, "cpu_us_per_op") > 0.0, "{r}");
            let (srv, cli) = (
                cpu_set(r.at("server_ran_on").as_str().unwrap_or("")),
                cpu_set(r.at("client_ran_on").as_str().unwrap_or("")),
            );
            if placement == "free" {
                // Not pinned: anywhere this process may run, maybe more than one CPU.
                assert!(!srv.is_empty() && !cli.is_empty(), "{r}");
                assert!(srv.iter().chain(&cli).all(|c| allowed.contains(c)), "outside {allowed:?}: {r}");
                continue;
            }
            assert!(srv.len() == 1 && cli.len() == 1, "each endpoint on exactly one CPU: {r}");
            if placement == "same-cpu" {
                assert_eq!(srv, cli, "same-cpu endpoints on different CPUs: {r}");
            } else {
                assert_ne!(srv, cli, "spread endpoints on one CPU: {r}");
            }
        }

        let text = std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
        let _ = std::fs::remove_file(&svg);
        assert!(text.starts_with("<?xml") && text.trim_end().ends_with("</svg>"), "{text}");
        // Two bars (bypass/tcp, bypass/unix) per table row (2 workloads × 2 sizes).
        assert_eq!(text.matches(r#"<rect class="bar""#).count(), 2 * 2 * 2, "{text}");
        assert_eq!(text.matches(&format!(r#"data-placement="{placement}""#)).count(), 2 * 2 * 2, "{text}");
        for cell in ["rr 64 B", "rr 4 KiB", "stream 64 B", "stream 4 KiB"] {
            assert!(text.contains(&format!(r#"data-cell="{cell}""#)), "no bars for {cell}: {text}");
        }
        // A well-formed XML document, checked by an independent parser when there is one.
        let py = Command::new("python3")
            .args(["-c", "import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.buffer.read())"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        if let Ok(mut py) = py {
            use std::io::Write;
            py.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to python3");
            let po = py.wait_with_output().expect("python3");
            assert!(po.status.success(), "the SVG is not well-formed XML: {}", String::from_utf8_lossy(&po.stderr));
        }
        assert_eq!(leftovers(pid), Vec::<PathBuf>::new());
    }
}

/// `--placement spread` on a single allowed CPU is refused with a message
/// naming what to do, before anything is created.
#[test]
fn bench_spread_needs_two_cpus() {
    if !kernel_ok() {
        return;
    }
    let Ok(taskset) = which("taskset") else { return };
    // taskset execs sockasm: the child's PID is the bench's.
    let child = Command::new(taskset)
        .args(["-c", "0", BIN, "bench", "--placement", "spread", "--seconds", "0.01", "--repeat", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockasm bench under taskset");
    let pid = child.id();
    let o = child.wait_with_output().expect("wait for sockasm bench");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("needs two CPUs") && err.contains("--placement same-cpu"), "{err}");
    assert_eq!(leftovers(pid), Vec::<PathBuf>::new());
}

fn which(cmd: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH").iter().flat_map(std::env::split_paths).map(|d| d.join(cmd)).find(|p| p.is_file()).ok_or(())
}

/// `scripts/bench-apps`, one short run of one key-value and one HTTP cell
/// on one CPU and unpinned (free): a table row per cell and placement as
/// JSON, free rows with where the ends ran, nothing left behind. Skipped
/// when the Debian tools it needs are not installed.
#[test]
fn bench_apps_smoke() {
    if !kernel_ok() {
        return;
    }
    if let Some(t) = ["nginx", "wrk", "redis-server", "redis-benchmark", "python3", "taskset", "timeout"]
        .iter()
        .find(|t| which(t).is_err())
    {
        eprintln!("bench_apps_smoke: skipped, {t} is not installed");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-apps");
    let (pid, v, _) = run_json(
        Command::new(&script)
            .args([
                "--seconds",
                "1",
                "--repeat",
                "1",
                "--placement",
                "same-cpu,free",
                "--cells",
                "redis-get,http-1k",
                "--json",
            ])
            .env("SOCKASM", BIN),
        "scripts/bench-apps",
    );
    let rows = v.arr("rows");
    assert_eq!(rows.len(), 4, "{v}");
    for (i, r) in rows.iter().enumerate() {
        let placement = if i < 2 { "same-cpu" } else { "free" };
        assert_eq!(r.at("placement").as_str(), Some(placement), "{r}");
        assert!(num(r, "tcp_per_s") > 0.0 && num(r, "bypass_per_s") > 0.0, "{r}");
        for k in ["same_cpu_share_tcp", "same_cpu_share_bypass"] {
            let share = num(r, k);
            assert!((0.0..=1.0).contains(&share), "{k}: {r}");
            if placement == "same-cpu" {
                assert_eq!(share, 1.0, "{k}: {r}");
            }
        }
    }
    // Its cgroups, pins and work directory are gone.
    let tag = format!("sockasm-apps-{pid}");
    for dir in [cgroup2_mount(), PathBuf::from("/sys/fs/bpf"), PathBuf::from("/tmp")] {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            assert!(!e.file_name().to_string_lossy().starts_with(&tag), "left behind: {}", e.path().display());
        }
    }
}

/// `--svg` into a directory that does not exist fails before anything runs.
#[test]
fn bench_svg_bad_path_fails_first() {
    let o = Command::new(BIN)
        .args(["bench", "--svg", "/nonexistent-sockasm-dir/chart.svg", "--seconds", "5"])
        .output()
        .expect("run sockasm bench");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("--svg") && err.contains("/nonexistent-sockasm-dir"), "{err}");
    // No cell started (a cell prints its progress line first).
    assert!(!err.contains("sockasm bench ["), "it ran the benchmark first: {err}");
}

/// A bench killed while it starts an endpoint: the endpoint (told the
/// benchmark's pid with `--parent`) sees its parent gone and does nothing,
/// so it never joins the cgroup; and whatever still runs in a stale bench
/// cgroup is killed by `unload --stale`, which then removes the cgroup.
#[test]
fn bench_stale_cgroup_is_emptied_and_late_endpoints_do_nothing() {
    if !kernel_ok() {
        return;
    }
    let mut gone = Command::new("true").spawn().expect("run true");
    let dead = gone.id();
    gone.wait().expect("reap true");
    let cg = cgroup2_mount().join(format!("sockasm-bench-{dead}-0-test{}", std::process::id()));
    struct Guard(PathBuf, Option<std::process::Child>);
    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(c) = &mut self.1 {
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    std::fs::create_dir(&cg).expect("make a cgroup shaped like a killed bench's");
    let mut guard = Guard(cg.clone(), None);

    let o = Command::new(BIN)
        .args(["worker", "--timeout", "5", "--parent", &dead.to_string(), "--cgroup"])
        .arg(&cg)
        .args(["serve", "--listen", "127.0.0.1:0", "--mode", "echo", "--msg-size", "64"])
        .stdin(Stdio::null())
        .output()
        .expect("run an endpoint");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "an endpoint of an ended benchmark ran: {out}");
    assert!(out.contains(&format!("process {dead} that started this one has ended")), "{out}");
    assert!(!out.contains("listening"), "{out}");

    // Something that joined anyway is killed; the cgroup goes.
    let sleeper = Command::new("sleep").arg("30").spawn().expect("run sleep");
    std::fs::write(cg.join("cgroup.procs"), sleeper.id().to_string()).expect("move sleep into the cgroup");
    let pid = sleeper.id();
    guard.1 = Some(sleeper);
    let o = Command::new(BIN).args(["unload", "--stale"]).output().expect("unload --stale");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "unload --stale: {text}");
    assert!(text.contains(&format!("removed {}", cg.display())), "{text}");
    assert!(!cg.exists(), "{text}");
    let st = guard.1.take().expect("sleep").wait().expect("reap sleep");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(9), "sleep {pid} should have been killed: {st:?}");
}
