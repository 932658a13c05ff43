//! The server side: accept N connections, echo or sink each until EOF.
//!
//! Every received byte goes through a [`StreamChecker`], so the server detects
//! foreign or corrupted bytes on its own (the stream header says whose they
//! should be). In sink mode it answers EOF with a 16-byte trailer
//! `[received length u64 LE, TRAILER_OK u64 LE]` and closes; in echo mode it
//! writes everything back (also after the client half-closed) and closes
//! once all is written; with a message size it echoes whole messages only
//! (request/response, each one a transaction).
//!
//! CPU time is counted from `warmup` after the last accept to the end (the
//! measured window of a `sockasm bench` cell), and the connection threads
//! note the CPUs they ran on.

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::str::FromStr;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};

use super::net::{Listener, Stream, set_blocking_until, write_all_retrying};
use super::pattern::{StreamChecker, StreamId};
use super::probe::{Window, cpu_time_us, note_cpu, placement};
use super::report::ServeReport;
use super::{TRAILER_OK, TrafficError, mb_per_s};

/// How the server reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReaderKind {
    /// A thread per connection doing blocking reads.
    Blocking,
    /// One thread, non-blocking sockets, epoll level-triggered, one read per wakeup.
    EpollLt,
    /// One thread, epoll edge-triggered, reading until EAGAIN.
    EpollEt,
    /// Level-triggered epoll, each read sized by ioctl(FIONREAD) like nginx;
    /// when FIONREAD says 0 after a wakeup it reads anyway (EOF, or bytes
    /// FIONREAD did not count).
    Fionread,
}

impl ReaderKind {
    pub const ALL: [ReaderKind; 4] =
        [ReaderKind::Blocking, ReaderKind::EpollLt, ReaderKind::EpollEt, ReaderKind::Fionread];
    pub fn name(self) -> &'static str {
        match self {
            ReaderKind::Blocking => "blocking",
            ReaderKind::EpollLt => "epoll-lt",
            ReaderKind::EpollEt => "epoll-et",
            ReaderKind::Fionread => "fionread",
        }
    }
}

impl FromStr for ReaderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ReaderKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown reader {s:?} (blocking, epoll-lt, epoll-et, fionread)"))
    }
}

/// What the server does with the bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ServeMode {
    /// Write back what arrives (whole messages of `msg_size`, if set).
    Echo,
    /// Check and count, answer EOF with `[len, TRAILER_OK]`.
    Sink,
    /// Check and count, close at EOF without answering (for clients that
    /// close right after writing).
    Drain,
}

impl ServeMode {
    pub fn name(self) -> &'static str {
        match self {
            ServeMode::Echo => "echo",
            ServeMode::Sink => "sink",
            ServeMode::Drain => "drain",
        }
    }
}

impl FromStr for ServeMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "echo" => Ok(ServeMode::Echo),
            "sink" => Ok(ServeMode::Sink),
            "drain" => Ok(ServeMode::Drain),
            _ => Err(format!("unknown mode {s:?} (echo, sink, drain)")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Connections to accept before finishing.
    pub conns: u64,
    pub reader: ReaderKind,
    pub mode: ServeMode,
    /// Reject streams whose header carries another tag.
    pub expect_tag: Option<u32>,
    /// Keep each finished connection open this long before closing it.
    pub hold: Duration,
    /// Give up (error) after this long.
    pub timeout: Duration,
    /// Read buffer size.
    pub buf_size: usize,
    /// Echo: answer whole messages of this size (request/response).
    pub msg_size: Option<usize>,
    /// CPU time counts from this long after the last accept.
    pub warmup: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            conns: 1,
            reader: ReaderKind::Blocking,
            mode: ServeMode::Echo,
            expect_tag: None,
            hold: Duration::ZERO,
            timeout: Duration::from_secs(60),
            buf_size: 64 * 1024,
            msg_size: None,
            warmup: Duration::ZERO,
        }
    }
}

/// What a server saw.
#[derive(Clone, Debug, Default)]
pub struct ServerResult {
    pub reader: Option<ReaderKind>,
    pub mode: Option<ServeMode>,
    pub conns: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Distinct stream ids (tag, connection index) seen in headers.
    pub distinct_streams: u64,
    /// From the first accept to the last close.
    pub elapsed: Duration,
    pub reads: u64,
    pub fionread_calls: u64,
    /// FIONREAD said 0 and the read then returned data anyway.
    pub fionread_zero_data: u64,
    /// FIONREAD said 0 and the read returned EOF.
    pub fionread_zero_eof: u64,
    /// FIONREAD said 0 and the read would block.
    pub fionread_zero_eagain: u64,
    /// EAGAIN returned by a blocking read before its timeout (see `net::read_retrying`).
    pub spurious_eagain: u64,
    /// Whole messages echoed (with a message size).
    pub transactions: u64,
    /// CPU time (user + system, all threads) from the end of the warm-up to
    /// the last connection's end.
    pub cpu_us: u64,
}

