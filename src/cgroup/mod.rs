//! cgroup v2 and bpffs helpers: finding the cgroup2 mount, opening cgroup
//! directories for BPF_PROG_ATTACH, making sure bpffs is mounted, and
//! self-cleaning temporary cgroups / pin directories for tests and benches.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::statfs::{BPF_FS_MAGIC, CGROUP2_SUPER_MAGIC, FsType, statfs};

/// Default bpffs mount point.
pub const BPFFS_DEFAULT: &str = "/sys/fs/bpf";

/// Errors from this module; every variant names the path involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error(
        "cgroup v2 is not mounted (no cgroup2 entry in {mountinfo}); mount it with: mount -t cgroup2 none /sys/fs/cgroup"
    )]
    NotMounted { mountinfo: PathBuf },
    #[error("not a cgroup2 directory: {}; cgroup v2 is mounted at {}", path.display(),
        mount.as_ref().map(|m| m.display().to_string()).unwrap_or_else(|| "<not mounted>".into()))]
    NotCgroup2 { path: PathBuf, mount: Option<PathBuf> },
    /// The message shows the I/O error itself, so it is not also a `source()`.
    #[error("{op} {}: {err}{}", path.display(), hint_for_io(err))]
    Io { op: &'static str, path: PathBuf, err: std::io::Error },
    #[error("cannot mount bpffs at {}: {errno}; run as root, or mount it yourself: mount -t bpf bpf {}", path.display(), path.display())]
    MountBpffs { path: PathBuf, errno: nix::errno::Errno },
    #[error("{} is not on bpffs (filesystem magic {magic:#x}); pins must live on a bpffs mount such as {BPFFS_DEFAULT}", path.display())]
    NotBpffs { path: PathBuf, magic: i64 },
}

fn hint_for_io(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => " (run as root)",
        std::io::ErrorKind::NotFound => " (does the path exist?)",
        _ => "",
    }
}

/// Result alias for this module.
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> CgroupError + 'a {
    move |err| CgroupError::Io { op, path: path.to_path_buf(), err }
}

/// Undo mountinfo's octal escapes (`\040` for space etc.).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Find the first mount of `fstype` in mountinfo text. The mount point is
/// field 5; the fstype is the first field after the ` - ` separator.
pub fn find_mount(mountinfo: &str, fstype: &str) -> Option<PathBuf> {
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        if post.split_whitespace().next() != Some(fstype) {
            continue;
        }
        if let Some(mp) = pre.split_whitespace().nth(4) {
            return Some(PathBuf::from(unescape_mountinfo(mp)));
        }
    }
    None
}

/// Where cgroup v2 is mounted, from `/proc/self/mountinfo`.
pub fn cgroup2_mount() -> Result<PathBuf> {
    let mi = Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(mi).map_err(io("reading", mi))?;
    find_mount(&text, "cgroup2").ok_or_else(|| CgroupError::NotMounted { mountinfo: mi.to_path_buf() })
}

fn fs_type(path: &Path) -> Result<FsType> {
    let st = statfs(path).map_err(|e| CgroupError::Io {
        op: "statfs",
        path: path.to_path_buf(),
        err: std::io::Error::from_raw_os_error(e as i32),
    })?;
    Ok(st.filesystem_type())
}

/// Is `path` on a cgroup2 filesystem?
pub fn is_cgroup2(path: &Path) -> bool {
    fs_type(path).is_ok_and(|m| m == CGROUP2_SUPER_MAGIC)
}

/// Is `path` on bpffs?
pub fn is_bpffs(path: &Path) -> bool {
    fs_type(path).is_ok_and(|m| m == BPF_FS_MAGIC)
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    let f: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .map_err(io("open", path))?;
    crate::syscall::ensure_not_fd0(OwnedFd::from(f)).map_err(io("dup", path))
}

/// An open cgroup v2 directory (target for cgroup BPF attachments).
#[derive(Debug)]
pub struct Cgroup {
    fd: OwnedFd,
    path: PathBuf,
}

