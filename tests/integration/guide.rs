//! The guide and its exercises, run: the text stays true to what the tools
//! print, except for what the kernel build and boot decide (masked, below).
//!
//! **Documents** ([`DOCS`]): every ` ```console ` block is a sequence of
//! commands (a line starting with `$ `) each followed by the output it prints.
//! Each command runs with `bash -c` (stdout and stderr together, at most
//! 180 s: a 1M-instruction verification took 25-30 s on a busy 2-vCPU
//! machine) in one scratch directory per document, in document order, holding a copy
//! of every file of the document's examples directory, with the built `sockasm` first on the
//! `PATH`. So `$ cat F` checks that the guide shows the example file F as it is
//! (or a file an earlier command of the document wrote), and files made by one
//! command (`x.bin`) serve the next ones. The output must equal the text,
//! line by line, with these allowances ([`comparable`]), used sparingly:
//!
//! - a text line that is exactly `...` matches any number of lines (zero or more);
//! - trailing whitespace is ignored;
//! - what varies from run to run is compared as a placeholder `#`: the number
//!   in `duration: N ns` and in `verification time N usec`, and kernel
//!   addresses (`0xffff` followed by 12 hex digits, as a verifier log prints
//!   a map);
//! - what the kernel build or boot decides is compared as a placeholder too:
//!   JIT sizes (`N bytes JITed`); a helper call's `imm` in the listing the
//!   kernel rewrote (`call -1588928` after `--- as the kernel rewrote it`:
//!   an address relative to `__bpf_call_base`, which KASLR and the build
//!   move; only a bare signed number, so `call 1 ; bpf_map_lookup_elem` and
//!   `call func(+1)` stay literal); the verifier's counts, which its
//!   heuristics change from version to version: `processed N insns`,
//!   `N states (peak M)`, `max_states_per_insn`, `total_states`,
//!   `peak_states`, `mark_read`; a kfunc's BTF id in the verifier's text
//!   of a call (`call bpf_cast_to_kern_ctx#62986`; a helper's number,
//!   `call bpf_map_lookup_elem#1`, stays); and the
//!   numbers of a line that reports a prune point (`path 3: from 9 to 5:
//!   safe, pruned at once`, `(a state already verified at 5 covers this
//!   one, ...)`, `-> at 2 (loop): safe: ...`, the raw log's `from 6 to 8:
//!   safe`); the counts of a big trace's summary and fold notes
//!   (`summary: ...`, `longest path: ...`, `folded: ...`, `… N more ...`,
//!   the rows under `most walked:`), which follow the verifier's walk;
//! - in a `--jited` listing (from `--- machine code` to the next `--- `
//!   line), the machine code: each run of x86 lines (`\t\tOFF:\tINSN`)
//!   compares as one line, whatever its instructions, offsets and length;
//!   and the program tag and size of a function's line (`bpf_prog_TAG_NAME:
//!   N bytes`), map ids (`map_fd(N)`, `; map N:`) and a helper call's `imm`.
//!   The BPF instructions, their source lines, and which of them have
//!   machine code of their own stay compared;
//! - lines whose presence depends on the kernel build are dropped from both
//!   sides: the verifier's loop bookkeeping (a line containing `SCC enter`,
//!   `SCC backedge` or `SCC exit`, printed since Linux 6.17), and the
//!   precision marks of a trace (`~ precise: r1 r4 (walked back to 0)`):
//!   which registers are marked, where, and how often follows the verifier's
//!   backtracking, which changes between versions (two 6.18 builds differ
//!   on `bpfloop.s`); and a `--jited` listing's note that constants may be
//!   blinded (`(net.core.bpf_jit_harden is N: ...)`), a host setting.
//!
//! Instructions are never masked: a changed instruction, register, constant,
//! jump or helper name still fails the comparison ([`matching_rules`],
//! [`kernel_build_masks`]).
//!
//! **Features the host may refuse.** A ` ```console ` block right after the
//! line `<!-- needs: FEATURE -->` (invisible when rendered) runs only if a
//! probe finds the feature: `arena` creates an ARENA map as
//! `--map NAME=arena,0,0,1,0x400` does ([`crate::verify_run::arena_refused`]);
//! `kfuncs` looks up the kfuncs the course calls ([`COURSE_KFUNCS`]) in the
//! running kernel's BTF. Exercises whose task calls kfuncs are skipped the
//! same way on a kernel without them.
//! If the host refuses it, each command of the block is skipped with a line
//! `DOC:LINE: SKIPPED (the host refuses ARENA maps: ERROR)` on stderr (past
//! libtest's capture, so a passing run shows it too), and the summary counts
//! it; an unknown feature fails the test.
//!
//! After a kernel upgrade, `SOCKASM_BLESS_GUIDE=1 cargo test --release --test
//! integration guide::guide` rewrites every output that differs with what the
//! command printed (a `...` in it is lost); review the diff.
//!
//! A command whose program is not installed (`xxd`, `llvm-objdump-19`,
//! `clang-19`) is skipped with a `SKIPPED` line on stderr (past libtest's
//! capture) and counted in the summary. The C examples of docs/isa.md
//! (`docs/examples/c`, copied into the same scratch directory) are compiled
//! in the command that lists them (`clang-19 ... -c alu.c && sockasm dump
//! --disasm alu.o`), so a host without clang-19 skips both at once;
//! tests/integration/elf.rs compiles the same files and checks sockasm's
//! listing against llvm-objdump-19 (and fails without clang-19). `sockasm run`, `sockasm verify` and
//! `sockasm dump --disasm` of the built-in programs need root; without it the
//! test fails unless SOCKASM_SKIP_KERNEL_TESTS is set, and then only those
//! commands are skipped.
//!
//! **Exercises** (`docs/exercises/NN-name/`): `README.md` states the check
//! in three lines the test reads, each in backquotes on a line of its own
//! (or a list item):
//! `` `args: ...` `` (the arguments after `sockasm run FILE`), `` `task: ...` ``
//! and `` `solution: ...` ``. A check is `rejected: MESSAGE` (the run fails and
//! its output contains MESSAGE, the verifier's words) or `retval: N` (the run
//! succeeds and prints the line `retval: N`). The task must fail its way and
//! the solution must pass with the stated retval. Any number of lines
//! `` `also: ARGS => CHECK` `` run the solution again with other arguments
//! (another packet), so that a fix right for one input only fails. A C
//! exercise (the C bridge) has `task.c` and `solution.c` instead, compiled
//! with `clang-19 -O2 -target bpf -mcpu=v4 -c` and run as objects; without
//! clang-19 it is skipped with a `SKIPPED` line.
//! `docs/exercises/README.md` must link every exercise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The markdown files whose console blocks are run, each with the directory
/// of the example files it shows.
const DOCS: &[(&str, &[&str])] =
    &[("docs/isa.md", &["docs/examples", "docs/examples/c"]), ("docs/verifier.md", &["docs/examples/verifier"])];

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_sockasm");