impl ServerResult {
    /// The line the worker prints.
    pub fn report(&self) -> ServeReport {
        ServeReport {
            ok: true,
            role: "serve".into(),
            reader: self.reader.map(|r| r.name().to_string()),
            mode: self.mode.map(|m| m.name().to_string()),
            conns: self.conns,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            distinct_streams: self.distinct_streams,
            elapsed_us: self.elapsed.as_micros() as u64,
            mb_per_s_in: mb_per_s(self.bytes_in, self.elapsed),
            reads: self.reads,
            fionread_calls: self.fionread_calls,
            fionread_zero_data: self.fionread_zero_data,
            fionread_zero_eof: self.fionread_zero_eof,
            fionread_zero_eagain: self.fionread_zero_eagain,
            spurious_eagain: self.spurious_eagain,
            transactions: self.transactions,
            cpu_us: self.cpu_us,
            placement: placement(),
        }
    }
}

/// Per-connection accounting shared by all read loops.
struct Core {
    accept_no: u64,
    mode: ServeMode,
    msg_size: Option<usize>,
    checker: StreamChecker,
    /// The start of a message not yet complete (echo with a message size).
    partial: Vec<u8>,
    bytes_in: u64,
    bytes_out: u64,
    reads: u64,
    spurious_eagain: u64,
    transactions: u64,
}

impl Core {
    fn new(accept_no: u64, cfg: &ServeConfig) -> Core {
        Core {
            accept_no,
            mode: cfg.mode,
            msg_size: cfg.msg_size.map(|m| m.max(1)),
            checker: StreamChecker::new(cfg.expect_tag),
            partial: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
            reads: 0,
            spurious_eagain: 0,
            transactions: 0,
        }
    }
    fn name(&self) -> String {
        match self.checker.stream() {
            Some(id) => format!("#{} (stream tag {:#010x} conn {})", self.accept_no, id.tag, id.conn),
            None => format!("#{}", self.accept_no),
        }
    }
    fn on_data(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), TrafficError> {
        self.reads += 1;
        self.bytes_in += data.len() as u64;
        if let Err(m) = self.checker.feed(data) {
            return Err(TrafficError::Mismatch { conn: format!("server {}", self.name()), mismatch: m });
        }
        if self.mode != ServeMode::Echo {
            return Ok(());
        }
        let Some(m) = self.msg_size else {
            out.extend_from_slice(data);
            return Ok(());
        };
        // Whole messages only; without a partial one, straight from `data`.
        let mut data = data;
        if !self.partial.is_empty() {
            let n = (m - self.partial.len()).min(data.len());
            self.partial.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.partial.len() < m {
                return Ok(());
            }
            out.append(&mut self.partial);
            self.transactions += 1;
        }
        let whole = data.len() / m * m;
        out.extend_from_slice(&data[..whole]);
        self.transactions += (whole / m) as u64;
        self.partial.extend_from_slice(&data[whole..]);
        Ok(())
    }
    fn on_eof(&mut self, out: &mut Vec<u8>) -> Result<(), TrafficError> {
        if let (Some(m), false) = (self.msg_size, self.partial.is_empty()) {
            return Err(TrafficError::Protocol {
                conn: format!("server {}", self.name()),
                msg: format!("EOF after {} bytes of a {m}-byte request", self.partial.len()),
            });
        }
        if self.mode == ServeMode::Sink {
            out.extend_from_slice(&self.bytes_in.to_le_bytes());
            out.extend_from_slice(&TRAILER_OK.to_le_bytes());
        }
        Ok(())
    }
    fn add_to(&self, r: &mut ServerResult, streams: &mut HashSet<(u32, u64)>) {
        r.conns += 1;
        r.bytes_in += self.bytes_in;
        r.bytes_out += self.bytes_out;
        r.reads += self.reads;
        r.spurious_eagain += self.spurious_eagain;
        r.transactions += self.transactions;
        if let Some(StreamId { tag, conn }) = self.checker.stream() {
            streams.insert((tag, conn));
        }
    }
}

