//! `dump --disasm --id N --jited` and `verify --jited`: a loaded program's
//! BPF instructions (as the kernel holds them) each followed by the x86-64
//! machine code the JIT produced for it.
//!
//! The kernel keeps, for a program loaded with BTF line info, the address
//! of the machine code of each line info entry (`jited_line_info`): that
//! is what ties a BPF instruction to its machine code. Line info is per
//! instruction *as submitted*: when the verifier rewrote one instruction
//! into several (a context field read, a helper call), they share one
//! entry, so they are listed together above their machine code. The first
//! entry of each function starts at the function's address: its machine
//! code begins with the JIT's prologue. Without line info there is no such
//! table; the listing is then each function's instructions, then its code.
//!
//! Pure: the input is what BPF_OBJ_GET_INFO_BY_FD returned
//! ([`JitedProg`]), the listing of the translated instructions, the line
//! info's strings and a lookup of kernel symbols; decoding is iced-x86's.

use crate::syscall::JitedProg;
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, OpKind};
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JitedError {
    #[error(
        "this host is {arch}: its JIT writes {arch} machine code, and sockasm decodes x86-64 only; `sockasm dump --disasm --id N` lists the BPF instructions, and `bpftool prog dump jited id N` decodes other architectures"
    )]
    NotX86 { arch: String },
    #[error("no machine code: {0}")]
    Refused(String),
}

/// What the kernel would or would not show, for [`why_no_code`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    /// `/proc/sys/kernel/kptr_restrict`.
    pub kptr_restrict: Option<u32>,
    /// `/proc/sys/net/core/bpf_jit_enable`.
    pub jit_enable: Option<u32>,
    /// `/proc/sys/net/core/bpf_jit_harden`.
    pub jit_harden: Option<u32>,
    pub root: bool,
}

impl Host {
    /// The running host's settings.
    pub fn read() -> Host {
        let get = |p: &str| std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse().ok());
        Host {
            kptr_restrict: get("/proc/sys/kernel/kptr_restrict"),
            jit_enable: get("/proc/sys/net/core/bpf_jit_enable"),
            jit_harden: get("/proc/sys/net/core/bpf_jit_harden"),
            root: nix::unistd::geteuid().is_root(),
        }
    }
}

/// Fails unless this host's JIT writes x86-64 code.
pub fn check_arch(arch: &str) -> Result<(), JitedError> {
    if arch == "x86_64" { Ok(()) } else { Err(JitedError::NotX86 { arch: arch.to_string() }) }
}

/// Why `p` comes without machine code, and what to do; None when it has it.
pub fn why_no_code(p: &JitedProg, jited_len: u32, xlated_len: u32, host: &Host) -> Option<String> {
    if jited_len == 0 && xlated_len == 0 {
        return Some(
            "the kernel shows a program's instructions only to a caller with CAP_BPF (or CAP_SYS_ADMIN); run as root"
                .into(),
        );
    }
    if jited_len == 0 {
        return Some(match host.jit_enable {
            Some(0) => "the program was not JIT-compiled: net.core.bpf_jit_enable is 0, so the kernel interprets BPF; \
                        `sysctl net.core.bpf_jit_enable=1` and load the program again"
                .into(),
            _ => "the program was not JIT-compiled (the kernel runs it in its interpreter: no JIT for this \
                  architecture, or it fell back after the JIT failed); there is nothing to list"
                .into(),
        });
    }
    if p.hidden {
        return Some(match host.kptr_restrict {
            Some(2) => "kernel.kptr_restrict is 2: the kernel shows no one the machine code or kernel addresses; \
                        `sysctl kernel.kptr_restrict=1` lets a caller with CAP_SYSLOG (root) see them"
                .into(),
            Some(1) => "kernel.kptr_restrict is 1: the kernel shows the machine code only to a caller with \
                        CAP_SYSLOG; run as root"
                .into(),
            _ => "the kernel shows the machine code only to a caller allowed to see kernel addresses \
                  (kernel.kptr_restrict, CAP_SYSLOG); run as root, with kptr_restrict at most 1"
                .into(),
        });
    }
    None
}

