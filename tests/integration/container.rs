//! The OCI image run like a pod, and the Kubernetes manifests validated
//! offline. A missing tool prints `SKIPPED <test>: <reason>` on stderr;
//! .ci/run installs podman, runc and kubernetes-validate so CI does not skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::agent::{http_get, traffic};
use crate::kernel::harness::{BIN, Env, cgroup_attachments, cgroup2_mount, show};
use crate::kernel::json::Value;
use crate::kernel::{free_port, kernel_ok};
use crate::ops::{parse_exposition, prometheus_client, samples};

const PYTHON: &str = "/usr/bin/python3";
/// The capabilities deploy/kubernetes documents, as podman names them.
const CAPS: &str = "BPF,PERFMON,NET_ADMIN,SYS_ADMIN";

fn skipped(test: &str, why: &str) {
    eprintln!("SKIPPED {test}: {why}");
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd).args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("run {cmd}: {e}"))
}

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// Whether `path` is a static executable (no PT_INTERP program header).
fn is_static(path: &Path) -> bool {
    let Ok(b) = std::fs::read(path) else { return false };
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        return false;
    }
    let u16at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap_or([0; 8])) as usize;
    let (phentsize, phnum) = (u16at(54), u16at(56));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        o + 4 > b.len() || u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4])) != 3
    })
}

/// The static sockasm to put in the image: the test's own binary when it is
/// static (`cargo test-static`), else `cargo static`'s output if it is not
/// older than the test's binary.
fn static_binary() -> Result<PathBuf, String> {
    let bin = PathBuf::from(BIN);
    if is_static(&bin) {
        return Ok(bin);
    }
    let other = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-gnu/release/sockasm");
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (mtime(&other), mtime(&bin)) {
        (Some(a), Some(b)) if a >= b && is_static(&other) => Ok(other),
        _ => Err(format!(
            "{BIN} is not static and {} is missing or older; run `cargo static` first or test with `cargo test-static` (as .ci/run does)",
            other.display()
        )),
    }
}

/// The image built from Containerfile around `bin`, and the podman options
/// that run it here (a runtime that works on this host, rlimits a container
/// without CAP_SYS_RESOURCE may set).
struct Image {
    tag: String,
    base: Vec<String>,
}

