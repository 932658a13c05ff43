//! `sockasm verify --trace` on the real kernel: the verifier's level-2 log
//! read back onto sockasm's listing, for text programs, the built-in
//! programs and a clang object. Needs root (BPF_PROG_LOAD), like verify_run;
//! programs are loaded, never attached.

use crate::elf::object;
use crate::verify_run::{kernel_ok, show, sockasm};
use std::process::Output;

/// `verify --trace` of a text program; the trace section of stdout.
fn trace_text(stem: &str, src: &str, ty: &str, ok: bool) -> (String, Output) {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-trace-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(format!("{stem}.s"));
    std::fs::write(&p, src).unwrap();
    let o = sockasm(&["verify", p.to_str().unwrap(), "--type", ty, "--trace"]);
    assert_eq!(o.status.success(), ok, "{}", show(&o));
    (section(&o), o)
}

fn section(o: &Output) -> String {
    let s = String::from_utf8_lossy(&o.stdout);
    let start = s.find("--- trace: ").unwrap_or_else(|| panic!("no trace:\n{}", show(o)));
    let end = s[start..].find("--- end of trace ---").map_or(s.len(), |e| start + e);
    s[start..end].to_string()
}

/// The lines from the one starting with `from` on.
fn after<'a>(t: &'a str, from: &str) -> Vec<&'a str> {
    t.lines().skip_while(|l| !l.starts_with(from)).collect()
}

#[test]
fn trace_shows_the_bounds_a_check_proves() {
    if !kernel_ok() {
        return;
    }
    let src = "        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r0 = 2
        r4 = r2
        r4 += 34
        if r4 > r3 goto out
        r5 = *(u8 *)(r2 + 23)
        r0 = 1
out:
        exit
";
    let (t, o) = trace_text("bounds", src, "xdp", true);
    // Before the check no byte of the packet is proven; after it, on the
    // fall-through, 34 are: in r4 and in r2 (same packet pointer id).
    let l = after(&t, "       4:");
    assert_eq!(l.get(1), Some(&"\t\tR4=pkt(off=34,r=0)"), "{}", show(&o));
    assert_eq!(l.get(2), Some(&"       5:\tif r4 > r3 goto +2 ; -> out"), "{}", show(&o));
    assert_eq!(l.get(3), Some(&"\t\tR4=pkt(off=34,r=34)"), "{}", show(&o));
    assert_eq!(l.get(4), Some(&"\t\tR2=pkt(r=34) (linked to R4: the comparison proves it too)"), "{}", show(&o));
    assert!(
        l.get(5).is_some_and(|x| x.starts_with("\t\t-> falls through to 6; path 2 takes the jump to 8 (out)")),
        "{}",
        show(&o)
    );
    assert!(l.get(7).is_some_and(|x| x.starts_with("\t\tR5=scalar(")), "{}", show(&o));
    assert!(t.contains("\npath 2: the jump at 5 taken, to 8 (out)"), "{}", show(&o));
    // The raw log only with -v.
    assert!(!String::from_utf8_lossy(&o.stdout).contains("--- verifier log ---"), "{}", show(&o));
}

#[test]
fn trace_shows_pruning_in_a_loop() {
    if !kernel_ok() {
        return;
    }
    // may_goto (Linux 6.9): the verifier widens r0 and prunes the loop.
    let src = "        r0 = 0
loop:
        r0 += 1
        may_goto out
        goto loop
out:
        r0 = 0
        exit
";
    let (t, o) = trace_text("maygoto", src, "socket_filter", true);
    assert!(t.contains("\t\t-> at 2: safe: a state already verified there covers this one"), "{}", show(&o));
    assert!(t.contains("path 2: the jump at 2 not taken, on to 3\n"), "{}", show(&o));
    assert!(t.contains("\tstate\tR0=scalar() R1=ctx() R10=fp0\n"), "{}", show(&o));
}

