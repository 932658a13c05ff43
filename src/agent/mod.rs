//! `sockasm agent`: the one long-running process of a node, as a Kubernetes
//! DaemonSet runs it.
//!
//! It finds the host's cgroup hierarchy when it runs in a container
//! ([`host`]), takes a per-pin-directory agent lock (a second agent waits
//! for the first, at most `lock_wait`), loads the bypass with
//! [`deploy::load`] (the same call, lock and pins as `sockasm load`, so the
//! two are idempotent with each other), serves `GET /metrics` and
//! `GET /healthz` ([`http`]), checks every `check_interval` that the bypass
//! is still pinned and attached ([`deploy::check_attached`]) and loads it
//! again when it is not, and on SIGTERM or SIGINT leaves it loaded
//! (`OnExit::Keep`: the next agent adopts the pins) or unloads it. Every
//! event is one line on stderr, `sockasm-agent ts=… event=… key=value…`.

pub mod host;
pub mod http;

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::deploy::{self, AttachCheck, DeployError, LifecycleLock, LoadOptions, LoadReport, UnloadOutcome};
use host::{HostError, HostView};
use http::Response;

/// Capabilities the agent cannot work without (bit, name, why).
pub const REQUIRED_CAPS: [(u32, &str, &str); 3] = [
    (39, "CAP_BPF", "create the maps and load the programs"),
    (12, "CAP_NET_ADMIN", "load and attach sock_ops and sk_msg programs (networking program types)"),
    (
        21,
        "CAP_SYS_ADMIN",
        "walk the kernel's BPF program ids (finding orphaned attachments), pass seccomp's bpf(2) rule, \
         and join the host's cgroup namespace and mount cgroup2 when that is needed",
    ),
];
/// Without it the bypass loads peer-blind (unbounded queues).
pub const CAP_PERFMON: (u32, &str) = (38, "CAP_PERFMON");

/// What to do with the bypass when the agent stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnExit {
    /// Leave it loaded and pinned: the next agent adopts the pins (a rolling update).
    Keep,
    /// Unload it (detach from the cgroup; remove the pins once no connection uses them).
    Unload,
}

