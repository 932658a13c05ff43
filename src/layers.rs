//! The crate's layers, checked by reading the source: which top-level
//! modules a module may name (`use crate::…` or a `crate::…` path), and which
//! std/external APIs that touch the kernel or the file system it may use.
//!
//! - the object layer (`asm`, `btf`, `uapi`, `spec`, `elf`, `progs`) builds and
//!   reads BPF objects as plain data: no syscall, no file, no process (the
//!   rule aya-obj keeps); serde derives are allowed, they do no I/O;
//! - `deploy` (the bypass's life cycle) never reaches up into `bench`,
//!   `exec`, the CLI or the agent: what `bench` and `exec` share with it
//!   (the scratch cgroup, [`crate::deploy::scratch`]) lives in it.
//!
//! Test modules (`#[cfg(test)] mod …` at the end of a file, and `tests.rs`)
//! are not checked: tests may read fixtures.

/// Top-level modules of the object layer.
const OBJECT_LAYER: [&str; 6] = ["asm", "btf", "uapi", "spec", "elf", "progs"];

/// What code of the object layer must not name: anything that touches the
/// kernel, files or processes.
const KERNEL_APIS: [&str; 7] = ["std::fs", "std::process", "std::net", "std::env", "std::os::", "nix::", "libc::"];

/// Modules `deploy` must not import: they are built on it.
const ABOVE_DEPLOY: [&str; 6] = ["bench", "exec", "cli", "agent", "traffic", "verify"];

/// The rule broken by one file, if any: `(top-level module of the file, its
/// source)` to the offending names.
pub(crate) fn violations(module: &str, source: &str) -> Vec<String> {
    let code = code_of(source);
    let named = crate_paths(&code);
    let mut bad = Vec::new();
    if OBJECT_LAYER.contains(&module) {
        for m in &named {
            if !OBJECT_LAYER.contains(&m.as_str()) {
                bad.push(format!("crate::{m} (the object layer names only {})", OBJECT_LAYER.join(", ")));
            }
        }
        for api in KERNEL_APIS {
            if code.contains(api) {
                bad.push(format!("{api} (the object layer touches no kernel, file or process)"));
            }
        }
    }
    if module == "deploy" {
        for m in named.iter().filter(|m| ABOVE_DEPLOY.contains(&m.as_str())) {
            bad.push(format!("crate::{m} (deploy is below {})", ABOVE_DEPLOY.join(", ")));
        }
    }
    bad
}

/// The source without comments, and without the test module that ends a file.
fn code_of(source: &str) -> String {
    let mut out = String::new();
    let mut lines = source.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") && lines.peek().is_some_and(|n| n.trim_start().starts_with("mod ")) {
            break;
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The top-level modules named by `crate::NAME` paths, including each
/// `crate::{a, b::c}` group, in order, once each.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        if !name.is_empty() && !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
    };
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    for (i, _) in code.match_indices("crate::") {
        // Not part of a longer path such as `other_crate::`.
        if code[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top level of the group only: `crate::{a::{b, c}, d}` names a and d.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        push(&ident(&group[j..]));
                    }
                    _ => {}
                }
            }
        } else {
            push(&ident(rest));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::violations;
    use std::path::Path;

    #[test]
    fn a_forbidden_import_is_caught() {
        let ok = "use crate::asm::{Insn, R0};\nuse crate::uapi::MapType;\n/// [`crate::loader`] loads it.\nfn f() {}\n";
        assert_eq!(violations("progs", ok), Vec::<String>::new());
        for bad in [
            "use crate::syscall::MapSpec;\n",
            "use crate::{asm::Insn, deploy::Scratch};\n",
            "fn f() { let _ = crate::cgroup::cgroup2_mount(); }\n",
            "fn f() { let _ = std::fs::read(\"/sys/kernel/btf/vmlinux\"); }\n",
            "use nix::unistd::geteuid;\n",
        ] {
            assert_eq!(violations("elf", bad).len(), 1, "{bad}");
        }
        assert_eq!(violations("deploy", "use crate::bench::NAME_PREFIX;\n").len(), 1);
        assert_eq!(violations("deploy", "let p = crate::exec::NAME_PREFIX;\n").len(), 1);
        assert!(violations("deploy", "use crate::syscall::Map;\nuse crate::cgroup::Cgroup;\n").is_empty());
        // The same import in a test module is allowed.
        let test_only = "fn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::syscall::Map;\n}\n";
        assert!(violations("spec", test_only).is_empty());
    }

    #[test]
    fn the_tree_keeps_its_layers() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") && p.file_name().is_some_and(|n| n != "tests.rs") {
                    files.push(p);
                }
            }
        }
        let mut bad = Vec::new();
        for f in &files {
            let rel = f.strip_prefix(&src).unwrap();
            let top = rel.components().next().unwrap().as_os_str().to_str().unwrap();
            let module = top.strip_suffix(".rs").unwrap_or(top);
            for v in violations(module, &std::fs::read_to_string(f).unwrap()) {
                bad.push(format!("{}: {v}", rel.display()));
            }
        }
        assert!(files.len() > 50, "found only {} source files under {}", files.len(), src.display());
        assert!(bad.is_empty(), "imports across layers:\n{}", bad.join("\n"));
    }
}
