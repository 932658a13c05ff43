//! The client side: N connections, C at a time, each checked end to end.
//! A run is bounded by bytes (echo, stream, send-close) or rounds
//! (ping-pong), or, with a measured window, by time: the connections warm up,
//! then measure for the window, then end cleanly (what `sockasm bench` does).

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, poll};

use super::net::{
    Endpoint, Stream, connect, read_exact_retrying, read_retrying, set_blocking_until, write_all_retrying,
};
use super::pattern::{HEADER_LEN, Pattern, StreamId, check};
use super::probe::{Window, cpu_time_us, note_cpu, percentile, placement};
use super::report::ClientReport;
use super::{CONN_THREAD, TRAILER_OK, TrafficError, mb_per_s};

/// What each connection does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientMode {
    /// Send the bytes, read the echo back and compare byte for byte.
    Echo,
    /// Send the bytes in writes of `write_size`, half-close, and check the
    /// server's `[len, TRAILER_OK]` answer (server in sink mode).
    Stream,
    /// Request/response exchanges of `msg_size` bytes each (server in echo
    /// mode), timing each round trip.
    PingPong,
    /// Send the bytes and close at once, reading nothing (server in drain
    /// mode checks what arrived): bytes still queued at close must not be lost.
    SendClose,
}

impl ClientMode {
    pub const ALL: [ClientMode; 4] =
        [ClientMode::Echo, ClientMode::Stream, ClientMode::PingPong, ClientMode::SendClose];
    pub fn name(self) -> &'static str {
        match self {
            ClientMode::Echo => "echo",
            ClientMode::Stream => "stream",
            ClientMode::PingPong => "pingpong",
            ClientMode::SendClose => "send-close",
        }
    }
}

impl FromStr for ClientMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ClientMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown mode {s:?} (echo, stream, pingpong, send-close)"))
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
    /// Bytes each connection sends (header included); at least 16 in stream
    /// and send-close mode so the server can check the stream.
    pub bytes: u64,
    pub write_size: usize,
    /// Echo mode: `shutdown(SHUT_WR)` after sending, then read the echo to EOF
    /// (otherwise read exactly `bytes` back and close).
    pub half_close: bool,
    pub mode: ClientMode,
    /// Ping-pong message size.
    pub msg_size: usize,
    /// Ping-pong rounds per connection.
    pub rounds: u64,
    /// Ping-pong and stream: measure after this warm-up...
    pub warmup: Duration,
    /// ...for this long, instead of a number of rounds or bytes.
    pub measure: Option<Duration>,
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
            msg_size: 64,
            rounds: 1000,
            warmup: Duration::ZERO,
            measure: None,
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
    /// Ping-pong round trips in the measured window, in ns, sorted.
    pub rtts_ns: Vec<u64>,
    /// Ping-pong: round trips per second, summed over connections.
    pub tps: f64,
    /// Stream: Gbit/s (10^9 bits) in the measured window, summed over
    /// connections, up to the moment the reader confirmed every byte.
    pub gbps: f64,
    /// Stream: bytes sent in the measured window.
    pub measured_bytes: u64,
    /// EAGAIN returned by a blocking read before its timeout (see `net::read_retrying`).
    pub spurious_eagain: u64,
    /// CPU time (user + system, all threads) from the start of the measured
    /// window to the end of the last connection.
    pub cpu_us: u64,
}

impl ClientResult {
    fn add(&mut self, c: &mut ClientResult) {
        self.conns += c.conns;
        self.bytes_sent += c.bytes_sent;
        self.bytes_received += c.bytes_received;
        self.tps += c.tps;
        self.gbps += c.gbps;
        self.measured_bytes += c.measured_bytes;
        self.spurious_eagain += c.spurious_eagain;
        self.rtts_ns.append(&mut c.rtts_ns);
    }

