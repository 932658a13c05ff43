//! The built-in programs, written with sockasm's own assembler DSL.
//!
//! - [`sockops`]: on every established TCP connection of the cgroup, puts the
//!   socket into the SOCKHASH under its [`key`].
//! - [`skmsg`]: on every write of such a socket, looks up the peer's key and
//!   redirects the bytes into the peer's receive queue; on a miss the write
//!   goes over normal TCP, and that connection stays on TCP from then on.
//!   A socket that stays on TCP for good and never received a redirected
//!   byte leaves the SOCKHASH (sock_ops does it on the next ACK), so it pays
//!   nothing more than plain TCP; [`FLAG_RECEIVED`] and [`FLAG_LEAVING`]
//!   make that safe against a peer redirecting at the same moment.

pub mod counters;
pub mod key;
pub mod skmsg;
pub mod sockops;

use crate::asm::*;
use crate::syscall::{AttachType, MapSpec, MapType, ProgType};
use std::collections::BTreeMap;

/// Map names the programs refer to; the loader binds them to fds.
pub const MAP_SOCKHASH: &str = "sock_hash";
pub const MAP_COUNTERS: &str = "counters";
pub const MAP_SK_STATE: &str = "sk_state";
/// HASH from a socket's SOCKHASH key to its [`FLAG_RECEIVED`]/[`FLAG_LEAVING`]
/// word: what a peer must see before it redirects into the socket.
pub const MAP_SOCK_FLAGS: &str = "sock_flags";

/// A peer has redirected (or is about to redirect) into this socket: its
/// receive side may hold redirected bytes, which the kernel frees when a
/// socket leaves the SOCKHASH, so it must stay.
pub const FLAG_RECEIVED: i32 = 1;
/// The socket is leaving the SOCKHASH: peers must not redirect into it.
/// Both bits are set with an atomic fetch-or on the same word, so of a peer
/// and a leaving socket racing, the second one sees the first one's bit.
pub const FLAG_LEAVING: i32 = 2;

/// Helper ids (include/uapi/linux/bpf.h).
pub mod helper {
    pub const MAP_LOOKUP_ELEM: i32 = 1;
    pub const MAP_UPDATE_ELEM: i32 = 2;
    pub const MAP_DELETE_ELEM: i32 = 3;
    pub const SOCK_OPS_CB_FLAGS_SET: i32 = 59;
    pub const SOCK_HASH_UPDATE: i32 = 70;
    pub const MSG_REDIRECT_HASH: i32 = 71;
    pub const SK_STORAGE_GET: i32 = 107;
    pub const KTIME_GET_NS: i32 = 5;
    pub const GET_NETNS_COOKIE: i32 = 122;
}

pub const BPF_ANY: i32 = 0;
pub const BPF_NOEXIST: i32 = 1;
pub const BPF_F_INGRESS: i32 = 1;
pub const BPF_SK_STORAGE_GET_F_CREATE: i32 = 1;
pub const SK_PASS: i32 = 1;
pub const AF_INET: i32 = 2;
pub const AF_INET6: i32 = 10;

/// `sk_state` values. 0: just created, not yet in the map.
/// The connection has sent bytes over normal TCP: it never redirects again.
pub const STATE_TCP_USED: i32 = 1;
/// sock_ops has handled the socket (so a second attachment on a nested
/// cgroup, which runs the program again for the same socket, does nothing).
pub const STATE_IN_MAP: i32 = 2;
/// `sk_state` value layout: the state above, the run of small writes, the
/// time of the last write, and whether this socket has set its peer's
/// [`FLAG_RECEIVED`] (then the peer can never leave, and sk_msg need not look
/// at its flags again).
pub const STATE_OFF_FLAGS: i16 = 0;
pub const STATE_OFF_RUN: i16 = 8;
pub const STATE_OFF_LAST_NS: i16 = 16;
pub const STATE_OFF_PEER_FLAGGED: i16 = 24;
/// Whether the RTT callback was already on (another tool's sock_ops program
/// asked for it) when sock_ops turned it on: then it is left on.
pub const STATE_OFF_RTT_THEIRS: i16 = 32;
pub const STATE_VALUE_SIZE: u32 = 40;

