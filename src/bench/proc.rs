//! Child processes of the benchmark and what stops them: every child is
//! registered by PID with an [`Interrupt`], which kills exactly those PIDs
//! (never by name) when Ctrl-C arrives, and each child is killed and reaped
//! when its handle is dropped.

use std::collections::BTreeMap;
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

/// A flat JSON object as the endpoints print it (numbers, strings, bools, null).
pub type Line = BTreeMap<String, Scalar>;

#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
}

/// Parses one flat JSON object (no nested values).
pub fn parse_line(s: &str) -> Option<Line> {
    let b = s.trim().as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let string = |i: &mut usize| -> Option<String> {
        if b.get(*i) != Some(&b'"') {
            return None;
        }
        *i += 1;
        let mut out = Vec::new();
        while *i < b.len() {
            match b[*i] {
                b'"' => {
                    *i += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    let c = *b.get(*i + 1)?;
                    *i += 2;
                    match c {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'u' => {
                            let hex = std::str::from_utf8(b.get(*i..*i + 4)?).ok()?;
                            let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                            out.extend_from_slice(ch.to_string().as_bytes());
                            *i += 4;
                        }
                        c => out.push(c),
                    }
                }
                c => {
                    out.push(c);
                    *i += 1;
                }
            }
        }
        None
    };
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut m = Line::new();
    loop {
        ws(&mut i);
        if b.get(i) == Some(&b'}') {
            return Some(m);
        }
        let k = string(&mut i)?;
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        let v = match b.get(i)? {
            b'"' => Scalar::Str(string(&mut i)?),
            b't' if b[i..].starts_with(b"true") => {
                i += 4;
                Scalar::Bool(true)
            }
            b'f' if b[i..].starts_with(b"false") => {
                i += 5;
                Scalar::Bool(false)
            }
            b'n' if b[i..].starts_with(b"null") => {
                i += 4;
                Scalar::Null
            }
            _ => {
                let st = i;
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                    i += 1;
                }
                Scalar::Num(std::str::from_utf8(&b[st..i]).ok()?.parse().ok()?)
            }
        };
        m.insert(k, v);
        ws(&mut i);
        match b.get(i)? {
            b',' => i += 1,
            b'}' => return Some(m),
            _ => return None,
        }
    }
}

pub fn num(l: &Line, k: &str) -> f64 {
    match l.get(k) {
        Some(Scalar::Num(n)) => *n,
        _ => 0.0,
    }
}

pub fn text<'a>(l: &'a Line, k: &str) -> &'a str {
    match l.get(k) {
        Some(Scalar::Str(s)) => s,
        _ => "",
    }
}

/// One running endpoint process.
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
                    let Some(v) = parse_line(&l) else {
                        return Err(self.failed("printed a line that is not a flat JSON object", Some(&l)));
                    };
                    if v.get("ok") == Some(&Scalar::Bool(false)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_json_lines() {
        let l = parse_line(r#"{"ok": true, "n": 12.5, "e": -1e3, "s": "a\"b\u00e9", "z": null, "f": false}"#).unwrap();
        assert_eq!(l.get("ok"), Some(&Scalar::Bool(true)));
        assert_eq!(num(&l, "n"), 12.5);
        assert_eq!(num(&l, "e"), -1000.0);
        assert_eq!(text(&l, "s"), "a\"bé");
        assert_eq!(l.get("z"), Some(&Scalar::Null));
        assert_eq!(l.get("f"), Some(&Scalar::Bool(false)));
        assert_eq!(parse_line("{}"), Some(Line::new()));
        assert!(parse_line("[1]").is_none());
        assert!(parse_line(r#"{"a": 1"#).is_none());
        let j = crate::json::Json::obj([("x", crate::json::Json::from(3.25)), ("y", "q\n".into())]).to_string();
        let l = parse_line(&j).unwrap();
        assert_eq!(num(&l, "x"), 3.25);
        assert_eq!(text(&l, "y"), "q\n");
    }
}
