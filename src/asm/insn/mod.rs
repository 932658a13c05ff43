//! The eBPF instruction set (RFC 9669 + Linux v4): typed registers, operations
//! and instructions, with a total decoder (errors, never panics) and an encoder.
//!
//! An instruction is one 8-byte slot, except `lddw` (LD_IMM64) which is one
//! instruction two slots wide.

use byteorder::{ByteOrder, LittleEndian};
use std::fmt;

mod decode;
mod encode;

pub use decode::{Decoder, decode_all};
pub use encode::encode_all;

/// A register, r0..r10. r10 is the read-only frame pointer.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Reg(u8);

pub const R0: Reg = Reg(0);
pub const R1: Reg = Reg(1);
pub const R2: Reg = Reg(2);
pub const R3: Reg = Reg(3);
pub const R4: Reg = Reg(4);
pub const R5: Reg = Reg(5);
pub const R6: Reg = Reg(6);
pub const R7: Reg = Reg(7);
pub const R8: Reg = Reg(8);
pub const R9: Reg = Reg(9);
pub const R10: Reg = Reg(10);

impl Reg {
    pub const R0: Reg = R0;
    pub const R1: Reg = R1;
    pub const R2: Reg = R2;
    pub const R3: Reg = R3;
    pub const R4: Reg = R4;
    pub const R5: Reg = R5;
    pub const R6: Reg = R6;
    pub const R7: Reg = R7;
    pub const R8: Reg = R8;
    pub const R9: Reg = R9;
    pub const R10: Reg = R10;
    /// The frame pointer.
    pub const FP: Reg = R10;

    /// `Some` for 0..=10, `None` otherwise.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 { Some(Reg(n)) } else { None }
    }
    pub const fn index(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Instruction class: the low 3 bits of the opcode byte.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Class {
    Ld = 0x00,
    Ldx = 0x01,
    St = 0x02,
    Stx = 0x03,
    Alu = 0x04,
    Jmp = 0x05,
    Jmp32 = 0x06,
    Alu64 = 0x07,
}

impl Class {
    fn from_code(code: u8) -> Class {
        match code & 0x07 {
            0x00 => Class::Ld,
            0x01 => Class::Ldx,
            0x02 => Class::St,
            0x03 => Class::Stx,
            0x04 => Class::Alu,
            0x05 => Class::Jmp,
            0x06 => Class::Jmp32,
            _ => Class::Alu64,
        }
    }
}

/// Memory access size (bits 3-4 of load/store opcodes).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum Size {
    W = 0x00,
    H = 0x08,
    B = 0x10,
    DW = 0x18,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

    pub const fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }
    fn from_code(code: u8) -> Size {
        match code & 0x18 {
            0x00 => Size::W,
            0x08 => Size::H,
            0x10 => Size::B,
            _ => Size::DW,
        }
    }
}

/// Load/store mode (bits 5-7 of load/store opcodes).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Mode {
    Imm = 0x00,
    Abs = 0x20,
    Ind = 0x40,
    Mem = 0x60,
    MemSx = 0x80,
    Atomic = 0xc0,
}

/// Operation width of ALU and conditional-jump instructions.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Width {
    /// 32-bit (class ALU / JMP32): operands are the low halves, printed `wN`.
    W32,
    /// 64-bit (class ALU64 / JMP).
    W64,
}

/// The second operand: an immediate (source bit K) or a register (X).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Src {
    Imm(i32),
    Reg(Reg),
}

impl From<Reg> for Src {
    fn from(r: Reg) -> Src {
        Src::Reg(r)
    }
}
impl From<i32> for Src {
    fn from(v: i32) -> Src {
        Src::Imm(v)
    }
}

/// Binary ALU operations. Signed division/modulo and sign-extending moves are
/// the v4 variants encoded with a non-zero `off`.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Alu {
    Add,
    Sub,
    Mul,
    Div,
    Sdiv,
    Or,
    And,
    Lsh,
    Rsh,
    Arsh,
    Mod,
    Smod,
    Xor,
    Mov,
    /// `dst = (s8)src`, register source only.
    Movsx8,
    Movsx16,
    /// 64-bit only.
    Movsx32,
}

impl Alu {
    pub const ALL: [Alu; 17] = [
        Alu::Add,
        Alu::Sub,
        Alu::Mul,
        Alu::Div,
        Alu::Sdiv,
        Alu::Or,
        Alu::And,
        Alu::Lsh,
        Alu::Rsh,
        Alu::Arsh,
        Alu::Mod,
        Alu::Smod,
        Alu::Xor,
        Alu::Mov,
        Alu::Movsx8,
        Alu::Movsx16,
        Alu::Movsx32,
    ];

