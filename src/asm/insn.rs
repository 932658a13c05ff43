//! The eBPF instruction set (RFC 9669 + Linux v4): typed registers, operations
//! and instructions, with a total decoder (errors, never panics) and an encoder.
//!
//! An instruction is one 8-byte slot, except `lddw` (LD_IMM64) which is one
//! instruction two slots wide.

use byteorder::{ByteOrder, LittleEndian};
use std::fmt;

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

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

impl Insn {
    /// Number of 8-byte slots: 2 for `lddw`, else 1.
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// The register this instruction writes, if any (used to reject writes to r10).
    pub fn written_reg(&self) -> Option<Reg> {
        match *self {
            Insn::Alu { dst, .. } | Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => Some(dst),
            Insn::Load { dst, .. } | Insn::LdImm64 { dst, .. } => Some(dst),
            Insn::LoadAcquire { dst, .. } | Insn::AddrSpaceCast { dst, .. } => Some(dst),
            Insn::Atomic { op: AtomicOp::Cmpxchg, .. } => Some(R0),
            Insn::Atomic { op, src, .. } if op.fetches() => Some(src),
            Insn::LdAbs { .. } | Insn::LdInd { .. } | Insn::Call(_) => Some(R0),
            _ => None,
        }
    }

    /// Checks the combination of fields is an instruction the ISA has.
    pub fn validate(&self) -> Result<(), EncodeError> {
        if self.written_reg() == Some(R10) {
            return Err(EncodeError::WriteToR10);
        }
        match *self {
            Insn::Alu { width, op, src, .. } => {
                if op.is_movsx() && matches!(src, Src::Imm(_)) {
                    return Err(EncodeError::Invalid("sign-extending move takes a register source"));
                }
                if op == Alu::Movsx32 && width == Width::W32 {
                    return Err(EncodeError::Invalid("32-bit sign-extending move has no (s32) form"));
                }
            }
            Insn::Endian { op, bits, .. } => {
                if !matches!(bits, 16 | 32 | 64) {
                    return Err(EncodeError::Invalid("byte swap width must be 16, 32 or 64"));
                }
                let _ = op;
            }
            Insn::Load { size: Size::DW, signed: true, .. } => {
                return Err(EncodeError::BadSize { what: "sign-extending load", size: 8 });
            }
            Insn::Atomic { size, .. } if !matches!(size, Size::W | Size::DW) => {
                return Err(EncodeError::BadSize { what: "atomic operation", size: size.bytes() });
            }
            Insn::LdAbs { size: Size::DW, .. } | Insn::LdInd { size: Size::DW, .. } => {
                return Err(EncodeError::BadSize { what: "legacy packet load", size: 8 });
            }
            _ => {}
        }
        Ok(())
    }

