//! The deterministic byte stream every connection carries, and its checker.
//!
//! A stream starts with a 16-byte header that names it, then a body that is a
//! pure function of that name and the byte offset:
//!
//! ```text
//! offset  size  field
//!      0     4  magic "SKA1"
//!      4     4  tag: FNV-1a of a free-form label (e.g. a namespace name), LE
//!      8     8  connection index, LE
//!     16     …  body, in 4 KiB blocks; block j is
//!               [stamp_j = splitmix64(seed ^ j·γ), 8 bytes LE] ++ TABLE[stamp_j % 64][8..4096]
//! ```
//! The stamp makes every block unique to (stream, position); the table (64
//! pseudo-random 4 KiB blocks, fixed) makes a shift by any number of bytes
//! visible. Generating and comparing is memcpy/memcmp, fast even in debug
//! builds. A receiver that knows nothing in advance reads the header, rebuilds
//! the body and checks every byte: bytes from another connection or another
//! namespace (cross-talk), reordered, lost or duplicated bytes all show up as a
//! [`Mismatch`] at a precise offset.

use std::fmt;

pub const HEADER_LEN: usize = 16;
pub const MAGIC: [u8; 4] = *b"SKA1";

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, 32 bits: the tag of a label.
pub fn tag_hash(label: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in label.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The name of one stream: whose it is and which connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StreamId {
    pub tag: u32,
    pub conn: u64,
}

impl StreamId {
    pub fn new(label: &str, conn: u64) -> StreamId {
        StreamId { tag: tag_hash(label), conn }
    }

    pub fn header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4..8].copy_from_slice(&self.tag.to_le_bytes());
        h[8..16].copy_from_slice(&self.conn.to_le_bytes());
        h
    }

    /// Parses a header; `None` if the magic is wrong.
    pub fn parse(h: &[u8; HEADER_LEN]) -> Option<StreamId> {
        if h[0..4] != MAGIC {
            return None;
        }
        Some(StreamId {
            tag: u32::from_le_bytes(h[4..8].try_into().ok()?),
            conn: u64::from_le_bytes(h[8..16].try_into().ok()?),
        })
    }

    fn seed(&self) -> u64 {
        splitmix64(((self.tag as u64) << 32) ^ self.conn.rotate_left(17) ^ 0x534b_4131)
    }
}

/// Body block size.
pub const BLOCK: usize = 4096;
const TABLE_BLOCKS: usize = 64;

fn table() -> &'static [u8] {
    static T: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t = vec![0u8; BLOCK * TABLE_BLOCKS];
        for (i, c) in t.chunks_exact_mut(8).enumerate() {
            c.copy_from_slice(&splitmix64(0x5eed_0000 ^ i as u64).to_le_bytes());
        }
        t
    })
}

/// The byte stream of one [`StreamId`].
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    pub id: StreamId,
    header: [u8; HEADER_LEN],
    seed: u64,
}

impl Pattern {
    pub fn new(id: StreamId) -> Pattern {
        Pattern { id, header: id.header(), seed: id.seed() }
    }

    fn stamp(&self, block: u64) -> u64 {
        splitmix64(self.seed ^ block.wrapping_mul(GAMMA))
    }

    /// Fills `buf` with stream bytes `[offset, offset + buf.len())`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut pos = offset;
        let mut out = &mut buf[..];
        if pos < HEADER_LEN as u64 {
            let n = (HEADER_LEN - pos as usize).min(out.len());
            out[..n].copy_from_slice(&self.header[pos as usize..pos as usize + n]);
            out = &mut out[n..];
            pos += n as u64;
        }
        let table = table();
        while !out.is_empty() {
            let q = pos - HEADER_LEN as u64;
            let j = q / BLOCK as u64;
            let mut r = (q % BLOCK as u64) as usize;
            let stamp = self.stamp(j);
            let n = (BLOCK - r).min(out.len());
            let (now, rest) = out.split_at_mut(n);
            let mut w = 0;
            if r < 8 {
                let k = (8 - r).min(n);
                now[..k].copy_from_slice(&stamp.to_le_bytes()[r..r + k]);
                w = k;
                r += k;
            }
            if w < n {
                let base = (stamp % TABLE_BLOCKS as u64) as usize * BLOCK;
                now[w..].copy_from_slice(&table[base + r..base + r + (n - w)]);
            }
            out = rest;
            pos += n as u64;
        }
    }
}

/// The first byte where a stream differed from what it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The stream the receiver expected (for a server: the one the header named).
    pub expected_stream: Option<StreamId>,
    pub offset: u64,
    pub expected: u8,
    pub got: u8,
    pub what: &'static str,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at stream offset {}: expected byte {:#04x}, got {:#04x}",
            self.what, self.offset, self.expected, self.got
        )?;
        if let Some(id) = self.expected_stream {
            write!(f, " (stream tag {:#010x} conn {})", id.tag, id.conn)?;
        }
        Ok(())
    }
}