#[test]
fn trace_shows_call_frames() {
    if !kernel_ok() {
        return;
    }
    let src = "        r1 = *(u32 *)(r1 + 0)
        call double
        exit
double:
        r0 = r1
        r0 += r1
        exit
";
    let (t, o) = trace_text("call", src, "socket_filter", true);
    let want = "       1:\tcall func(+1) ; -> double
\t\t-> calls 3 (double): frame 1
\tstate\tframe1: R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
double:
       3:\tr0 = r1
";
    assert!(t.contains(want), "{}", show(&o));
    assert!(
        t.contains("\t\tframe1: R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1ffffffff))\n"),
        "{}",
        show(&o)
    );
    assert!(
        t.contains("       5:\texit\n\t\t-> returns to 2: frame 0\n\t\tR0=scalar(smin=0,smax=umax=0x1fffffffe"),
        "{}",
        show(&o)
    );

    // A clang object: static and global subprograms, and paths that start
    // inside a callee (the jumps of `classify`).
    let xdp = object("xdp");
    let o = sockasm(&["verify", xdp.to_str().unwrap(), "--trace"]);
    assert!(o.status.success(), "{}", show(&o));
    let t = section(&o);
    assert!(t.contains("\t\t-> calls 22 (classify): frame 1\n"), "{}", show(&o));
    assert!(t.contains("\t\t-> calls 33 (global_helper): frame 1\n"), "{}", show(&o));
    assert!(t.contains("\npath 2: the jump at 30 taken, to 32\n\tstate\tframe1: R0=2 R1=8 "), "{}", show(&o));
}

#[test]
fn trace_of_a_rejected_program_ends_with_the_message() {
    if !kernel_ok() {
        return;
    }
    let src = "        r2 = *(u32 *)(r1 + 0)\n        r0 = *(u8 *)(r2 + 0)\n        exit\n";
    let (t, o) = trace_text("reject", src, "xdp", false);
    assert!(
        t.ends_with("       1:\tr0 = *(u8 *)(r2 + 0)\n\t\tregisters there: R1=ctx() R2=pkt(r=0) R10=fp0\ninvalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)\nR2 offset is outside of the packet\n"),
        "{}",
        show(&o)
    );
}

#[test]
fn trace_of_the_builtin_programs() {
    if !kernel_ok() {
        return;
    }
    // Hundreds of lines each: a summary first by default.
    let o = sockasm(&["verify", "--prog", "sockops", "--trace"]);
    assert!(section(&o).lines().nth(1).is_some_and(|l| l.starts_with("summary: ")), "{}", show(&o));
    let o = sockasm(&["verify", "--prog", "all", "--trace", "--full"]);
    assert!(o.status.success(), "{}", show(&o));
    let s = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(s.matches("--- end of trace ---").count(), 2, "{}", show(&o));
    for part in s.split("--- trace: ").skip(1) {
        let t = &part[..part.find("--- end of trace ---").unwrap()];
        assert!(t.contains("\npath 1: from the program's entry at 0\n\tstate\tR1=ctx() R10=fp0\n"), "{t}");
        assert!(t.contains(": safe"), "no pruning point in:\n{t}");
        // Every instruction comes from sockasm's listing, none in the
        // kernel's own syntax (`goto pc+3`, `(61)`), and every line is known.
        for l in t.lines().skip(1) {
            let known = l.is_empty()
                || l.starts_with("path ")
                || l.starts_with("\tstate\t")
                || l.starts_with("\t\t")
                || l.ends_with(':') && !l.starts_with(' ')
                || l.len() > 9 && l[..8].trim().parse::<usize>().is_ok() && &l[8..10] == ":\t";
            assert!(known, "unexpected line `{l}` in:\n{t}");
            assert!(!l.contains("goto pc") && !l.contains("(as the verifier prints it)"), "`{l}`");
        }
    }
    // ctx fields and helpers by name.
    for name in ["bpf_sock_ops.snd_una", "bpf_sock_ops.local_port", "bpf_map_lookup_elem", "bpf_get_socket_cookie"] {
        assert!(s.contains(name), "{name} missing:\n{s}");
    }
    assert!(s.contains("sk_msg_md."), "no sk_msg_md field named:\n{s}");
    // The raw log with -v, as before.
    let o = sockasm(&["verify", "--prog", "sk_msg", "--trace", "-v"]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("--- trace: ") && s.contains("--- verifier log ---") && s.contains("Live regs before insn:"),
        "{}",
        show(&o)
    );
}

/// An unbounded countdown runs the verifier into its 1M-instruction limit:
/// the level-2 log is about three million lines. By default the trace
/// starts with a summary and folds the repeated paths, saying so, into
/// fewer than 2,000 lines; the rejection's last path is shown whole.
#[test]
fn a_big_trace_is_summarised_and_folded() {
    if !kernel_ok() {
        return;
    }
    let src = "        r1 = *(u32 *)(r1 + 0)
        r0 = 0
loop:
        r0 += 1
        r1 -= 1
        if r1 != 0 goto loop
        exit
";
    let (t, o) = trace_text("countdown", src, "socket_filter", false);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.lines().count() < 2000, "{} lines:\n{}", out.lines().count(), t);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[1].starts_with("summary: "), "{t}");
    assert!(t.contains("\nlongest path: path ") && t.contains("\nmost walked:\n\t2 (loop): "), "{t}");
    let folded = lines.iter().find(|l| l.starts_with("folded: ")).unwrap_or_else(|| panic!("{t}"));
    assert!(folded.contains(" repeated loop rounds and paths"), "{folded}");
    let note = lines.iter().find(|l| l.starts_with("… ")).unwrap_or_else(|| panic!("{t}"));
    assert!(note.contains(" more paths of 2-5, same shape as the one above"), "{note}");
    // The failing path is there, with its state and the verifier's message.
    assert!(t.contains("\t\tregisters there: R0="), "{t}");
    assert!(t.contains("BPF program is too large"), "{t}");
}