/// Serves `cfg.conns` connections on `listener`, then returns.
pub fn serve(listener: &Listener, cfg: &ServeConfig) -> Result<ServerResult, TrafficError> {
    let win = Arc::new(Window::default());
    let mut r = match cfg.reader {
        ReaderKind::Blocking => serve_blocking(listener, cfg, &win)?,
        _ => serve_epoll(listener, cfg, &win)?,
    };
    r.reader = Some(cfg.reader);
    r.mode = Some(cfg.mode);
    Ok(r)
}

fn timeout_err(cfg: &ServeConfig, what: String) -> TrafficError {
    TrafficError::Timeout(cfg.timeout, what)
}

fn serve_blocking(listener: &Listener, cfg: &ServeConfig, win: &Arc<Window>) -> Result<ServerResult, TrafficError> {
    let deadline = Instant::now() + cfg.timeout;
    listener.set_nonblocking(true).map_err(|e| TrafficError::io("set listener non-blocking", e))?;
    let (tx, rx) = mpsc::channel::<Result<Core, TrafficError>>();
    let mut handles = Vec::new();
    let mut accepted = 0u64;
    let mut start = None;
    while accepted < cfg.conns {
        match listener.accept() {
            Ok(s) => {
                start.get_or_insert_with(Instant::now);
                let core = Core::new(accepted, cfg);
                accepted += 1;
                let (tx, cfg, win) = (tx.clone(), cfg.clone(), win.clone());
                let h = std::thread::Builder::new()
                    .name(super::CONN_THREAD.into())
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        let r = blocking_conn(s, core, &cfg, &win, deadline);
                        note_cpu();
                        let _ = tx.send(r);
                    })
                    .map_err(|e| TrafficError::io("spawn connection thread", e))?;
                handles.push(h);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(timeout_err(cfg, format!("accepted {accepted} of {} connections", cfg.conns)));
                }
                let mut fds =
                    [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(listener), nix::poll::PollFlags::POLLIN)];
                let _ = nix::poll::poll(&mut fds, 100u16);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(TrafficError::io("accept", e)),
        }
    }
    drop(tx);
    // Fallback if no connection saw the warm-up end: CPU from the last accept.
    let cpu_at_accept = cpu_time_us();
    let _ = win.start.set(Instant::now());
    let mut r = ServerResult::default();
    let mut streams = HashSet::new();
    let mut errors = Vec::new();
    for res in rx.iter() {
        match res {
            Ok(core) => core.add_to(&mut r, &mut streams),
            Err(e) => errors.push(e),
        }
    }
    for h in handles {
        let _ = h.join();
    }
    r.elapsed = start.map(|s| s.elapsed()).unwrap_or_default();
    r.distinct_streams = streams.len() as u64;
    r.cpu_us = win.cpu_used(cpu_at_accept);
    match TrafficError::first_of(errors) {
        Some(e) => Err(e),
        None => Ok(r),
    }
}

fn blocking_conn(
    mut s: Stream,
    mut core: Core,
    cfg: &ServeConfig,
    win: &Window,
    deadline: Instant,
) -> Result<Core, TrafficError> {
    let io = |op: &str, e: std::io::Error, core: &Core| {
        TrafficError::conn_io(&format!("server {}", core.name()), op, e, cfg.timeout)
    };
    set_blocking_until(&s, deadline).map_err(|e| io("set blocking with timeouts", e, &core))?;
    if cfg.msg_size.is_some() {
        // Request/response: answer each message at once.
        s.set_nodelay(true).map_err(|e| io("TCP_NODELAY", e, &core))?;
    }
    let mut buf = vec![0u8; cfg.buf_size];
    let mut out = Vec::with_capacity(cfg.buf_size);
    loop {
        let n = match super::net::read_retrying(&mut s, &mut buf, deadline, &mut core.spurious_eagain) {
            Ok(n) => n,
            Err(e) => return Err(io("read", e, &core)),
        };
        out.clear();
        if n == 0 {
            core.on_eof(&mut out)?;
        } else {
            core.on_data(&buf[..n], &mut out)?;
        }
        if !out.is_empty() {
            write_all_retrying(&mut s, &out, deadline).map_err(|e| io("write", e, &core))?;
            core.bytes_out += out.len() as u64;
        }
        win.poll(cfg.warmup);
        if n == 0 {
            break;
        }
    }
    if !cfg.hold.is_zero() {
        std::thread::sleep(cfg.hold);
    }
    Ok(core)
}

const LISTENER: u64 = u64::MAX;
/// Stop reading a connection while this much echo is waiting to be written.
const OUT_LIMIT: usize = 4 << 20;
const MAX_FIONREAD_READ: usize = 4 << 20;

struct EConn {
    s: Stream,
    core: Core,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
    /// Reading stopped because too much echo is pending.
    paused: bool,
    interest: EpollFlags,
    done_at: Option<Instant>,
}

