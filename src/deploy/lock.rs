//! The host-wide lock `load`, `unload` and bench/exec cleanups hold.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{DeployError, Result};

/// The lock `load`, `unload` and bench cleanups take, host-wide (flock).
pub const LOCK_PATH: &str = "/run/sockasm/lock";
/// The directory of [`LOCK_PATH`] (and of `sockasm agent`'s own lock). In a
/// container it must be the host's (a hostPath volume), or the lock is not
/// host-wide.
pub const LOCK_DIR: &str = "/run/sockasm";
/// How long `load`/`unload` wait for another one to finish.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Held while `load`, `unload` or a cleanup changes pins and attachments, so
/// that two of them never interleave (one `load` creating the pins while
/// another reuses half of them, or an `unload` unpinning what a `load` just
/// attached). One lock for the whole host: these steps take milliseconds.
#[derive(Debug)]
pub struct LifecycleLock {
    _file: nix::fcntl::Flock<std::fs::File>,
}

/// Takes [`LOCK_PATH`], waiting at most [`LOCK_WAIT`]. Released on drop,
/// and by the kernel if the process dies.
pub fn lock() -> Result<LifecycleLock> {
    lock_at(Path::new(LOCK_PATH), LOCK_WAIT)
}

/// Opens (creating) the lock file `path`, in a directory only this user may
/// write (created mode 0700).
fn open_lock_file(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    let err = |source| DeployError::Lock { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(err)?;
        // Someone else's directory could hold a lock file we never get.
        let md = std::fs::symlink_metadata(dir).map_err(err)?;
        if md.uid() != nix::unistd::geteuid().as_raw() || md.mode() & 0o022 != 0 || !md.is_dir() {
            return Err(DeployError::UnsafeLockDir { dir: dir.to_path_buf(), uid: md.uid(), mode: md.mode() & 0o7777 });
        }
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(err)
}

/// One attempt at an exclusive flock on `path` (created like [`LOCK_PATH`]):
/// `None` while another process holds it.
pub fn try_lock(path: &Path) -> Result<Option<LifecycleLock>> {
    use nix::fcntl::{Flock, FlockArg};
    match Flock::lock(open_lock_file(path)?, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(LifecycleLock { _file: l })),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => {
            Err(DeployError::Lock { path: path.to_path_buf(), source: std::io::Error::from_raw_os_error(e as i32) })
        }
    }
}

impl LifecycleLock {
    /// Replaces the lock file's content (e.g. with the holder's pid, for
    /// the message of whoever waits for it).
    pub fn set_contents(&self, text: &str) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        let mut f: &std::fs::File = &self._file;
        f.set_len(0)?;
        f.seek(std::io::SeekFrom::Start(0))?;
        f.write_all(text.as_bytes())
    }
}

fn lock_at(path: &Path, wait: Duration) -> Result<LifecycleLock> {
    use nix::fcntl::{Flock, FlockArg};
    let err = |source| DeployError::Lock { path: path.to_path_buf(), source };
    let file = open_lock_file(path)?;
    let start = Instant::now();
    let mut file = file;
    // Polled rather than blocking, so that the wait is bounded.
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => return Ok(LifecycleLock { _file: l }),
            Err((f, nix::errno::Errno::EWOULDBLOCK)) if start.elapsed() < wait => {
                file = f;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(DeployError::LockTimeout { path: path.to_path_buf(), waited: start.elapsed() });
            }
            Err((_, e)) => return Err(err(std::io::Error::from_raw_os_error(e as i32))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_excludes_and_is_released_on_drop() {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!("sockasm-lock-test-{}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        let path = dir.join("lock");
        let held = lock_at(&path, Duration::ZERO).unwrap();
        let t = Instant::now();
        match lock_at(&path, Duration::from_millis(50)) {
            Err(DeployError::LockTimeout { path: p, .. }) => assert_eq!(p, path),
            other => panic!("a second lock while the first is held: {:?}", other.map(|_| ())),
        }
        assert!(t.elapsed() >= Duration::from_millis(50));
        drop(held);
        let again = lock_at(&path, Duration::ZERO).unwrap();
        drop(again);
        // A lock directory others can write is refused.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(lock_at(&path, Duration::ZERO), Err(DeployError::UnsafeLockDir { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
