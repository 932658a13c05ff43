//! Finding the host's cgroup2 hierarchy from inside a container.
//!
//! containerd and podman give a container a private cgroup namespace on
//! cgroup v2: /sys/fs/cgroup inside it is then the container's own cgroup,
//! and `--cgroup` paths of the host do not exist there (and the default, the
//! "root", would be the container itself). [`ensure_host_hierarchy`] makes
//! sure the cgroup2 mount this process uses is the root of the host's
//! hierarchy:
//!
//! 1. In the host's cgroup namespace (its inode is the kernel's fixed
//!    `PROC_CGROUP_INIT_INO`), nothing changes.
//! 2. A cgroup2 mount whose directory is the root of its hierarchy (the root
//!    cgroup has no `cgroup.events` file) is the host's, whatever namespace
//!    this process is in: a hostPath volume of the host's /sys/fs/cgroup.
//! 3. Otherwise, with the host's PID 1 visible (`hostPID: true`), join its
//!    (or, with `--host-pid`, another host process's)
//!    cgroup namespace (setns on /proc/1/ns/cgroup: CAP_SYS_ADMIN, and
//!    CAP_SYS_PTRACE to open another process's namespace), enter a mount
//!    namespace of our own and mount cgroup2 there, over the container's
//!    view: the mount shows the whole host hierarchy, and nothing outside
//!    this process sees it.
//! 4. Otherwise refuse, naming what the pod spec needs.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

use crate::cgroup;

/// The inode of the initial cgroup namespace (`PROC_CGROUP_INIT_INO`,
/// include/linux/proc_ns.h): fixed, so the host's namespace is recognised
/// without seeing the host's processes.
pub const INIT_CGROUP_NS_INO: u64 = 0xEFFF_FFFB;
/// Where the host hierarchy is mounted when no cgroup2 mount is there.
pub const DEFAULT_MOUNT: &str = "/sys/fs/cgroup";

/// What [`ensure_host_hierarchy`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostView {
    /// This process is in the host's cgroup namespace.
    HostNamespace { mount: PathBuf },
    /// A private cgroup namespace, but the host's hierarchy is mounted (a hostPath volume).
    Mounted { mount: PathBuf },
    /// Joined the host's cgroup namespace and mounted its hierarchy privately.
    Joined { mount: PathBuf },
}

