//! Programs already in the kernel: `sockasm prog list` finds them and
//! `sockasm dump --disasm --id N` / `--pinned PATH` lists one as the kernel
//! holds it. The test loads its own program (never attached) and keeps its
//! fd open while the CLI reads it.

use crate::verify_run::{kernel_ok, show, sockasm};
use sockasm::syscall::{self, ProgType};
use sockasm::verify::{self, Verdict};

const SRC: &str = "        *(u32 *)(r10 - 4) = 0
        r1 = map_fd(dumpme) ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u32 *)(r0 + 0)
out:
        exit
";

#[test]
fn a_loaded_program_is_listed_and_dumped_with_its_map_names() {
    if !kernel_ok() {
        return;
    }
    let map = verify::parse_map_arg("dumpme=array,4,8,1").unwrap();
    let inputs = verify::from_text(SRC, "dumpme.s", ProgType::SOCKET_FILTER, None, &[map]).unwrap();
    let Verdict::Accepted(a) = verify::verify(&inputs.programs[0], &inputs.maps, verify::log_level(1)) else {
        panic!("the program is rejected")
    };
    let info = syscall::prog_info(a.prog.fd()).unwrap();
    let id = info.id.to_string();

    let o = sockasm(&["prog", "list"]);
    assert!(o.status.success(), "{}", show(&o));
    let list = String::from_utf8_lossy(&o.stdout);
    let row =
        list.lines().find(|l| l.split_whitespace().next() == Some(id.as_str())).unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("SOCKET_FILTER") && row.contains("dumpme") && row.contains(":dumpme"), "{row}");

    let o = sockasm(&["dump", "--disasm", "--id", &id]);
    assert!(o.status.success(), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with(&format!("program {id} `dumpme` (SOCKET_FILTER): ")), "{text}");
    // One line per translated slot, in order, each a decoded instruction.
    let slots: Vec<usize> = lines[1..].iter().map(|l| l.split(':').next().unwrap().trim().parse().unwrap()).collect();
    assert!(slots.windows(2).all(|w| w[0] < w[1]) && slots[0] == 0, "{text}");
    // The kernel rewrote the lookup (an array's is inlined): more slots than
    // submitted, and the last is the one-slot exit.
    assert_eq!(info.xlated_prog_len as usize / 8, slots.last().unwrap() + 1, "{text}");
    assert!(
        text.lines().any(|l| l.contains("= map_fd(") && l.ends_with(": dumpme")),
        "the map load names its map:\n{text}"
    );
    assert!(text.lines().last().unwrap().ends_with("\texit"), "{text}");

    // The same through a pin.
    let dir = std::path::Path::new("/sys/fs/bpf");
    if dir.join(".").exists() {
        let pin = dir.join(format!("sockasm-test-dump-{}", std::process::id()));
        syscall::pin(a.prog.fd(), &pin).unwrap();
        let o = sockasm(&["dump", "--disasm", "--pinned", pin.to_str().unwrap()]);
        let _ = syscall::unpin(&pin);
        assert!(o.status.success(), "{}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), text);
    }
    // A map's id is not a program's.
    let o = sockasm(&["dump", "--disasm", "--id", "4294967295"]);
    assert!(!o.status.success(), "{}", show(&o));
}

