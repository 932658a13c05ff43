//! Both ends of one TCP connection in one thread, so a test can decide
//! exactly when the reader reads. What the bypass does then depends only on
//! the order of reads and writes, never on how fast the machine is: a reader
//! that "stalls" simply has not been asked to read yet.
//!
//! - [`Scenario::Stall`]: write without reading until the writer is pushed
//!   back (EAGAIN), note how much the reader holds, then read everything
//!   while the rest is written.
//! - [`Scenario::Bursts`]: rounds of "write a burst without reading, then
//!   read all of it": the first burst fills the peer's queue (a spill, after
//!   which the connection stays on TCP), and every round starts with
//!   everything read.
//! - [`Scenario::SmallStream`]: many small writes before the reader reads.
//! - [`Scenario::PingPong`]: request/response in both directions.
//! - [`Scenario::Semantics`]: the socket calls that behave differently on a
//!   socket in the SOCKHASH: `recv(MSG_WAITALL)`, `MSG_OOB`, and `splice()`
//!   from the socket (reported, not checked: the test compares with TCP).
//!
//! Every byte received is checked against the sender's [`Pattern`], in order.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::TrafficError;
use super::pattern::{Pattern, StreamId, check};
use super::report::{PairReport, Ready};

#[derive(Clone, Debug)]
pub enum Scenario {
    Stall {
        cap: u64,
        extra: u64,
    },
    Bursts {
        rounds: u32,
        burst: u64,
    },
    SmallStream {
        writes: u32,
    },
    /// [`Scenario::SmallStream`], then everything read, then 50 more writes
    /// of 1000 bytes, each read before the next (the leaving protocol's
    /// case: the reader's redirect queue is empty while the writer goes on).
    Leave {
        writes: u32,
    },
    PingPong {
        rounds: u32,
    },
    Semantics,
    /// A socket put into TCP_REPAIR mode, given sequence numbers and
    /// connected without a handshake (ESTABLISHED at once).
    Repair,
    /// Connections with TCP Fast Open (data in the SYN from the second one
    /// on, once the client has a cookie), each echoing `write_size` bytes.
    FastOpen {
        conns: u32,
    },
}

#[derive(Clone, Debug)]
pub struct PairConfig {
    /// `127.0.0.1` or `::1`.
    pub host: String,
    pub scenario: Scenario,
    pub write_size: usize,
    /// Print `{"ready": true}` and wait for this file before the scenario.
    pub go_file: Option<PathBuf>,
    pub timeout: Duration,
    /// Listen on this port (0: any).
    pub port: u16,
}

/// One direction of the connection: the writer's pattern and both offsets.
struct Dir {
    tx: TcpStream,
    rx: TcpStream,
    pattern: Pattern,
    sent: u64,
    received: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    label: &'static str,
}

impl Dir {
    fn new(tx: TcpStream, rx: TcpStream, label: &'static str, write_size: usize) -> Dir {
        let pattern = Pattern::new(StreamId::new(label, 0));
        Dir { tx, rx, pattern, sent: 0, received: 0, buf: vec![0; write_size.max(1)], scratch: Vec::new(), label }
    }

    fn protocol(&self, msg: String) -> TrafficError {
        TrafficError::Protocol { conn: self.label.into(), msg }
    }

