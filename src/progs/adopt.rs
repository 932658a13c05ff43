//! Adopting connections opened before `load`: an `iter/tcp` program
//! ([`tcp_program`]) run in passes, in every network namespace that has
//! processes of the attached cgroup, and an `iter/task` program
//! ([`task_program`]) that finds tasks inside a read-family system call.
//!
//! Why it takes more than putting the sockets into the SOCKHASH: a thread
//! that entered `recv()` before the socket joined the map runs plain
//! `tcp_recvmsg`, which reads only `sk_receive_queue` and, with
//! `MSG_WAITALL` or `SO_RCVLOWAT`, sleeps until a TCP byte arrives. Bytes
//! redirected into the socket's psock would never wake it (a hang), and TCP
//! bytes that arrive later would overtake them (reordering). So an adopted
//! socket P receives redirects only once nothing can be in, or still reach,
//! its TCP receive queue, and no thread is left in the plain path.
//!
//! The passes, with the configuration value's `mode` ([`MODE_RECORD`] ...):
//! ```text
//! every established socket S of the cgroup (sk_cgrp_data's cgroup or an
//! ancestor is the attached one), not TCP_REPAIR, ports admitted:
//!   x = snd_una - bytes_acked        // the own ISN (+1 on the passive end, whose snd_una starts at ISN+1)
//!   y = rcv_nxt - bytes_received     // the peer's ISN + 1
//! RECORD:  records[x, y]++                                       (every namespace first)
//! ADOPT:   active  iff records[y, x+1] == 1 && !records[y-1, x]  // the peer, seen from the other end
//!          passive iff records[y-1, x] == 1 && !records[y, x+1]
//!          key = active ? {x+1, y, ACTIVE} : {y, x, PASSIVE}       // = sock_ops' key (checked: key_checks)
//!          if S has sk_state already: sock_ops' key == key ? key_checks++ : key_mismatches++; skip
//!          sk_state = {ADOPTED, key, self}; sock_info = {.., confirm = ADOPTED}; SOCKHASH[key] = S
//! C1:      clean(S) ? confirm = rcv_nxt << 32 | CANDIDATE | ADOPTED : ADOPTED
//! T:       (iter/task) every task in read/readv/recvfrom/recvmsg/recvmmsg/preadv(2) on fd N:
//!          busy[task->files->fdt->fd[N]->private_data->sk] = 1; socketcall, io_uring_enter and
//!          io_uring workers: busy[0] = 1 (everything)
//! C2:      confirm == rcv_nxt << 32 | CANDIDATE | ADOPTED && clean(S) && !busy[S] && !busy[0]
//!          ? confirm = rcv_nxt << 32 | CONFIRMED | ADOPTED, confirmed++
//! DEFER:   not confirmed: deferred++; and unless the peer is confirmed (S must then stay to
//!          redirect its own writes), S leaves the SOCKHASH again (nothing was redirected into it)
//! clean(S) = copied_seq == rcv_nxt && receive queue empty && no task waits for the socket
//!            lock && no task sleeps on sk_wq (an entry with `private`, other than poll's)
//! ```
//! sk_msg then redirects a write of W into an adopted P only if P is
//! CONFIRMED and W's `write_seq` equals P's `confirm_seq`.
//!
//! Why that is enough (the TCP iterator holds each socket's lock while the
//! program runs, on 6.5 and later):
//! 1. From C1 to C2 P's `rcv_nxt` did not move and its receive queue was
//!    empty at both: no TCP byte arrived in between. After C2 none arrives
//!    until W redirects, because W redirects only with `write_seq ==
//!    confirm_seq == rcv_nxt`: everything W ever sent over TCP was already
//!    received (and, `copied_seq == rcv_nxt`, read). From W's first redirect
//!    on, the normal rules hold (a spill is final).
//! 2. A reader in the plain path loaded the old `sk_prot` before ADOPT, so
//!    it entered its system call before C1 and T. If it was still inside it
//!    when T visited its task, T marked P busy; if it was asleep on P at C1
//!    or C2, clean() failed. Either way P is not confirmed this round. A
//!    reader that enters later finds the new `sk_prot` (tcp_bpf_recvmsg)
//!    and an empty receive queue that stays empty (1), so it waits in
//!    tcp_bpf's own wait, which wakes on redirected bytes.
//! 3. A false "busy" (a task whose last system call was a read, now in user
//!    space) only delays confirmation; so do poll() entries without a known
//!    `pollwake` address.
//!
//! Adopted sockets get no sock_ops callbacks (those need a sock_ops
//! context to switch on), so they do not run the leaving protocol and their
//! `sock_info` entry is not removed at close: the next `load` sweeps it.

use super::counters::Counter;
use super::key::*;
use super::{
    Builder, CONFIRM_ADOPTED, CONFIRM_CANDIDATE, CONFIRM_CONFIRMED, INFO_OFF_ADDR, INFO_OFF_CONFIRM, INFO_OFF_COOKIE,
    INFO_OFF_FLAGS, INFO_OFF_NETNS, INFO_VALUE_SIZE, KernelOffsets, MAP_SK_STATE, MAP_SOCK_INFO, MAP_SOCKHASH,
    STATE_ADOPTED, STATE_OFF_KEY, STATE_OFF_MODE, STATE_OFF_SELF,
};
use crate::asm::{
    Alu, AsmError, AtomicOp, Endian, Insn, Jmp, R0, R1, R2, R3, R4, R6, R7, R8, R9, R10, Reg, Size, atomic, exit, ja,
    ld_map, ld_map_value, load, store, store_imm,
};
use crate::btf::kernel::KernelBtf;
use crate::spec::{MapSpec, Pinning, ProgramSpec};
use crate::uapi;
use crate::uapi::{AttachType, Helper, MapType, ProgType};

pub const TCP_NAME: &str = "sockasm_adopt";
pub const TASK_NAME: &str = "sockasm_tscan";

/// ARRAY, one value: what `load` sets before each pass.
pub const MAP_ADOPT_CONFIG: &str = "adopt_config";
/// HASH from (x, y), 8 bytes, to how many sockets showed it (u64).
pub const MAP_ADOPT_RECORDS: &str = "adopt_records";
/// HASH from a socket's kernel address (u64) to 1: a task was in a read
/// call on it. Key 0 (always present, value 0 or 1): everything is busy.
pub const MAP_ADOPT_BUSY: &str = "adopt_busy";
pub const BUSY_MAX_ENTRIES: u32 = 16_384;

