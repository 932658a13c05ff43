//! Production hardening (issue 9): concurrent load/unload, orphans found in
//! the kernel, hostile pin directories, bounds, closed stdout, messages.
//! Same rules as the kernel tests: each test has its own child cgroup and pin
//! dir (removed on drop), never touches the root cgroup or anything it did not
//! create, and traffic stays on loopback.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::kernel::harness::{BIN, Env, show, sockasm};
use crate::kernel::json::{Field, Value};
use crate::kernel::kernel_ok;
use sockasm::syscall::{self, AttachType};

/// sockasm sock_ops program ids attached directly to `cg`.
fn sockasm_attached(cg: &Path) -> Vec<u32> {
    let c = sockasm::cgroup::Cgroup::open(cg).expect("open test cgroup");
    syscall::query_cgroup(c.fd(), AttachType::CGROUP_SOCK_OPS)
        .expect("query")
        .into_iter()
        .filter(|id| {
            syscall::prog_fd_by_id(*id)
                .ok()
                .and_then(|fd| syscall::prog_info(fd.as_fd()).ok())
                .is_some_and(|i| i.name == "sockasm_sockops")
        })
        .collect()
}

/// The id of the sock_ops program pinned in `pin`, if any.
fn pinned_id(pin: &Path) -> Option<u32> {
    let fd = syscall::get_pinned(pin.join("sockops")).ok()?;
    syscall::prog_info(fd.as_fd()).ok().map(|i| i.id)
}

/// Detaches what `sockasm_attached` lists (test cleanup, our cgroup only).
fn force_detach(cg: &Path) {
    let c = sockasm::cgroup::Cgroup::open(cg).expect("open test cgroup");
    for id in sockasm_attached(cg) {
        if let Ok(fd) = syscall::prog_fd_by_id(id) {
            let _ = syscall::detach_cgroup(fd.as_fd(), c.fd(), AttachType::CGROUP_SOCK_OPS);
        }
    }
}

/// Many empty cgroups inside a test cgroup (they make the cgroup walk of
/// `unload` take long, widening any race); removed on drop. Drop it before
/// the `Env` (declare it after).
struct Crowd(Vec<PathBuf>);
impl Crowd {
    fn new(parent: &Path, n: usize) -> Crowd {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let p = parent.join(format!("crowd-{i}"));
            std::fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
            v.push(p);
        }
        Crowd(v)
    }
}
impl Drop for Crowd {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir(p);
        }
    }
}

fn wait_out(child: std::process::Child) -> Output {
    child.wait_with_output().expect("wait for sockasm")
}

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockasm")
}

/// Issue item 1: `load` while `unload` runs. Before the lock, the `load`
/// reused pins the `unload` then removed: an attachment with no pins.
#[test]
fn kernel_load_during_unload_leaves_no_orphan() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    let _crowd = Crowd::new(&env.cg, 1000);
    let (cg, pin) = (env.cg_str().to_string(), env.pin_str().to_string());
    let rounds = 12;
    let mut bad = Vec::new();
    for round in 0..rounds {
        env.load(&[]);
        let unload = spawn(&["unload", "--cgroup", &cg, "--pin-dir", &pin]);
        // Different offsets, so that some land inside the unload.
        std::thread::sleep(Duration::from_millis([0, 2, 5, 10, 20, 30][round % 6]));
        let load = spawn(&["load", "--cgroup", &cg, "--pin-dir", &pin]);
        let (u, l) = (wait_out(unload), wait_out(load));
        assert!(u.status.success(), "round {round}: unload: {}", show(&u));
        assert!(l.status.success(), "round {round}: load: {}", show(&l));
        let attached = sockasm_attached(&env.cg);
        let pinned = pinned_id(&env.pin);
        // Either loaded and attached with its pins, or nothing at all.
        let consistent = match pinned {
            Some(id) => attached == vec![id],
            None => attached.is_empty(),
        };
        if !consistent {
            bad.push(format!("round {round}: attached {attached:?}, pinned {pinned:?}\n  load: {}", show(&l)));
            force_detach(&env.cg);
        }
        let o = env.unload();
        assert!(o.status.success(), "{}", show(&o));
        assert!(sockasm_attached(&env.cg).is_empty(), "round {round}: unload left an attachment: {}", show(&o));
    }
    assert!(bad.is_empty(), "{} of {rounds} rounds left an inconsistent state:\n{}", bad.len(), bad.join("\n"));
}

