//! BPF_BTF_LOAD: a BTF blob (from [`crate::btf::builder`]) into the kernel.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::error::{Result, SysError};
use super::{Cmd, bpf_attr, mut_ptr_u64, owned_fd_from_ret, ptr_u64, sys_bpf};

/// `union bpf_attr` member for BPF_BTF_LOAD (kernel 6.9+ layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    pub btf_log_true_size: u32,
    pub btf_flags: u32,
    pub btf_token_fd: i32,
}

bpf_attr!(BtfLoadAttr);

const _: () = assert!(size_of::<BtfLoadAttr>() == 40);

/// A BTF object loaded into the kernel.
#[derive(Debug)]
pub struct LoadedBtf {
    /// The BTF fd.
    pub fd: OwnedFd,
}

impl AsFd for LoadedBtf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[allow(unsafe_code)]
fn btf_load_raw(blob: &[u8], log: &mut [u8]) -> std::result::Result<OwnedFd, nix::errno::Errno> {
    let mut attr = BtfLoadAttr { btf: ptr_u64(blob), btf_size: blob.len() as u32, ..Default::default() };
    if !log.is_empty() {
        attr.btf_log_buf = mut_ptr_u64(log);
        attr.btf_log_size = log.len() as u32;
        attr.btf_log_level = 1;
    }
    // SAFETY: `btf` points to `blob` (btf_size bytes) and `btf_log_buf` to
    // `log` (btf_log_size bytes), both alive for the call.
    unsafe { sys_bpf(Cmd::BtfLoad, &mut attr) }.and_then(owned_fd_from_ret)
}

/// BPF_BTF_LOAD. On failure the error's object text includes the end of the
/// kernel's BTF log.
pub fn load_btf(blob: &[u8]) -> Result<LoadedBtf> {
    match btf_load_raw(blob, &mut []) {
        Ok(fd) => Ok(LoadedBtf { fd }),
        Err(e) if e == nix::errno::Errno::EPERM => Err(SysError::bpf(Cmd::BtfLoad, e, "BTF blob")),
        Err(_) => {
            let mut log = vec![0u8; 64 * 1024];
            match btf_load_raw(blob, &mut log) {
                Ok(fd) => Ok(LoadedBtf { fd }),
                Err(e) => {
                    let text = super::name_from_buf(&log);
                    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                    let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
                    Err(SysError::bpf(Cmd::BtfLoad, e, format!("BTF blob (log: {tail})")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_accepts_blob() {
        if !crate::syscall::testutil::root_or_skip() {
            return;
        }
        let (blob, _, _) = crate::btf::builder::sk_storage_btf(8);
        load_btf(&blob).unwrap();
        // garbage is rejected with a log excerpt
        let mut bad = blob.clone();
        bad[0] = 0;
        let e = load_btf(&bad).unwrap_err();
        assert!(e.errno().is_some(), "{e}");
    }
}
