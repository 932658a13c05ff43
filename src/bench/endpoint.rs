//! The two ends of one benchmark cell, run in child processes
//! (`sockasm bench endpoint …`, hidden) so that their cgroup membership is
//! real. Same code for every transport: only the [`Endpoint`] differs, and
//! whether the process joined the benchmark's cgroup before creating sockets.
//!
//! Unlike `sockasm worker` (fixed byte counts), runs are bounded in time: the
//! client warms up, then measures for a fixed window, then ends the
//! connection cleanly. Every byte is checked against the workload pattern
//! ([`crate::workload::pattern`]): the server checks each request or stream
//! byte (header, connection index, body), the client checks each echo, and a
//! stream ends with the server's `[received length, OK]` trailer, so a lost
//! or duplicated byte fails the cell.

use std::collections::BTreeSet;
use std::io::{ErrorKind, Write};
use std::str::FromStr;
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::json::Json;
use crate::workload::net::{read_exact_retrying, read_retrying};
use crate::workload::pattern::{HEADER_LEN, Mismatch, Pattern, StreamId, check};
use crate::workload::{Endpoint, Listener, Stream, WorkloadError, connect, tag_hash};

/// Label hashed into every stream header: the server rejects anything else.
pub const TAG: &str = "sockasm-bench";
/// The stream reader's buffer.
pub const STREAM_READ_BUF: usize = 64 * 1024;
/// Second word of the stream trailer when every byte matched.
const TRAILER_OK: u64 = 0x004b_4f48_434e_4542; // "BENCHOK"

/// What one cell measures.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub enum Workload {
    /// Request/response ping-pong with TCP_NODELAY: one `size`-byte request,
    /// the same bytes back, next request.
    Rr,
    /// One-way stream of `size`-byte writes; the reader reads 64 KiB at a time.
    Stream,
}

impl Workload {
    pub const ALL: [Workload; 2] = [Workload::Rr, Workload::Stream];
    pub fn name(self) -> &'static str {
        match self {
            Workload::Rr => "rr",
            Workload::Stream => "stream",
        }
    }
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Workload, String> {
        Workload::ALL.into_iter().find(|w| w.name() == s).ok_or_else(|| format!("unknown workload {s:?} (rr, stream)"))
    }
}

/// The cgroup v2 path of this process (`0::/x` in /proc/self/cgroup).
pub fn own_cgroup() -> String {
    std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("0::")).map(str::to_string))
        .unwrap_or_default()
}

/// CPU time (user + system) this process has used so far, all threads, in µs.
pub fn cpu_time_us() -> u64 {
    use nix::sys::resource::{UsageWho, getrusage};
    let us = |t: nix::sys::time::TimeVal| t.tv_sec().max(0) as u64 * 1_000_000 + t.tv_usec().max(0) as u64;
    getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| us(u.user_time()) + us(u.system_time()))
}

/// CPUs the connection threads found themselves on (`sched_getcpu`), sampled
/// at the start of the measured window and at the end of each connection.
static RAN_ON: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn note_cpu() {
    if let Ok(c) = nix::sched::sched_getcpu() {
        RAN_ON.lock().unwrap_or_else(|e| e.into_inner()).insert(c);
    }
}

/// `0,1`: a set of CPUs as the endpoints report it.
pub fn cpu_list<'a>(cpus: impl IntoIterator<Item = &'a usize>) -> String {
    cpus.into_iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
}

/// The CPUs this process may run on (its affinity mask).
pub fn affinity() -> Vec<usize> {
    let Ok(set) = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) else { return Vec::new() };
    (0..nix::sched::CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false)).collect()
}

