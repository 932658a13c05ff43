//! The client side: N connections, C at a time, each checked end to end.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, poll};

use super::net::{Endpoint, Stream, connect};
use super::pattern::{Checksum, HEADER_LEN, Pattern, StreamId, check};
use super::{WorkloadError, mb_per_s};
use crate::json::Json;

/// What each connection does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientMode {
    /// Send the bytes, read the echo back and compare byte for byte.
    Echo,
    /// Send the bytes, half-close, and compare the server's `[len, checksum]`
    /// trailer (server in sink mode).
    Stream,
    /// `rounds` request/response exchanges of `msg_size` bytes each (server in
    /// echo mode), timing each round trip.
    PingPong { msg_size: usize, rounds: u64 },
    /// Send the bytes and close at once, reading nothing (server in drain
    /// mode checks what arrived): bytes still queued at close must not be lost.
    SendClose,
}

impl ClientMode {
    pub fn name(self) -> &'static str {
        match self {
            ClientMode::Echo => "echo",
            ClientMode::Stream => "stream",
            ClientMode::PingPong { .. } => "pingpong",
            ClientMode::SendClose => "send-close",
        }
    }
}

impl FromStr for ClientMode {
    type Err = String;
    /// `echo`, `stream`, or `pingpong` (size and rounds set separately).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "echo" => Ok(ClientMode::Echo),
            "stream" => Ok(ClientMode::Stream),
            "pingpong" => Ok(ClientMode::PingPong { msg_size: 64, rounds: 1000 }),
            "send-close" => Ok(ClientMode::SendClose),
            _ => Err(format!("unknown mode {s:?} (echo, stream, pingpong, send-close)")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub connect: Endpoint,
    /// Connections in total.
    pub conns: u64,
    /// Connections open at the same time (threads). The first connection of
    /// every thread is established before any of them sends a byte, so this
    /// many really are open at once.
    pub concurrent: u64,
    /// Bytes each connection sends (header included); at least 16 so the
    /// server can check the stream.
    pub bytes: u64,
    pub write_size: usize,
    /// Echo mode: `shutdown(SHUT_WR)` after sending, then read the echo to EOF
    /// (otherwise read exactly `bytes` back and close).
    pub half_close: bool,
    pub mode: ClientMode,
    /// Label whose hash goes into each stream header (e.g. a namespace name).
    pub tag: String,
    /// Index of the first connection (stream ids are `first_conn + i`).
    pub first_conn: u64,
    /// Bind each socket to this local address first (SO_REUSEADDR).
    pub bind: Option<SocketAddr>,
    pub nodelay: bool,
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect: Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))),
            conns: 1,
            concurrent: 1,
            bytes: 1 << 20,
            write_size: 64 * 1024,
            half_close: true,
            mode: ClientMode::Echo,
            tag: String::new(),
            first_conn: 0,
            bind: None,
            nodelay: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// What a client did, summed over its connections.
#[derive(Clone, Debug, Default)]
pub struct ClientResult {
    pub mode: Option<ClientMode>,
    pub conns: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// From the first connect to the last close.
    pub elapsed: Duration,
    pub connect_total: Duration,
    /// Most connections open at the same time.
    pub peak_open: u64,
    /// Local TCP port of connection 0.
    pub first_local_port: Option<u16>,
    /// Ping-pong round trips, sorted.
    pub rtts: Vec<Duration>,
    /// EAGAIN returned by a blocking read before its timeout (see `net::read_retrying`).
    pub spurious_eagain: u64,
}

impl ClientResult {
    fn rtt_us(&self, q: f64) -> Json {
        if self.rtts.is_empty() {
            return Json::Null;
        }
        let i = ((self.rtts.len() - 1) as f64 * q).round() as usize;
        Json::Float(self.rtts[i].as_nanos() as f64 / 1000.0)
    }

