//! Where the two endpoints of a cell ran, seen from outside: every few
//! milliseconds the benchmark reads the CPU each endpoint thread last ran on
//! (`/proc/PID/task/TID/stat`, field 39) and counts the samples in which
//! server and client were on the same CPU. For pinned placements this only
//! confirms the pinning; for `free` it is the answer to "where did the
//! scheduler put them".

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the sampler looks.
pub const INTERVAL: Duration = Duration::from_millis(5);

/// What the samples showed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    /// Samples in which both endpoints had a thread to look at.
    pub n: u64,
    /// Samples in which a server thread and a client thread were on one CPU.
    pub together: u64,
    /// Samples per CPU, server and client (a thread per connection each).
    pub server: BTreeMap<usize, u64>,
    pub client: BTreeMap<usize, u64>,
}

impl Samples {
    /// Share of the samples with both endpoints on one CPU (None without samples).
    pub fn together_share(&self) -> Option<f64> {
        (self.n > 0).then(|| self.together as f64 / self.n as f64)
    }

    pub fn add(&mut self, o: &Samples) {
        self.n += o.n;
        self.together += o.together;
        for (m, om) in [(&mut self.server, &o.server), (&mut self.client, &o.client)] {
            for (c, k) in om {
                *m.entry(*c).or_default() += k;
            }
        }
    }

    /// `0 62%, 1 38%`: the share of samples per CPU.
    pub fn shares(m: &BTreeMap<usize, u64>) -> String {
        let total: u64 = m.values().sum();
        if total == 0 {
            return String::new();
        }
        m.iter().map(|(c, k)| format!("{c} {:.0}%", *k as f64 * 100.0 / total as f64)).collect::<Vec<_>>().join(", ")
    }
}

/// The last CPU of each of `pid`'s connection threads (named
/// [`crate::traffic::CONN_THREAD`]; not the watchdog nor the waiting main
/// thread). Empty until the first connection thread starts, which is after
/// the worker pinned itself, so a pinned worker is never seen elsewhere.
pub fn thread_cpus(pid: u32) -> Vec<usize> {
    let mut conn = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return conn };
    let name = format!("({})", crate::traffic::CONN_THREAD);
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        if stat.contains(&name)
            && let Some(cpu) = last_cpu(&stat)
        {
            conn.push(cpu);
        }
    }
    conn
}

/// Field 39 (`processor`) of a `/proc/.../stat` line; the command name
/// (field 2, in parentheses) may contain spaces, so count after its `)`.
pub fn last_cpu(stat: &str) -> Option<usize> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(39 - 3).and_then(|f| f.parse().ok())
}

/// A thread sampling two processes until stopped (or `limit` has passed).
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Samples>>,
}

impl Sampler {
    pub fn start(server: u32, client: u32, limit: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("cpu-sampler".into())
            .spawn(move || {
                let mut s = Samples::default();
                let end = Instant::now() + limit;
                while !flag.load(Ordering::Relaxed) && Instant::now() < end {
                    let (a, b) = (thread_cpus(server), thread_cpus(client));
                    if !a.is_empty() && !b.is_empty() {
                        s.n += 1;
                        if a.iter().any(|c| b.contains(c)) {
                            s.together += 1;
                        }
                        for (m, v) in [(&mut s.server, &a), (&mut s.client, &b)] {
                            for c in v {
                                *m.entry(*c).or_default() += 1;
                            }
                        }
                    }
                    std::thread::sleep(INTERVAL);
                }
                s
            })
            .ok();
        Sampler { stop, handle }
    }

    /// Stops the sampling and returns what it saw.
    pub fn finish(mut self) -> Samples {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().and_then(|h| h.join().ok()).unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_field_39_after_the_name() {
        // A made-up line whose command name has spaces and a parenthesis.
        let mut fields: Vec<String> = (3..=52).map(|i| i.to_string()).collect();
        fields[39 - 3] = "7".into();
        let line = format!("1234 (a b) c) {}", fields.join(" "));
        assert_eq!(last_cpu(&line), Some(7));
        assert_eq!(last_cpu("garbage"), None);
        // This process has no connection thread.
        assert!(thread_cpus(std::process::id()).is_empty());
        let mut s = Samples { n: 4, together: 1, ..Samples::default() };
        s.server.insert(0, 3);
        s.server.insert(1, 1);
        assert_eq!(s.together_share(), Some(0.25));
        assert_eq!(Samples::shares(&s.server), "0 75%, 1 25%");
        let t = s.clone();
        s.add(&t);
        assert_eq!((s.n, s.together, s.server[&0]), (8, 2, 6));
        assert_eq!(Samples::default().together_share(), None);
    }
}
