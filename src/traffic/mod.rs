//! The one traffic generator, behind the hidden `sockasm worker` command:
//! the kernel tests and `sockasm bench` run it in child processes, so that
//! their cgroup and namespace membership is real. Not part of the library's
//! public API.
//!
//! - [`pattern`]: the deterministic, self-describing byte stream of each
//!   connection (header naming tag + connection index, then a body that is a
//!   pure function of both) and a receiver-side [`pattern::StreamChecker`]:
//!   every byte either end receives is checked.
//! - [`serve`]: accepts N connections and echoes (byte by byte, or whole
//!   request messages), sinks or drains them, with a choice of read loops
//!   ([`ReaderKind`]).
//! - [`client`]: N connections, C at a time: echo, stream, ping-pong
//!   (request/response) or send-and-close, bounded by bytes, rounds, or a
//!   warm-up and a measured window (what `sockasm bench` uses).
//! - [`pair`]: both ends of one connection in one thread, for the scenarios
//!   whose outcome must not depend on the machine's speed.
//! - [`chaos`]: many connections, random writes, and readers that change
//!   how they read at every call (blocking, `MSG_WAITALL`, `SO_RCVLOWAT`,
//!   `MSG_PEEK`, non-blocking, epoll, FIONREAD).
//! - [`net`]: listeners and connections for [`Endpoint`]s, entering a cgroup
//!   or a network namespace, raising RLIMIT_NOFILE.
//! - [`report`]: the worker protocol, the typed JSON lines a worker prints
//!   and the benchmark reads back.
//! - [`probe`]: where and at what CPU cost the process ran (getrusage,
//!   sched_getcpu samples, its affinity and cgroup), and the one percentile.

pub mod adopt;
pub mod chaos;
pub mod client;
pub mod net;
pub mod pair;
pub mod pattern;
pub mod probe;
pub mod report;
pub mod serve;

use std::time::Duration;

pub use client::{ClientConfig, ClientMode, run_client};
pub use net::{Endpoint, Listener, enter_cgroup, enter_netns, raise_nofile};
pub use pattern::{Mismatch, tag_hash};
pub use serve::{ReaderKind, ServeConfig, ServeMode, serve};

/// Name (`/proc/PID/task/TID/comm`) of the threads that carry a
/// connection's traffic, so an observer (the benchmark's CPU sampler) can
/// tell them from the watchdog and the waiting main thread.
pub const CONN_THREAD: &str = "sockasm-conn";

/// Second word of a sink's `[received length, TRAILER_OK]` answer: every
/// byte it received matched the pattern.
pub const TRAILER_OK: u64 = 0x004b_4f48_434e_4542; // "BENCHOK"

/// Everything that can go wrong in a workload. Each message shows its cause
/// itself, so none is also a `source()`.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error("{op}: {err}")]
    Io { op: String, err: std::io::Error },
    #[error("connection {conn}: {mismatch}")]
    Mismatch { conn: String, mismatch: Mismatch },
    #[error("connection {conn}: {msg}")]
    Protocol { conn: String, msg: String },
    #[error("timed out after {0:?}: {1}")]
    Timeout(Duration, String),
    #[error("{0} connection(s) failed; first: {1}")]
    Failed(usize, Box<TrafficError>),
}

impl TrafficError {
    pub fn io(op: impl Into<String>, err: std::io::Error) -> TrafficError {
        TrafficError::Io { op: op.into(), err }
    }
    fn sys(op: &'static str) -> impl FnOnce(nix::errno::Errno) -> TrafficError {
        move |e| TrafficError::Io { op: op.to_string(), err: e.into() }
    }
    /// An I/O error of connection `name`; a blocking socket's timeout
    /// (EAGAIN, ETIMEDOUT) is reported as the run's timeout.
    fn conn_io(name: &str, op: &str, e: std::io::Error, timeout: Duration) -> TrafficError {
        if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
            TrafficError::Timeout(timeout, format!("{name}: {op}"))
        } else {
            TrafficError::io(format!("{name}: {op}"), e)
        }
    }
    /// True for a data error (mismatch, checksum, short stream), as opposed to
    /// a setup or system error.
    pub fn is_data_error(&self) -> bool {
        match self {
            TrafficError::Mismatch { .. } | TrafficError::Protocol { .. } => true,
            TrafficError::Failed(_, first) => first.is_data_error(),
            _ => false,
        }
    }

    /// One error for several: the first data error (rather than its
    /// consequences elsewhere), counted.
    fn first_of(mut errors: Vec<TrafficError>) -> Option<TrafficError> {
        let n = errors.len();
        let i = errors.iter().position(|e| e.is_data_error()).unwrap_or(0);
        match n {
            0 => None,
            1 => errors.pop(),
            _ => Some(TrafficError::Failed(n, Box::new(errors.swap_remove(i)))),
        }
    }
}

/// Bytes per second as MB/s (10^6).
pub fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    if d.is_zero() { 0.0 } else { bytes as f64 / d.as_secs_f64() / 1e6 }
}
