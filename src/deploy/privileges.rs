//! Whether this process may load, attach and pin.

use super::{DeployError, Result};
use crate::syscall::error::effective_caps;

/// Fails early, with a clear message, when the kernel would refuse us.
pub fn check_privileges(command: &'static str) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    require_caps(command, effective_caps().unwrap_or(0))
}

/// [`check_privileges`] for a process with the effective capabilities `caps`.
pub(super) fn require_caps(command: &'static str, caps: u64) -> Result<()> {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return Ok(());
    }
    // CapEff bits: CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21, CAP_BPF 39.
    let need = (1u64 << 12) | (1 << 21) | (1 << 39);
    if caps & need == need {
        return Ok(());
    }
    Err(DeployError::NotPrivileged { command, uid: uid.as_raw() })
}