/// Where this process ran: its affinity and the CPUs it was seen on.
fn placement_json() -> [(&'static str, Json); 2] {
    let ran = RAN_ON.lock().unwrap_or_else(|e| e.into_inner()).clone();
    [("affinity", cpu_list(&affinity()).into()), ("ran_on", cpu_list(&ran).into())]
}

/// Checks a received stream against the pattern its header names.
struct Verifier {
    expect_tag: u32,
    header: [u8; HEADER_LEN],
    pattern: Option<Pattern>,
    offset: u64,
    scratch: Vec<u8>,
}

impl Verifier {
    fn new() -> Verifier {
        Verifier { expect_tag: tag_hash(TAG), header: [0; HEADER_LEN], pattern: None, offset: 0, scratch: Vec::new() }
    }

    fn feed(&mut self, mut data: &[u8]) -> Result<(), Mismatch> {
        if self.pattern.is_none() {
            let have = self.offset as usize;
            let n = (HEADER_LEN - have).min(data.len());
            self.header[have..have + n].copy_from_slice(&data[..n]);
            self.offset += n as u64;
            data = &data[n..];
            if (self.offset as usize) < HEADER_LEN {
                return Ok(());
            }
            let bad = |i: usize, expected: u8, what| Mismatch {
                expected_stream: None,
                offset: i as u64,
                expected,
                got: self.header[i],
                what,
            };
            let Some(id) = StreamId::parse(&self.header) else {
                let i = (0..4).find(|&i| self.header[i] != crate::workload::pattern::MAGIC[i]).unwrap_or(0);
                return Err(bad(i, crate::workload::pattern::MAGIC[i], "bad stream header (not a sockasm pattern)"));
            };
            if id.tag != self.expect_tag {
                let e = self.expect_tag.to_le_bytes();
                let i = (0..4).find(|&i| self.header[4 + i] != e[i]).unwrap_or(0);
                return Err(bad(4 + i, e[i], "stream of a foreign tag (cross-talk)"));
            }
            self.pattern = Some(Pattern::new(id));
        }
        if let Some(p) = &self.pattern {
            check(p, self.offset, data, &mut self.scratch)?;
        }
        self.offset += data.len() as u64;
        Ok(())
    }
}

fn io_err(name: &str, op: &str, e: std::io::Error, timeout: Duration) -> WorkloadError {
    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
        WorkloadError::Timeout(timeout, format!("{name}: {op}"))
    } else {
        WorkloadError::io(format!("{name}: {op}"), e)
    }
}

/// `write_all` on a blocking socket (SO_SNDTIMEO set to reach `deadline`),
/// retrying an EAGAIN that comes before the deadline.
fn write_all_retrying(s: &mut Stream, mut buf: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !buf.is_empty() {
        match s.write(buf) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn prepare(s: &Stream, nodelay: bool, deadline: Instant) -> std::io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(left))?;
    s.set_write_timeout(Some(left))?;
    if nodelay {
        s.set_nodelay(true)?;
    }
    Ok(())
}

/// What the server side does.
#[derive(Clone, Debug)]
pub struct ServeSpec {
    pub workload: Workload,
    /// Request size (rr); unused for streams (the reader uses 64 KiB).
    pub size: usize,
    pub conns: u64,
    /// The server counts CPU time from this long after the last accept (the
    /// client starts its warm-up then too).
    pub warmup: Duration,
    pub timeout: Duration,
}

/// What the server saw, summed over its connections.
#[derive(Clone, Debug, Default)]
pub struct ServeResult {
    pub conns: u64,
    /// Bytes received, every one checked against the pattern.
    pub verified_bytes: u64,
    pub reads: u64,
    pub transactions: u64,
    pub spurious_eagain: u64,
    /// CPU time (user + system, all threads) from the end of the warm-up to
    /// the last connection's end.
    pub cpu_us: u64,
}

impl ServeResult {
    pub fn to_json(&self) -> Json {
        Json::obj(
            [
                ("ok", Json::from(true)),
                ("role", "serve".into()),
                ("conns", self.conns.into()),
                ("verified_bytes", self.verified_bytes.into()),
                ("reads", self.reads.into()),
                ("transactions", self.transactions.into()),
                ("spurious_eagain", self.spurious_eagain.into()),
                ("cpu_us", self.cpu_us.into()),
                ("cgroup", own_cgroup().into()),
            ]
            .into_iter()
            .chain(placement_json()),
        )
    }
}

/// When the measured window starts and the process's CPU time then; the
/// first thread to see the window start records it.
#[derive(Default)]
struct Window {
    start: OnceLock<Instant>,
    cpu_at_start: OnceLock<u64>,
}

impl Window {
    /// Records the CPU time if the warm-up (`warmup` after `start`) is over.
    fn poll(&self, warmup: Duration) {
        if self.cpu_at_start.get().is_none() && self.start.get().is_some_and(|t| t.elapsed() >= warmup) {
            self.cpu_at_start.get_or_init(|| {
                note_cpu();
                cpu_time_us()
            });
        }
    }
}