impl AsFd for Cgroup {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Cgroup {
    /// Open `path`, checking that it is a directory on cgroup2.
    pub fn open(path: impl AsRef<Path>) -> Result<Cgroup> {
        let path = path.as_ref();
        let md = std::fs::metadata(path).map_err(io("stat", path))?;
        if !md.is_dir() || !is_cgroup2(path) {
            return Err(CgroupError::NotCgroup2 { path: path.to_path_buf(), mount: cgroup2_mount().ok() });
        }
        // `MOUNT/../NAME` and symlinks resolved: the path printed is the
        // cgroup the kernel attaches to.
        let path = std::fs::canonicalize(path).map_err(io("resolve", path))?;
        Ok(Cgroup { fd: open_dir(&path)?, path })
    }

    /// `cgroup PATH`, or for the root of the hierarchy `the cgroup2 root
    /// (PATH): every process on the host`, for messages about attaching.
    pub fn describe(&self) -> String {
        describe(&self.path)
    }

    /// The directory fd (O_RDONLY|O_DIRECTORY).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The directory path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Is this the root of the cgroup2 mount? (Attaching there affects
    /// every process on the host; callers should refuse or warn.)
    pub fn is_mount_root(&self) -> bool {
        cgroup2_mount().is_ok_and(|m| std::fs::canonicalize(&m).ok() == std::fs::canonicalize(&self.path).ok())
    }

    /// Pids in this cgroup (`cgroup.procs`).
    pub fn pids(&self) -> Result<Vec<u32>> {
        read_procs(&self.path.join("cgroup.procs"))
    }

