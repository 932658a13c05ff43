//! Many connections, random writes, and readers that pick a different way of
//! reading at every call: the reordering hunt of reliability round 3.
//!
//! Each connection has a writer thread and a reader (the connection's own
//! thread). The writer sends the connection's [`Pattern`] in writes of random
//! size (1 B to 2 MiB), often two back to back, with random pauses; then it
//! half-closes. Before it reads anything, the reader waits until the writer's
//! first two writes are out, so that the peer's queue holds them both: with a
//! small `--max-queue` the second write finds the queue full, which makes
//! every connection spill at least once, whatever the machine's speed.
//! After that the reader takes, call by call, one of the [`ReadMode`]s, and
//! every byte is checked in order against the pattern (peeked bytes too).
//! A blocking call has a 2 s SO_RCVTIMEO and is retried (a socket in the
//! SOCKHASH may return EAGAIN after a wake-up without data), all within the
//! run's deadline.

use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{MsgFlags, recv};

use super::TrafficError;
use super::pattern::{Pattern, StreamId, check};
use super::report::ChaosReport;
use crate::syscall::ioctl::{fionread, set_rcvlowat};

/// How the reader takes bytes in one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// A blocking `recv(len)`.
    Plain,
    /// A blocking `recv(len, MSG_WAITALL)`.
    WaitAll,
    /// `SO_RCVLOWAT` of up to `len`, then a blocking `recv`.
    Lowat,
    /// `recv(MSG_PEEK)`, then a `recv` of what was peeked.
    Peek,
    /// `recv(MSG_DONTWAIT)`, with `poll` when nothing is there.
    NonBlocking,
    /// `epoll_wait`, then `recv(MSG_DONTWAIT)`.
    Epoll,
    /// `FIONREAD`, then a read of that many bytes (a non-blocking read when it says 0).
    Fionread,
}

impl ReadMode {
    pub const ALL: [ReadMode; 7] = [
        ReadMode::Plain,
        ReadMode::WaitAll,
        ReadMode::Lowat,
        ReadMode::Peek,
        ReadMode::NonBlocking,
        ReadMode::Epoll,
        ReadMode::Fionread,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Plain => "plain",
            ReadMode::WaitAll => "waitall",
            ReadMode::Lowat => "rcvlowat",
            ReadMode::Peek => "peek",
            ReadMode::NonBlocking => "nonblocking",
            ReadMode::Epoll => "epoll",
            ReadMode::Fionread => "fionread",
        }
    }

    pub fn parse(s: &str) -> Option<ReadMode> {
        ReadMode::ALL.into_iter().find(|m| m.name() == s)
    }
}

#[derive(Clone, Debug)]
pub struct ChaosConfig {
    /// `127.0.0.1` or `::1`.
    pub host: String,
    pub conns: u64,
    /// Connections at a time.
    pub parallel: u64,
    pub seed: u64,
    /// Bytes per connection: random in `[min_bytes, max_bytes]`.
    pub min_bytes: u64,
    pub max_bytes: u64,
    /// One mode for every read (the repro), or random per call.
    pub reader: Option<ReadMode>,
    /// Every write this size (the repro: 10,000), or random.
    pub write_size: Option<usize>,
    /// Pause after every second write, in ms (the repro: 30), or random.
    pub pause_ms: Option<u64>,
    /// Bytes the accepting end writes back (0: none). The forward stream
    /// spills at once through a small bound, so its writer goes to TCP for
    /// good and leaves the SOCKHASH at its next ACK, unless a redirect into
    /// it came first: this stream is that redirect, started before the
    /// forward stream, racing with its spill, or after it (by connection
    /// index, see [`Reverse`]).
    pub reverse_bytes: u64,
    pub timeout: Duration,
}

/// When the reverse stream starts, relative to the forward one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reverse {
    /// Its first write is read before the forward stream starts: the
    /// forward writer has received a redirect, so it must stay in the map.
    Before,
    /// It starts 0-3 ms after the forward stream's second write (the spill):
    /// the redirect and the leaving race.
    Racing,
    /// It starts once the forward stream is read and 100 ms have passed:
    /// the forward writer has usually left, so these writes go over TCP.
    After,
}

