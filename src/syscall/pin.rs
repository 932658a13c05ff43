//! BPF_OBJ_PIN / BPF_OBJ_GET: pinning objects in bpffs.

use std::ffi::CString;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::error::{Result, SysError};
use super::{Cmd, bpf_attr, fd_u32, owned_fd_from_ret, sys_bpf};

/// `union bpf_attr` member for BPF_OBJ_PIN/BPF_OBJ_GET (kernel 6.5+ layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ObjAttr {
    pub pathname: u64,
    pub bpf_fd: u32,
    pub file_flags: u32,
    pub path_fd: i32,
    pub _pad0: u32,
}

bpf_attr!(ObjAttr);

const _: () = assert!(size_of::<ObjAttr>() == 24);

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SysError::InvalidInput(format!("path {} contains a NUL byte", path.display())))
}

/// Pin `fd` (prog or map) at `path` (on a bpffs mount), then chmod it 0600.
#[allow(unsafe_code)]
pub fn pin(fd: BorrowedFd<'_>, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let c = cpath(path)?;
    let mut attr = ObjAttr { pathname: c.as_ptr() as usize as u64, bpf_fd: fd_u32(fd), ..Default::default() };
    // SAFETY: `pathname` points to the NUL-terminated `c`, alive for the call.
    unsafe { sys_bpf(Cmd::ObjPin, &mut attr) }
        .map_err(|e| SysError::bpf(Cmd::ObjPin, e, format!("path {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| SysError::Io {
        op: "chmod 0600",
        path: path.to_path_buf(),
        err: source,
    })
}

/// Open the object pinned at `path`.
pub fn get_pinned(path: impl AsRef<Path>) -> Result<OwnedFd> {
    get_pinned_with_flags(path, 0)
}

/// Open the object pinned at `path` with `file_flags`
/// ([`super::BPF_F_RDONLY`] / [`super::BPF_F_WRONLY`], maps only).
#[allow(unsafe_code)]
pub fn get_pinned_with_flags(path: impl AsRef<Path>, file_flags: u32) -> Result<OwnedFd> {
    let path = path.as_ref();
    let c = cpath(path)?;
    let mut attr = ObjAttr { pathname: c.as_ptr() as usize as u64, file_flags, ..Default::default() };
    // SAFETY: `pathname` points to the NUL-terminated `c`, alive for the call.
    unsafe { sys_bpf(Cmd::ObjGet, &mut attr) }
        .and_then(owned_fd_from_ret)
        .map_err(|e| SysError::bpf(Cmd::ObjGet, e, format!("path {}", path.display())))
}

/// Remove a pin (unlink). The object lives on while other references exist.
pub fn unpin(path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    std::fs::remove_file(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            SysError::Io { op: "unpin (nothing is pinned at)", path: path.to_path_buf(), err: source }
        } else {
            SysError::Io { op: "unpin", path: path.to_path_buf(), err: source }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::TempPinDir;
    use crate::syscall::{Map, MapSpec, MapType, ProgSpec, ProgType, UpdateFlag, prog_info};
    use std::os::fd::AsFd;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn pin_get_unpin() {
        if !crate::syscall::testutil::root_or_skip() {
            return;
        }
        let dir = TempPinDir::create("sockasm-test-pin").unwrap();
        let m = Map::create(&MapSpec::new(MapType::HASH, 4, 4, 8).with_name("test_pin")).unwrap();
        m.update(&1u32.to_ne_bytes(), &2u32.to_ne_bytes(), UpdateFlag::Any).unwrap();
        let mp = dir.join("map");
        pin(m.fd(), &mp).unwrap();
        let mode = std::fs::metadata(&mp).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // pinning twice: EEXIST with a hint
        let e = pin(m.fd(), &mp).unwrap_err();
        assert_eq!(e.errno(), Some(nix::errno::Errno::EEXIST));
        assert!(e.to_string().contains("already pinned"), "{e}");

        let m2 = Map::from_pinned(&mp).unwrap();
        assert_eq!(m2.spec(), m.spec());
        assert_eq!(m2.get(&1u32.to_ne_bytes()).unwrap().unwrap(), 2u32.to_ne_bytes());

        let insns = [0xb7u8, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        let p = ProgSpec::new(ProgType::SOCKET_FILTER, "sockasm_pin", &insns).load().unwrap();
        let pp = dir.join("prog");
        pin(p.fd(), &pp).unwrap();
        let fd = get_pinned(&pp).unwrap();
        assert_eq!(prog_info(fd.as_fd()).unwrap().name, "sockasm_pin");
        // a prog fd is not accepted as a map
        assert!(Map::from_fd(fd).is_err());

        unpin(&pp).unwrap();
        let e = get_pinned(&pp).unwrap_err();
        assert_eq!(e.errno(), Some(nix::errno::Errno::ENOENT));
        assert!(e.to_string().contains("nothing is pinned at"), "{e}");
        assert!(unpin(&pp).is_err());
        // a pin outside bpffs is refused with a hint
        let e = pin(m.fd(), "/tmp/sockasm-not-bpffs-pin").unwrap_err();
        assert!(e.to_string().contains("bpffs"), "{e}");
        // `mp` stays pinned: the TempPinDir removes it on drop
    }
}