/// One function of the image: its address, length, and where its bytes
/// start in [`JitedProg::jited`].
#[derive(Clone, Copy, Debug)]
struct Func {
    addr: u64,
    len: u64,
    start: usize,
}

fn functions(p: &JitedProg) -> Vec<Func> {
    let mut out = Vec::new();
    let mut start = 0usize;
    if p.ksyms.is_empty() || p.ksyms.len() != p.func_lens.len() {
        return vec![Func { addr: 0, len: p.jited.len() as u64, start: 0 }];
    }
    for (a, l) in p.ksyms.iter().zip(&p.func_lens) {
        out.push(Func { addr: *a, len: u64::from(*l), start });
        start += *l as usize;
    }
    out
}

/// The listing: `insns` are the translated instructions `(slot, line)` as
/// `dump --disasm --id` prints them, `source(line_off, file_name_off,
/// line)` the text of a line info entry, `symbol(addr)` a kernel symbol's
/// name.
pub fn render(
    p: &JitedProg,
    insns: &[(usize, String)],
    source: &dyn Fn(&crate::spec::LineInfo) -> Option<crate::spec::SourceLine>,
    symbol: &dyn Fn(u64) -> Option<String>,
) -> String {
    let funcs = functions(p);
    let mut out = String::new();
    let func_name = |f: &Func| symbol(f.addr).unwrap_or_else(|| format!("function at {:#x}", f.addr));
    let linked = !p.line_info.is_empty() && p.line_info.len() == p.jited_line_info.len();
    // (first slot, end slot, function, code start, code end): the groups.
    let mut groups: Vec<(usize, usize, usize, u64, u64)> = Vec::new();
    let last_slot = insns.last().map_or(0, |(s, _)| s + 1);
    if linked {
        for (i, (l, addr)) in p.line_info.iter().zip(&p.jited_line_info).enumerate() {
            let Some(fi) = funcs.iter().position(|f| *addr >= f.addr && *addr < f.addr + f.len.max(1)) else {
                continue;
            };
            let f = funcs[fi];
            let next = p.line_info.get(i + 1).map_or(last_slot, |n| n.insn_off as usize);
            let code_end = p
                .jited_line_info
                .get(i + 1)
                .filter(|n| **n >= *addr && **n <= f.addr + f.len)
                .copied()
                .unwrap_or(f.addr + f.len);
            groups.push((l.insn_off as usize, next, fi, *addr, code_end));
        }
    }
    // Where each instruction's code starts, to name branch targets.
    let starts: Vec<(u64, usize)> = groups.iter().map(|g| (g.3, g.0)).collect();
    let target_name = |t: u64| -> Option<String> {
        if funcs.iter().any(|f| t >= f.addr && t < f.addr + f.len) {
            let (_, slot) = starts.iter().rev().find(|(a, _)| *a <= t)?;
            let text = insns
                .iter()
                .find(|(s, _)| s == slot)
                .map(|(_, l)| l.trim().replacen(":\t", ": ", 1))
                .unwrap_or_default();
            let inside = starts.iter().any(|(a, _)| *a == t);
            return Some(if inside { format!("-> {text}") } else { format!("-> inside {text}") });
        }
        symbol(t).map(|s| format!("<{s}>"))
    };
    let code = |out: &mut String, f: &Func, from: u64, to: u64| {
        let (lo, hi) = ((from - f.addr) as usize + f.start, (to - f.addr) as usize + f.start);
        let Some(bytes) = p.jited.get(lo..hi.min(p.jited.len())) else { return };
        write_x86(out, bytes, from, f.addr, &target_name);
    };
    if !linked {
        out.push_str(
            "(the program has no line info, so the kernel keeps no address per instruction: \
             the instructions, then each function's machine code)\n",
        );
        for (_, l) in insns {
            let _ = writeln!(out, "{l}");
        }
        for f in &funcs {
            let _ = writeln!(out, "{}: {} bytes", func_name(f), f.len);
            code(&mut out, f, f.addr, f.addr + f.len);
        }
        return out;
    }
    let mut shown_func = None;
    for (first, end, fi, from, to) in groups {
        let f = funcs[fi];
        if shown_func != Some(fi) {
            shown_func = Some(fi);
            let _ = writeln!(out, "{}: {} bytes", func_name(&f), f.len);
        }
        let here: Vec<&(usize, String)> = insns.iter().filter(|(s, _)| *s >= first && *s < end).collect();
        let li = p.line_info.iter().find(|l| l.insn_off as usize == first);
        if let Some(src) = li.and_then(source) {
            // A line that only repeats its one instruction says nothing.
            let same = here.len() == 1
                && here[0].1.split_once(":\t").is_some_and(|(_, t)| {
                    t.split(crate::asm::listing::ANNOTATION_SEP).next().unwrap_or(t).trim() == src.text.trim()
                });
            if !same {
                let _ = writeln!(out, "{}", src.comment());
            }
        }
        for (_, l) in &here {
            let _ = writeln!(out, "{l}");
        }
        code(&mut out, &f, from, to);
    }
    out
}

