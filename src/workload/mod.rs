//! Traffic generators that check every byte: the pieces behind the hidden
//! `sockasm worker` command (used by the kernel tests) and reusable by a
//! benchmark comparing TCP through the bypass, plain TCP and AF_UNIX.
//!
//! - [`pattern`]: the deterministic, self-describing byte stream of each
//!   connection (header naming tag + connection index, then a body that is a
//!   pure function of both), a split-invariant [`pattern::Checksum`], and a
//!   receiver-side [`pattern::StreamChecker`].
//! - [`server`]: accepts N connections and echoes or sinks them, with a choice
//!   of read loops ([`ReaderKind`]): blocking thread per connection, epoll
//!   level- or edge-triggered, or FIONREAD-sized reads like nginx.
//! - [`client`]: N connections, C at a time, each sending B bytes of its
//!   pattern and checking what comes back: the echo byte for byte, the
//!   server's checksum (stream mode), or request/response rounds (ping-pong,
//!   with latencies).
//! - [`net`]: listeners and connections for [`Endpoint`]s, entering a cgroup
//!   or a network namespace, raising RLIMIT_NOFILE.
//!
//! Results are plain structs with byte counts and timings that render as one
//! JSON line.

pub mod client;
pub mod net;
pub mod pair;
pub mod pattern;
pub mod server;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use client::{ClientConfig, ClientMode, ClientResult, run_client};
pub use net::{Endpoint, Listener, Stream, connect, enter_cgroup, enter_netns, raise_nofile};
pub use pattern::{Checksum, Mismatch, Pattern, StreamChecker, StreamId, tag_hash};
pub use server::{ReaderKind, ServeConfig, ServeMode, ServerResult, serve};

/// What carries the bytes in a comparison. The workload itself only sees an
/// [`Endpoint`]; whether TCP goes through the bypass depends on the cgroup the
/// processes run in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    /// TCP over loopback, both ends in a cgroup with the bypass attached.
    TcpBypass,
    /// TCP over loopback, outside any bypassed cgroup.
    Tcp,
    /// AF_UNIX stream socket.
    Unix,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::TcpBypass, Transport::Tcp, Transport::Unix];
    pub fn name(self) -> &'static str {
        match self {
            Transport::TcpBypass => "tcp-bypass",
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
        }
    }
    pub fn is_tcp(self) -> bool {
        self != Transport::Unix
    }
}

impl FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Transport, String> {
        Transport::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown transport {s:?} (tcp-bypass, tcp, unix)"))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong in a workload.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The message shows the I/O error, so it is not also a `source()`.
    #[error("{op}: {err}")]
    Io { op: String, err: std::io::Error },
    #[error("connection {conn}: {mismatch}")]
    Mismatch { conn: String, mismatch: Mismatch },
    #[error("connection {conn}: {msg}")]
    Protocol { conn: String, msg: String },
    #[error("timed out after {0:?}: {1}")]
    Timeout(Duration, String),
    #[error("{0} connection(s) failed; first: {1}")]
    Failed(usize, Box<WorkloadError>),
}

impl WorkloadError {
    pub fn io(op: impl Into<String>, source: std::io::Error) -> WorkloadError {
        WorkloadError::Io { op: op.into(), err: source }
    }
    fn sys(op: &'static str) -> impl FnOnce(nix::errno::Errno) -> WorkloadError {
        move |e| WorkloadError::Io { op: op.to_string(), err: e.into() }
    }
    /// True for a data error (mismatch, checksum, short stream), as opposed to
    /// a setup or system error.
    pub fn is_data_error(&self) -> bool {
        match self {
            WorkloadError::Mismatch { .. } | WorkloadError::Protocol { .. } => true,
            WorkloadError::Failed(_, first) => first.is_data_error(),
            _ => false,
        }
    }
}

/// Bytes per second as MB/s (10^6).
pub fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    if d.is_zero() { 0.0 } else { bytes as f64 / d.as_secs_f64() / 1e6 }
}