/// A program with per-instruction notes for listings (ctx field names).
pub struct Builder {
    pub prog: Program,
    notes: BTreeMap<usize, String>,
}

/// The maps the programs refer to (by name), as `load` creates them.
pub fn map_specs(max_entries: u32) -> [(&'static str, MapSpec); 4] {
    [
        (MAP_SOCKHASH, MapSpec::new(MapType::SOCKHASH, key::KEY_SIZE as u32, 8, max_entries).with_name("sockasm_hash")),
        // Not preallocated: an entry lives only while its socket is in the map,
        // and preallocating max_entries of them would cost megabytes up front.
        (
            MAP_SOCK_FLAGS,
            MapSpec::new(MapType::HASH, key::KEY_SIZE as u32, 8, max_entries)
                .with_flags(crate::syscall::BPF_F_NO_PREALLOC)
                .with_name("sockasm_flags"),
        ),
        (MAP_SK_STATE, MapSpec::sk_storage("sockasm_state", STATE_VALUE_SIZE)),
        (MAP_COUNTERS, MapSpec::new(MapType::PERCPU_ARRAY, 4, counters::VALUE_SIZE, 1).with_name("sockasm_count")),
    ]
}

/// Where a program type's context holds the socket's addresses and ports.
pub struct CtxAddrs {
    /// The context struct's name, for listings.
    pub name: &'static str,
    pub family: i16,
    pub remote_ip4: i16,
    pub local_ip4: i16,
    pub remote_ip6: i16,
    pub local_ip6: i16,
    /// Network byte order, as a u32 (so `be32` gives the port).
    pub remote_port: i16,
    /// Host byte order.
    pub local_port: i16,
}

/// An assembled built-in program with its listing annotations.
pub struct Builtin {
    pub name: &'static str,
    pub prog_type: ProgType,
    pub expected_attach_type: AttachType,
    pub asm: Assembled,
    /// Per-slot annotations: context fields, maps, helpers.
    pub notes: BTreeMap<usize, String>,
}

impl Builder {
    fn new() -> Builder {
        Builder { prog: Program::new(), notes: BTreeMap::new() }
    }
    fn push(&mut self, item: impl Into<Item>) {
        self.prog.push(item);
    }
    fn note(&mut self, item: impl Into<Item>, note: impl Into<String>) {
        self.notes.insert(self.prog.items.len(), note.into());
        self.prog.push(item);
    }
    fn label(&mut self, name: &str) {
        self.prog.label(name);
    }

    /// `dst = *(u32 *)(ctx + off)`, annotated with the context field.
    fn ctx_load(&mut self, size: Size, dst: Reg, ctx: Reg, off: i16, field: &str) {
        self.note(load(size, dst, ctx, off), field.to_string());
    }

    /// Adds 1 to counter `msgs` and, if given, `bytes_reg` to counter `bytes`.
    /// Clobbers r0-r5.
    fn count(&mut self, msgs: counters::Counter, bytes: Option<(counters::Counter, Reg)>) {
        self.push(store_imm(Size::W, R10, STACK_KEY_COUNTER, 0));
        self.note(ld_map(R1, MAP_COUNTERS), format!("map {MAP_COUNTERS}"));
        self.push(Alu::Mov.reg(R2, R10));
        self.push(Alu::Add.imm(R2, STACK_KEY_COUNTER as i32));
        self.push(call(helper::MAP_LOOKUP_ELEM));
        // Skip the adds below on a failed lookup; a numeric offset, so the
        // listing's labels stay the program's own.
        let adds: i16 = if bytes.is_some() { 3 } else { 2 };
        self.push(Jmp::Jeq.imm(R0, 0, adds));
        self.push(Alu::Mov.imm(R1, 1));
        // Atomic: a program can be preempted by another on the same CPU.
        self.note(atomic(Size::DW, AtomicOp::Add, R0, msgs.offset(), R1), msgs.name());
        if let Some((c, reg)) = bytes {
            self.note(atomic(Size::DW, AtomicOp::Add, R0, c.offset(), reg), c.name());
        }
    }

    /// `helper(&map, &key)` with the socket key built at `r10 - 48`: a map
    /// lookup or delete by key. Clobbers r0-r5.
    fn call_with_key(&mut self, map: &str, helper: i32) {
        self.note(ld_map(R1, map), format!("map {map}"));
        self.push(Alu::Mov.reg(R2, R10));
        self.push(Alu::Add.imm(R2, key::STACK_KEY as i32));
        self.push(call(helper));
    }

    /// `r0 = bpf_sk_storage_get(&sk_state, ctx->sk, NULL, flags)`; a null
    /// socket or no storage goes to `bail`. Clobbers r0-r5.
    fn sk_state_get(&mut self, ctx: Reg, sk_field: (i16, &str), flags: i32, bail: &str) {
        self.ctx_load(Size::DW, R2, ctx, sk_field.0, sk_field.1);
        self.push(Jmp::Jeq.imm(R2, 0, bail));
        self.note(ld_map(R1, MAP_SK_STATE), format!("map {MAP_SK_STATE}"));
        self.push(Alu::Mov.imm(R3, 0));
        self.push(Alu::Mov.imm(R4, flags));
        self.push(call(helper::SK_STORAGE_GET));
        self.push(Jmp::Jeq.imm(R0, 0, bail));
    }

    /// Stores the 16-byte v4-mapped form of the IPv4 address in `ip4` (as
    /// loaded from the context: network byte order in memory) at `r10 + at`.
    fn store_v4_mapped(&mut self, at: i16, ip4: Reg) {
        self.push(store_imm(Size::DW, R10, at, 0));
        // Bytes 00 00 ff ff as a little-endian u32.
        self.push(store_imm(Size::W, R10, at + 8, 0xffff_0000u32 as i32));
        self.push(store(Size::W, R10, at + 12, ip4));
    }

    /// Copies a 16-byte IPv6 address from the context to `r10 + at`, word by word.
    fn copy_v6(&mut self, ctx: Reg, from: i16, at: i16, field: &str) {
        for i in 0..4 {
            self.ctx_load(Size::W, R3, ctx, from + 4 * i, &format!("{field}[{i}]"));
            self.push(store(Size::W, R10, at + 4 * i, R3));
        }
    }

    /// Builds the SOCKHASH key at `r10 - 48` from the context in `ctx`: the
    /// socket's own key, or (`peer`) the key its peer was stored under, with
    /// local and remote swapped. Families other than IPv4/IPv6 go to `bail`.
    /// Clobbers r0-r5.
    fn build_key(&mut self, ctx: Reg, a: &CtxAddrs, peer: bool, bail: &str) {
        let k = key::STACK_KEY;
        let field = |f: &str| format!("{}.{f}", a.name);
        // (context field, its name) that goes into the key's local / remote slots.
        let (ip4, ip6, port) = if peer {
            (
                [(a.remote_ip4, "remote_ip4"), (a.local_ip4, "local_ip4")],
                [(a.remote_ip6, "remote_ip6"), (a.local_ip6, "local_ip6")],
                [(a.remote_port, "remote_port"), (a.local_port, "local_port")],
            )
        } else {
            (
                [(a.local_ip4, "local_ip4"), (a.remote_ip4, "remote_ip4")],
                [(a.local_ip6, "local_ip6"), (a.remote_ip6, "remote_ip6")],
                [(a.local_port, "local_port"), (a.remote_port, "remote_port")],
            )
        };
        let slots = [(key::OFF_LOCAL_IP, key::OFF_LOCAL_PORT), (key::OFF_REMOTE_IP, key::OFF_REMOTE_PORT)];
        self.ctx_load(Size::W, R2, ctx, a.family, &field("family"));
        self.push(Jmp::Jeq.imm(R2, AF_INET6, "ipv6"));
        self.push(Jmp::Jne.imm(R2, AF_INET, bail));
        for ((off, name), (ip, _)) in ip4.into_iter().zip(slots) {
            self.ctx_load(Size::W, R3, ctx, off, &field(name));
            self.store_v4_mapped(k + ip, R3);
        }
        self.push(ja("ports"));
        self.label("ipv6");
        for ((off, name), (ip, _)) in ip6.into_iter().zip(slots) {
            self.copy_v6(ctx, off, k + ip, &field(name));
        }
        self.label("ports");
        for ((off, name), (_, at)) in port.into_iter().zip(slots) {
            self.ctx_load(Size::W, R3, ctx, off, &field(name));
            if off == a.remote_port {
                // The remote port sits in network byte order: be32 makes it a number.
                self.push(Insn::Endian { op: Endian::Be, bits: 32, dst: R3 });
            }
            self.push(store(Size::W, R10, k + at, R3));
        }
        self.push(Alu::Mov.reg(R1, ctx));
        self.push(call(helper::GET_NETNS_COOKIE));
        self.push(store(Size::DW, R10, k + key::OFF_NETNS, R0));
    }

    fn finish(
        self,
        name: &'static str,
        prog_type: ProgType,
        expected_attach_type: AttachType,
    ) -> Result<Builtin, AsmError> {
        let asm = self.prog.assemble()?;
        let item_slots = item_slots(&self.prog);
        let mut notes = BTreeMap::new();
        for (item, note) in self.notes {
            if let Some(&slot) = item_slots.get(item) {
                notes.insert(slot, note);
            }
        }
        Ok(Builtin { name, prog_type, expected_attach_type, asm, notes })
    }
}

/// Where the counters key (a u32 0) lives on the stack, below the SOCKHASH key.
const STACK_KEY_COUNTER: i16 = key::STACK_KEY - 8;
/// A u64 scratch value (e.g. a map value to insert), below the counters key.
const STACK_SCRATCH: i16 = STACK_KEY_COUNTER - 8;

/// Slot of every item (labels get the slot of what follows them).
fn item_slots(p: &Program) -> Vec<usize> {
    let mut slot = 0;
    p.items
        .iter()
        .map(|it| {
            let at = slot;
            slot += match it {
                Item::Label(_) => 0,
                Item::Map { .. } => 2,
                Item::Insn(i) | Item::Branch { insn: i, .. } => i.slots(),
            };
            at
        })
        .collect()
}

/// Both built-in programs, assembled, with annotations.
pub fn builtin() -> Result<Vec<Builtin>, AsmError> {
    Ok(vec![sockops::program()?, skmsg::program()?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_assemble_with_notes_on_context_loads() {
        let progs = builtin().unwrap();
        assert_eq!(progs.len(), 2);
        for p in &progs {
            let slots = p.asm.slot_of();
            // Every annotated slot starts an instruction.
            for slot in p.notes.keys() {
                assert!(slots.contains(slot), "{}: note on slot {slot} inside an instruction", p.name);
            }
            // Both use the SOCKHASH and the flags; every map they name is one `load` creates.
            for m in [MAP_SOCKHASH, MAP_SOCK_FLAGS] {
                assert!(p.asm.map_refs.iter().any(|r| r.name == m), "{}: no reference to {m}", p.name);
            }
            let created = map_specs(1).map(|(n, _)| n);
            assert!(p.asm.map_refs.iter().all(|r| created.contains(&r.name.as_str())), "{}", p.name);
            assert!(p.notes.values().any(|n| n.ends_with(".remote_port")), "{}", p.name);
            assert_eq!(p.asm.insns.last(), Some(&Insn::Exit));
        }
    }
}
