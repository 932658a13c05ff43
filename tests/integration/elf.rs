//! `sockasm dump --disasm FILE.o` on objects clang-19 compiles from
//! tests/integration/data/c, against llvm-objdump-19 -dr: the same
//! instruction text (outside the documented deviations), the same
//! relocations on the same instructions, functions as labels, program types
//! from section names, license and maps. Corrupt, truncated and random files
//! never panic.
//!
//! These tests need clang-19 and llvm-19 and FAIL without them.

use sockasm::elf::{self, MapOrigin, Object};
use sockasm::syscall::{MapType, ProgType};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const CLANG: &str = "clang-19";
const OBJDUMP: &str = "llvm-objdump-19";
pub const BIN: &str = env!("CARGO_BIN_EXE_sockasm");

fn require(tool: &str, pkg: &str) {
    let ok = Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(
        ok,
        "{tool} not found: these tests compile BPF C with it (Debian/Ubuntu: `apt-get install {pkg}`, or https://apt.llvm.org)"
    );
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/data/c")
}

/// Every test object: (name, extra clang flags).
pub const OBJECTS: &[(&str, &[&str])] = &[
    ("sockops", &[]),
    ("skmsg", &[]),
    ("xdp", &[]),
    ("tc", &[]),
    ("socket", &[]),
    ("v4", &["-mcpu=v4"]),
    ("bad_deref", &[]),
    ("loop", &[]),
];

/// Compiles `name.c` once per test run; returns the object's path.
pub fn object(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        require(CLANG, "clang-19");
        let d =
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-elf-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for (n, flags) in OBJECTS {
            let out = Command::new(CLANG)
                .args(["-O2", "-g", "-target", "bpf"])
                // Same bytes whatever the checkout's path (DWARF records it), so a
                // corruption test that fails in CI fails here too.
                .arg(format!("-ffile-prefix-map={}=.", env!("CARGO_MANIFEST_DIR")))
                .args(*flags)
                .arg("-c")
                .arg(data_dir().join(format!("{n}.c")))
                .arg("-o")
                .arg(d.join(format!("{n}.o")))
                .output()
                .unwrap();
            assert!(out.status.success(), "clang-19 {n}.c:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        d
    });
    dir.join(format!("{name}.o"))
}

/// The C files of the course (docs/examples/c, docs/examples/verifier, the
/// exercises), compiled as the documents compile them (`clang-19 -O2 -target
/// bpf -mcpu=v4 -c`, no `-g`), once per test run: (file relative to the
/// crate, object).
pub fn doc_objects() -> &'static [(String, PathBuf)] {
    static OBJS: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    OBJS.get_or_init(|| {
        require(CLANG, "clang-19");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-doc-c-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let mut sources = Vec::new();
        for dir in ["docs/examples/c", "docs/examples/verifier"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "c") {
                    sources.push(p);
                }
            }
        }
        for e in std::fs::read_dir(root.join("docs/exercises")).unwrap() {
            for f in ["task.c", "solution.c"] {
                let p = e.as_ref().unwrap().path().join(f);
                if p.exists() {
                    sources.push(p);
                }
            }
        }
        sources.sort();
        sources
            .into_iter()
            .enumerate()
            .map(|(i, src)| {
                let rel = src.strip_prefix(root).unwrap().display().to_string();
                let obj = d.join(format!("{i}.o"));
                let out = Command::new(CLANG)
                    .args(["-O2", "-target", "bpf", "-mcpu=v4", "-c"])
                    .arg(&src)
                    .arg("-o")
                    .arg(&obj)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "clang-19 {rel}:\n{}", String::from_utf8_lossy(&out.stderr));
                (rel, obj)
            })
            .collect()
    })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// One disassembled section: instruction text and annotation-or-relocation by slot.
#[derive(Default, Debug)]
struct Section {
    text: BTreeMap<usize, String>,
    /// objdump: `R_BPF_64_64 sym`; ours: the annotation.
    notes: BTreeMap<usize, String>,
    /// `0000000000000000 <name>` header lines.
    funcs: Vec<String>,
    /// Our `; program type: ...` line.
    header: String,
}