#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// What and where to load (the options of `sockasm load`).
    pub load: LoadOptions,
    /// Where /metrics and /healthz are served.
    pub listen: SocketAddr,
    pub check_interval: Duration,
    pub on_exit: OnExit,
    /// How long to wait for another agent of the same pin directory to exit.
    pub lock_wait: Duration,
    /// A process in the host's cgroup namespace, joined when the host's
    /// hierarchy is not mounted (1: the host's init, with hostPID).
    pub host_pid: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "sockasm agent lacks {missing}; add {} to the container's securityContext.capabilities.add \
         (or run it as root on the host)",
        missing.replace("CAP_", "")
    )]
    Capabilities { missing: String },
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(
        "{} is not on bpffs; mount the host's /sys/fs/bpf into the container (a hostPath volume of \
         /sys/fs/bpf, or podman -v /sys/fs/bpf:/sys/fs/bpf), so that the pins outlive the agent",
        dir.display()
    )]
    NoHostBpffs { dir: PathBuf },
    #[error(
        "another sockasm agent ({holder}) runs for pin directory {} (lock {}), and it did not exit within {}s; \
         run one agent per node and pin directory",
        pin_dir.display(), lock.display(), waited.as_secs()
    )]
    AnotherAgent { pin_dir: PathBuf, lock: PathBuf, holder: String, waited: Duration },
    #[error("cannot listen on {addr}: {source}; choose another --listen ADDR:PORT")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot set up SIGTERM/SIGINT handling ({step}): {errno}")]
    Signals { step: &'static str, errno: nix::errno::Errno },
    #[error("loading the bypass failed")]
    Load(#[source] DeployError),
    #[error("unloading the bypass on exit (--on-exit unload) failed")]
    Unload(#[source] DeployError),
    #[error(transparent)]
    Deploy(#[from] DeployError),
}

/// One event line on stderr: `sockasm-agent ts=<unix seconds> event=<name> key=value…`
/// (values with spaces, quotes or `=` are quoted).
pub fn log(event: &str, fields: &[(&str, String)]) {
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let mut line = format!("sockasm-agent ts={ts:.3} event={event}");
    for (k, v) in fields {
        if v.is_empty() || v.contains([' ', '"', '=', '\n', '\\']) {
            line.push_str(&format!(" {k}={v:?}"));
        } else {
            line.push_str(&format!(" {k}={v}"));
        }
    }
    eprintln!("{line}");
}

fn d(p: &Path) -> String {
    p.display().to_string()
}

/// What the HTTP thread reads and the main loop writes.
struct Shared {
    pin_dir: PathBuf,
    healthy: AtomicBool,
    health: Mutex<String>,
    checks: AtomicU64,
    check_failures: AtomicU64,
    reattachments: AtomicU64,
}

impl Shared {
    fn set_health(&self, ok: bool, why: String) {
        self.healthy.store(ok, Ordering::Relaxed);
        *self.health.lock().unwrap_or_else(|e| e.into_inner()) = why;
    }

    fn route(&self, path: &str) -> Response {
        match path {
            "/healthz" => {
                let why = self.health.lock().unwrap_or_else(|e| e.into_inner()).clone();
                match self.healthy.load(Ordering::Relaxed) {
                    true => Response::text(200, "OK", format!("ok: {why}\n")),
                    false => Response::text(503, "Service Unavailable", format!("unhealthy: {why}\n")),
                }
            }
            "/metrics" => match self.metrics() {
                Ok(text) => Response {
                    content_type: "text/plain; version=0.0.4; charset=utf-8",
                    ..Response::text(200, "OK", text)
                },
                Err(e) => Response::text(500, "Internal Server Error", format!("{e}\n")),
            },
            _ => Response::text(404, "Not Found", "not found; try /metrics or /healthz\n"),
        }
    }

    /// `status --format prometheus`, and the agent's own families.
    fn metrics(&self) -> Result<String, DeployError> {
        use std::fmt::Write;
        let st = deploy::status(&self.pin_dir)?;
        let orphans = deploy::orphans(&self.pin_dir)?;
        let stale = deploy::stale_leftovers()?;
        let mut s = deploy::prometheus(&st, &orphans, &stale);
        let pin = format!("pin_dir=\"{}\"", deploy::prometheus_label(&d(&self.pin_dir)));
        let families: [(&str, &str, &str, u64); 4] = [
            (
                "sockasm_agent_reattachments_total",
                "counter",
                "Times the agent found the bypass detached or its pins deleted and loaded it again.",
                self.reattachments.load(Ordering::Relaxed),
            ),
            (
                "sockasm_agent_checks_total",
                "counter",
                "Periodic checks of the attachment.",
                self.checks.load(Ordering::Relaxed),
            ),
            (
                "sockasm_agent_check_failures_total",
                "counter",
                "Checks that failed, or whose repair failed (see the agent's log).",
                self.check_failures.load(Ordering::Relaxed),
            ),
            (
                "sockasm_agent_healthy",
                "gauge",
                "1 if the last check found the bypass pinned and attached, else 0.",
                self.healthy.load(Ordering::Relaxed) as u64,
            ),
        ];
        for (name, kind, help, v) in families {
            // As `status` writes them: HELP and TYPE name the sample, _total included.
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} {kind}");
            let _ = writeln!(s, "{name}{{{pin}}} {v}");
        }
        Ok(s)
    }
}

/// The agent lock of a pin directory: `/run/sockasm/agent-<pin dir, / as ->.lock`.
pub fn agent_lock_path(pin_dir: &Path) -> PathBuf {
    let name: String =
        d(pin_dir).trim_matches('/').chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    Path::new(deploy::LOCK_DIR).join(format!("agent-{name}.lock"))
}

/// A pending SIGTERM or SIGINT, waiting at most `within`.
fn wait_signal(sfd: &SignalFd, within: Duration) -> Option<Signal> {
    // Rounded up, so that the wait never ends just before `within`.
    let ms = (within.as_micros().div_ceil(1000)).min(60_000) as u16;
    let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(n) if n > 0 => sfd.read_signal().ok().flatten().and_then(|i| Signal::try_from(i.ssi_signo as i32).ok()),
        _ => None,
    }
}

fn check_caps() -> Result<(), AgentError> {
    let caps = crate::syscall::error::effective_caps().unwrap_or(0);
    let missing: Vec<&str> =
        REQUIRED_CAPS.iter().filter(|(bit, _, _)| caps & (1u64 << bit) == 0).map(|c| c.1).collect();
    if !missing.is_empty() {
        return Err(AgentError::Capabilities { missing: missing.join(", ") });
    }
    if caps & (1u64 << CAP_PERFMON.0) == 0 {
        log(
            "warning",
            &[("msg", "no CAP_PERFMON: the bypass loads peer-blind (a reader that stops reading is not bounded); add CAP_PERFMON".into())],
        );
    }
    Ok(())
}

/// Whether `dir` is a mount point (listed in /proc/self/mountinfo).
fn is_mount_point(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    text.lines().any(|l| l.split(' ').nth(4) == Some(&d(dir)))
}

fn load_fields(r: &LoadReport) -> Vec<(&'static str, String)> {
    let attach = match &r.attach {
        deploy::Attach::Attached => "attached".to_string(),
        deploy::Attach::Already => "already".to_string(),
        deploy::Attach::Inherited(a) => format!("inherited from {}", a.display()),
    };
    let mut f = vec![
        ("cgroup", d(&r.cgroup)),
        ("pin_dir", d(&r.pin_dir)),
        ("pins", if r.created { "created" } else { "reused" }.into()),
        ("attach", attach),
        ("peer_aware", r.peer_aware.to_string()),
        ("max_queue", r.max_queue.to_string()),
        ("ports", r.ports.to_string()),
        ("same_netns", r.same_netns.to_string()),
    ];
    match &r.adoption {
        deploy::Adoption::Off => {}
        deploy::Adoption::Skipped(why) => f.push(("adoption_skipped", why.clone())),
        deploy::Adoption::Done(a) => {
            f.push(("adopted", a.adopted.to_string()));
            f.push(("adopt_confirmed", a.confirmed.to_string()));
            f.push(("adopt_deferred", a.deferred.to_string()));
        }
    }
    // The resolved target in words, so the root (every process on the host) is plain.
    f.push(("target", crate::cgroup::describe(&r.cgroup)));
    for o in &r.others {
        f.push((
            "warning",
            format!("another sockasm sock_ops program (id {}) is attached to the same cgroup", o.prog_id),
        ));
    }
    f
}

/// Runs the agent until SIGTERM or SIGINT. Call it from a process with no
/// other thread yet (the signal mask and [`host::ensure_host_hierarchy`]
/// need that).
pub fn run(opts: &AgentOptions) -> Result<(), AgentError> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGINT);
    mask.thread_block().map_err(|errno| AgentError::Signals { step: "blocking", errno })?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)
        .map_err(|errno| AgentError::Signals { step: "signalfd", errno })?;
    log(
        "starting",
        &[
            ("version", env!("CARGO_PKG_VERSION").into()),
            ("pid", std::process::id().to_string()),
            ("on_exit", format!("{:?}", opts.on_exit).to_lowercase()),
        ],
    );
    check_caps()?;
    let view = host::ensure_host_hierarchy(opts.host_pid)?;
    let (kind, mount) = match &view {
        HostView::HostNamespace { mount } => ("host-namespace", mount),
        HostView::Mounted { mount } => ("private-namespace, host hierarchy mounted", mount),
        HostView::Joined { mount } => ("private-namespace, joined the host's cgroup namespace", mount),
    };
    log("cgroup_hierarchy", &[("view", kind.into()), ("mount", d(mount))]);
    let pin_dir = std::path::absolute(&opts.load.pin_dir).unwrap_or_else(|_| opts.load.pin_dir.clone());
    if !matches!(view, HostView::HostNamespace { .. }) {
        let parent = pin_dir.parent().unwrap_or(Path::new("/"));
        if !crate::cgroup::is_bpffs(parent) {
            return Err(AgentError::NoHostBpffs { dir: parent.to_path_buf() });
        }
        if !is_mount_point(Path::new(deploy::LOCK_DIR)) {
            log(
                "warning",
                &[(
                    "msg",
                    format!(
                        "{} is not mounted from the host: the lock that keeps sockasm load/unload and a second \
                         agent apart is this container's only; mount the host's {} there",
                        deploy::LOCK_DIR,
                        deploy::LOCK_DIR
                    ),
                )],
            );
        }
    }
    let opts = &AgentOptions { load: LoadOptions { pin_dir: pin_dir.clone(), ..opts.load.clone() }, ..opts.clone() };

    // One agent per pin directory: a second one waits for the first to exit.
    let lock_path = agent_lock_path(&pin_dir);
    let Some(agent_lock) = take_agent_lock(&sfd, &lock_path, &pin_dir, opts.lock_wait)? else {
        return Ok(());
    };
    let _ = agent_lock.set_contents(&format!("pid {}\n", std::process::id()));

    let listener = TcpListener::bind(opts.listen).map_err(|source| AgentError::Listen { addr: opts.listen, source })?;
    let addr = listener.local_addr().unwrap_or(opts.listen);
    log("loading", &[("cgroup", opts.load.cgroup.as_deref().map_or_else(|| d(mount), d)), ("pin_dir", d(&pin_dir))]);
    // A SIGTERM from here on waits in the signalfd: the load finishes (or undoes itself) first.
    let r = deploy::load(&opts.load).map_err(AgentError::Load)?;
    log("loaded", &load_fields(&r));
    if let Some(reason) = &r.peer_blind_reason {
        log("warning", &[("msg", format!("loaded peer-blind: {reason}"))]);
    }

    let shared = Arc::new(Shared {
        pin_dir: pin_dir.clone(),
        healthy: AtomicBool::new(true),
        health: Mutex::new("loaded".into()),
        checks: AtomicU64::new(0),
        check_failures: AtomicU64::new(0),
        reattachments: AtomicU64::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (shared, stop) = (shared.clone(), stop.clone());
        std::thread::Builder::new()
            .name("http".into())
            .spawn(move || http::serve(listener, stop, |p| shared.route(p)))
            .map_err(|e| AgentError::Listen { addr, source: e })?;
    }
    log("listening", &[("addr", addr.to_string()), ("paths", "/metrics,/healthz".into())]);

    let mut next = Instant::now() + opts.check_interval;
    let signal = loop {
        if let Some(sig) = wait_signal(&sfd, next.saturating_duration_since(Instant::now())) {
            break sig;
        }
        if Instant::now() < next {
            continue; // woken without a signal (EINTR): wait out the interval.
        }
        check_once(opts, &shared);
        next = Instant::now() + opts.check_interval;
    };
    log("signal", &[("signal", signal.as_str().into())]);
    stop.store(true, Ordering::Relaxed);
    let result = match opts.on_exit {
        OnExit::Keep => {
            log(
                "exiting",
                &[
                    ("on_exit", "keep".into()),
                    ("pin_dir", d(&pin_dir)),
                    ("msg", "the bypass stays loaded; the next agent adopts the pins".into()),
                ],
            );
            Ok(())
        }
        OnExit::Unload => match deploy::unload(opts.load.cgroup.as_deref(), &pin_dir) {
            Ok(u) => {
                let outcome = match &u.outcome {
                    UnloadOutcome::NotLoaded => "not-loaded".to_string(),
                    UnloadOutcome::Removed => "removed".to_string(),
                    UnloadOutcome::StillAttached(left) => {
                        format!("still attached to {}", left.iter().map(|p| d(p)).collect::<Vec<_>>().join(","))
                    }
                    UnloadOutcome::Draining { connections } => {
                        format!("draining: {connections} connection(s) still use it; the pins stay until they close")
                    }
                };
                log(
                    "exiting",
                    &[("on_exit", "unload".into()), ("detached", u.detached.to_string()), ("outcome", outcome)],
                );
                Ok(())
            }
            Err(e) => {
                log("unload_failed", &[("error", e.to_string())]);
                Err(AgentError::Unload(e))
            }
        },
    };
    drop(agent_lock);
    result
}

