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
