//! `verify --trace --why R0@7`: where the value a register (or stack slot)
//! holds before an instruction came from, walked back through the log from
//! the last time the verifier reached that instruction: through copies
//! (`r0 = r6`), fills and spills (`r6 = *(u64 *)(r10 - 16)`, `*(u64 *)(r10 -
//! 16) = r3`) and the jumps a path was saved at, to the instruction that
//! produced it.

use super::{Ev, Regs, other_ways, parse, written_reg};
use crate::asm::{Alu, Insn, Reg, Src, Width};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `R0@7` → (`R0`, 7); `fp-16@9` too. Registers are upper-cased.
pub fn parse_spec(s: &str) -> Option<(String, usize)> {
    let (what, at) = s.split_once('@')?;
    let at = at.trim().parse().ok()?;
    let w = what.trim();
    let key = if let Some(n) = w.strip_prefix(['r', 'R']) {
        let n: u8 = n.parse().ok()?;
        (n <= 10).then(|| format!("R{n}"))?
    } else if let Some(off) = w.strip_prefix("fp") {
        let off: i64 = off.parse().ok()?;
        (off < 0).then(|| format!("fp{off}"))?
    } else {
        return None;
    };
    Some((key, at))
}

fn value_in(state: &str, key: &str) -> Option<String> {
    let (_, pairs) = Regs::parse(state);
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn reg_key(r: Reg) -> String {
    format!("R{}", r.index())
}

/// The walk, as text.
pub fn why(insns: &[(usize, Insn)], log: &str, key: &str, at: usize) -> String {
    let by_slot: BTreeMap<usize, &Insn> = insns.iter().map(|(s, i)| (*s, i)).collect();
    let parsed = parse(log);
    let ev = &parsed.events;
    let mut out = String::new();
    let Some(mut k) = ev.iter().rposition(|e| matches!(e, Ev::Insn { idx, .. } if *idx == at)) else {
        return format!("instruction {at} was never reached\n");
    };
    // Path number of each event, and the jump visit each path continues.
    let mut path_of = vec![0usize; ev.len()];
    let mut p = 0;
    for (i, e) in ev.iter().enumerate() {
        if matches!(e, Ev::Path { .. } | Ev::Cut) {
            p += 1;
        }
        path_of[i] = p;
    }
    let saved: BTreeMap<usize, usize> =
        other_ways(ev, &by_slot).into_iter().map(|(visit, path)| (path, visit)).collect();
    let _ = writeln!(out, "{key} before {at}, the last time the verifier got there (path {}):", path_of[k]);
    let mut key = key.to_string();
    loop {
        if k == 0 {
            let _ = writeln!(out, "\t(the log starts here)");
            break;
        }
        k -= 1;
        match &ev[k] {
            Ev::Insn { idx, after, .. } => {
                let Some(insn) = by_slot.get(idx) else { continue };
                // The state after it: on its line, or on the next (`11: R0=...`
                // after precision lines).
                let next = match ev.get(k + 1) {
                    Some(Ev::State { state, .. }) => Some(*state),
                    _ => None,
                };
                let val = after.and_then(|a| value_in(a, &key)).or_else(|| next.and_then(|s| value_in(s, &key)));
                let show = |out: &mut String, how: &str| {
                    let v = val.as_deref().map_or(String::new(), |v| format!(": {key}={v}"));
                    let _ = writeln!(out, "{idx:>8}:\t{insn}\t{how}{v}");
                };
                if key.starts_with('R') {
                    if written_reg(insn).as_deref() != Some(key.as_str()) {
                        if matches!(insn, Insn::Call(_)) && matches!(key.as_str(), "R1" | "R2" | "R3" | "R4" | "R5") {
                            let _ = writeln!(
                                out,
                                "{idx:>8}:\t{insn}\ta call leaves {key} unreadable: it has no value here"
                            );
                            break;
                        }
                        continue;
                    }
                    match insn {
                        Insn::Alu { width: Width::W64, op: Alu::Mov, src: Src::Reg(s), .. } => {
                            show(&mut out, &format!("a copy of {}", reg_key(*s)));
                            key = reg_key(*s);
                        }
                        Insn::Load { src, off, .. } if src.index() == 10 => {
                            show(&mut out, &format!("a fill from fp{off}"));
                            key = format!("fp{off}");
                        }
                        _ => {
                            show(&mut out, "produced here");
                            break;
                        }
                    }
                } else {
                    let slot = |dst: &Reg, off: &i16| dst.index() == 10 && format!("fp{off}") == key;
                    match insn {
                        Insn::Store { dst, src, off, .. } if slot(dst, off) => {
                            show(&mut out, &format!("a spill of {}", reg_key(*src)));
                            key = reg_key(*src);
                        }
                        Insn::StoreImm { dst, off, .. } if slot(dst, off) => {
                            show(&mut out, "produced here (a constant stored)");
                            break;
                        }
                        _ => {}
                    }
                }
            }
            Ev::Path { from, state, .. } => {
                let v = state.and_then(|s| value_in(s, &key));
                let here = path_of[k];
                match (from, saved.get(&here)) {
                    (None, _) => {
                        let v = v.map_or("not readable".to_string(), |v| format!("{key}={v}"));
                        let _ = writeln!(out, "\tat the program's entry: {v}");
                        break;
                    }
                    (Some(f), Some(visit)) => {
                        let _ = writeln!(
                            out,
                            "\tpath {here} started from the state saved at the jump at {f}, in path {}",
                            path_of[*visit]
                        );
                        k = *visit + 1;
                    }
                    (Some(f), None) => {
                        let _ = writeln!(
                            out,
                            "\tpath {here} started from a state saved at {f}; the log does not say where"
                        );
                        break;
                    }
                }
            }
            Ev::Call { .. } | Ev::Return { .. } => {
                let _ = writeln!(out, "\t(a call or return: the walk stops at frame boundaries)");
                break;
            }
            Ev::Cut => {
                let _ = writeln!(out, "\t(the log's beginning is cut off here)");
                break;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::listing::with_slots;

    #[test]
    fn specs() {
        assert_eq!(parse_spec("R0@7"), Some(("R0".into(), 7)));
        assert_eq!(parse_spec("r3@12"), Some(("R3".into(), 12)));
        assert_eq!(parse_spec("fp-16@9"), Some(("fp-16".into(), 9)));
        assert_eq!(parse_spec("R11@1"), None);
        assert_eq!(parse_spec("R0"), None);
    }

    #[test]
    fn through_a_fill_a_spill_and_a_copy() {
        let src = "        r3 = *(u32 *)(r1 + 0)
        r3 &= 7
        *(u64 *)(r10 - 16) = r3
        r6 = *(u64 *)(r10 - 16)
        r0 = r6
        exit
";
        let log = "0: R1=ctx() R10=fp0
0: (61) r3 = *(u32 *)(r1 +0)          ; R3=scalar(umax=0xffffffff)
1: (57) r3 &= 7                       ; R3=scalar(umax=7)
2: (7b) *(u64 *)(r10 -16) = r3        ; R3=scalar(umax=7) fp-16=scalar(umax=7)
3: (79) r6 = *(u64 *)(r10 -16)        ; R6=scalar(umax=7)
4: (bf) r0 = r6                       ; R0=scalar(umax=7)
5: (95) exit
";
        let a = crate::asm::text::assemble(src).unwrap();
        let w = why(&with_slots(&a.insns), log, "R0", 5);
        let want = "R0 before 5, the last time the verifier got there (path 1):
       4:\tr0 = r6\ta copy of R6: R0=scalar(umax=7)
       3:\tr6 = *(u64 *)(r10 - 16)\ta fill from fp-16: R6=scalar(umax=7)
       2:\t*(u64 *)(r10 - 16) = r3\ta spill of R3: fp-16=scalar(umax=7)
       1:\tr3 &= 7\tproduced here: R3=scalar(umax=7)
";
        assert_eq!(w, want);
    }
}