    /// The line the worker prints.
    pub fn report(&self) -> ClientReport {
        let us = |q: f64| percentile(&self.rtts_ns, q) as f64 / 1000.0;
        ClientReport {
            ok: true,
            role: "client".into(),
            mode: self.mode.map(|m| m.name().to_string()),
            conns: self.conns,
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            elapsed_us: self.elapsed.as_micros() as u64,
            mb_per_s: mb_per_s(self.bytes_sent, self.elapsed),
            connect_us_avg: (self.connect_total.as_micros() as u64).checked_div(self.conns),
            peak_open: self.peak_open,
            first_local_port: self.first_local_port,
            transactions: self.rtts_ns.len() as u64,
            tps: self.tps,
            p50_us: us(0.5),
            p99_us: us(0.99),
            max_us: us(1.0),
            gbps: self.gbps,
            measured_bytes: self.measured_bytes,
            spurious_eagain: self.spurious_eagain,
            cpu_us: self.cpu_us,
            placement: placement(),
        }
    }
}

struct Shared {
    next: AtomicU64,
    open: AtomicU64,
    peak: AtomicU64,
    stop: AtomicBool,
    win: Window,
    totals: Mutex<ClientResult>,
    errors: Mutex<Vec<TrafficError>>,
}

/// Runs all connections; the first data error (or any error) fails the run.
pub fn run_client(cfg: &ClientConfig) -> Result<ClientResult, TrafficError> {
    let needs_header = matches!(cfg.mode, ClientMode::Stream | ClientMode::SendClose) && cfg.measure.is_none();
    if needs_header && cfg.bytes < HEADER_LEN as u64 {
        return Err(TrafficError::Protocol {
            conn: "-".into(),
            msg: format!("--bytes must be at least {HEADER_LEN} in {} mode", cfg.mode.name()),
        });
    }
    let threads = cfg.concurrent.clamp(1, cfg.conns.max(1));
    let deadline = Instant::now() + cfg.timeout;
    let cpu_at_start = cpu_time_us();
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        open: AtomicU64::new(0),
        peak: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        win: Window::default(),
        totals: Mutex::new(ClientResult { mode: Some(cfg.mode), ..Default::default() }),
        errors: Mutex::new(Vec::new()),
    });
    let barrier = Arc::new(Barrier::new(threads as usize));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (shared, barrier, cfg) = (shared.clone(), barrier.clone(), cfg.clone());
        let h = std::thread::Builder::new()
            .name(CONN_THREAD.into())
            .stack_size(256 * 1024)
            .spawn(move || worker_thread(&cfg, &shared, &barrier, deadline))
            .map_err(|e| TrafficError::io("spawn client thread", e))?;
        handles.push(h);
    }
    for h in handles {
        let _ = h.join();
    }
    let errors = std::mem::take(&mut *shared.errors.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(e) = TrafficError::first_of(errors) {
        return Err(e);
    }
    let mut r = std::mem::take(&mut *shared.totals.lock().unwrap_or_else(|e| e.into_inner()));
    r.elapsed = start.elapsed();
    r.peak_open = shared.peak.load(Ordering::Relaxed);
    r.cpu_us = shared.win.cpu_used(cpu_at_start);
    r.rtts_ns.sort_unstable();
    Ok(r)
}

