//! Every error is printed once: `main` prints the message and then each
//! `source()` as "caused by"; a message that already contains its cause must
//! not also expose it (issue: `verify --map` printed the BPF_MAP_CREATE line
//! twice, a text program's parse error showed its source line twice).

use std::path::PathBuf;
use std::process::Command;

use crate::kernel::kernel_ok;

const BIN: &str = env!("CARGO_BIN_EXE_sockasm");

/// The stderr lines that carry text: the message, its causes, a quoted
/// source line; not blank lines or caret markers.
fn text_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| l.trim())
        .map(|l| l.strip_prefix("error: ").or_else(|| l.strip_prefix("caused by: ")).unwrap_or(l).to_string())
        .filter(|l| l.chars().any(|c| c.is_alphanumeric()))
        .collect()
}

/// Panics if a line repeats another, or if a "caused by" line says what an
/// earlier line already said.
fn assert_each_cause_once(what: &str, stderr: &str) {
    let lines = text_lines(stderr);
    for (i, l) in lines.iter().enumerate() {
        assert!(!lines[..i].contains(l), "`sockasm {what}` repeats `{l}`:\n{stderr}");
    }
    let raw: Vec<&str> = stderr.lines().map(str::trim).collect();
    for (i, l) in raw.iter().enumerate() {
        if let Some(cause) = l.strip_prefix("caused by: ") {
            assert!(
                !raw[..i].iter().any(|e| e.contains(cause)),
                "`sockasm {what}`: the cause `{cause}` is already in the message:\n{stderr}"
            );
        }
    }
}

#[test]
fn failing_commands_print_each_cause_once() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = dir.join("ok.s");
    std::fs::write(&ok, "r0 = 0\nexit\n").unwrap();
    let bad = dir.join("bad.s");
    std::fs::write(&bad, "r0 = 0\nr1 = bogus\nexit\n").unwrap();
    let (ok, bad, d) = (ok.to_str().unwrap(), bad.to_str().unwrap(), dir.to_str().unwrap());
    let out = format!("{d}/out.bin");
    let mut cases: Vec<Vec<&str>> = vec![
        vec!["asm", bad, "-o", &out],
        vec!["asm", "/nonexistent/x.s", "-o", &out],
        vec!["asm", ok, "-o", "/nonexistent/x.bin"],
        vec!["dump", "--disasm", "--raw", "/nonexistent"],
        vec!["dump", "--disasm", "/etc/hostname"],
        vec!["verify", "--prog", "nosuch"],
        vec!["verify", ok, "--type", "nosuch"],
        vec!["verify", ok, "--type", "socket_filter", "--map", "x=bogus,4,4,1"],
    ];
    let root = kernel_ok();
    if root {
        cases.extend([
            vec!["verify", bad, "--type", "socket_filter"],
            vec!["run", bad, "--type", "xdp"],
            vec!["verify", ok, "--type", "socket_filter", "--map", "x=hash,4,4,0"],
            vec!["load", "--cgroup", "/nonexistent"],
            vec!["load", "--cgroup", d],
            vec!["load", "--cgroup", d, "--pin-dir", d],
        ]);
    }
    for args in &cases {
        let o = Command::new(BIN).args(args).output().expect("run sockasm");
        let what = args.join(" ");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "`sockasm {what}` should fail:\n{stderr}");
        assert!(!stderr.trim().is_empty(), "`sockasm {what}` failed without a word");
        assert_each_cause_once(&what, &stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_check_catches_a_repeated_cause() {
    let twice = "error: creating map `x`: BPF_MAP_CREATE failed: EINVAL\n  caused by: BPF_MAP_CREATE failed: EINVAL\n";
    assert!(std::panic::catch_unwind(|| assert_each_cause_once("t", twice)).is_err());
    let quoted = "error: a.s:1:1: bad\nr1 = x\n^\n  caused by: a.s:1:1: bad\nr1 = x\n^\n";
    assert!(std::panic::catch_unwind(|| assert_each_cause_once("t", quoted)).is_err());
    assert_each_cause_once("t", "error: cannot read /x\n  caused by: No such file or directory (os error 2)\n");
}
