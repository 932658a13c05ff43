//! Sockets and process placement: listeners, connections, cgroup, netns, rlimit.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use nix::sched::{CloneFlags, setns};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::socket::{self as sock, AddressFamily, Backlog, SockFlag, SockType, SockaddrStorage, sockopt};

use super::TrafficError;

/// Where a server listens or a client connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(SocketAddr),
    /// A filesystem AF_UNIX stream socket.
    Unix(PathBuf),
}

impl FromStr for Endpoint {
    type Err = String;
    /// `127.0.0.1:80`, `[::1]:80`, or `unix:/path`.
    fn from_str(s: &str) -> Result<Endpoint, String> {
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(Endpoint::Unix(PathBuf::from(p)));
        }
        s.parse::<SocketAddr>()
            .map(Endpoint::Tcp)
            .map_err(|e| format!("{s}: {e} (want ADDR:PORT, [V6]:PORT or unix:PATH)"))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "{a}"),
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A connected stream of either family.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }
    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(nb),
            Stream::Unix(s) => s.set_nonblocking(nb),
        }
    }
    pub fn set_read_timeout(&self, d: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(d),
            Stream::Unix(s) => s.set_read_timeout(d),
        }
    }
    pub fn set_write_timeout(&self, d: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(d),
            Stream::Unix(s) => s.set_write_timeout(d),
        }
    }
    /// TCP_NODELAY (no-op for AF_UNIX).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(on),
            Stream::Unix(_) => Ok(()),
        }
    }
    /// The local TCP port, if TCP.
    pub fn local_port(&self) -> Option<u16> {
        match self {
            Stream::Tcp(s) => s.local_addr().ok().map(|a| a.port()),
            Stream::Unix(_) => None,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

/// A listening socket of either family.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Binds and listens (backlog 4096). A TCP listener on `[::]` is made
    /// dual-stack explicitly (IPV6_V6ONLY off), so IPv4 clients reach it as
    /// `::ffff:a.b.c.d`. An existing socket file at a Unix path is replaced.
    pub fn bind(ep: &Endpoint) -> Result<Listener, TrafficError> {
        match ep {
            Endpoint::Tcp(addr) => {
                let fam = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
                let fd = sock::socket(fam, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
                    .map_err(TrafficError::sys("socket"))?;
                sock::setsockopt(&fd, sockopt::ReuseAddr, &true)
                    .map_err(TrafficError::sys("setsockopt SO_REUSEADDR"))?;
                if let SocketAddr::V6(v6) = addr
                    && v6.ip().is_unspecified()
                {
                    sock::setsockopt(&fd, sockopt::Ipv6V6Only, &false)
                        .map_err(TrafficError::sys("setsockopt IPV6_V6ONLY"))?;
                }
                bind_fd(&fd, *addr).map_err(|e| TrafficError::io(format!("bind {addr}"), e))?;
                sock::listen(&fd, Backlog::new(4096).unwrap_or(Backlog::MAXCONN))
                    .map_err(TrafficError::sys("listen"))?;
                Ok(Listener::Tcp(TcpListener::from(fd)))
            }
            Endpoint::Unix(p) => {
                let _ = std::fs::remove_file(p);
                let l = UnixListener::bind(p).map_err(|e| TrafficError::io(format!("bind {}", p.display()), e))?;
                Ok(Listener::Unix(l, p.clone()))
            }
        }
    }

    /// The bound TCP port (the real one when asked for port 0).
    pub fn port(&self) -> Option<u16> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok().map(|a| a.port()),
            Listener::Unix(..) => None,
        }
    }

    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(nb),
            Listener::Unix(l, _) => l.set_nonblocking(nb),
        }
    }

    pub fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn bind_fd(fd: &OwnedFd, addr: SocketAddr) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let sa = SockaddrStorage::from(addr);
    sock::bind(fd.as_raw_fd(), &sa).map_err(io::Error::from)
}