/// Takes the agent lock of `pin_dir`, waiting at most `wait` for another
/// agent; `None` when a signal came first.
fn take_agent_lock(
    sfd: &SignalFd,
    path: &Path,
    pin_dir: &Path,
    wait: Duration,
) -> Result<Option<LifecycleLock>, AgentError> {
    let start = Instant::now();
    let mut said = false;
    loop {
        if let Some(l) = deploy::try_lock(path)? {
            if said {
                log(
                    "agent_lock_taken",
                    &[("lock", d(path)), ("waited_s", format!("{:.1}", start.elapsed().as_secs_f64()))],
                );
            }
            return Ok(Some(l));
        }
        let holder = std::fs::read_to_string(path).unwrap_or_default().trim().to_string();
        if start.elapsed() >= wait {
            return Err(AgentError::AnotherAgent {
                pin_dir: pin_dir.to_path_buf(),
                lock: path.to_path_buf(),
                holder: if holder.is_empty() { "pid unknown".into() } else { holder },
                waited: start.elapsed(),
            });
        }
        if !said {
            log(
                "waiting_for_agent",
                &[("lock", d(path)), ("holder", holder), ("max_wait_s", wait.as_secs().to_string())],
            );
            said = true;
        }
        if let Some(sig) = wait_signal(sfd, Duration::from_millis(100)) {
            log("signal", &[("signal", sig.as_str().into()), ("msg", "exiting before loading anything".into())]);
            return Ok(None);
        }
    }
}