/// Accepts `spec.conns` connections and serves each in its own thread until
/// the client closes it.
pub fn serve(listener: &Listener, spec: &ServeSpec) -> Result<ServeResult, WorkloadError> {
    let deadline = Instant::now() + spec.timeout;
    listener.set_nonblocking(true).map_err(|e| WorkloadError::io("set listener non-blocking", e))?;
    let mut handles = Vec::new();
    let mut accepted = 0u64;
    let win = Arc::new(Window::default());
    while accepted < spec.conns {
        match listener.accept() {
            Ok(s) => {
                let (spec, win) = (spec.clone(), win.clone());
                let i = accepted;
                accepted += 1;
                let h = std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || serve_conn(s, i, &spec, &win, deadline))
                    .map_err(|e| WorkloadError::io("spawn connection thread", e))?;
                handles.push(h);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(WorkloadError::Timeout(
                        spec.timeout,
                        format!("accepted {accepted} of {} connections", spec.conns),
                    ));
                }
                let mut fds =
                    [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(listener), nix::poll::PollFlags::POLLIN)];
                let _ = nix::poll::poll(&mut fds, 100u16);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(WorkloadError::io("accept", e)),
        }
    }
    // Fallback if no connection saw the warm-up end: CPU from the last accept.
    let cpu_at_accept = cpu_time_us();
    let _ = win.start.set(Instant::now());
    let mut r = ServeResult::default();
    let mut first_err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(c)) => {
                r.conns += 1;
                r.verified_bytes += c.verified_bytes;
                r.reads += c.reads;
                r.transactions += c.transactions;
                r.spurious_eagain += c.spurious_eagain;
            }
            Ok(Err(e)) => {
                if first_err.as_ref().is_none_or(|f: &WorkloadError| !f.is_data_error() && e.is_data_error()) {
                    first_err = Some(e);
                }
            }
            Err(_) => {
                first_err = first_err
                    .or(Some(WorkloadError::Protocol { conn: "-".into(), msg: "server thread panicked".into() }))
            }
        }
    }
    r.cpu_us = cpu_time_us().saturating_sub(win.cpu_at_start.get().copied().unwrap_or(cpu_at_accept));
    match first_err {
        Some(e) => Err(e),
        None => Ok(r),
    }
}

fn serve_conn(
    mut s: Stream,
    idx: u64,
    spec: &ServeSpec,
    win: &Window,
    deadline: Instant,
) -> Result<ServeResult, WorkloadError> {
    let r = serve_conn_inner(&mut s, idx, spec, win, deadline);
    note_cpu();
    r
}

fn serve_conn_inner(
    s: &mut Stream,
    idx: u64,
    spec: &ServeSpec,
    win: &Window,
    deadline: Instant,
) -> Result<ServeResult, WorkloadError> {
    let name = format!("server conn #{idx}");
    let err = |op: &str, e| io_err(&name, op, e, spec.timeout);
    prepare(s, spec.workload == Workload::Rr, deadline).map_err(|e| err("socket options", e))?;
    let mut r = ServeResult { conns: 1, ..Default::default() };
    let mut ver = Verifier::new();
    let mismatch = |m| WorkloadError::Mismatch { conn: name.clone(), mismatch: m };
    match spec.workload {
        Workload::Rr => {
            let mut msg = vec![0u8; spec.size.max(1)];
            loop {
                let mut got = 0;
                while got < msg.len() {
                    let n = read_retrying(s, &mut msg[got..], deadline, &mut r.spurious_eagain)
                        .map_err(|e| err("read", e))?;
                    if n == 0 {
                        if got == 0 {
                            return Ok(r);
                        }
                        return Err(WorkloadError::Protocol {
                            conn: name,
                            msg: format!("EOF after {got} bytes of a {}-byte request", msg.len()),
                        });
                    }
                    ver.feed(&msg[got..got + n]).map_err(mismatch)?;
                    got += n;
                    r.reads += 1;
                    r.verified_bytes += n as u64;
                }
                write_all_retrying(s, &msg, deadline).map_err(|e| err("write", e))?;
                r.transactions += 1;
                win.poll(spec.warmup);
            }
        }
        Workload::Stream => {
            let mut buf = vec![0u8; STREAM_READ_BUF];
            loop {
                let n = read_retrying(s, &mut buf, deadline, &mut r.spurious_eagain).map_err(|e| err("read", e))?;
                if n == 0 {
                    break;
                }
                win.poll(spec.warmup);
                ver.feed(&buf[..n]).map_err(mismatch)?;
                r.reads += 1;
                r.verified_bytes += n as u64;
            }
            let mut trailer = [0u8; 16];
            trailer[..8].copy_from_slice(&r.verified_bytes.to_le_bytes());
            trailer[8..].copy_from_slice(&TRAILER_OK.to_le_bytes());
            write_all_retrying(s, &trailer, deadline).map_err(|e| err("write trailer", e))?;
            Ok(r)
        }
    }
}

