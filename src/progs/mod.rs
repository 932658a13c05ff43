//! The built-in programs, written with sockasm's own assembler DSL.
//!
//! - [`sockops`]: on every established TCP connection of the cgroup, puts the
//!   socket into the SOCKHASH under its [`key`], and records where the socket
//!   lives in the kernel (its address and cookie) in [`MAP_SOCK_INFO`].
//! - [`skmsg`]: on every write of such a socket, finds the peer, reads how
//!   much the peer has not read yet (its receive queue), and redirects the
//!   bytes into the peer's receive queue, or sends them over normal TCP when
//!   the peer's queue is full or the peer is not there. The state of the
//!   peer's queue decides, never the clock.
//!   A socket that stays on TCP for good and never received a redirected
//!   byte leaves the SOCKHASH (sock_ops does it on the next ACK), so it pays
//!   nothing more than plain TCP; [`FLAG_RECEIVED`] and [`FLAG_LEAVING`]
//!   make that safe against a peer redirecting at the same moment.

pub mod adopt;
pub mod counters;
pub mod kernel;
pub mod key;
pub mod skmsg;
pub mod sockops;

use crate::asm::*;
use crate::spec::{CollectionSpec, MapSpec, Pinning, ProgramSpec};

use crate::uapi::{AttachType, Helper, MapType, ProgType};
use std::collections::BTreeMap;

pub use kernel::{KernelOffsets, Policy};

/// SOCKHASH and `sock_info` capacity when `load --max-entries` is not given.
pub const DEFAULT_MAX_ENTRIES: u32 = 65_535;

/// Map names the programs refer to; the loader binds them to fds.
pub const MAP_SOCKHASH: &str = "sock_hash";
pub const MAP_COUNTERS: &str = "counters";
pub const MAP_SK_STATE: &str = "sk_state";
/// HASH from a socket's SOCKHASH key to what its peers need to know about it
/// (see [`INFO_OFF_FLAGS`] and the offsets below).
pub const MAP_SOCK_INFO: &str = "sock_info";
/// ARRAY with one [`config`] value, written by `load`.
pub const MAP_CONFIG: &str = "config";
/// HASH from a port (u32, host byte order) to [`PORT_INCLUDE`] and/or
/// [`PORT_EXCLUDE`]: which connections sock_ops admits (`load --ports`,
/// `--exclude-ports`).
pub const MAP_PORTS: &str = "ports";
pub const PORT_INCLUDE: i32 = 1;
pub const PORT_EXCLUDE: i32 = 2;
/// How many ports the lists may name together.
pub const MAX_PORTS: u32 = 1024;

/// `sock_info` value: the [`FLAG_RECEIVED`]/[`FLAG_LEAVING`] word,
pub const INFO_OFF_FLAGS: i16 = 0;
/// the socket's kernel address (`struct sock *`, as a number),
pub const INFO_OFF_ADDR: i16 = 8;
/// and its socket cookie: unique for the boot, never reused, and reset when
/// the kernel reuses the memory for another socket, so a peer that reads the
/// same cookie after its other reads knows they came from this socket.
pub const INFO_OFF_COOKIE: i16 = 16;
/// and the cookie of its network namespace (for `load --same-netns-only`),
pub const INFO_OFF_NETNS: i16 = 24;
/// and, for a socket adopted by [`adopt`] (connected before `load`), the
/// confirmation word: 0 for every socket sock_ops added; else
/// [`CONFIRM_ADOPTED`], [`CONFIRM_CANDIDATE`] and [`CONFIRM_CONFIRMED`] in
/// the low bits and the `confirm_seq` (the socket's `rcv_nxt` when it was
/// last found clean) in the high 32 bits. Written whole, read whole.
pub const INFO_OFF_CONFIRM: i16 = 32;
pub const INFO_VALUE_SIZE: u32 = 40;

/// Confirmation word bits (see [`INFO_OFF_CONFIRM`]): the socket was
/// adopted, so peers redirect into it only once it is confirmed;
pub const CONFIRM_ADOPTED: i32 = 2;
/// it was clean at the first confirm pass (C1), with the `confirm_seq` above;
pub const CONFIRM_CANDIDATE: i32 = 4;
/// it was still clean, with the same `rcv_nxt`, at the second (C2), and no
/// task was inside a read-family syscall on it in between: a writer whose
/// `write_seq` equals `confirm_seq` may redirect into it.
pub const CONFIRM_CONFIRMED: i32 = 1;