/// `--path N` prints one path, `--around INSN` the visits of one
/// instruction, `--full` (on a small trace) what the default prints.
#[test]
fn trace_views() {
    if !kernel_ok() {
        return;
    }
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-views-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join("views.s");
    std::fs::write(&p, "        r0 = 0\n        r1 = 0\nloop:\n        r0 += r1\n        r1 += 1\n        if r1 < 10 goto loop\n        exit\n").unwrap();
    let p = p.to_str().unwrap();
    let run = |extra: &[&str]| {
        let o = sockasm(&[&["verify", p, "--type", "socket_filter", "--trace"], extra].concat());
        assert!(o.status.success(), "{}", show(&o));
        section(&o)
    };
    let all = run(&[]);
    assert_eq!(run(&["--full"]), all);
    let one = run(&["--path", "1"]);
    assert!(one.lines().nth(1).is_some_and(|l| l.starts_with("path 1: from the program's entry")), "{one}");
    assert!(!one.contains("\npath 2"), "{one}");
    let around = run(&["--around", "5"]);
    let slots: Vec<&str> = around.lines().filter(|l| l.starts_with("       ") && l.contains(":\t")).collect();
    assert!(slots.iter().any(|l| l.starts_with("       5:\t")), "{around}");
    assert!(slots.iter().all(|l| ["       4:", "       5:", "       6:"].iter().any(|s| l.starts_with(s))), "{around}");
}

/// A clang `-g` object carries BTF line info: the rejection view and the
/// trace show the C line above the instructions it covers; the known line
/// `return data[8] ...` sits right above the load the verifier refuses.
/// Compiled here with clang-19; without it the test says SKIPPED.
#[test]
fn c_source_lines_above_their_instructions() {
    if !kernel_ok() {
        return;
    }
    let clang = std::process::Command::new("clang-19").arg("--version").output();
    if !clang.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED c_source_lines_above_their_instructions: clang-19 not found (apt-get install clang-19)");
        return;
    }
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-lines-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let obj = d.join("lines.o");
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/data/c/lines.c");
    let o = std::process::Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let c_line = "; return data[8] == 0x45 ? 2 : 1; @ lines.c:11";
    let is_load = |l: &str| l.contains("= *(u8 *)(r") && l.contains(" + 8)");

    // The rejection view: the C line, then the failing load.
    let o = sockasm(&["verify", obj.to_str().unwrap()]);
    assert!(!o.status.success(), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    let at = lines.iter().position(|l| *l == c_line).unwrap_or_else(|| panic!("no `{c_line}`:\n{out}"));
    assert!(lines[at + 1].starts_with("=>") && is_load(lines[at + 1]), "{out}");
    assert!(lines[..at].iter().any(|l| l.starts_with("; if (data + 4 > end) @ lines.c:9")), "{out}");
    assert!(out.contains("invalid access to packet"), "{out}");

    // The trace: the same line right above the same load, once.
    let o = sockasm(&["verify", obj.to_str().unwrap(), "--trace"]);
    let t = section(&o);
    let lines: Vec<&str> = t.lines().collect();
    let at = lines.iter().position(|l| *l == c_line).unwrap_or_else(|| panic!("no `{c_line}`:\n{t}"));
    assert!(is_load(lines[at + 1]) && lines[at + 2].contains("registers there:"), "{t}");
    assert_eq!(lines.iter().filter(|l| **l == c_line).count(), 1, "{t}");
    // Each C line of the walk comes right before an instruction.
    for (i, l) in lines.iter().enumerate().filter(|(_, l)| l.starts_with("; ") && l.contains(" @ lines.c:")) {
        assert!(lines[i + 1].split(":\t").next().is_some_and(|n| n.trim().parse::<usize>().is_ok()), "{i}: {l}\n{t}");
    }

    // The built-in programs' "source" is their own listing: not repeated in
    // the trace.
    let o = sockasm(&["verify", "--prog", "sk_msg", "--trace"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(!section(&o).contains("@ skmsg.s:"), "{}", section(&o));
}