/// One periodic check, and the repair when the bypass is not attached.
fn check_once(opts: &AgentOptions, shared: &Shared) {
    shared.checks.fetch_add(1, Ordering::Relaxed);
    let cgroup = opts.load.cgroup.as_deref();
    let pin_dir = &opts.load.pin_dir;
    let found = match deploy::check_attached(cgroup, pin_dir) {
        Ok(AttachCheck::Attached) => {
            if !shared.healthy.load(Ordering::Relaxed) {
                log("healthy", &[("msg", "the bypass is pinned and attached again".into())]);
            }
            shared.set_health(true, "pinned and attached".into());
            return;
        }
        Ok(c) => c,
        Err(e) => {
            shared.check_failures.fetch_add(1, Ordering::Relaxed);
            log("check_failed", &[("error", e.to_string())]);
            shared.set_health(false, format!("check failed: {e}"));
            return;
        }
    };
    let reason = match &found {
        AttachCheck::Detached => "sock_ops was detached from the cgroup".to_string(),
        AttachCheck::PinsMissing => format!("the pins in {} were deleted", pin_dir.display()),
        AttachCheck::PartialPins(p) => format!("only some pins are left in {} ({})", pin_dir.display(), p.join(",")),
        AttachCheck::Attached => unreachable!(),
    };
    log("detached", &[("reason", reason.clone())]);
    let repaired = (|| -> Result<LoadReport, DeployError> {
        if found != AttachCheck::Detached {
            // The old programs may still be attached with no pin: detach
            // them from this cgroup first, so that one sock_ops runs.
            let u = deploy::unload(cgroup, pin_dir)?;
            if !u.orphans_detached.is_empty() || u.detached {
                let ids: Vec<String> = u.orphans_detached.iter().map(u32::to_string).collect();
                log("orphans_detached", &[("ids", ids.join(",")), ("detached_pinned", u.detached.to_string())]);
            }
        }
        deploy::load(&opts.load)
    })();
    match repaired {
        Ok(r) => {
            shared.reattachments.fetch_add(1, Ordering::Relaxed);
            let mut f = load_fields(&r);
            f.insert(0, ("reason", reason));
            log("reattached", &f);
            shared.set_health(true, "re-attached".into());
        }
        Err(e) => {
            shared.check_failures.fetch_add(1, Ordering::Relaxed);
            let mut chain = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                chain.push_str(&format!(": {s}"));
                src = s.source();
            }
            log("reattach_failed", &[("reason", reason.clone()), ("error", chain)]);
            shared.set_health(false, format!("{reason}; re-attaching failed: {e}"));
        }
    }
}
