//! `sockasm::uapi` against the kernel's own C header (`<linux/bpf.h>` from
//! linux-libc-dev), as clang-19 reads it: the context offsets and sizes the
//! programs load, every helper id the header knows, the flags and verdicts
//! the programs use, and the program, map and attach types.
//!
//! Needs clang-19 and linux-libc-dev and FAILS without them. The header may be
//! older than sockasm's tables (Debian's 6.1 headers lack helpers after 209,
//! and newer types): what it does not declare is skipped and listed; what it
//! declares must match.

use sockasm::uapi::{self, AttachType, Helper, MapType, ProgType, ctx};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

const CLANG: &str = "clang-19";

/// Named constants the programs and the syscall layer use: (C name, sockasm's value).
fn constants() -> Vec<(String, i64)> {
    let mut c: Vec<(String, i64)> = vec![
        ("BPF_ANY".into(), uapi::BPF_ANY as i64),
        ("BPF_NOEXIST".into(), uapi::BPF_NOEXIST as i64),
        ("BPF_EXIST".into(), uapi::BPF_EXIST as i64),
        ("BPF_F_LOCK".into(), uapi::BPF_F_LOCK as i64),
        ("BPF_F_INGRESS".into(), uapi::BPF_F_INGRESS as i64),
        ("BPF_SK_STORAGE_GET_F_CREATE".into(), uapi::BPF_SK_STORAGE_GET_F_CREATE as i64),
        ("SK_DROP".into(), uapi::SK_DROP as i64),
        ("SK_PASS".into(), uapi::SK_PASS as i64),
        ("BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB".into(), uapi::BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB as i64),
        ("BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB".into(), uapi::BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB as i64),
        ("BPF_SOCK_OPS_STATE_CB".into(), uapi::BPF_SOCK_OPS_STATE_CB as i64),
        ("BPF_SOCK_OPS_RTT_CB".into(), uapi::BPF_SOCK_OPS_RTT_CB as i64),
        ("BPF_SOCK_OPS_STATE_CB_FLAG".into(), uapi::BPF_SOCK_OPS_STATE_CB_FLAG as i64),
        ("BPF_SOCK_OPS_RTT_CB_FLAG".into(), uapi::BPF_SOCK_OPS_RTT_CB_FLAG as i64),
        ("BPF_TCP_CLOSE".into(), uapi::BPF_TCP_CLOSE as i64),
        ("BPF_F_NO_PREALLOC".into(), uapi::BPF_F_NO_PREALLOC as i64),
        ("BPF_F_RDONLY_PROG".into(), uapi::BPF_F_RDONLY_PROG as i64),
        ("BPF_F_MMAPABLE".into(), uapi::BPF_F_MMAPABLE as i64),
        ("BPF_F_ALLOW_OVERRIDE".into(), uapi::BPF_F_ALLOW_OVERRIDE as i64),
        ("BPF_F_ALLOW_MULTI".into(), uapi::BPF_F_ALLOW_MULTI as i64),
        ("BPF_F_REPLACE".into(), uapi::BPF_F_REPLACE as i64),
        ("BPF_F_QUERY_EFFECTIVE".into(), uapi::BPF_F_QUERY_EFFECTIVE as i64),
        ("BPF_F_STRICT_ALIGNMENT".into(), uapi::BPF_F_STRICT_ALIGNMENT as i64),
        ("BPF_F_ANY_ALIGNMENT".into(), uapi::BPF_F_ANY_ALIGNMENT as i64),
        ("BPF_F_SLEEPABLE".into(), uapi::BPF_F_SLEEPABLE as i64),
        ("BPF_OBJ_NAME_LEN".into(), uapi::BPF_OBJ_NAME_LEN as i64),
    ];
    // The Debug form of a type is its C name (BPF_PROG_TYPE_SOCK_OPS).
    c.extend(ProgType::ALL.iter().map(|t| (format!("{t:?}"), t.0 as i64)));
    c.extend(MapType::ALL.iter().map(|t| (format!("{t:?}"), t.0 as i64)));
    c.extend(AttachType::ALL.iter().map(|t| (format!("{t:?}"), t.0 as i64)));
    c
}

/// A C program that prints, one per line, `field STRUCT MEMBER OFFSET SIZE`,
/// `const NAME VALUE` for `consts`, and `helper NAME ID` for every helper the
/// header lists.
fn c_source(consts: &[(String, i64)]) -> String {
    let mut s = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <linux/bpf.h>\n\
         static int helper(const char *name, long long id) { return printf(\"helper %s %lld\\n\", name, id); }\n\
         #define FN(x, ...) helper(#x, BPF_FUNC_##x)\n\
         int main(void) {\n",
    );
    for (name, fields) in ctx::STRUCTS {
        for f in *fields {
            writeln!(
                s,
                "  printf(\"field {name} {m} %zu %zu\\n\", offsetof(struct {name}, {m}), sizeof(((struct {name} *)0)->{m}));",
                m = f.member
            )
            .unwrap();
        }
    }
    for (name, _) in consts {
        writeln!(s, "  printf(\"const {name} %lld\\n\", (long long)({name}));").unwrap();
    }
    // The header's mapper puts a comma after every entry.
    s.push_str("  (void)(__BPF_FUNC_MAPPER(FN) 0);\n  return 0;\n}\n");
    s
}

/// Identifiers clang says are undeclared.
fn undeclared(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split("use of undeclared identifier '").nth(1))
        .filter_map(|r| r.split('\'').next())
        .map(str::to_string)
        .collect()
}

