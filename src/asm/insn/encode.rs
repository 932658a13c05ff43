//! Encoding: an instruction to its 8-byte slots, with the checks that make
//! an instruction valid, and branch offsets.

use super::{
    Alu, AtomicOp, BPF_ADDR_SPACE_CAST, BPF_LOAD_ACQ, BPF_STORE_REL, Call, Class, EncodeError, Endian, Imm64, Insn,
    Mode, R0, R10, RawInsn, Reg, Size, Src, Width,
};

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

pub(super) fn alu_class(width: Width) -> u8 {
    match width {
        Width::W32 => Class::Alu as u8,
        Width::W64 => Class::Alu64 as u8,
    }
}

/// Encodes a sequence of instructions to little-endian bytes.
pub fn encode_all<'a>(insns: impl IntoIterator<Item = &'a Insn>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    for i in insns {
        out.extend(i.to_bytes()?);
    }
    Ok(out)
}