/// Root, or SOCKASM_SKIP_KERNEL_TESTS set (then false): the kernel tests' rule.
fn may_load() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("SOCKASM_SKIP_KERNEL_TESTS").is_some() {
        eprintln!("skipping the commands that load programs (SOCKASM_SKIP_KERNEL_TESTS is set)");
        return false;
    }
    panic!("the guide's commands load BPF programs and need root; set SOCKASM_SKIP_KERNEL_TESTS=1 to skip those");
}

#[derive(Debug)]
struct Step {
    /// 1-based line of the `$ ` line in its document.
    line: usize,
    cmd: String,
    want: Vec<String>,
    /// The feature of the block's `<!-- needs: FEATURE -->` line, if any.
    needs: Option<String>,
}

/// The feature a line `<!-- needs: FEATURE -->` names.
fn needs_marker(line: &str) -> Option<String> {
    let f = line.trim().strip_prefix("<!-- needs:")?.strip_suffix("-->")?.trim();
    Some(f.to_string())
}

/// The commands of every ```console block of `text`, in order.
fn console_steps(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut block_start = 0;
    let mut needs = None;
    let mut prev = "";
    for (i, l) in text.lines().enumerate() {
        let fence = l.trim_start().starts_with("```");
        if !in_block {
            in_block = fence && l.trim_start() == "```console";
            block_start = steps.len();
            needs = if in_block { needs_marker(prev) } else { None };
            prev = l;
            continue;
        }
        if fence {
            in_block = false;
        } else if let Some(cmd) = l.strip_prefix("$ ") {
            steps.push(Step { line: i + 1, cmd: cmd.to_string(), want: Vec::new(), needs: needs.clone() });
        } else {
            assert!(
                steps.len() > block_start,
                "line {}: a console block starts with output, not a `$ ` command",
                i + 1
            );
            steps.last_mut().unwrap().want.push(l.to_string());
        }
    }
    assert!(!in_block, "a ```console block is not closed");
    steps
}