/// Compiles and runs the C program; names the header does not declare are
/// dropped from `consts` (only type names may be, see below).
fn header_says(consts: &mut Vec<(String, i64)>) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sockasm-uapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, exe) = (dir.join("uapi.c"), dir.join("uapi"));
    let result = (|| {
        for pass in 0..2 {
            std::fs::write(&src, c_source(consts)).unwrap();
            let out = Command::new(CLANG)
                .args(["-ferror-limit=0", "-o"])
                .arg(&exe)
                .arg(&src)
                .output()
                .unwrap_or_else(|e| panic!("{CLANG} not found ({e}): apt-get install clang-19"));
            if out.status.success() {
                let run = Command::new(&exe).output().unwrap();
                assert!(run.status.success(), "{} failed", exe.display());
                return String::from_utf8(run.stdout).unwrap();
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            let missing = undeclared(&stderr);
            // Only enumerators newer than the header may be missing; anything
            // else (no header at all, a field the struct lacks) is a failure.
            let types: Vec<String> = (ProgType::ALL.iter().map(|t| format!("{t:?}")))
                .chain(MapType::ALL.iter().map(|t| format!("{t:?}")))
                .chain(AttachType::ALL.iter().map(|t| format!("{t:?}")))
                .collect();
            let newer = |n: &String| types.contains(n);
            assert!(
                !missing.is_empty() && missing.iter().all(newer) && !stderr.contains("file not found"),
                "{CLANG} cannot compile the UAPI check (is linux-libc-dev installed? apt-get install linux-libc-dev):\n{stderr}"
            );
            assert_eq!(pass, 0, "{CLANG} still fails without the names the header lacks:\n{stderr}");
            eprintln!("not in this <linux/bpf.h>, not checked: {}", missing.join(" "));
            consts.retain(|(n, _)| !missing.contains(n));
        }
        unreachable!("the second pass returns or fails")
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[test]
fn uapi_tables_match_the_c_header() {
    let mut consts = constants();
    let out = header_says(&mut consts);
    let mut fields = BTreeMap::new();
    let mut values = BTreeMap::new();
    let mut helpers = BTreeMap::new();
    for line in out.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w[..] {
            ["field", s, m, off, size] => {
                fields
                    .insert((s.to_string(), m.to_string()), (off.parse::<i64>().unwrap(), size.parse::<u8>().unwrap()));
            }
            ["const", n, v] => {
                values.insert(n.to_string(), v.parse::<i64>().unwrap());
            }
            ["helper", n, id] => {
                helpers.insert(n.to_string(), id.parse::<i32>().unwrap());
            }
            _ => panic!("unexpected line {line:?}"),
        }
    }

    let mut wrong = Vec::new();
    for (name, fs) in ctx::STRUCTS {
        for f in *fs {
            let c = fields[&(name.to_string(), f.member.to_string())];
            if c != (f.offset as i64, f.size) {
                wrong.push(format!(
                    "struct {name}.{}: sockasm says offset {} size {}, the header {} and {}",
                    f.member, f.offset, f.size, c.0, c.1
                ));
            }
        }
    }
    assert_eq!(values.len(), consts.len());
    for (name, v) in &consts {
        if values[name] != *v {
            wrong.push(format!("{name}: sockasm says {v}, the header {}", values[name]));
        }
    }
    // BPF_FUNC_unspec is 0, not a helper.
    helpers.remove("unspec");
    for (name, &id) in &helpers {
        match Helper::from_name(name) {
            Some(h) if h.id() == id => {}
            Some(h) => wrong.push(format!("bpf_{name}: sockasm says id {}, the header {id}", h.id())),
            None => wrong.push(format!("bpf_{name} (id {id}) is not in sockasm's helper table")),
        }
    }
    assert!(wrong.is_empty(), "sockasm's UAPI tables disagree with <linux/bpf.h>:\n{}", wrong.join("\n"));

    // Enough was checked that the test can fail: every context field, every
    // flag the programs use, and the helpers of a 6.1 header at least.
    assert!(helpers.len() >= 209, "only {} helpers in the header", helpers.len());
    for n in
        ["BPF_ANY", "SK_PASS", "BPF_F_INGRESS", "BPF_PROG_TYPE_SOCK_OPS", "BPF_MAP_TYPE_SOCKHASH", "BPF_SK_MSG_VERDICT"]
    {
        assert!(values.contains_key(n), "{n} was not checked");
    }
}
