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

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::BenchError;
use crate::traffic::report::Failed;

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

    /// The next line, within `within`, read as a `T` (see
    /// [`crate::traffic::report`]). An `"ok": false` line is an error with
    /// the worker's message; so is a line that is not a `T`, naming what
    /// is wrong (e.g. ``missing field `bytes_in` ``).
    pub fn next_line<T: DeserializeOwned>(&mut self, within: Duration) -> Result<T, BenchError> {
        let end = Instant::now() + within;
        loop {
            self.intr.check()?;
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.failed(&format!("no answer within {within:?}"), None));
            }
            match self.lines.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(l) => {
                    let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&l) else {
                        return Err(self.failed("printed a line that is not a JSON object", Some(&l)));
                    };
                    if v.get("ok") == Some(&Value::Bool(false)) {
                        std::thread::sleep(Duration::from_millis(20));
                        let why = Failed::deserialize(&v)
                            .map_or_else(|e| format!("failed, in a malformed line ({e})"), |f| f.error);
                        return Err(self.failed(&why, Some(&l)));
                    }
                    return serde_json::from_value(v)
                        .map_err(|e| self.failed(&format!("unreadable result: {e}"), Some(&l)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::report::{Listening, ServeReport};

    fn echo(line: &str) -> Proc {
        let args = ["-c".to_string(), format!("echo '{line}'")];
        Proc::spawn(Path::new("/bin/sh"), &args, "test worker".into(), &Interrupt::new()).unwrap()
    }

    #[test]
    fn a_result_line_missing_a_field_is_an_error_naming_it() {
        let mut p = echo(r#"{"ok":true,"role":"serve","conns":1}"#);
        let e = p.next_line::<ServeReport>(Duration::from_secs(10)).unwrap_err().to_string();
        assert!(e.contains("missing field `reader`") && e.contains("test worker"), "{e}");
    }

    #[test]
    fn a_failure_line_carries_the_workers_message() {
        let mut p = echo(r#"{"ok":false,"error":"bind: address in use"}"#);
        let e = p.next_line::<Listening>(Duration::from_secs(10)).unwrap_err().to_string();
        assert!(e.contains("bind: address in use"), "{e}");
        let mut p = echo(r#"{"listening":4242}"#);
        assert_eq!(p.next_line::<Listening>(Duration::from_secs(10)).unwrap(), Listening { listening: Some(4242) });
        let mut p = echo("listening 4242");
        let e = p.next_line::<Listening>(Duration::from_secs(10)).unwrap_err().to_string();
        assert!(e.contains("not a JSON object"), "{e}");
    }
}
