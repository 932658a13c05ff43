//! Per-CPU counters: one PERCPU_ARRAY entry (key 0) holding one u64 per counter.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The counters in the order they sit in the map value.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Counter {
    SocketsAdded = 0,
    InsertFailures = 1,
    RedirectedMsgs = 2,
    RedirectedBytes = 3,
    /// Writes sent over TCP, for any of the reasons below.
    PassedMsgs = 4,
    PassedBytes = 5,
    /// Connections moved to TCP for good because they streamed small writes
    /// into a peer that did not keep up.
    SmallWriteStreams = 6,
    /// Sockets that stayed on TCP for good and left the SOCKHASH.
    SocketsLeft = 7,
    /// Connections whose peer's queue reached the bound: they go over TCP
    /// for good.
    Spills = 8,
    /// Writes over TCP because the peer's queue was full.
    PassQueueFull = 9,
    /// Writes over TCP because the peer is not in the map (or is leaving it).
    PassNoPeer = 10,
    /// Writes over TCP because what was read of the peer came from another socket.
    PassPeerStale = 11,
    /// The write that showed a stream of small writes.
    PassStream = 12,
    /// Writes of a connection already on TCP for good (that could not leave the map).
    PassForGood = 13,
    /// Established connections sock_ops left alone because of their ports.
    SocketsSkipped = 14,
    /// Established sockets in TCP_REPAIR mode, whose sequence numbers user
    /// space chose: they never join.
    SocketsRepairRefused = 15,
    /// Writes over TCP because the peer is in another network namespace and
    /// pairing is limited to one (`load --same-netns-only`, or peer-blind).
    PassOtherNetns = 16,
    /// Established sockets of the cgroup that predate `load`, put into the
    /// SOCKHASH by the adopt pass.
    SocketsAdopted = 17,
    /// Adopted sockets confirmed: peers may redirect into them.
    AdoptConfirmed = 18,
    /// Adopted sockets never confirmed in `load`'s rounds (a reader inside a
    /// read call, bytes arriving or unread); they stay on TCP.
    AdoptDeferred = 19,
    /// Established sockets the adopt pass left alone: no peer end of theirs
    /// was found in the attached cgroup (or two looked alike).
    AdoptUnpaired = 20,
    /// Writes over TCP because the adopted peer is not (yet) confirmed for
    /// them.
    PassPeerUnconfirmed = 21,
    /// Sockets already in the map whose key the adopt pass recomputed.
    AdoptKeyChecks = 22,
    /// ... and found different from the one sock_ops computed (a bug).
    AdoptKeyMismatches = 23,
}

