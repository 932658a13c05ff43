//! The disassembler against LLVM: our text must equal llvm-objdump-19's for
//! every form LLVM can write (except the deviations documented in
//! src/asm/listing.rs), and must assemble back with llvm-mc-19 to the same
//! bytes. Plus properties of the decoder and printer, and the CLI.
//!
//! These tests need llvm-19 (llvm-mc-19, llvm-objdump-19, llvm-objcopy-19)
//! and FAIL without it.

use crate::strategy;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sockasm::asm::listing::{self, ListingOptions};
use sockasm::asm::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const MC: &str = "llvm-mc-19";
const OBJDUMP: &str = "llvm-objdump-19";
const OBJCOPY: &str = "llvm-objcopy-19";

fn require_llvm() {
    for tool in [MC, OBJDUMP, OBJCOPY] {
        let ok = Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
        assert!(
            ok,
            "{tool} not found: these differential tests need llvm-19 \
             (Debian/Ubuntu: `apt-get install llvm-19`, or https://apt.llvm.org)"
        );
    }
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sockasm-disasm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Assembles `src` with llvm-mc-19 -mcpu=v4; returns the object and its .text bytes.
fn assemble(dir: &Path, name: &str, src: &str) -> (PathBuf, Vec<u8>) {
    let s = dir.join(format!("{name}.s"));
    let o = dir.join(format!("{name}.o"));
    let bin = dir.join(format!("{name}.bin"));
    std::fs::write(&s, src).unwrap();
    run(Command::new(MC).args(["-triple=bpfel", "-mcpu=v4", "-filetype=obj"]).arg(&s).arg("-o").arg(&o));
    run(Command::new(OBJCOPY).args(["-O", "binary", "--only-section=.text"]).arg(&o).arg(&bin));
    (o, std::fs::read(&bin).unwrap())
}

/// llvm-objdump-19's text for each slot, without the ` <.text+0x..>` suffix.
fn objdump(obj: &Path, extra: &[&str]) -> BTreeMap<usize, String> {
    let out = run(Command::new(OBJDUMP).args(["-d", "--no-print-imm-hex", "--no-show-raw-insn"]).args(extra).arg(obj));
    let mut m = BTreeMap::new();
    for line in out.lines() {
        let Some((addr, text)) = line.split_once(":\t") else { continue };
        let Ok(slot) = addr.trim().parse::<usize>() else { continue };
        let text = match text.rfind(" <") {
            Some(i) if text.ends_with('>') && !text[i + 2..].contains(' ') => &text[..i],
            _ => text,
        };
        m.insert(slot, text.to_string());
    }
    m
}

/// The encodings where our text deliberately differs from llvm-objdump-19's
/// (the table in src/asm/listing.rs).
fn documented_deviation(i: &Insn) -> bool {
    match i {
        Insn::Atomic { size: Size::W, op, .. } => *op != AtomicOp::Add,
        // LLVM 19 predates them (kernel 6.15); newer LLVM's text.
        Insn::LoadAcquire { .. } | Insn::StoreRelease { .. } => true,
        Insn::LdImm64 { value, .. } => !matches!(value, Imm64::Const(_)),
        Insn::Call(Call::Local(_) | Call::Kfunc { .. }) => true,
        Insn::LdInd { imm, .. } => *imm != 0,
        _ => false,
    }
}

/// Whether llvm-mc-19 can write this instruction from text at all.
fn llvm_mc_can_write(i: &Insn) -> bool {
    match i {
        Insn::LdImm64 { value, .. } => matches!(value, Imm64::Const(_)),
        Insn::Call(Call::Local(_) | Call::Kfunc { .. }) => false,
        Insn::LdInd { imm, .. } => *imm == 0,
        Insn::Gotol { imm } => i16::try_from(*imm).is_ok(),
        Insn::LoadAcquire { .. } | Insn::StoreRelease { .. } => false,
        _ => true,
    }
}

fn byte_directive(bytes: &[u8]) -> String {
    let mut s = String::from(".byte ");
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        write!(s, "0x{b:02x}").unwrap();
    }
    s
}