    /// One write of up to `max` bytes. `Ok(0)`: pushed back (EAGAIN).
    fn write_some(&mut self, max: u64) -> Result<u64, TrafficError> {
        let n = (self.buf.len() as u64).min(max) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.pattern.fill(self.sent, &mut self.buf[..n]);
        match self.tx.write(&self.buf[..n]) {
            Ok(w) => {
                self.sent += w as u64;
                Ok(w as u64)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(TrafficError::io("write", e)),
        }
    }

    /// Reads what is there now and checks it. `Ok(0)`: nothing ready.
    fn read_some(&mut self) -> Result<u64, TrafficError> {
        let mut buf = std::mem::take(&mut self.buf);
        let r = match self.rx.read(&mut buf) {
            Ok(0) => Err(self.protocol(format!("EOF after {} of {} bytes", self.received, self.sent))),
            Ok(n) => {
                check(&self.pattern, self.received, &buf[..n], &mut self.scratch)
                    .map_err(|mismatch| TrafficError::Mismatch { conn: self.label.into(), mismatch })?;
                self.received += n as u64;
                Ok(n as u64)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(TrafficError::io("read", e)),
        };
        self.buf = buf;
        r
    }

    /// Reads until everything sent has arrived, writing up to `target` meanwhile.
    fn pump(&mut self, target: u64, deadline: Instant) -> Result<(), TrafficError> {
        let mut idle = 0u32;
        while self.received < target {
            let w = if self.sent < target { self.write_some(target - self.sent)? } else { 0 };
            let r = self.read_some()?;
            if w == 0 && r == 0 {
                if Instant::now() > deadline {
                    return Err(self.protocol(format!(
                        "timed out with {} of {target} bytes sent and {} received",
                        self.sent, self.received
                    )));
                }
                // Nothing moves: let TCP's timers (a zero-window probe) run.
                idle += 1;
                std::thread::sleep(Duration::from_micros(100 * u64::from(idle.min(100))));
            } else {
                idle = 0;
            }
        }
        Ok(())
    }
}

fn rmem(s: &TcpStream) -> u64 {
    crate::syscall::ioctl::rmem_alloc(s.as_fd()).map_or(0, u64::from)
}

/// A TCP_REPAIR socket "connected" to `host:port` (nothing is sent: in
/// repair mode connect() only records the peer). Returns whether the kernel
/// accepted repair mode and the connect.
fn repaired_socket(host: &str) -> Result<bool, TrafficError> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrStorage, connect, socket};
    use std::net::{SocketAddr, ToSocketAddrs};
    const TCP_REPAIR: i32 = 19;
    const TCP_REPAIR_QUEUE: i32 = 20;
    const TCP_QUEUE_SEQ: i32 = 21;
    const TCP_SEND_QUEUE: i32 = 2;
    const TCP_RECV_QUEUE: i32 = 1;
    let addr: SocketAddr = (host, 9)
        .to_socket_addrs()
        .map_err(|e| TrafficError::io("resolve", e))?
        .next()
        .ok_or_else(|| TrafficError::Protocol { conn: "repair".into(), msg: format!("no address for {host}") })?;
    let family = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(TrafficError::sys("socket"))?;
    let set = |name, value| crate::syscall::ioctl::setsockopt_int(fd.as_fd(), libc::IPPROTO_TCP, name, value);
    if set(TCP_REPAIR, 1).is_err() {
        return Ok(false);
    }
    // Sequence numbers of user space's choosing: what makes such a socket unfit to pair.
    for (queue, seq) in [(TCP_SEND_QUEUE, 0x1234_5678), (TCP_RECV_QUEUE, 0x0bad_cafe)] {
        set(TCP_REPAIR_QUEUE, queue).map_err(|e| TrafficError::io("TCP_REPAIR_QUEUE", e))?;
        set(TCP_QUEUE_SEQ, seq).map_err(|e| TrafficError::io("TCP_QUEUE_SEQ", e))?;
    }
    connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)).map_err(TrafficError::sys("connect (repair mode)"))?;
    Ok(true)
}

/// `conns` TCP Fast Open connections to a listener of its own on `host`,
/// each sending `size` pattern bytes (in the SYN once a cookie is cached)
/// and reading the echo back; every byte checked. Returns the bytes echoed.
fn fast_open(host: &str, conns: u32, size: usize, timeout: Duration) -> Result<u64, TrafficError> {
    const TCP_FASTOPEN: i32 = 23;
    const TCP_FASTOPEN_CONNECT: i32 = 30;
    let listener = TcpListener::bind((host, 0)).map_err(|e| TrafficError::io("bind", e))?;
    crate::syscall::ioctl::setsockopt_int(listener.as_fd(), libc::IPPROTO_TCP, TCP_FASTOPEN, 16)
        .map_err(|e| TrafficError::io("TCP_FASTOPEN", e))?;
    let addr = listener.local_addr().map_err(|e| TrafficError::io("local_addr", e))?;
    let mut echoed = 0u64;
    let mut scratch = Vec::new();
    for i in 0..conns {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrStorage, connect, socket};
        let family = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(TrafficError::sys("socket"))?;
        crate::syscall::ioctl::setsockopt_int(fd.as_fd(), libc::IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
            .map_err(|e| TrafficError::io("TCP_FASTOPEN_CONNECT", e))?;
        connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)).map_err(TrafficError::sys("connect"))?;
        let mut client = TcpStream::from(fd);
        let pattern = Pattern::new(StreamId::new("tfo", u64::from(i)));
        let mut data = vec![0u8; size];
        pattern.fill(0, &mut data);
        // With a cookie, this write leaves in the SYN.
        client.write_all(&data).map_err(|e| TrafficError::io("write", e))?;
        let (mut server, _) = listener.accept().map_err(|e| TrafficError::io("accept", e))?;
        for s in [&client, &server] {
            s.set_read_timeout(Some(timeout)).map_err(|e| TrafficError::io("SO_RCVTIMEO", e))?;
        }
        let mut got = vec![0u8; size];
        server.read_exact(&mut got).map_err(|e| TrafficError::io("server read", e))?;
        check(&pattern, 0, &got, &mut scratch)
            .map_err(|mismatch| TrafficError::Mismatch { conn: format!("tfo-{i} (server)"), mismatch })?;
        server.write_all(&got).map_err(|e| TrafficError::io("echo", e))?;
        client.read_exact(&mut got).map_err(|e| TrafficError::io("client read", e))?;
        check(&pattern, 0, &got, &mut scratch)
            .map_err(|mismatch| TrafficError::Mismatch { conn: format!("tfo-{i} (client)"), mismatch })?;
        echoed += size as u64;
    }
    Ok(echoed)
}

