//! `sockasm agent`: the node agent a Kubernetes DaemonSet runs (see [`crate::agent`]).
use super::{Result, load};
use crate::agent::{self, AgentOptions, OnExit};
use std::net::SocketAddr;
use std::time::Duration;

pub const HELP: &str = "\
Examples:
  sockasm agent --cgroup /sys/fs/cgroup/kubepods.slice --listen 0.0.0.0:9494
  podman run --cgroupns=private --cap-drop=all --cap-add=BPF,PERFMON,NET_ADMIN,SYS_ADMIN \\
    -v /sys/fs/bpf:/sys/fs/bpf -v /sys/fs/cgroup:/sys/fs/cgroup:ro -v /run/sockasm:/run/sockasm IMAGE agent

It loads the bypass like `sockasm load` (same options, same pins and lock), serves GET /metrics (the names
of `status --format prometheus`, plus sockasm_agent_*) and GET /healthz, checks the attachment every
--check-interval and loads again when it was detached or its pins were deleted, and logs one line per event
on stderr. SIGTERM or SIGINT ends it: --on-exit keep leaves the bypass loaded for the next agent (a rolling
update), --on-exit unload removes it. In a container with a private cgroup namespace it uses the host's
cgroup2 hierarchy when it is mounted, or joins the host's cgroup namespace (hostPID, CAP_SYS_ADMIN,
CAP_SYS_PTRACE); see deploy/kubernetes/README.md.";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnExitArg {
    Keep,
    Unload,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub load: load::Args,
    /// Address and port of the HTTP endpoint (/metrics, /healthz); port 0 picks a free one (logged)
    #[arg(long, default_value = "0.0.0.0:9494")]
    pub listen: SocketAddr,
    /// Seconds between checks that the bypass is still pinned and attached (0.05 to 3600)
    #[arg(long, default_value_t = 5.0)]
    pub check_interval: f64,
    /// On SIGTERM/SIGINT: keep the bypass loaded for the next agent, or unload it
    #[arg(long, value_enum, default_value_t = OnExitArg::Keep)]
    pub on_exit: OnExitArg,
    /// Seconds to wait for another agent of the same pin directory to exit before giving up
    #[arg(long, default_value_t = 30.0)]
    pub lock_wait: f64,
    /// In a private cgroup namespace without the host's cgroup2 hierarchy mounted: join the cgroup
    /// namespace of this host process (1, the host's init, needs hostPID, CAP_SYS_ADMIN and CAP_SYS_PTRACE)
    #[arg(long, default_value_t = 1)]
    pub host_pid: u32,
}

fn seconds(name: &str, v: f64, min: f64, max: f64) -> Result<Duration> {
    if !(min..=max).contains(&v) {
        return Err(format!("--{name} {v} is out of range: give {min} to {max} seconds").into());
    }
    Ok(Duration::from_secs_f64(v))
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    let opts = AgentOptions {
        load: args.load.options(),
        listen: args.listen,
        check_interval: seconds("check-interval", args.check_interval, 0.05, 3600.0)?,
        on_exit: match args.on_exit {
            OnExitArg::Keep => OnExit::Keep,
            OnExitArg::Unload => OnExit::Unload,
        },
        lock_wait: seconds("lock-wait", args.lock_wait, 0.0, 3600.0)?,
        host_pid: args.host_pid,
    };
    agent::run(&opts).map_err(|e| {
        agent::log("failed", &[("error", e.to_string())]);
        e.into()
    })
}
