//! Context structs the programs read (`struct bpf_sock_ops`, `struct
//! sk_msg_md` in `include/uapi/linux/bpf.h`): the offset of every field
//! sockasm loads, and its size. One table per struct; the integration test
//! `uapi::` checks each entry against clang's `offsetof`/`sizeof` on the C
//! header, so a wrong offset cannot hide.

/// One field of a context struct, as the C header spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtxField {
    /// The member designator, e.g. `args[1]`.
    pub member: &'static str,
    /// `offsetof(struct, member)`.
    pub offset: i16,
    /// `sizeof` the member, in bytes.
    pub size: u8,
}

macro_rules! ctx_struct {
    (
        $(#[$m:meta])*
        $module:ident, $cname:literal {
            $( $(#[$fm:meta])* $konst:ident = $member:literal at $off:literal size $size:literal; )*
        }
    ) => {
        $(#[$m])*
        pub mod $module {
            /// The C struct's name (`struct NAME`).
            pub const NAME: &str = $cname;
            $( $(#[$fm])* pub const $konst: i16 = $off; )*
            /// Every field above, for the test against the C header.
            pub const FIELDS: &[super::CtxField] =
                &[$(super::CtxField { member: $member, offset: $off, size: $size }),*];
        }
    };
}

ctx_struct! {
    /// `struct bpf_sock_ops`, the sock_ops program's context.
    bpf_sock_ops, "bpf_sock_ops" {
        OP = "op" at 0 size 4;
        /// `args[1]`: the new state of a STATE_CB.
        ARGS1 = "args[1]" at 8 size 4;
        FAMILY = "family" at 20 size 4;
        REMOTE_IP4 = "remote_ip4" at 24 size 4;
        LOCAL_IP4 = "local_ip4" at 28 size 4;
        REMOTE_IP6 = "remote_ip6" at 32 size 16;
        LOCAL_IP6 = "local_ip6" at 48 size 16;
        /// Network byte order, as a u32 (so `be32` gives the port).
        REMOTE_PORT = "remote_port" at 64 size 4;
        /// Host byte order.
        LOCAL_PORT = "local_port" at 68 size 4;
        /// The socket's callback flags (read-only; set with a helper).
        CB_FLAGS = "bpf_sock_ops_cb_flags" at 84 size 4;
        /// Next sequence number expected from the peer.
        RCV_NXT = "rcv_nxt" at 100 size 4;
        /// Next sequence number to send.
        SND_NXT = "snd_nxt" at 104 size 4;
        /// Oldest unacknowledged sequence number.
        SND_UNA = "snd_una" at 108 size 4;
        /// Bytes the peer has acknowledged, the SYN included.
        BYTES_ACKED = "bytes_acked" at 176 size 8;
        SK = "sk" at 184 size 8;
    }
}

ctx_struct! {
    /// `struct sk_msg_md`, the sk_msg program's context.
    sk_msg_md, "sk_msg_md" {
        FAMILY = "family" at 16 size 4;
        REMOTE_IP4 = "remote_ip4" at 20 size 4;
        LOCAL_IP4 = "local_ip4" at 24 size 4;
        REMOTE_IP6 = "remote_ip6" at 28 size 16;
        LOCAL_IP6 = "local_ip6" at 44 size 16;
        /// Network byte order, as a u32 (so `be32` gives the port).
        REMOTE_PORT = "remote_port" at 60 size 4;
        /// Host byte order.
        LOCAL_PORT = "local_port" at 64 size 4;
        SIZE = "size" at 68 size 4;
        SK = "sk" at 72 size 8;
    }
}

/// Every context struct above: (C name, fields).
pub const STRUCTS: &[(&str, &[CtxField])] =
    &[(bpf_sock_ops::NAME, bpf_sock_ops::FIELDS), (sk_msg_md::NAME, sk_msg_md::FIELDS)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap() {
        for (name, fields) in STRUCTS {
            let mut f: Vec<_> = fields.to_vec();
            f.sort_by_key(|f| f.offset);
            for w in f.windows(2) {
                assert!(w[0].offset + w[0].size as i16 <= w[1].offset, "{name}: {:?} overlaps {:?}", w[0], w[1]);
            }
        }
    }
}