impl Counter {
    pub const ALL: [Counter; 24] = [
        Counter::SocketsAdded,
        Counter::InsertFailures,
        Counter::RedirectedMsgs,
        Counter::RedirectedBytes,
        Counter::PassedMsgs,
        Counter::PassedBytes,
        Counter::SmallWriteStreams,
        Counter::SocketsLeft,
        Counter::Spills,
        Counter::PassQueueFull,
        Counter::PassNoPeer,
        Counter::PassPeerStale,
        Counter::PassStream,
        Counter::PassForGood,
        Counter::SocketsSkipped,
        Counter::SocketsRepairRefused,
        Counter::PassOtherNetns,
        Counter::SocketsAdopted,
        Counter::AdoptConfirmed,
        Counter::AdoptDeferred,
        Counter::AdoptUnpaired,
        Counter::PassPeerUnconfirmed,
        Counter::AdoptKeyChecks,
        Counter::AdoptKeyMismatches,
    ];
    /// Byte offset in the map value.
    pub const fn offset(self) -> i16 {
        self as i16 * 8
    }
    /// The name used in `status --json`.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::SocketsAdded => "sockets_added",
            Counter::InsertFailures => "insert_failures",
            Counter::RedirectedMsgs => "redirected_msgs",
            Counter::RedirectedBytes => "redirected_bytes",
            Counter::PassedMsgs => "passed_msgs",
            Counter::PassedBytes => "passed_bytes",
            Counter::SmallWriteStreams => "small_write_streams",
            Counter::SocketsLeft => "sockets_left",
            Counter::Spills => "spills",
            Counter::PassQueueFull => "tcp_peer_queue_full",
            Counter::PassNoPeer => "tcp_no_peer",
            Counter::PassPeerStale => "tcp_peer_stale",
            Counter::PassStream => "tcp_small_write_stream",
            Counter::PassForGood => "tcp_for_good",
            Counter::SocketsSkipped => "sockets_skipped_by_port",
            Counter::SocketsRepairRefused => "sockets_refused_repair",
            Counter::PassOtherNetns => "tcp_other_netns",
            Counter::SocketsAdopted => "sockets_adopted",
            Counter::AdoptConfirmed => "sockets_adopt_confirmed",
            Counter::AdoptDeferred => "sockets_adopt_deferred",
            Counter::AdoptUnpaired => "sockets_adopt_unpaired",
            Counter::PassPeerUnconfirmed => "tcp_peer_unconfirmed",
            Counter::AdoptKeyChecks => "adopt_key_checks",
            Counter::AdoptKeyMismatches => "adopt_key_mismatches",
        }
    }
    /// One line on what it counts (`status --format prometheus` HELP).
    pub const fn help(self) -> &'static str {
        match self {
            Counter::SocketsAdded => "Sockets sock_ops added to the SOCKHASH.",
            Counter::InsertFailures => "Sockets that could not be added (map full or key taken); they stay on TCP.",
            Counter::RedirectedMsgs => "Writes redirected to the peer socket, skipping the TCP/IP stack.",
            Counter::RedirectedBytes => "Bytes redirected to the peer socket, skipping the TCP/IP stack.",
            Counter::PassedMsgs => "Writes sent over TCP, for any reason.",
            Counter::PassedBytes => "Bytes sent over TCP, for any reason.",
            Counter::SmallWriteStreams => "Connections moved to TCP for good for streaming small writes.",
            Counter::SocketsLeft => "Sockets on TCP for good that left the SOCKHASH.",
            Counter::Spills => "Connections whose peer's queue reached the bound; they went over TCP for good.",
            Counter::PassQueueFull => "Writes over TCP because the peer's queue was full.",
            Counter::PassNoPeer => "Writes over TCP because the peer is not in the SOCKHASH.",
            Counter::PassPeerStale => "Writes over TCP because what was read of the peer came from another socket.",
            Counter::PassStream => "Writes that showed a stream of small writes.",
            Counter::PassForGood => "Writes of a connection already on TCP for good.",
            Counter::SocketsSkipped => {
                "Established connections left on TCP because of their ports (--ports, --exclude-ports)."
            }
            Counter::SocketsRepairRefused => {
                "Established sockets in TCP_REPAIR mode (sequence numbers chosen by user space), never admitted."
            }
            Counter::PassOtherNetns => {
                "Writes over TCP because the peer is in another network namespace and pairing is limited to one."
            }
            Counter::SocketsAdopted => "Established sockets opened before load, adopted into the SOCKHASH.",
            Counter::AdoptConfirmed => "Adopted sockets confirmed to receive redirected bytes.",
            Counter::AdoptDeferred => "Adopted sockets not confirmed in load's rounds; they stay on TCP.",
            Counter::AdoptUnpaired => "Established sockets not adopted: their peer end was not found in the cgroup.",
            Counter::PassPeerUnconfirmed => "Writes over TCP because the adopted peer is not confirmed for them.",
            Counter::AdoptKeyChecks => "Keys of sockets sock_ops added, recomputed by the adopt pass.",
            Counter::AdoptKeyMismatches => {
                "Recomputed keys that differed from sock_ops' (a bug; those sockets are untouched)."
            }
        }
    }
}

pub const VALUE_SIZE: u32 = 8 * Counter::ALL.len() as u32;

/// Counter totals summed over CPUs.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Totals(pub [u64; Counter::ALL.len()]);

impl Totals {
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }
    /// Sums per-CPU values (each `VALUE_SIZE` bytes, native endian).
    pub fn sum<'a>(per_cpu: impl IntoIterator<Item = &'a [u8]>) -> Totals {
        let mut t = [0u64; Counter::ALL.len()];
        for v in per_cpu {
            for (i, slot) in t.iter_mut().enumerate() {
                if let Some(b) = v.get(i * 8..i * 8 + 8) {
                    *slot += u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
                }
            }
        }
        Totals(t)
    }
}

/// In JSON: one object, a key per counter ([`Counter::name`]) in
/// [`Counter::ALL`] order.
impl Serialize for Totals {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(Counter::ALL.len()))?;
        for c in Counter::ALL {
            m.serialize_entry(c.name(), &self.get(c))?;
        }
        m.end()
    }
}

/// Every counter must be there: a missing one is an error naming it.
impl<'de> Deserialize<'de> for Totals {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Totals, D::Error> {
        let m = BTreeMap::<String, u64>::deserialize(d)?;
        let mut t = Totals::default();
        for c in Counter::ALL {
            t.0[c as usize] = *m.get(c.name()).ok_or_else(|| D::Error::missing_field(c.name()))?;
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_as_json_name_every_counter() {
        let mut t = Totals::default();
        t.0[Counter::RedirectedBytes as usize] = 7;
        let v = serde_json::to_value(t).unwrap();
        assert_eq!(v["redirected_bytes"], 7);
        assert_eq!(v.as_object().unwrap().len(), Counter::ALL.len());
        assert_eq!(serde_json::from_value::<Totals>(v.clone()).unwrap(), t);
        let mut cut = v;
        cut.as_object_mut().unwrap().remove("tcp_for_good");
        let e = serde_json::from_value::<Totals>(cut).unwrap_err().to_string();
        assert!(e.contains("missing field `tcp_for_good`"), "{e}");
    }

    #[test]
    fn order_matches_discriminants() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{}", c.name());
        }
    }
}