/// `adopt_config` value layout.
pub const CFG_OFF_MODE: i16 = 0;
/// The attached cgroup's id (its directory's inode number) and depth.
pub const CFG_OFF_CGROUP_ID: i16 = 8;
pub const CFG_OFF_CGROUP_LEVEL: i16 = 16;
/// Address of the kernel's `pollwake` (0 if unknown): poll()/select()
/// wait entries, which carry a `private` pointer but wake on redirected
/// bytes too, are then not counted as sleepers.
pub const CFG_OFF_POLLWAKE: i16 = 24;
pub const CFG_VALUE_SIZE: u32 = 32;

pub const MODE_RECORD: u64 = 1;
pub const MODE_ADOPT: u64 = 2;
pub const MODE_CONFIRM1: u64 = 3;
pub const MODE_CONFIRM2: u64 = 4;
pub const MODE_DEFER: u64 = 5;

/// How many wait-queue entries clean() walks; more is "not clean".
const WAIT_WALK: usize = 8;
/// `TCP_ESTABLISHED`.
const TCP_ESTABLISHED: i32 = 1;
/// `PF_IO_WORKER` (include/linux/sched.h; a #define, not in BTF).
const PF_IO_WORKER: i32 = 0x10;
/// `__USER32_CS` on x86-64: the task is in a 32-bit (compat) system call.
const USER32_CS: i32 = 0x23;
/// x86-64 read-family system calls (fd in `di`).
const READS_64: [i32; 7] = [0, 19, 45, 47, 299, 295, 327];
/// ia32 read-family system calls (fd in `bx`).
const READS_32: [i32; 7] = [3, 145, 371, 372, 337, 333, 378];
/// io_uring_enter (both ABIs): which socket it reads is not in a register,
/// so every socket counts as busy.
const READS_ANY: [i32; 1] = [426];
/// ia32 socketcall: likewise (64-bit 102 is getuid).
const SOCKETCALL_32: i32 = 102;

/// The kernel fields the adopt programs read, from the kernel's BTF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F {
    IterTcpSk,
    IterTaskTask,
    State,
    Num,
    Dport,
    Net,
    Cgroup,
    RcvQlen,
    Wq,
    LockWq,
    SndUna,
    BytesAcked,
    RcvNxt,
    BytesReceived,
    CopiedSeq,
    NetCookie,
    CgLevel,
    CgAncestors,
    CgKn,
    KnId,
    WqHead,
    WqeFlagsPrivate,
    WqeFunc,
    WqeEntry,
    TaskFiles,
    TaskFlags,
    FilesFdt,
    FdtMaxFds,
    FdtFd,
    FilePrivate,
    SocketSk,
    RegsOrigAx,
    RegsDi,
    RegsBx,
    RegsCs,
}

/// (field, struct, member path, size; 0 = a flexible array).
const FIELDS: [(F, &str, &str, u32); 35] = [
    (F::IterTcpSk, "bpf_iter__tcp", "sk_common", 8),
    (F::IterTaskTask, "bpf_iter__task", "task", 8),
    (F::State, "sock", "__sk_common.skc_state", 1),
    (F::Num, "sock", "__sk_common.skc_num", 2),
    (F::Dport, "sock", "__sk_common.skc_dport", 2),
    (F::Net, "sock", "__sk_common.skc_net.net", 8),
    (F::Cgroup, "sock", "sk_cgrp_data.cgroup", 8),
    (F::RcvQlen, "sock", "sk_receive_queue.qlen", 4),
    (F::Wq, "sock", "sk_wq", 8),
    (F::LockWq, "sock", "sk_lock.wq.head", 16),
    (F::SndUna, "tcp_sock", "snd_una", 4),
    (F::BytesAcked, "tcp_sock", "bytes_acked", 8),
    (F::RcvNxt, "tcp_sock", "rcv_nxt", 4),
    (F::BytesReceived, "tcp_sock", "bytes_received", 8),
    (F::CopiedSeq, "tcp_sock", "copied_seq", 4),
    (F::NetCookie, "net", "net_cookie", 8),
    (F::CgLevel, "cgroup", "level", 4),
    (F::CgAncestors, "cgroup", "ancestors", 0),
    (F::CgKn, "cgroup", "kn", 8),
    (F::KnId, "kernfs_node", "id", 8),
    (F::WqHead, "socket_wq", "wait.head", 16),
    (F::WqeFlagsPrivate, "wait_queue_entry", "private", 8),
    (F::WqeFunc, "wait_queue_entry", "func", 8),
    (F::WqeEntry, "wait_queue_entry", "entry", 16),
    (F::TaskFiles, "task_struct", "files", 8),
    (F::TaskFlags, "task_struct", "flags", 4),
    (F::FilesFdt, "files_struct", "fdt", 8),
    (F::FdtMaxFds, "fdtable", "max_fds", 4),
    (F::FdtFd, "fdtable", "fd", 8),
    (F::FilePrivate, "file", "private_data", 8),
    (F::SocketSk, "socket", "sk", 8),
    (F::RegsOrigAx, "pt_regs", "orig_ax", 8),
    (F::RegsDi, "pt_regs", "di", 8),
    (F::RegsBx, "pt_regs", "bx", 8),
    (F::RegsCs, "pt_regs", "cs", 2),
];

/// Where the fields lie on the running kernel, and the BTF ids the two
/// iterator programs attach to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdoptOffsets {
    offsets: Vec<(F, u32)>,
    /// BTF ids of `bpf_iter_tcp` and `bpf_iter_task`.
    pub iter_tcp: u32,
    pub iter_task: u32,
    /// The address of the kernel's `pollwake` (0: unknown), which the
    /// deploy layer fills in from /proc/kallsyms ([`CFG_OFF_POLLWAKE`]).
    pub pollwake: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error(transparent)]
    Btf(#[from] crate::btf::kernel::KernelBtfError),
    #[error("{strukt}.{path} is {size} bytes in the kernel's BTF, the adopt programs read {want}")]
    Size { strukt: &'static str, path: &'static str, size: u32, want: u32 },
}