    pub fn to_json(&self) -> Json {
        let mean = if self.rtts.is_empty() {
            Json::Null
        } else {
            Json::Float(self.rtts.iter().map(|d| d.as_nanos() as f64).sum::<f64>() / self.rtts.len() as f64 / 1000.0)
        };
        Json::obj([
            ("ok", Json::from(true)),
            ("role", "client".into()),
            ("mode", self.mode.map(|m| m.name()).into()),
            ("conns", self.conns.into()),
            ("bytes_sent", self.bytes_sent.into()),
            ("bytes_received", self.bytes_received.into()),
            ("elapsed_us", (self.elapsed.as_micros() as u64).into()),
            ("mb_per_s", mb_per_s(self.bytes_sent, self.elapsed).into()),
            ("connect_us_avg", (self.connect_total.as_micros() as u64).checked_div(self.conns).into()),
            ("peak_open", self.peak_open.into()),
            ("first_local_port", self.first_local_port.map(|p| p as u64).into()),
            ("rounds", (self.rtts.len() as u64).into()),
            ("rtt_us_min", self.rtt_us(0.0)),
            ("rtt_us_p50", self.rtt_us(0.5)),
            ("rtt_us_p99", self.rtt_us(0.99)),
            ("rtt_us_max", self.rtt_us(1.0)),
            ("rtt_us_mean", mean),
            ("spurious_eagain", self.spurious_eagain.into()),
        ])
    }
}

struct Shared {
    next: AtomicU64,
    open: AtomicU64,
    peak: AtomicU64,
    stop: AtomicBool,
    totals: Mutex<ClientResult>,
    errors: Mutex<Vec<WorkloadError>>,
}

/// Runs all connections; the first data error (or any error) fails the run.
pub fn run_client(cfg: &ClientConfig) -> Result<ClientResult, WorkloadError> {
    if cfg.mode != ClientMode::Echo && !matches!(cfg.mode, ClientMode::PingPong { .. }) && cfg.bytes < HEADER_LEN as u64
    {
        return Err(WorkloadError::Protocol {
            conn: "-".into(),
            msg: format!("--bytes must be at least {HEADER_LEN} in stream mode"),
        });
    }
    let threads = cfg.concurrent.clamp(1, cfg.conns.max(1));
    let deadline = Instant::now() + cfg.timeout;
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        open: AtomicU64::new(0),
        peak: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        totals: Mutex::new(ClientResult { mode: Some(cfg.mode), ..Default::default() }),
        errors: Mutex::new(Vec::new()),
    });
    let barrier = Arc::new(Barrier::new(threads as usize));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (shared, barrier, cfg) = (shared.clone(), barrier.clone(), cfg.clone());
        let h = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || worker_thread(&cfg, &shared, &barrier, deadline))
            .map_err(|e| WorkloadError::io("spawn client thread", e))?;
        handles.push(h);
    }
    for h in handles {
        let _ = h.join();
    }
    let mut errors = std::mem::take(&mut *shared.errors.lock().unwrap_or_else(|e| e.into_inner()));
    if !errors.is_empty() {
        let n = errors.len();
        // Prefer reporting a data error over its consequences elsewhere.
        let i = errors.iter().position(|e| e.is_data_error()).unwrap_or(0);
        let first = errors.swap_remove(i);
        return Err(if n == 1 { first } else { WorkloadError::Failed(n, Box::new(first)) });
    }
    let mut r = std::mem::take(&mut *shared.totals.lock().unwrap_or_else(|e| e.into_inner()));
    r.elapsed = start.elapsed();
    r.peak_open = shared.peak.load(Ordering::Relaxed);
    r.rtts.sort();
    Ok(r)
}

fn worker_thread(cfg: &ClientConfig, sh: &Shared, barrier: &Barrier, deadline: Instant) {
    let mut first = true;
    loop {
        if sh.stop.load(Ordering::Relaxed) {
            if first {
                barrier.wait();
            }
            return;
        }
        let i = sh.next.fetch_add(1, Ordering::Relaxed);
        if i >= cfg.conns {
            if first {
                barrier.wait();
            }
            return;
        }
        let t0 = Instant::now();
        let conn = connect(&cfg.connect, cfg.bind);
        let connect_time = t0.elapsed();
        if conn.is_ok() {
            let now = sh.open.fetch_add(1, Ordering::Relaxed) + 1;
            sh.peak.fetch_max(now, Ordering::Relaxed);
        }
        if first {
            barrier.wait();
            first = false;
        }
        let res = conn.and_then(|mut s| {
            let r = one_conn(&mut s, cfg, i, deadline);
            drop(s);
            sh.open.fetch_sub(1, Ordering::Relaxed);
            r
        });
        match res {
            Ok(mut c) => {
                let mut t = sh.totals.lock().unwrap_or_else(|e| e.into_inner());
                t.conns += 1;
                t.bytes_sent += c.bytes_sent;
                t.bytes_received += c.bytes_received;
                t.connect_total += connect_time;
                if i == 0 {
                    t.first_local_port = c.first_local_port;
                }
                t.rtts.append(&mut c.rtts);
            }
            Err(e) => {
                sh.errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                sh.stop.store(true, Ordering::Relaxed);
            }
        }
    }
}

