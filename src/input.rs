//! Reading input files with a size limit, so that `/dev/zero` or a huge file
//! given by mistake ends with a clear error instead of exhausting memory.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The most sockasm reads from one input file or standard input: 64 MiB.
/// The kernel takes at most 1 million instructions (8 MiB raw, about 30 MiB
/// as text); a clang object with debug info is a few MiB.
pub const MAX_INPUT: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(
        "{} is larger than {} MiB, the most sockasm reads from an input (the kernel loads at most 1 million \
         instructions, 8 MiB); is it the right file?", path.display(), limit >> 20
    )]
    TooBig { path: PathBuf, limit: u64 },
    #[error("cannot read {}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// Reads `path` (`-`: standard input) whole, failing beyond `limit` bytes.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let shown = if path.as_os_str() == "-" { PathBuf::from("<stdin>") } else { path.to_path_buf() };
    let io = |source| InputError::Io { path: shown.clone(), source };
    let mut buf = Vec::new();
    let n = if path.as_os_str() == "-" {
        std::io::stdin().lock().take(limit + 1).read_to_end(&mut buf).map_err(io)?
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit + 1).read_to_end(&mut buf)).map_err(io)?
    };
    if n as u64 > limit {
        return Err(InputError::TooBig { path: shown, limit });
    }
    Ok(buf)
}

/// [`read_limited`] with [`MAX_INPUT`].
pub fn read(path: &Path) -> Result<Vec<u8>, InputError> {
    read_limited(path, MAX_INPUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let e = read_limited(Path::new("/dev/zero"), 4096).unwrap_err();
        assert!(matches!(e, InputError::TooBig { limit: 4096, .. }), "{e}");
        assert!(e.to_string().contains("/dev/zero"), "{e}");
        let p = std::env::temp_dir().join(format!("sockasm-input-test-{}", std::process::id()));
        std::fs::write(&p, [7u8; 4096]).unwrap();
        assert_eq!(read_limited(&p, 4096).unwrap().len(), 4096);
        assert!(read_limited(&p, 4095).is_err());
        std::fs::remove_file(&p).unwrap();
        let e = read(Path::new("/nonexistent/x")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x") && std::error::Error::source(&e).is_some(), "{e}");
    }
}
