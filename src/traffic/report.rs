//! The worker protocol: the JSON lines `sockasm worker` prints on stdout,
//! one object a line, and `sockasm bench` (and the kernel tests) read back.
//! A server prints [`Listening`] and then [`ServeReport`]; a client
//! [`ClientReport`]; `pair` [`PairReport`] (after [`Ready`] when it waits
//! for a go file); `chaos` [`ChaosReport`]. Any role that fails prints
//! [`Failed`] instead. Every field is required when read back: a missing one
//! is an error naming it, never a 0.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// For `Option` fields: serde would take a missing key as `None`; with
/// this it must be present (`null` for none).
fn required<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::deserialize(d)
}

/// `v` as one line of JSON.
pub fn line(v: &impl Serialize) -> String {
    // serde_json fails only on maps with non-string keys, which no report has.
    serde_json::to_string(v).expect("worker reports serialize")
}

/// The last line of a worker that failed: `{"ok": false, "error": ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failed {
    /// Always false.
    pub ok: bool,
    pub error: String,
}

impl Failed {
    pub fn new(error: impl Into<String>) -> Failed {
        Failed { ok: false, error: error.into() }
    }
}

/// A server's first line: its TCP port (null for a unix socket).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listening {
    #[serde(deserialize_with = "required")]
    pub listening: Option<u16>,
}

/// `pair --go-file`: the sockets are up; the worker waits for the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ready {
    pub ready: bool,
}

/// Where a worker ran (see [`super::probe`]); part of every timed report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// The cgroup v2 path (`/a/b`, as in /proc/self/cgroup).
    pub cgroup: String,
    /// The CPUs it may run on, as `0,1`.
    pub affinity: String,
    /// The CPUs its connection threads were seen on, as `0,1`.
    pub ran_on: String,
}

/// What a server saw (`"role": "serve"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServeReport {
    pub ok: bool,
    pub role: String,
    #[serde(deserialize_with = "required")]
    pub reader: Option<String>,
    #[serde(deserialize_with = "required")]
    pub mode: Option<String>,
    pub conns: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub distinct_streams: u64,
    pub elapsed_us: u64,
    pub mb_per_s_in: f64,
    pub reads: u64,
    pub fionread_calls: u64,
    pub fionread_zero_data: u64,
    pub fionread_zero_eof: u64,
    pub fionread_zero_eagain: u64,
    pub spurious_eagain: u64,
    pub transactions: u64,
    pub cpu_us: u64,
    #[serde(flatten)]
    pub placement: Placement,
}

/// What a client did (`"role": "client"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    pub ok: bool,
    pub role: String,
    #[serde(deserialize_with = "required")]
    pub mode: Option<String>,
    pub conns: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub elapsed_us: u64,
    pub mb_per_s: f64,
    /// Null when no connection was made.
    #[serde(deserialize_with = "required")]
    pub connect_us_avg: Option<u64>,
    pub peak_open: u64,
    #[serde(deserialize_with = "required")]
    pub first_local_port: Option<u16>,
    /// Ping-pong round trips measured.
    pub transactions: u64,
    pub tps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub gbps: f64,
    pub measured_bytes: u64,
    pub spurious_eagain: u64,
    pub cpu_us: u64,
    #[serde(flatten)]
    pub placement: Placement,
}

/// What one `pair` scenario observed. Each scenario fills its own fields;
/// the others are left out of the line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PairReport {
    pub ok: bool,
    /// stall: bytes the writer got in before the socket pushed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_back: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_rmem: Option<u64>,
    /// bursts: the most the reader's socket held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_reader_rmem: Option<u64>,
    /// semantics: what recv(MSG_WAITALL) of 100 bytes returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waitall_got: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oob_byte: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_after_oob: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spliced: Option<u64>,
    /// repair: a TCP_REPAIR socket was set up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repaired: Option<bool>,
    /// fastopen: connections whose data came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tfo_echoed: Option<u64>,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// What `chaos` did: connections, bytes, and reads per read mode (by name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChaosReport {
    pub ok: bool,
    pub conns: u64,
    pub bytes: u64,
    pub reads: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let full = ClientReport {
            ok: true,
            role: "client".into(),
            mode: Some("pingpong".into()),
            conns: 1,
            bytes_sent: 64,
            bytes_received: 64,
            elapsed_us: 10,
            mb_per_s: 6.4,
            connect_us_avg: Some(3),
            peak_open: 1,
            first_local_port: Some(40000),
            transactions: 1,
            tps: 1e5,
            p50_us: 9.5,
            p99_us: 9.5,
            max_us: 9.5,
            gbps: 0.0,
            measured_bytes: 0,
            spurious_eagain: 0,
            cpu_us: 7,
            placement: Placement { cgroup: "/x".into(), affinity: "0,1".into(), ran_on: "1".into() },
        };
        let mut v = serde_json::to_value(&full).unwrap();
        assert_eq!(serde_json::from_value::<ClientReport>(v.clone()).unwrap(), full);
        for key in ["bytes_sent", "cpu_us", "ran_on", "first_local_port"] {
            let mut cut = v.clone();
            cut.as_object_mut().unwrap().remove(key);
            let e = serde_json::from_value::<ClientReport>(cut).unwrap_err().to_string();
            assert!(e.contains(&format!("missing field `{key}`")), "{key}: {e}");
        }
        // A null is not a number either.
        v["tps"] = serde_json::Value::Null;
        assert!(serde_json::from_value::<ClientReport>(v).is_err());
    }

    #[test]
    fn pair_lines_carry_only_their_scenarios_fields() {
        let r = PairReport { ok: true, repaired: Some(true), bytes_up: 5, bytes_down: 0, ..PairReport::default() };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(line, r#"{"ok":true,"repaired":true,"bytes_up":5,"bytes_down":0}"#);
        assert_eq!(serde_json::from_str::<PairReport>(&line).unwrap(), r);
    }
}