/// Compares `data` with the pattern at `offset`; `scratch` is reused.
pub fn check(p: &Pattern, offset: u64, data: &[u8], scratch: &mut Vec<u8>) -> Result<(), Mismatch> {
    scratch.resize(data.len(), 0);
    p.fill(offset, scratch);
    if scratch[..] == *data {
        return Ok(());
    }
    let i = scratch.iter().zip(data).position(|(a, b)| a != b).unwrap_or(0);
    Err(Mismatch {
        expected_stream: Some(p.id),
        offset: offset + i as u64,
        expected: scratch[i],
        got: data[i],
        what: "data mismatch",
    })
}

/// Receiver-side checker for a stream whose sender is not known in advance:
/// takes the header from the data, then checks every body byte.
pub struct StreamChecker {
    expect_tag: Option<u32>,
    header: Vec<u8>,
    pattern: Option<Pattern>,
    offset: u64,
    scratch: Vec<u8>,
}

impl StreamChecker {
    pub fn new(expect_tag: Option<u32>) -> StreamChecker {
        StreamChecker {
            expect_tag,
            header: Vec::with_capacity(HEADER_LEN),
            pattern: None,
            offset: 0,
            scratch: Vec::new(),
        }
    }

    /// The stream named by the header, once 16 bytes arrived.
    pub fn stream(&self) -> Option<StreamId> {
        self.pattern.map(|p| p.id)
    }

    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), Mismatch> {
        if self.pattern.is_none() {
            let n = (HEADER_LEN - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            for (i, b) in self.header.iter().enumerate().take(4) {
                if *b != MAGIC[i] {
                    return Err(Mismatch {
                        expected_stream: None,
                        offset: i as u64,
                        expected: MAGIC[i],
                        got: *b,
                        what: "bad stream header (not a sockasm pattern)",
                    });
                }
            }
            if self.header.len() < HEADER_LEN {
                self.offset += n as u64;
                return Ok(());
            }
            let h: [u8; HEADER_LEN] = self.header[..].try_into().unwrap_or([0; HEADER_LEN]);
            let id = StreamId::parse(&h).unwrap_or(StreamId { tag: 0, conn: 0 });
            if let Some(t) = self.expect_tag
                && t != id.tag
            {
                let (e, g) = (t.to_le_bytes(), id.tag.to_le_bytes());
                let i = (0..4).find(|&i| e[i] != g[i]).unwrap_or(0);
                return Err(Mismatch {
                    expected_stream: None,
                    offset: 4 + i as u64,
                    expected: e[i],
                    got: g[i],
                    what: "stream of a foreign tag (cross-talk)",
                });
            }
            self.pattern = Some(Pattern::new(id));
            self.offset += n as u64;
            data = &data[n..];
        }
        if let Some(p) = &self.pattern {
            check(p, self.offset, data, &mut self.scratch)?;
        }
        self.offset += data.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_is_split_invariant_and_checker_accepts_it() {
        let p = Pattern::new(StreamId::new("ns-a", 3));
        const LEN: usize = 3 * BLOCK + 1000;
        let mut whole = vec![0u8; LEN];
        p.fill(0, &mut whole);
        assert_eq!(&whole[..4], b"SKA1");
        // Blocks differ from each other, and not only in the stamp.
        assert_ne!(whole[16..16 + BLOCK], whole[16 + BLOCK..16 + 2 * BLOCK]);
        for split in [1usize, 7, 16, 17, 333, BLOCK - 1, BLOCK, BLOCK + 9, LEN] {
            let mut parts = vec![0u8; LEN];
            let mut off = 0;
            while off < LEN {
                let n = split.min(LEN - off);
                p.fill(off as u64, &mut parts[off..off + n]);
                off += n;
            }
            assert_eq!(parts, whole, "split {split}");
            let mut c = StreamChecker::new(Some(tag_hash("ns-a")));
            for chunk in whole.chunks(split) {
                c.feed(chunk).unwrap();
            }
            assert_eq!(c.stream(), Some(p.id));
        }
    }

    #[test]
    fn detects_cross_talk_and_corruption() {
        let a = Pattern::new(StreamId::new("a", 0));
        let b = Pattern::new(StreamId::new("b", 0));
        let mut buf = vec![0u8; 64];
        b.fill(0, &mut buf);
        let e = StreamChecker::new(Some(tag_hash("a"))).feed(&buf).unwrap_err();
        assert!(e.what.contains("foreign"));
        a.fill(0, &mut buf);
        buf[40] ^= 1;
        let e = StreamChecker::new(None).feed(&buf).unwrap_err();
        assert_eq!(e.offset, 40);
        // Another connection's body under the right header is caught too.
        let c1 = Pattern::new(StreamId::new("a", 1));
        let mut mixed = vec![0u8; 64];
        a.fill(0, &mut mixed[..16]);
        c1.fill(16, &mut mixed[16..]);
        assert!(StreamChecker::new(None).feed(&mixed).is_err());
        // A shift by one whole block is caught by the stamps.
        let mut one = vec![0u8; 2 * BLOCK];
        a.fill(16 + BLOCK as u64, &mut one);
        let mut c = StreamChecker::new(None);
        let mut h = vec![0u8; 16];
        a.fill(0, &mut h);
        c.feed(&h).unwrap();
        assert!(c.feed(&one).is_err());
    }
}
