//! Child processes of the benchmark (its workers) and what stops them: every child is
//! registered by PID with an [`Interrupt`], which kills exactly those PIDs
//! (never by name) when Ctrl-C arrives, and each child is killed and reaped
//! when its handle is dropped.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::BenchError;
use crate::json::{self, Json};

/// Set when the user interrupted the run; holds the PIDs to kill then.
#[derive(Debug, Default)]
pub struct Interrupt {
    flag: AtomicBool,
    pids: Mutex<Vec<u32>>,
}

impl Interrupt {
    pub fn new() -> Arc<Interrupt> {
        Arc::new(Interrupt::default())
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Marks the run as interrupted and kills every registered child by PID.
    /// Safe to call from any thread (e.g. one waiting in `sigwait`).
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
        for &p in pids.iter() {
            let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
        }
    }

    fn register(&self, pid: u32) {
        self.pids.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    }

    /// Must happen before the child is reaped, so a recycled PID is never killed.
    fn unregister(&self, pid: u32) {
        self.pids.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != pid);
    }

    pub fn check(&self) -> Result<(), BenchError> {
        if self.is_set() { Err(BenchError::Interrupted) } else { Ok(()) }
    }
}

/// A result line of a worker (one JSON object).
pub type Line = Json;

/// The number `k` of a line (0 when missing).
pub fn num(l: &Line, k: &str) -> f64 {
    l.get(k).and_then(Json::as_f64).unwrap_or(0.0)
}

/// The string `k` of a line (empty when missing).
pub fn text<'a>(l: &'a Line, k: &str) -> &'a str {
    l.get(k).and_then(Json::as_str).unwrap_or("")
}

/// One running worker process.
pub struct Proc {
    child: Child,
    pid: u32,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    what: String,
    intr: Arc<Interrupt>,
    reaped: bool,
}

impl Proc {
    /// Starts `exe ARGS` in its own process group (so a Ctrl-C in the terminal
    /// reaches only the benchmark, which then stops its children itself).
    pub fn spawn(exe: &Path, args: &[String], what: String, intr: &Arc<Interrupt>) -> Result<Proc, BenchError> {
        intr.check()?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| BenchError::Spawn(format!("{} {}: {e}", exe.display(), args.join(" "))))?;
        let pid = child.id();
        intr.register(pid);
        let (tx, lines) = channel();
        let out = child.stdout.take();
        let errp = child.stderr.take();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut p = Proc { child, pid, lines, stderr, what, intr: intr.clone(), reaped: false };
        // A signal may have come between the check above and the registration.
        if intr.is_set() {
            p.kill();
            return Err(BenchError::Interrupted);
        }
        if let Some(out) = out {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        if let Some(mut errp) = errp {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = errp.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                    if s.len() < 64 * 1024 {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        Ok(p)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).trim().to_string()
    }

    fn failed(&self, why: &str, last: Option<&str>) -> BenchError {
        let mut msg = format!("{} (pid {}): {why}", self.what, self.pid);
        if let Some(l) = last {
            msg.push_str(&format!("\n  last line: {l}"));
        }
        let e = self.stderr();
        if !e.is_empty() {
            msg.push_str(&format!("\n  stderr: {e}"));
        }
        BenchError::Endpoint(msg)
    }

    /// The next JSON line, within `within`; an `"ok": false` line is an error.
    pub fn next_line(&mut self, within: Duration) -> Result<Line, BenchError> {
        let end = Instant::now() + within;
        loop {
            self.intr.check()?;
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.failed(&format!("no answer within {within:?}"), None));
            }
            match self.lines.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(l) => {
                    let Ok(v @ Json::Obj(_)) = json::parse(&l) else {
                        return Err(self.failed("printed a line that is not a JSON object", Some(&l)));
                    };
                    if v.get("ok") == Some(&Json::Bool(false)) {
                        std::thread::sleep(Duration::from_millis(20));
                        return Err(self.failed(text(&v, "error"), Some(&l)));
                    }
                    return Ok(v);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.intr.check()?;
                    // Give stderr a moment to arrive.
                    std::thread::sleep(Duration::from_millis(50));
                    let st = self.wait_exit(Duration::from_secs(2));
                    return Err(self.failed(&format!("ended without its result ({st})"), None));
                }
            }
        }
    }

    /// Waits for the process to exit successfully.
    pub fn finish(&mut self, within: Duration) -> Result<(), BenchError> {
        let st = self.wait_exit(within);
        self.intr.check()?;
        if st == "exit status: 0" { Ok(()) } else { Err(self.failed(&st, None)) }
    }

    fn wait_exit(&mut self, within: Duration) -> String {
        if self.reaped {
            return "exited".into();
        }
        self.intr.unregister(self.pid);
        let end = Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    self.reaped = true;
                    return st.to_string();
                }
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
                Ok(None) => {
                    self.kill();
                    return format!("killed: still running after {within:?}");
                }
                Err(e) => return format!("wait: {e}"),
            }
        }
    }

    fn kill(&mut self) {
        if self.reaped {
            return;
        }
        self.intr.unregister(self.pid);
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