impl AdoptOffsets {
    /// Resolves every field in the kernel's BTF (`/sys/kernel/btf/vmlinux`).
    pub fn from_btf(blob: &[u8]) -> Result<AdoptOffsets, AdoptError> {
        let btf = KernelBtf::parse(blob)?;
        let mut names: Vec<&str> = FIELDS.iter().map(|f| f.1).collect();
        names.dedup();
        names.sort_unstable();
        names.dedup();
        let ids = btf.find_structs(&names)?;
        let mut offsets = Vec::new();
        for (f, strukt, path, want) in FIELDS {
            let id = names.iter().zip(&ids).find(|(n, _)| **n == strukt).map_or(0, |(_, id)| *id);
            let m = btf.member_of(id, strukt, path)?;
            if m.size != want || m.offset > 32 * 1024 {
                return Err(AdoptError::Size { strukt, path, size: m.size, want });
            }
            offsets.push((f, m.offset));
        }
        Ok(AdoptOffsets {
            offsets,
            iter_tcp: btf.find_func("bpf_iter_tcp")?,
            iter_task: btf.find_func("bpf_iter_task")?,
            pollwake: 0,
        })
    }

    /// One line per field, `struct.path OFFSET`, then the BTF ids and
    /// `pollwake`, for keeping them for the boot ([`AdoptOffsets::from_text`]).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (f, strukt, path, _) in FIELDS {
            s += &format!("{strukt}.{path} {}\n", self.get(f));
        }
        s += &format!(
            "bpf_iter_tcp {}\nbpf_iter_task {}\npollwake {:x}\n",
            self.iter_tcp, self.iter_task, self.pollwake
        );
        s
    }

    /// Parses [`AdoptOffsets::to_text`]; `None` unless every line is there.
    pub fn from_text(text: &str) -> Option<AdoptOffsets> {
        let value = |name: &str| -> Option<&str> {
            let line = text.lines().find(|l| l.split_whitespace().next() == Some(name))?;
            let mut w = line.split_whitespace().skip(1);
            let v = w.next()?;
            w.next().is_none().then_some(v)
        };
        let mut offsets = Vec::new();
        for (f, strukt, path, _) in FIELDS {
            let o: u32 = value(&format!("{strukt}.{path}"))?.parse().ok()?;
            if o > 32 * 1024 {
                return None;
            }
            offsets.push((f, o));
        }
        Some(AdoptOffsets {
            offsets,
            iter_tcp: value("bpf_iter_tcp")?.parse().ok()?,
            iter_task: value("bpf_iter_task")?.parse().ok()?,
            pollwake: u64::from_str_radix(value("pollwake")?, 16).ok()?,
        })
    }

    pub fn get(&self, f: F) -> u32 {
        self.offsets.iter().find(|(g, _)| *g == f).map_or(0, |(_, o)| *o)
    }
}

fn name(f: F) -> &'static str {
    FIELDS.iter().find(|x| x.0 == f).map_or("?", |x| x.2)
}

// The iter/tcp program's stack, below the key (r10 - 16) and the counters key (r10 - 24).
const S_REC: i16 = -40; // (x, y): a records key
const S_X: i16 = -48; // x, y as u64s
const S_Y: i16 = -56;
const S_TMP: i16 = -64;
const S_TMP2: i16 = -72;
const S_PTR: i16 = -80; // a kernel address being followed
const S_HEAD: i16 = -88; // the address of a list head
const S_COUNT_A: i16 = -96;
const S_COUNT_P: i16 = -104;
const S_INFO: i16 = -144; // 40 bytes: a sock_info value
const _: () = assert!(S_INFO + INFO_VALUE_SIZE as i16 <= S_COUNT_P);

impl Builder {
    /// `r10 + at = *(u64 *)(r10 + at)` read at `+ off` (following a pointer
    /// kept on the stack). Zeroes the slot first. Clobbers r0-r5.
    fn follow(&mut self, at: i16, from: i16, off: u32, size: u32, what: &str) {
        self.push(load(Size::DW, R3, R10, from));
        self.push(store_imm(Size::DW, R10, at, 0));
        self.note(Alu::Add.imm(R3, off as i32), what.to_string());
        self.push(Alu::Mov.reg(R1, R10));
        self.push(Alu::Add.imm(R1, at as i32));
        self.push(Alu::Mov.imm(R2, size as i32));
        self.call(Helper::ProbeReadKernel);
    }

    /// Reads a field of the socket whose address is `base` (a register)
    /// into `r10 + at` (the slot zeroed first, so a short field reads as a
    /// u64). Clobbers r0-r5.
    fn sk_field(&mut self, at: i16, base: Reg, o: &AdoptOffsets, f: F, size: u32) {
        self.push(store_imm(Size::DW, R10, at, 0));
        self.read_at(at, size, base, o.get(f), &format!("&sk->{}", name(f)));
    }
}