/// Compares our text with objdump's for every decoded instruction, then
/// reassembles our text (raw `.byte`s for what llvm-mc cannot write) and
/// checks the bytes are identical. Returns the deviations seen.
fn differential(name: &str, bytes: &[u8], obj: &Path, dir: &Path) -> Vec<(usize, String, String)> {
    let insns = decode_all(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let theirs = objdump(obj, &[]);
    assert_eq!(theirs.len(), insns.len(), "{name}: objdump and sockasm disagree on the instruction count");
    let mut failures = Vec::new();
    let mut deviations = Vec::new();
    let mut reasm = String::new();
    for (slot, insn) in &insns {
        let ours = insn.to_string();
        let t = theirs.get(slot).map(String::as_str).unwrap_or("<missing>");
        if ours != t {
            if documented_deviation(insn) {
                deviations.push((*slot, t.to_string(), ours.clone()));
            } else {
                failures.push(format!("slot {slot}: objdump `{t}`, sockasm `{ours}` ({insn:?})"));
            }
        }
        if llvm_mc_can_write(insn) {
            writeln!(reasm, "{ours}").unwrap();
        } else {
            writeln!(reasm, "{}", byte_directive(&bytes[slot * 8..slot * 8 + insn.slots() * 8])).unwrap();
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} lines differ from llvm-objdump-19:\n{}",
        failures.len(),
        failures.join("\n")
    );

    let (_, back) = assemble(dir, &format!("{name}-reassembled"), &reasm);
    if back != bytes {
        // Name the first instruction that did not come back.
        for (slot, insn) in &insns {
            let (a, b) = (slot * 8, slot * 8 + insn.slots() * 8);
            if back.get(a..b) != bytes.get(a..b) {
                panic!(
                    "{name}: `{insn}` (slot {slot}) reassembles to {:02x?}, was {:02x?}",
                    back.get(a..b),
                    &bytes[a..b]
                );
            }
        }
        panic!("{name}: reassembled length {} != {}", back.len(), bytes.len());
    }
    deviations
}

#[test]
fn corpus_matches_llvm_objdump_and_reassembles() {
    require_llvm();
    let dir = scratch("corpus");
    let src = include_str!("data/disasm_corpus.s");
    let (obj, bytes) = assemble(&dir, "corpus", src);
    let n = src.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).count();
    let insns = decode_all(&bytes).unwrap();
    assert_eq!(insns.len(), n, "every corpus line is one instruction");
    let devs = differential("corpus", &bytes, &obj, &dir);
    // The corpus holds the 32-bit atomics llvm-objdump-19 cannot print: the
    // deviation path must have been exercised, and only for them.
    assert!(!devs.is_empty());
    for (slot, theirs, ours) in &devs {
        assert!(theirs == "<unknown>" || theirs.starts_with("lock *(u32 *)"), "slot {slot}: {theirs} / {ours}");
    }
    // With --mcpu=v4, objdump prints the 32-bit atomic forms we print.
    let v4 = objdump(&obj, &["--mcpu=v4"]);
    for (slot, _, ours) in &devs {
        assert_eq!(v4.get(slot), Some(ours), "slot {slot}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn random_instructions_match_llvm_objdump_and_reassemble() {
    require_llvm();
    let dir = scratch("random");
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
    let strat = strategy::insn();
    let mut bytes = Vec::new();
    for _ in 0..4000 {
        let i = strat.new_tree(&mut runner).unwrap().current();
        bytes.extend(i.to_bytes().unwrap());
    }
    let src: String = bytes.chunks(8).map(|c| byte_directive(c) + "\n").collect();
    let (obj, text) = assemble(&dir, "random", &src);
    assert_eq!(text, bytes);
    differential("random", &bytes, &obj, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The deviation table of src/asm/listing.rs, checked against llvm-objdump-19.
#[test]
fn documented_deviations_are_what_llvm_prints() {
    require_llvm();
    let dir = scratch("deviations");
    let ld = |value| Insn::LdImm64 { dst: R1, value };
    let at = |op| Insn::Atomic { size: Size::W, op, dst: R1, src: R2, off: 8 };
    let table: &[(Insn, &str, &str)] = &[
        (at(AtomicOp::FetchAdd), "lock *(u32 *)(r1 + 8) += r2", "w2 = atomic_fetch_add((u32 *)(r1 + 8), w2)"),
        (at(AtomicOp::Or), "<unknown>", "lock *(u32 *)(r1 + 8) |= w2"),
        (at(AtomicOp::And), "<unknown>", "lock *(u32 *)(r1 + 8) &= w2"),
        (at(AtomicOp::Xor), "<unknown>", "lock *(u32 *)(r1 + 8) ^= w2"),
        (at(AtomicOp::FetchOr), "<unknown>", "w2 = atomic_fetch_or((u32 *)(r1 + 8), w2)"),
        (at(AtomicOp::FetchAnd), "<unknown>", "w2 = atomic_fetch_and((u32 *)(r1 + 8), w2)"),
        (at(AtomicOp::FetchXor), "<unknown>", "w2 = atomic_fetch_xor((u32 *)(r1 + 8), w2)"),
        (at(AtomicOp::Xchg), "<unknown>", "w2 = xchg32_32(r1 + 8, w2)"),
        (at(AtomicOp::Cmpxchg), "<unknown>", "w0 = cmpxchg32_32(r1 + 8, w0, w2)"),
        (ld(Imm64::MapFd(5)), "ld_pseudo\tr1, 1, 5", "r1 = map_fd(5) ll"),
        (ld(Imm64::MapValue { fd: 5, off: 16 }), "ld_pseudo\tr1, 2, 5", "r1 = map_value(5, 16) ll"),
        (ld(Imm64::BtfId { id: 123, btf_fd: 0 }), "ld_pseudo\tr1, 3, 123", "r1 = btf_id(123, 0) ll"),
        (ld(Imm64::Func(3)), "ld_pseudo\tr1, 4, 3", "r1 = func(+3) ll"),
        (ld(Imm64::Func(-2)), "ld_pseudo\tr1, 4, 4294967294", "r1 = func(-2) ll"),
        (ld(Imm64::MapIdx(0)), "ld_pseudo\tr1, 5, 0", "r1 = map_idx(0) ll"),
        (ld(Imm64::MapIdxValue { idx: 0, off: 8 }), "ld_pseudo\tr1, 6, 0", "r1 = map_idx_value(0, 8) ll"),
        (Insn::Call(Call::Local(3)), "call 3", "call func(+3)"),
        (Insn::Call(Call::Local(-2)), "call -2", "call func(-2)"),
        (Insn::Call(Call::Kfunc { btf_id: 123, module: 0 }), "call 123", "call kfunc(123)"),
        (Insn::Call(Call::Kfunc { btf_id: 123, module: 5 }), "call 123", "call kfunc(123, 5)"),
        (Insn::LdInd { size: Size::B, src: R2, imm: 4 }, "r0 = *(u8 *)skb[r2]", "r0 = *(u8 *)skb[r2 + 4]"),
        (Insn::LdInd { size: Size::W, src: R9, imm: -4 }, "r0 = *(u32 *)skb[r9]", "r0 = *(u32 *)skb[r9 - 4]"),
        // Same text, but llvm-mc-19 cannot assemble it back (16-bit literal offsets only).
        (Insn::Gotol { imm: 70000 }, "gotol +70000", "gotol +70000"),
        // Load-acquire and store-release (kernel 6.15) are newer than LLVM 19,
        // which misreads W/DW load-acquire as the non-fetching add.
        (load_acquire(Size::B, R0, R1, 0), "<unknown>", "w0 = load_acquire((u8 *)(r1 + 0))"),
        (load_acquire(Size::H, R0, R1, 0), "<unknown>", "w0 = load_acquire((u16 *)(r1 + 0))"),
        (load_acquire(Size::W, R0, R1, 0), "lock *(u32 *)(r0 + 0) += r1", "w0 = load_acquire((u32 *)(r1 + 0))"),
        (load_acquire(Size::DW, R0, R1, 0), "lock *(u64 *)(r0 + 0) += r1", "r0 = load_acquire((u64 *)(r1 + 0))"),
        (store_release(Size::B, R1, 0, R2), "<unknown>", "store_release((u8 *)(r1 + 0), w2)"),
        (store_release(Size::H, R1, 0, R2), "<unknown>", "store_release((u16 *)(r1 + 0), w2)"),
        (store_release(Size::W, R1, 0, R2), "<unknown>", "store_release((u32 *)(r1 + 0), w2)"),
        (store_release(Size::DW, R1, 0, R2), "<unknown>", "store_release((u64 *)(r1 + 0), r2)"),
    ];
    let mut src = String::new();
    let mut insns = Vec::new();
    for (i, _, _) in table {
        let b = i.to_bytes().unwrap();
        writeln!(src, "{}", byte_directive(&b)).unwrap();
        insns.push(*i);
    }
    let (obj, _) = assemble(&dir, "deviations", &src);
    let theirs = objdump(&obj, &[]);
    for ((slot, insn), (_, llvm, ours)) in listing::with_slots(&insns).iter().zip(table) {
        assert_eq!(theirs.get(slot).map(String::as_str), Some(*llvm), "llvm-objdump-19 text of {insn:?} changed");
        assert_eq!(insn.to_string(), *ours);
        assert!(documented_deviation(insn) || !llvm_mc_can_write(insn), "{insn:?} missing from documented_deviation");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(Config { cases: 2000, ..Config::default() })]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut n = 0;
        let mut failed = false;
        for r in Decoder::new(&bytes) {
            prop_assert!(!failed, "the decoder goes on after an error");
            match r {
                Ok((slot, i)) => {
                    prop_assert!(slot * 8 + i.slots() * 8 <= bytes.len());
                    let _ = i.to_string();
                }
                Err(e) => {
                    prop_assert!(e.offset * 8 < bytes.len());
                    prop_assert!(!e.bytes.is_empty() && e.bytes.len() <= 16);
                    prop_assert_eq!(&bytes[e.offset * 8..e.offset * 8 + e.bytes.len()], &e.bytes[..]);
                    failed = true;
                }
            }
            n += 1;
            prop_assert!(n <= bytes.len() / 8 + 1);
        }
    }

    /// Decoding is canonical: whatever decodes re-encodes to the same bytes
    /// (except writes to r10, which decode but which the encoder refuses).
    #[test]
    fn decoded_bytes_reencode_identically(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for (slot, i) in Decoder::new(&bytes).map_while(Result::ok) {
            if let Ok(b) = i.to_bytes() {
                prop_assert_eq!(&b[..], &bytes[slot * 8..slot * 8 + b.len()], "{}", i);
            } else {
                prop_assert_eq!(i.validate(), Err(EncodeError::WriteToR10));
            }
        }
    }

    /// Uniform random bytes rarely hit the fields that pick an instruction
    /// apart (an ATOMIC imm of 0x100, a MOV off of 1): every opcode, with the
    /// immediates and offsets that mean something somewhere, in every slot.
    #[test]
    fn decoding_structured_slots_never_panics(
        slots in prop::collection::vec(
            (
                any::<u8>(),
                any::<u8>(),
                prop_oneof![Just(0i16), Just(1), Just(-1), Just(8), Just(16), Just(32), any::<i16>()],
                prop_oneof![
                    prop::sample::select(vec![0i32, 1, 16, 32, 64, 0x100, 0x110, 0x101, 0x111, 0x10000, 0x10001, -1]),
                    prop::sample::select(AtomicOp::ALL.iter().map(|a| *a as i32).collect::<Vec<_>>()),
                    any::<i32>(),
                ],
            ),
            1..12,
        )
    ) {
        let mut bytes = Vec::new();
        for (code, regs, off, imm) in &slots {
            bytes.push(*code);
            bytes.push(*regs);
            bytes.extend(off.to_le_bytes());
            bytes.extend(imm.to_le_bytes());
        }
        for r in Decoder::new(&bytes) {
            match r {
                Ok((slot, i)) => {
                    let _ = i.to_string();
                    match i.to_bytes() {
                        Ok(b) => prop_assert_eq!(&b[..], &bytes[slot * 8..slot * 8 + b.len()], "{}", i),
                        Err(e) => prop_assert_eq!(e, EncodeError::WriteToR10),
                    }
                }
                Err(e) => prop_assert!(!e.reason.is_empty()),
            }
        }
    }

    #[test]
    fn decode_inverts_encode(i in strategy::insn()) {
        let b = i.to_bytes().unwrap();
        prop_assert_eq!(b.len(), i.slots() * 8);
        prop_assert_eq!(decode_all(&b).unwrap(), vec![(0, i)]);
    }

    #[test]
    fn printing_never_panics(insns in strategy::insns(40)) {
        for i in &insns {
            let s = i.to_string();
            prop_assert!(!s.is_empty() && !s.contains('\n') && !s.contains(" ; "), "{:?}", i);
            prop_assert_eq!(s.ends_with(" ll"), matches!(i, Insn::LdImm64 { .. }));
        }
        let slotted = listing::with_slots(&insns);
        let l = listing::listing(&slotted, &ListingOptions::default());
        prop_assert_eq!(l.lines().count(), insns.len());
        let j = listing::json(&slotted, None, &ListingOptions::default());
        prop_assert_eq!(j.matches("\"slot\":").count(), insns.len());
    }
}

fn sockasm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sockasm"))
}

#[test]
fn cli_lists_a_raw_file_like_objdump() {
    require_llvm();
    let dir = scratch("cli");
    let (obj, bytes) = assemble(&dir, "corpus", include_str!("data/disasm_corpus.s"));
    let raw = dir.join("corpus.bin");
    std::fs::write(&raw, &bytes).unwrap();
    let out = run(sockasm().args(["dump", "--disasm", "--no-annotate", "--raw"]).arg(&raw));
    let theirs = objdump(&obj, &[]);
    let insns = decode_all(&bytes).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), insns.len());
    for (line, (slot, insn)) in lines.iter().zip(&insns) {
        let (prefix, text) = line.split_once('\t').unwrap();
        assert_eq!(prefix, format!("{slot:>8}:"));
        if !documented_deviation(insn) {
            assert_eq!(Some(&text.to_string()), theirs.get(slot));
        }
    }
    // objdump --no-show-raw-insn prints the same prefix.
    let od = run(Command::new(OBJDUMP).args(["-d", "--no-print-imm-hex", "--no-show-raw-insn"]).arg(&obj));
    assert!(od.contains(&format!("\n{}\n", lines[0])), "{}", lines[0]);

    let annotated = run(sockasm().args(["dump", "--disasm", "--raw"]).arg(&raw));
    assert!(annotated.contains("call 71 ; bpf_msg_redirect_hash\n"), "{annotated}");
    assert!(annotated.contains(" ; -> "));

    let json = run(sockasm().args(["dump", "--disasm", "--json", "--raw"]).arg(&raw));
    assert!(json.starts_with("{\"insns\":[{\"slot\":0,\"text\":"), "{}", &json[..80]);
    assert_eq!(json.matches("\"slot\":").count(), insns.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_rejects_bad_bytes_without_panicking() {
    let dir = scratch("bad");
    let cases: &[(&[u8], &str)] = &[
        (&[0x95, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x01, 0, 0, 0, 0, 0, 0], "slot 1 (bytes ff 01 00 00 00 00 00 00)"),
        (&[0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0], "slot 1 (bytes 95 00 00)"),
        (&[0x18, 0x01, 0, 0, 1, 0, 0, 0], "slot 0 (bytes 18 01 00 00 01 00 00 00)"),
    ];
    for (i, (bytes, want)) in cases.iter().enumerate() {
        let f = dir.join(format!("bad{i}.bin"));
        std::fs::write(&f, bytes).unwrap();
        let out = sockasm().args(["dump", "--disasm", "--raw"]).arg(&f).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{want}");
        assert!(err.contains(want), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty(), "no partial listing");
    }
    let out = sockasm().args(["dump", "--disasm", "--raw", "/nonexistent/x.bin"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.bin"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_lists_builtin_programs() {
    let out = run(sockasm().args(["dump", "--disasm"]));
    if out.trim() == "no built-in programs yet" {
        return;
    }
    assert!(out.starts_with("0000000000000000 <"), "{out}");
    assert!(out.contains("\texit\n"), "{out}");
    let json = run(sockasm().args(["dump", "--disasm", "--json"]));
    assert!(json.starts_with("{\"programs\":[{\"name\":"), "{json}");
    let plain = run(sockasm().args(["dump", "--disasm", "--no-annotate"]));
    assert!(!plain.contains(" ; "), "{plain}");
}

/// llvm-objdump-19 prints every immediate in hex by default, so
/// `addr_space_cast(r2, 0x0, 0x1)`; with `--no-print-imm-hex` (the text
/// sockasm prints everywhere, docs/isa.md's listings) `addr_space_cast(r2, 0,
/// 1)`. sockasm prints the latter and reads both back to the same bytes.
#[test]
fn addr_space_cast_as_llvm_objdump_19_prints_it() {
    require_llvm();
    let dir = scratch("addr-space-cast");
    let src = "r1 = addr_space_cast(r2, 0, 1)\nr3 = addr_space_cast(r2, 1, 0)\n";
    let (obj, bytes) = assemble(&dir, "cast", src);
    let insns = decode_all(&bytes).unwrap();
    let ours: Vec<String> = insns.iter().map(|(_, i)| i.to_string()).collect();
    assert_eq!(ours, ["r1 = addr_space_cast(r2, 0, 1)", "r3 = addr_space_cast(r2, 1, 0)"]);
    let plain = objdump(&obj, &[]);
    assert_eq!(plain.values().cloned().collect::<Vec<_>>(), ours, "--no-print-imm-hex");
    let out = run(Command::new(OBJDUMP).args(["-d", "--no-show-raw-insn"]).arg(&obj));
    let hex: Vec<&str> =
        out.lines().filter(|l| l.starts_with(' ')).filter_map(|l| l.split_once(":\t").map(|(_, t)| t)).collect();
    assert_eq!(hex, ["r1 = addr_space_cast(r2, 0x0, 0x1)", "r3 = addr_space_cast(r2, 0x1, 0x0)"], "default (hex)");
    for text in [ours.join("\n"), hex.join("\n")] {
        let back = sockasm::asm::text::assemble(&text).unwrap();
        assert_eq!(back.to_bytes().unwrap(), bytes, "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