/// What the client side does.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    pub workload: Workload,
    /// Request size (rr) or write size (stream).
    pub size: usize,
    /// Connections in parallel, one thread each.
    pub conns: u64,
    pub warmup: Duration,
    pub measure: Duration,
    pub timeout: Duration,
}

/// Aggregate figures of the measured window (warm-up excluded).
#[derive(Clone, Debug, Default)]
pub struct ClientResult {
    pub conns: u64,
    /// rr: transactions completed in the window, all connections.
    pub transactions: u64,
    /// rr: transactions per second (sum over connections).
    pub tps: f64,
    /// rr: round-trip percentiles over every measured transaction.
    pub p50_us: f64,
    pub p99_us: f64,
    /// stream: Gbit/s (10^9 bits), sum over connections, up to the moment the
    /// reader confirmed it had every byte.
    pub gbps: f64,
    /// Bytes sent in the measured window.
    pub measured_bytes: u64,
    /// Bytes sent in total (warm-up included), all confirmed by the peer.
    pub bytes_sent: u64,
    /// Bytes received and checked (rr echoes).
    pub bytes_received: u64,
    pub spurious_eagain: u64,
    /// CPU time (user + system, all threads) from the first measured
    /// transaction or write to the end of the last connection.
    pub cpu_us: u64,
}

impl ClientResult {
    pub fn to_json(&self) -> Json {
        Json::obj(
            [
                ("ok", Json::from(true)),
                ("role", "client".into()),
                ("conns", self.conns.into()),
                ("transactions", self.transactions.into()),
                ("tps", self.tps.into()),
                ("p50_us", self.p50_us.into()),
                ("p99_us", self.p99_us.into()),
                ("gbps", self.gbps.into()),
                ("measured_bytes", self.measured_bytes.into()),
                ("bytes_sent", self.bytes_sent.into()),
                ("bytes_received", self.bytes_received.into()),
                ("spurious_eagain", self.spurious_eagain.into()),
                ("cpu_us", self.cpu_us.into()),
                ("cgroup", own_cgroup().into()),
            ]
            .into_iter()
            .chain(placement_json()),
        )
    }
}