fn worker_thread(cfg: &ClientConfig, sh: &Shared, barrier: &Barrier, deadline: Instant) {
    let mut first = true;
    loop {
        let i = sh.next.fetch_add(1, Ordering::Relaxed);
        if sh.stop.load(Ordering::Relaxed) || i >= cfg.conns {
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
        // The window starts when every thread's first connection is open.
        let t0 = *sh.win.start.get_or_init(Instant::now);
        let res = conn.and_then(|mut s| {
            let r = one_conn(&mut s, cfg, i, &sh.win, t0, deadline);
            drop(s);
            sh.open.fetch_sub(1, Ordering::Relaxed);
            r
        });
        note_cpu();
        match res {
            Ok(mut c) => {
                let mut t = sh.totals.lock().unwrap_or_else(|e| e.into_inner());
                t.add(&mut c);
                t.connect_total += connect_time;
                if i == 0 {
                    t.first_local_port = c.first_local_port;
                }
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
) -> Result<(), TrafficError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(TrafficError::Timeout(cfg.timeout, format!("{name}: sent {sent}, received {recvd}")));
    }
    let mut fl = PollFlags::POLLIN;
    if want_write {
        fl |= PollFlags::POLLOUT;
    }
    let mut fds = [PollFd::new(std::os::fd::AsFd::as_fd(s), fl)];
    match poll(&mut fds, left.as_millis().clamp(1, 1000) as u16) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(e) => Err(TrafficError::io(format!("{name}: poll"), e.into())),
    }
}

/// One connection, its stream id `first_conn + idx`; `t0` is when the
/// warm-up started.
fn one_conn(
    s: &mut Stream,
    cfg: &ClientConfig,
    idx: u64,
    win: &Window,
    t0: Instant,
    deadline: Instant,
) -> Result<ClientResult, TrafficError> {
    let name = conn_name(cfg, idx);
    let pat = Pattern::new(StreamId::new(&cfg.tag, cfg.first_conn + idx));
    let mut r = ClientResult { conns: 1, first_local_port: s.local_port(), ..Default::default() };
    let timed =
        Timed { win, warmup: cfg.warmup, warm_end: t0 + cfg.warmup, end: cfg.measure.map(|m| t0 + cfg.warmup + m) };
    match cfg.mode {
        ClientMode::PingPong => ping_pong(s, cfg, &pat, &timed, deadline, &name, r),
        ClientMode::Stream => stream(s, cfg, &pat, &timed, deadline, &name, r),
        ClientMode::Echo | ClientMode::SendClose => {
            let io = |op: &str, e: std::io::Error| TrafficError::io(format!("{name}: {op}"), e);
            if cfg.nodelay {
                s.set_nodelay(true).map_err(|e| io("TCP_NODELAY", e))?;
            }
            echo(s, cfg, &pat, deadline, &name, &mut r)?;
            Ok(r)
        }
    }
}

/// The measured window of a connection: after the warm-up, until `end`
/// (without an end, until the rounds or bytes are done).
struct Timed<'a> {
    win: &'a Window,
    warmup: Duration,
    warm_end: Instant,
    end: Option<Instant>,
}

/// Echo and send-close: non-blocking, writing and reading as each can go.
fn echo(
    s: &mut Stream,
    cfg: &ClientConfig,
    pat: &Pattern,
    deadline: Instant,
    name: &str,
    r: &mut ClientResult,
) -> Result<(), TrafficError> {
    let name = name.to_string();
    let io = |op: &str, e: std::io::Error| TrafficError::io(format!("{name}: {op}"), e);
    s.set_nonblocking(true).map_err(|e| io("set non-blocking", e))?;
    let b = cfg.bytes;
    let shut_after = cfg.half_close;
    let mut wbuf = vec![0u8; cfg.write_size.max(1).min(b.max(1) as usize)];
    let mut rbuf = vec![0u8; (64 * 1024).min(b.max(64) as usize)];
    let mut scratch = Vec::new();
    let (mut sent, mut recvd, mut shut) = (0u64, 0u64, false);
    loop {
        // Write until the socket is full (bounded per turn so reads keep up).
        let mut turn = 0usize;
        while sent < b && turn < 4 << 20 {
            let n = wbuf.len().min((b - sent) as usize);
            pat.fill(sent, &mut wbuf[..n]);
            match s.write(&wbuf[..n]) {
                Ok(k) => {
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
                    if recvd + n as u64 > b {
                        return Err(TrafficError::Protocol {
                            conn: name,
                            msg: format!("echo longer than the {b} bytes sent ({} bytes)", recvd + n as u64),
                        });
                    }
                    if recvd + n as u64 > sent {
                        return Err(TrafficError::Protocol {
                            conn: name,
                            msg: format!("echo of {} bytes but only {sent} sent", recvd + n as u64),
                        });
                    }
                    check(pat, recvd, data, &mut scratch)
                        .map_err(|m| TrafficError::Mismatch { conn: name.clone(), mismatch: m })?;
                    recvd += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io("read", e)),
            }
        }
        let done = if cfg.half_close { eof } else { recvd == b };
        if done {
            break;
        }
        if eof {
            return Err(TrafficError::Protocol {
                conn: name,
                msg: format!("early EOF: sent {sent} of {b}, received {recvd}"),
            });
        }
        wait(s, sent < b, deadline, cfg, &name, sent, recvd)?;
    }
    if cfg.mode == ClientMode::Echo && recvd != b {
        return Err(TrafficError::Protocol { conn: name, msg: format!("echo has {recvd} bytes, sent {b}") });
    }
    r.bytes_sent = sent;
    r.bytes_received = recvd;
    Ok(())
}