/// A peer has redirected (or is about to redirect) into this socket: its
/// receive side may hold redirected bytes, which the kernel frees when a
/// socket leaves the SOCKHASH, so it must stay.
pub const FLAG_RECEIVED: i32 = 1;
/// The socket is leaving the SOCKHASH: peers must not redirect into it.
/// Both bits are set with an atomic fetch-or on the same word, so of a peer
/// and a leaving socket racing, the second one sees the first one's bit.
pub const FLAG_LEAVING: i32 = 2;

/// The `config` map's value, as `load` writes it.
pub mod config {
    /// Upper bound, in bytes, of what may wait in a peer's receive queue
    /// before writes go over TCP (`load --max-queue`).
    pub const OFF_MAX_QUEUE: i16 = 0;
    /// Flags `load` records for `status` (the programs do not read them).
    pub const OFF_FLAGS: i16 = 8;
    /// The smallest bound whatever the peer's `sk_rcvbuf`: `tcp_rmem[2]`,
    /// the size TCP autotuning would let a reader's buffer grow to (the
    /// redirect path never autotunes, so `sk_rcvbuf` stays at its start value).
    pub const OFF_RCVBUF_FLOOR: i16 = 16;
    /// Bit [`PORTS_ONLY_LISTED`]: admit only connections with a local or
    /// remote port marked [`super::PORT_INCLUDE`].
    pub const OFF_PORT_FLAGS: i16 = 24;
    pub const PORTS_ONLY_LISTED: i32 = 1;
    /// Bit [`PAIR_SAME_NETNS`]: redirect only between sockets of one network
    /// namespace (`load --same-netns-only`, and always when peer-blind).
    pub const OFF_PAIR_FLAGS: i16 = 32;
    pub const PAIR_SAME_NETNS: i32 = 1;
    pub const VALUE_SIZE: u32 = 40;
    /// `--max-queue` default: 16 MiB. A spill is for good (the connection
    /// stays on TCP), so the bound is generous enough that a reader's brief
    /// stall (about 5 ms of a 3 GB/s writer) does not cost the bypass.
    pub const DEFAULT_MAX_QUEUE: u32 = 16 << 20;
    /// The smallest bound: below one page, every write would spill.
    pub const MIN_MAX_QUEUE: u32 = 4096;
    /// The largest `--max-queue` (the memory goal: 64 MiB per reader).
    pub const MAX_MAX_QUEUE: u32 = 64 << 20;
}

pub const AF_INET: i32 = 2;
pub const AF_INET6: i32 = 10;

/// `sk_state` mode values. 0: just created, not yet in the map.
/// The connection sends over TCP for good (no peer, a full peer queue, or a
/// stream of small writes into a peer that does not keep up): it never
/// redirects again, so no redirected byte can overtake a TCP byte.
pub const STATE_TCP_USED: i32 = 1;
/// Redirecting. Also: sock_ops has handled the socket (so a second
/// attachment on a nested cgroup, which runs the program again for the same
/// socket, does nothing).
pub const STATE_IN_MAP: i32 = 2;
/// Put into the map by the adopt pass ([`adopt`]), not by sock_ops: its
/// writes go over TCP until the peer is confirmed, and a write that finds no
/// (confirmed) peer does not end its chances (the peer may be adopted in a
/// later pass). The other rules (spills, streams) are the same.
pub const STATE_ADOPTED: i32 = 3;
/// `sk_state` value layout: the mode above, the run of small writes that
/// found the peer behind, the socket's own kernel address, and whether this
/// socket has set its peer's [`FLAG_RECEIVED`] (then the peer can never
/// leave, and sk_msg need not look at its flags again).
pub const STATE_OFF_MODE: i16 = 0;
pub const STATE_OFF_RUN: i16 = 8;
pub const STATE_OFF_SELF: i16 = 16;
pub const STATE_OFF_PEER_FLAGGED: i16 = 24;
/// Whether the RTT callback was already on (another tool's sock_ops program
/// asked for it) when sock_ops turned it on: then it is left on.
pub const STATE_OFF_RTT_THEIRS: i16 = 32;
/// The socket's own SOCKHASH key ([`key`]), 16 bytes: written by sock_ops
/// before the socket enters the map, read by sk_msg (for the peer's key)
/// and by sock_ops's later callbacks.
pub const STATE_OFF_KEY: i16 = 40;
/// The leaving protocol, after this socket left the SOCKHASH: 0 not left,
/// [`LEAVE_PEER_PENDING`] its peer may still have to leave, [`LEAVE_DONE`].
pub const STATE_OFF_LEAVE: i16 = 56;
pub const LEAVE_PEER_PENDING: i32 = 1;
pub const LEAVE_DONE: i32 = 2;
pub const STATE_VALUE_SIZE: u32 = 64;

