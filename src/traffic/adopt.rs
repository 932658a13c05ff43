//! A connection opened before `sockasm load`, for the adoption tests: both
//! ends in this process, bytes exchanged over TCP first, then a reader in
//! the state the test names while `load` runs (the process waits for the
//! go file), then `bytes` each way, every byte checked in order.
//!
//! - `idle`: nobody reads during `load` (the process waits in nanosleep);
//!   afterwards both directions are pumped without blocking.
//! - `plain`, `waitall`, `lowat`: a thread is blocked in `recv()` on the
//!   accepting end during `load` (plain, `MSG_WAITALL` for all the bytes,
//!   or with `SO_RCVLOWAT`); afterwards the connecting end writes the bytes.
//!   `SO_RCVTIMEO` bounds the reader: a hang is an error, never a stuck test.
//! - `busy`: a writer thread streams into the accepting end and a reader
//!   thread reads it all the time, from before `load` until after it.
//!
//! With `listen_netns`, the listener (and so the accepting end) lives in
//! another network namespace, entered by a thread that stays there, parked,
//! until the end (so the process has a thread in each namespace).

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use super::TrafficError;
use super::pattern::{Pattern, StreamId, check};
use super::report::{Ready, line};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    Idle,
    Plain,
    WaitAll,
    LowAt,
    Busy,
}

impl std::str::FromStr for Reader {
    type Err = String;
    fn from_str(s: &str) -> Result<Reader, String> {
        Ok(match s {
            "idle" => Reader::Idle,
            "plain" => Reader::Plain,
            "waitall" => Reader::WaitAll,
            "lowat" => Reader::LowAt,
            "busy" => Reader::Busy,
            _ => return Err(format!("unknown reader `{s}` (idle, plain, waitall, lowat, busy)")),
        })
    }
}

/// What the `adopt` worker prints at the end: the bytes checked each way.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdoptRun {
    pub ok: bool,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

#[derive(Clone, Debug)]
pub struct AdoptConfig {
    pub host: String,
    pub reader: Reader,
    pub bytes: u64,
    pub go_file: PathBuf,
    pub listen_netns: Option<String>,
    pub timeout: Duration,
}

fn io_err(op: &'static str) -> impl Fn(io::Error) -> TrafficError {
    move |e| TrafficError::io(op, e)
}

/// Writes `n` bytes of `p` from `from` on, blocking.
fn send(s: &mut TcpStream, p: &Pattern, from: u64, n: u64) -> Result<(), TrafficError> {
    let mut buf = vec![0u8; 65536];
    let mut off = from;
    while off < from + n {
        let len = (buf.len() as u64).min(from + n - off) as usize;
        p.fill(off, &mut buf[..len]);
        s.write_all(&buf[..len]).map_err(io_err("write"))?;
        off += len as u64;
    }
    Ok(())
}

/// Reads `n` bytes, checking them against `p` from `from` on; `flags`
/// for the first call (`MSG_WAITALL`).
fn receive(s: &TcpStream, p: &Pattern, from: u64, n: u64, first_flags: i32) -> Result<(), TrafficError> {
    use nix::sys::socket::{MsgFlags, recv};
    use std::os::fd::AsRawFd;
    let mut buf = vec![0u8; n.clamp(1, 1 << 20) as usize];
    let mut scratch = Vec::new();
    let (mut got, mut flags) = (0u64, MsgFlags::from_bits_truncate(first_flags));
    while got < n {
        let want = (buf.len() as u64).min(n - got) as usize;
        let r = recv(s.as_raw_fd(), &mut buf[..want], flags).map_err(|e| {
            let what = if e == nix::errno::Errno::EAGAIN { "recv (timed out: a hang)" } else { "recv" };
            TrafficError::io(what, e.into())
        })?;
        if r == 0 {
            return Err(TrafficError::Protocol { conn: "adopt".into(), msg: format!("EOF after {got} of {n} bytes") });
        }
        check(p, from + got, &buf[..r], &mut scratch)
            .map_err(|mismatch| TrafficError::Mismatch { conn: "adopt".into(), mismatch })?;
        got += r as u64;
        flags = MsgFlags::empty();
    }
    Ok(())
}