/// Parses llvm-objdump's or our listing into sections.
fn parse_listing(out: &str) -> BTreeMap<String, Section> {
    let mut m: BTreeMap<String, Section> = BTreeMap::new();
    let mut cur: Option<String> = None;
    let mut last_slot = 0;
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("Disassembly of section ").and_then(|s| s.strip_suffix(':')) {
            cur = Some(name.to_string());
            m.entry(name.to_string()).or_default();
            continue;
        }
        let Some(sec) = cur.as_ref().and_then(|c| m.get_mut(c)) else { continue };
        if let Some(h) = line.strip_prefix("; ") {
            sec.header = h.to_string();
            continue;
        }
        if line.len() > 18 && line.ends_with(">:") && line.as_bytes()[16] == b' ' {
            sec.funcs.push(line.trim_end_matches(':').to_string());
            continue;
        }
        // objdump relocation line: "\t\t0000000000000028:  R_BPF_64_64\tpkt_count"
        if let Some(r) = line.strip_prefix("\t\t") {
            if let Some((_, rest)) = r.split_once(":  ") {
                sec.notes.insert(last_slot, rest.replace('\t', " "));
            }
            continue;
        }
        let Some((addr, text)) = line.split_once(":\t") else { continue };
        let Ok(slot) = addr.trim().parse::<usize>() else { continue };
        last_slot = slot;
        let (text, note) = match text.split_once(" ; ") {
            Some((t, n)) => (t, Some(n)),
            None => (text, None),
        };
        // objdump's branch-target suffix ` <sym+0x..>`.
        let text = match text.rfind(" <") {
            Some(i) if text.ends_with('>') && !text[i + 2..].contains(' ') => &text[..i],
            _ => text,
        };
        sec.text.insert(slot, text.to_string());
        if let Some(n) = note {
            sec.notes.insert(slot, n.to_string());
        }
    }
    m
}

fn objdump(obj: &Path, v4: bool) -> BTreeMap<String, Section> {
    require(OBJDUMP, "llvm-19");
    let mut c = Command::new(OBJDUMP);
    c.args(["-dr", "--no-print-imm-hex", "--no-show-raw-insn"]);
    if v4 {
        c.arg("--mcpu=v4");
    }
    parse_listing(&run(c.arg(obj)))
}

fn ours(obj: &Path) -> (String, BTreeMap<String, Section>) {
    let out = run(Command::new(BIN).args(["dump", "--disasm"]).arg(obj));
    let parsed = parse_listing(&out);
    (out, parsed)
}

/// Our text equals objdump's default text, or its `--mcpu=v4` text where the
/// default is `<unknown>` or differs (32-bit atomics, documented in
/// src/asm/listing.rs), or is the documented `call func(N)` for objdump's
/// `call N` of a BPF-to-BPF call.
fn same_insn(ours: &str, plain: &str, v4: Option<&str>) -> bool {
    if ours == plain || v4 == Some(ours) {
        return true;
    }
    if let (Some(n), Some(m)) =
        (ours.strip_prefix("call func(").and_then(|s| s.strip_suffix(')')), plain.strip_prefix("call "))
    {
        return n.trim_start_matches('+').parse::<i64>().ok() == m.parse::<i64>().ok();
    }
    false
}

#[test]
fn dump_matches_llvm_objdump() {
    let tests = OBJECTS.iter().map(|(n, _)| (n.to_string(), object(n)));
    let docs = doc_objects().iter().cloned();
    let all: Vec<(String, PathBuf)> = tests.chain(docs).collect();
    assert!(all.len() > OBJECTS.len() + 7, "the course's C files were not found");
    for (name, obj) in &all {
        let plain = objdump(obj, false);
        let v4 = objdump(obj, true);
        let (out, mine) = ours(obj);
        assert_eq!(plain.keys().collect::<Vec<_>>(), mine.keys().collect::<Vec<_>>(), "{name}: sections differ\n{out}");
        let mut compared = 0;
        for (sec, want) in &plain {
            let got = &mine[sec];
            assert_eq!(
                want.text.keys().collect::<Vec<_>>(),
                got.text.keys().collect::<Vec<_>>(),
                "{name}/{sec}: instruction slots differ\n{out}"
            );
            for (slot, w) in &want.text {
                let g = &got.text[slot];
                let v = v4.get(sec).and_then(|s| s.text.get(slot)).map(String::as_str);
                assert!(
                    same_insn(g, w, v),
                    "{name}/{sec} slot {slot}: sockasm `{g}`, llvm-objdump `{w}` (--mcpu=v4: {v:?})\n{out}"
                );
                compared += 1;
            }
            // Every relocation objdump shows is on the same instruction here.
            for (slot, r) in &want.notes {
                let g = got.notes.get(slot).map(String::as_str).unwrap_or("");
                assert!(
                    g.starts_with(r.as_str()),
                    "{name}/{sec} slot {slot}: objdump relocation `{r}`, our annotation `{g}`\n{out}"
                );
            }
            assert_eq!(want.funcs, got.funcs, "{name}/{sec}: function labels differ\n{out}");
        }
        assert!(compared > 0, "{name}: nothing compared");
    }
}

