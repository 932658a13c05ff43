//! Both ends of one TCP connection in one thread, so a test can decide
//! exactly when the reader reads. What the bypass does then depends only on
//! the order of reads and writes, never on how fast the machine is: a reader
//! that "stalls" simply has not been asked to read yet.
//!
//! - [`Scenario::Stall`]: write without reading until the writer is pushed
//!   back (EAGAIN), note how much the reader holds, then read everything
//!   while the rest is written.
//! - [`Scenario::Bursts`]: rounds of "write a burst without reading, then
//!   read all of it": each burst fills the peer's queue (a spill) and each
//!   new round starts with everything read (a rejoin).
//! - [`Scenario::SmallStream`]: many small writes before the reader reads.
//! - [`Scenario::PingPong`]: request/response in both directions.
//!
//! Every byte received is checked against the sender's [`Pattern`], in order.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::WorkloadError;
use super::pattern::{Pattern, StreamId, check};
use crate::json::Json;

#[derive(Clone, Debug)]
pub enum Scenario {
    Stall { cap: u64, extra: u64 },
    Bursts { rounds: u32, burst: u64 },
    SmallStream { writes: u32 },
    PingPong { rounds: u32 },
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

    fn protocol(&self, msg: String) -> WorkloadError {
        WorkloadError::Protocol { conn: self.label.into(), msg }
    }

    /// One write of up to `max` bytes. `Ok(0)`: pushed back (EAGAIN).
    fn write_some(&mut self, max: u64) -> Result<u64, WorkloadError> {
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
            Err(e) => Err(WorkloadError::io("write", e)),
        }
    }

    /// Reads what is there now and checks it. `Ok(0)`: nothing ready.
    fn read_some(&mut self) -> Result<u64, WorkloadError> {
        let mut buf = std::mem::take(&mut self.buf);
        let r = match self.rx.read(&mut buf) {
            Ok(0) => Err(self.protocol(format!("EOF after {} of {} bytes", self.received, self.sent))),
            Ok(n) => {
                check(&self.pattern, self.received, &buf[..n], &mut self.scratch)
                    .map_err(|mismatch| WorkloadError::Mismatch { conn: self.label.into(), mismatch })?;
                self.received += n as u64;
                Ok(n as u64)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(WorkloadError::io("read", e)),
        };
        self.buf = buf;
        r
    }

    /// Reads until everything sent has arrived, writing up to `target` meanwhile.
    fn pump(&mut self, target: u64, deadline: Instant) -> Result<(), WorkloadError> {
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

/// Runs the scenario; the JSON holds byte counts and what was observed.
pub fn run_pair(cfg: &PairConfig) -> Result<Json, WorkloadError> {
    let deadline = Instant::now() + cfg.timeout;
    let listener = TcpListener::bind((cfg.host.as_str(), 0)).map_err(|e| WorkloadError::io("bind", e))?;
    let addr = listener.local_addr().map_err(|e| WorkloadError::io("local_addr", e))?;
    let client = TcpStream::connect(addr).map_err(|e| WorkloadError::io("connect", e))?;
    let (server, _) = listener.accept().map_err(|e| WorkloadError::io("accept", e))?;
    for s in [&client, &server] {
        s.set_nonblocking(true).map_err(|e| WorkloadError::io("set_nonblocking", e))?;
        s.set_nodelay(true).map_err(|e| WorkloadError::io("set_nodelay", e))?;
    }
    let clone = |s: &TcpStream| s.try_clone().map_err(|e| WorkloadError::io("dup", e));
    let mut up = Dir::new(clone(&client)?, clone(&server)?, "pair-up", cfg.write_size);
    let mut down = Dir::new(clone(&server)?, clone(&client)?, "pair-down", cfg.write_size);
    if let Some(go) = &cfg.go_file {
        println!("{}", Json::obj([("ready", Json::from(true))]));
        while !go.exists() {
            if Instant::now() > deadline {
                return Err(WorkloadError::Timeout(cfg.timeout, format!("{} never appeared", go.display())));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut out = vec![("ok", Json::from(true))];
    match cfg.scenario {
        Scenario::Stall { cap, extra } => {
            while up.sent < cap && up.write_some(cap - up.sent)? > 0 {}
            out.push(("accepted", up.sent.into()));
            out.push(("pushed_back", (up.sent < cap).into()));
            out.push(("reader_rmem", rmem(&server).into()));
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
            out.push(("peak_reader_rmem", peak.into()));
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
    out.push(("bytes_up", up.received.into()));
    out.push(("bytes_down", down.received.into()));
    Ok(Json::obj(out))
}