/// One connection's share.
#[derive(Default)]
struct ConnResult {
    measured: u64,
    window: Duration,
    rtts_ns: Vec<u64>,
    measured_bytes: u64,
    bytes_sent: u64,
    bytes_received: u64,
    spurious_eagain: u64,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Opens `spec.conns` connections (all before any sends), warms up, measures,
/// closes cleanly and checks everything.
pub fn run_client(ep: &Endpoint, spec: &ClientSpec) -> Result<ClientResult, WorkloadError> {
    let conns = spec.conns.max(1);
    let deadline = Instant::now() + spec.timeout;
    let barrier = Arc::new(Barrier::new(conns as usize));
    let win = Arc::new(Window::default());
    let mut handles = Vec::new();
    for i in 0..conns {
        let (ep, spec, barrier, win) = (ep.clone(), spec.clone(), barrier.clone(), win.clone());
        let h = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let conn = connect(&ep, None);
                barrier.wait();
                let t0 = *win.start.get_or_init(Instant::now);
                let r = client_conn(conn?, i, &spec, &win, t0, deadline);
                note_cpu();
                r
            })
            .map_err(|e| WorkloadError::io("spawn client thread", e))?;
        handles.push(h);
    }
    let mut r = ClientResult { conns, ..Default::default() };
    let mut rtts = Vec::new();
    let mut first_err: Option<WorkloadError> = None;
    for h in handles {
        match h.join() {
            Ok(Ok(mut c)) => {
                let secs = c.window.as_secs_f64();
                if secs > 0.0 {
                    r.tps += if spec.workload == Workload::Rr { c.measured as f64 / secs } else { 0.0 };
                    r.gbps += if spec.workload == Workload::Stream {
                        c.measured_bytes as f64 * 8.0 / secs / 1e9
                    } else {
                        0.0
                    };
                }
                r.transactions += if spec.workload == Workload::Rr { c.measured } else { 0 };
                r.measured_bytes += c.measured_bytes;
                r.bytes_sent += c.bytes_sent;
                r.bytes_received += c.bytes_received;
                r.spurious_eagain += c.spurious_eagain;
                rtts.append(&mut c.rtts_ns);
            }
            Ok(Err(e)) => {
                if first_err.as_ref().is_none_or(|f| !f.is_data_error() && e.is_data_error()) {
                    first_err = Some(e);
                }
            }
            Err(_) => {
                first_err = first_err
                    .or(Some(WorkloadError::Protocol { conn: "-".into(), msg: "client thread panicked".into() }))
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    // Every connection measured something, so the window start was recorded.
    r.cpu_us = cpu_time_us().saturating_sub(win.cpu_at_start.get().copied().unwrap_or(0));
    rtts.sort_unstable();
    r.p50_us = percentile(&rtts, 0.50) as f64 / 1000.0;
    r.p99_us = percentile(&rtts, 0.99) as f64 / 1000.0;
    Ok(r)
}

fn client_conn(
    mut s: Stream,
    idx: u64,
    spec: &ClientSpec,
    win: &Window,
    t0: Instant,
    deadline: Instant,
) -> Result<ConnResult, WorkloadError> {
    let name = format!("client conn #{idx}");
    let err = |op: &str, e| io_err(&name, op, e, spec.timeout);
    let rr = spec.workload == Workload::Rr;
    prepare(&s, rr, deadline).map_err(|e| err("socket options", e))?;
    let pat = Pattern::new(StreamId::new(TAG, idx));
    let warm_end = t0 + spec.warmup;
    let end = warm_end + spec.measure;
    let size = spec.size.max(1);
    let mut r = ConnResult::default();
    let mut msg = vec![0u8; size];
    let mut off = 0u64;
    let past_deadline = |r: &ConnResult| {
        WorkloadError::Timeout(spec.timeout, format!("{name}: {} bytes sent, nothing measured yet", r.bytes_sent))
    };
    if rr {
        let mut back = vec![0u8; size];
        let mut scratch = Vec::new();
        let mut last_done = warm_end;
        r.rtts_ns.reserve(65_536);
        loop {
            pat.fill(off, &mut msg);
            let t = Instant::now();
            if t >= warm_end && r.measured == 0 {
                win.poll(spec.warmup);
            }
            write_all_retrying(&mut s, &msg, deadline).map_err(|e| err("write", e))?;
            read_exact_retrying(&mut s, &mut back, deadline, &mut r.spurious_eagain).map_err(|e| err("read", e))?;
            let done = Instant::now();
            check(&pat, off, &back, &mut scratch)
                .map_err(|m| WorkloadError::Mismatch { conn: name.clone(), mismatch: m })?;
            off += size as u64;
            if t >= warm_end {
                r.measured += 1;
                r.rtts_ns.push((done - t).as_nanos() as u64);
                last_done = done;
            }
            if done >= end && r.measured > 0 {
                break;
            }
            if done >= deadline {
                return Err(past_deadline(&r));
            }
        }
        r.window = last_done - warm_end;
        r.bytes_sent = off;
        r.bytes_received = off;
        s.shutdown_write().map_err(|e| err("shutdown(SHUT_WR)", e))?;
        let mut one = [0u8; 1];
        match read_retrying(&mut s, &mut one, deadline, &mut r.spurious_eagain) {
            Ok(0) => {}
            Ok(_) => return Err(WorkloadError::Protocol { conn: name, msg: "bytes after the last echo".into() }),
            Err(e) => return Err(err("read EOF", e)),
        }
        return Ok(r);
    }
    // Stream: write until the window is over, then wait for the reader's trailer.
    let mut mark: Option<(Instant, u64)> = None;
    loop {
        pat.fill(off, &mut msg);
        write_all_retrying(&mut s, &msg, deadline).map_err(|e| err("write", e))?;
        off += size as u64;
        let now = Instant::now();
        match mark {
            None if now >= warm_end => {
                win.poll(spec.warmup);
                mark = Some((now, off));
            }
            Some(_) if now >= end => break,
            _ => {}
        }
        if now >= deadline {
            return Err(past_deadline(&ConnResult { bytes_sent: off, ..Default::default() }));
        }
    }
    s.shutdown_write().map_err(|e| err("shutdown(SHUT_WR)", e))?;
    let mut trailer = [0u8; 16];
    read_exact_retrying(&mut s, &mut trailer, deadline, &mut r.spurious_eagain).map_err(|e| err("read trailer", e))?;
    let done = Instant::now();
    let len = u64::from_le_bytes(trailer[..8].try_into().unwrap_or([0; 8]));
    let ok = u64::from_le_bytes(trailer[8..].try_into().unwrap_or([0; 8]));
    if len != off || ok != TRAILER_OK {
        return Err(WorkloadError::Protocol {
            conn: name,
            msg: format!("reader confirmed {len} bytes (flag {ok:#x}), sent {off}"),
        });
    }
    let (t_mark, at) = mark.unwrap_or((warm_end, 0));
    r.window = done - t_mark;
    r.measured_bytes = off - at;
    r.bytes_sent = off;
    let mut one = [0u8; 1];
    match read_retrying(&mut s, &mut one, deadline, &mut r.spurious_eagain) {
        Ok(0) => Ok(r),
        Ok(_) => Err(WorkloadError::Protocol { conn: name, msg: "bytes after the trailer".into() }),
        Err(e) => Err(err("read EOF", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn verifier_takes_any_split_and_catches_foreign_streams() {
        let p = Pattern::new(StreamId::new(TAG, 3));
        let mut data = vec![0u8; 10_000];
        p.fill(0, &mut data);
        for split in [1, 5, 16, 17, 4096, 10_000] {
            let mut v = Verifier::new();
            for c in data.chunks(split) {
                v.feed(c).unwrap();
            }
        }
        let mut bad = data.clone();
        bad[5000] ^= 0x40;
        let mut v = Verifier::new();
        assert_eq!(v.feed(&bad).unwrap_err().offset, 5000);
        let q = Pattern::new(StreamId::new("other", 3));
        q.fill(0, &mut bad);
        assert!(Verifier::new().feed(&bad).unwrap_err().what.contains("foreign"));
    }

    #[test]
    fn loopback_rr_and_stream_in_process() {
        for w in Workload::ALL {
            let path = std::env::temp_dir().join(format!("sockasm-bench-ut-{}-{}.sock", std::process::id(), w.name()));
            let ep = Endpoint::Unix(path);
            let l = Listener::bind(&ep).unwrap();
            let spec = ServeSpec {
                workload: w,
                size: 100,
                conns: 2,
                warmup: Duration::from_millis(5),
                timeout: Duration::from_secs(20),
            };
            let srv = std::thread::spawn(move || serve(&l, &spec));
            let c = run_client(
                &ep,
                &ClientSpec {
                    workload: w,
                    size: 100,
                    conns: 2,
                    warmup: Duration::from_millis(5),
                    measure: Duration::from_millis(30),
                    timeout: Duration::from_secs(20),
                },
            )
            .unwrap();
            let s = srv.join().unwrap().unwrap();
            assert_eq!(s.conns, 2);
            assert_eq!(s.verified_bytes, c.bytes_sent);
            // Both did some work in the window (getrusage counts in µs).
            assert!(c.cpu_us > 0 && s.cpu_us > 0, "{c:?} {s:?}");
            match w {
                Workload::Rr => {
                    assert!(c.transactions > 0 && c.tps > 0.0 && c.p50_us > 0.0 && c.p99_us >= c.p50_us);
                    assert_eq!(c.bytes_received, c.bytes_sent);
                }
                Workload::Stream => assert!(c.gbps > 0.0 && c.measured_bytes > 0),
            }
        }
    }
}