impl HostView {
    pub fn mount(&self) -> &Path {
        match self {
            HostView::HostNamespace { mount } | HostView::Mounted { mount } | HostView::Joined { mount } => mount,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(
        "sockasm agent runs in a private cgroup namespace and cannot see the host's cgroup hierarchy ({why}). \
         In the pod spec, either mount the host's cgroup2 hierarchy (a hostPath volume of /sys/fs/cgroup at \
         /sys/fs/cgroup), or set `hostPID: true` and add CAP_SYS_ADMIN and CAP_SYS_PTRACE to the container's \
         capabilities so the agent can join the host's cgroup namespace (with podman: --pid=host --cap-add \
         SYS_ADMIN,SYS_PTRACE, or -v /sys/fs/cgroup:/sys/fs/cgroup)"
    )]
    NoHostView { why: String },
    #[error("joining the host's cgroup namespace: {step}: {errno}; the agent needs CAP_SYS_ADMIN for this step")]
    Join { step: String, errno: nix::errno::Errno },
    #[error(transparent)]
    Cgroup(#[from] cgroup::CgroupError),
}

/// The namespace inode of `/proc/PID/ns/cgroup` (`self` for this process).
pub fn cgroup_ns_ino(pid: &str) -> std::io::Result<u64> {
    Ok(std::fs::metadata(format!("/proc/{pid}/ns/cgroup"))?.ino())
}

/// Whether `dir` is the root of its cgroup2 hierarchy (only the root cgroup
/// lacks `cgroup.events`).
pub fn is_hierarchy_root(dir: &Path) -> bool {
    cgroup::is_cgroup2(dir) && dir.join("cgroup.procs").exists() && !dir.join("cgroup.events").exists()
}

/// Makes the cgroup2 mount that [`cgroup::cgroup2_mount`] finds the root of
/// the host's hierarchy (see the module doc). Call it before starting any
/// thread: entering a mount namespace needs a single-threaded process.
pub fn ensure_host_hierarchy(host_pid: u32) -> Result<HostView, HostError> {
    let mount = cgroup::cgroup2_mount().ok();
    let own_ns =
        cgroup_ns_ino("self").map_err(|e| HostError::NoHostView { why: format!("/proc/self/ns/cgroup: {e}") })?;
    if own_ns == INIT_CGROUP_NS_INO {
        return Ok(HostView::HostNamespace { mount: cgroup::cgroup2_mount()? });
    }
    if let Some(m) = mount.as_ref().filter(|m| is_hierarchy_root(m)) {
        return Ok(HostView::Mounted { mount: m.clone() });
    }
    let seen = match &mount {
        Some(m) => format!("the cgroup2 mount {} is the container's own cgroup", m.display()),
        None => "no cgroup2 mount".to_string(),
    };
    // /proc/1 is the host's init only with hostPID; reading its namespace
    // takes CAP_SYS_PTRACE (its capabilities exceed ours).
    let pid = host_pid.to_string();
    let ino = match cgroup_ns_ino(&pid) {
        Ok(ino) => ino,
        Err(e) => return Err(HostError::NoHostView { why: format!("{seen}; /proc/{pid}/ns/cgroup: {e}") }),
    };
    if ino != INIT_CGROUP_NS_INO {
        return Err(HostError::NoHostView {
            why: format!("{seen}; PID {pid} is not in the host's cgroup namespace (no hostPID: true?)"),
        });
    }
    let target = mount.unwrap_or_else(|| PathBuf::from(DEFAULT_MOUNT));
    join_host(&pid, &target)?;
    let now = cgroup::cgroup2_mount()?;
    if !is_hierarchy_root(&now) {
        return Err(HostError::NoHostView {
            why: format!("after joining, {} is still not a hierarchy root", now.display()),
        });
    }
    Ok(HostView::Joined { mount: now })
}

fn join_err(step: &str) -> impl FnOnce(nix::errno::Errno) -> HostError + '_ {
    move |errno| HostError::Join { step: step.to_string(), errno }
}

/// setns into process `pid`'s cgroup namespace, a private mount namespace, and
/// cgroup2 mounted at `target` (replacing what was mounted there).
fn join_host(pid: &str, target: &Path) -> Result<(), HostError> {
    let path = format!("/proc/{pid}/ns/cgroup");
    let ns = std::fs::File::open(&path).map_err(|e| {
        join_err("opening the host process's cgroup namespace")(nix::errno::Errno::from_raw(
            e.raw_os_error().unwrap_or(0),
        ))
    })?;
    nix::sched::setns(&ns, CloneFlags::CLONE_NEWCGROUP).map_err(join_err("setns(CLONE_NEWCGROUP)"))?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(join_err("unshare(CLONE_NEWNS)"))?;
    // Nothing mounted from here on reaches the container's other processes.
    nix::mount::mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(join_err("making / private"))?;
    // Every cgroup2 mount at the target goes (they may be stacked).
    for _ in 0..8 {
        if !cgroup::is_cgroup2(target) {
            break;
        }
        nix::mount::umount2(target, MntFlags::MNT_DETACH).map_err(join_err("unmounting the container's cgroup2"))?;
    }
    if !target.is_dir() {
        std::fs::create_dir_all(target).map_err(|e| {
            join_err("creating the mount point")(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)))
        })?;
    }
    nix::mount::mount(
        Some("cgroup2"),
        target,
        Some("cgroup2"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(join_err("mounting cgroup2"))
}
