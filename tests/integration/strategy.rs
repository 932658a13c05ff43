//! proptest strategies for arbitrary *valid* eBPF instructions (every value
//! satisfies `Insn::validate`). Shared by the disassembler tests and the
//! text assembler tests (`parse(print(i)) == i`).
#![allow(dead_code)]

use proptest::prelude::*;
use sockasm::asm::*;

/// Any register, r0..=r10.
pub fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).unwrap())
}

/// A register an instruction may write: r0..=r9.
pub fn writable_reg() -> impl Strategy<Value = Reg> {
    (0u8..=9).prop_map(|n| Reg::new(n).unwrap())
}

/// A 32-bit immediate, biased towards edge values.
pub fn imm() -> impl Strategy<Value = i32> {
    prop_oneof![
        3 => any::<i32>(),
        2 => -16i32..=16,
        1 => prop::sample::select(vec![i32::MIN, i32::MIN + 1, -65536, -32768, 32767, 65535, i32::MAX - 1, i32::MAX]),
    ]
}

/// A 16-bit offset, biased towards edge values.
pub fn off() -> impl Strategy<Value = i16> {
    prop_oneof![
        3 => any::<i16>(),
        2 => -16i16..=16,
        1 => prop::sample::select(vec![i16::MIN, i16::MIN + 1, -1, 0, 1, i16::MAX - 1, i16::MAX]),
    ]
}

pub fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

pub fn size() -> impl Strategy<Value = Size> {
    prop::sample::select(Size::ALL.to_vec())
}

/// B, H or W: the sizes of legacy packet loads and sign-extending loads.
pub fn small_size() -> impl Strategy<Value = Size> {
    prop::sample::select(vec![Size::B, Size::H, Size::W])
}

pub fn src() -> impl Strategy<Value = Src> {
    prop_oneof![imm().prop_map(Src::Imm), reg().prop_map(Src::Reg)]
}

fn alu() -> impl Strategy<Value = Insn> {
    (width(), prop::sample::select(Alu::ALL.to_vec()), writable_reg(), src(), reg()).prop_map(
        |(width, op, dst, src, sreg)| {
            if op.is_movsx() {
                // Register source only; (s32) only in 64-bit.
                let width = if op == Alu::Movsx32 { Width::W64 } else { width };
                Insn::Alu { width, op, dst, src: Src::Reg(sreg) }
            } else {
                Insn::Alu { width, op, dst, src }
            }
        },
    )
}

fn imm64() -> impl Strategy<Value = Imm64> {
    prop_oneof![
        4 => any::<u64>().prop_map(Imm64::Const),
        1 => prop::sample::select(vec![0u64, 1, u64::MAX, i64::MAX as u64, i64::MIN as u64, 1 << 32, u32::MAX as u64])
            .prop_map(Imm64::Const),
        1 => imm().prop_map(Imm64::MapFd),
        1 => (imm(), imm()).prop_map(|(fd, off)| Imm64::MapValue { fd, off }),
        1 => (imm(), imm()).prop_map(|(id, btf_fd)| Imm64::BtfId { id, btf_fd }),
        1 => imm().prop_map(Imm64::Func),
        1 => imm().prop_map(Imm64::MapIdx),
        1 => (imm(), imm()).prop_map(|(idx, off)| Imm64::MapIdxValue { idx, off }),
    ]
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        3 => imm().prop_map(Call::Helper),
        2 => (1i32..=211).prop_map(Call::Helper),
        1 => imm().prop_map(Call::Local),
        1 => (imm(), off()).prop_map(|(btf_id, module)| Call::Kfunc { btf_id, module }),
    ]
}

fn atomic() -> impl Strategy<Value = Insn> {
    (
        prop::sample::select(vec![Size::W, Size::DW]),
        prop::sample::select(AtomicOp::ALL.to_vec()),
        reg(),
        reg(),
        writable_reg(),
        off(),
    )
        .prop_map(|(size, op, dst, src, wsrc, off)| {
            // A fetching op writes src (cmpxchg writes r0 and only reads src).
            let src = if op.fetches() && op != AtomicOp::Cmpxchg { wsrc } else { src };
            Insn::Atomic { size, op, dst, src, off }
        })
}

/// Any valid instruction.
pub fn insn() -> impl Strategy<Value = Insn> {
    prop_oneof![
        8 => alu(),
        1 => (width(), writable_reg()).prop_map(|(width, dst)| Insn::Neg { width, dst }),
        1 => (
            prop::sample::select(vec![Endian::Le, Endian::Be, Endian::Swap]),
            prop::sample::select(vec![16u8, 32, 64]),
            writable_reg()
        )
            .prop_map(|(op, bits, dst)| Insn::Endian { op, bits, dst }),
        1 => off().prop_map(|off| Insn::Ja { off }),
        1 => imm().prop_map(|imm| Insn::Gotol { imm }),
        6 => (width(), prop::sample::select(Jmp::ALL.to_vec()), reg(), src(), off())
            .prop_map(|(width, op, dst, src, off)| Insn::JmpCond { width, op, dst, src, off }),
        2 => call().prop_map(Insn::Call),
        1 => Just(Insn::Exit),
        1 => off().prop_map(|off| Insn::MayGoto { off }),
        4 => (size(), any::<bool>(), writable_reg(), reg(), off()).prop_map(|(size, signed, dst, src, off)| {
            Insn::Load { size, signed: signed && size != Size::DW, dst, src, off }
        }),
        2 => (size(), reg(), off(), imm()).prop_map(|(size, dst, off, imm)| Insn::StoreImm { size, dst, off, imm }),
        3 => (size(), reg(), reg(), off()).prop_map(|(size, dst, src, off)| Insn::Store { size, dst, src, off }),
        3 => atomic(),
        1 => (size(), writable_reg(), reg(), off()).prop_map(|(size, dst, src, off)| Insn::LoadAcquire { size, dst, src, off }),
        1 => (size(), reg(), reg(), off()).prop_map(|(size, dst, src, off)| Insn::StoreRelease { size, dst, src, off }),
        1 => (writable_reg(), reg(), prop_oneof![Just(0u16), Just(1), any::<u16>()], prop_oneof![Just(0u16), Just(1), any::<u16>()])
            .prop_map(|(dst, src, dst_as, src_as)| Insn::AddrSpaceCast { dst, src, dst_as, src_as }),
        2 => (writable_reg(), imm64()).prop_map(|(dst, value)| Insn::LdImm64 { dst, value }),
        1 => (small_size(), imm()).prop_map(|(size, imm)| Insn::LdAbs { size, imm }),
        1 => (small_size(), reg(), prop_oneof![Just(0), imm()]).prop_map(|(size, src, imm)| Insn::LdInd { size, src, imm }),
    ]
    .prop_filter("strategy produced an invalid instruction", |i| i.validate().is_ok())
}

/// A sequence of valid instructions.
pub fn insns(max: usize) -> impl Strategy<Value = Vec<Insn>> {
    prop::collection::vec(insn(), 0..=max)
}