/// The `iter/tcp` program (every mode; the configuration value picks one).
pub fn tcp_program(o: &AdoptOffsets, k: &KernelOffsets) -> Result<ProgramSpec, AsmError> {
    let mut b = Builder::new();
    let key = STACK_KEY;
    b.ctx_load(Size::DW, R1, R1, o.get(F::IterTcpSk) as i16, "bpf_iter__tcp.sk_common");
    b.push(Jmp::Jeq.imm(R1, 0, "out"));
    b.call(Helper::SkcToTcpSock);
    b.push(Jmp::Jeq.imm(R0, 0, "out"));
    b.push(Alu::Mov.reg(R6, R0));
    b.sk_field(S_TMP, R6, o, F::State, 1);
    b.push(load(Size::DW, R1, R10, S_TMP));
    b.push(Jmp::Jne.imm(R1, TCP_ESTABLISHED, "out"));
    b.note(ld_map_value(R1, MAP_ADOPT_CONFIG, 0), format!("map {MAP_ADOPT_CONFIG} value"));
    b.note(load(Size::DW, R8, R1, CFG_OFF_MODE), "adopt_config.mode");
    b.push(Jmp::Jge.imm(R8, MODE_CONFIRM1 as i32, "confirm"));

    // RECORD and ADOPT: only sockets of the attached cgroup (or below it).
    b.sk_field(S_PTR, R6, o, F::Cgroup, 8);
    b.push(load(Size::DW, R1, R10, S_PTR));
    b.push(Jmp::Jeq.imm(R1, 0, "out"));
    b.follow(S_TMP, S_PTR, o.get(F::CgLevel), 4, "&cgroup->level");
    b.note(ld_map_value(R1, MAP_ADOPT_CONFIG, 0), format!("map {MAP_ADOPT_CONFIG} value"));
    b.note(load(Size::DW, R2, R1, CFG_OFF_CGROUP_LEVEL), "adopt_config.cgroup_level");
    b.push(load(Size::DW, R1, R10, S_TMP));
    b.push(Jmp::Jgt.reg(R2, R1, "out"));
    // ancestors[level]: the socket's cgroup's ancestor at the attached depth.
    b.push(Jmp::Jgt.imm(R2, 4096, "out"));
    b.push(Alu::Lsh.imm(R2, 3));
    b.push(load(Size::DW, R3, R10, S_PTR));
    b.push(Alu::Add.reg(R3, R2));
    b.note(Alu::Add.imm(R3, o.get(F::CgAncestors) as i32), "&cgroup->ancestors[level]");
    b.push(Alu::Mov.reg(R1, R10));
    b.push(Alu::Add.imm(R1, S_PTR as i32));
    b.push(Alu::Mov.imm(R2, 8));
    b.call(Helper::ProbeReadKernel);
    b.push(Jmp::Jne.imm(R0, 0, "out"));
    b.follow(S_PTR, S_PTR, o.get(F::CgKn), 8, "&cgroup->kn");
    b.follow(S_TMP, S_PTR, o.get(F::KnId), 8, "&kn->id");
    b.note(ld_map_value(R1, MAP_ADOPT_CONFIG, 0), format!("map {MAP_ADOPT_CONFIG} value"));
    b.note(load(Size::DW, R2, R1, CFG_OFF_CGROUP_ID), "adopt_config.cgroup_id");
    b.push(load(Size::DW, R1, R10, S_TMP));
    b.push(Jmp::Jne.reg(R1, R2, "out"));

    // The ports sock_ops admits (see sockops.rs).
    b.admit_ports((R9, S_TMP), ["local port", "remote port"], ("out", "admitted"), |b, i| {
        let f = [F::Num, F::Dport][i];
        b.sk_field(S_TMP, R6, o, f, 2);
        b.push(load(Size::DW, R1, R10, S_TMP));
        if f == F::Dport {
            b.push(Insn::Endian { op: Endian::Be, bits: 16, dst: R1 });
        }
    });
    b.push(ja("out"));
    b.label("admitted");
    // Never a socket whose sequence numbers user space may have chosen.
    b.push(store_imm(Size::DW, R10, S_TMP, 0));
    b.read_at(S_TMP, 1, R6, k.repair.byte, &format!("&sk->{} (byte)", k.repair.name));
    b.push(Jmp::Jne.imm(R0, 0, "out"));
    b.push(load(Size::B, R1, R10, S_TMP));
    b.push(Jmp::Jset.imm(R1, k.repair.mask as i32, "out"));

    // x = snd_una - bytes_acked, y = rcv_nxt - bytes_received (mod 2^32).
    for (slot, a, bsub) in [(S_X, F::SndUna, F::BytesAcked), (S_Y, F::RcvNxt, F::BytesReceived)] {
        b.sk_field(S_TMP, R6, o, a, 4);
        b.sk_field(S_TMP2, R6, o, bsub, 8);
        b.push(load(Size::DW, R1, R10, S_TMP));
        b.push(load(Size::DW, R2, R10, S_TMP2));
        b.push(Alu::Sub.reg(R1, R2));
        b.push(store(Size::W, R10, slot, R1));
        b.push(store_imm(Size::W, R10, slot + 4, 0));
    }
    b.push(Jmp::Jeq.imm(R8, MODE_RECORD as i32, "record"));
    b.push(Jmp::Jeq.imm(R8, MODE_ADOPT as i32, "adopt"));
    b.push(ja("out"));

    // RECORD: count (x, y).
    b.label("record");
    b.push(load(Size::W, R1, R10, S_X));
    b.push(store(Size::W, R10, S_REC, R1));
    b.push(load(Size::W, R1, R10, S_Y));
    b.push(store(Size::W, R10, S_REC + 4, R1));
    b.note(ld_map(R1, MAP_ADOPT_RECORDS), format!("map {MAP_ADOPT_RECORDS}"));
    b.push(Alu::Mov.reg(R2, R10));
    b.push(Alu::Add.imm(R2, S_REC as i32));
    b.call(Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "record_new"));
    b.push(Alu::Mov.imm(R1, 1));
    b.push(atomic(Size::DW, AtomicOp::Add, R0, 0, R1));
    b.push(ja("out"));
    b.label("record_new");
    b.push(store_imm(Size::DW, R10, S_TMP, 1));
    b.note(ld_map(R1, MAP_ADOPT_RECORDS), format!("map {MAP_ADOPT_RECORDS}"));
    b.push(Alu::Mov.reg(R2, R10));
    b.push(Alu::Add.imm(R2, S_REC as i32));
    b.push(Alu::Mov.reg(R3, R10));
    b.push(Alu::Add.imm(R3, S_TMP as i32));
    b.push(Alu::Mov.imm(R4, uapi::BPF_NOEXIST as i32));
    b.call(Helper::MapUpdateElem);
    b.push(ja("out"));

    // ADOPT: the role from the peer's record, then the key.
    b.label("adopt");
    for (slot, x_add, y_add, tag) in [(S_COUNT_A, 1, 0, "a"), (S_COUNT_P, 0, -1, "p")] {
        // active: the peer shows (y, x + 1); passive: (y - 1, x).
        b.push(store_imm(Size::DW, R10, slot, 0));
        b.push(load(Size::W, R1, R10, S_Y));
        b.push(Alu::Add.imm(R1, y_add));
        b.push(store(Size::W, R10, S_REC, R1));
        b.push(load(Size::W, R1, R10, S_X));
        b.push(Alu::Add.imm(R1, x_add));
        b.push(store(Size::W, R10, S_REC + 4, R1));
        b.note(ld_map(R1, MAP_ADOPT_RECORDS), format!("map {MAP_ADOPT_RECORDS}: the peer as {tag}"));
        b.push(Alu::Mov.reg(R2, R10));
        b.push(Alu::Add.imm(R2, S_REC as i32));
        b.call(Helper::MapLookupElem);
        b.push(Jmp::Jeq.imm(R0, 0, 2));
        b.push(load(Size::DW, R1, R0, 0));
        b.push(store(Size::DW, R10, slot, R1));
    }
    b.push(load(Size::DW, R1, R10, S_COUNT_A));
    b.push(load(Size::DW, R2, R10, S_COUNT_P));
    b.push(Jmp::Jne.imm(R1, 1, "maybe_passive"));
    b.push(Jmp::Jne.imm(R2, 0, "unpaired"));
    b.push(load(Size::W, R1, R10, S_X));
    b.push(Alu::Add.imm(R1, 1));
    b.push(store(Size::W, R10, key + OFF_ACTIVE_ISN, R1));
    b.push(load(Size::W, R1, R10, S_Y));
    b.push(store(Size::W, R10, key + OFF_PASSIVE_ISN, R1));
    b.push(store_imm(Size::W, R10, key + OFF_ROLE, ROLE_ACTIVE));
    b.push(ja("keyed"));
    b.label("maybe_passive");
    b.push(Jmp::Jne.imm(R1, 0, "unpaired"));
    b.push(Jmp::Jne.imm(R2, 1, "unpaired"));
    b.push(load(Size::W, R1, R10, S_Y));
    b.push(store(Size::W, R10, key + OFF_ACTIVE_ISN, R1));
    b.push(load(Size::W, R1, R10, S_X));
    b.push(store(Size::W, R10, key + OFF_PASSIVE_ISN, R1));
    b.push(store_imm(Size::W, R10, key + OFF_ROLE, ROLE_PASSIVE));
    b.label("keyed");
    b.push(store_imm(Size::W, R10, key + OFF_ZERO, 0));

    // Handled by sock_ops already: its key must be the one computed here.
    b.note(ld_map(R1, MAP_SK_STATE), format!("map {MAP_SK_STATE}"));
    b.push(Alu::Mov.reg(R2, R6));
    b.push(Alu::Mov.imm(R3, 0));
    b.push(Alu::Mov.imm(R4, 0));
    b.call(Helper::SkStorageGet);
    b.push(Jmp::Jeq.imm(R0, 0, "new"));
    b.push(Alu::Mov.reg(R7, R0));
    b.push(load(Size::DW, R1, R7, STATE_OFF_MODE));
    b.push(Jmp::Jeq.imm(R1, 0, "fresh"));
    b.push(Jmp::Jeq.imm(R1, STATE_ADOPTED, "readopt"));
    b.push(load(Size::DW, R1, R7, STATE_OFF_KEY));
    b.push(load(Size::DW, R2, R10, key));
    b.push(Jmp::Jne.reg(R1, R2, "mismatch"));
    b.push(load(Size::DW, R1, R7, STATE_OFF_KEY + 8));
    b.push(load(Size::DW, R2, R10, key + 8));
    b.push(Jmp::Jne.reg(R1, R2, "mismatch"));
    b.count(&[(Counter::AdoptKeyChecks, None)]);
    b.push(ja("out"));
    b.label("mismatch");
    b.count(&[(Counter::AdoptKeyChecks, None), (Counter::AdoptKeyMismatches, None)]);
    b.push(ja("out"));

    // Adopted before: still in (its own entry there), or taken out again
    // (deferred, or an adoption undone) and adopted anew.
    b.label("readopt");
    b.call_with_key(MAP_SOCK_INFO, Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "fresh"));
    b.push(Alu::Mov.reg(R9, R0));
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::GetSocketCookie);
    b.push(load(Size::DW, R1, R9, INFO_OFF_COOKIE));
    b.push(Jmp::Jeq.reg(R0, R1, "out"));
    b.push(ja("fresh"));

    b.label("new");
    b.note(ld_map(R1, MAP_SK_STATE), format!("map {MAP_SK_STATE}"));
    b.push(Alu::Mov.reg(R2, R6));
    b.push(Alu::Mov.imm(R3, 0));
    b.push(Alu::Mov.imm(R4, uapi::BPF_SK_STORAGE_GET_F_CREATE as i32));
    b.call(Helper::SkStorageGet);
    b.push(Jmp::Jeq.imm(R0, 0, "failed"));
    b.push(Alu::Mov.reg(R7, R0));
    b.label("fresh");
    b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_ADOPTED));
    for half in [0, 8] {
        b.push(load(Size::DW, R1, R10, key + half));
        b.push(store(Size::DW, R7, STATE_OFF_KEY + half, R1));
    }
    b.push(store(Size::DW, R7, STATE_OFF_SELF, R6));
    b.push(store_imm(Size::DW, R10, S_INFO + INFO_OFF_FLAGS, 0));
    b.push(store(Size::DW, R10, S_INFO + INFO_OFF_ADDR, R6));
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::GetSocketCookie);
    b.push(store(Size::DW, R10, S_INFO + INFO_OFF_COOKIE, R0));
    b.sk_field(S_PTR, R6, o, F::Net, 8);
    b.follow(S_INFO + INFO_OFF_NETNS, S_PTR, o.get(F::NetCookie), 8, "&net->net_cookie");
    b.push(store_imm(Size::DW, R10, S_INFO + INFO_OFF_CONFIRM, CONFIRM_ADOPTED));
    b.note(ld_map(R1, MAP_SOCK_INFO), format!("map {MAP_SOCK_INFO}"));
    b.push(Alu::Mov.reg(R2, R10));
    b.push(Alu::Add.imm(R2, key as i32));
    b.push(Alu::Mov.reg(R3, R10));
    b.push(Alu::Add.imm(R3, S_INFO as i32));
    b.push(Alu::Mov.imm(R4, uapi::BPF_NOEXIST as i32));
    b.call(Helper::MapUpdateElem);
    b.push(Jmp::Jne.imm(R0, 0, "unstate"));
    b.note(ld_map(R1, MAP_SOCKHASH), format!("map {MAP_SOCKHASH}"));
    b.push(Alu::Mov.reg(R2, R10));
    b.push(Alu::Add.imm(R2, key as i32));
    b.push(Alu::Mov.reg(R3, R6));
    b.push(Alu::Mov.imm(R4, uapi::BPF_NOEXIST as i32));
    b.call(Helper::MapUpdateElem);
    b.push(Jmp::Jne.imm(R0, 0, "uninfo"));
    b.count(&[(Counter::SocketsAdopted, None)]);
    b.push(ja("out"));
    b.label("uninfo");
    b.call_with_key(MAP_SOCK_INFO, Helper::MapDeleteElem);
    b.label("unstate");
    // Not in the map: a later pass may try again.
    b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, 0));
    b.label("failed");
    b.count(&[(Counter::InsertFailures, None)]);
    b.push(ja("out"));
    b.label("unpaired");
    b.count(&[(Counter::AdoptUnpaired, None)]);
    b.push(ja("out"));

    // C1, C2, DEFER: adopted sockets only, through their own entry.
    b.label("confirm");
    b.note(ld_map(R1, MAP_SK_STATE), format!("map {MAP_SK_STATE}"));
    b.push(Alu::Mov.reg(R2, R6));
    b.push(Alu::Mov.imm(R3, 0));
    b.push(Alu::Mov.imm(R4, 0));
    b.call(Helper::SkStorageGet);
    b.push(Jmp::Jeq.imm(R0, 0, "out"));
    b.push(Alu::Mov.reg(R7, R0));
    b.push(load(Size::DW, R1, R7, STATE_OFF_MODE));
    b.push(Jmp::Jne.imm(R1, STATE_ADOPTED, "out"));
    b.key_from_state(R7, false);
    b.call_with_key(MAP_SOCK_INFO, Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "out"));
    b.push(Alu::Mov.reg(R9, R0));
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::GetSocketCookie);
    b.push(load(Size::DW, R1, R9, INFO_OFF_COOKIE));
    b.push(Jmp::Jne.reg(R0, R1, "out"));
    b.push(Jmp::Jeq.imm(R8, MODE_DEFER as i32, "defer"));

    // Confirmed at the rcv_nxt it still has: it stays so (a writer may
    // have redirected into it already; see the module doc). Once its
    // rcv_nxt moved, its writer sent over TCP after the confirmation, so
    // its write_seq can never match again: it may be confirmed anew.
    b.sk_field(S_Y, R6, o, F::RcvNxt, 4);
    b.push(load(Size::DW, R1, R9, INFO_OFF_CONFIRM));
    b.push(Jmp::Jset.imm(R1, CONFIRM_CONFIRMED, "was_confirmed"));
    b.push(ja("check"));
    b.label("was_confirmed");
    b.push(Alu::Rsh.imm(R1, 32));
    b.push(load(Size::DW, R2, R10, S_Y));
    b.push(Jmp::Jeq.reg(R1, R2, "out"));
    // clean(S), with rcv_nxt in S_Y.
    b.label("check");
    b.sk_field(S_TMP, R6, o, F::CopiedSeq, 4);
    b.push(load(Size::DW, R1, R10, S_Y));
    b.push(load(Size::DW, R2, R10, S_TMP));
    b.push(Jmp::Jne.reg(R1, R2, "dirty"));
    b.sk_field(S_TMP, R6, o, F::RcvQlen, 4);
    b.push(load(Size::DW, R1, R10, S_TMP));
    b.push(Jmp::Jne.imm(R1, 0, "dirty"));
    // Nobody waits for the socket lock: its wait list is empty (points at
    // itself). The addresses as numbers: the socket's own, from sk_state.
    b.sk_field(S_TMP, R6, o, F::LockWq, 8);
    b.push(load(Size::DW, R1, R7, STATE_OFF_SELF));
    b.note(Alu::Add.imm(R1, o.get(F::LockWq) as i32), "&sk->sk_lock.wq.head");
    b.push(load(Size::DW, R2, R10, S_TMP));
    b.push(Jmp::Jne.reg(R1, R2, "dirty"));
    // Nobody sleeps on the socket: walk sk_wq->wait (bounded).
    b.sk_field(S_PTR, R6, o, F::Wq, 8);
    b.push(load(Size::DW, R1, R10, S_PTR));
    b.push(Jmp::Jeq.imm(R1, 0, "clean"));
    b.push(Alu::Add.imm(R1, o.get(F::WqHead) as i32));
    b.push(store(Size::DW, R10, S_HEAD, R1));
    b.follow(S_PTR, S_PTR, o.get(F::WqHead), 8, "&sk_wq->wait.head.next");
    for i in 0..WAIT_WALK {
        b.push(load(Size::DW, R1, R10, S_PTR));
        b.push(load(Size::DW, R2, R10, S_HEAD));
        b.push(Jmp::Jeq.reg(R1, R2, "clean"));
        b.push(Jmp::Jeq.imm(R1, 0, "dirty"));
        // The entry: its list link minus the link's offset.
        b.push(Alu::Sub.imm(R1, o.get(F::WqeEntry) as i32));
        b.push(store(Size::DW, R10, S_TMP2, R1));
        b.follow(S_TMP, S_TMP2, o.get(F::WqeFlagsPrivate), 8, "&wait_queue_entry->private");
        b.push(load(Size::DW, R1, R10, S_TMP));
        b.push(Jmp::Jeq.imm(R1, 0, format!("next{i}")));
        // A poll()/select() entry has a private pointer too, but its
        // waiter goes through tcp_poll, which sees redirected bytes.
        b.follow(S_TMP, S_TMP2, o.get(F::WqeFunc), 8, "&wait_queue_entry->func");
        b.note(ld_map_value(R1, MAP_ADOPT_CONFIG, 0), format!("map {MAP_ADOPT_CONFIG} value"));
        b.note(load(Size::DW, R2, R1, CFG_OFF_POLLWAKE), "adopt_config.pollwake");
        b.push(Jmp::Jeq.imm(R2, 0, "dirty"));
        b.push(load(Size::DW, R1, R10, S_TMP));
        b.push(Jmp::Jne.reg(R1, R2, "dirty"));
        b.label(&format!("next{i}"));
        b.follow(S_PTR, S_PTR, 0, 8, "&list_head->next");
    }
    b.push(ja("dirty"));

    b.label("clean");
    b.push(load(Size::DW, R1, R9, INFO_OFF_CONFIRM));
    b.push(load(Size::DW, R2, R10, S_Y));
    b.push(Alu::Lsh.imm(R2, 32));
    b.push(Jmp::Jeq.imm(R8, MODE_CONFIRM2 as i32, "c2"));
    b.push(Alu::Or.imm(R2, CONFIRM_ADOPTED | CONFIRM_CANDIDATE));
    b.note(store(Size::DW, R9, INFO_OFF_CONFIRM, R2), "sock_info.confirm");
    b.push(ja("out"));
    b.label("c2");
    b.push(Alu::Or.imm(R2, CONFIRM_ADOPTED | CONFIRM_CANDIDATE));
    b.push(Jmp::Jne.reg(R1, R2, "out"));
    // Not inside a read call at the task scan, nor anything unknown.
    b.push(load(Size::DW, R1, R7, STATE_OFF_SELF));
    b.push(store(Size::DW, R10, S_TMP, R1));
    b.note(ld_map(R1, MAP_ADOPT_BUSY), format!("map {MAP_ADOPT_BUSY}: this socket"));
    b.push(Alu::Mov.reg(R2, R10));
    b.push(Alu::Add.imm(R2, S_TMP as i32));
    b.call(Helper::MapLookupElem);
    b.push(Jmp::Jne.imm(R0, 0, "out"));
    b.push(store_imm(Size::DW, R10, S_TMP, 0));
    b.note(ld_map(R1, MAP_ADOPT_BUSY), format!("map {MAP_ADOPT_BUSY}: everything"));
    b.push(Alu::Mov.reg(R2, R10));
    b.push(Alu::Add.imm(R2, S_TMP as i32));
    b.call(Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "out"));
    b.push(load(Size::DW, R1, R0, 0));
    b.push(Jmp::Jne.imm(R1, 0, "out"));
    b.push(load(Size::DW, R2, R10, S_Y));
    b.push(Alu::Lsh.imm(R2, 32));
    b.push(Alu::Or.imm(R2, CONFIRM_ADOPTED | CONFIRM_CONFIRMED));
    b.note(store(Size::DW, R9, INFO_OFF_CONFIRM, R2), "sock_info.confirm");
    b.count(&[(Counter::AdoptConfirmed, None)]);
    b.push(ja("out"));
    // Not clean: no confirmation stands (C1), or none is given (C2).
    b.label("dirty");
    b.push(Jmp::Jne.imm(R8, MODE_CONFIRM1 as i32, "out"));
    b.push(store_imm(Size::DW, R9, INFO_OFF_CONFIRM, CONFIRM_ADOPTED));
    b.push(ja("out"));

    // DEFER: never confirmed. Out of the map again unless its peer is
    // confirmed (then this socket's own writes may still be redirected).
    b.label("defer");
    b.push(load(Size::DW, R1, R9, INFO_OFF_CONFIRM));
    b.push(Jmp::Jset.imm(R1, CONFIRM_CONFIRMED, "out"));
    b.count(&[(Counter::AdoptDeferred, None)]);
    b.key_from_state(R7, true);
    b.call_with_key(MAP_SOCK_INFO, Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "leave"));
    b.push(load(Size::DW, R1, R0, INFO_OFF_CONFIRM));
    b.push(Jmp::Jset.imm(R1, CONFIRM_CONFIRMED, "out"));
    b.label("leave");
    b.key_from_state(R7, false);
    b.call_with_key(MAP_SOCKHASH, Helper::MapDeleteElem);
    b.call_with_key(MAP_SOCK_INFO, Helper::MapDeleteElem);
    b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, 0));

    b.label("out");
    b.push(Alu::Mov.imm(R0, 0));
    b.push(exit());
    let mut spec = b.finish(TCP_NAME, "", ProgType::TRACING, AttachType::TRACE_ITER)?;
    // Loaded for one adoption run, never pinned.
    spec.pinning = Pinning::None;
    spec.attach_btf_id = Some(o.iter_tcp);
    Ok(spec)
}