#[test]
fn dump_names_types_maps_license_and_callees() {
    let (out, m) = ours(&object("xdp"));
    assert!(out.contains("license: \"GPL\""), "{out}");
    assert!(out.contains("pkt_count: PERCPU_ARRAY, key 4, value 8, max_entries 1 (legacy `maps` section)"), "{out}");
    assert_eq!(m["xdp"].header, "program type: XDP (expected attach type XDP)");
    assert!(m[".text"].header.contains("not a program"), "{out}");
    let notes: Vec<&String> = m["xdp"].notes.values().collect();
    assert!(notes.iter().any(|n| n.as_str() == "R_BPF_64_64 pkt_count: map PERCPU_ARRAY"), "{out}");
    assert!(notes.iter().any(|n| n.as_str() == "R_BPF_64_32 .text: call classify"), "{out}");
    assert!(notes.iter().any(|n| n.as_str() == "R_BPF_64_32 global_helper: call global_helper"), "{out}");

    let (out, m) = ours(&object("skmsg"));
    assert!(out.contains("sock_map: SOCKHASH, key 16, value 8, max_entries 1024 (BTF `.maps`)"), "{out}");
    assert!(out.contains("msgs: PERCPU_ARRAY, key 4, value 8, max_entries 1 (BTF `.maps`)"), "{out}");
    assert_eq!(m["sk_msg"].header, "program type: SK_MSG (expected attach type SK_MSG_VERDICT)");
    let (_, m) = ours(&object("sockops"));
    assert_eq!(m["sockops"].header, "program type: SOCK_OPS (expected attach type CGROUP_SOCK_OPS)");
    let (_, m) = ours(&object("tc"));
    assert_eq!(m["tc"].header, "program type: SCHED_CLS");
    assert_eq!(m["classifier"].header, "program type: SCHED_CLS");
    let (out, m) = ours(&object("socket"));
    assert!(out.contains("license: \"Dual BSD/GPL\""), "{out}");
    assert!(out.contains("maps: none"), "{out}");
    assert_eq!(m["socket"].header, "program type: SOCKET_FILTER");
    assert!(m["mystery/thing"].header.starts_with("program type: unknown"), "{out}");
    assert!(m["socket"].text.values().any(|t| t == "r0 = *(u8 *)skb[0]"), "{out}");
}

/// `dump --json` of an object reads back as the typed document: maps,
/// sections with their program types, and the map load's relocation.
#[test]
fn object_json_reads_back_typed() {
    let out = run(Command::new(BIN).args(["dump", "--disasm", "--json"]).arg(object("xdp")));
    let o: elf::JsonObject = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(o.file.ends_with("xdp.o"), "{}", o.file);
    assert_eq!(o.maps.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["pkt_count"]);
    let xdp = o.sections.iter().find(|s| s.program_type.as_deref() == Some("XDP")).unwrap_or_else(|| panic!("{out}"));
    let load = xdp.insns.iter().find(|i| i.reloc.is_some()).unwrap_or_else(|| panic!("{out}"));
    let r = load.reloc.as_ref().unwrap();
    assert_eq!((r.reloc_type.as_str(), r.symbol.as_str()), ("R_BPF_64_64", "pkt_count"), "{out}");
    assert!(load.annotation.as_deref().is_some_and(|a| a.contains("pkt_count")), "{out}");
    // The untyped view has the same keys a script reads.
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((&v["maps"][0]["type"], &v["maps"][0]["origin"]), (&"PERCPU_ARRAY".into(), &"maps".into()), "{out}");
}

#[test]
fn object_model() {
    let o = Object::parse(&std::fs::read(object("tc")).unwrap()).unwrap();
    assert_eq!(o.maps.len(), 1);
    assert_eq!((o.maps[0].map_type, o.maps[0].key_size, o.maps[0].value_size), (MapType::HASH, 4, 8));
    assert_eq!(o.maps[0].origin, MapOrigin::Btf);
    let names: Vec<String> = o.programs().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["tc_mark", "tc_drop_small"]);
    // Linking xdp_count pulls classify and global_helper in after it.
    let o = Object::parse(&std::fs::read(object("xdp")).unwrap()).unwrap();
    let p = o.programs().into_iter().find(|p| p.name == "xdp_count").unwrap();
    let l = o.link(&p, None, None).unwrap();
    assert_eq!(l.prog_type, ProgType::XDP);
    // Map loads name their map until the loader binds them.
    assert_eq!(l.code.map_refs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["pkt_count"]);
    let mut code = l.code.clone();
    code.bind_maps(|_| Some(7)).unwrap();
    let mut labels: Vec<&str> = l.code.labels.values().map(String::as_str).collect();
    labels.sort();
    assert_eq!(labels, ["classify", "global_helper", "xdp_count"]);
    let text: String = code.insns.iter().map(|i| format!("{i}\n")).collect();
    assert!(text.contains("r1 = map_fd(7) ll"), "{text}");
    assert!(!text.contains("call func(-1)"), "calls still unresolved:\n{text}");
    // Every local call lands on a function start.
    for (slot, i) in &l.insns() {
        if let Some(rel) = i.branch_offset().filter(|_| matches!(i, sockasm::asm::Insn::Call(_))) {
            let to = (*slot as i64 + 1 + rel) as usize;
            assert!(l.code.labels.contains_key(&to), "call at {slot} lands on {to}\n{text}");
        }
    }
}