    /// The operation bits (opcode high nibble) and the `off` field.
    pub const fn encoding(self) -> (u8, i16) {
        match self {
            Alu::Add => (0x00, 0),
            Alu::Sub => (0x10, 0),
            Alu::Mul => (0x20, 0),
            Alu::Div => (0x30, 0),
            Alu::Sdiv => (0x30, 1),
            Alu::Or => (0x40, 0),
            Alu::And => (0x50, 0),
            Alu::Lsh => (0x60, 0),
            Alu::Rsh => (0x70, 0),
            Alu::Mod => (0x90, 0),
            Alu::Smod => (0x90, 1),
            Alu::Xor => (0xa0, 0),
            Alu::Mov => (0xb0, 0),
            Alu::Movsx8 => (0xb0, 8),
            Alu::Movsx16 => (0xb0, 16),
            Alu::Movsx32 => (0xb0, 32),
            Alu::Arsh => (0xc0, 0),
        }
    }

    fn from_encoding(op: u8, off: i16) -> Option<Alu> {
        Alu::ALL.iter().copied().find(|a| a.encoding() == (op, off))
    }

    pub const fn is_movsx(self) -> bool {
        matches!(self, Alu::Movsx8 | Alu::Movsx16 | Alu::Movsx32)
    }

    /// 64-bit `dst op= imm`.
    pub fn imm(self, dst: Reg, imm: i32) -> Insn {
        Insn::Alu { width: Width::W64, op: self, dst, src: Src::Imm(imm) }
    }
    /// 64-bit `dst op= src`.
    pub fn reg(self, dst: Reg, src: Reg) -> Insn {
        Insn::Alu { width: Width::W64, op: self, dst, src: Src::Reg(src) }
    }
    /// 32-bit `wdst op= imm` (the upper half of dst is zeroed).
    pub fn imm32(self, dst: Reg, imm: i32) -> Insn {
        Insn::Alu { width: Width::W32, op: self, dst, src: Src::Imm(imm) }
    }
    /// 32-bit `wdst op= wsrc`.
    pub fn reg32(self, dst: Reg, src: Reg) -> Insn {
        Insn::Alu { width: Width::W32, op: self, dst, src: Src::Reg(src) }
    }
}

/// Byte-order operations (opcode 0xd0).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Endian {
    /// `dst = le16/32/64 dst` (ALU class, source bit K); on a little-endian host it truncates.
    Le,
    /// `dst = be16/32/64 dst` (ALU class, source bit X).
    Be,
    /// `dst = bswap16/32/64 dst` (ALU64 class, v4): unconditional swap.
    Swap,
}

/// Conditional jump operations; values are the opcode bits.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum Jmp {
    Jeq = 0x10,
    Jgt = 0x20,
    Jge = 0x30,
    Jset = 0x40,
    Jne = 0x50,
    Jsgt = 0x60,
    Jsge = 0x70,
    Jlt = 0xa0,
    Jle = 0xb0,
    Jslt = 0xc0,
    Jsle = 0xd0,
}

impl Jmp {
    pub const ALL: [Jmp; 11] = [
        Jmp::Jeq,
        Jmp::Jgt,
        Jmp::Jge,
        Jmp::Jset,
        Jmp::Jne,
        Jmp::Jsgt,
        Jmp::Jsge,
        Jmp::Jlt,
        Jmp::Jle,
        Jmp::Jslt,
        Jmp::Jsle,
    ];

    fn from_bits(op: u8) -> Option<Jmp> {
        Jmp::ALL.iter().copied().find(|j| *j as u8 == op)
    }
}

/// Atomic read-modify-write operations (STX | ATOMIC, W or DW). The values are
/// the `imm` field.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
#[repr(i32)]
pub enum AtomicOp {
    /// `lock *(size *)(dst + off) += src`
    Add = 0x00,
    Or = 0x40,
    And = 0x50,
    Xor = 0xa0,
    /// `src = atomic_fetch_add((size *)(dst + off), src)`
    FetchAdd = 0x01,
    FetchOr = 0x41,
    FetchAnd = 0x51,
    FetchXor = 0xa1,
    /// `src = xchg(dst + off, src)`
    Xchg = 0xe1,
    /// `r0 = cmpxchg(dst + off, r0, src)`
    Cmpxchg = 0xf1,
}