/// Issue item 2: two `load`s at once into one pin dir, for two cgroups:
/// both succeed, one creating and one reusing, and both cgroups are attached.
#[test]
fn kernel_concurrent_loads_both_succeed() {
    if !kernel_ok() {
        return;
    }
    let a = Env::new();
    let b = Env::new_with_pin(&a.pin);
    for round in 0..10 {
        let pa = spawn(&["load", "--cgroup", a.cg_str(), "--pin-dir", a.pin_str()]);
        let pb = spawn(&["load", "--cgroup", b.cg_str(), "--pin-dir", b.pin_str()]);
        let (oa, ob) = (wait_out(pa), wait_out(pb));
        assert!(oa.status.success(), "round {round}: first load failed: {}", show(&oa));
        assert!(ob.status.success(), "round {round}: second load failed: {}", show(&ob));
        let created = [&oa, &ob].iter().filter(|o| String::from_utf8_lossy(&o.stdout).starts_with("loaded ")).count();
        assert_eq!(created, 1, "round {round}: exactly one load creates:\n{}\n{}", show(&oa), show(&ob));
        let st = a.status();
        assert_eq!(st.arr("cgroups").len(), 2, "round {round}: {st}");
        let id = pinned_id(&a.pin).expect("pinned");
        assert_eq!(sockasm_attached(&a.cg), vec![id], "round {round}");
        assert_eq!(sockasm_attached(&b.cg), vec![id], "round {round}");
        for e in [&a, &b] {
            let o = e.unload();
            assert!(o.status.success(), "{}", show(&o));
        }
        assert!(!a.pin.exists(), "round {round}: pins left after both unloads");
    }
}

/// Issue item 3: a deleted pin no longer hides a live attachment: `status`
/// reports the orphan (found by walking the kernel's programs) and `unload`
/// removes it; the same after the whole pin directory was deleted.
#[test]
fn kernel_orphan_found_and_removed() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    // One pin deleted.
    env.load(&[]);
    let id = pinned_id(&env.pin).expect("pinned");
    std::fs::remove_file(env.pin.join("sockops")).expect("rm sockops pin");
    let o = sockasm(&["status", "--pin-dir", env.pin_str()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("orphaned: sock_ops program id {id} ")) && out.contains(env.cg_str()),
        "status does not report the orphan: {}",
        show(&o)
    );
    let o = env.unload();
    assert!(o.status.success(), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("orphaned sock_ops program id {id}")), "{}", show(&o));
    assert_eq!(sockasm_attached(&env.cg), Vec::<u32>::new(), "unload left the orphan attached: {}", show(&o));
    assert!(!env.pin.exists(), "{}", show(&o));

    // The whole pin directory deleted (a crash before pinning, or rm -r).
    env.load(&[]);
    let id = pinned_id(&env.pin).expect("pinned");
    std::fs::remove_dir_all(&env.pin).expect("rm -r pin dir");
    let st = env.status();
    assert!(!st.bool("loaded"), "{st}");
    let mine: Vec<&Value> = st
        .arr("orphans")
        .iter()
        .filter(|o| o.arr("cgroups").iter().any(|c| c.as_str() == Some(env.cg_str())))
        .collect();
    assert_eq!(mine.len(), 1, "status --json does not list the orphan on our cgroup: {st}");
    assert_eq!(mine[0].u64("id"), id as u64, "{st}");
    let o = env.unload();
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(sockasm_attached(&env.cg), Vec::<u32>::new(), "unload left the orphan attached: {}", show(&o));
    // A second unload has nothing left to do.
    let o = env.unload();
    assert!(String::from_utf8_lossy(&o.stdout).contains("not loaded"), "{}", show(&o));
}