    /// Encodes into one or two raw slots.
    pub fn encode(&self) -> Result<Vec<RawInsn>, EncodeError> {
        self.validate()?;
        let raw = |code: u8, dst: Reg, src: u8, off: i16, imm: i32| RawInsn { code, dst: dst.0, src, off, imm };
        let one = |r: RawInsn| Ok(vec![r]);
        match *self {
            Insn::Alu { width, op, dst, src } => {
                let class = alu_class(width);
                let (bits, off) = op.encoding();
                match src {
                    Src::Imm(imm) => one(raw(class | bits, dst, 0, off, imm)),
                    Src::Reg(s) => one(raw(class | bits | 0x08, dst, s.0, off, 0)),
                }
            }
            Insn::Neg { width, dst } => one(raw(alu_class(width) | 0x80, dst, 0, 0, 0)),
            Insn::Endian { op, bits, dst } => {
                let code = match op {
                    Endian::Le => Class::Alu as u8 | 0xd0,
                    Endian::Be => Class::Alu as u8 | 0xd8,
                    Endian::Swap => Class::Alu64 as u8 | 0xd0,
                };
                one(raw(code, dst, 0, 0, bits as i32))
            }
            Insn::Ja { off } => one(raw(Class::Jmp as u8, R0, 0, off, 0)),
            Insn::Gotol { imm } => one(raw(Class::Jmp32 as u8, R0, 0, 0, imm)),
            Insn::JmpCond { width, op, dst, src, off } => {
                let class = if width == Width::W64 { Class::Jmp } else { Class::Jmp32 } as u8;
                match src {
                    Src::Imm(imm) => one(raw(class | op as u8, dst, 0, off, imm)),
                    Src::Reg(s) => one(raw(class | op as u8 | 0x08, dst, s.0, off, 0)),
                }
            }
            Insn::Call(c) => {
                let (src, off, imm) = match c {
                    Call::Helper(id) => (0, 0, id),
                    Call::Local(rel) => (1, 0, rel),
                    Call::Kfunc { btf_id, module } => (2, module, btf_id),
                };
                one(raw(Class::Jmp as u8 | 0x80, R0, src, off, imm))
            }
            Insn::Exit => one(raw(Class::Jmp as u8 | 0x90, R0, 0, 0, 0)),
            Insn::MayGoto { off } => one(raw(Class::Jmp as u8 | 0xe0, R0, 0, off, 0)),
            Insn::Load { size, signed, dst, src, off } => {
                let mode = if signed { Mode::MemSx } else { Mode::Mem };
                one(raw(Class::Ldx as u8 | size as u8 | mode as u8, dst, src.0, off, 0))
            }
            Insn::StoreImm { size, dst, off, imm } => {
                one(raw(Class::St as u8 | size as u8 | Mode::Mem as u8, dst, 0, off, imm))
            }
            Insn::Store { size, dst, src, off } => {
                one(raw(Class::Stx as u8 | size as u8 | Mode::Mem as u8, dst, src.0, off, 0))
            }
            Insn::Atomic { size, op, dst, src, off } => {
                one(raw(Class::Stx as u8 | size as u8 | Mode::Atomic as u8, dst, src.0, off, op as i32))
            }
            // The loaded-into register goes in the dst field, the base in src.
            Insn::LoadAcquire { size, dst, src, off } => {
                one(raw(Class::Stx as u8 | size as u8 | Mode::Atomic as u8, dst, src.0, off, BPF_LOAD_ACQ))
            }
            Insn::StoreRelease { size, dst, src, off } => {
                one(raw(Class::Stx as u8 | size as u8 | Mode::Atomic as u8, dst, src.0, off, BPF_STORE_REL))
            }
            Insn::AddrSpaceCast { dst, src, dst_as, src_as } => {
                let imm = ((dst_as as u32) << 16 | src_as as u32) as i32;
                one(raw(Class::Alu64 as u8 | 0xb0 | 0x08, dst, src.0, BPF_ADDR_SPACE_CAST, imm))
            }
            Insn::LdImm64 { dst, value } => {
                let (lo, hi) = value.imms();
                Ok(vec![
                    raw(Class::Ld as u8 | Size::DW as u8 | Mode::Imm as u8, dst, value.pseudo_src(), 0, lo),
                    RawInsn { imm: hi, ..RawInsn::default() },
                ])
            }
            Insn::LdAbs { size, imm } => one(raw(Class::Ld as u8 | size as u8 | Mode::Abs as u8, R0, 0, 0, imm)),
            Insn::LdInd { size, src, imm } => {
                one(raw(Class::Ld as u8 | size as u8 | Mode::Ind as u8, R0, src.0, 0, imm))
            }
        }
    }