fn conn_name(cfg: &ClientConfig, idx: u64) -> String {
    format!("client conn {} (tag {:?})", cfg.first_conn + idx, cfg.tag)
}

fn wait(
    s: &Stream,
    want_write: bool,
    deadline: Instant,
    cfg: &ClientConfig,
    name: &str,
    sent: u64,
    recvd: u64,
) -> Result<(), WorkloadError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(WorkloadError::Timeout(cfg.timeout, format!("{name}: sent {sent}, received {recvd}")));
    }
    let mut fl = PollFlags::POLLIN;
    if want_write {
        fl |= PollFlags::POLLOUT;
    }
    let mut fds = [PollFd::new(std::os::fd::AsFd::as_fd(s), fl)];
    match poll(&mut fds, left.as_millis().clamp(1, 1000) as u16) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(e) => Err(WorkloadError::io(format!("{name}: poll"), e.into())),
    }
}

fn one_conn(s: &mut Stream, cfg: &ClientConfig, idx: u64, deadline: Instant) -> Result<ClientResult, WorkloadError> {
    let name = conn_name(cfg, idx);
    let pat = Pattern::new(StreamId::new(&cfg.tag, cfg.first_conn + idx));
    let io = |op: &str, e: std::io::Error| WorkloadError::io(format!("{name}: {op}"), e);
    let mut r = ClientResult { first_local_port: s.local_port(), ..Default::default() };
    if cfg.nodelay {
        s.set_nodelay(true).map_err(|e| io("TCP_NODELAY", e))?;
    }
    if let ClientMode::PingPong { msg_size, rounds } = cfg.mode {
        return ping_pong(s, cfg, &pat, msg_size, rounds, deadline, &name, r);
    }
    s.set_nonblocking(true).map_err(|e| io("set non-blocking", e))?;
    let b = cfg.bytes;
    let shut_after = cfg.half_close || cfg.mode == ClientMode::Stream;
    let mut wbuf = vec![0u8; cfg.write_size.max(1).min(b.max(1) as usize)];
    let mut rbuf = vec![0u8; (64 * 1024).min(b.max(64) as usize)];
    let mut scratch = Vec::new();
    let mut sum = Checksum::new();
    let mut trailer = Vec::new();
    let (mut sent, mut recvd, mut shut) = (0u64, 0u64, false);
    loop {
        // Write until the socket is full (bounded per turn so reads keep up).
        let mut turn = 0usize;
        while sent < b && turn < 4 << 20 {
            let n = wbuf.len().min((b - sent) as usize);
            pat.fill(sent, &mut wbuf[..n]);
            match s.write(&wbuf[..n]) {
                Ok(k) => {
                    sum.update(&wbuf[..k]);
                    sent += k as u64;
                    turn += k;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io("write", e)),
            }
        }
        if sent == b && cfg.mode == ClientMode::SendClose {
            break;
        }
        if sent == b && shut_after && !shut {
            s.shutdown_write().map_err(|e| io("shutdown(SHUT_WR)", e))?;
            shut = true;
        }
        let mut eof = false;
        // Send-close reads nothing.
        while cfg.mode != ClientMode::SendClose && !eof {
            match s.read(&mut rbuf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    let data = &rbuf[..n];
                    if cfg.mode == ClientMode::Stream {
                        trailer.extend_from_slice(data);
                        if trailer.len() > 16 {
                            return Err(WorkloadError::Protocol {
                                conn: name,
                                msg: format!("server sent {} bytes, expected a 16-byte trailer", trailer.len()),
                            });
                        }
                    } else {
                        if recvd + n as u64 > b {
                            return Err(WorkloadError::Protocol {
                                conn: name,
                                msg: format!("echo longer than the {b} bytes sent ({} bytes)", recvd + n as u64),
                            });
                        }
                        if recvd + n as u64 > sent {
                            return Err(WorkloadError::Protocol {
                                conn: name,
                                msg: format!("echo of {} bytes but only {sent} sent", recvd + n as u64),
                            });
                        }
                        check(&pat, recvd, data, &mut scratch)
                            .map_err(|m| WorkloadError::Mismatch { conn: name.clone(), mismatch: m })?;
                    }
                    recvd += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io("read", e)),
            }
        }
        let done = match cfg.mode {
            ClientMode::Echo if cfg.half_close => eof,
            ClientMode::Echo => recvd == b,
            _ => eof,
        };
        if done {
            break;
        }
        if eof {
            return Err(WorkloadError::Protocol {
                conn: name,
                msg: format!("early EOF: sent {sent} of {b}, received {recvd}"),
            });
        }
        wait(s, sent < b, deadline, cfg, &name, sent, recvd)?;
    }
    match cfg.mode {
        ClientMode::Stream => {
            if trailer.len() != 16 {
                return Err(WorkloadError::Protocol {
                    conn: name,
                    msg: format!("server trailer has {} bytes, want 16", trailer.len()),
                });
            }
            let len = u64::from_le_bytes(trailer[0..8].try_into().unwrap_or([0; 8]));
            let got = u64::from_le_bytes(trailer[8..16].try_into().unwrap_or([0; 8]));
            if len != b || got != sum.finish() {
                return Err(WorkloadError::Protocol {
                    conn: name,
                    msg: format!(
                        "server received {len} bytes with checksum {got:#018x}; sent {b} with checksum {:#018x}",
                        sum.finish()
                    ),
                });
            }
        }
        ClientMode::SendClose => {}
        _ if recvd != b => {
            return Err(WorkloadError::Protocol { conn: name, msg: format!("echo has {recvd} bytes, sent {b}") });
        }
        _ => {}
    }
    r.conns = 1;
    r.bytes_sent = sent;
    r.bytes_received = recvd;
    Ok(r)
}