    /// Move process `pid` into this cgroup.
    pub fn add_pid(&self, pid: u32) -> Result<()> {
        let p = self.path.join("cgroup.procs");
        std::fs::write(&p, pid.to_string()).map_err(io("writing pid to", &p))
    }
}

fn read_procs(p: &Path) -> Result<Vec<u32>> {
    let s = std::fs::read_to_string(p).map_err(io("reading", p))?;
    Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Make sure `dir` is a bpffs mount; mount one there if not.
/// Returns `true` if it mounted bpffs now, `false` if it already was.
pub fn ensure_bpffs(dir: impl AsRef<Path>) -> Result<bool> {
    let dir = dir.as_ref();
    if is_bpffs(dir) {
        return Ok(false);
    }
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    }
    nix::mount::mount(
        Some("bpf"),
        dir,
        Some("bpf"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV | nix::mount::MsFlags::MS_NOEXEC,
        Some("mode=0700"),
    )
    .map_err(|errno| CgroupError::MountBpffs { path: dir.to_path_buf(), errno })?;
    if !is_bpffs(dir) {
        #[allow(clippy::unnecessary_cast)] // fs_type_t differs between libcs
        let magic = fs_type(dir)?.0 as i64;
        return Err(CgroupError::NotBpffs { path: dir.to_path_buf(), magic });
    }
    Ok(true)
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// `cgroup PATH`, or `the cgroup2 root (PATH): every process on the host`
/// when PATH resolves to the root of the cgroup2 mount.
pub fn describe(path: &Path) -> String {
    let root = cgroup2_mount().ok().and_then(|m| std::fs::canonicalize(m).ok());
    if root.is_some() && root == std::fs::canonicalize(path).ok() {
        format!("the cgroup2 root ({}): every process on the host", path.display())
    } else {
        format!("cgroup {}", path.display())
    }
}

/// `PREFIX-<pid>-<n>-<nanos>`: unique on this host. A scratch cgroup and
/// its pin directory take the same one, so they are easy to match by hand.
pub fn unique_name(prefix: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{}-{nanos:x}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// A uniquely named child cgroup directly under the cgroup2 mount, removed
/// on drop (remaining pids are first moved back: to the cgroup they came
/// from if known, else to the mount root).
#[derive(Debug)]
pub struct TempCgroup {
    cgroup: Cgroup,
    parent: PathBuf,
    /// (pid, cgroup directory it was in before `add_pid`).
    origins: Vec<(u32, PathBuf)>,
}

impl TempCgroup {
    /// Create `<cgroup2 mount>/<prefix>-<pid>-<seq>-<nanos>`.
    pub fn create(name_prefix: &str) -> Result<TempCgroup> {
        Self::create_named(&unique_name(name_prefix))
    }

    /// A child cgroup of exactly this name (see [`unique_name`]).
    pub fn create_named(name: &str) -> Result<TempCgroup> {
        let root = cgroup2_mount()?;
        let path = root.join(name);
        std::fs::create_dir(&path).map_err(io("mkdir", &path))?;
        match Cgroup::open(&path) {
            Ok(cgroup) => Ok(TempCgroup { cgroup, parent: root, origins: Vec::new() }),
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                Err(e)
            }
        }
    }

    /// The cgroup (for attaching programs).
    pub fn cgroup(&self) -> &Cgroup {
        &self.cgroup
    }

    /// The directory fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.cgroup.fd()
    }

    /// The directory path.
    pub fn path(&self) -> &Path {
        self.cgroup.path()
    }

    /// Move `pid` into this cgroup (remembering where it was).
    pub fn add_pid(&mut self, pid: u32) -> Result<()> {
        if let Some(orig) = current_cgroup_dir(pid, &self.parent) {
            self.origins.push((pid, orig));
        }
        self.cgroup.add_pid(pid)
    }

    /// Pids currently in this cgroup.
    pub fn pids(&self) -> Result<Vec<u32>> {
        self.cgroup.pids()
    }

    fn cleanup(&mut self) -> Result<()> {
        let path = self.cgroup.path.clone();
        for attempt in 0..50 {
            for pid in self.pids().unwrap_or_default() {
                let dest = self
                    .origins
                    .iter()
                    .rev()
                    .find(|(p, _)| *p == pid)
                    .map(|(_, d)| d.clone())
                    .filter(|d| *d != path && d.is_dir())
                    .unwrap_or_else(|| self.parent.clone());
                let procs = dest.join("cgroup.procs");
                if std::fs::write(&procs, pid.to_string()).is_err() {
                    let _ = std::fs::write(self.parent.join("cgroup.procs"), pid.to_string());
                }
            }
            match std::fs::remove_dir(&path) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) if attempt == 49 => return Err(io("rmdir", &path)(e)),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        Ok(())
    }
}

/// The cgroup2 directory `pid` is in (from `/proc/PID/cgroup`, `0::/x`).
fn current_cgroup_dir(pid: u32, mount: &Path) -> Option<PathBuf> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = s.lines().find_map(|l| l.strip_prefix("0::"))?;
    let p = mount.join(rel.trim_start_matches('/'));
    p.is_dir().then_some(p)
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        if let Err(e) = self.cleanup() {
            eprintln!("sockasm: warning: could not remove temporary cgroup: {e}");
        }
    }
}

/// A uniquely named directory under a bpffs mount (default
/// [`BPFFS_DEFAULT`], mounted if needed), removed with all its pins on drop.
#[derive(Debug)]
pub struct TempPinDir {
    path: PathBuf,
}

impl TempPinDir {
    /// Create `/sys/fs/bpf/<prefix>-<pid>-<seq>-<nanos>` (mounting bpffs at
    /// /sys/fs/bpf first if it is not).
    pub fn create(name_prefix: &str) -> Result<TempPinDir> {
        Self::create_in(BPFFS_DEFAULT, name_prefix)
    }

    /// Like [`TempPinDir::create`] under another bpffs directory.
    pub fn create_in(bpffs: impl AsRef<Path>, name_prefix: &str) -> Result<TempPinDir> {
        Self::create_named_in(bpffs, &unique_name(name_prefix))
    }

    /// A pin directory of exactly this name (see [`unique_name`]) under `bpffs`.
    pub fn create_named_in(bpffs: impl AsRef<Path>, name: &str) -> Result<TempPinDir> {
        let base = bpffs.as_ref();
        ensure_bpffs(base)?;
        let path = base.join(name);
        std::fs::create_dir(&path).map_err(io("mkdir", &path))?;
        Ok(TempPinDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `dir/name`.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempPinDir {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                eprintln!("sockasm: warning: could not remove {}: {e}", self.path.display());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