/// The `iter/task` program: marks the sockets tasks are reading from.
pub fn task_program(o: &AdoptOffsets) -> Result<ProgramSpec, AsmError> {
    let mut b = Builder::new();
    b.ctx_load(Size::DW, R6, R1, o.get(F::IterTaskTask) as i16, "bpf_iter__task.task");
    b.push(Jmp::Jeq.imm(R6, 0, "out"));
    b.push(store_imm(Size::DW, R10, S_TMP, 0));
    b.read_at(S_TMP, 4, R6, o.get(F::TaskFlags), "&task->flags");
    b.push(load(Size::DW, R1, R10, S_TMP));
    b.push(Jmp::Jset.imm(R1, PF_IO_WORKER, "all"));
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::TaskPtRegs);
    b.push(Alu::Mov.reg(R7, R0));
    for (slot, f, size, what) in [
        (S_X, F::RegsOrigAx, 8, "orig_ax"),
        (S_Y, F::RegsCs, 2, "cs"),
        (S_TMP2, F::RegsDi, 8, "di"),
        (S_PTR, F::RegsBx, 8, "bx"),
    ] {
        b.push(store_imm(Size::DW, R10, slot, 0));
        b.read_at(slot, size, R7, o.get(f), &format!("&regs->{what}"));
    }
    b.push(load(Size::DW, R8, R10, S_X));
    for nr in READS_ANY {
        b.push(Jmp::Jeq.imm(R8, nr, "all"));
    }
    b.push(load(Size::DW, R1, R10, S_Y));
    b.push(Jmp::Jeq.imm(R1, USER32_CS, "compat"));
    for nr in READS_64 {
        b.push(Jmp::Jeq.imm(R8, nr, "fd_di"));
    }
    b.push(ja("out"));
    b.label("compat");
    b.push(Jmp::Jeq.imm(R8, SOCKETCALL_32, "all"));
    for nr in READS_32 {
        b.push(Jmp::Jeq.imm(R8, nr, "fd_bx"));
    }
    b.push(ja("out"));
    b.label("fd_bx");
    b.push(load(Size::DW, R9, R10, S_PTR));
    b.push(ja("fd"));
    b.label("fd_di");
    b.push(load(Size::DW, R9, R10, S_TMP2));
    b.label("fd");
    // The fd's file: task->files->fdt->fd[fd] (bounded by max_fds).
    b.push(Jmp::Jgt.imm(R9, 0x7fff_ffff, "out"));
    b.push(store_imm(Size::DW, R10, S_PTR, 0));
    b.read_at(S_PTR, 8, R6, o.get(F::TaskFiles), "&task->files");
    b.push(load(Size::DW, R1, R10, S_PTR));
    b.push(Jmp::Jeq.imm(R1, 0, "out"));
    b.follow(S_PTR, S_PTR, o.get(F::FilesFdt), 8, "&files->fdt");
    b.push(load(Size::DW, R1, R10, S_PTR));
    b.push(Jmp::Jeq.imm(R1, 0, "out"));
    b.follow(S_TMP, S_PTR, o.get(F::FdtMaxFds), 4, "&fdt->max_fds");
    b.push(load(Size::DW, R1, R10, S_TMP));
    b.push(Jmp::Jge.reg(R9, R1, "out"));
    b.follow(S_PTR, S_PTR, o.get(F::FdtFd), 8, "&fdt->fd");
    b.push(load(Size::DW, R3, R10, S_PTR));
    b.push(Jmp::Jeq.imm(R3, 0, "out"));
    b.push(Alu::Lsh.imm(R9, 3));
    b.push(Alu::Add.reg(R3, R9));
    b.push(store(Size::DW, R10, S_PTR, R3));
    b.follow(S_PTR, S_PTR, 0, 8, "&fdt->fd[fd]");
    b.push(load(Size::DW, R1, R10, S_PTR));
    b.push(Jmp::Jeq.imm(R1, 0, "out"));
    // Any file's private_data: if it is not a socket, what is read is not
    // an adopted socket's address either (at worst a false "busy").
    b.follow(S_PTR, S_PTR, o.get(F::FilePrivate), 8, "&file->private_data");
    b.push(load(Size::DW, R1, R10, S_PTR));
    b.push(Jmp::Jeq.imm(R1, 0, "out"));
    b.follow(S_PTR, S_PTR, o.get(F::SocketSk), 8, "&socket->sk");
    b.push(load(Size::DW, R1, R10, S_PTR));
    b.push(Jmp::Jeq.imm(R1, 0, "out"));
    b.push(store_imm(Size::DW, R10, S_TMP, 1));
    b.note(ld_map(R1, MAP_ADOPT_BUSY), format!("map {MAP_ADOPT_BUSY}"));
    b.push(Alu::Mov.reg(R2, R10));
    b.push(Alu::Add.imm(R2, S_PTR as i32));
    b.push(Alu::Mov.reg(R3, R10));
    b.push(Alu::Add.imm(R3, S_TMP as i32));
    b.push(Alu::Mov.imm(R4, uapi::BPF_ANY as i32));
    b.call(Helper::MapUpdateElem);
    b.push(Jmp::Jeq.imm(R0, 0, "out"));
    // The busy map is full: everything counts as busy.
    b.label("all");
    b.push(store_imm(Size::DW, R10, S_TMP, 0));
    b.note(ld_map(R1, MAP_ADOPT_BUSY), format!("map {MAP_ADOPT_BUSY}: everything"));
    b.push(Alu::Mov.reg(R2, R10));
    b.push(Alu::Add.imm(R2, S_TMP as i32));
    b.call(Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "out"));
    b.push(store_imm(Size::DW, R0, 0, 1));
    b.label("out");
    b.push(Alu::Mov.imm(R0, 0));
    b.push(exit());
    let mut spec = b.finish(TASK_NAME, "", ProgType::TRACING, AttachType::TRACE_ITER)?;
    // Loaded for one adoption run, never pinned.
    spec.pinning = Pinning::None;
    spec.attach_btf_id = Some(o.iter_task);
    Ok(spec)
}