    /// Encodes to little-endian bytes (8 per slot).
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(self.encode()?.into_iter().flat_map(|r| r.to_bytes()).collect())
    }

    /// The jump/call offset in slots relative to the next slot, for
    /// instructions that have one (jumps, local calls, `lddw` of a function).
    pub fn branch_offset(&self) -> Option<i64> {
        match *self {
            Insn::Ja { off } | Insn::MayGoto { off } | Insn::JmpCond { off, .. } => Some(off as i64),
            Insn::Gotol { imm } | Insn::Call(Call::Local(imm)) => Some(imm as i64),
            Insn::LdImm64 { value: Imm64::Func(imm), .. } => Some(imm as i64),
            _ => None,
        }
    }

    /// Replaces the branch offset (see [`Insn::branch_offset`]). Returns false
    /// if the value does not fit the instruction's offset field.
    pub fn set_branch_offset(&mut self, rel: i64) -> bool {
        let as16 = i16::try_from(rel).ok();
        let as32 = i32::try_from(rel).ok();
        match self {
            Insn::Ja { off } | Insn::MayGoto { off } | Insn::JmpCond { off, .. } => match as16 {
                Some(v) => {
                    *off = v;
                    true
                }
                None => false,
            },
            Insn::Gotol { imm } | Insn::Call(Call::Local(imm)) | Insn::LdImm64 { value: Imm64::Func(imm), .. } => {
                match as32 {
                    Some(v) => {
                        *imm = v;
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }
}

fn alu_class(width: Width) -> u8 {
    match width {
        Width::W32 => Class::Alu as u8,
        Width::W64 => Class::Alu64 as u8,
    }
}

/// Decodes one instruction from `raw` (the slot at `offset`), with `next` the
/// following slot if there is one (needed by `lddw`).
fn decode_one(r: RawInsn, next: Option<RawInsn>) -> Result<Insn, &'static str> {
    let reg = |n: u8| Reg::new(n).ok_or("register number above r10");
    let need = |cond: bool, why: &'static str| if cond { Ok(()) } else { Err(why) };
    let code = r.code;
    match Class::from_code(code) {
        class @ (Class::Alu | Class::Alu64) => {
            let width = if class == Class::Alu64 { Width::W64 } else { Width::W32 };
            let op = code & 0xf0;
            let x = code & 0x08 != 0;
            let dst = reg(r.dst)?;
            match op {
                0x80 => {
                    need(!x && r.src == 0 && r.off == 0 && r.imm == 0, "neg has no operands besides dst")?;
                    Ok(Insn::Neg { width, dst })
                }
                0xd0 => {
                    need(r.src == 0 && r.off == 0, "byte swap has non-zero src or off")?;
                    need(matches!(r.imm, 16 | 32 | 64), "byte swap width must be 16, 32 or 64")?;
                    let endian = match (width, x) {
                        (Width::W32, false) => Endian::Le,
                        (Width::W32, true) => Endian::Be,
                        (Width::W64, false) => Endian::Swap,
                        (Width::W64, true) => return Err("ALU64 byte swap has no register-source form"),
                    };
                    Ok(Insn::Endian { op: endian, bits: r.imm as u8, dst })
                }
                0xe0 | 0xf0 => Err("unknown ALU operation"),
                0xb0 if r.off == BPF_ADDR_SPACE_CAST => {
                    need(width == Width::W64, "addr_space_cast exists only as a 64-bit (ALU64) move")?;
                    need(x, "addr_space_cast takes a register source")?;
                    let (dst_as, src_as) = ((r.imm as u32 >> 16) as u16, r.imm as u32 as u16);
                    Ok(Insn::AddrSpaceCast { dst, src: reg(r.src)?, dst_as, src_as })
                }
                _ => {
                    let alu = Alu::from_encoding(op, r.off).ok_or("unknown ALU operation or offset")?;
                    if alu == Alu::Movsx32 && width == Width::W32 {
                        return Err("32-bit sign-extending move has no (s32) form");
                    }
                    let src = if x {
                        need(r.imm == 0, "register-source ALU has non-zero imm")?;
                        Src::Reg(reg(r.src)?)
                    } else {
                        need(r.src == 0, "immediate-source ALU has non-zero src")?;
                        need(!alu.is_movsx(), "sign-extending move takes a register source")?;
                        Src::Imm(r.imm)
                    };
                    Ok(Insn::Alu { width, op: alu, dst, src })
                }
            }
        }
        class @ (Class::Jmp | Class::Jmp32) => {
            let op = code & 0xf0;
            let x = code & 0x08 != 0;
            let jmp32 = class == Class::Jmp32;
            match op {
                0x00 => {
                    need(!x && r.dst == 0 && r.src == 0, "ja has non-zero registers")?;
                    if jmp32 {
                        need(r.off == 0, "gotol has non-zero off")?;
                        Ok(Insn::Gotol { imm: r.imm })
                    } else {
                        need(r.imm == 0, "ja has non-zero imm")?;
                        Ok(Insn::Ja { off: r.off })
                    }
                }
                0x80 => {
                    need(!jmp32 && !x && r.dst == 0, "malformed call")?;
                    match r.src {
                        0 => need(r.off == 0, "helper call has non-zero off").map(|_| Insn::Call(Call::Helper(r.imm))),
                        1 => need(r.off == 0, "local call has non-zero off").map(|_| Insn::Call(Call::Local(r.imm))),
                        2 => Ok(Insn::Call(Call::Kfunc { btf_id: r.imm, module: r.off })),
                        _ => Err("unknown call kind (src must be 0, 1 or 2)"),
                    }
                }
                0x90 => {
                    need(!jmp32 && !x && r.dst == 0 && r.src == 0 && r.off == 0 && r.imm == 0, "malformed exit")?;
                    Ok(Insn::Exit)
                }
                0xe0 => {
                    need(!jmp32 && !x && r.dst == 0 && r.src == 0 && r.imm == 0, "malformed may_goto")?;
                    Ok(Insn::MayGoto { off: r.off })
                }
                _ => {
                    let jop = Jmp::from_bits(op).ok_or("unknown jump operation")?;
                    let width = if jmp32 { Width::W32 } else { Width::W64 };
                    let dst = reg(r.dst)?;
                    let src = if x {
                        need(r.imm == 0, "register-source jump has non-zero imm")?;
                        Src::Reg(reg(r.src)?)
                    } else {
                        need(r.src == 0, "immediate-source jump has non-zero src")?;
                        Src::Imm(r.imm)
                    };
                    Ok(Insn::JmpCond { width, op: jop, dst, src, off: r.off })
                }
            }
        }
        Class::Ldx => {
            let size = Size::from_code(code);
            let signed = match code & 0xe0 {
                0x60 => false,
                0x80 => true,
                _ => return Err("LDX mode must be MEM or MEMSX"),
            };
            need(!(signed && size == Size::DW), "sign-extending load has no 8-byte form")?;
            need(r.imm == 0, "load has non-zero imm")?;
            Ok(Insn::Load { size, signed, dst: reg(r.dst)?, src: reg(r.src)?, off: r.off })
        }
        Class::St => {
            need(code & 0xe0 == 0x60, "ST mode must be MEM")?;
            need(r.src == 0, "store of an immediate has non-zero src")?;
            Ok(Insn::StoreImm { size: Size::from_code(code), dst: reg(r.dst)?, off: r.off, imm: r.imm })
        }
        Class::Stx => {
            let size = Size::from_code(code);
            match code & 0xe0 {
                0x60 => {
                    need(r.imm == 0, "store of a register has non-zero imm")?;
                    Ok(Insn::Store { size, dst: reg(r.dst)?, src: reg(r.src)?, off: r.off })
                }
                0xc0 => match r.imm {
                    BPF_LOAD_ACQ => Ok(Insn::LoadAcquire { size, dst: reg(r.dst)?, src: reg(r.src)?, off: r.off }),
                    BPF_STORE_REL => Ok(Insn::StoreRelease { size, dst: reg(r.dst)?, src: reg(r.src)?, off: r.off }),
                    _ => {
                        need(
                            matches!(size, Size::W | Size::DW),
                            "8- and 16-bit atomics exist only as load_acquire and store_release",
                        )?;
                        let op = AtomicOp::from_imm(r.imm).ok_or("unknown atomic operation")?;
                        Ok(Insn::Atomic { size, op, dst: reg(r.dst)?, src: reg(r.src)?, off: r.off })
                    }
                },
                _ => Err("STX mode must be MEM or ATOMIC"),
            }
        }
        Class::Ld => {
            let size = Size::from_code(code);
            match code & 0xe0 {
                0x00 => {
                    need(size == Size::DW, "LD IMM exists only as lddw (DW)")?;
                    need(r.off == 0, "lddw has non-zero off")?;
                    let n = next.ok_or("lddw is truncated: its second slot is missing")?;
                    need(
                        n.code == 0 && n.dst == 0 && n.src == 0 && n.off == 0,
                        "lddw second slot must be zero except imm",
                    )?;
                    let value = Imm64::from_parts(r.src, r.imm, n.imm)?;
                    Ok(Insn::LdImm64 { dst: reg(r.dst)?, value })
                }
                0x20 => {
                    need(size != Size::DW, "legacy packet load has no DW form")?;
                    need(r.dst == 0 && r.src == 0 && r.off == 0, "LD_ABS has non-zero registers or off")?;
                    Ok(Insn::LdAbs { size, imm: r.imm })
                }
                0x40 => {
                    need(size != Size::DW, "legacy packet load has no DW form")?;
                    need(r.dst == 0 && r.off == 0, "LD_IND has non-zero dst or off")?;
                    Ok(Insn::LdInd { size, src: reg(r.src)?, imm: r.imm })
                }
                _ => Err("LD mode must be IMM, ABS or IND"),
            }
        }
    }
}

/// Iterates over the instructions in a byte buffer, yielding `(slot, insn)`.
/// Never panics: bad bytes yield one `DecodeError` and end the iteration.
pub struct Decoder<'a> {
    bytes: &'a [u8],
    slot: usize,
    failed: bool,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Decoder<'a> {
        Decoder { bytes, slot: 0, failed: false }
    }
}

