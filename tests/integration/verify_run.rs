//! `sockasm verify` and `sockasm run` on the real kernel: verdicts and
//! verifier messages for known-good and known-bad programs (text and ELF),
//! and the ISA's semantics checked with BPF_PROG_TEST_RUN against RFC 9669.
//!
//! They need root (BPF_PROG_LOAD); without it they FAIL unless
//! SOCKASM_SKIP_KERNEL_TESTS is set. Programs are loaded, never attached.

use crate::elf::{BIN, object};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Root loads programs (never attaches them); without root the test fails
/// unless SOCKASM_SKIP_KERNEL_TESTS says to skip.
pub fn kernel_ok() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("SOCKASM_SKIP_KERNEL_TESTS").is_some() {
        eprintln!("skipping kernel test (SOCKASM_SKIP_KERNEL_TESTS is set)");
        return false;
    }
    panic!("these tests need root to load BPF programs; set SOCKASM_SKIP_KERNEL_TESTS=1 to skip them");
}

/// Why the host refuses an ARENA map (`BPF_MAP_CREATE` of
/// `BPF_MAP_TYPE_ARENA`, key 0, value 0, one page, `BPF_F_MMAPABLE`: what
/// `--map NAME=arena,0,0,1,0x400` creates), or `None` if it creates one.
/// Some hosts refuse arenas even to root (EPERM from the kernel build or a
/// security module, not a missing capability); a test that needs one probes
/// first and skips loudly (`SKIPPED ...` on stderr) if refused.
pub fn arena_refused() -> Option<String> {
    use sockasm::syscall::{BPF_F_MMAPABLE, Map, MapSpec, MapType};
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WHY.get_or_init(|| {
        let spec = MapSpec::new(MapType::ARENA, 0, 0, 1).with_flags(BPF_F_MMAPABLE).with_name("probe");
        Map::create(&spec).err().map(|e| e.to_string())
    })
    .clone()
}

