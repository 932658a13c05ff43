//! What the built-in programs need to know about the running kernel: where
//! `struct sock` and `struct tcp_sock` keep the fields sk_msg reads from a
//! peer socket. The offsets come from the kernel's own BTF at load time
//! (`/sys/kernel/btf/vmlinux`), never from the kernel sockasm was built on.

use crate::btf::kernel::{KernelBtf, KernelBtfError};

/// One kernel struct member the programs read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Byte offset from the start of its struct: `struct sock` (which begins
    /// `tcp_sock`), or `struct sk_psock` for the `sk_psock.` fields.
    pub offset: u32,
    /// Its size in bytes (4 or 8).
    pub size: u32,
    /// `struct.member`, for listings.
    pub name: &'static str,
}

/// Offsets of the peer-socket fields sk_msg reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOffsets {
    /// Bytes waiting in the socket's receive queues, TCP's and the
    /// redirect's (`bpf_tcp_ingress` charges each redirected message to it on
    /// 6.18; on a kernel that did not, sk_msg would see only TCP's part and
    /// never spill, which `kernel_stalled_reader_pushes_writer_back` catches).
    pub rmem_alloc: Field,
    /// The socket's receive buffer size (`SO_RCVBUF`, or TCP's default).
    pub rcvbuf: Field,
    /// The socket cookie, to check that a read came from the expected socket.
    pub cookie: Field,
    /// `sock.sk_user_data`: the socket's `sk_psock` (low 3 bits are flags)
    /// while it is in a sockmap, 0 once the psock is dropped, which the
    /// kernel does only when no `sendmsg` on it holds the psock any more.
    pub user_data: Field,
    /// `sk_psock.ingress_msg.next`, from the start of `struct sk_psock`: the
    /// redirect queue is empty when it points back at `ingress_msg` itself.
    pub psock_ingress: Field,
    /// `sk_psock.msg_tot_len`, from the start of `struct sk_psock`: bytes
    /// queued by the redirect and not read yet.
    pub psock_tot_len: Field,
    /// `tcp_sock.write_seq`: the end of what the socket has handed to TCP
    /// (redirected writes never move it); sk_msg compares a writer's with an
    /// adopted peer's `confirm_seq`.
    pub write_seq: Field,
    /// `tcp_sock.repair`, a one-bit flag: set while user space may choose
    /// the socket's sequence numbers (TCP_REPAIR), so such a socket never
    /// joins: its key could be another connection's.
    pub repair: Flag,
}

/// A one-bit kernel flag: the byte that holds it and the bit's mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag {
    /// Byte offset from the start of `struct sock`.
    pub byte: u32,
    pub mask: u8,
    /// `struct.member`, for listings.
    pub name: &'static str,
}

/// The members, as (field, struct, member path in that struct, size).
const MEMBERS: [(&str, &str, &str, u32); 7] = [
    ("sock.sk_rmem_alloc", "sock", "sk_backlog.rmem_alloc", 4),
    ("sock.sk_rcvbuf", "sock", "sk_rcvbuf", 4),
    ("sock.sk_cookie", "sock", "__sk_common.skc_cookie", 8),
    ("sock.sk_user_data", "sock", "sk_user_data", 8),
    ("sk_psock.ingress_msg.next", "sk_psock", "ingress_msg.next", 8),
    ("sk_psock.msg_tot_len", "sk_psock", "msg_tot_len", 4),
    ("tcp_sock.write_seq", "tcp_sock", "write_seq", 4),
];

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(transparent)]
    Btf(#[from] KernelBtfError),
    #[error("{field} is {size} bytes in the kernel's BTF, sockasm reads {want}")]
    Size { field: &'static str, size: u32, want: u32 },
    #[error("{field} lies at offset {offset}, beyond what a 16-bit instruction offset can reach")]
    TooFar { field: &'static str, offset: u32 },
}

impl KernelOffsets {
    /// Resolves every field in a raw BTF blob (the contents of `/sys/kernel/btf/vmlinux`).
    pub fn from_btf(blob: &[u8]) -> Result<KernelOffsets, KernelError> {
        let btf = KernelBtf::parse(blob)?;
        let structs = ["sock", "tcp_sock", "sk_psock"];
        let ids = btf.find_structs(&structs)?;
        let mut out = [Field { offset: 0, size: 0, name: "" }; 7];
        for (slot, (name, strukt, path, want)) in out.iter_mut().zip(MEMBERS) {
            let id = structs.iter().zip(&ids).find(|(s, _)| **s == strukt).map_or(0, |(_, id)| *id);
            let m = btf.member_of(id, strukt, path)?;
            if m.size != want {
                return Err(KernelError::Size { field: name, size: m.size, want });
            }
            // The offsets are added to a pointer with `r += imm`; keep them small
            // so no one mistakes a corrupt BTF for a real offset.
            if m.offset > 32 * 1024 {
                return Err(KernelError::TooFar { field: name, offset: m.offset });
            }
            *slot = Field { offset: m.offset, size: m.size, name };
        }
        let [rmem_alloc, rcvbuf, cookie, user_data, psock_ingress, psock_tot_len, write_seq] = out;
        let bit = btf.flag_bit_of(ids[1], "tcp_sock", "repair")?;
        let byte =
            u32::try_from(bit / 8).map_err(|_| KernelError::TooFar { field: "tcp_sock.repair", offset: u32::MAX })?;
        if byte > 32 * 1024 {
            return Err(KernelError::TooFar { field: "tcp_sock.repair", offset: byte });
        }
        // BTF counts bits from the least significant bit on little-endian x86-64.
        let repair = Flag { byte, mask: 1 << (bit % 8), name: "tcp_sock.repair" };
        Ok(KernelOffsets { rmem_alloc, rcvbuf, cookie, user_data, psock_ingress, psock_tot_len, write_seq, repair })
    }

    /// One line per field, `NAME OFFSET SIZE` (the flag: `NAME BYTE MASK`),
    /// for keeping the offsets of one boot ([`KernelOffsets::from_text`]).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for f in [
            self.rmem_alloc,
            self.rcvbuf,
            self.cookie,
            self.user_data,
            self.psock_ingress,
            self.psock_tot_len,
            self.write_seq,
        ] {
            s += &format!("{} {} {}\n", f.name, f.offset, f.size);
        }
        s += &format!("{} {} {}\n", self.repair.name, self.repair.byte, self.repair.mask);
        s
    }

    /// Parses [`KernelOffsets::to_text`]; `None` unless every field is there,
    /// with the sizes and limits [`KernelOffsets::from_btf`] enforces.
    pub fn from_text(text: &str) -> Option<KernelOffsets> {
        let value = |name: &str| -> Option<(u32, u32)> {
            let line = text.lines().find(|l| l.split_whitespace().next() == Some(name))?;
            let mut w = line.split_whitespace().skip(1);
            let (a, b) = (w.next()?.parse().ok()?, w.next()?.parse().ok()?);
            (w.next().is_none() && a <= 32 * 1024).then_some((a, b))
        };
        let mut fields = [Field { offset: 0, size: 0, name: "" }; 7];
        for (slot, (name, _, _, want)) in fields.iter_mut().zip(MEMBERS) {
            let (offset, size) = value(name)?;
            if size != want {
                return None;
            }
            *slot = Field { offset, size, name };
        }
        let [rmem_alloc, rcvbuf, cookie, user_data, psock_ingress, psock_tot_len, write_seq] = fields;
        let (byte, mask) = value("tcp_sock.repair")?;
        let mask = u8::try_from(mask).ok().filter(|m| m.count_ones() == 1)?;
        let repair = Flag { byte, mask, name: "tcp_sock.repair" };
        Some(KernelOffsets { rmem_alloc, rcvbuf, cookie, user_data, psock_ingress, psock_tot_len, write_seq, repair })
    }
}