/// Issue item 3: a pin directory another user owns, or others can write,
/// is refused with the path and what to do; nothing is attached.
#[test]
fn kernel_hostile_pin_dir_refused() {
    use std::os::unix::fs::PermissionsExt;
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    std::fs::create_dir(&env.pin).expect("mkdir pin dir");
    std::os::unix::fs::chown(&env.pin, Some(65534), Some(65534)).expect("chown");
    let o = env.try_load(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "load used a pin dir owned by uid 65534: {}", show(&o));
    assert!(err.contains(env.pin_str()) && err.contains("owned by uid 65534") && err.contains("rm -r"), "{err}");
    assert!(sockasm_attached(&env.cg).is_empty());
    std::os::unix::fs::chown(&env.pin, Some(0), Some(0)).expect("chown back");
    std::fs::set_permissions(&env.pin, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let o = env.try_load(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "load used a pin dir of mode 1777: {}", show(&o));
    assert!(err.contains("others can write") && err.contains(env.pin_str()), "{err}");
    assert!(sockasm_attached(&env.cg).is_empty());
    std::fs::set_permissions(&env.pin, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    env.load(&[]);
    // A directory load creates itself is private.
    let o = env.unload();
    assert!(o.status.success(), "{}", show(&o));
    env.load(&[]);
    let mode = std::fs::metadata(&env.pin).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

/// Runs `sockasm ARGS` with its stdout a pipe whose reader is already gone.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (r, w) = nix::unistd::pipe().expect("pipe");
    drop(r);
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(w))
        .stderr(Stdio::piped())
        .output()
        .expect("run sockasm")
}

/// Issue item 6: a closed stdout ends the command quietly after its work.
#[test]
fn closed_stdout_is_quiet() {
    for args in [&["verify", "--prog", "all"][..], &["dump", "--disasm"], &["asm", "/dev/null", "-o", "-"]] {
        if args[0] == "verify" && !nix::unistd::geteuid().is_root() {
            continue;
        }
        let o = with_closed_stdout(args);
        assert_eq!(o.status.code(), Some(0), "sockasm {args:?}: {}", show(&o));
        assert!(o.stderr.is_empty(), "sockasm {args:?} printed to stderr: {}", show(&o));
    }
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    let o = with_closed_stdout(&["load", "--cgroup", env.cg_str(), "--pin-dir", env.pin_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(o.stderr.is_empty(), "{}", show(&o));
    assert!(env.status().bool("loaded"), "the load itself must be done");
    let o = with_closed_stdout(&["status", "--pin-dir", env.pin_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(o.stderr.is_empty(), "{}", show(&o));
    let o = with_closed_stdout(&["unload", "--cgroup", env.cg_str(), "--pin-dir", env.pin_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!env.pin.exists(), "the unload itself must be done");
}

/// A copy of the sockasm binary that any user can run: mode 0755 in a fresh
/// directory of mode 0755 under /tmp, removed (with the copy) on drop, also
/// when the test fails. The built binary itself may lie in a directory other
/// users cannot enter (CI clones into a 0700 `mktemp -d`).
struct PublicBin {
    dir: PathBuf,
}

impl PublicBin {
    fn new() -> PublicBin {
        use std::os::unix::fs::PermissionsExt;
        let dir = Path::new("/tmp").join(format!("sockasm-public-bin-{}", std::process::id()));
        // Left over by a killed run of a process with the same pid.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let guard = PublicBin { dir };
        // Set explicitly: the umask may have taken bits away at creation.
        std::fs::set_permissions(&guard.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod 0755 dir");
        std::fs::copy(BIN, guard.path()).expect("copy the sockasm binary");
        std::fs::set_permissions(guard.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod 0755 binary");
        guard
    }

    fn path(&self) -> PathBuf {
        self.dir.join("sockasm")
    }
}

impl Drop for PublicBin {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Issue item 5: `status` by an unprivileged user says it lacks permission.
/// The user runs a copy of the binary it can reach ([`PublicBin`]).
#[test]
fn unprivileged_status_says_permission() {
    use std::os::unix::process::CommandExt;
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    env.load(&[]);
    let bin = PublicBin::new();
    for json in [false, true] {
        let mut args = vec!["status", "--pin-dir", env.pin_str()];
        if json {
            args.push("--json");
        }
        let o = Command::new(bin.path())
            .args(&args)
            .current_dir(&bin.dir)
            .uid(65534)
            .gid(65534)
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "unprivileged status succeeded: {}", show(&o));
        assert!(err.contains("permission denied") && err.contains("uid 65534"), "{}", show(&o));
        assert!(!String::from_utf8_lossy(&o.stdout).contains("not loaded"), "{}", show(&o));
    }
}

/// Issue item 7: `--max-entries` is bounded; inputs are size-limited.
#[test]
fn bounds_on_max_entries_and_inputs() {
    for args in [
        &["asm", "/dev/zero", "-o", "/dev/null"][..],
        &["dump", "--disasm", "--raw", "/dev/zero"],
        &["dump", "--disasm", "/dev/zero"],
        &["verify", "/dev/zero", "--type", "xdp"],
        &["run", "/dev/zero", "--type", "xdp"],
    ] {
        let t = Instant::now();
        let o = sockasm(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "sockasm {args:?}: {}", show(&o));
        assert!(err.contains("/dev/zero is larger than 64 MiB"), "sockasm {args:?}: {err}");
        eprintln!("[bounds] sockasm {args:?}: refused in {:?}", t.elapsed());
    }
    let prog = std::env::temp_dir().join(format!("sockasm-bounds-{}.s", std::process::id()));
    std::fs::write(&prog, "r0 = 0\nexit\n").expect("write");
    let o = sockasm(&["run", prog.to_str().expect("utf-8"), "--type", "xdp", "--data-file", "/dev/zero"]);
    std::fs::remove_file(&prog).ok();
    assert!(String::from_utf8_lossy(&o.stderr).contains("/dev/zero is larger than 64 MiB"), "{}", show(&o));
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    let o = env.try_load(&["--max-entries", "1048577"]);
    assert!(!o.status.success(), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("between 1 and 1048576"), "{}", show(&o));
    assert!(!env.pin.exists());
    assert!(sockasm_attached(&env.cg).is_empty());
    env.load(&["--max-entries", "1048576"]);
    assert_eq!(env.status().u64("map.max_entries"), 1 << 20);
}

/// Issue item 9: the misleading messages.
#[test]
fn kernel_messages_say_what_happened() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    // A relative --pin-dir is taken from the current directory.
    let rel = env.pin.file_name().and_then(|n| n.to_str()).expect("name").to_string();
    let o = Command::new(BIN)
        .args(["load", "--cgroup", env.cg_str(), "--pin-dir", &rel])
        .current_dir("/sys/fs/bpf")
        .output()
        .expect("run");
    assert!(o.status.success(), "load with a relative pin dir: {}", show(&o));
    assert!(env.status().bool("loaded"));
    let o = env.unload();
    assert!(o.status.success(), "{}", show(&o));
    // A missing parent directory is named as missing, not as "not on bpffs".
    let deep = env.pin.join("missing").join("pins");
    let o = sockasm(&["load", "--cgroup", env.cg_str(), "--pin-dir", deep.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("does not exist") && !err.contains("not on bpffs"), "{}", show(&o));
    // A nonexistent cgroup is named as such.
    let gone = env.cg.join("no-such-cgroup");
    let o = sockasm(&["unload", "--cgroup", gone.to_str().expect("utf-8"), "--pin-dir", env.pin_str()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("does not exist") && !out.contains("was not attached"), "{}", show(&o));
    // A repeated unload while draining does not claim to detach again.
    env.load(&[]);
    let (mut srv, port) = env.server(true, None, &["--listen", "127.0.0.1:0", "--hold-ms", "5000"]);
    let target = format!("127.0.0.1:{port}");
    env.client(true, None, &["--connect", &target, "--bytes", "4096", "--tag", "drain"]).finish();
    let first = env.unload();
    let second = env.unload();
    let (f, s) = (String::from_utf8_lossy(&first.stdout), String::from_utf8_lossy(&second.stdout));
    if f.contains("still use the bypass") && s.contains("still use the bypass") {
        assert!(f.starts_with("detached from cgroup"), "{}", show(&first));
        assert!(!s.contains("detached from"), "the second unload claims to detach: {}", show(&second));
    } else {
        panic!("the held connection should keep the map draining:\n{}\n{}", show(&first), show(&second));
    }
    srv.finish();
    // verify --type lsm as root: neither blames root nor calls it a rejection.
    let prog = std::env::temp_dir().join(format!("sockasm-msg-{}.s", std::process::id()));
    std::fs::write(&prog, "r0 = 0\nexit\n").expect("write");
    let p = prog.to_str().expect("utf-8");
    let o = sockasm(&["verify", p, "--type", "lsm"]);
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!o.status.success(), "{}", show(&o));
    assert!(!all.contains("run as root") && !all.contains("verifier rejected"), "{}", show(&o));
    assert!(all.contains("attach_btf_id"), "{}", show(&o));
    // run --data-file of 4500 bytes on socket_filter: too much data, not "unsupported".
    let data = std::env::temp_dir().join(format!("sockasm-msg-{}.bin", std::process::id()));
    std::fs::write(&data, vec![0u8; 4500]).expect("write");
    let o = sockasm(&["run", p, "--type", "socket_filter", "--data-file", data.to_str().expect("utf-8")]);
    std::fs::remove_file(&data).ok();
    std::fs::remove_file(&prog).ok();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("4500 bytes of data is more than fits"), "{}", show(&o));
    assert!(!err.contains("may not support"), "{}", show(&o));
}