/// Writes `msg` to the test process's stderr past libtest's capture (which
/// only takes `eprintln!`), so that a skip shows in the output of a passing
/// `cargo test`, as CI logs it.
pub fn skip_note(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

pub fn sockasm(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run sockasm")
}

pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Writes `src` to a fresh `.s` file.
fn text_file(stem: &str, src: &str) -> PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-vr-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(format!("{stem}_{}.s", SEQ.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&p, src).unwrap();
    p
}

fn verify_text(stem: &str, src: &str, ty: &str, extra: &[&str]) -> Output {
    let p = text_file(stem, src);
    let ps = p.to_str().unwrap();
    sockasm(&[&["verify", ps, "--type", ty], extra].concat())
}

fn assert_accepted(o: &Output) {
    let s = stdout(o);
    assert!(o.status.success() && s.contains("verdict: accepted"), "{}", show(o));
    assert!(s.contains("verifier: processed "), "{}", show(o));
    assert!(s.contains("bytes translated") && s.contains("bytes JITed"), "{}", show(o));
}

fn assert_rejected(o: &Output, message: &str) -> String {
    let s = stdout(o);
    assert_eq!(o.status.code(), Some(1), "{}", show(o));
    assert!(s.contains("verdict: rejected by the verifier"), "{}", show(o));
    let msg = s.lines().find(|l| l.starts_with("message: ")).unwrap_or("");
    assert!(msg.contains(message), "expected `{message}` in the message line:\n{}", show(o));
    s
}

#[test]
fn verify_builtin_programs() {
    if !kernel_ok() {
        return;
    }
    for p in ["sockops", "sk_msg"] {
        let o = sockasm(&["verify", "--prog", p, "--stats"]);
        assert_accepted(&o);
        let s = stdout(&o);
        assert!(s.contains("stats: processed "), "{}", show(&o));
        assert!(s.contains("stats: stack depth"), "{}", show(&o));
    }
    let o = sockasm(&["verify", "--prog", "nope"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
}

#[test]
fn verify_good_objects() {
    if !kernel_ok() {
        return;
    }
    for name in ["sockops", "skmsg", "xdp", "tc", "v4"] {
        let o = sockasm(&["verify", object(name).to_str().unwrap()]);
        assert_accepted(&o);
    }
    // Two programs in tc.o, both verified; --section picks one.
    let tc = object("tc");
    let o = sockasm(&["verify", tc.to_str().unwrap()]);
    assert_eq!(stdout(&o).matches("verdict: accepted").count(), 2, "{}", show(&o));
    let o = sockasm(&["verify", tc.to_str().unwrap(), "--section", "classifier"]);
    assert_eq!(stdout(&o).matches("verdict: accepted").count(), 1, "{}", show(&o));
    assert!(stdout(&o).contains("program tc_drop_small (SCHED_CLS)"), "{}", show(&o));
    // socket.o: the unknown section is skipped with a note, unless chosen.
    let sock = object("socket");
    let o = sockasm(&["verify", sock.to_str().unwrap()]);
    assert_accepted(&o);
    assert!(stdout(&o).contains("program odd: skipped: section `mystery/thing` names no program type"), "{}", show(&o));
    let o = sockasm(&["verify", sock.to_str().unwrap(), "--section", "mystery/thing"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give its type with --type"), "{}", show(&o));
    let o = sockasm(&["verify", sock.to_str().unwrap(), "--section", "mystery/thing", "--type", "socket_filter"]);
    assert_accepted(&o);
}

#[test]
fn verify_bad_programs_explain_the_rejection() {
    if !kernel_ok() {
        return;
    }
    // exit without setting r0
    let s = assert_rejected(&verify_text("noret", "exit\n", "socket_filter", &[]), "R0 !read_ok");
    assert!(s.contains("=>     0:\texit"), "{s}");
    assert!(s.contains("registers there: R1=ctx() R10=fp0"), "{s}");

    // dereference of a number
    let src = "r0 = 0\nr1 = 42\nr2 = 1\nr0 = *(u32 *)(r1 + 0)\nexit\n";
    let s = assert_rejected(&verify_text("deref", src, "socket_filter", &[]), "R1 invalid mem access 'scalar'");
    assert!(s.contains("verifier at: 3: (61) r0 = *(u32 *)(r1 +0)"), "{s}");
    assert!(s.contains("=>     3:\tr0 = *(u32 *)(r1 + 0)"), "{s}");
    assert!(s.contains("       2:\tr2 = 1"), "context before: {s}");
    assert!(s.contains("       4:\texit"), "context after: {s}");
    let regs = s.lines().find(|l| l.starts_with("registers there: ")).unwrap_or("");
    assert!(regs.contains("R1=42") && regs.contains("R10=fp0"), "{s}");

    // code after exit
    let s = assert_rejected(
        &verify_text("unreach", "r0 = 0\nexit\nr0 = 1\nexit\n", "socket_filter", &[]),
        "unreachable insn 2",
    );
    assert!(s.contains("=>     2:\tr0 = 1"), "{s}");

    // a loop that never ends
    let o = verify_text("forever", "r0 = 0\ntop:\nr0 += 1\nif r0 != 0 goto top\nexit\n", "socket_filter", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stdout(&o).contains("BPF program is too large"), "{}", show(&o));

    // ELF: bad_deref.o
    let o = sockasm(&["verify", object("bad_deref").to_str().unwrap(), "--stats"]);
    let s = assert_rejected(&o, "R1 invalid mem access 'scalar'");
    assert!(s.contains("bad_deref:\n"), "function label in the context: {s}");
    assert!(s.contains("=>     1:\tr0 = *(u32 *)(r1 + 0)"), "{s}");
    assert!(s.contains("registers there: R1=scalar("), "{s}");
    assert!(s.contains("stats: processed 2 insns"), "{s}");
}

#[test]
fn verify_log_levels() {
    if !kernel_ok() {
        return;
    }
    let src = "r0 = 1\nr1 = 2\nr0 += r1\nexit\n";
    let o = verify_text("lvl", src, "socket_filter", &["--log-level", "2"]);
    assert_accepted(&o);
    let s = stdout(&o);
    assert!(s.contains("--- verifier log ---") && s.contains("2: (0f) r0 += r1"), "{s}");
    let o = verify_text("lvl", src, "socket_filter", &["--log-level", "3"]);
    assert_eq!(o.status.code(), Some(2), "clap rejects level 3: {}", show(&o));
    // A text program with a named map.
    let src =
        "r1 = map_fd(counts) ll\n*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nr0 = 0\nexit\n";
    let o = verify_text("mapped", src, "socket_filter", &["--map", "counts=array,4,8,1"]);
    assert_accepted(&o);
    let o = verify_text("mapped", src, "socket_filter", &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--map counts="), "{}", show(&o));
}

/// `sockasm run` on `src`; returns the retval line's number.
fn retval(src: &str, ty: &str) -> u32 {
    let p = text_file("sem", src);
    let o = sockasm(&["run", p.to_str().unwrap(), "--type", ty]);
    assert!(o.status.success(), "{src}\n{}", show(&o));
    let s = stdout(&o);
    let line = s.lines().find(|l| l.starts_with("retval: ")).unwrap_or_else(|| panic!("no retval line: {}", show(&o)));
    line["retval: ".len()..].parse().unwrap_or_else(|_| panic!("bad retval line `{line}`"))
}

#[test]
fn run_checks_isa_semantics() {
    if !kernel_ok() {
        return;
    }
    // (what RFC 9669 says, program, expected 32-bit retval)
    let cases: &[(&str, &str, u32)] = &[
        ("div by zero: dst = 0 (64-bit)", "r0 = 7\nr1 = 0\nr0 /= r1\nexit", 0),
        ("div by zero: dst = 0 (32-bit)", "w0 = 7\nw1 = 0\nw0 /= w1\nexit", 0),
        ("sdiv by zero: dst = 0", "r0 = -7\nr1 = 0\nr0 s/= r1\nexit", 0),
        ("mod by zero: dst unchanged (64-bit)", "r0 = 7\nr1 = 0\nr0 %= r1\nexit", 7),
        ("mod by zero (64-bit) keeps the upper half", "r0 = 0x100000007 ll\nr1 = 0\nr0 %= r1\nr0 >>= 32\nexit", 1),
        ("mod by zero (32-bit): low half unchanged", "r0 = 0x100000007 ll\nw1 = 0\nw0 %= w1\nexit", 7),
        ("mod by zero (32-bit): upper half zeroed", "r0 = 0x100000007 ll\nw1 = 0\nw0 %= w1\nr0 >>= 32\nexit", 0),
        ("smod by zero: dst unchanged", "r0 = -7\nr1 = 0\nr0 s%= r1\nexit", -7i32 as u32),
        ("64-bit shifts mask the amount with 63", "r0 = 1\nr1 = 65\nr0 <<= r1\nexit", 2),
        ("32-bit shifts mask the amount with 31", "w0 = 1\nw1 = 33\nw0 <<= w1\nexit", 2),
        ("rsh masked", "r0 = 256\nr1 = 68\nr0 >>= r1\nexit", 16),
        ("arsh masked, sign kept", "r0 = -256\nr1 = 66\nr0 s>>= r1\nexit", -64i32 as u32),
        ("movsx8 sign-extends", "w1 = 255\nr0 = (s8)r1\nexit", 0xffff_ffff),
        ("movsx8 to 64 bits", "w1 = 255\nr0 = (s8)r1\nr0 >>= 32\nexit", 0xffff_ffff),
        ("movsx16 (32-bit) zeroes the upper half", "w1 = 32768\nw0 = (s16)w1\nr0 >>= 32\nexit", 0),
        ("movsx16 (32-bit)", "w1 = 32768\nw0 = (s16)w1\nexit", 0xffff_8000),
        ("movsx32", "w1 = -2147483648\nr0 = (s32)r1\nr0 >>= 32\nexit", 0xffff_ffff),
        ("mov32 zero-extends", "w1 = -1\nr0 = r1\nr0 >>= 32\nexit", 0),
        ("ldsx sign-extends", "*(u8 *)(r10 - 1) = 128\nr0 = *(s8 *)(r10 - 1)\nexit", 0xffff_ff80),
        ("ldsx to 64 bits", "*(u8 *)(r10 - 1) = 128\nr0 = *(s8 *)(r10 - 1)\nr0 >>= 32\nexit", 0xffff_ffff),
        ("ldx zero-extends", "*(u8 *)(r10 - 1) = 128\nr0 = *(u8 *)(r10 - 1)\nexit", 128),
        ("ldsx16", "*(u16 *)(r10 - 2) = 40000\nr0 = *(s16 *)(r10 - 2)\nexit", (40000 - 65536i32) as u32),
        ("bswap16", "r0 = 0x12345678\nr0 = bswap16 r0\nexit", 0x7856),
        ("bswap32", "r0 = 0x12345678\nr0 = bswap32 r0\nexit", 0x7856_3412),
        ("bswap64 low", "r0 = 0x0102030405060708 ll\nr0 = bswap64 r0\nexit", 0x0403_0201),
        ("bswap64 high", "r0 = 0x0102030405060708 ll\nr0 = bswap64 r0\nr0 >>= 32\nexit", 0x0807_0605),
        ("be16 on little-endian swaps", "r0 = 0x12345678\nr0 = be16 r0\nexit", 0x7856),
        ("be32", "r0 = 0x12345678\nr0 = be32 r0\nexit", 0x7856_3412),
        ("le16 on little-endian truncates", "r0 = 0x12345678\nr0 = le16 r0\nexit", 0x5678),
        ("le32 truncates to 32 bits", "r0 = 0x1122334455667788 ll\nr0 = le32 r0\nr0 >>= 32\nexit", 0),
        ("be64", "r0 = 0x0102030405060708 ll\nr0 = be64 r0\nr0 >>= 32\nexit", 0x0807_0605),
        (
            "atomic fetch_add returns the old value (10) and adds (15)",
            "*(u64 *)(r10 - 8) = 10\nr1 = 5\nr1 = atomic_fetch_add((u64 *)(r10 - 8), r1)\nr0 = *(u64 *)(r10 - 8)\nr0 *= 100\nr0 += r1\nexit",
            1510,
        ),
        (
            "32-bit atomic fetch_add",
            "*(u32 *)(r10 - 4) = 10\nw1 = 5\nw1 = atomic_fetch_add((u32 *)(r10 - 4), w1)\nr0 = *(u32 *)(r10 - 4)\nr0 *= 100\nr0 += r1\nexit",
            1510,
        ),
        (
            "atomic add (no fetch)",
            "*(u64 *)(r10 - 8) = 10\nr1 = 5\nlock *(u64 *)(r10 - 8) += r1\nr0 = *(u64 *)(r10 - 8)\nexit",
            15,
        ),
        (
            "atomic fetch_or",
            "*(u64 *)(r10 - 8) = 12\nr1 = 3\nr1 = atomic_fetch_or((u64 *)(r10 - 8), r1)\nr0 = *(u64 *)(r10 - 8)\nr0 *= 100\nr0 += r1\nexit",
            1512,
        ),
        (
            "xchg returns the old value and stores the new",
            "*(u64 *)(r10 - 8) = 3\nr1 = 9\nr1 = xchg_64(r10 - 8, r1)\nr0 = *(u64 *)(r10 - 8)\nr0 *= 100\nr0 += r1\nexit",
            903,
        ),
        (
            "cmpxchg, equal: stores, r0 = old",
            "*(u64 *)(r10 - 8) = 3\nr0 = 3\nr1 = 42\nr0 = cmpxchg_64(r10 - 8, r0, r1)\nr2 = *(u64 *)(r10 - 8)\nr2 *= 100\nr0 += r2\nexit",
            4203,
        ),
        (
            "cmpxchg, different: memory unchanged, r0 = old",
            "*(u64 *)(r10 - 8) = 3\nr0 = 4\nr1 = 42\nr0 = cmpxchg_64(r10 - 8, r0, r1)\nr2 = *(u64 *)(r10 - 8)\nr2 *= 100\nr0 += r2\nexit",
            303,
        ),
        (
            "32-bit cmpxchg",
            "*(u32 *)(r10 - 4) = 3\nw0 = 3\nw1 = 42\nw0 = cmpxchg32_32(r10 - 4, w0, w1)\nr2 = *(u32 *)(r10 - 4)\nr2 *= 100\nr0 += r2\nexit",
            4203,
        ),
    ];
    let mut failures = Vec::new();
    for (what, src, want) in cases {
        for ty in ["socket_filter", "xdp"] {
            let got = retval(&format!("{src}\n"), ty);
            if got != *want {
                failures
                    .push(format!("{what} ({ty}): retval {got} ({got:#x}), RFC 9669 says {want} ({want:#x})\n{src}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `bpf_loop` with a callback written in text: sockasm gives the program's
/// functions their BTF (func_info), the kernel runs the callback once per
/// round: 10 rounds, the callback adding each index into a stack slot.
#[test]
fn run_bpf_loop_callback() {
    if !kernel_ok() {
        return;
    }
    let src = "*(u64 *)(r10 - 8) = 0\nr1 = 10\nr2 = func(add) ll\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\n\
               r1 = *(u64 *)(r10 - 8)\nr0 <<= 8\nr0 |= r1\nexit\n\
               add:\nr3 = *(u64 *)(r2 + 0)\nr3 += r1\n*(u64 *)(r2 + 0) = r3\nr0 = 0\nexit\n";
    let p = text_file("bpfloop", src);
    let o =
        sockasm(&["run", p.to_str().unwrap(), "--type", "socket_filter", "--data", "00000000000000000000000000000000"]);
    // bpf_loop returns the rounds run (10); the slot holds 0 + 1 + ... + 9.
    assert!(stdout(&o).contains("retval (hex): 0xa2d,"), "{}", show(&o));
    let o = sockasm(&["verify", p.to_str().unwrap(), "--type", "socket_filter", "--trace"]);
    let out = stdout(&o);
    assert!(o.status.success() && out.contains("verdict: accepted"), "{}", show(&o));
    assert!(
        out.contains("\nadd:\n") && out.contains("frame1:"),
        "the callback's own frame is not in the trace:\n{out}"
    );
    // The same from clang (tests/integration/data/c/loop.c): its functions get the same types.
    let obj = object("loop");
    let o =
        sockasm(&["run", obj.to_str().unwrap(), "--section", "socket", "--data", "00000000000000000000000000000000"]);
    assert!(stdout(&o).contains("retval (hex): 0xa2d,"), "{}", show(&o));
}

/// Load-acquire and store-release (kernel 6.15, all four sizes): what they
/// load and store, zero-extension included, on this kernel.
#[test]
fn run_load_acquire_and_store_release() {
    if !kernel_ok() {
        return;
    }
    // The example, byte for byte: `d3 a0 ff ff 00 01 00 00` at slot 2.
    let example = "w1 = 0x12\n*(u8 *)(r10 - 1) = w1\nw0 = load_acquire((u8 *)(r10 - 1))\nexit\n";
    let p = text_file("la", example);
    let bin = p.with_extension("bin");
    let o = sockasm(&["asm", p.to_str().unwrap(), "-o", bin.to_str().unwrap()]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(&std::fs::read(&bin).unwrap()[16..24], &[0xd3, 0xa0, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00]);
    let ones = "r1 = -1\n*(u64 *)(r10 - 8) = r1\nr0 = -1\n";
    let cases: &[(&str, String, u32)] = &[
        ("load_acquire u8", example.to_string(), 0x12),
        ("load_acquire u8 zero-extends", format!("{ones}w0 = load_acquire((u8 *)(r10 - 8))\nexit"), 0xff),
        ("load_acquire u16", format!("{ones}w0 = load_acquire((u16 *)(r10 - 8))\nexit"), 0xffff),
        ("load_acquire u32 clears the upper half", format!("{ones}w0 = load_acquire((u32 *)(r10 - 8))\nr0 >>= 32\nexit"), 0),
        (
            "load_acquire u64",
            "r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = r1\nr0 = load_acquire((u64 *)(r10 - 8))\nr0 >>= 32\nexit"
                .to_string(),
            0x1122_3344,
        ),
        (
            "store_release u8 writes one byte",
            "r1 = 0\n*(u64 *)(r10 - 8) = r1\nw2 = 0x1ff\nstore_release((u8 *)(r10 - 8), w2)\nr0 = *(u64 *)(r10 - 8)\nexit"
                .to_string(),
            0xff,
        ),
        (
            "store_release u16 writes two",
            "r1 = 0\n*(u64 *)(r10 - 8) = r1\nw2 = 0x1ffff\nstore_release((u16 *)(r10 - 8), w2)\nr0 = *(u64 *)(r10 - 8)\nexit"
                .to_string(),
            0xffff,
        ),
        (
            "store_release u32 writes four",
            "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = -1\nstore_release((u32 *)(r10 - 8), w2)\nr0 = *(u64 *)(r10 - 8)\nr0 >>= 32\nexit"
                .to_string(),
            0,
        ),
        (
            "store_release u64, read back with load_acquire",
            "r2 = 0x1122334455667788 ll\nstore_release((u64 *)(r10 - 8), r2)\nr0 = load_acquire((u64 *)(r10 - 8))\nr0 >>= 32\nexit"
                .to_string(),
            0x1122_3344,
        ),
    ];
    let mut failures = Vec::new();
    for (what, src, want) in cases {
        for ty in ["socket_filter", "xdp"] {
            let got = retval(&format!("{src}\n"), ty);
            if got != *want {
                failures.push(format!("{what} ({ty}): retval {got:#x}, expected {want:#x}\n{src}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// addr_space_cast (kernel 6.9) with a real arena: 1 -> 0 keeps the low 32
/// bits, 0 -> 1 puts the arena's upper half on top (NULL stays NULL). The
/// verifier's messages show how it reads the encoding.
#[test]
fn run_addr_space_cast() {
    if !kernel_ok() {
        return;
    }
    if let Some(why) = arena_refused() {
        skip_note(&format!("SKIPPED run_addr_space_cast: the host refuses ARENA maps: {why}"));
        return;
    }
    let arena = ["--map", "arena=arena,0,0,1,0x400"];
    let run = |src: &str| {
        let p = text_file("asc", src);
        let o = sockasm(&[&["run", p.to_str().unwrap(), "--type", "socket_filter"], &arena[..]].concat());
        assert!(o.status.success(), "{src}\n{}", show(&o));
        let s = stdout(&o);
        let line = s.lines().find(|l| l.starts_with("retval: ")).unwrap().to_string();
        line["retval: ".len()..].parse::<u32>().unwrap()
    };
    let head = "r1 = map_fd(arena) ll\nr2 = 0x123456789 ll\nr3 = addr_space_cast(r2, 0, 1)\n";
    assert_eq!(run(&format!("{head}w0 = w3\nexit\n")), 0x2345_6789);
    let to_user = format!(
        "{head}r4 = addr_space_cast(r3, 1, 0)\nr0 = 0\nif w4 != 0x23456789 goto out\nr4 >>= 32\n\
         if r4 == 0 goto out\nr6 = 0\nr7 = addr_space_cast(r6, 1, 0)\nif r7 != 0 goto out\nr0 = 1\nout:\nexit\n"
    );
    assert_eq!(run(&to_user), 1);

    let o = verify_text("asc", "r2 = 5\nr3 = addr_space_cast(r2, 0, 1)\nr0 = 0\nexit\n", "socket_filter", &[]);
    let s = assert_rejected(&o, "addr_space_cast insn can only be used in a program that has an associated arena");
    assert!(s.contains("r3 = addr_space_cast(r2, 0, 1)"), "the kernel prints our text: {s}");
    let o = verify_text("asc", "r2 = 5\nr3 = addr_space_cast(r2, 1, 1)\nr0 = 0\nexit\n", "socket_filter", &[]);
    assert_rejected(&o, "addr_space_cast insn can only convert between address space 1 and 0");
}

/// `verify --xlated`: the submitted program, then the kernel's rewrite of it
/// (read back with BPF_OBJ_GET_INFO_BY_FD), disassembled by sockasm.
#[test]
fn verify_xlated_shows_the_kernels_rewrites() {
    if !kernel_ok() {
        return;
    }
    // A context load, a signed division by a register, a may_goto loop.
    let src = "r0 = *(u32 *)(r1 + 0)\nr2 = 0\nr3 = 7\nr3 s/= r0\nloop:\nr2 += 1\nmay_goto out\ngoto loop\nout:\nexit\n";
    let o = verify_text("xl", src, "socket_filter", &["--xlated"]);
    assert_accepted(&o);
    let s = stdout(&o);
    let (sub, xl) = s.split_once("--- as the kernel rewrote it (").unwrap_or_else(|| panic!("{}", show(&o)));
    let sub = sub.split_once("--- submitted (8 insns) ---\n").unwrap_or_else(|| panic!("{}", show(&o))).1;
    assert!(sub.starts_with("       0:\tr0 = *(u32 *)(r1 + 0)\n"), "{s}");
    assert!(sub.contains("may_goto +1 ; -> out"), "{s}");
    let xl = xl.split_once("--- end of translation ---").unwrap().0;
    let n: usize = xl.split(' ').next().unwrap().parse().unwrap();
    let lines: Vec<&str> = xl.lines().skip(1).collect();
    assert_eq!(lines.len(), n, "{xl}");
    assert!(n > 8, "the rewrites add instructions: {xl}");
    // __sk_buff.len (offset 0) is read from struct sk_buff, elsewhere.
    assert!(!xl.contains("= *(u32 *)(r1 + 0)") && xl.contains("r0 = *(u32 *)(r1 + "), "{xl}");
    // The division is guarded with the hidden register r11 (BPF_REG_AX).
    assert!(xl.contains("r11 = r0") && xl.contains("r3 s/= r0"), "{xl}");
    assert!(!xl.contains("not an ISA instruction"), "{xl}");
    assert!(!xl.contains("may_goto"), "may_goto is rewritten away: {xl}");
    if cfg!(target_arch = "x86_64") {
        // Since 6.15 the budget is time: a call to arch_bpf_timed_may_goto.
        assert!(xl.contains("\tcall "), "{xl}");
    }
}

#[test]
fn lenient_listing_names_the_hidden_register() {
    let bytes = [
        [0x79, 0xab, 0xf0, 0xff, 0, 0, 0, 0], // r11 = *(u64 *)(r10 - 16)
        [0xbf, 0x0b, 0, 0, 0, 0, 0, 0],       // r11 = r0
        [0xbc, 0xb1, 0, 0, 0, 0, 0, 0],       // w1 = w11
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        [0x95, 0, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    let l = sockasm::verify::lenient_listing(&bytes);
    assert_eq!(
        l,
        "       0:\tr11 = *(u64 *)(r10 - 16)\n       1:\tr11 = r0\n       2:\tw1 = w11\n       \
         3:\t<not an ISA instruction: ff ff ff ff ff ff ff ff>\n       4:\texit\n"
    );
    assert_eq!(
        sockasm::verify::lenient_listing(&[0x18, 0x0b, 0, 0]),
        "       0:\t<not an ISA instruction: 18 0b 00 00>\n"
    );
}

#[test]
fn run_options_and_objects() {
    if !kernel_ok() {
        return;
    }
    // XDP: the packet decides (eth[12] == 0x08 → XDP_PASS 2, else XDP_TX 3).
    let xdp = object("xdp");
    let mut pkt = vec![0u8; 64];
    pkt[12] = 0x08;
    let hex: String = pkt.iter().map(|b| format!("{b:02x}")).collect();
    let o = sockasm(&["run", xdp.to_str().unwrap(), "--data", &hex, "--repeat", "5"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(stdout(&o).contains("retval: 2\n"), "{}", show(&o));
    assert!(stdout(&o).contains("(average of 5 runs)"), "{}", show(&o));
    assert!(stdout(&o).contains("data out: unchanged (64 bytes)"), "{}", show(&o));
    pkt[12] = 0x86;
    let f = text_file("pkt", "");
    std::fs::write(&f, &pkt).unwrap();
    let o = sockasm(&["run", xdp.to_str().unwrap(), "--data-file", f.to_str().unwrap()]);
    assert!(stdout(&o).contains("retval: 3\n"), "{}", show(&o));
    // The socket filter: IPv4 → 64.
    let mut ip = [0u8; 34];
    ip[12] = 0x08;
    ip[14] = 0x45;
    let hex: String = ip.iter().map(|b| format!("{b:02x}")).collect();
    let o = sockasm(&["run", object("socket").to_str().unwrap(), "--section", "socket", "--data", &hex]);
    assert!(stdout(&o).contains("retval: 64\n"), "{}", show(&o));
    // IPv4 Ethernet type with a short packet: the kernel refuses, we say why.
    let o = sockasm(&["run", object("socket").to_str().unwrap(), "--section", "socket", "--data", &hex[..40]]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("a whole IPv4 header"), "{}", show(&o));
    // A program that writes the packet shows the data.
    let p = text_file(
        "wr",
        "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 1\nif r4 > r3 goto out\n*(u8 *)(r2 + 0) = 171\nout:\nr0 = 2\nexit\n",
    );
    let o =
        sockasm(&["run", p.to_str().unwrap(), "--type", "xdp", "--data", "00 11 22 33 44 55 66 77 88 99 aa bb cc dd"]);
    assert!(stdout(&o).contains("data out (14 bytes): ab 11 22"), "{}", show(&o));
    // Too little data for an skb program: a clear error.
    let p = text_file("ret", "r0 = 0\nexit\n");
    let o = sockasm(&["run", p.to_str().unwrap(), "--type", "socket_filter", "--data", "00"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 14 bytes"), "{}", show(&o));
    // Rejected programs do not run.
    let o = sockasm(&["run", p.to_str().unwrap(), "--type", "socket_filter", "--data", "zz"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--data"), "{}", show(&o));
    let bad = text_file("bad", "exit\n");
    let o = sockasm(&["run", bad.to_str().unwrap(), "--type", "socket_filter"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("R0 !read_ok"), "{}", show(&o));
}