impl Image {
    fn build(bin: &Path) -> Result<Image, String> {
        // One context and tag per build: tests run in parallel, and
        // `podman rmi -f` of a shared tag would remove another test's containers.
        static BUILDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ctx = std::env::temp_dir().join(format!("sockasm-image-{}-{n}", std::process::id()));
        let dir = ctx.join("target/x86_64-unknown-linux-gnu/release");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::copy(bin, dir.join("sockasm")).map_err(|e| e.to_string())?;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(root.join(".containerignore"), ctx.join(".containerignore")).map_err(|e| e.to_string())?;
        let tag = format!("localhost/sockasm-test:{}-{n}", std::process::id());
        let cf = root.join("Containerfile");
        let o =
            run("podman", &["build", "-q", "-f", cf.to_str().unwrap_or(""), "-t", &tag, ctx.to_str().unwrap_or("")]);
        let _ = std::fs::remove_dir_all(&ctx);
        if !o.status.success() {
            return Err(format!("podman build failed:\n{}", show(&o)));
        }
        // Only the binary: one layer of about its size.
        let o = run("podman", &["image", "inspect", "--format", "{{.Size}} {{len .RootFS.Layers}}", &tag]);
        let ulimits = |n: u64, p: u64| {
            vec!["--ulimit".to_string(), format!("nofile={n}:{n}"), "--ulimit".to_string(), format!("nproc={p}:{p}")]
        };
        // Podman's defaults (a million open files) exceed this host's hard
        // limits, and without CAP_SYS_RESOURCE the runtime may not raise them:
        // small fixed limits, plenty for the agent.
        let (nofile, nproc) = (1024, 1024);
        let mut errors = vec![format!("image: {}", String::from_utf8_lossy(&o.stdout).trim())];
        // crun refuses cgroup v1/v2 hybrid hosts; runc runs there.
        for runtime in [None, Some("runc")] {
            let mut base: Vec<String> = runtime.map(|r| vec!["--runtime".into(), r.into()]).unwrap_or_default();
            base.push("run".into());
            base.extend(ulimits(nofile, nproc));
            let mut args = base.clone();
            args.extend(["--rm".into(), "--network=none".into(), tag.clone(), "--version".into()]);
            let o = Command::new("podman").args(&args).stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
            if o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("sockasm ") {
                return Ok(Image { tag, base });
            }
            errors.push(format!(
                "runtime {}: {}",
                runtime.unwrap_or("default"),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        let img = Image { tag, base: vec![] };
        drop(img);
        Err(format!("podman cannot run the image here: {}", errors.join("; ")))
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = run("podman", &["rmi", "-f", &self.tag]);
    }
}

/// A detached container, removed (by its name) on drop.
struct Container {
    name: String,
}

impl Container {
    /// The agent as a pod runs it: private cgroup namespace, only the
    /// documented capabilities, the host's bpffs, cgroup2 (read-only) and
    /// /run/sockasm mounted; host network so the test reaches 127.0.0.1.
    fn agent(img: &Image, env: &Env, port: u16, on_exit: &str) -> Container {
        let name = format!("sockasm-test-{}-{port}", std::process::id());
        let cg2 = cgroup2_mount();
        let cg2 = cg2.to_str().expect("utf-8");
        let listen = format!("127.0.0.1:{port}");
        let mut args: Vec<String> = img.base.clone();
        for a in [
            "-d",
            "--name",
            &name,
            "--cgroupns=private",
            "--network=host",
            "--cap-drop=all",
            &format!("--cap-add={CAPS}"),
            "-v",
            "/sys/fs/bpf:/sys/fs/bpf",
            "-v",
            &format!("{cg2}:{cg2}:ro"),
            "-v",
            "/run/sockasm:/run/sockasm",
            &img.tag,
            "agent",
            "--cgroup",
            env.cg_str(),
            "--pin-dir",
            env.pin_str(),
            "--listen",
            &listen,
            "--check-interval",
            "0.5",
            "--on-exit",
            on_exit,
        ] {
            args.push(a.to_string());
        }
        std::fs::create_dir_all("/run/sockasm").expect("mkdir /run/sockasm");
        let o = Command::new("podman").args(&args).stdin(Stdio::null()).output().expect("podman run");
        assert!(o.status.success(), "podman run {args:?}:\n{}", show(&o));
        Container { name }
    }

    fn logs(&self) -> String {
        let o = run("podman", &["logs", &self.name]);
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    }

    /// Polls /healthz until 200 (at most 30 s).
    fn wait_healthy(&self, addr: &str) {
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            if std::net::TcpStream::connect(addr).is_ok() && http_get(addr, "/healthz").0 == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the agent in {} never got healthy:\n{}", self.name, self.logs());
    }

    /// `podman stop` (SIGTERM, then SIGKILL after 10 s); the exit code.
    fn stop(&self) -> i64 {
        let o = run("podman", &["stop", "-t", "10", &self.name]);
        assert!(o.status.success(), "{}", show(&o));
        let o = run("podman", &["inspect", "--format", "{{.State.ExitCode}}", &self.name]);
        String::from_utf8_lossy(&o.stdout).trim().parse().unwrap_or(-1)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = run("podman", &["rm", "-f", "-t", "2", &self.name]);
    }
}

/// The image, built from the static binary; `None` (after a SKIPPED line
/// where the host lacks podman or the static build) to end the test.
fn image_or_skip(test: &str) -> Option<Image> {
    if !kernel_ok() {
        return None;
    }
    if !have("podman") {
        skipped(test, "podman is not installed (apt-get install podman runc)");
        return None;
    }
    let built = static_binary().and_then(|bin| Image::build(&bin));
    built.map_err(|why| skipped(test, &why)).ok()
}

#[test]
fn container_image_runs_the_agent_like_a_pod() {
    const TEST: &str = "container_image_runs_the_agent_like_a_pod";
    let Some(img) = image_or_skip(TEST) else { return };
    let env = Env::new();

    // --on-exit unload: traffic redirected, /metrics parsed, podman stop leaves nothing.
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let c = Container::agent(&img, &env, port, "unload");
    c.wait_healthy(&addr);
    let logs = c.logs();
    assert!(logs.contains("event=cgroup_hierarchy view=\"private-namespace, host hierarchy mounted\""), "{logs}");
    assert!(traffic(&env) >= 262_144, "{}", c.logs());
    let (code, text) = http_get(&addr, "/metrics");
    assert_eq!(code, 200, "{text}");
    if prometheus_client() {
        let v = parse_exposition(text.as_bytes());
        assert_eq!(samples(&v, "sockasm_loaded")[0].2, 1.0, "{text}");
        assert!(samples(&v, "sockasm_redirected_bytes")[0].2 >= 262_144.0, "{text}");
        assert_eq!(samples(&v, "sockasm_attached")[0].1.get("cgroup").and_then(Value::as_str), Some(env.cg_str()));
    }
    assert_eq!(c.stop(), 0, "{}", c.logs());
    assert!(c.logs().contains("event=exiting on_exit=unload detached=true outcome=removed"), "{}", c.logs());
    assert_eq!(env.status().get("loaded"), Some(&Value::Bool(false)), "{}", c.logs());
    if let Some(v) = cgroup_attachments(&env.cg) {
        assert!(v.is_empty(), "{v:?}");
    }
    drop(c);

    // --on-exit keep: the pins stay, and the next agent adopts them.
    let port = free_port();
    let a = Container::agent(&img, &env, port, "keep");
    a.wait_healthy(&format!("127.0.0.1:{port}"));
    assert_eq!(a.stop(), 0, "{}", a.logs());
    assert!(a.logs().contains("event=exiting on_exit=keep"), "{}", a.logs());
    assert_eq!(env.status().get("loaded"), Some(&Value::Bool(true)), "{}", a.logs());
    drop(a);
    let port = free_port();
    let b = Container::agent(&img, &env, port, "unload");
    b.wait_healthy(&format!("127.0.0.1:{port}"));
    assert!(b.logs().contains("pins=reused attach=already"), "{}", b.logs());
    if let Some(v) = cgroup_attachments(&env.cg) {
        assert_eq!(v.len(), 1, "{v:?}");
    }
    assert!(traffic(&env) >= 262_144, "{}", b.logs());
    assert_eq!(b.stop(), 0, "{}", b.logs());
    assert_eq!(env.status().get("loaded"), Some(&Value::Bool(false)), "{}", b.logs());
}

/// Without the host's hierarchy and without hostPID, the agent refuses and
/// says what the pod spec needs; with hostPID and CAP_SYS_PTRACE it joins
/// the host's cgroup namespace and mounts cgroup2 privately. (This machine
/// guards PID 1's namespaces, so the test names its own process, which is
/// in the host's cgroup namespace, with --host-pid.)
#[test]
fn container_agent_joins_the_host_cgroup_namespace_or_says_what_to_add() {
    const TEST: &str = "container_agent_joins_the_host_cgroup_namespace_or_says_what_to_add";
    let Some(img) = image_or_skip(TEST) else { return };
    let env = Env::new();
    let common = |extra: &[&str], cgroup: &str| -> Output {
        let mut args: Vec<String> = img.base.clone();
        let caps = format!("--cap-add={CAPS}{}", if extra.contains(&"--pid=host") { ",SYS_PTRACE" } else { "" });
        for a in
            ["--rm", "--cgroupns=private", "--network=none", "--cap-drop=all", &caps, "-v", "/sys/fs/bpf:/sys/fs/bpf"]
        {
            args.push(a.into());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(img.tag.clone());
        for a in
            ["agent", "--cgroup", cgroup, "--pin-dir", env.pin_str(), "--listen", "127.0.0.1:0", "--lock-wait", "0"]
        {
            args.push(a.into());
        }
        let pid = std::process::id().to_string();
        args.extend(["--host-pid".to_string(), pid, "--on-exit".into(), "unload".into()]);
        // Ends by itself: SIGTERM after 3 s from inside is not possible, so
        // a wrapper timeout sends it to podman, which passes it on.
        Command::new("timeout")
            .args(["-s", "TERM", "8"])
            .arg("podman")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("podman run")
    };
    let o = common(&[], env.cg_str());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{}", show(&o));
    assert!(err.contains("hostPID: true") && err.contains("hostPath volume"), "{}", show(&o));

    // Joined: the host hierarchy is then at /sys/fs/cgroup inside.
    let rel = env.cg.strip_prefix(cgroup2_mount()).expect("under the mount");
    let inside = Path::new("/sys/fs/cgroup").join(rel);
    let o = common(&["--pid=host"], inside.to_str().expect("utf-8"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("joined the host's cgroup namespace"), "{}", show(&o));
    assert!(err.contains("event=loaded") && err.contains("attach=attached"), "{}", show(&o));
    assert!(err.contains("event=exiting on_exit=unload detached=true outcome=removed"), "{}", show(&o));
    if let Some(v) = cgroup_attachments(&env.cg) {
        assert!(v.is_empty(), "{v:?}");
    }
}

#[test]
fn kubernetes_manifests_validate_offline() {
    const TEST: &str = "kubernetes_manifests_validate_offline";
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let files: Vec<String> = ["namespace.yaml", "serviceaccount.yaml", "daemonset.yaml"]
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect();
    let ok = Command::new(PYTHON)
        .args(["-c", "import kubernetes_validate, yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return skipped(
            TEST,
            &format!(
                "{PYTHON} has no kubernetes_validate ({PYTHON} -m pip install --break-system-packages kubernetes-validate)"
            ),
        );
    }
    // The schemas ship with the package: no network needed.
    let mut args = vec!["-m", "kubernetes_validate", "--strict", "-k", "1.30.0"];
    args.extend(files.iter().map(String::as_str));
    let o = run(PYTHON, &args);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).matches(" passed ").count(), 3, "{}", show(&o));

    // What the issue asks of the DaemonSet, and that its args are the agent's.
    const CHECK: &str = r#"
import json, sys, yaml
ds = yaml.safe_load(open(sys.argv[1]))
spec = ds["spec"]["template"]["spec"]
c = spec["containers"][0]
print(json.dumps({
  "caps": c["securityContext"]["capabilities"]["add"],
  "drop": c["securityContext"]["capabilities"]["drop"],
  "privileged": c["securityContext"].get("privileged"),
  "ready": c["readinessProbe"]["httpGet"]["path"], "live": c["livenessProbe"]["httpGet"]["path"],
  "port": c["ports"][0]["containerPort"],
  "scrape": ds["spec"]["template"]["metadata"]["annotations"],
  "prio": spec["priorityClassName"], "grace": spec["terminationGracePeriodSeconds"],
  "update": ds["spec"]["updateStrategy"], "args": c["args"], "resources": sorted(c["resources"]),
  "mounts": sorted(m["mountPath"] for m in c["volumeMounts"]),
}))
"#;
    let o = run(PYTHON, &["-c", CHECK, &files[2]]);
    assert!(o.status.success(), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let want_caps: Vec<String> = sockasm::agent::REQUIRED_CAPS
        .iter()
        .map(|c| c.1)
        .chain([sockasm::agent::CAP_PERFMON.1])
        .map(|c| format!("\"{}\"", c.trim_start_matches("CAP_")))
        .collect();
    for cap in &want_caps {
        assert!(text.contains(cap), "{cap}: {text}");
    }
    for want in [
        "\"drop\": [\"ALL\"]",
        "\"privileged\": false",
        "\"ready\": \"/healthz\"",
        "\"live\": \"/healthz\"",
        "\"port\": 9494",
        "\"prometheus.io/scrape\": \"true\"",
        "\"prometheus.io/port\": \"9494\"",
        "\"prio\": \"system-node-critical\"",
        "\"maxUnavailable\": 1",
        "--exclude-ports=8443",
        "--listen=0.0.0.0:9494",
        "\"resources\": [\"limits\", \"requests\"]",
        "\"/run/sockasm\", \"/sys/fs/bpf\", \"/sys/fs/cgroup\"",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    // Every option the DaemonSet passes is one `sockasm agent` has.
    let help = run(BIN, &["agent", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for arg in text.split('"').filter(|w| w.starts_with("--")) {
        let flag = arg.split('=').next().unwrap_or(arg);
        assert!(help.contains(flag), "sockasm agent has no {flag}:\n{help}");
    }
}

/// A podman bridge network, removed (by its name) on drop.
struct Network {
    name: String,
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = run("podman", &["network", "rm", "-f", &self.name]);
    }
}

/// Two containers of the image on one podman bridge network, a server and a
/// client, both moved into the test's cgroup by the worker itself (before
/// they create a socket): their connections cross two network namespaces
/// and the bridge, pair by their sequence numbers, and are redirected, with
/// every byte checked by the workers.
#[test]
fn container_pods_on_a_podman_bridge_pair() {
    const TEST: &str = "container_pods_on_a_podman_bridge_pair";
    let Some(img) = image_or_skip(TEST) else { return };
    let env = Env::new();
    let id = std::process::id();
    // A subnet of the test's own (10.203.x.x is used only by the tests).
    let net = Network { name: format!("sockasm-test-{id}") };
    let subnet = format!("10.203.{}.0/24", 100 + id % 100);
    let server_ip = format!("10.203.{}.2", 100 + id % 100);
    let o = run("podman", &["network", "create", "--driver", "bridge", "--subnet", &subnet, &net.name]);
    if !o.status.success() {
        return skipped(TEST, &format!("podman cannot create a bridge network here:\n{}", show(&o)));
    }
    env.load(&[]);
    let cg = env.cg_str();
    let container = |name: &str, ip: Option<&str>, worker: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = img.base.clone();
        for a in ["--rm", "--name", name, "--network", &net.name, "--cgroupns=host", "-v", &format!("{cg}:{cg}")] {
            args.push(a.to_string());
        }
        if let Some(ip) = ip {
            args.extend(["--ip".to_string(), ip.to_string()]);
        }
        args.push(img.tag.clone());
        args.extend(["worker", "--cgroup", cg, "--timeout", "60"].iter().map(|s| s.to_string()));
        args.extend(worker.iter().map(|s| s.to_string()));
        args
    };
    let (conns, bytes) = (2u64, 4u64 << 20);
    let names = [format!("sockasm-test-{id}-server"), format!("sockasm-test-{id}-client")];
    // Removed on every way out, by name.
    struct Rm<'a>(&'a [String; 2]);
    impl Drop for Rm<'_> {
        fn drop(&mut self) {
            for n in self.0 {
                let _ = run("podman", &["rm", "-f", "-t", "2", n]);
            }
        }
    }
    let _rm = Rm(&names);
    let serve = container(
        &names[0],
        Some(&server_ip),
        &[
            "serve",
            "--listen",
            "0.0.0.0:7000",
            "--conns",
            &conns.to_string(),
            "--reader",
            "epoll-lt",
            "--expect-tag",
            "pod",
        ],
    );
    let mut server = Command::new("podman")
        .args(&serve)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("podman run (server)");
    let server_err = crate::kernel::harness::capture(server.stderr.take().expect("stderr"));
    let lines = {
        let out = server.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    };
    let first = lines.recv_timeout(Duration::from_secs(60));
    let kill = |server: &mut std::process::Child| {
        let _ = server.kill();
        let _ = server.wait();
    };
    let first = match first {
        Ok(l) => l,
        Err(e) => {
            kill(&mut server);
            let err = server_err.lock().map(|s| s.clone()).unwrap_or_default();
            panic!("the server container never listened ({e}):\n{err}");
        }
    };
    assert!(first.contains("\"listening\""), "{first}");
    let before = env.counters();
    let target = format!("{server_ip}:7000");
    let client = container(
        &names[1],
        None,
        &[
            "client",
            "--connect",
            &target,
            "--conns",
            &conns.to_string(),
            "--concurrent",
            &conns.to_string(),
            "--bytes",
            &bytes.to_string(),
            "--write-size",
            "65536",
            "--half-close",
            "--tag",
            "pod",
        ],
    );
    let o = Command::new("timeout").args(["-s", "KILL", "90", "podman"]).args(&client).stdin(Stdio::null()).output();
    let o = o.expect("podman run (client)");
    let end = Instant::now() + Duration::from_secs(30);
    let mut result = None;
    while result.is_none() && Instant::now() < end {
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(200)) {
            result = Some(l);
        }
    }
    kill(&mut server);
    let d = env.counters().since(&before);
    eprintln!("[podman bridge] counters {d:?}");
    assert!(o.status.success(), "client container:\n{}", show(&o));
    let client_out = String::from_utf8_lossy(&o.stdout);
    let want = format!("\"bytes_received\":{}", conns * bytes);
    assert!(client_out.replace(' ', "").contains(&want), "client: {client_out}\n{}", show(&o));
    let sv = result.unwrap_or_else(|| panic!("no result from the server: {:?}", server_err.lock().map(|s| s.clone())));
    assert!(sv.replace(' ', "").contains(&format!("\"bytes_in\":{}", conns * bytes)), "server: {sv}");
    assert!(sv.replace(' ', "").contains(&format!("\"distinct_streams\":{conns}")), "server: {sv}");
    assert_eq!(d.sockets_added, 2 * conns, "both ends of every connection joined: {d:?}");
    assert_eq!((d.tcp_no_peer, d.tcp_peer_stale, d.tcp_other_netns), (0, 0, 0), "{d:?}");
    assert!(d.redirected_bytes >= 2 * conns * bytes, "both directions redirected: {d:?}");
}