/// `dump --disasm --id N --jited` on the built-in sock_ops program as
/// `sockasm load` runs it (in this test's own child cgroup): every
/// instruction of the translated listing, in order, each run of them that
/// one submitted instruction became followed by its machine code, the
/// last by the JIT's epilogue. Machine code itself (bytes, sizes,
/// addresses, which instructions) is the kernel build's and not compared.
#[test]
fn the_running_sock_ops_program_with_its_machine_code() {
    if !kernel_ok() {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("SKIPPED: --jited decodes x86-64 only, this host is {}", std::env::consts::ARCH);
        return;
    }
    let env = crate::kernel::harness::Env::new();
    env.load(&[]);
    let pin = env.pin.join("sockops");
    let fd = syscall::get_pinned(&pin).unwrap();
    let info = syscall::prog_info(std::os::fd::AsFd::as_fd(&fd)).unwrap();
    let id = info.id.to_string();

    let o = sockasm(&["dump", "--disasm", "--id", &id]);
    assert!(o.status.success(), "{}", show(&o));
    let plain = String::from_utf8_lossy(&o.stdout).into_owned();
    // The built-ins carry line info (their own listing as the source):
    // where the kernel rewrote an instruction, the line above it says what
    // was submitted.
    assert!(plain.lines().any(|l| l.starts_with("; ") && l.contains(" @ sockops.s:")), "{plain}");
    let xlated: Vec<&str> = plain.lines().skip(1).filter(|l| !l.starts_with("; ")).collect();

    let o = sockasm(&["dump", "--disasm", "--id", &id, "--jited"]);
    assert!(o.status.success(), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let is_x86 = |l: &str| {
        l.starts_with("\t\t")
            && l[2..].split_once(":\t").is_some_and(|(off, _)| u64::from_str_radix(off.trim(), 16).is_ok())
    };
    let is_bpf =
        |l: &str| l.split_once(":\t").is_some_and(|(n, _)| !l.starts_with('\t') && n.trim().parse::<usize>().is_ok());
    let lines: Vec<&str> = text.lines().skip(1).collect();
    // The BPF lines are the translated listing, whole and in order.
    let bpf: Vec<&str> = lines.iter().copied().filter(|l| is_bpf(l)).collect();
    assert_eq!(bpf, xlated, "{text}");
    // Runs of BPF lines, each followed by at least one x86 instruction.
    let mut groups = 0;
    let mut i = 0;
    let mut last_code: Vec<&str> = Vec::new();
    while i < lines.len() {
        if !is_bpf(lines[i]) {
            assert!(
                is_x86(lines[i]) || lines[i].starts_with("; ") || lines[i].starts_with("bpf_prog_"),
                "line {i}: {}\n{text}",
                lines[i]
            );
            i += 1;
            continue;
        }
        while i < lines.len() && is_bpf(lines[i]) {
            i += 1;
        }
        let from = i;
        while i < lines.len() && is_x86(lines[i]) {
            i += 1;
        }
        assert!(i > from, "no machine code after `{}`:\n{text}", lines[from - 1]);
        last_code = lines[from..i].to_vec();
        groups += 1;
    }
    // One run per submitted instruction: the program's line info has one
    // line per instruction, and the kernel keeps it through its rewrites.
    let submitted =
        sockasm::progs::builtin(&sockasm::deploy::kernel_policy(std::path::Path::new(sockasm::deploy::KERNEL_BTF)))
            .unwrap()
            .into_iter()
            .find(|p| p.prog_type == ProgType::SOCK_OPS)
            .unwrap()
            .code
            .insns
            .len();
    assert_eq!(groups, submitted, "{text}");
    assert!(xlated.last().unwrap().ends_with("\texit"), "{plain}");
    // The last instruction, exit: the epilogue restores the frame and returns
    // (`ret`, or a jump to the kernel's return thunk).
    let insn = |l: &str| l.split_once(":\t").map_or(String::new(), |(_, t)| t.to_string());
    let code: Vec<String> = last_code.iter().map(|l| insn(l)).collect();
    assert!(code.iter().any(|c| c == "leave" || c.starts_with("pop rbp")), "{code:?}");
    let end = code.last().unwrap();
    assert!(end == "ret" || end.starts_with("jmp") && end.contains("return_thunk"), "{code:?}");
    // Helper calls are named.
    assert!(text.contains("<bpf_sock_hash_update>") || text.contains("<sock_hash_update"), "{text}");

    // Through the pin: the same listing.
    let o = sockasm(&["dump", "--disasm", "--pinned", pin.to_str().unwrap(), "--jited"]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), text);
}

#[test]
fn jited_of_a_program_that_does_not_exist() {
    if !kernel_ok() {
        return;
    }
    let o = sockasm(&["dump", "--disasm", "--id", "4294967295", "--jited"]);
    assert!(!o.status.success(), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("BPF_PROG_GET_FD_BY_ID") && err.contains("4294967295") && err.contains("ENOENT"), "{err}");
    assert!(o.stdout.is_empty(), "{}", show(&o));
    // --jited without a loaded program to name.
    let o = sockasm(&["dump", "--disasm", "--jited"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--id N"), "{}", show(&o));
}
