//! Where and at what cost a worker ran: the CPU time of the process
//! (getrusage), the CPUs its connection threads were seen on
//! (sched_getcpu), its affinity and cgroup; and the percentile every
//! latency figure uses.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::report::Placement;

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

/// Samples the CPU the calling thread runs on.
pub fn note_cpu() {
    if let Ok(c) = nix::sched::sched_getcpu() {
        RAN_ON.lock().unwrap_or_else(|e| e.into_inner()).insert(c);
    }
}

/// `0,1`: a set of CPUs as the workers report it.
pub fn cpu_list<'a>(cpus: impl IntoIterator<Item = &'a usize>) -> String {
    cpus.into_iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
}

/// The CPUs this process may run on (its affinity mask).
pub fn affinity() -> Vec<usize> {
    let Ok(set) = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) else { return Vec::new() };
    (0..nix::sched::CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false)).collect()
}

/// Where this process ran: its cgroup, its affinity and the CPUs it was seen on.
pub fn placement() -> Placement {
    let ran = RAN_ON.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Placement { cgroup: own_cgroup(), affinity: cpu_list(&affinity()), ran_on: cpu_list(&ran) }
}

/// Nearest-rank percentile of sorted values (`q` in 0..=1).
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// When the measured window starts and the process's CPU time then; the
/// first thread to see the warm-up over records it.
#[derive(Debug, Default)]
pub struct Window {
    pub start: OnceLock<Instant>,
    cpu_at_start: OnceLock<u64>,
}

impl Window {
    /// Records the CPU time if the warm-up (`warmup` after `start`) is over.
    pub fn poll(&self, warmup: Duration) {
        if self.cpu_at_start.get().is_none() && self.start.get().is_some_and(|t| t.elapsed() >= warmup) {
            self.cpu_at_start.get_or_init(|| {
                note_cpu();
                cpu_time_us()
            });
        }
    }

    /// CPU time used since the window started (since `fallback` if it never did).
    pub fn cpu_used(&self, fallback: u64) -> u64 {
        cpu_time_us().saturating_sub(self.cpu_at_start.get().copied().unwrap_or(fallback))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        for (q, want) in [(0.0, 1), (0.5, 50), (0.99, 99), (1.0, 100)] {
            assert_eq!(percentile(&v, q), want, "q {q}");
        }
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