#[test]
fn not_bpf_objects_get_clear_errors() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-elf-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read(object("xdp")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text.o", b"hello, world\n".to_vec(), "not an ELF object"),
        ("empty.o", Vec::new(), "not an ELF object"),
        ("trunc.o", good[..100].to_vec(), "corrupt or truncated ELF"),
        ("host.o", std::fs::read(BIN).unwrap(), "not a BPF object"),
    ];
    for (name, bytes, want) in cases {
        let p = dir.join(name);
        std::fs::write(&p, &bytes).unwrap();
        let out = Command::new(BIN).args(["dump", "--disasm"]).arg(&p).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(want), "{name}: expected `{want}` in: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Everything a parsed object offers, exercised: none of it may panic.
fn exercise(bytes: &[u8]) {
    if let Ok(o) = Object::parse(bytes) {
        let _ = o.dump("x.o", true);
        let _ = serde_json::to_string(&o.to_json("x.o")).unwrap();
        for p in o.programs() {
            let _ = o.link(&p, Some(ProgType::SOCKET_FILTER), None);
        }
    }
}

#[test]
fn truncations_and_corruptions_never_panic() {
    for (name, _) in OBJECTS {
        let good = std::fs::read(object(name)).unwrap();
        for n in 0..good.len() {
            let e = Object::parse(&good[..n]);
            assert!(e.is_err(), "{name} truncated to {n} bytes parsed");
        }
        // Bit flips and overwritten words everywhere, deterministically.
        // SOCKASM_FUZZ_ROUNDS / SOCKASM_FUZZ_SEED widen the search by hand; CI runs the default.
        let rounds: usize = std::env::var("SOCKASM_FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
        let seed: u64 =
            std::env::var("SOCKASM_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9e37_79b9_7f4a_7c15);
        let mut x: u64 = seed ^ good.len() as u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..rounds {
            let mut b = good.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                match next() % 3 {
                    0 => b[at] ^= 1 << (next() % 8),
                    1 => b[at] = next() as u8,
                    _ => {
                        let v = [0u8, 0xff, 0x7f, 0x80][(next() % 4) as usize];
                        for k in at..(at + 8).min(b.len()) {
                            b[k] = v;
                        }
                    }
                }
            }
            exercise(&b);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    #[test]
    fn random_bytes_never_panic(mut b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048), elf_hdr in proptest::prelude::any::<bool>()) {
        if elf_hdr && b.len() >= 64 {
            b[..4].copy_from_slice(b"\x7fELF");
            b[4] = 2;
            b[5] = 1;
            b[16] = 1;
            b[17] = 0;
            b[18] = 247;
            b[19] = 0;
        }
        exercise(&b);
        proptest::prop_assert!(!elf::is_elf(&b) || b.len() >= 4);
    }
}

/// Every function symbol's `st_size` set to values near `u64::MAX`: an offset
/// plus such a size wraps around (CI once found this by a random corruption).
/// Linking must clamp the size to the section or refuse, never panic.
#[test]
fn huge_symbol_sizes_are_clamped_or_refused() {
    for (name, _) in OBJECTS {
        let good = std::fs::read(object(name)).unwrap();
        let g = goblin::elf::Elf::parse(&good).unwrap();
        let symtab = g.section_headers.iter().find(|h| h.sh_type == goblin::elf::section_header::SHT_SYMTAB).unwrap();
        let funcs: Vec<usize> = g
            .syms
            .iter()
            .enumerate()
            .filter(|(_, s)| s.st_type() == goblin::elf::sym::STT_FUNC)
            .map(|(i, _)| symtab.sh_offset as usize + i * 24 + 16)
            .collect();
        assert!(!funcs.is_empty(), "{name}.o has no function symbols");
        for size in [u64::MAX, u64::MAX - 7, u64::MAX - 31, 1 << 63] {
            let mut b = good.clone();
            for &at in &funcs {
                b[at..at + 8].copy_from_slice(&size.to_le_bytes());
            }
            let o = Object::parse(&b).unwrap_or_else(|e| panic!("{name}.o with st_size {size}: {e}"));
            for p in o.programs() {
                if let Ok(linked) = o.link(&p, None, None) {
                    assert!(!linked.code.insns.is_empty(), "{name}.o `{}` linked to nothing", p.name);
                }
            }
        }
    }
}
