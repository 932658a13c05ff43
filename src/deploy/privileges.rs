//! Whether this process may load, attach and pin.

use super::{DeployError, Result};
use crate::progs;

/// Fails early, with a clear message, when the kernel would refuse us.
pub fn check_privileges(command: &'static str) -> Result<()> {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return Ok(());
    }
    // CapEff bits: CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21, CAP_BPF 39.
    let caps = progs::kernel::effective_caps();
    let need = (1u64 << 12) | (1 << 21) | (1 << 39);
    if caps & need == need {
        return Ok(());
    }
    Err(DeployError::NotPrivileged { command, uid: uid.as_raw() })
}