#[allow(clippy::too_many_arguments)]
fn ping_pong(
    s: &mut Stream,
    cfg: &ClientConfig,
    pat: &Pattern,
    msg_size: usize,
    rounds: u64,
    deadline: Instant,
    name: &str,
    mut r: ClientResult,
) -> Result<ClientResult, WorkloadError> {
    let io = |op: &str, e: std::io::Error| {
        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            WorkloadError::Timeout(cfg.timeout, format!("{name}: {op}"))
        } else {
            WorkloadError::io(format!("{name}: {op}"), e)
        }
    };
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    s.set_read_timeout(Some(left)).map_err(|e| io("SO_RCVTIMEO", e))?;
    s.set_write_timeout(Some(left)).map_err(|e| io("SO_SNDTIMEO", e))?;
    let size = msg_size.max(1);
    let mut msg = vec![0u8; size];
    let mut back = vec![0u8; size];
    let mut scratch = Vec::new();
    let mut off = 0u64;
    r.rtts.reserve(rounds as usize);
    for _ in 0..rounds {
        pat.fill(off, &mut msg);
        let t = Instant::now();
        s.write_all(&msg).map_err(|e| io("write", e))?;
        super::net::read_exact_retrying(s, &mut back, deadline, &mut r.spurious_eagain).map_err(|e| io("read", e))?;
        r.rtts.push(t.elapsed());
        check(pat, off, &back, &mut scratch)
            .map_err(|m| WorkloadError::Mismatch { conn: name.to_string(), mismatch: m })?;
        off += size as u64;
        if Instant::now() >= deadline {
            return Err(WorkloadError::Timeout(cfg.timeout, format!("{name}: after {} rounds", r.rtts.len())));
        }
    }
    s.shutdown_write().map_err(|e| io("shutdown(SHUT_WR)", e))?;
    let mut one = [0u8; 1];
    match super::net::read_retrying(s, &mut one, deadline, &mut r.spurious_eagain) {
        Ok(0) => {}
        Ok(_) => {
            return Err(WorkloadError::Protocol { conn: name.to_string(), msg: "bytes after the last echo".into() });
        }
        Err(e) => return Err(io("read EOF", e)),
    }
    r.conns = 1;
    r.bytes_sent = off;
    r.bytes_received = off;
    Ok(r)
}
