//! The total decoder: any bytes give instructions or a `DecodeError`, never
//! a panic.

use super::{
    Alu, AtomicOp, BPF_ADDR_SPACE_CAST, BPF_LOAD_ACQ, BPF_STORE_REL, Call, Class, DecodeError, Endian, Imm64, Insn,
    Jmp, RawInsn, Reg, Size, Src, Width,
};

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