/// Every number (digits, after an optional `-`) right after `before` and
/// followed by `after` (anything if `after` is empty) replaced by `#`.
fn mask_number(line: &str, before: &str, after: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(p) = rest.find(before) {
        let start = p + before.len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let sign = usize::from(rest.starts_with('-'));
        let digits = rest[sign..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[sign + digits..].starts_with(after) {
            out.push('#');
            rest = &rest[sign + digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Every run of digits replaced by `#`.
fn mask_all_numbers(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_number = false;
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// A line whose presence depends on the kernel build: the verifier's loop
/// bookkeeping (strongly connected components, Linux 6.17), and a trace's
/// precision mark (`~ precise: r1 r4 (walked back to 0)`), whose registers,
/// place and number follow the verifier's backtracking, which changes from
/// version to version.
fn kernel_build_only(line: &str) -> bool {
    ["SCC enter", "SCC backedge", "SCC exit"].iter().any(|w| line.contains(w))
        || line.trim().starts_with("~ precise: ")
        || line.starts_with("(net.core.bpf_jit_harden is ")
}

/// A line that reports a prune point: a trace's `...: safe, pruned at once`,
/// `(a state already verified at N covers this one, ...)` and `-> at N: safe:
/// ...`, or a raw log's `from N to M: safe`.
fn reports_prune(line: &str) -> bool {
    let t = line.trim();
    t.ends_with(": safe, pruned at once")
        || t.starts_with("(a state already verified at ")
        || (t.starts_with("-> at ") && t.contains(": safe: "))
        || (t.starts_with("from ") && t.ends_with(": safe"))
}

/// A line of a big trace's summary or a fold note (`summary: ...`,
/// `longest path: ...`, `folded: ...`, `… N more paths ...`): how many paths
/// and rounds the verifier walks is the kernel build's.
fn summarises(line: &str) -> bool {
    ["summary: ", "longest path: ", "folded: ", "… "].iter().any(|p| line.trim_start().starts_with(p))
}

/// A `most walked:` row (`\t2 (loop): 250,000 times, 25%  r0 += 1`) with
/// its counts masked; the slot and the instruction stay.
fn most_walked_row(line: &str) -> Option<String> {
    let rest = line.strip_prefix('\t')?;
    let (slot, after) = rest.split_once(": ")?;
    let (count, after) = after.split_once(" times, ")?;
    let (_, insn) = after.split_once("%  ")?;
    let slot_ok = slot.split(' ').next()?.parse::<usize>().is_ok();
    (slot_ok && count.bytes().all(|b| b.is_ascii_digit() || b == b','))
        .then(|| format!("\t{slot}: # times, #%  {insn}"))
}

/// The verifier's text of a kfunc call (`call bpf_cast_to_kern_ctx#62986`)
/// with the BTF id masked: ids are numbered by the kernel build. A helper's
/// number (`call bpf_map_lookup_elem#1`) is the UAPI's and stays.
fn mask_kfunc_ids(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(p) = rest.find("call ") {
        let start = p + "call ".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let name_len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
        let digits = rest[name_len..].strip_prefix('#').map_or(0, |d| d.bytes().take_while(u8::is_ascii_digit).count());
        if name_len > 0 && digits > 0 && sockasm::asm::helpers::helper_id(&rest[..name_len]).is_none() {
            out.push_str(&rest[..name_len]);
            out.push_str("#<btf id>");
            rest = &rest[name_len + 1 + digits..];
        }
    }
    out.push_str(rest);
    out
}

/// One line as compared: trailing whitespace, timings, kernel addresses and
/// what the kernel build decides masked (the module doc lists it). `xlated`:
/// the line is part of a listing the kernel rewrote.
fn normalize(line: &str, xlated: bool) -> String {
    let line = line.trim_end();
    if reports_prune(line) || summarises(line) {
        return mask_all_numbers(line);
    }
    if let Some(row) = most_walked_row(line) {
        return row;
    }
    let mut l = mask_kfunc_ids(&mask_number(line, "duration: ", " ns"));
    for (before, after) in [
        ("verification time ", " usec"),
        (", ", " bytes JITed"),
        ("processed ", " insns"),
        (", ", " states"),
        ("(peak ", ")"),
        ("max_states_per_insn ", ""),
        ("total_states ", ""),
        ("peak_states ", ""),
        ("mark_read ", ""),
    ] {
        l = mask_number(&l, before, after);
    }
    if xlated
        && let Some((slot, insn)) = l.split_once(":\t")
        && let Some(imm) = insn.strip_prefix("call ")
        && imm.parse::<i64>().is_ok()
    {
        l = format!("{slot}:\tcall #");
    }
    let mut out = String::with_capacity(l.len());
    let mut rest = l.as_str();
    while let Some(p) = rest.find("0xffff") {
        let hex = rest[p + 6..].bytes().take_while(u8::is_ascii_hexdigit).count();
        out.push_str(&rest[..p + 6]);
        if hex == 12 {
            out.push_str("<addr>");
            rest = &rest[p + 18..];
        } else {
            rest = &rest[p + 6..];
        }
    }
    out.push_str(rest);
    out
}

/// The lines as compared: the kernel build's own lines dropped, every other
/// line [`normalize`]d (a `...` line stays as it is). A listing the kernel
/// rewrote runs from `--- as the kernel rewrote it` to the next `--- ` line.
fn comparable(lines: &[String]) -> Vec<String> {
    let mut xlated = false;
    let mut machine = false;
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for l in lines {
        if kernel_build_only(l) {
            continue;
        }
        if l.starts_with("--- ") {
            machine = l.starts_with("--- machine code");
            xlated = l.starts_with("--- as the kernel rewrote it") || machine;
        }
        if machine {
            if x86_line(l) {
                // A run of machine code, however long, is one line.
                if out.last().map(String::as_str) != Some(MACHINE_CODE) {
                    out.push(MACHINE_CODE.to_string());
                }
                continue;
            }
            out.push(normalize(&mask_jited(l), xlated));
            continue;
        }
        out.push(if l == "..." { l.clone() } else { normalize(l, xlated) });
    }
    out
}

/// What a run of machine code compares as.
const MACHINE_CODE: &str = "\t\t<machine code>";

/// A line of x86 code in a `--jited` listing: `\t\t   1d:\tmov r14d, [rbx+0xc]`.
fn x86_line(l: &str) -> bool {
    l.strip_prefix("\t\t")
        .and_then(|r| r.split_once(":\t"))
        .is_some_and(|(off, _)| !off.trim().is_empty() && off.trim().bytes().all(|b| b.is_ascii_hexdigit()))
}

/// In a `--jited` listing, what the kernel build and the run decide besides
/// the machine code: the program tag and size in a function's name line
/// (`bpf_prog_11ea38f7927391b2_sockasm_skmsg: 1378 bytes`) and map ids
/// (`map_fd(20878)`, `; map 20878: sockasm_state`).
fn mask_jited(l: &str) -> String {
    let mut l = l.to_string();
    if let Some(rest) = l.strip_prefix("bpf_prog_")
        && rest.len() > 17
        && rest[..16].bytes().all(|b| b.is_ascii_hexdigit())
        && let Some((name, _)) = rest[17..].split_once(": ")
        && l.ends_with(" bytes")
    {
        l = format!("bpf_prog_#_{name}: # bytes");
    }
    for (before, after) in [("map_fd(", ")"), ("map_value(", ","), ("; map ", ":")] {
        l = mask_number(&l, before, after);
    }
    l
}

/// `want` (with `...` lines matching any run of lines) against `got`, as
/// [`comparable`] makes them.
fn lines_match(want: &[String], got: &[String]) -> bool {
    comparable_match(&comparable(want), &comparable(got))
}

fn comparable_match(want: &[String], got: &[String]) -> bool {
    match want.split_first() {
        None => got.is_empty(),
        Some((w, rest)) if w == "..." => (0..=got.len()).any(|skip| comparable_match(rest, &got[skip..])),
        Some((w, rest)) => got.split_first().is_some_and(|(g, more)| w == g && comparable_match(rest, more)),
    }
}

/// The `PATH` with the built `sockasm` first.
fn path() -> String {
    let bin_dir = Path::new(BIN).parent().unwrap();
    format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default())
}

fn bash(cmd: &str, dir: &Path) -> Output {
    Command::new("timeout")
        .args(["180", "bash", "-c", &format!("{{ {cmd}\n}} 2>&1")])
        .current_dir(dir)
        .env("PATH", path())
        .stdin(Stdio::null())
        .output()
        .expect("run bash")
}

/// The programs a command line starts (first word of each pipeline stage).
fn programs(cmd: &str) -> Vec<String> {
    cmd.split(['|', ';', '&'])
        .filter_map(|stage| stage.split_whitespace().next())
        .filter(|w| !w.starts_with('<') && !w.starts_with('('))
        .map(str::to_string)
        .collect()
}

fn installed(program: &str) -> bool {
    Command::new("bash")
        .args(["-c", &format!("command -v {program}")])
        .env("PATH", path())
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn needs_kernel(cmd: &str) -> bool {
    cmd.contains("sockasm run")
        || cmd.contains("sockasm verify")
        || cmd.split("sockasm dump").skip(1).any(|rest| !rest.split("&&").next().unwrap_or("").contains("--raw"))
}

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-guide-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Why the host refuses `feature` (of a `<!-- needs: FEATURE -->` line), or
/// `None` if it has it.
fn refused(feature: &str) -> Option<String> {
    match feature {
        "arena" => crate::verify_run::arena_refused().map(|e| format!("the host refuses ARENA maps: {e}")),
        "kfuncs" => kfuncs_missing(),
        _ => panic!("<!-- needs: {feature} -->: unknown feature (known: arena, kfuncs)"),
    }
}

/// The kfuncs the course calls, which the running kernel's BTF must have
/// (the number iterator came in 6.4, `bpf_cast_to_kern_ctx` in 6.3).
const COURSE_KFUNCS: &[&str] =
    &["bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy", "bpf_cast_to_kern_ctx"];

/// Why the host cannot run the course's kfunc calls, or `None` if it can.
fn kfuncs_missing() -> Option<String> {
    let btf = Path::new("/sys/kernel/btf/vmlinux");
    match sockasm::loader::kfunc_ids(btf, COURSE_KFUNCS) {
        Err(e) => Some(format!("no kernel BTF for kfunc calls: {e}")),
        Ok(ids) if ids.len() < COURSE_KFUNCS.len() => {
            let missing: Vec<&str> =
                COURSE_KFUNCS.iter().copied().filter(|k| !ids.iter().any(|(n, _)| n == k)).collect();
            Some(format!("this kernel has no kfunc {} (Linux 6.4 has them)", missing.join(", ")))
        }
        Ok(_) => None,
    }
}

/// Runs every command of `doc` (relative to the crate root); returns how
/// many ran and how many were skipped.
fn run_document(doc: &str, examples: &[&str], load: bool) -> (usize, usize) {
    let text = std::fs::read_to_string(Path::new(ROOT).join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let dir = scratch(&doc.replace('/', "_"));
    for p in examples.iter().flat_map(|d| example_files(d)) {
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let steps = console_steps(&text);
    assert!(!steps.is_empty(), "{doc} has no console commands");
    let mut ran = 0;
    let mut skipped = 0;
    let mut failures = Vec::new();
    // (index of the first output line, lines it replaces, new lines) for SOCKASM_BLESS_GUIDE.
    let mut bless: Vec<(usize, usize, Vec<String>)> = Vec::new();
    for s in &steps {
        if !load && needs_kernel(&s.cmd) {
            skipped += 1;
            continue;
        }
        // Without root the probe cannot run; the kernel commands are skipped above.
        if let Some(why) = s.needs.as_deref().filter(|_| load).and_then(refused) {
            crate::verify_run::skip_note(&format!("{doc}:{}: SKIPPED ({why}): `{}`", s.line, s.cmd));
            skipped += 1;
            continue;
        }
        if let Some(p) = programs(&s.cmd).into_iter().find(|p| !installed(p)) {
            // Loud: past libtest's capture, and counted in the summary.
            crate::verify_run::skip_note(&format!("{doc}:{}: SKIPPED (`{p}` is not installed): `{}`", s.line, s.cmd));
            skipped += 1;
            continue;
        }
        let o = bash(&s.cmd, &dir);
        ran += 1;
        let got: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect();
        if !lines_match(&s.want, &got) {
            bless.push((s.line, s.want.len(), got.clone()));
            failures.push(format!(
                "{doc}:{}: `{}` printed\n{}\n--- the document says\n{}\n",
                s.line,
                s.cmd,
                got.join("\n"),
                s.want.join("\n")
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if std::env::var_os("SOCKASM_BLESS_GUIDE").is_some() && !bless.is_empty() {
        // Rewrite the differing outputs with what the commands printed, from the
        // bottom up so that earlier line numbers stay valid; review with git diff.
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for (first, n, got) in bless.into_iter().rev() {
            lines.splice(first..first + n, got);
        }
        std::fs::write(Path::new(ROOT).join(doc), lines.join("\n") + "\n").unwrap();
        eprintln!("{doc}: rewrote {} outputs (SOCKASM_BLESS_GUIDE)", failures.len());
        return (ran, skipped);
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} commands differ from the text:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    (ran, skipped)
}

#[test]
fn guide_commands_print_what_the_text_says() {
    let load = may_load();
    for (doc, examples) in DOCS {
        let (n, skipped) = run_document(doc, examples, load);
        if skipped == 0 {
            eprintln!("{doc}: {n} commands ran as documented");
        } else {
            crate::verify_run::skip_note(&format!(
                "{doc}: {n} commands ran as documented, {skipped} SKIPPED (see above)"
            ));
        }
    }
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a markdown file's headings.
fn anchors(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut in_code = false;
    let mut out = Vec::new();
    for l in text.lines() {
        in_code ^= l.trim_start().starts_with("```");
        if !in_code && l.starts_with('#') {
            out.push(anchor(l.trim_start_matches('#')));
        }
    }
    out
}

/// Every relative link of the documents and the exercises' READMEs names an
/// existing file, and every `#fragment` a heading of its target.
#[test]
fn links_resolve() {
    let mut files: Vec<PathBuf> = DOCS.iter().map(|(d, _)| Path::new(ROOT).join(d)).collect();
    let ex = Path::new(ROOT).join("docs/exercises");
    files.push(ex.join("README.md"));
    for e in std::fs::read_dir(&ex).unwrap() {
        let p = e.unwrap().path().join("README.md");
        if p.exists() {
            files.push(p);
        }
    }
    let mut checked = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for target in text.split("](").skip(1).filter_map(|r| r.split(')').next()) {
            if target.starts_with("http") {
                continue;
            }
            let (file, frag) = target.split_once('#').unwrap_or((target, ""));
            let dest = if file.is_empty() { path.clone() } else { path.parent().unwrap().join(file) };
            assert!(dest.exists(), "{}: link to {file}, no such file", path.display());
            if !frag.is_empty() {
                assert!(
                    anchors(&dest).iter().any(|a| a == frag),
                    "{}: link to {target}, no such heading",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} links found");
}

/// The table of docs/isa.md's "What it checks": each row's program, loaded
/// with its type, is rejected with the message the row quotes.
#[test]
fn verifier_checks_table_quotes_real_messages() {
    if !may_load() {
        return;
    }
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/isa.md")).unwrap();
    let start = text.find("### What it checks").expect("the section");
    let table = text[start..].lines().skip_while(|l| !l.starts_with("| Check")).take_while(|l| l.starts_with('|'));
    let dir = scratch("checks");
    let mut rows = 0;
    for row in table.skip(2) {
        let cols: Vec<&str> = row.split(" | ").map(str::trim).collect();
        let [_, prog, ty, msg] = cols[..] else { panic!("row with {} columns: {row}", cols.len()) };
        let Some(prog) = prog.strip_prefix('`').and_then(|p| p.strip_suffix('`')) else { continue };
        let msg = msg.trim_end_matches('|').trim().strip_prefix('`').unwrap().split('`').next().unwrap();
        let f = dir.join(format!("row{rows}.s"));
        std::fs::write(&f, prog.replace("; ", "\n").replace("top: ", "top:\n") + "\n").unwrap();
        let o = Command::new(BIN).arg("verify").arg(&f).args(["--type", ty]).output().unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(!o.status.success() && all.contains(msg), "`{prog}` ({ty}): expected `{msg}`, got\n{all}");
        rows += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(rows >= 10, "only {rows} rows with a program");
}

/// The Rust DSL example of docs/isa.md, compiled here as it is.
#[path = "../../docs/examples/dsl.rs"]
#[allow(dead_code)]
mod dsl;

/// docs/isa.md shows `docs/examples/dsl.rs` as it is, and then what it prints.
#[test]
fn dsl_example_prints_what_the_text_says() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/isa.md")).unwrap();
    let src = std::fs::read_to_string(Path::new(ROOT).join("docs/examples/dsl.rs")).unwrap();
    let at = text.find(&format!("```rust\n{src}```\n")).expect("docs/isa.md shows docs/examples/dsl.rs as it is");
    let out = &text[at..];
    let start = out.find("```text\n").expect("the output block after it") + "```text\n".len();
    let end = start + out[start..].find("```").unwrap();
    assert_eq!(dsl::demo(), out[start..end], "docs/isa.md shows another output for docs/examples/dsl.rs");
}

/// The regular files of an examples directory (not its subdirectories).
fn example_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_file_is_shown_in_a_document() {
    for (doc, examples) in DOCS {
        let text = std::fs::read_to_string(Path::new(ROOT).join(doc)).unwrap();
        for p in examples.iter().flat_map(|d| example_files(d)) {
            let name = p.file_name().unwrap().to_str().unwrap();
            if name.ends_with(".rs") {
                continue; // dsl_example_prints_what_the_text_says
            }
            assert!(
                text.contains(&format!("$ cat {name}\n")),
                "{} is not shown (`$ cat {name}`) in {doc}",
                p.display()
            );
        }
    }
}

#[test]
fn matching_rules() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: &[(&[&str], &[&str], bool)] = &[
        (&["a", "b"], &["a", "b"], true),
        (&["a", "b"], &["a", "c"], false),
        (&["a"], &["a", "b"], false),
        (&["a", "...", "d"], &["a", "b", "c", "d"], true),
        (&["a", "...", "d"], &["a", "d"], true),
        (&["...", "d"], &["a", "b"], false),
        (&["duration: 331 ns"], &["duration: 1022 ns"], true),
        (&["duration: 331 ns"], &["duration: 331 us"], false),
        (&["retval: 1"], &["retval: 2"], false),
        (&["stats: verification time 68 usec"], &["stats: verification time 7 usec"], true),
        (&["1: (18) r1 = 0xffff888148d8e800"], &["1: (18) r1 = 0xffff8881aaaa0000"], true),
        (&["r1 = 0xffff"], &["r1 = 0xfffe"], false),
        (&["x  "], &["x"], true),
    ];
    for (want, got, ok) in cases {
        assert_eq!(lines_match(&v(want), &v(got)), *ok, "{want:?} vs {got:?}");
    }
    let steps = console_steps(
        "text\n```console\n$ a\nout\n$ b\n```\n```sh\n$ c\n```\n<!-- needs: arena -->\n```console\n$ d\n```\n\
         <!-- needs: arena -->\n\n```console\n$ e\n```\n",
    );
    assert_eq!(
        steps.iter().map(|s| (s.line, s.cmd.as_str(), s.want.len(), s.needs.as_deref())).collect::<Vec<_>>(),
        [(3, "a", 1, None), (5, "b", 0, None), (12, "d", 0, Some("arena")), (17, "e", 0, None)]
    );
    assert_eq!(programs("sockasm asm a.s -o a.bin && xxd -c 8 a.bin | head"), ["sockasm", "xxd", "head"]);
    assert!(needs_kernel("sockasm run x.s") && needs_kernel("sockasm dump --disasm"));
    assert!(!needs_kernel("sockasm asm x.s -o x.bin && sockasm dump --disasm --raw x.bin"));
}

/// What the kernel build decides is masked, or dropped; instructions are not.
#[test]
fn kernel_build_masks() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let xl = "--- as the kernel rewrote it (23 insns; helper calls show kernel addresses) ---";
    let sub = "--- submitted (8 insns) ---";
    let end = "--- end of translation ---";
    let mc = "--- machine code: each instruction as the kernel holds it, then what the JIT made of it ---";
    let jend = "--- end of machine code ---";
    let cases: &[(&[&str], &[&str], bool)] = &[
        // JIT sizes, verifier counts.
        (
            &["size: 184 bytes translated (23 insns), 132 bytes JITed"],
            &["size: 184 bytes translated (23 insns), 135 bytes JITed"],
            true,
        ),
        (
            &["size: 184 bytes translated (23 insns), 132 bytes JITed"],
            &["size: 176 bytes translated (22 insns), 132 bytes JITed"],
            false,
        ),
        (
            &["verifier: processed 18 insns, 3 states (peak 4)"],
            &["verifier: processed 20 insns, 4 states (peak 5)"],
            true,
        ),
        (&["verifier: processed 18 insns, 3 states (peak 4)"], &["verifier: processed 18 insns"], false),
        (
            &[
                "stats: processed 9 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0",
            ],
            &[
                "stats: processed 11 insns (limit 1000000) max_states_per_insn 2 total_states 3 peak_states 4 mark_read 1",
            ],
            true,
        ),
        (&["processed 9 insns (limit 1000000)"], &["processed 9 insns (limit 2000000)"], false),
        // A helper's address in the rewritten listing, not elsewhere.
        (&[xl, "      19:\tcall -1581216", end], &[xl, "      19:\tcall -1588928", end], true),
        (&[xl, "      19:\tcall 1581216", end], &[xl, "      19:\tcall -1588928", end], true),
        (&[sub, "       5:\tcall 1", xl], &[sub, "       5:\tcall 2", xl], false),
        (&["       5:\tcall 1 ; bpf_map_lookup_elem"], &["       5:\tcall 2 ; bpf_map_lookup_elem"], false),
        (
            &[xl, "       5:\tcall 1 ; bpf_map_lookup_elem", end],
            &[xl, "       5:\tcall 2 ; bpf_map_update_elem", end],
            false,
        ),
        (&["       5:\tcall bpf_map_lookup_elem"], &["       5:\tcall bpf_map_update_elem"], false),
        (&[xl, "      18:\tcall func(+1) ; -> 20", end], &[xl, "      18:\tcall func(+2) ; -> 21", end], false),
        (
            &[xl, "      19:\tcall -1581216", end, "      19:\tcall -1581216"],
            &[xl, "      19:\tcall -1581216", end, "      19:\tcall -1588928"],
            false,
        ),
        // Instructions, in a rewritten listing too.
        (&[xl, "      13:\tr2 += 1", end], &[xl, "      13:\tr2 += 2", end], false),
        (&["      13:\tr2 += 1"], &["      13:\tr2 += 2"], false),
        (&["      13:\tr2 += 1"], &["      14:\tr2 += 1"], false),
        (&["       4:\tif r1 < 10 goto -3 ; -> loop"], &["       4:\tif r1 < 11 goto -3 ; -> loop"], false),
        // A kfunc's BTF id, not a helper's number.
        (
            &["verifier at: 1: (85) call bpf_cast_to_kern_ctx#62986"],
            &["verifier at: 1: (85) call bpf_cast_to_kern_ctx#61000"],
            true,
        ),
        (
            &["verifier at: 1: (85) call bpf_cast_to_kern_ctx#62986"],
            &["verifier at: 1: (85) call bpf_rdonly_cast#62986"],
            false,
        ),
        (&["5: (85) call bpf_map_lookup_elem#1"], &["5: (85) call bpf_map_lookup_elem#2"], false),
        // Precision marks and prune points.
        (&["\t\t~ precise: r1 r4 (walked back to 0)"], &["\t\t~ precise: r1 (walked back to 3)"], true),
        (&["\t\t~ precise: r1 r4 (walked back to 0)"], &["\t\tR1=100"], false),
        (&["       9:\texit", "\t\t~ precise: r0 (walked back to 8)"], &["       9:\texit"], true),
        (&["       9:\texit"], &["       9:\texit", "\t\t~ precise: r1 r3 r4 (walked back to 5)"], true),
        (&["path 3: from 9 to 5: safe, pruned at once"], &["path 4: from 9 to 6: safe, pruned at once"], true),
        (&["path 3: from 9 to 5: safe, pruned at once"], &["path 3: from 9 to 5"], false),
        (
            &["\t\t(a state already verified at 5 covers this one, so the path stops)"],
            &["\t\t(a state already verified at 6 covers this one, so the path stops)"],
            true,
        ),
        (
            &["\t\t-> at 2: safe: a state already verified there covers this one, the path stops"],
            &["\t\t-> at 3: safe: a state already verified there covers this one, the path stops"],
            true,
        ),
        (&["from 6 to 8: safe"], &["from 6 to 9: safe"], true),
        // A big trace's summary and fold notes: counts, not instructions.
        (&["summary: 3,000,001 lines; 250,000 paths"], &["summary: 2,000,001 lines; 200,000 paths"], true),
        (&["\t2 (loop): 250,000 times, 25%  r0 += 1"], &["\t2 (loop): 200,000 times, 20%  r0 += 1"], true),
        (&["\t2 (loop): 250,000 times, 25%  r0 += 1"], &["\t2 (loop): 250,000 times, 25%  r0 += 2"], false),
        (&["… 249,995 more paths of 2-5, same"], &["… 199,995 more paths of 2-5, same"], true),
        (&["from 2 to 6: R0=0 R10=fp0"], &["from 2 to 7: R0=0 R10=fp0"], false),
        // The SCC lines, on one side only.
        (
            &["       1:\tr0 += 1", "\t\t~ SCC enter (1) (loop bookkeeping)", "\t\tR0=1"],
            &["       1:\tr0 += 1", "\t\tR0=1"],
            true,
        ),
        (
            &["       5:\texit"],
            &["       5:\texit", "\t\t~ SCC backedge (1) (loop bookkeeping)", "\t\t~ SCC exit (1) (loop bookkeeping)"],
            true,
        ),
        (&["       5:\texit", "\t\t~ SCC exit (1) (loop bookkeeping)"], &["       6:\texit"], false), // A --jited listing: machine code, tags, sizes and map ids are the
        // build's and the run's; the BPF instructions and their source lines are not.
        (
            &[
                mc,
                "bpf_prog_11ea38f7927391b2_sockasm_skmsg: 1378 bytes",
                "       0:\tr6 = r1",
                "\t\t    0:\tpush rbp",
                "\t\t    1:\tmov rbp, rsp",
                jend,
            ],
            &[
                mc,
                "bpf_prog_0123456789abcdef_sockasm_skmsg: 1402 bytes",
                "       0:\tr6 = r1",
                "\t\t    0:\tendbr64",
                jend,
            ],
            true,
        ),
        (
            &[
                mc,
                "       4:\tr1 = map_fd(20878) ll ; map 20878: sockasm_state",
                "\t\t   31:\tmov rdi, 0xffff88810a94b200",
                "       6:\tr3 = 0",
                "\t\t   3b:\txor edx, edx",
                jend,
            ],
            &[
                mc,
                "       4:\tr1 = map_fd(31) ll ; map 31: sockasm_state",
                "\t\t   31:\tmovabs rdi, 0xffff88810a94b200",
                "       6:\tr3 = 0",
                "\t\t   3b:\txor edx, edx",
                jend,
            ],
            true,
        ),
        (&[mc, "       9:\tcall 10761376", jend], &[mc, "       9:\tcall -2345", jend], true),
        // ... but not the instructions, their source lines, or machine code where there was none.
        (
            &[mc, "       6:\tr3 = 0", "\t\t   3b:\txor edx, edx", jend],
            &[mc, "       6:\tr3 = 1", "\t\t   3b:\tmov edx, 1", jend],
            false,
        ),
        (
            &[mc, "; r8 = *(u32 *)(r6 + 68) @ skmsg.s:2", jend],
            &[mc, "; r8 = *(u32 *)(r6 + 64) @ skmsg.s:2", jend],
            false,
        ),
        (
            &[mc, "       6:\tr3 = 0", "\t\t   3b:\txor edx, edx", "       7:\tr4 = 0", jend],
            &[mc, "       6:\tr3 = 0", "       7:\tr4 = 0", jend],
            false,
        ),
        (
            &[mc, "       4:\tr1 = map_fd(20878) ll ; map 20878: sockasm_state", jend],
            &[mc, "       4:\tr1 = map_fd(20878) ll ; map 20878: sockasm_info", jend],
            false,
        ),
        (&["       4:\tr1 = map_fd(20878) ll"], &["       4:\tr1 = map_fd(31) ll"], false),
    ];
    for (want, got, ok) in cases {
        assert_eq!(lines_match(&v(want), &v(got)), *ok, "{want:?} vs {got:?}");
    }
}

/// One check of an exercise README: `rejected: MESSAGE` or `retval: N`.
fn check(o: &Output, want: &str, what: &str) {
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let show = format!("{what}: status {:?}, output:\n{all}", o.status.code());
    if let Some(msg) = want.strip_prefix("rejected: ") {
        assert!(!o.status.success() && all.contains(msg), "expected rejection `{msg}`. {show}");
    } else {
        assert!(want.starts_with("retval: "), "{what}: a check is `rejected: ...` or `retval: N`, not `{want}`");
        assert!(o.status.success() && all.lines().any(|l| l == want), "expected `{want}`. {show}");
    }
}

/// The value of the README line `` `key: value` ``.
fn readme_field<'a>(readme: &'a str, key: &str, dir: &str) -> &'a str {
    let prefix = format!("`{key}: ");
    let mut it = readme
        .lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix(prefix.as_str())?.strip_suffix('`'));
    let v = it.next().unwrap_or_else(|| panic!("{dir}/README.md has no line `{key}: ...`"));
    assert!(it.next().is_none(), "{dir}/README.md has two `{key}:` lines");
    v
}

#[test]
fn exercises_fail_and_pass_as_documented() {
    let base = Path::new(ROOT).join("docs/exercises");
    let index = std::fs::read_to_string(base.join("README.md")).unwrap();
    let mut dirs: Vec<String> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 12, "{} exercises, want at least 12", dirs.len());
    let load = may_load();
    for d in &dirs {
        assert!(index.contains(&format!("]({d}/")), "docs/exercises/README.md does not link {d}");
        let readme = std::fs::read_to_string(base.join(d).join("README.md")).unwrap();
        for section in ["## Goal", "## Hint"] {
            assert!(readme.contains(section), "{d}/README.md has no `{section}`");
        }
        let args: Vec<&str> = readme_field(&readme, "args", d).split_whitespace().collect();
        let task = readme_field(&readme, "task", d);
        let solution = readme_field(&readme, "solution", d);
        let (ts, ss) = sources(&base.join(d));
        assert_ne!(std::fs::read(&ts).unwrap(), std::fs::read(&ss).unwrap(), "{d}: task and solution are the same");
        if !load {
            continue;
        }
        let Some((t, s)) = exercise_programs(&base.join(d)) else { continue };
        if let Some(why) = calls_kfuncs(&ts).then(kfuncs_missing).flatten() {
            crate::verify_run::skip_note(&format!("docs/exercises/{d}: SKIPPED ({why})"));
            continue;
        }
        let run = |f: &Path| Command::new(BIN).arg("run").arg(f).args(&args).output().unwrap();
        check(&run(&t), task, &format!("{d}/task.s"));
        check(&run(&s), solution, &format!("{d}/solution.s"));
        // `also: ARGS => CHECK`: more runs of the solution (another packet),
        // so that a fix right for one input only fails.
        for (i, (args, want)) in readme_also(&readme, d).into_iter().enumerate() {
            let o = Command::new(BIN).arg("run").arg(&s).args(args.split_whitespace()).output().unwrap();
            check(&o, want, &format!("{d}/solution.s, also-run {}", i + 1));
        }
    }
}

/// Whether a task (text or C) calls kfuncs.
fn calls_kfuncs(task: &Path) -> bool {
    let src = std::fs::read_to_string(task).unwrap_or_default();
    src.contains("kfunc(") || src.contains(".ksyms")
}

/// An exercise's task and solution sources: `task.s` and `solution.s`, or
/// (the C bridge) `task.c` and `solution.c`.
fn sources(dir: &Path) -> (PathBuf, PathBuf) {
    if dir.join("task.c").exists() {
        (dir.join("task.c"), dir.join("solution.c"))
    } else {
        (dir.join("task.s"), dir.join("solution.s"))
    }
}

/// The task and solution as `sockasm run` takes them: the `.s` files, or
/// the `.c` files compiled as the README says (`clang-19 -O2 -target bpf
/// -mcpu=v4 -c`). Without clang-19 a C exercise is skipped, loudly (None).
fn exercise_programs(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (t, s) = sources(dir);
    if t.extension().is_some_and(|e| e == "s") {
        return Some((t, s));
    }
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    if !installed("clang-19") {
        crate::verify_run::skip_note(&format!("docs/exercises/{name}: SKIPPED (`clang-19` is not installed)"));
        return None;
    }
    let out = scratch(&format!("ex-{name}"));
    let compile = |src: &Path| {
        let obj = out.join(src.file_name().unwrap()).with_extension("o");
        let o = Command::new("clang-19")
            .args(["-O2", "-target", "bpf", "-mcpu=v4", "-c"])
            .arg(src)
            .arg("-o")
            .arg(&obj)
            .output()
            .unwrap();
        assert!(o.status.success(), "clang-19 {}:\n{}", src.display(), String::from_utf8_lossy(&o.stderr));
        obj
    };
    Some((compile(&t), compile(&s)))
}

/// The README lines `` `also: ARGS => CHECK` ``, as (ARGS, CHECK).
fn readme_also<'a>(readme: &'a str, dir: &str) -> Vec<(&'a str, &'a str)> {
    readme
        .lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("`also: ")?.strip_suffix('`'))
        .map(|v| v.split_once(" => ").unwrap_or_else(|| panic!("{dir}/README.md: `also: {v}` has no ` => `")))
        .collect()
}

/// The `verify` arguments among an exercise's `run` arguments: `--type`
/// and `--map` with their values (not `--data`).
fn verify_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if matches!(*a, "--type" | "--map") {
            out.push(*a);
            out.extend(it.next());
        }
    }
    out
}

/// The state after `registers there: ` on a line of `out` (trimmed).
fn registers_there(out: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.trim_start().strip_prefix("registers there: ")).map(str::to_string).collect()
}

/// For every exercise whose task is rejected, the rejection view's
/// `registers there:` (from the level-1 log) is the state `--trace` prints
/// at the failing instruction (from the level-2 log), and that instruction
/// is the last the trace shows.
#[test]
fn rejection_view_and_trace_agree_on_the_state_at_the_failing_instruction() {
    if !may_load() {
        return;
    }
    let base = Path::new(ROOT).join("docs/exercises");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    let mut compared = 0;
    for d in &dirs {
        let readme = std::fs::read_to_string(d.join("README.md")).unwrap();
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        let args: Vec<&str> = readme_field(&readme, "args", &name).split_whitespace().collect();
        if !readme_field(&readme, "task", &name).starts_with("rejected: ") {
            continue; // a task that loads and returns the wrong value
        }
        let Some((task, _)) = exercise_programs(d) else { continue };
        if calls_kfuncs(&sources(d).0) && kfuncs_missing().is_some() {
            continue; // skipped, loudly, by exercises_fail_and_pass_as_documented
        }
        let verify = |extra: &[&str]| {
            let o = Command::new(BIN).arg("verify").arg(&task).args(verify_args(&args)).args(extra).output().unwrap();
            assert!(!o.status.success(), "{name}/task.s is accepted");
            String::from_utf8_lossy(&o.stdout).to_string()
        };
        let plain = verify(&[]);
        let traced = verify(&["--trace"]);
        let at = |out: &str| out.lines().find_map(|l| l.strip_prefix("verifier at: ").map(str::to_string));
        assert_eq!(at(&plain), at(&traced), "{name}: the two logs stop at different instructions");
        let view = registers_there(&plain);
        let trace_part = &traced[traced.find("--- trace:").expect("a trace")..];
        let in_trace = registers_there(trace_part);
        assert!(view.len() <= 1 && in_trace.len() <= 1, "{name}: more than one state:\n{traced}");
        // A level-2 log too big for the largest buffer loses its beginning:
        // the trace may then not know the state (and says so), but never
        // shows another one.
        let cut = trace_part.contains("the log's beginning is cut off");
        if !(cut && in_trace.is_empty()) {
            assert_eq!(view, in_trace, "{name}: `registers there:` differs from the trace's state\n{plain}\n{traced}");
        }
        if let Some(slot) = at(&plain).and_then(|l| l.split(':').next().map(str::to_string)) {
            // The state line follows the failing instruction's line in the trace.
            let lines: Vec<&str> = trace_part.lines().collect();
            if let Some(p) = lines.iter().position(|l| l.trim_start().starts_with("registers there: ")) {
                let insn = lines[..p]
                    .iter()
                    .rev()
                    .find(|l| l.trim_start().split(':').next().is_some_and(|n| n.parse::<usize>().is_ok()));
                assert_eq!(insn.map(|l| l.trim_start().split(':').next().unwrap()), Some(slot.as_str()), "{name}");
            }
        }
        // Where the verifier ran to an instruction, its state is known.
        assert_eq!(at(&plain).is_some(), !view.is_empty(), "{name}: no state at the failing instruction\n{plain}");
        compared += usize::from(!view.is_empty());
    }
    assert!(compared >= 9, "only {compared} exercises showed a state");
}
