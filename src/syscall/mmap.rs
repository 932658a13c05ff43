//! A file mapped read-only and private: the kernel's 5.5 MB of BTF without
//! copying it. `/sys/kernel/btf/vmlinux` is a sysfs binary file, whose
//! `read()` returns at most one page per call (about 1,340 calls and copies
//! for vmlinux); since Linux 6.16 it can be mapped instead.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::ptr::NonNull;

/// The whole of a file, mapped `PROT_READ`, `MAP_PRIVATE`.
pub struct Mapped {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapped {
    /// Maps all of `path`. An empty file, or one the kernel will not map
    /// (vmlinux BTF before 6.16), is an error: the caller reads it instead.
    #[allow(unsafe_code)]
    pub fn file(path: &Path) -> io::Result<Mapped> {
        let f = File::open(path)?;
        let len = usize::try_from(f.metadata()?.len()).map_err(|_| io::Error::from(io::ErrorKind::FileTooLarge))?;
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty file"));
        }
        // SAFETY: a new private read-only mapping at an address the kernel
        // picks; no Rust object aliases it, and the fd may close afterwards.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, f.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(p.cast::<u8>())
            .map(|ptr| Mapped { ptr, len })
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "mmap returned NULL"))
    }
}

impl Deref for Mapped {
    type Target = [u8];
    #[allow(unsafe_code)]
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop`; the mapping
        // is private, so no other process's write changes what we read.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapped {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the range `file` mapped; no slice from
        // `deref` outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_file_and_refuses_an_empty_one() {
        let dir = std::env::temp_dir().join(format!("sockasm-mmap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (full, empty) = (dir.join("full"), dir.join("empty"));
        std::fs::write(&full, b"\x9f\xeb BTF-ish").unwrap();
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(&*Mapped::file(&full).unwrap(), b"\x9f\xeb BTF-ish");
        assert!(Mapped::file(&empty).is_err());
        assert!(Mapped::file(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Where the kernel maps its BTF (6.16 on), the mapping holds what
    /// `read()` returns.
    #[test]
    fn mapped_vmlinux_btf_equals_what_read_returns() {
        let path = Path::new("/sys/kernel/btf/vmlinux");
        let Ok(read) = std::fs::read(path) else {
            eprintln!("SKIPPED: {} is not readable here", path.display());
            return;
        };
        match Mapped::file(path) {
            Ok(m) => assert!(*m == *read, "the mapping and read() differ"),
            Err(e) => eprintln!("SKIPPED: the kernel does not map {} ({e}); load reads it", path.display()),
        }
    }
}