/// The timed modes use blocking I/O bounded by the deadline (socket
/// timeouts), and TCP_NODELAY when asked.
fn blocking_until(s: &mut Stream, cfg: &ClientConfig, deadline: Instant, name: &str) -> Result<(), TrafficError> {
    let err = |op: &str, e| TrafficError::conn_io(name, op, e, cfg.timeout);
    set_blocking_until(s, deadline).map_err(|e| err("set blocking with timeouts", e))?;
    if cfg.nodelay {
        s.set_nodelay(true).map_err(|e| err("TCP_NODELAY", e))?;
    }
    Ok(())
}

/// Request/response: `msg_size` bytes out, the same bytes back, next.
fn ping_pong(
    s: &mut Stream,
    cfg: &ClientConfig,
    pat: &Pattern,
    t: &Timed<'_>,
    deadline: Instant,
    name: &str,
    mut r: ClientResult,
) -> Result<ClientResult, TrafficError> {
    let err = |op: &str, e| TrafficError::conn_io(name, op, e, cfg.timeout);
    blocking_until(s, cfg, deadline, name)?;
    let size = cfg.msg_size.max(1);
    let (mut msg, mut back, mut scratch) = (vec![0u8; size], vec![0u8; size], Vec::new());
    // Without a warm-up the window starts with this connection's first round.
    let warm_end = t.warm_end.max(Instant::now());
    let (mut off, mut rounds, mut last_done) = (0u64, 0u64, warm_end);
    loop {
        let done_rounds = match t.end {
            Some(end) => last_done >= end && !r.rtts_ns.is_empty(),
            None => rounds >= cfg.rounds,
        };
        if done_rounds {
            break;
        }
        pat.fill(off, &mut msg);
        let start = Instant::now();
        if start >= warm_end && r.rtts_ns.is_empty() {
            t.win.poll(t.warmup);
        }
        write_all_retrying(s, &msg, deadline).map_err(|e| err("write", e))?;
        read_exact_retrying(s, &mut back, deadline, &mut r.spurious_eagain).map_err(|e| err("read", e))?;
        let done = Instant::now();
        check(pat, off, &back, &mut scratch)
            .map_err(|m| TrafficError::Mismatch { conn: name.to_string(), mismatch: m })?;
        off += size as u64;
        rounds += 1;
        if start >= warm_end {
            r.rtts_ns.push((done - start).as_nanos() as u64);
            last_done = done;
        }
        if done >= deadline {
            return Err(TrafficError::Timeout(cfg.timeout, format!("{name}: after {rounds} rounds")));
        }
    }
    let secs = (last_done - warm_end).as_secs_f64();
    if secs > 0.0 {
        r.tps = r.rtts_ns.len() as f64 / secs;
    }
    r.bytes_sent = off;
    r.bytes_received = off;
    s.shutdown_write().map_err(|e| err("shutdown(SHUT_WR)", e))?;
    expect_eof(s, deadline, name, &mut r, "the last echo", cfg.timeout)?;
    Ok(r)
}

/// Reads the peer's EOF; anything else is an error.
fn expect_eof(
    s: &mut Stream,
    deadline: Instant,
    name: &str,
    r: &mut ClientResult,
    after: &str,
    timeout: Duration,
) -> Result<(), TrafficError> {
    let mut one = [0u8; 1];
    match read_retrying(s, &mut one, deadline, &mut r.spurious_eagain) {
        Ok(0) => Ok(()),
        Ok(_) => Err(TrafficError::Protocol { conn: name.to_string(), msg: format!("bytes after {after}") }),
        Err(e) => Err(TrafficError::conn_io(name, "read EOF", e, timeout)),
    }
}

