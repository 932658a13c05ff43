//! The SOCKHASH key, shared by both programs and by user space: the
//! connection's two initial sequence numbers and the socket's role.
//!
//! ```text
//! offset  size  field
//!      0     4  the active (connecting) end's ISN + 1
//!      4     4  the passive (accepting) end's ISN + 1
//!      8     4  role: 1 the active end, 2 the passive end
//!     12     4  0
//! ```
//! Both ends of one TCP connection see the same two numbers, whatever
//! addresses NAT or namespaces show each of them: sock_ops takes them from
//! the active end's `(snd_una - bytes_acked + 1, rcv_nxt)` at
//! ACTIVE_ESTABLISHED and the passive end's `(rcv_nxt, snd_nxt)` at
//! PASSIVE_ESTABLISHED (`snd_una - bytes_acked + 1` rather than `snd_nxt`,
//! which a TCP Fast Open SYN's data has already moved). The role keeps the
//! two sockets apart when the two ISNs happen to be equal; a socket's peer
//! is the key with the other role.

pub const KEY_SIZE: usize = 16;
pub const OFF_ACTIVE_ISN: i16 = 0;
pub const OFF_PASSIVE_ISN: i16 = 4;
pub const OFF_ROLE: i16 = 8;
pub const OFF_ZERO: i16 = 12;
pub const ROLE_ACTIVE: i32 = 1;
pub const ROLE_PASSIVE: i32 = 2;

/// Where the programs build the key on the stack: `r10 - 16`.
pub const STACK_KEY: i16 = -(KEY_SIZE as i16);

/// A decoded key, for `status` and for tests.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SockKey {
    pub active_isn1: u32,
    pub passive_isn1: u32,
    /// True for the active (connecting) end.
    pub active: bool,
}

impl SockKey {
    pub fn to_bytes(&self) -> [u8; KEY_SIZE] {
        let mut b = [0u8; KEY_SIZE];
        b[0..4].copy_from_slice(&self.active_isn1.to_ne_bytes());
        b[4..8].copy_from_slice(&self.passive_isn1.to_ne_bytes());
        let role = if self.active { ROLE_ACTIVE } else { ROLE_PASSIVE } as u32;
        b[8..12].copy_from_slice(&role.to_ne_bytes());
        b
    }

    /// `None` for a wrong length or a role that is neither end.
    pub fn from_bytes(b: &[u8]) -> Option<SockKey> {
        let b: &[u8; KEY_SIZE] = b.try_into().ok()?;
        let word = |at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let active = match word(8) as i32 {
            ROLE_ACTIVE => true,
            ROLE_PASSIVE => false,
            _ => return None,
        };
        Some(SockKey { active_isn1: word(0), passive_isn1: word(4), active })
    }

    /// The key the other end of the connection is stored under.
    pub fn peer(&self) -> SockKey {
        SockKey { active: !self.active, ..*self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_mirrors() {
        let k = SockKey { active_isn1: 0x1234_5678, passive_isn1: 0x9abc_def0, active: true };
        let b = k.to_bytes();
        assert_eq!(SockKey::from_bytes(&b), Some(k));
        assert_eq!(&b[12..], &[0, 0, 0, 0]);
        assert_ne!(k.peer().to_bytes(), b, "equal ISNs or not, the two ends' keys differ");
        assert_eq!(k.peer().peer(), k);
        assert_eq!(SockKey::from_bytes(&b[1..]), None);
        let mut bad = b;
        bad[8] = 3;
        assert_eq!(SockKey::from_bytes(&bad), None);
    }
}