/// A program with per-instruction notes for listings (ctx field names).
pub struct Builder {
    pub prog: Program,
    notes: BTreeMap<usize, String>,
}

/// The maps the programs refer to (by name), as `load` creates them.
pub fn map_specs(max_entries: u32) -> [(&'static str, MapSpec); 6] {
    [
        (
            MAP_SOCKHASH,
            MapSpec::new(MapType::SOCKHASH, key::KEY_SIZE as u32, 8, max_entries)
                .with_name("sockasm_hash")
                .with_pinning(Pinning::ByName),
        ),
        // Not preallocated: an entry lives only while its socket is in the map,
        // and preallocating max_entries of them would cost megabytes up front.
        (
            MAP_SOCK_INFO,
            MapSpec::new(MapType::HASH, key::KEY_SIZE as u32, INFO_VALUE_SIZE, max_entries)
                .with_flags(crate::uapi::BPF_F_NO_PREALLOC)
                .with_name("sockasm_info")
                .with_pinning(Pinning::ByName),
        ),
        (MAP_SK_STATE, MapSpec::sk_storage("sockasm_state", STATE_VALUE_SIZE).with_pinning(Pinning::ByName)),
        (
            MAP_COUNTERS,
            MapSpec::new(MapType::PERCPU_ARRAY, 4, counters::VALUE_SIZE, 1)
                .with_name("sockasm_count")
                .with_pinning(Pinning::ByName),
        ),
        (
            MAP_CONFIG,
            MapSpec::new(MapType::ARRAY, 4, config::VALUE_SIZE, 1)
                .with_name("sockasm_config")
                .with_pinning(Pinning::ByName),
        ),
        (
            MAP_PORTS,
            MapSpec::new(MapType::HASH, 4, 4, MAX_PORTS).with_name("sockasm_ports").with_pinning(Pinning::ByName),
        ),
    ]
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
    /// `call helper`, by name: the id comes from the one table in [`crate::uapi::helper`].
    fn call(&mut self, helper: Helper) {
        self.prog.push(call(helper.id()));
    }

    /// The port rule of `load --ports`/`--exclude-ports`, one for sock_ops
    /// and for adoption. `port(b, i)` leaves the local (`i` 0) or remote
    /// (`i` 1) port in R1, in host byte order (the `ports` map's keys are
    /// u32s); each is looked up and its flags or'ed into `acc`. An EXCLUDE
    /// port jumps to `reject`; an admitted socket jumps to `admitted`; one
    /// without an INCLUDE port when only listed ports are admitted falls
    /// through. Uses R0-R5, `acc` and 4 bytes of stack at `slot`.
    fn admit_ports(
        &mut self,
        (acc, slot): (Reg, i16),
        names: [&str; 2],
        (reject, admitted): (&str, &str),
        mut port: impl FnMut(&mut Builder, usize),
    ) {
        self.push(Alu::Mov.imm(acc, 0));
        for (i, name) in names.iter().enumerate() {
            port(self, i);
            self.push(store(Size::W, R10, slot, R1));
            self.note(ld_map(R1, MAP_PORTS), format!("map {MAP_PORTS}: the {name}"));
            self.push(Alu::Mov.reg(R2, R10));
            self.push(Alu::Add.imm(R2, slot as i32));
            self.call(Helper::MapLookupElem);
            self.push(Jmp::Jeq.imm(R0, 0, 2));
            self.push(load(Size::W, R1, R0, 0));
            self.push(Alu::Or.reg(acc, R1));
        }
        self.push(Jmp::Jset.imm(acc, PORT_EXCLUDE, reject));
        self.note(ld_map_value(R1, MAP_CONFIG, 0), format!("map {MAP_CONFIG} value"));
        self.note(load(Size::DW, R1, R1, config::OFF_PORT_FLAGS), "config.port_flags");
        self.push(Jmp::Jset.imm(R1, config::PORTS_ONLY_LISTED, "only_listed"));
        self.push(ja(admitted));
        self.label("only_listed");
        self.push(Jmp::Jset.imm(acc, PORT_INCLUDE, admitted));
    }

    /// `dst = *(u32 *)(ctx + off)`, annotated with the context field.
    fn ctx_load(&mut self, size: Size, dst: Reg, ctx: Reg, off: i16, field: &str) {
        self.note(load(size, dst, ctx, off), field.to_string());
    }

    /// Adds to counters, with one map lookup: 1 for `(counter, None)`,
    /// the register's value for `(counter, Some(reg))`. Clobbers r0-r5.
    fn count(&mut self, adds: &[(counters::Counter, Option<Reg>)]) {
        self.push(store_imm(Size::W, R10, STACK_KEY_COUNTER, 0));
        self.note(ld_map(R1, MAP_COUNTERS), format!("map {MAP_COUNTERS}"));
        self.push(Alu::Mov.reg(R2, R10));
        self.push(Alu::Add.imm(R2, STACK_KEY_COUNTER as i32));
        self.call(Helper::MapLookupElem);
        // Skip the adds below on a failed lookup; a numeric offset, so the
        // listing's labels stay the program's own.
        let n = adds.len() + adds.iter().filter(|(_, r)| r.is_none()).count().min(1);
        self.push(Jmp::Jeq.imm(R0, 0, n as i16));
        if adds.iter().any(|(_, r)| r.is_none()) {
            self.push(Alu::Mov.imm(R1, 1));
        }
        for (c, reg) in adds {
            // Atomic: a program can be preempted by another on the same CPU.
            self.note(atomic(Size::DW, AtomicOp::Add, R0, c.offset(), reg.unwrap_or(R1)), c.name());
        }
    }

    /// `bpf_probe_read_kernel(r10 + at, field.size, sk + field.offset)`, with
    /// `sk` the socket address stored at `base + addr_off` (the peer's in
    /// `sock_info`, or this socket's own in `sk_state`). A failed read
    /// leaves zeros, which the identity check catches. Clobbers r0-r5.
    fn peer_read(&mut self, at: i16, field: &kernel::Field, (base, addr_off): (Reg, i16), whose: &str) {
        self.push(load(Size::DW, R3, base, addr_off));
        self.note(Alu::Add.imm(R3, field.offset as i32), format!("&{whose}->{}", field.name));
        self.push(Alu::Mov.reg(R1, R10));
        self.push(Alu::Add.imm(R1, at as i32));
        self.push(Alu::Mov.imm(R2, field.size as i32));
        self.call(Helper::ProbeReadKernel);
    }

    /// `helper(&map, &key)` with the socket key built at `r10 - 16`: a map
    /// lookup or delete by key. Clobbers r0-r5.
    fn call_with_key(&mut self, map: &str, helper: Helper) {
        self.note(ld_map(R1, map), format!("map {map}"));
        self.push(Alu::Mov.reg(R2, R10));
        self.push(Alu::Add.imm(R2, key::STACK_KEY as i32));
        self.call(helper);
    }

    /// `r0 = bpf_sk_storage_get(&sk_state, ctx->sk, NULL, flags)`; a null
    /// socket or no storage goes to `bail`. Clobbers r0-r5.
    fn sk_state_get(&mut self, ctx: Reg, sk_field: (i16, &str), flags: i32, bail: &str) {
        self.ctx_load(Size::DW, R2, ctx, sk_field.0, sk_field.1);
        self.push(Jmp::Jeq.imm(R2, 0, bail));
        self.note(ld_map(R1, MAP_SK_STATE), format!("map {MAP_SK_STATE}"));
        self.push(Alu::Mov.imm(R3, 0));
        self.push(Alu::Mov.imm(R4, flags));
        self.call(Helper::SkStorageGet);
        self.push(Jmp::Jeq.imm(R0, 0, bail));
    }

    /// Copies this socket's key from its `sk_state` value (pointer in
    /// `state`) to `r10 - 16`; with `peer`, the key of the other end: the
    /// same numbers with the other role (`3 - role`). Clobbers r1-r2.
    fn key_from_state(&mut self, state: Reg, peer: bool) {
        let k = key::STACK_KEY;
        for half in [0, 8] {
            self.push(load(Size::DW, R1, state, STATE_OFF_KEY + half));
            self.push(store(Size::DW, R10, k + half, R1));
        }
        if peer {
            self.push(load(Size::W, R1, R10, k + key::OFF_ROLE));
            self.push(Alu::Mov.imm(R2, key::ROLE_ACTIVE + key::ROLE_PASSIVE));
            self.push(Alu::Sub.reg(R2, R1));
            self.push(store(Size::W, R10, k + key::OFF_ROLE, R2));
        }
    }

    /// `dst = size bytes at (base + off)`, through `bpf_probe_read_kernel`
    /// into `r10 + at`, with `base` a register holding a kernel pointer or
    /// address. Clobbers r0-r5.
    fn read_at(&mut self, at: i16, size: u32, base: Reg, off: u32, what: &str) {
        self.push(Alu::Mov.reg(R3, base));
        self.note(Alu::Add.imm(R3, off as i32), what.to_string());
        self.push(Alu::Mov.reg(R1, R10));
        self.push(Alu::Add.imm(R1, at as i32));
        self.push(Alu::Mov.imm(R2, size as i32));
        self.call(Helper::ProbeReadKernel);
    }

    fn finish(
        self,
        name: &'static str,
        pin: &'static str,
        prog_type: ProgType,
        expected_attach_type: AttachType,
    ) -> Result<ProgramSpec, AsmError> {
        let asm = self.prog.assemble()?;
        let item_slots = item_slots(&self.prog);
        let mut notes = BTreeMap::new();
        for (item, note) in self.notes {
            if let Some(&slot) = item_slots.get(item) {
                notes.insert(slot, note);
            }
        }
        // A synthetic source (one line per instruction, its listing) so
        // that the kernel keeps line info, and the JIT's address of each
        // instruction, for `dump --disasm --id N --jited`.
        let file = format!("{}.s", name.strip_prefix("sockasm_").unwrap_or(name));
        let source = Some(crate::spec::listing_source(&asm, &file));
        Ok(ProgramSpec {
            name: name.to_string(),
            prog_type,
            expected_attach_type: Some(expected_attach_type),
            attach_btf_id: None,
            license: "GPL".into(),
            code: asm,
            comments: notes,
            source,
            pinning: Pinning::As(pin.to_string()),
        })
    }
}

/// Where the counters key (a u32 0) lives on the stack, below the SOCKHASH key.
const STACK_KEY_COUNTER: i16 = key::STACK_KEY - 8;
/// A u64 scratch value, below the counters key: sock_ops keeps a port there
/// (the `ports` map's key) and the byte that holds `tcp_sock.repair`.
const STACK_SCRATCH: i16 = STACK_KEY_COUNTER - 8;
/// sk_msg: what it reads from the peer socket, below the scratch value.
const STACK_PEER_RMEM: i16 = STACK_SCRATCH - 8;
const STACK_PEER_RCVBUF: i16 = STACK_SCRATCH - 4;
const STACK_PEER_COOKIE: i16 = STACK_SCRATCH - 16;
/// sk_msg: the writer's own `write_seq` (an adopted peer's check).
const STACK_WRITE_SEQ: i16 = STACK_SCRATCH - 24;
/// sock_ops: the `sock_info` value it inserts.
const STACK_INFO: i16 = STACK_SCRATCH - INFO_VALUE_SIZE as i16;
/// sock_ops, leaving (the `sock_info` value's slots are free then): what it
/// reads of the peer: its `sk_user_data`, the psock's queue head and length,
/// its cookie.
const STACK_LEAVE_PSOCK: i16 = STACK_INFO;
const STACK_LEAVE_NEXT: i16 = STACK_INFO + 8;
const STACK_LEAVE_TOT: i16 = STACK_INFO + 16;
const STACK_LEAVE_COOKIE: i16 = STACK_INFO + 24;

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
                Item::Kfunc(_) => 1,
                Item::Insn(i) | Item::Branch { insn: i, .. } => i.slots(),
            };
            at
        })
        .collect()
}