impl Iterator for Decoder<'_> {
    type Item = Result<(usize, Insn), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let start = self.slot * 8;
        let rest = self.bytes.get(start..)?;
        if rest.is_empty() {
            return None;
        }
        let fail = |this: &mut Self, bytes: &[u8], reason| {
            this.failed = true;
            Some(Err(DecodeError { offset: this.slot, bytes: bytes.to_vec(), reason }))
        };
        let Some(first) = rest.first_chunk::<8>() else {
            return fail(self, rest, "trailing partial slot (fewer than 8 bytes)");
        };
        let raw = RawInsn::from_bytes(first);
        let next = rest.get(8..).and_then(|r| r.first_chunk::<8>()).map(RawInsn::from_bytes);
        match decode_one(raw, next) {
            Ok(insn) => {
                let at = self.slot;
                self.slot += insn.slots();
                Some(Ok((at, insn)))
            }
            Err(reason) => {
                let width = if raw.code == 0x18 { rest.len().min(16) } else { 8 };
                let bytes = rest[..width].to_vec();
                fail(self, &bytes, reason)
            }
        }
    }
}

/// Decodes a whole buffer.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<(usize, Insn)>, DecodeError> {
    Decoder::new(bytes).collect()
}

/// Encodes a sequence of instructions to little-endian bytes.
pub fn encode_all<'a>(insns: impl IntoIterator<Item = &'a Insn>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    for i in insns {
        out.extend(i.to_bytes()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(i: Insn) -> Vec<u8> {
        i.to_bytes().unwrap()
    }

    /// Golden encodings, checked by hand against RFC 9669's opcode tables.
    #[test]
    fn golden_encodings() {
        let table: &[(Insn, &[u8])] = &[
            (Alu::Mov.imm(R0, 0), &[0xb7, 0x00, 0, 0, 0, 0, 0, 0]),
            (Alu::Add.imm(R1, 22), &[0x07, 0x01, 0, 0, 22, 0, 0, 0]),
            (Alu::Add.reg32(R1, R2), &[0x0c, 0x21, 0, 0, 0, 0, 0, 0]),
            (Alu::Sdiv.imm(R3, -2), &[0x37, 0x03, 1, 0, 0xfe, 0xff, 0xff, 0xff]),
            (Alu::Smod.reg32(R3, R4), &[0x9c, 0x43, 1, 0, 0, 0, 0, 0]),
            (Alu::Movsx16.reg(R1, R2), &[0xbf, 0x21, 16, 0, 0, 0, 0, 0]),
            (Insn::Neg { width: Width::W64, dst: R5 }, &[0x87, 0x05, 0, 0, 0, 0, 0, 0]),
            (Insn::Endian { op: Endian::Be, bits: 16, dst: R1 }, &[0xdc, 0x01, 0, 0, 16, 0, 0, 0]),
            (Insn::Endian { op: Endian::Swap, bits: 64, dst: R1 }, &[0xd7, 0x01, 0, 0, 64, 0, 0, 0]),
            (Insn::Ja { off: -1 }, &[0x05, 0, 0xff, 0xff, 0, 0, 0, 0]),
            (Insn::Gotol { imm: 70000 }, &[0x06, 0, 0, 0, 0x70, 0x11, 0x01, 0]),
            (
                Insn::JmpCond { width: Width::W64, op: Jmp::Jne, dst: R2, src: Src::Reg(R3), off: 3 },
                &[0x5d, 0x32, 3, 0, 0, 0, 0, 0],
            ),
            (
                Insn::JmpCond { width: Width::W32, op: Jmp::Jslt, dst: R1, src: Src::Imm(-5), off: 2 },
                &[0xc6, 0x01, 2, 0, 0xfb, 0xff, 0xff, 0xff],
            ),
            (Insn::Call(Call::Helper(52)), &[0x85, 0, 0, 0, 52, 0, 0, 0]),
            (Insn::Call(Call::Local(3)), &[0x85, 0x10, 0, 0, 3, 0, 0, 0]),
            (Insn::Exit, &[0x95, 0, 0, 0, 0, 0, 0, 0]),
            (Insn::MayGoto { off: 4 }, &[0xe5, 0, 4, 0, 0, 0, 0, 0]),
            (Insn::Load { size: Size::W, signed: false, dst: R0, src: R1, off: 20 }, &[0x61, 0x10, 20, 0, 0, 0, 0, 0]),
            (Insn::Load { size: Size::B, signed: true, dst: R0, src: R1, off: 0 }, &[0x91, 0x10, 0, 0, 0, 0, 0, 0]),
            (Insn::StoreImm { size: Size::DW, dst: R10, off: -8, imm: 0 }, &[0x7a, 0x0a, 0xf8, 0xff, 0, 0, 0, 0]),
            (Insn::Store { size: Size::H, dst: R10, src: R1, off: -2 }, &[0x6b, 0x1a, 0xfe, 0xff, 0, 0, 0, 0]),
            (
                Insn::Atomic { size: Size::DW, op: AtomicOp::Add, dst: R1, src: R2, off: 8 },
                &[0xdb, 0x21, 8, 0, 0, 0, 0, 0],
            ),
            (
                Insn::Atomic { size: Size::W, op: AtomicOp::Cmpxchg, dst: R1, src: R2, off: 16 },
                &[0xc3, 0x21, 16, 0, 0xf1, 0, 0, 0],
            ),
            (
                Insn::LdImm64 { dst: R1, value: Imm64::Const(0x1122334455667788) },
                &[0x18, 0x01, 0, 0, 0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11],
            ),
            (
                Insn::LdImm64 { dst: R1, value: Imm64::MapValue { fd: 5, off: 12 } },
                &[0x18, 0x21, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0],
            ),
            // Load-acquire and store-release: kernel 6.15 (include/uapi/linux/bpf.h
            // BPF_LOAD_ACQ/BPF_STORE_REL); the bytes are those of LLVM's MC
            // test for them, and of the example (r10 - 1).
            (Insn::LoadAcquire { size: Size::B, dst: R0, src: R1, off: 0 }, &[0xd3, 0x10, 0, 0, 0x00, 0x01, 0, 0]),
            (Insn::LoadAcquire { size: Size::H, dst: R0, src: R1, off: 0 }, &[0xcb, 0x10, 0, 0, 0x00, 0x01, 0, 0]),
            (Insn::LoadAcquire { size: Size::W, dst: R0, src: R1, off: 0 }, &[0xc3, 0x10, 0, 0, 0x00, 0x01, 0, 0]),
            (Insn::LoadAcquire { size: Size::DW, dst: R0, src: R1, off: 0 }, &[0xdb, 0x10, 0, 0, 0x00, 0x01, 0, 0]),
            (
                Insn::LoadAcquire { size: Size::B, dst: R0, src: R10, off: -1 },
                &[0xd3, 0xa0, 0xff, 0xff, 0x00, 0x01, 0, 0],
            ),
            (Insn::StoreRelease { size: Size::B, dst: R1, src: R2, off: 0 }, &[0xd3, 0x21, 0, 0, 0x10, 0x01, 0, 0]),
            (Insn::StoreRelease { size: Size::H, dst: R1, src: R2, off: 0 }, &[0xcb, 0x21, 0, 0, 0x10, 0x01, 0, 0]),
            (Insn::StoreRelease { size: Size::W, dst: R1, src: R2, off: 0 }, &[0xc3, 0x21, 0, 0, 0x10, 0x01, 0, 0]),
            (Insn::StoreRelease { size: Size::DW, dst: R1, src: R2, off: 0 }, &[0xdb, 0x21, 0, 0, 0x10, 0x01, 0, 0]),
            // addr_space_cast: what llvm-mc-19 -mcpu=v4 encodes.
            (
                Insn::AddrSpaceCast { dst: R1, src: R2, dst_as: 0, src_as: 1 },
                &[0xbf, 0x21, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00],
            ),
            (
                Insn::AddrSpaceCast { dst: R1, src: R2, dst_as: 1, src_as: 0 },
                &[0xbf, 0x21, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00],
            ),
            (
                Insn::AddrSpaceCast { dst: R0, src: R10, dst_as: 65535, src_as: 65534 },
                &[0xbf, 0xa0, 0x01, 0x00, 0xfe, 0xff, 0xff, 0xff],
            ),
            (Insn::LdAbs { size: Size::H, imm: 12 }, &[0x28, 0, 0, 0, 12, 0, 0, 0]),
            (Insn::LdInd { size: Size::B, src: R2, imm: 1 }, &[0x50, 0x20, 0, 0, 1, 0, 0, 0]),
        ];
        for (insn, want) in table {
            assert_eq!(bytes(*insn), *want, "{insn:?}");
            let back = decode_all(want).unwrap();
            assert_eq!(back, vec![(0, *insn)]);
        }
    }

    #[test]
    fn rejects_bad_fields() {
        let cases: &[(&[u8], &str)] = &[
            (&[0xb7, 0x0b, 0, 0, 0, 0, 0, 0], "register number above r10"),
            (&[0x07, 0x21, 0, 0, 1, 0, 0, 0], "immediate-source ALU has non-zero src"),
            (&[0xd3, 0x21, 0, 0, 0, 0, 0, 0], "8- and 16-bit atomics exist only as load_acquire and store_release"),
            (
                &[0xcb, 0x21, 0, 0, 0x20, 0x01, 0, 0],
                "8- and 16-bit atomics exist only as load_acquire and store_release",
            ),
            (&[0xdb, 0x21, 0, 0, 0x01, 0x01, 0, 0], "unknown atomic operation"),
            (&[0xbc, 0x21, 1, 0, 1, 0, 0, 0], "addr_space_cast exists only as a 64-bit (ALU64) move"),
            (&[0xb7, 0x01, 1, 0, 1, 0, 0, 0], "addr_space_cast takes a register source"),
            (&[0xbf, 0x21, 2, 0, 0, 0, 0, 0], "unknown ALU operation or offset"),
            (&[0x18, 0x01, 0, 0, 0, 0, 0, 0], "lddw is truncated: its second slot is missing"),
            (&[0x95, 0, 0, 0, 1, 0, 0, 0], "malformed exit"),
            (&[0xe4, 0, 0, 0, 0, 0, 0, 0], "unknown ALU operation"),
            (&[0xb4, 0x01, 8, 0, 0, 0, 0, 0], "sign-extending move takes a register source"),
        ];
        for (b, why) in cases {
            let e = decode_all(b).unwrap_err();
            assert_eq!(e.reason, *why, "{b:?}");
            assert_eq!(e.offset, 0);
        }
        let e = decode_all(&[0x95, 0, 0, 0, 0, 0, 0, 0, 0x95, 0]).unwrap_err();
        assert_eq!((e.offset, e.bytes.len()), (1, 2));
        assert!(e.to_string().contains("slot 1"), "{e}");
    }

    #[test]
    fn encode_rejects_invalid() {
        assert_eq!(Alu::Mov.imm(R10, 0).encode(), Err(EncodeError::WriteToR10));
        let at = Insn::Atomic { size: Size::B, op: AtomicOp::Add, dst: R1, src: R2, off: 0 };
        assert_eq!(at.encode(), Err(EncodeError::BadSize { what: "atomic operation", size: 1 }));
        assert!(Alu::Movsx32.reg32(R1, R2).encode().is_err());
        let la = Insn::LoadAcquire { size: Size::B, dst: R10, src: R1, off: 0 };
        assert_eq!(la.encode(), Err(EncodeError::WriteToR10));
        let cast = Insn::AddrSpaceCast { dst: R10, src: R1, dst_as: 0, src_as: 1 };
        assert_eq!(cast.encode(), Err(EncodeError::WriteToR10));
        // A store-release writes memory, not a register: r10 as its base is fine.
        assert!(Insn::StoreRelease { size: Size::B, dst: R10, src: R1, off: -1 }.encode().is_ok());
    }
}
