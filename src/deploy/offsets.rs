//! The running kernel's struct offsets, kept for the boot in
//! `/run/sockasm/kernel-offsets`: reading the kernel's 5.5 MB of BTF took
//! most of `load` (13 ms of reading, 2.5 ms of parsing, on the project's
//! machine; mapping it instead, where the kernel allows, cut the first load
//! of a boot from 11.5 to 6.2 ms of CPU), and the offsets cannot change before the next boot, which
//! `/proc/sys/kernel/random/boot_id` tells. The file lives next to the
//! lifecycle lock, in a root-owned 0700 directory, and is trusted only if
//! it is a regular file of ours that nobody else can write.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::progs::adopt::AdoptOffsets;
use crate::progs::{KernelOffsets, Policy};
use crate::syscall::error::effective_caps;
use crate::syscall::mmap::Mapped;

/// Where the offsets of this boot are kept.
pub const OFFSETS_PATH: &str = "/run/sockasm/kernel-offsets";
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// Where the running kernel describes its types.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// CapEff bit 38 (CAP_PERFMON) or 21 (CAP_SYS_ADMIN, which implies it):
/// whether the programs may read kernel memory.
fn may_read_kernel(caps: u64) -> bool {
    caps & ((1 << 38) | (1 << 21)) != 0
}

/// How the programs will decide, on this kernel and with this process's
/// privileges. Pure reads: no BPF object is created.
pub fn kernel_policy(btf_path: &Path) -> Policy {
    read_policy(btf_path, effective_caps().unwrap_or(0))
}

/// [`kernel_policy`] for a process with the effective capabilities `caps`:
/// reads the BTF at `btf_path`.
fn read_policy(btf_path: &Path, caps: u64) -> Policy {
    if !may_read_kernel(caps) {
        return Policy::without_perfmon();
    }
    // Mapped where the kernel allows it (6.16 on), read otherwise.
    if let Ok(blob) = Mapped::file(btf_path) {
        return Policy::from_btf(&blob, &btf_path.display().to_string());
    }
    match std::fs::read(btf_path) {
        Ok(blob) => Policy::from_btf(&blob, &btf_path.display().to_string()),
        Err(e) => Policy::PeerBlind {
            reason: format!(
                "cannot read the kernel's BTF at {}: {e} (a kernel built without CONFIG_DEBUG_INFO_BTF?)",
                btf_path.display()
            ),
        },
    }
}

/// [`kernel_policy`] for `caps`, with the offsets of this boot from
/// [`OFFSETS_PATH`] when they are there, and kept there when they are not.
/// Any other BTF path (tests) is always read.
pub(super) fn policy(btf_path: &Path, caps: u64) -> Policy {
    if btf_path != Path::new(KERNEL_BTF) {
        return read_policy(btf_path, caps);
    }
    let Some(boot) = std::fs::read_to_string(BOOT_ID).ok().map(|s| s.trim().to_string()) else {
        return read_policy(btf_path, caps);
    };
    // The capability check stays: it decides per process, not per boot.
    if may_read_kernel(caps)
        && let Some(o) = read(Path::new(OFFSETS_PATH), &boot)
    {
        return Policy::PeerAware(o);
    }
    let p = read_policy(btf_path, caps);
    if let Policy::PeerAware(o) = &p {
        // Best effort: without the file the next load reads the BTF again.
        let _ = write(Path::new(OFFSETS_PATH), &boot, o);
    }
    p
}

/// Where the adopt programs' offsets of this boot are kept (with the
/// iterators' BTF ids and `pollwake`'s address, read from /proc/kallsyms).
pub const ADOPT_OFFSETS_PATH: &str = "/run/sockasm/adopt-offsets";