/// Both built-in programs, assembled for `policy`, with annotations.
pub fn builtin(policy: &Policy) -> Result<Vec<ProgramSpec>, AsmError> {
    Ok(vec![sockops::program(policy)?, skmsg::program(policy)?])
}

/// What a program of the collection is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The cgroup `load` is given: attached by each `load`, detached by each
    /// `unload`, and found again by walking the cgroup tree.
    Cgroup,
    /// A map of the collection, by name: attached once, when the objects
    /// are created, and detached when they are removed.
    Map(&'static str),
}

/// One attachment of a program of the collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The program, by name.
    pub program: &'static str,
    pub target: Target,
    pub attach_type: AttachType,
}

/// Every attachment of the bypass: what `load` attaches (and detaches when
/// it fails), `unload` detaches, `status` reads back and orphan discovery
/// looks for. A program of [`collection`] with no entry here is loaded and
/// pinned but attached to nothing; a new kind of attachment (a BPF link, a
/// program run once at load) is a new [`Target`].
pub const ATTACHMENTS: [Attachment; 2] = [
    Attachment { program: sockops::NAME, target: Target::Cgroup, attach_type: AttachType::CGROUP_SOCK_OPS },
    Attachment { program: skmsg::NAME, target: Target::Map(MAP_SOCKHASH), attach_type: AttachType::SK_MSG_VERDICT },
];