/// Runs the scenario; the JSON holds byte counts and what was observed.
pub fn run_pair(cfg: &PairConfig) -> Result<PairReport, TrafficError> {
    let deadline = Instant::now() + cfg.timeout;
    let listener = TcpListener::bind((cfg.host.as_str(), cfg.port)).map_err(|e| TrafficError::io("bind", e))?;
    let addr = listener.local_addr().map_err(|e| TrafficError::io("local_addr", e))?;
    let client = TcpStream::connect(addr).map_err(|e| TrafficError::io("connect", e))?;
    let (server, _) = listener.accept().map_err(|e| TrafficError::io("accept", e))?;
    for s in [&client, &server] {
        s.set_nonblocking(true).map_err(|e| TrafficError::io("set_nonblocking", e))?;
        s.set_nodelay(true).map_err(|e| TrafficError::io("set_nodelay", e))?;
    }
    let clone = |s: &TcpStream| s.try_clone().map_err(|e| TrafficError::io("dup", e));
    let mut up = Dir::new(clone(&client)?, clone(&server)?, "pair-up", cfg.write_size);
    let mut down = Dir::new(clone(&server)?, clone(&client)?, "pair-down", cfg.write_size);
    if let Some(go) = &cfg.go_file {
        println!("{}", super::report::line(&Ready { ready: true }));
        while !go.exists() {
            if Instant::now() > deadline {
                return Err(TrafficError::Timeout(cfg.timeout, format!("{} never appeared", go.display())));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut out = PairReport { ok: true, ..PairReport::default() };
    match cfg.scenario {
        Scenario::Stall { cap, extra } => {
            while up.sent < cap && up.write_some(cap - up.sent)? > 0 {}
            out.accepted = Some(up.sent);
            out.pushed_back = Some(up.sent < cap);
            out.reader_rmem = Some(rmem(&server));
            let target = up.sent + extra;
            up.pump(target, deadline)?;
        }
        Scenario::Bursts { rounds, burst } => {
            let mut peak = 0;
            for _ in 0..rounds {
                let end = up.sent + burst;
                while up.sent < end && up.write_some(end - up.sent)? > 0 {}
                peak = peak.max(rmem(&server));
                let target = up.sent;
                up.pump(target, deadline)?;
            }
            out.peak_reader_rmem = Some(peak);
        }
        Scenario::SmallStream { writes } => {
            for _ in 0..writes {
                if up.write_some(up.buf.len() as u64)? == 0 {
                    up.read_some()?;
                }
            }
            let target = up.sent;
            up.pump(target, deadline)?;
        }
        Scenario::Leave { writes } => {
            for _ in 0..writes {
                if up.write_some(up.buf.len() as u64)? == 0 {
                    up.read_some()?;
                }
            }
            let target = up.sent;
            up.pump(target, deadline)?;
            up.buf.resize(1000, 0);
            for _ in 0..50 {
                let target = up.sent + 1000;
                up.pump(target, deadline)?;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Scenario::Semantics => {
            semantics(&client, &server, &mut out)?;
        }
        Scenario::Repair => out.repaired = Some(repaired_socket(&cfg.host)?),
        Scenario::FastOpen { conns } => {
            out.tfo_echoed = Some(fast_open(&cfg.host, conns, cfg.write_size, cfg.timeout)?);
        }
        Scenario::PingPong { rounds } => {
            let n = cfg.write_size as u64;
            for _ in 0..rounds {
                for d in [&mut up, &mut down] {
                    let target = d.sent + n;
                    d.pump(target, deadline)?;
                }
            }
        }
    }
    out.bytes_up = up.received;
    out.bytes_down = down.received;
    Ok(out)
}

/// Probes the three calls; returns what `recv(MSG_WAITALL)` got of 100 bytes
/// written in 10 writes, and the OOB and splice results, into `out`.
fn semantics(client: &TcpStream, server: &TcpStream, out: &mut PairReport) -> Result<(), TrafficError> {
    use nix::fcntl::{SpliceFFlags, splice};
    use nix::sys::socket::{MsgFlags, recv, send};
    use std::os::fd::AsRawFd;
    let sys = |op: &'static str| move |e: nix::errno::Errno| TrafficError::io(op, e.into());
    let (c, s) = (client.as_raw_fd(), server.as_raw_fd());
    // MSG_WAITALL: a blocking recv(100) while ten writes of 10 bytes arrive
    // one by one (the first before the call, the others from a thread).
    send(c, &[b'0'; 10], MsgFlags::empty()).map_err(sys("send"))?;
    let writer = client.try_clone().map_err(|e| TrafficError::io("dup", e))?;
    let late = std::thread::spawn(move || {
        for i in 1..10u8 {
            std::thread::sleep(Duration::from_millis(10));
            if send(writer.as_raw_fd(), &[b'0' + i; 10], MsgFlags::empty()).is_err() {
                break;
            }
        }
    });
    server.set_nonblocking(false).map_err(|e| TrafficError::io("set_nonblocking", e))?;
    server.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| TrafficError::io("SO_RCVTIMEO", e))?;
    let mut buf = [0u8; 100];
    let waitall = recv(s, &mut buf, MsgFlags::MSG_WAITALL).map_err(sys("recv(MSG_WAITALL)"))?;
    let mut rest = 100 - waitall;
    while rest > 0 {
        rest -= recv(s, &mut buf[..rest], MsgFlags::empty()).map_err(sys("recv"))?;
    }
    let _ = late.join();
    // MSG_OOB: "abc", then "!" as urgent data, then "def".
    send(c, b"abc", MsgFlags::empty()).map_err(sys("send"))?;
    send(c, b"!", MsgFlags::MSG_OOB).map_err(sys("send(MSG_OOB)"))?;
    send(c, b"def", MsgFlags::empty()).map_err(sys("send"))?;
    std::thread::sleep(Duration::from_millis(50));
    let mut oob = [0u8; 1];
    let oob_byte = match recv(s, &mut oob, MsgFlags::MSG_OOB) {
        Ok(1) => String::from_utf8_lossy(&oob).into_owned(),
        Ok(_) => String::new(),
        Err(e) => format!("error: {e}"),
    };
    server.set_nonblocking(true).map_err(|e| TrafficError::io("set_nonblocking", e))?;
    let mut stream = Vec::new();
    let mut chunk = [0u8; 64];
    let end = Instant::now() + Duration::from_secs(2);
    while stream.len() < 6 && Instant::now() < end {
        match recv(s, &mut chunk, MsgFlags::empty()) {
            Ok(n) => stream.extend_from_slice(&chunk[..n]),
            Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(sys("recv")(e)),
        }
    }
    // splice(): 64 KiB written, read from the socket into a pipe.
    let data = vec![7u8; 65536];
    let mut sent = 0;
    while sent < data.len() {
        match send(c, &data[sent..], MsgFlags::empty()) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(sys("send")(e)),
        }
    }
    let (pr, pw) = nix::unistd::pipe().map_err(sys("pipe"))?;
    let mut spliced = 0usize;
    let end = Instant::now() + Duration::from_secs(2);
    while spliced < data.len() && Instant::now() < end {
        match splice(server, None, &pw, None, data.len() - spliced, SpliceFFlags::SPLICE_F_NONBLOCK) {
            Ok(0) => break,
            Ok(n) => {
                spliced += n;
                let mut sink = vec![0u8; n];
                nix::unistd::read(&pr, &mut sink).map_err(sys("read(pipe)"))?;
            }
            Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(sys("splice")(e)),
        }
    }
    out.waitall_got = Some(waitall as u64);
    out.oob_byte = Some(oob_byte);
    out.stream_after_oob = Some(String::from_utf8_lossy(&stream).into_owned());
    out.spliced = Some(spliced as u64);
    Ok(())
}