/// Connects to `ep`. With `bind`, the TCP socket is first bound to that local
/// address with SO_REUSEADDR (to force a source port).
pub fn connect(ep: &Endpoint, bind: Option<SocketAddr>) -> Result<Stream, TrafficError> {
    match ep {
        Endpoint::Tcp(addr) => {
            let Some(local) = bind else {
                return TcpStream::connect(addr)
                    .map(Stream::Tcp)
                    .map_err(|e| TrafficError::io(format!("connect {addr}"), e));
            };
            use std::os::fd::AsRawFd;
            let fam = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
            let fd = sock::socket(fam, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
                .map_err(TrafficError::sys("socket"))?;
            sock::setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(TrafficError::sys("setsockopt SO_REUSEADDR"))?;
            bind_fd(&fd, local).map_err(|e| TrafficError::io(format!("bind {local}"), e))?;
            let sa = SockaddrStorage::from(*addr);
            sock::connect(fd.as_raw_fd(), &sa)
                .map_err(|e| TrafficError::io(format!("connect {addr} from {local}"), e.into()))?;
            Ok(Stream::Tcp(TcpStream::from(fd)))
        }
        Endpoint::Unix(p) => UnixStream::connect(p)
            .map(Stream::Unix)
            .map_err(|e| TrafficError::io(format!("connect {}", p.display()), e)),
    }
}

/// Moves the calling process into a cgroup v2 directory (all its threads).
/// Do this before creating sockets: a socket belongs to the cgroup of the
/// process that created it, at creation time.
pub fn enter_cgroup(dir: &Path) -> Result<(), TrafficError> {
    let procs = dir.join("cgroup.procs");
    let mut f = OpenOptions::new()
        .write(true)
        .open(&procs)
        .map_err(|e| TrafficError::io(format!("open {}", procs.display()), e))?;
    f.write_all(format!("{}\n", std::process::id()).as_bytes())
        .map_err(|e| TrafficError::io(format!("write {}", procs.display()), e))
}

/// Moves the calling thread into the network namespace `/run/netns/NAME` (or
/// a path). Threads spawned afterwards inherit it; call before spawning.
pub fn enter_netns(name: &str) -> Result<(), TrafficError> {
    let path = if name.contains('/') { PathBuf::from(name) } else { Path::new("/run/netns").join(name) };
    let f = File::open(&path).map_err(|e| TrafficError::io(format!("open {}", path.display()), e))?;
    setns(f.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|e| TrafficError::io(format!("setns {}", path.display()), e.into()))
}

/// Raises RLIMIT_NOFILE's soft limit to at least `want` (up to the hard limit,
/// or beyond it when privileged). Returns the new soft limit.
pub fn raise_nofile(want: u64) -> Result<u64, TrafficError> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(TrafficError::sys("getrlimit"))?;
    if soft >= want {
        return Ok(soft);
    }
    if want > hard && setrlimit(Resource::RLIMIT_NOFILE, want, want).is_ok() {
        return Ok(want);
    }
    let new = want.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, new, hard).map_err(TrafficError::sys("setrlimit"))?;
    Ok(new)
}

/// Reads from a blocking socket (with SO_RCVTIMEO set to reach `deadline`),
/// retrying an EAGAIN that arrives before the deadline.
///
/// Linux's sockmap receive path (`tcp_bpf_recvmsg`) returns EAGAIN from a
/// *blocking* `recv()` when it is woken without data: by a write on the same
/// socket from another thread, or by the ACK of the socket's own FIN after
/// `shutdown(SHUT_WR)`. A blocking reader on a bypassed socket must retry;
/// each retry is counted in `spurious`, so tests and reports can show it.
pub fn read_retrying(
    s: &mut impl Read,
    buf: &mut [u8],
    deadline: std::time::Instant,
    spurious: &mut u64,
) -> io::Result<usize> {
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => *spurious += 1,
            other => return other,
        }
    }
}

/// [`read_retrying`] until `buf` is full.
pub fn read_exact_retrying(
    s: &mut impl Read,
    mut buf: &mut [u8],
    deadline: std::time::Instant,
    spurious: &mut u64,
) -> io::Result<()> {
    while !buf.is_empty() {
        match read_retrying(s, buf, deadline, spurious)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

/// `write_all` on a blocking socket (SO_SNDTIMEO set to reach `deadline`),
/// retrying an EAGAIN that comes before the deadline.
pub fn write_all_retrying(s: &mut impl Write, mut buf: &[u8], deadline: std::time::Instant) -> io::Result<()> {
    while !buf.is_empty() {
        match s.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes `s` blocking with read and write timeouts that end at `deadline`.
pub fn set_blocking_until(s: &Stream, deadline: std::time::Instant) -> io::Result<()> {
    let left = deadline.saturating_duration_since(std::time::Instant::now()).max(std::time::Duration::from_millis(1));
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(left))?;
    s.set_write_timeout(Some(left))
}