/// What `load` loads: the maps of [`map_specs`] and both programs, by name.
pub fn collection(policy: &Policy, max_entries: u32) -> Result<CollectionSpec, AsmError> {
    Ok(CollectionSpec {
        maps: map_specs(max_entries).into_iter().map(|(n, s)| (n.to_string(), s)).collect(),
        programs: builtin(policy)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each attachment names a program and a map of the collection, with the
    /// attach type the program was loaded for; every object is pinned once.
    #[test]
    fn attachments_and_pins_name_objects_of_the_collection() {
        let spec = collection(&Policy::without_perfmon(), 1).unwrap();
        for a in ATTACHMENTS {
            let p = spec.program(a.program).unwrap_or_else(|| panic!("{}", a.program));
            assert_eq!(p.expected_attach_type, Some(a.attach_type), "{}", a.program);
            if let Target::Map(m) = a.target {
                assert!(spec.map(m).is_some(), "{m}");
            }
        }
        let pinned = spec.pinned();
        assert_eq!(pinned.len(), spec.maps.len() + spec.programs.len());
        let mut files: Vec<&str> = pinned.iter().map(|p| p.file).collect();
        files.sort_unstable();
        files.dedup();
        assert_eq!(files.len(), pinned.len(), "two objects share a pin");
    }

    #[test]
    fn builtins_assemble_with_notes_on_context_loads() {
        let progs = builtin(&Policy::PeerAware(kernel::tests::offsets())).unwrap();
        assert_eq!(progs.len(), 2);
        for p in &progs {
            let slots = p.code.slot_of();
            // Every annotated slot starts an instruction.
            for slot in p.comments.keys() {
                assert!(slots.contains(slot), "{}: note on slot {slot} inside an instruction", p.name);
            }
            // Both use the SOCKHASH and the flags; every map they name is one `load` creates.
            for m in [MAP_SOCKHASH, MAP_SOCK_INFO] {
                assert!(p.code.map_refs.iter().any(|r| r.name == m), "{}: no reference to {m}", p.name);
            }
            let created = map_specs(1).map(|(n, _)| n);
            assert!(p.code.map_refs.iter().all(|r| created.contains(&r.name.as_str())), "{}", p.name);
            assert_eq!(p.code.insns.last(), Some(&Insn::Exit));
        }
        // sock_ops names the context fields the key comes from.
        let notes: Vec<&String> = progs[0].comments.values().collect();
        for f in ["snd_una", "bytes_acked", "rcv_nxt", "snd_nxt", "remote_port", "tcp_sock.repair"] {
            assert!(notes.iter().any(|n| n.contains(f)), "sock_ops: no note names {f}");
        }
        // sk_msg names every kernel field it reads.
        let notes: Vec<&String> = progs[1].comments.values().collect();
        for f in ["sock.sk_rmem_alloc", "sock.sk_rcvbuf", "sock.sk_cookie"] {
            assert!(notes.iter().any(|n| n.contains(f)), "no note names {f}");
        }
    }

    #[test]
    fn peer_blind_programs_read_no_kernel_memory() {
        let progs = builtin(&Policy::PeerBlind { reason: "test".into() }).unwrap();
        for p in &progs {
            assert!(
                !p.code.insns.iter().any(|i| *i == call(Helper::ProbeReadKernel.id())),
                "{} reads kernel memory without the policy allowing it",
                p.name
            );
        }
    }
}