/// The listener, bound in `netns` by a thread that stays there until
/// `done` is set (or in this thread's namespace without one).
fn listen(cfg: &AdoptConfig, done: &Arc<AtomicBool>) -> Result<TcpListener, TrafficError> {
    let Some(ns) = cfg.listen_netns.clone() else {
        return TcpListener::bind((cfg.host.as_str(), 0)).map_err(io_err("bind"));
    };
    let (tx, rx) = mpsc::channel();
    let (host, done, deadline) = (cfg.host.clone(), done.clone(), Instant::now() + cfg.timeout);
    std::thread::spawn(move || {
        let l =
            super::net::enter_netns(&ns).and_then(|()| TcpListener::bind((host.as_str(), 0)).map_err(io_err("bind")));
        let _ = tx.send(l);
        while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    rx.recv().map_err(|_| TrafficError::io("listen thread", io::Error::other("ended early")))?
}

/// Runs the scenario (see the module doc); the JSON holds the byte counts.
pub fn run_adopt(cfg: &AdoptConfig) -> Result<AdoptRun, TrafficError> {
    let done = Arc::new(AtomicBool::new(false));
    let r = run(cfg, &done);
    done.store(true, Ordering::Relaxed);
    r
}

fn run(cfg: &AdoptConfig, done: &Arc<AtomicBool>) -> Result<AdoptRun, TrafficError> {
    let deadline = Instant::now() + cfg.timeout;
    let listener = listen(cfg, done)?;
    let addr = listener.local_addr().map_err(io_err("local_addr"))?;
    let mut client = TcpStream::connect(addr).map_err(io_err("connect"))?;
    let (mut server, _) = listener.accept().map_err(io_err("accept"))?;
    let up = Pattern::new(StreamId::new("adopt-up", 0));
    let down = Pattern::new(StreamId::new("adopt-down", 0));
    // Bytes over TCP before `load`: the sequence numbers have moved on.
    const PRE: u64 = 1000;
    send(&mut client, &up, 0, PRE)?;
    receive(&server, &up, 0, PRE, 0)?;
    send(&mut server, &down, 0, PRE)?;
    receive(&client, &down, 0, PRE, 0)?;
    let limit = Some(cfg.timeout.min(Duration::from_secs(30)));
    for s in [&client, &server] {
        s.set_read_timeout(limit).map_err(io_err("SO_RCVTIMEO"))?;
        s.set_write_timeout(limit).map_err(io_err("SO_SNDTIMEO"))?;
    }
    let n = cfg.bytes;
    let dup = |s: &TcpStream| s.try_clone().map_err(io_err("dup"));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads: Vec<std::thread::JoinHandle<Result<u64, TrafficError>>> = Vec::new();
    match cfg.reader {
        Reader::Idle => {}
        Reader::Plain | Reader::WaitAll | Reader::LowAt => {
            let (s, reader) = (dup(&server)?, cfg.reader);
            threads.push(std::thread::spawn(move || {
                let flags = if reader == Reader::WaitAll { libc::MSG_WAITALL } else { 0 };
                if reader == Reader::LowAt {
                    use std::os::fd::AsFd;
                    crate::syscall::ioctl::set_rcvlowat(s.as_fd(), n.min(128 << 10) as u32)
                        .map_err(|e| TrafficError::io("SO_RCVLOWAT", e))?;
                }
                receive(&s, &up, PRE, n, flags)?;
                Ok(n)
            }));
        }
        Reader::Busy => {
            let (mut w, r, stop_w) = (dup(&client)?, dup(&server)?, stop.clone());
            // How far the writer got, and whether it stopped: the reader never
            // waits for bytes that were not written (it once did, when the
            // writer stopped right after the reader had caught up).
            let sent = Arc::new(std::sync::atomic::AtomicU64::new(PRE));
            let finished = Arc::new(AtomicBool::new(false));
            let (sent_w, finished_w) = (sent.clone(), finished.clone());
            threads.push(std::thread::spawn(move || {
                let mut off = PRE;
                let r = (|| {
                    while !stop_w.load(Ordering::Relaxed) && Instant::now() < deadline {
                        send(&mut w, &up, off, 4096)?;
                        off += 4096;
                        sent_w.store(off, Ordering::Release);
                        std::thread::sleep(Duration::from_micros(500));
                    }
                    Ok(off - PRE)
                })();
                finished_w.store(true, Ordering::Release);
                r
            }));
            threads.push(std::thread::spawn(move || {
                let mut off = PRE;
                loop {
                    let done = finished.load(Ordering::Acquire);
                    let end = sent.load(Ordering::Acquire);
                    if off < end {
                        receive(&r, &up, off, end - off, 0)?;
                        off = end;
                    } else if done {
                        return Ok(off - PRE);
                    } else if Instant::now() > deadline {
                        return Err(TrafficError::Timeout(Duration::ZERO, format!("busy reader at {off}")));
                    } else {
                        std::thread::sleep(Duration::from_micros(100));
                    }
                }
            }));
        }
    }
    // Let the reader threads block (or stream) before `load` runs.
    std::thread::sleep(Duration::from_millis(100));
    println!("{}", line(&Ready { ready: true }));
    while !cfg.go_file.exists() {
        if Instant::now() > deadline {
            return Err(TrafficError::Timeout(cfg.timeout, format!("{} never appeared", cfg.go_file.display())));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (mut bytes_up, mut bytes_down) = (0, 0);
    match cfg.reader {
        Reader::Idle => {
            // Both directions, one after the other, from this thread.
            let (mut c, s) = (dup(&client)?, dup(&server)?);
            let w = std::thread::spawn(move || send(&mut c, &up, PRE, n));
            receive(&s, &up, PRE, n, 0)?;
            join(w)?;
            let mut s2 = dup(&server)?;
            let w = std::thread::spawn(move || send(&mut s2, &down, PRE, n));
            receive(&client, &down, PRE, n, 0)?;
            join(w)?;
            bytes_up = n;
            bytes_down = n;
        }
        Reader::Plain | Reader::WaitAll | Reader::LowAt => {
            send(&mut client, &up, PRE, n)?;
            bytes_up = join(threads.remove(0))?;
        }
        Reader::Busy => {
            stop.store(true, Ordering::Relaxed);
            for t in threads.drain(..) {
                bytes_up = join(t)?;
            }
        }
    }
    Ok(AdoptRun { ok: true, bytes_up, bytes_down })
}

fn join<T>(t: std::thread::JoinHandle<Result<T, TrafficError>>) -> Result<T, TrafficError> {
    t.join().unwrap_or_else(|_| Err(TrafficError::io("thread", io::Error::other("panicked"))))
}