/// Decodes `bytes` (at address `ip`) and writes one line per instruction:
/// its offset in the function and its Intel-syntax text, with the BPF
/// instruction or kernel symbol a branch or call goes to.
fn write_x86(out: &mut String, bytes: &[u8], ip: u64, func: u64, target: &dyn Fn(u64) -> Option<String>) {
    let mut dec = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    let mut fmt = IntelFormatter::new();
    fmt.options_mut().set_hex_prefix("0x");
    fmt.options_mut().set_hex_suffix("");
    fmt.options_mut().set_uppercase_hex(false);
    fmt.options_mut().set_space_after_operand_separator(true);
    fmt.options_mut().set_branch_leading_zeros(false);
    fmt.options_mut().set_show_branch_size(false);
    let mut insn = Instruction::default();
    let mut text = String::new();
    while dec.can_decode() {
        dec.decode_out(&mut insn);
        text.clear();
        if insn.is_invalid() {
            text.push_str("(bad)");
        } else {
            fmt.format(&insn, &mut text);
        }
        let _ = write!(out, "\t\t{:>5x}:\t{text}", insn.ip() - func);
        // A call, jmp or jcc with a relative target (not through a register).
        let branch = insn.op_count() > 0 && insn.op0_kind() == OpKind::NearBranch64;
        if branch && let Some(name) = target(insn.near_branch_target()).filter(|_| insn.near_branch_target() != 0) {
            let _ = write!(out, "\t; {name}");
        }
        out.push('\n');
    }
}

/// Kernel symbols by address, for the addresses in `want` only, from
/// `/proc/kallsyms` (all zero to a caller that may not see them).
pub fn kallsyms(want: &std::collections::BTreeSet<u64>) -> std::collections::BTreeMap<u64, String> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(text) = std::fs::read_to_string("/proc/kallsyms") else { return out };
    for l in text.lines() {
        let mut w = l.split_whitespace();
        let (Some(a), Some(_), Some(name)) = (w.next(), w.next(), w.next()) else { continue };
        if let Ok(a) = u64::from_str_radix(a, 16)
            && want.contains(&a)
        {
            out.entry(a).or_insert_with(|| name.to_string());
        }
    }
    out
}