/// How the programs decide between the redirect and TCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The peer's receive queue decides (bounded memory; a full queue or a
    /// stream of small writes moves the connection to TCP for good).
    PeerAware(KernelOffsets),
    /// The kernel's BTF or the right to read kernel memory (CAP_PERFMON) is
    /// missing: every write to a peer in the map is redirected, with no
    /// bound on what a reader that stops reading can queue.
    PeerBlind { reason: String },
}

impl Policy {
    pub fn offsets(&self) -> Option<&KernelOffsets> {
        match self {
            Policy::PeerAware(o) => Some(o),
            Policy::PeerBlind { .. } => None,
        }
    }
}

impl Policy {
    /// Peer-blind: this process may not read kernel memory.
    pub fn without_perfmon() -> Policy {
        Policy::PeerBlind {
            reason: "without CAP_PERFMON the verifier refuses to store a socket's address or read kernel memory".into(),
        }
    }

    /// The policy for a kernel whose BTF is `blob` (named `origin` in the
    /// reason when it does not resolve every field).
    pub fn from_btf(blob: &[u8], origin: &str) -> Policy {
        match KernelOffsets::from_btf(blob) {
            Ok(o) => Policy::PeerAware(o),
            Err(e) => Policy::PeerBlind { reason: format!("{origin}: {e}") },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Offsets seen on one 6.18.44 build, for unit tests only: real loads
    /// always resolve them from the running kernel.
    pub(crate) fn offsets() -> KernelOffsets {
        let f = |offset, size, name| Field { offset, size, name };
        KernelOffsets {
            rmem_alloc: f(192, 4, "sock.sk_rmem_alloc"),
            rcvbuf: f(244, 4, "sock.sk_rcvbuf"),
            cookie: f(104, 8, "sock.sk_cookie"),
            user_data: f(656, 8, "sock.sk_user_data"),
            psock_ingress: f(392, 8, "sk_psock.ingress_msg.next"),
            psock_tot_len: f(412, 4, "sk_psock.msg_tot_len"),
            write_seq: f(1720, 4, "tcp_sock.write_seq"),
            repair: Flag { byte: 2121, mask: 1, name: "tcp_sock.repair" },
        }
    }

    #[test]
    fn offsets_round_trip_as_text_and_bad_text_is_refused() {
        let o = offsets();
        assert_eq!(KernelOffsets::from_text(&o.to_text()), Some(o));
        for bad in [
            "",
            &o.to_text().replace("sock.sk_cookie 104 8", "sock.sk_cookie 104 4"),
            &o.to_text().replace("tcp_sock.repair 2121 1", "tcp_sock.repair 2121 3"),
            &o.to_text().replace("sock.sk_rcvbuf 244 4", "sock.sk_rcvbuf 99999 4"),
            &o.to_text().lines().skip(1).collect::<Vec<_>>().join("\n"),
        ] {
            assert_eq!(KernelOffsets::from_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn corrupt_btf_is_an_error() {
        assert!(KernelOffsets::from_btf(&[]).is_err());
        assert!(KernelOffsets::from_btf(&[0x9f, 0xeb, 1, 0, 24, 0, 0, 0]).is_err());
    }
}
