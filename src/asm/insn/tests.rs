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
        (Insn::Atomic { size: Size::DW, op: AtomicOp::Add, dst: R1, src: R2, off: 8 }, &[0xdb, 0x21, 8, 0, 0, 0, 0, 0]),
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
        (Insn::LoadAcquire { size: Size::B, dst: R0, src: R10, off: -1 }, &[0xd3, 0xa0, 0xff, 0xff, 0x00, 0x01, 0, 0]),
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
        (&[0xcb, 0x21, 0, 0, 0x20, 0x01, 0, 0], "8- and 16-bit atomics exist only as load_acquire and store_release"),
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
