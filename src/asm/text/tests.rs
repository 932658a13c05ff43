use super::*;
use crate::asm::program::*;

fn one(s: &str) -> Insn {
    let a = assemble(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(a.insns.len(), 1, "{s}");
    a.insns[0]
}

fn err(s: &str) -> TextError {
    match assemble(s) {
        Ok(a) => panic!("{s:?} assembled to {:?}", a.insns),
        Err(e) => e,
    }
}

#[test]
fn basic_forms() {
    use Width::*;
    assert_eq!(one("r0 = *(u32 *)(r1 + 20)"), load(Size::W, R0, R1, 20));
    assert_eq!(one("w0 = *(u32 *)(r1 + 20)"), load(Size::W, R0, R1, 20));
    assert_eq!(one("r0 = *(s16 *)(r1 - 2)"), load_sx(Size::H, R0, R1, -2));
    assert_eq!(
        one("if w1 s< -5 goto +2"),
        Insn::JmpCond { width: W32, op: Jmp::Jslt, dst: R1, src: Src::Imm(-5), off: 2 }
    );
    assert_eq!(
        one("if r1 & r2 goto +1"),
        Insn::JmpCond { width: W64, op: Jmp::Jset, dst: R1, src: Src::Reg(R2), off: 1 }
    );
    assert_eq!(one("lock *(u64 *)(r1 + 8) += r2"), atomic(Size::DW, AtomicOp::Add, R1, 8, R2));
    assert_eq!(one("lock *(u32 *)(r1 + 8) ^= w2"), atomic(Size::W, AtomicOp::Xor, R1, 8, R2));
    assert_eq!(one("r2 = atomic_fetch_add((u64 *)(r1 + 8), r2)"), atomic(Size::DW, AtomicOp::FetchAdd, R1, 8, R2));
    assert_eq!(one("w2 = xchg32_32(r1 + 8, w2)"), atomic(Size::W, AtomicOp::Xchg, R1, 8, R2));
    assert_eq!(one("r0 = cmpxchg_64(r1 + 16, r0, r2)"), atomic(Size::DW, AtomicOp::Cmpxchg, R1, 16, R2));
    assert_eq!(one("w0 = cmpxchg32_32(r1 + 16, w0, w2)"), atomic(Size::W, AtomicOp::Cmpxchg, R1, 16, R2));
    assert_eq!(one("r1 = 0x1122334455667788 ll"), lddw(R1, 0x1122334455667788));
    assert_eq!(one("r1 = 1234605616436508552 ll"), lddw(R1, 0x1122334455667788));
    assert_eq!(one("r1 = -1 ll"), lddw(R1, u64::MAX));
    assert_eq!(one("gotol +3"), Insn::Gotol { imm: 3 });
    assert_eq!(one("gotol -100000"), Insn::Gotol { imm: -100000 });
    assert_eq!(one("may_goto +2"), Insn::MayGoto { off: 2 });
    assert_eq!(one("r0 = *(u8 *)skb[20]"), Insn::LdAbs { size: Size::B, imm: 20 });
    assert_eq!(one("r0 = *(u16 *)skb[r1 + 4]"), Insn::LdInd { size: Size::H, src: R1, imm: 4 });
    assert_eq!(one("r0 = *(u32 *)skb[r1]"), Insn::LdInd { size: Size::W, src: R1, imm: 0 });
    assert_eq!(one("r1 = bswap16 r1"), Insn::Endian { op: Endian::Swap, bits: 16, dst: R1 });
    assert_eq!(one("r1 = le16 r1"), Insn::Endian { op: Endian::Le, bits: 16, dst: R1 });
    assert_eq!(one("r1 = be32 r1"), Insn::Endian { op: Endian::Be, bits: 32, dst: R1 });
    assert_eq!(one("w1 = (s8)w2"), Alu::Movsx8.reg32(R1, R2));
    assert_eq!(one("r1 = (s32)r2"), Alu::Movsx32.reg(R1, R2));
    assert_eq!(one("r1 = -r1"), Insn::Neg { width: W64, dst: R1 });
    assert_eq!(one("w1 = -w1"), Insn::Neg { width: W32, dst: R1 });
    assert_eq!(one("w1 s/= 3"), Alu::Sdiv.imm32(R1, 3));
    assert_eq!(one("r1 s%= r2"), Alu::Smod.reg(R1, R2));
    assert_eq!(one("r1 s>>= 3"), Alu::Arsh.imm(R1, 3));
    assert_eq!(one("r1 = -5"), Alu::Mov.imm(R1, -5));
    assert_eq!(one("r1 = 0xffffffff"), Alu::Mov.imm(R1, -1));
    assert_eq!(one("*(u32 *)(r10 - 4) = 7"), store_imm(Size::W, R10, -4, 7));
    assert_eq!(one("*(u64 *)(r10 - 8) = r1"), store(Size::DW, R10, -8, R1));
    assert_eq!(one("*(u8 *)(r10 - 8) = w1"), store(Size::B, R10, -8, R1));
    assert_eq!(one("call 5"), call(5));
    assert_eq!(one("call kfunc(123)"), Insn::Call(Call::Kfunc { btf_id: 123, module: 0 }));
    assert_eq!(one("call kfunc(123, 2)"), Insn::Call(Call::Kfunc { btf_id: 123, module: 2 }));
    assert_eq!(one("call local(-1)"), Insn::Call(Call::Local(-1)));
    assert_eq!(one("call func(+2)"), Insn::Call(Call::Local(2)));
    assert_eq!(one("call bpf_map_lookup_elem"), call(1));
    assert_eq!(one("call map_lookup_elem"), call(1));
    assert_eq!(one("exit"), Insn::Exit);
    assert_eq!(one("r1 = map_fd(5) ll"), Insn::LdImm64 { dst: R1, value: Imm64::MapFd(5) });
    assert_eq!(one("r1 = map_value(5, 16) ll"), Insn::LdImm64 { dst: R1, value: Imm64::MapValue { fd: 5, off: 16 } });
    assert_eq!(one("r1 = btf_id(123, 0) ll"), Insn::LdImm64 { dst: R1, value: Imm64::BtfId { id: 123, btf_fd: 0 } });
    assert_eq!(one("r1 = func(+3) ll"), Insn::LdImm64 { dst: R1, value: Imm64::Func(3) });
    assert_eq!(one("r1 = map_idx(0) ll"), Insn::LdImm64 { dst: R1, value: Imm64::MapIdx(0) });
    assert_eq!(
        one("r1 = map_idx_value(0, 8) ll"),
        Insn::LdImm64 { dst: R1, value: Imm64::MapIdxValue { idx: 0, off: 8 } }
    );
    assert_eq!(one("ld_pseudo\tr1, 0x2, 0x5"), Insn::LdImm64 { dst: R1, value: Imm64::MapValue { fd: 5, off: 0 } });
}

/// Load-acquire and store-release in newer LLVM's syntax (its MC tests:
/// `wN` below 64 bits, `rN` for u64), and addr_space_cast in LLVM 19's.
#[test]
fn ordered_and_cast_forms() {
    let cases: &[(&str, Insn)] = &[
        ("w0 = load_acquire((u8 *)(r1 + 0))", load_acquire(Size::B, R0, R1, 0)),
        ("w0 = load_acquire((u16 *)(r1 + 0x0))", load_acquire(Size::H, R0, R1, 0)),
        ("w3 = load_acquire((u32 *)(r10 - 4))", load_acquire(Size::W, R3, R10, -4)),
        ("r0 = load_acquire((u64 *)(r1 + 8))", load_acquire(Size::DW, R0, R1, 8)),
        ("store_release((u8 *)(r1 + 0), w2)", store_release(Size::B, R1, 0, R2)),
        ("store_release((u16 *)(r1 - 2), w2)", store_release(Size::H, R1, -2, R2)),
        ("store_release((u32 *)(r1 + 0), w9)", store_release(Size::W, R1, 0, R9)),
        ("store_release((u64 *)(r10 - 8), r2)", store_release(Size::DW, R10, -8, R2)),
        ("store_release((u64 *)(r1), r10)", store_release(Size::DW, R1, 0, R10)),
        ("r1 = addr_space_cast(r2, 0, 1)", addr_space_cast(R1, R2, 0, 1)),
        ("r1 = addr_space_cast(r2, 0x1, 0x0)", addr_space_cast(R1, R2, 1, 0)),
        ("r0 = addr_space_cast(r10, 65535, 0xfffe)", addr_space_cast(R0, R10, 65535, 65534)),
    ];
    for (src, want) in cases {
        assert_eq!(one(src), *want, "{src}");
        assert_eq!(one(&want.to_string()), *want, "{want}");
    }
    let errs: &[(&str, usize, &str)] = &[
        ("r0 = load_acquire((u8 *)(r1 + 0))", 1, "a 8-bit `load_acquire` takes a 32-bit register: use `w0`, not `r0`"),
        ("w0 = load_acquire((u64 *)(r1 + 0))", 1, "a u64 `load_acquire` takes a 64-bit register: use `r0`"),
        ("w0 = load_acquire((s8 *)(r1 + 0))", 20, "`load_acquire` takes u8, u16, u32 or u64, found `s8`"),
        ("w10 = load_acquire((u8 *)(r1 + 0))", 1, "read-only frame pointer"),
        ("w0 = load_acquire((u8 *)(w1 + 0))", 26, "expected a 64-bit register"),
        ("store_release((u8 *)(r1 + 0), r2)", 31, "use `w2`, not `r2`"),
        ("store_release((u64 *)(r1 + 0), w2)", 32, "use `r2`, not `w2`"),
        ("store_release((u64 *)(r1 + 0), 5)", 32, "expected register"),
        ("store_release((u64 *)(r1 + 0) r2)", 31, "expected `,`"),
        ("w1 = addr_space_cast(r2, 0, 1)", 1, "writes a 64-bit register"),
        ("r1 = addr_space_cast(r2, 65536, 1)", 26, "does not fit in an address space (0..=65535)"),
        ("r1 = addr_space_cast(r2, -1, 1)", 26, "does not fit in an address space"),
        ("r1 = addr_space_cast(w2, 0, 1)", 22, "expected a 64-bit register"),
        ("r10 = addr_space_cast(r2, 0, 1)", 1, "read-only frame pointer"),
        ("lock *(u8 *)(r1 + 0) += w2", 8, "(8- and 16-bit: only `load_acquire` and `store_release`)"),
    ];
    for (src, col, msg) in errs {
        let e = err(src);
        assert!(e.message.contains(msg), "{src:?}: {}", e.message);
        assert_eq!(e.col, *col, "{src:?}: {e}");
    }
}

#[test]
fn labels_calls_and_comments() {
    let a = assemble(
        "
        /* block
           comment */ r0 = 0
        top:  // c
          if r1 == 0 goto out ; c
          call fn
          r2 = func(fn) ll # c
          gotol top
          may_goto out
        out: exit
        fn:
          exit",
    )
    .unwrap();
    assert_eq!(a.insns[1], Insn::JmpCond { width: Width::W64, op: Jmp::Jeq, dst: R1, src: Src::Imm(0), off: 5 });
    assert_eq!(a.insns[2], Insn::Call(Call::Local(5)));
    // lddw of a function counts from the slot after its first slot, as the kernel does.
    assert_eq!(a.insns[3], Insn::LdImm64 { dst: R2, value: Imm64::Func(4) });
    assert_eq!(a.insns[4], Insn::Gotol { imm: -5 });
    assert_eq!(a.insns[5], Insn::MayGoto { off: 0 });
}

#[test]
fn objdump_lines() {
    let src = "
x.o:\tfile format elf64-bpf

Disassembly of section .text:

0000000000000000 <foo>:
   0:\t85 10 00 00 03 00 00 00\tcall 0x3
   1:\t18 01 00 00 05 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x5 ll
\t\t0000000000000008:  R_BPF_64_64\t.text
   3:\t15 01 f8 ff ff ff ff ff\tif r1 == -0x1 goto -0x8 <.text+0xa8>
   4:\t05 00 fb ff 00 00 00 00\tgoto -0x5 <foo>
   5:\tbe 01 00 00 00 00 00 00\texit
";
    let p = parse_text(src).unwrap();
    assert_eq!(p.program.items[0], Item::Label("foo".into()));
    let a = p.assemble(src).unwrap();
    assert_eq!(a.insns[0], call(3));
    assert_eq!(a.insns[2], Insn::JmpCond { width: Width::W64, op: Jmp::Jeq, dst: R1, src: Src::Imm(-1), off: -8 });
    assert_eq!(a.insns[3], Insn::Ja { off: -5 });
    assert_eq!(a.insns[4], Insn::Exit);
}

#[test]
fn error_rendering() {
    let e = err("r0 = 1\n\n\tr0 = x1\n").with_file("prog.s");
    assert_eq!(
        e.to_string(),
        "prog.s:3:7: error: expected a register, number or memory operand, found `x1`\n\tr0 = x1\n\t     ^"
    );
    let e = err("r0 = r11");
    assert!(e.message.contains("no register `r11`"), "{e}");
    assert_eq!(e.col, 6);
    let e = err("  r10 = 1");
    assert_eq!((e.line, e.col), (1, 3));
    assert!(e.message.contains("read-only"), "{e}");
    let e = err("lock *(u8 *)(r1 + 0) += w2");
    assert!(e.message.contains("u32 and u64, found `u8`"), "{e}");
    assert_eq!(e.col, 8);
    let e = err("goto nowhere");
    assert_eq!((e.col, e.message.as_str()), (6, "undefined label `nowhere`"));
    let e = err("a:\nexit\n a: exit");
    assert_eq!((e.line, e.col), (3, 2));
    assert!(e.message.contains("first defined on line 1"), "{e}");
    let e = err("r1 = 1ll");
    assert!(e.message.contains("1 ll"), "{e}");
    let e = err("r1 = 4294967296");
    assert!(e.message.contains("does not fit in a 32-bit immediate"), "{e}");
    let e = err("r1 = *(u32 *)(r2 + 32768)");
    assert!(e.message.contains("16-bit"), "{e}");
    assert_eq!(err("/* open").message, "unterminated `/*` comment");
    assert!(err(".byte 1").message.contains("unsupported directive"));
    assert!(err("r1 = w2").message.contains("to match `r1`"));
    assert!(err("r1 = é").message.contains("unexpected character `é`"));
}

#[test]
fn long_jump_suggests_gotol() {
    let mut s = String::from("goto far\n");
    for _ in 0..40000 {
        s.push_str("r0 = 0\n");
    }
    s.push_str("far: exit\n");
    let e = err(&s);
    assert_eq!((e.line, e.col), (1, 6));
    assert!(e.message.contains("gotol"), "{e}");
    assert!(assemble(&s.replacen("goto", "gotol", 1)).is_ok());
    assert!(err("goto +40000").message.contains("gotol"));
}