impl AtomicOp {
    pub const ALL: [AtomicOp; 10] = [
        AtomicOp::Add,
        AtomicOp::Or,
        AtomicOp::And,
        AtomicOp::Xor,
        AtomicOp::FetchAdd,
        AtomicOp::FetchOr,
        AtomicOp::FetchAnd,
        AtomicOp::FetchXor,
        AtomicOp::Xchg,
        AtomicOp::Cmpxchg,
    ];
    fn from_imm(imm: i32) -> Option<AtomicOp> {
        AtomicOp::ALL.iter().copied().find(|a| *a as i32 == imm)
    }
    /// Whether the operation writes a register (src, or r0 for cmpxchg).
    pub const fn fetches(self) -> bool {
        (self as i32) & 0x01 != 0
    }
}

/// `imm` of STX | ATOMIC for a load-acquire (kernel 6.15; all four sizes).
pub const BPF_LOAD_ACQ: i32 = 0x100;
/// `imm` of STX | ATOMIC for a store-release (kernel 6.15; all four sizes).
pub const BPF_STORE_REL: i32 = 0x110;
/// `off` of ALU64 | MOV | X that makes it an address-space cast (kernel 6.9).
pub const BPF_ADDR_SPACE_CAST: i16 = 1;

/// What a `call` instruction calls (the `src` field).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Call {
    /// src 0: a helper function by id (`call 1` is bpf_map_lookup_elem).
    Helper(i32),
    /// src 1: a BPF-to-BPF call; `imm` is the offset in slots from the next slot.
    Local(i32),
    /// src 2: a kernel function by BTF id; `off` selects a module BTF (0 = vmlinux).
    Kfunc { btf_id: i32, module: i16 },
}

/// The value a `lddw` loads: the `src` field of its first slot says how the
/// kernel reads the 64-bit immediate.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Imm64 {
    /// src 0: a plain constant.
    Const(u64),
    /// src 1 (BPF_PSEUDO_MAP_FD): the address of the map with this fd.
    MapFd(i32),
    /// src 2 (BPF_PSEUDO_MAP_VALUE): address of byte `off` of the map's value.
    MapValue { fd: i32, off: i32 },
    /// src 3 (BPF_PSEUDO_BTF_ID): address of a kernel variable; `btf_fd` 0 = vmlinux.
    BtfId { id: i32, btf_fd: i32 },
    /// src 4 (BPF_PSEUDO_FUNC): address of a BPF function at this slot offset.
    Func(i32),
    /// src 5 (BPF_PSEUDO_MAP_IDX): the map at this index of fd_array.
    MapIdx(i32),
    /// src 6 (BPF_PSEUDO_MAP_IDX_VALUE).
    MapIdxValue { idx: i32, off: i32 },
}

impl Imm64 {
    pub const fn pseudo_src(self) -> u8 {
        match self {
            Imm64::Const(_) => 0,
            Imm64::MapFd(_) => 1,
            Imm64::MapValue { .. } => 2,
            Imm64::BtfId { .. } => 3,
            Imm64::Func(_) => 4,
            Imm64::MapIdx(_) => 5,
            Imm64::MapIdxValue { .. } => 6,
        }
    }
    /// The `imm` of the first and of the second slot.
    pub const fn imms(self) -> (i32, i32) {
        match self {
            Imm64::Const(v) => (v as u32 as i32, (v >> 32) as u32 as i32),
            Imm64::MapFd(fd) => (fd, 0),
            Imm64::MapValue { fd, off } => (fd, off),
            Imm64::BtfId { id, btf_fd } => (id, btf_fd),
            Imm64::Func(rel) => (rel, 0),
            Imm64::MapIdx(i) => (i, 0),
            Imm64::MapIdxValue { idx, off } => (idx, off),
        }
    }
    fn from_parts(src: u8, lo: i32, hi: i32) -> Result<Imm64, &'static str> {
        let zero_hi = |v: Imm64| if hi == 0 { Ok(v) } else { Err("second slot imm must be 0 for this lddw kind") };
        match src {
            0 => Ok(Imm64::Const((lo as u32 as u64) | ((hi as u32 as u64) << 32))),
            1 => zero_hi(Imm64::MapFd(lo)),
            2 => Ok(Imm64::MapValue { fd: lo, off: hi }),
            3 => Ok(Imm64::BtfId { id: lo, btf_fd: hi }),
            4 => zero_hi(Imm64::Func(lo)),
            5 => zero_hi(Imm64::MapIdx(lo)),
            6 => Ok(Imm64::MapIdxValue { idx: lo, off: hi }),
            _ => Err("unknown lddw source (pseudo) kind"),
        }
    }
}

