//! Per-CPU counters: one PERCPU_ARRAY entry (key 0) holding eight u64s.

/// The counters in the order they sit in the map value.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Counter {
    SocketsAdded = 0,
    InsertFailures = 1,
    RedirectedMsgs = 2,
    RedirectedBytes = 3,
    PassedMsgs = 4,
    PassedBytes = 5,
    /// Connections moved to TCP because they streamed small writes.
    SmallWriteFallbacks = 6,
    /// Sockets that stayed on TCP for good and left the SOCKHASH.
    SocketsLeft = 7,
}

impl Counter {
    pub const ALL: [Counter; 8] = [
        Counter::SocketsAdded,
        Counter::InsertFailures,
        Counter::RedirectedMsgs,
        Counter::RedirectedBytes,
        Counter::PassedMsgs,
        Counter::PassedBytes,
        Counter::SmallWriteFallbacks,
        Counter::SocketsLeft,
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
            Counter::SmallWriteFallbacks => "small_write_fallbacks",
            Counter::SocketsLeft => "sockets_left",
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
