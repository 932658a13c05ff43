//! The SOCKHASH key, shared by both programs and by user space.
//!
//! ```text
//! offset  size  field
//!      0     8  network-namespace cookie (bpf_get_netns_cookie)
//!      8    16  local address, IPv6; IPv4 as ::ffff:a.b.c.d
//!     24    16  remote address, same form
//!     40     4  local port, host byte order
//!     44     4  remote port, host byte order
//! ```
//! The cookie keeps two namespaces that hold the same 4-tuple apart; the
//! v4-mapped form makes an AF_INET client and a dual-stack AF_INET6 server
//! (listening on `::`) produce matching keys.

use std::net::{IpAddr, Ipv6Addr};

pub const KEY_SIZE: usize = 48;
pub const OFF_NETNS: i16 = 0;
pub const OFF_LOCAL_IP: i16 = 8;
pub const OFF_REMOTE_IP: i16 = 24;
pub const OFF_LOCAL_PORT: i16 = 40;
pub const OFF_REMOTE_PORT: i16 = 44;

/// Where the programs build the key on the stack: `r10 - 48`.
pub const STACK_KEY: i16 = -(KEY_SIZE as i16);

/// A decoded key, for `status` and for tests.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SockKey {
    pub netns_cookie: u64,
    pub local: Ipv6Addr,
    pub remote: Ipv6Addr,
    pub local_port: u16,
    pub remote_port: u16,
}

impl SockKey {
    pub fn new(netns_cookie: u64, local: IpAddr, local_port: u16, remote: IpAddr, remote_port: u16) -> SockKey {
        let v6 = |a: IpAddr| match a {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        SockKey { netns_cookie, local: v6(local), remote: v6(remote), local_port, remote_port }
    }

    pub fn to_bytes(&self) -> [u8; KEY_SIZE] {
        let mut b = [0u8; KEY_SIZE];
        b[0..8].copy_from_slice(&self.netns_cookie.to_ne_bytes());
        b[8..24].copy_from_slice(&self.local.octets());
        b[24..40].copy_from_slice(&self.remote.octets());
        b[40..44].copy_from_slice(&(self.local_port as u32).to_ne_bytes());
        b[44..48].copy_from_slice(&(self.remote_port as u32).to_ne_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<SockKey> {
        let b: &[u8; KEY_SIZE] = b.try_into().ok()?;
        let ip = |r: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(r).unwrap_or([0; 16]));
        let word = |r: &[u8]| u32::from_ne_bytes(r.try_into().unwrap_or([0; 4]));
        Some(SockKey {
            netns_cookie: u64::from_ne_bytes(b[0..8].try_into().ok()?),
            local: ip(&b[8..24]),
            remote: ip(&b[24..40]),
            local_port: word(&b[40..44]) as u16,
            remote_port: word(&b[44..48]) as u16,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_maps_into_v6_and_round_trips() {
        let k = SockKey::new(7, "127.0.0.1".parse().unwrap(), 5000, "::1".parse().unwrap(), 80);
        assert_eq!(k.local, "::ffff:127.0.0.1".parse::<Ipv6Addr>().unwrap());
        let b = k.to_bytes();
        assert_eq!(&b[8..24], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
        assert_eq!(SockKey::from_bytes(&b), Some(k));
        assert_eq!(SockKey::from_bytes(&b[1..]), None);
    }
}