/// The maps the adopt programs use besides `load`'s: created for each
/// adoption run, never pinned.
pub fn map_specs(records: u32) -> [(&'static str, MapSpec); 3] {
    [
        (MAP_ADOPT_CONFIG, MapSpec::new(MapType::ARRAY, 4, CFG_VALUE_SIZE, 1).with_name("sockasm_acfg")),
        // Not preallocated: most runs see a few sockets, not 65,535.
        (
            MAP_ADOPT_RECORDS,
            MapSpec::new(MapType::HASH, 8, 8, records).with_flags(uapi::BPF_F_NO_PREALLOC).with_name("sockasm_arec"),
        ),
        (
            MAP_ADOPT_BUSY,
            MapSpec::new(MapType::HASH, 8, 8, BUSY_MAX_ENTRIES)
                .with_flags(uapi::BPF_F_NO_PREALLOC)
                .with_name("sockasm_abusy"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_kernel_btf_resolves_the_adopt_fields_and_the_programs_assemble() {
        let Ok(blob) = std::fs::read("/sys/kernel/btf/vmlinux") else { return };
        let o = AdoptOffsets::from_btf(&blob).unwrap();
        let k = KernelOffsets::from_btf(&blob).unwrap();
        assert_eq!(AdoptOffsets::from_text(&o.to_text()), Some(o.clone()));
        assert_eq!(AdoptOffsets::from_text(&o.to_text().replace("bpf_iter_task", "x")), None);
        assert!(o.iter_tcp != 0 && o.iter_task != 0 && o.iter_tcp != o.iter_task, "{o:?}");
        assert!(o.get(F::RcvNxt) > o.get(F::Wq), "tcp_sock fields follow struct sock: {o:?}");
        for p in [tcp_program(&o, &k).unwrap(), task_program(&o).unwrap()] {
            assert_eq!(p.prog_type, ProgType::TRACING);
            assert!(p.attach_btf_id.is_some());
            assert_eq!(p.code.insns.last(), Some(&Insn::Exit));
        }
    }
}