/// The call and jump targets in the machine code that lie outside it
/// (helpers, other kernel functions), to look up in [`kallsyms`].
pub fn outside_targets(p: &JitedProg) -> std::collections::BTreeSet<u64> {
    let mut out = std::collections::BTreeSet::new();
    for f in functions(p) {
        let Some(bytes) = p.jited.get(f.start..f.start + f.len as usize) else { continue };
        let mut dec = Decoder::with_ip(64, bytes, f.addr, DecoderOptions::NONE);
        for insn in &mut dec {
            let t = insn.near_branch_target();
            if insn.op_count() > 0 && insn.op0_kind() == OpKind::NearBranch64 && !(t >= f.addr && t < f.addr + f.len) {
                out.insert(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LineInfo, SourceLine};

    fn li(insn_off: u32, line: u32) -> LineInfo {
        LineInfo { insn_off, file_name_off: 1, line_off: line, line_col: line << 10 }
    }

    /// Two BPF instructions, the first rewritten into two: the groups
    /// follow the line info, prologue in the first, a call named.
    #[test]
    fn groups_follow_the_line_table() {
        let base = 0xffff_ffff_c000_0000u64;
        // push rbp; mov rbp, rsp | mov eax, 1 ; call rel32 | leave; ret
        let mut code = vec![0x55, 0x48, 0x89, 0xe5, 0xb8, 1, 0, 0, 0, 0xe8];
        let call_at = base + 9;
        let helper = 0xffff_ffff_8100_0000u64;
        code.extend(((helper.wrapping_sub(call_at + 5)) as u32).to_le_bytes());
        code.extend([0xc9, 0xc3]);
        let p = JitedProg {
            jited: code.clone(),
            ksyms: vec![base],
            func_lens: vec![code.len() as u32],
            line_info: vec![li(0, 1), li(2, 2)],
            jited_line_info: vec![base, base + 4 + 5 + 5],
            ..Default::default()
        };
        let insns = vec![
            (0, "       0:\tr0 = 1".to_string()),
            (1, "       1:\tcall -123".to_string()),
            (2, "       2:\texit".to_string()),
        ];
        let src = |l: &LineInfo| {
            Some(SourceLine {
                file: "t.s".into(),
                line: l.line_col >> 10,
                col: 0,
                text: format!("line {}", l.line_off),
            })
        };
        let sym = |a: u64| match a {
            a if a == base => Some("bpf_prog_t".to_string()),
            a if a == helper => Some("bpf_helper".to_string()),
            _ => None,
        };
        let text = render(&p, &insns, &src, &sym);
        let want = "bpf_prog_t: 16 bytes
; line 1 @ t.s:1
       0:\tr0 = 1
       1:\tcall -123
\t\t    0:\tpush rbp
\t\t    1:\tmov rbp, rsp
\t\t    4:\tmov eax, 1
\t\t    9:\tcall 0xffffffff81000000\t; <bpf_helper>
; line 2 @ t.s:2
       2:\texit
\t\t    e:\tleave
\t\t    f:\tret
";
        assert_eq!(text, want);
        assert_eq!(outside_targets(&p), [helper].into());
    }

    #[test]
    fn refusals_say_why_and_what_to_do() {
        assert!(check_arch("x86_64").is_ok());
        let e = check_arch("aarch64").unwrap_err().to_string();
        assert!(e.contains("aarch64") && e.contains("x86-64 only"), "{e}");
        let host = Host { kptr_restrict: Some(2), jit_enable: Some(1), jit_harden: Some(0), root: true };
        let hidden = JitedProg { hidden: true, ..Default::default() };
        assert!(why_no_code(&hidden, 100, 80, &host).unwrap().contains("kptr_restrict=1"));
        assert!(why_no_code(&hidden, 0, 0, &host).unwrap().contains("CAP_BPF"));
        let off = Host { jit_enable: Some(0), ..host.clone() };
        assert!(why_no_code(&JitedProg::default(), 0, 80, &off).unwrap().contains("bpf_jit_enable=1"));
        assert_eq!(why_no_code(&JitedProg::default(), 100, 80, &host), None);
    }
}