/// One eBPF instruction, fully typed. `LdImm64` occupies two slots.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Insn {
    /// `dst op= src` (Mov: `dst = src`, Movsx: `dst = (sN)src`).
    Alu {
        width: Width,
        op: Alu,
        dst: Reg,
        src: Src,
    },
    /// `dst = -dst`.
    Neg {
        width: Width,
        dst: Reg,
    },
    /// `dst = le16/be32/bswap64 dst`; `bits` is 16, 32 or 64.
    Endian {
        op: Endian,
        bits: u8,
        dst: Reg,
    },
    /// `goto +off`.
    Ja {
        off: i16,
    },
    /// `gotol +imm` (JMP32 | JA): a jump with a 32-bit offset.
    Gotol {
        imm: i32,
    },
    /// `if dst op src goto +off`.
    JmpCond {
        width: Width,
        op: Jmp,
        dst: Reg,
        src: Src,
        off: i16,
    },
    Call(Call),
    Exit,
    /// `may_goto +off`: fall through while the loop budget lasts, jump once it is
    /// exhausted (kernel 6.9).
    MayGoto {
        off: i16,
    },
    /// `dst = *(size *)(src + off)`; `signed` is LDX MEMSX (`*(s8 *)`, v4).
    Load {
        size: Size,
        signed: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `*(size *)(dst + off) = imm` (ST).
    StoreImm {
        size: Size,
        dst: Reg,
        off: i16,
        imm: i32,
    },
    /// `*(size *)(dst + off) = src` (STX).
    Store {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// Atomic read-modify-write on `*(size *)(dst + off)`, size W or DW.
    Atomic {
        size: Size,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `dst = load_acquire((size *)(src + off))` (STX | ATOMIC, imm
    /// BPF_LOAD_ACQ, kernel 6.15): a load no later access is reordered before.
    /// Unlike the read-modify-write atomics, `dst` is the register written and
    /// `src` the base, as in [`Insn::Load`]; B, H and W zero-extend.
    LoadAcquire {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `store_release((size *)(dst + off), src)` (STX | ATOMIC, imm
    /// BPF_STORE_REL, kernel 6.15): a store no earlier access is reordered after.
    StoreRelease {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `dst = addr_space_cast(src, dst_as, src_as)` (ALU64 | MOV | X with
    /// off 1, imm `dst_as << 16 | src_as`, kernel 6.9): converts a pointer
    /// between address spaces; the kernel knows 0 (kernel) and 1 (arena).
    AddrSpaceCast {
        dst: Reg,
        src: Reg,
        dst_as: u16,
        src_as: u16,
    },
    /// `dst = imm64 ll` (LD | IMM | DW), two slots.
    LdImm64 {
        dst: Reg,
        value: Imm64,
    },
    /// Legacy packet load `r0 = *(size *)skb[imm]` (LD | ABS).
    LdAbs {
        size: Size,
        imm: i32,
    },
    /// Legacy packet load `r0 = *(size *)skb[src + imm]` (LD | IND).
    LdInd {
        size: Size,
        src: Reg,
        imm: i32,
    },
}

/// One raw 8-byte slot, as the kernel sees it.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub struct RawInsn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl RawInsn {
    pub fn from_bytes(b: &[u8; 8]) -> RawInsn {
        RawInsn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: LittleEndian::read_i16(&b[2..4]),
            imm: LittleEndian::read_i32(&b[4..8]),
        }
    }
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.src << 4) | (self.dst & 0x0f);
        LittleEndian::write_i16(&mut b[2..4], self.off);
        LittleEndian::write_i32(&mut b[4..8], self.imm);
        b
    }
}

/// Why an instruction value cannot be encoded.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("r10 is the read-only frame pointer and cannot be written")]
    WriteToR10,
    #[error("{what} has no {size}-byte form")]
    BadSize { what: &'static str, size: u32 },
    #[error("{0}")]
    Invalid(&'static str),
}

/// Why bytes are not a valid instruction.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("invalid instruction at slot {offset} (bytes {}): {reason}", hex(.bytes))]
pub struct DecodeError {
    /// Slot index (8-byte units) of the offending instruction.
    pub offset: usize,
    /// The bytes of the offending slot(s), possibly fewer than 8 if truncated.
    pub bytes: Vec<u8>,
    pub reason: &'static str,
}

/// Bytes as lower-case hex pairs separated by spaces: `b7 01 00 00`. The one
/// hex formatter of messages and listings.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    push_hex(&mut s, b);
    s
}

/// [`hex`] appended to `out`, by table: `dump --json` writes one per
/// instruction, and `format!` per byte cost more than the rest of the JSON.
pub fn push_hex(out: &mut String, b: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(char::from(DIGITS[usize::from(x >> 4)]));
        out.push(char::from(DIGITS[usize::from(x & 15)]));
    }
}

#[cfg(test)]
mod tests;