/// The adopt programs' offsets: kept ones of this boot, or read from the
/// BTF at `btf_path` (and kept). `Err`: why the host cannot adopt.
pub(super) fn adopt_offsets(btf_path: &Path) -> Result<AdoptOffsets, String> {
    let boot = std::fs::read_to_string(BOOT_ID).ok().map(|s| s.trim().to_string());
    let kept = Path::new(ADOPT_OFFSETS_PATH);
    if btf_path == Path::new(KERNEL_BTF)
        && let Some(boot) = &boot
        && let Some(o) = read_text(kept, boot).and_then(|t| AdoptOffsets::from_text(&t))
    {
        return Ok(o);
    }
    let blob =
        std::fs::read(btf_path).map_err(|e| format!("cannot read the kernel's BTF at {}: {e}", btf_path.display()))?;
    let mut o = AdoptOffsets::from_btf(&blob).map_err(|e| format!("{}: {e}", btf_path.display()))?;
    o.pollwake = pollwake();
    if btf_path == Path::new(KERNEL_BTF)
        && let Some(boot) = &boot
    {
        // Best effort, as for the kernel offsets.
        let _ = write_text(kept, boot, &o.to_text());
    }
    Ok(o)
}

/// The address of the kernel's `pollwake` from /proc/kallsyms (0 when
/// hidden): poll()/select() wait entries are then not taken for sleepers.
fn pollwake() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/kallsyms") else { return 0 };
    text.lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            let (addr, _kind, name) = (w.next()?, w.next()?, w.next()?);
            (name == "pollwake" && w.next().is_none()).then(|| u64::from_str_radix(addr, 16).ok())?
        })
        .unwrap_or(0)
}

fn read(path: &Path, boot: &str) -> Option<KernelOffsets> {
    KernelOffsets::from_text(&read_text(path, boot)?)
}

fn write(path: &Path, boot: &str, o: &KernelOffsets) -> std::io::Result<()> {
    write_text(path, boot, &o.to_text())
}

/// The text kept at `path` for boot `boot`, if the file is a safe one of ours.
fn read_text(path: &Path, boot: &str) -> Option<String> {
    let md = std::fs::symlink_metadata(path).ok()?;
    if !md.is_file() || md.uid() != nix::unistd::geteuid().as_raw() || md.mode() & 0o022 != 0 || md.len() > 4096 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let rest = text.strip_prefix("boot_id ")?;
    let (id, fields) = rest.split_once('\n')?;
    (id == boot).then(|| fields.to_string())
}

fn write_text(path: &Path, boot: &str, text: &str) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("no parent directory"))?;
    let name = path.file_name().map_or("offsets".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)?;
    let done = f.write_all(format!("boot_id {boot}\n{text}").as_bytes()).and_then(|()| f.sync_all());
    let done = done.and_then(|()| std::fs::rename(&tmp, path));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_kernel_btf_resolves_every_field() {
        // Skipped only where the kernel has no BTF at all (then `load` degrades).
        let Ok(blob) = std::fs::read(KERNEL_BTF) else { return };
        let o = KernelOffsets::from_btf(&blob).unwrap();
        assert!(o.rcvbuf.offset > o.rmem_alloc.offset, "{o:?}");
        assert_eq!(o.repair.mask.count_ones(), 1, "{o:?}");
        assert!(o.repair.byte > o.rcvbuf.offset, "tcp_sock fields follow struct sock: {o:?}");
        assert!(o.psock_tot_len.offset > o.psock_ingress.offset, "{o:?}");
    }

    #[test]
    fn kept_offsets_are_used_only_for_the_same_boot_and_a_safe_file() {
        let dir = std::env::temp_dir().join(format!("sockasm-offsets-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kernel-offsets");
        let o = crate::progs::kernel::tests::offsets();
        write(&path, "boot-a", &o).unwrap();
        assert_eq!(read(&path, "boot-a"), Some(o));
        assert_eq!(read(&path, "boot-b"), None, "another boot reads the BTF again");
        // Group-writable: not trusted.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert_eq!(read(&path, "boot-a"), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        // A corrupt file is a miss, never a panic.
        std::fs::write(&path, "boot_id boot-a\nsock.sk_rmem_alloc 1\n").unwrap();
        assert_eq!(read(&path, "boot-a"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
