//! Socket ioctls the workload needs; the only `unsafe` here is the raw call.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `ioctl(fd, FIONREAD)`: bytes the kernel says are ready to read now
/// (for TCP: `SIOCINQ`). A socket whose bytes arrive by sk_msg redirect may
/// report 0 here although `read` returns data; readers must not trust 0.
#[allow(unsafe_code)]
pub fn fionread(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: `fd` is a valid open descriptor for the borrow's lifetime, and
    // FIONREAD writes exactly one `c_int` through the pointer, which points to
    // a live, properly aligned local.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n as *mut libc::c_int) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.max(0) as usize)
}

/// `getsockopt(fd, SOL_SOCKET, SO_MEMINFO)[SK_MEMINFO_RMEM_ALLOC]`: bytes the
/// socket holds for its reader, TCP's receive queue and the redirect's alike.
#[allow(unsafe_code)]
pub fn rmem_alloc(fd: BorrowedFd<'_>) -> io::Result<u32> {
    const SO_MEMINFO: libc::c_int = 55;
    let mut info = [0u32; 9];
    let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: `fd` is valid for the borrow; the kernel writes at most `len`
    // bytes into `info`, a live local of exactly that size, and updates `len`.
    let r =
        unsafe { libc::getsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, SO_MEMINFO, info.as_mut_ptr().cast(), &mut len) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info[0])
}

/// `setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, n)`: a blocking read returns only
/// once `n` bytes are there (or at EOF, a signal, a timeout).
pub fn set_rcvlowat(fd: BorrowedFd<'_>, n: u32) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVLOWAT, n.min(i32::MAX as u32) as libc::c_int)
}

/// `setsockopt(fd, level, name, &value, sizeof(int))`, for the integer
/// options nix has no wrapper for (SO_RCVLOWAT, TCP_REPAIR, TCP_QUEUE_SEQ).
#[allow(unsafe_code)]
pub fn setsockopt_int(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `fd` is valid for the borrow; the kernel reads exactly
    // `size_of::<c_int>()` bytes from `&value`, a live local.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