impl EConn {
    fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    fn flush(&mut self) -> Result<(), TrafficError> {
        while self.out_pos < self.out.len() {
            match self.s.write(&self.out[self.out_pos..]) {
                Ok(n) => {
                    self.out_pos += n;
                    self.core.bytes_out += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(TrafficError::io(format!("server {} write", self.core.name()), e)),
            }
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        } else if self.out_pos > self.out.len() / 2 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        Ok(())
    }

    fn read_ready(&mut self, kind: ReaderKind, buf: &mut Vec<u8>, r: &mut ServerResult) -> Result<(), TrafficError> {
        let et = kind == ReaderKind::EpollEt;
        while !self.eof {
            if self.pending() >= OUT_LIMIT {
                self.flush()?;
                if self.pending() >= OUT_LIMIT {
                    self.paused = true;
                    break;
                }
            }
            self.paused = false;
            let mut zero = false;
            let size = if kind == ReaderKind::Fionread {
                r.fionread_calls += 1;
                let n = crate::syscall::ioctl::fionread(std::os::fd::AsFd::as_fd(&self.s))
                    .map_err(|e| TrafficError::io(format!("server {} ioctl(FIONREAD)", self.core.name()), e))?;
                if n == 0 {
                    zero = true;
                    buf.len()
                } else {
                    n.min(MAX_FIONREAD_READ)
                }
            } else {
                buf.len()
            };
            if buf.len() < size {
                buf.resize(size, 0);
            }
            match self.s.read(&mut buf[..size]) {
                Ok(0) => {
                    if zero {
                        r.fionread_zero_eof += 1;
                    }
                    self.eof = true;
                    self.core.on_eof(&mut self.out)?;
                }
                Ok(n) => {
                    if zero {
                        r.fionread_zero_data += 1;
                    }
                    self.core.on_data(&buf[..n], &mut self.out)?;
                    if !et {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if zero {
                        r.fionread_zero_eagain += 1;
                    }
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(TrafficError::io(format!("server {} read", self.core.name()), e)),
            }
        }
        self.flush()
    }

    /// Level-triggered interest: read unless paused or at EOF, write while
    /// echo is pending.
    fn lt_interest(&self) -> EpollFlags {
        let mut f = EpollFlags::empty();
        if !self.eof && !self.paused {
            f |= EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP;
        }
        if self.pending() > 0 {
            f |= EpollFlags::EPOLLOUT;
        }
        f
    }
}

fn serve_epoll(listener: &Listener, cfg: &ServeConfig, win: &Window) -> Result<ServerResult, TrafficError> {
    let kind = cfg.reader;
    let et = kind == ReaderKind::EpollEt;
    let deadline = Instant::now() + cfg.timeout;
    let sys = |op: &'static str| move |e: nix::errno::Errno| TrafficError::io(op, e.into());
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(sys("epoll_create1"))?;
    listener.set_nonblocking(true).map_err(|e| TrafficError::io("set listener non-blocking", e))?;
    epoll.add(listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER)).map_err(sys("epoll_ctl ADD listener"))?;
    let mut conns: Vec<Option<EConn>> = Vec::new();
    let mut accepted = 0u64;
    let mut finished = 0u64;
    let mut start = None;
    let mut r = ServerResult::default();
    let mut streams = HashSet::new();
    let mut buf = vec![0u8; cfg.buf_size];
    let mut events = vec![EpollEvent::empty(); 256];
    let mut holding: Vec<usize> = Vec::new();
    let mut cpu_at_accept = 0;
    while finished < cfg.conns {
        let now = Instant::now();
        if now >= deadline {
            return Err(timeout_err(
                cfg,
                format!("accepted {accepted}, finished {finished} of {} connections", cfg.conns),
            ));
        }
        // Close held connections that are due.
        holding.retain(|&i| {
            let due = conns[i].as_ref().and_then(|c| c.done_at).is_none_or(|t| t <= now);
            if due && let Some(c) = conns[i].take() {
                c.core.add_to(&mut r, &mut streams);
                finished += 1;
            }
            !due
        });
        if finished >= cfg.conns {
            break;
        }
        let mut wait = deadline - now;
        for &i in &holding {
            if let Some(t) = conns[i].as_ref().and_then(|c| c.done_at) {
                wait = wait.min(t.saturating_duration_since(now));
            }
        }
        let ms = wait.as_millis().clamp(1, 1000) as u16;
        let n = match epoll.wait(&mut events, ms) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(TrafficError::io("epoll_wait", e.into())),
        };
        for ev in &events[..n] {
            let token = ev.data();
            if token == LISTENER {
                while accepted < cfg.conns {
                    match listener.accept() {
                        Ok(s) => {
                            start.get_or_insert_with(Instant::now);
                            s.set_nonblocking(true).map_err(|e| TrafficError::io("set non-blocking", e))?;
                            let interest = if et {
                                EpollFlags::EPOLLIN
                                    | EpollFlags::EPOLLOUT
                                    | EpollFlags::EPOLLRDHUP
                                    | EpollFlags::EPOLLET
                            } else {
                                EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP
                            };
                            let idx = conns.len();
                            epoll.add(&s, EpollEvent::new(interest, idx as u64)).map_err(sys("epoll_ctl ADD"))?;
                            conns.push(Some(EConn {
                                s,
                                core: Core::new(accepted, cfg),
                                out: Vec::new(),
                                out_pos: 0,
                                eof: false,
                                paused: false,
                                interest,
                                done_at: None,
                            }));
                            accepted += 1;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(TrafficError::io("accept", e)),
                    }
                }
                if accepted >= cfg.conns {
                    let _ = epoll.delete(listener);
                    let _ = win.start.set(Instant::now());
                    cpu_at_accept = cpu_time_us();
                }
                continue;
            }
            let idx = token as usize;
            let Some(c) = conns.get_mut(idx).and_then(|c| c.as_mut()) else { continue };
            if c.done_at.is_some() {
                continue;
            }
            let fl = ev.events();
            if fl.intersects(EpollFlags::EPOLLOUT | EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP) {
                c.flush()?;
            }
            let resume = c.paused && c.pending() < OUT_LIMIT;
            if resume && !et {
                // Level-triggered: interest in EPOLLIN comes back below.
                c.paused = false;
            }
            if fl.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR)
                || (et && resume)
            {
                c.read_ready(kind, &mut buf, &mut r)?;
                win.poll(cfg.warmup);
            }
            if c.eof && c.pending() == 0 {
                let _ = epoll.delete(&c.s);
                if cfg.hold.is_zero() {
                    if let Some(c) = conns[idx].take() {
                        c.core.add_to(&mut r, &mut streams);
                    }
                    finished += 1;
                } else {
                    c.done_at = Some(Instant::now() + cfg.hold);
                    holding.push(idx);
                }
                continue;
            }
            if !et {
                let want = c.lt_interest();
                if want != c.interest {
                    c.interest = want;
                    epoll.modify(&c.s, &mut EpollEvent::new(want, idx as u64)).map_err(sys("epoll_ctl MOD"))?;
                }
            }
        }
    }
    note_cpu();
    r.elapsed = start.map(|s| s.elapsed()).unwrap_or_default();
    r.distinct_streams = streams.len() as u64;
    r.cpu_us = win.cpu_used(cpu_at_accept);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::pattern::Pattern;

    #[test]
    fn echo_answers_whole_messages_and_sink_confirms_the_length() {
        let mut data = vec![0u8; 1000];
        Pattern::new(StreamId::new("m", 0)).fill(0, &mut data);
        let framed = ServeConfig { msg_size: Some(100), ..ServeConfig::default() };
        for split in [1, 7, 99, 100, 101, 333, 1000] {
            let mut core = Core::new(0, &framed);
            let mut out = Vec::new();
            for chunk in data.chunks(split) {
                core.on_data(chunk, &mut out).unwrap();
                assert_eq!(out.len() % 100, 0, "split {split}: only whole messages");
                assert_eq!(out.len() as u64, core.bytes_in / 100 * 100, "split {split}: every whole message");
            }
            core.on_eof(&mut out).unwrap();
            assert_eq!((out, core.transactions), (data.clone(), 10), "split {split}");
        }
        let mut core = Core::new(0, &framed);
        core.on_data(&data[..150], &mut Vec::new()).unwrap();
        let e = core.on_eof(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("EOF after 50 bytes of a 100-byte request"), "{e}");

        let mut sink = Core::new(0, &ServeConfig { mode: ServeMode::Sink, ..ServeConfig::default() });
        let mut out = Vec::new();
        sink.on_data(&data, &mut out).unwrap();
        assert!(out.is_empty());
        sink.on_eof(&mut out).unwrap();
        assert_eq!(out, [1000u64.to_le_bytes(), TRAILER_OK.to_le_bytes()].concat());
        // A foreign byte is caught by the checker.
        let mut bad = data.clone();
        bad[500] ^= 1;
        assert!(Core::new(0, &framed).on_data(&bad, &mut Vec::new()).unwrap_err().is_data_error());
    }
}