/// One-way writes of `write_size`, then the sink's `[len, TRAILER_OK]`.
fn stream(
    s: &mut Stream,
    cfg: &ClientConfig,
    pat: &Pattern,
    t: &Timed<'_>,
    deadline: Instant,
    name: &str,
    mut r: ClientResult,
) -> Result<ClientResult, TrafficError> {
    let err = |op: &str, e| TrafficError::conn_io(name, op, e, cfg.timeout);
    blocking_until(s, cfg, deadline, name)?;
    let mut msg = vec![0u8; cfg.write_size.max(1)];
    let mut off = 0u64;
    // (when, bytes sent then): the start of the measured window.
    let mut mark = (t.warmup.is_zero()).then(|| (Instant::now(), 0));
    loop {
        let n = match t.end {
            Some(_) => msg.len(),
            None => msg.len().min((cfg.bytes - off) as usize),
        };
        if n == 0 {
            break;
        }
        pat.fill(off, &mut msg[..n]);
        write_all_retrying(s, &msg[..n], deadline).map_err(|e| err("write", e))?;
        off += n as u64;
        let now = Instant::now();
        match (mark, t.end) {
            (None, _) if now >= t.warm_end => {
                t.win.poll(t.warmup);
                mark = Some((now, off));
            }
            (Some(_), Some(end)) if now >= end => break,
            _ => {}
        }
        if now >= deadline {
            return Err(TrafficError::Timeout(cfg.timeout, format!("{name}: {off} bytes sent")));
        }
    }
    s.shutdown_write().map_err(|e| err("shutdown(SHUT_WR)", e))?;
    let mut trailer = [0u8; 16];
    read_exact_retrying(s, &mut trailer, deadline, &mut r.spurious_eagain).map_err(|e| err("read trailer", e))?;
    let done = Instant::now();
    let len = u64::from_le_bytes(trailer[..8].try_into().unwrap_or([0; 8]));
    let ok = u64::from_le_bytes(trailer[8..].try_into().unwrap_or([0; 8]));
    if len != off || ok != TRAILER_OK {
        return Err(TrafficError::Protocol {
            conn: name.to_string(),
            msg: format!("reader confirmed {len} bytes (flag {ok:#x}), sent {off}"),
        });
    }
    let (t_mark, at) = mark.unwrap_or((t.warm_end, 0));
    r.measured_bytes = off - at;
    let secs = (done - t_mark).as_secs_f64();
    if secs > 0.0 {
        r.gbps = r.measured_bytes as f64 * 8.0 / secs / 1e9;
    }
    r.bytes_sent = off;
    expect_eof(s, deadline, name, &mut r, "the trailer", cfg.timeout)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{Listener, ServeConfig, ServeMode, serve};

    /// What `sockasm bench` runs, in one process over AF_UNIX: timed
    /// request/response and stream, every byte checked at both ends.
    #[test]
    fn timed_rr_and_stream_in_process() {
        for (mode, serve_mode, msg_size) in
            [(ClientMode::PingPong, ServeMode::Echo, Some(100)), (ClientMode::Stream, ServeMode::Sink, None)]
        {
            let path =
                std::env::temp_dir().join(format!("sockasm-traffic-ut-{}-{}.sock", std::process::id(), mode.name()));
            let ep = Endpoint::Unix(path);
            let l = Listener::bind(&ep).unwrap();
            let warmup = Duration::from_millis(5);
            let scfg = ServeConfig {
                conns: 2,
                mode: serve_mode,
                msg_size,
                warmup,
                expect_tag: Some(crate::traffic::tag_hash("t")),
                ..ServeConfig::default()
            };
            let srv = std::thread::spawn(move || serve(&l, &scfg));
            let cfg = ClientConfig {
                connect: ep,
                conns: 2,
                concurrent: 2,
                mode,
                msg_size: 100,
                write_size: 100,
                warmup,
                measure: Some(Duration::from_millis(30)),
                tag: "t".into(),
                timeout: Duration::from_secs(20),
                ..ClientConfig::default()
            };
            let c = run_client(&cfg).unwrap();
            let s = srv.join().unwrap().unwrap();
            assert_eq!((s.conns, c.conns), (2, 2));
            assert_eq!(s.bytes_in, c.bytes_sent);
            // Both did some work in the window (getrusage counts in µs).
            assert!(c.cpu_us > 0 && s.cpu_us > 0, "{c:?} {s:?}");
            if mode == ClientMode::PingPong {
                assert!(!c.rtts_ns.is_empty() && c.tps > 0.0, "{c:?}");
                assert_eq!(s.transactions as usize, c.bytes_sent as usize / 100);
                assert_eq!(c.bytes_received, c.bytes_sent);
            } else {
                assert!(c.gbps > 0.0 && c.measured_bytes > 0, "{c:?}");
            }
        }
    }
}