/// splitmix64 as a generator: deterministic per seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi]`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What all connections did, summed.
#[derive(Default)]
struct Totals {
    conns: AtomicU64,
    bytes: AtomicU64,
    reads: [AtomicU64; 7],
}

pub fn run_chaos(cfg: &ChaosConfig) -> Result<ChaosReport, TrafficError> {
    let deadline = Instant::now() + cfg.timeout;
    let next = AtomicU64::new(0);
    let totals = Totals::default();
    let first_error = std::sync::Mutex::new(None::<TrafficError>);
    std::thread::scope(|s| {
        for _ in 0..cfg.parallel.clamp(1, 64) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= cfg.conns || first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                        return;
                    }
                    if let Err(e) = one_connection(cfg, i, deadline, &totals) {
                        let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        slot.get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let reads = ReadMode::ALL
        .iter()
        .zip(&totals.reads)
        .map(|(m, n)| (m.name().to_string(), n.load(Ordering::Relaxed)))
        .collect();
    Ok(ChaosReport {
        ok: true,
        conns: totals.conns.load(Ordering::Relaxed),
        bytes: totals.bytes.load(Ordering::Relaxed),
        reads,
    })
}

fn one_connection(cfg: &ChaosConfig, index: u64, deadline: Instant, totals: &Totals) -> Result<(), TrafficError> {
    let io = |op: &'static str| move |e: std::io::Error| TrafficError::io(format!("connection {index}: {op}"), e);
    let listener = TcpListener::bind((cfg.host.as_str(), 0)).map_err(io("bind"))?;
    let addr = listener.local_addr().map_err(io("local_addr"))?;
    let client = TcpStream::connect(addr).map_err(io("connect"))?;
    let (server, _) = listener.accept().map_err(io("accept"))?;
    drop(listener);
    client.set_nodelay(true).map_err(io("TCP_NODELAY"))?;
    client.set_write_timeout(Some(Duration::from_secs(2))).map_err(io("SO_SNDTIMEO"))?;
    server.set_read_timeout(Some(Duration::from_secs(2))).map_err(io("SO_RCVTIMEO"))?;

    let mut rng = Rng(cfg.seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    let total = rng.range(cfg.min_bytes, cfg.max_bytes.max(cfg.min_bytes));
    let pattern = Pattern::new(StreamId::new("chaos", index));
    let (first_two, first_two_out) = channel::<()>();
    let writer_seed = rng.next();
    let (write_size, pause_ms) = (cfg.write_size, cfg.pause_ms);
    let name = format!("chaos-{index}");
    let reverse = match index % 3 {
        0 => Reverse::Before,
        1 => Reverse::Racing,
        _ => Reverse::After,
    };
    let back = if cfg.reverse_bytes > 0 {
        Some((server.try_clone().map_err(io("dup"))?, client.try_clone().map_err(io("dup"))?))
    } else {
        None
    };
    let back_pattern = Pattern::new(StreamId::new("chaos-back", index));
    let back_seed = rng.next();
    let (back_started, back_started_out) = channel::<()>();
    let (forward_read, forward_read_out) = channel::<()>();
    let (spilled, spilled_out) = channel::<()>();
    std::thread::scope(|s| {
        let back_threads = back.map(|(tx, rx)| {
            let (pattern, total) = (&back_pattern, cfg.reverse_bytes);
            let writer = s.spawn(move || -> Result<(), TrafficError> {
                let mut rng = Rng(back_seed);
                let mut tx = tx;
                let wait = |rx: std::sync::mpsc::Receiver<()>| {
                    let _ = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
                };
                match reverse {
                    Reverse::Before => {}
                    Reverse::Racing => {
                        wait(spilled_out);
                        std::thread::sleep(Duration::from_micros(rng.range(0, 3000)));
                    }
                    Reverse::After => {
                        wait(forward_read_out);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                let mut buf = Vec::new();
                let mut sent = 0u64;
                while sent < total {
                    let size = match rng.range(0, 3) {
                        0 => rng.range(1, 512),
                        1 => rng.range(512, 16384),
                        _ => rng.range(16384, 131072),
                    };
                    let n = size.min(total - sent) as usize;
                    buf.resize(n, 0);
                    pattern.fill(sent, &mut buf);
                    write_all(&mut tx, &buf, deadline)
                        .map_err(|e| TrafficError::io(format!("{index}: reverse write"), e))?;
                    sent += n as u64;
                    if sent == n as u64 {
                        let _ = back_started.send(());
                    }
                    if rng.chance(30) {
                        std::thread::sleep(Duration::from_micros(rng.range(0, 1000)));
                    }
                }
                tx.shutdown(Shutdown::Write).map_err(|e| TrafficError::io(format!("{index}: shutdown"), e))?;
                Ok(())
            });
            let reader = s.spawn(move || -> Result<(), TrafficError> {
                let mut rng = Rng(back_seed ^ 1);
                rx.set_read_timeout(Some(Duration::from_secs(2)))
                    .map_err(|e| TrafficError::io(format!("{index}: SO_RCVTIMEO"), e))?;
                read_all(&rx, pattern, total, None, &mut rng, deadline, totals, &format!("chaos-back-{index}"))
            });
            (writer, reader)
        });
        if back_threads.is_some() && reverse == Reverse::Before {
            // The reverse stream's first write is out (and redirected) before
            // the forward stream starts.
            let _ = back_started_out.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        }
        let writer = s.spawn(move || -> Result<(), TrafficError> {
            let mut rng = Rng(writer_seed);
            let mut client = client;
            let mut buf = Vec::new();
            let (mut sent, mut writes) = (0u64, 0u64);
            while sent < total {
                let size = match write_size {
                    Some(n) => n as u64,
                    None => match rng.range(0, 9) {
                        0 => rng.range(1, 64),
                        1..=3 => rng.range(1024, 16384),
                        4..=6 => 10_000,
                        7 => 65536,
                        8 => rng.range(100_000, 300_000),
                        _ => rng.range(1 << 20, 2 << 20),
                    },
                };
                // The first write fills the reader's queue past a 4 KiB
                // bound by itself, and leaves room for a second one.
                let size =
                    if writes == 0 && write_size.is_none() { size.clamp(4096, (total / 2).max(4096)) } else { size };
                let n = size.min(total - sent) as usize;
                buf.resize(n, 0);
                pattern.fill(sent, &mut buf);
                write_all(&mut client, &buf, deadline).map_err(|e| TrafficError::io(format!("{index}: write"), e))?;
                sent += n as u64;
                writes += 1;
                if writes == 2 {
                    let _ = first_two.send(());
                    let _ = spilled.send(());
                }
                if writes % 2 == 0 {
                    let ms = match pause_ms {
                        Some(ms) => ms,
                        None if rng.chance(20) => rng.range(0, 2),
                        None if rng.chance(3) => rng.range(5, 20),
                        None => 0,
                    };
                    if ms > 0 {
                        std::thread::sleep(Duration::from_millis(ms));
                    }
                }
            }
            let _ = first_two.send(());
            let _ = spilled.send(());
            client.shutdown(Shutdown::Write).map_err(|e| TrafficError::io(format!("{index}: shutdown"), e))?;
            Ok(())
        });
        // Let the first two writes pile up in the reader's queue.
        let _ = first_two_out.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let read = read_all(&server, &pattern, total, cfg.reader, &mut rng, deadline, totals, &name);
        let _ = forward_read.send(());
        let panicked = |what: &str| Err(TrafficError::Protocol { conn: name.clone(), msg: format!("{what} panicked") });
        let wrote = writer.join().unwrap_or_else(|_| panicked("writer"));
        let back = match back_threads {
            Some((w, r)) => {
                let wrote = w.join().unwrap_or_else(|_| panicked("reverse writer"));
                let read = r.join().unwrap_or_else(|_| panicked("reverse reader"));
                read.and(wrote)
            }
            None => Ok(()),
        };
        read?;
        wrote?;
        back
    })?;
    totals.conns.fetch_add(1, Ordering::Relaxed);
    totals.bytes.fetch_add(total + cfg.reverse_bytes, Ordering::Relaxed);
    Ok(())
}

/// Writes all of `buf` on a blocking socket with a send timeout, retrying
/// timeouts until `deadline`.
fn write_all(s: &mut TcpStream, mut buf: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !buf.is_empty() {
        match s.write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if Instant::now() > deadline {
                    return Err(e);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn read_all(
    s: &TcpStream,
    pattern: &Pattern,
    total: u64,
    fixed: Option<ReadMode>,
    rng: &mut Rng,
    deadline: Instant,
    totals: &Totals,
    name: &str,
) -> Result<(), TrafficError> {
    let fd = s.as_raw_fd();
    let sys = |op: &str, e: Errno| TrafficError::io(format!("{name}: {op}"), e.into());
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| sys("epoll_create", e))?;
    epoll.add(s.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 0)).map_err(|e| sys("epoll_ctl", e))?;
    let (mut buf, mut scratch) = (vec![0u8; 2 << 20], Vec::new());
    let mut received = 0u64;
    let mismatch = |mismatch| TrafficError::Mismatch { conn: name.to_string(), mismatch };
    while received < total {
        if Instant::now() > deadline {
            return Err(TrafficError::Protocol {
                conn: name.into(),
                msg: format!("timed out with {received} of {total} bytes read"),
            });
        }
        let mode = fixed.unwrap_or_else(|| ReadMode::ALL[rng.range(0, 6) as usize]);
        let want = match rng.range(0, 3) {
            0 => rng.range(1, 512),
            1 => rng.range(512, 16384),
            2 => 65536,
            _ => rng.range(65536, 2 << 20),
        }
        .min(total - received) as usize;
        let got = match mode {
            ReadMode::Plain => recv(fd, &mut buf[..want], MsgFlags::empty()),
            ReadMode::WaitAll => recv(fd, &mut buf[..want], MsgFlags::MSG_WAITALL),
            ReadMode::Lowat => {
                set_rcvlowat(s.as_fd(), want as u32)
                    .map_err(|e| TrafficError::io(format!("{name}: SO_RCVLOWAT"), e))?;
                let r = recv(fd, &mut buf[..want], MsgFlags::empty());
                set_rcvlowat(s.as_fd(), 1).map_err(|e| TrafficError::io(format!("{name}: SO_RCVLOWAT"), e))?;
                r
            }
            ReadMode::Peek => match recv(fd, &mut buf[..want], MsgFlags::MSG_PEEK) {
                Ok(0) => Ok(0),
                Ok(n) => {
                    check(pattern, received, &buf[..n], &mut scratch).map_err(mismatch)?;
                    // What was peeked is there: this read returns it (or more of the same).
                    recv(fd, &mut buf[..n], MsgFlags::MSG_DONTWAIT)
                }
                Err(e) => Err(e),
            },
            ReadMode::NonBlocking => match recv(fd, &mut buf[..want], MsgFlags::MSG_DONTWAIT) {
                Err(Errno::EAGAIN) => {
                    let _ = poll(&mut [PollFd::new(s.as_fd(), PollFlags::POLLIN)], PollTimeout::from(100u16));
                    Err(Errno::EAGAIN)
                }
                r => r,
            },
            ReadMode::Epoll => {
                let mut ev = [EpollEvent::empty()];
                let _ = epoll.wait(&mut ev, EpollTimeout::from(100u16));
                recv(fd, &mut buf[..want], MsgFlags::MSG_DONTWAIT)
            }
            ReadMode::Fionread => {
                let ready = fionread(s.as_fd()).map_err(|e| TrafficError::io(format!("{name}: FIONREAD"), e))?;
                let n = if ready == 0 { want } else { ready.min(want) };
                recv(fd, &mut buf[..n], MsgFlags::MSG_DONTWAIT)
            }
        };
        match got {
            Ok(0) => {
                return Err(TrafficError::Protocol {
                    conn: name.into(),
                    msg: format!("EOF after {received} of {total} bytes ({})", mode.name()),
                });
            }
            Ok(n) => {
                check(pattern, received, &buf[..n], &mut scratch).map_err(mismatch)?;
                received += n as u64;
                totals.reads[ReadMode::ALL.iter().position(|m| *m == mode).unwrap_or(0)]
                    .fetch_add(1, Ordering::Relaxed);
            }
            // A timeout, or a wake-up without data: try again (the deadline bounds it).
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(e) => return Err(sys(&format!("recv ({})", mode.name()), e)),
        }
    }
    Ok(())
}
