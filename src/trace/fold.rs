//! Big traces made readable: a summary first, and repeated loop rounds and
//! paths folded into one line that says what it left out.
//!
//! The rendered trace is cut into *units*: paths (a `path N:` header and
//! what follows it) and, inside a path, *rounds* (from one visit of a loop
//! head, the target of a backward jump, to the next). Two units have the
//! same *shape* when they show the same instructions and the same changed
//! registers, branch notes and messages, whatever the values and path
//! numbers: a run of three or more is printed as its first unit, a line
//! `… N more rounds …` (or paths), and its last unit.

use std::collections::BTreeSet;

/// Whether a line shows an instruction (`      12:\t...`).
fn insn_slot(l: &str) -> Option<usize> {
    let (n, _) = l.split_once(":\t")?;
    let n = n.trim_start();
    if n.is_empty() || l.starts_with('\t') {
        return None;
    }
    n.parse().ok()
}

/// A label line (`loop:`).
fn is_label(l: &str) -> bool {
    l.ends_with(':') && !l.starts_with(['\t', ' ']) && !l.contains(' ')
}

/// What a line is, without its values: instructions and labels as they
/// are, a state or change as the keys it names, anything else with its
/// numbers masked.
fn shape(l: &str) -> String {
    if insn_slot(l).is_some() || is_label(l) {
        return l.to_string();
    }
    let t = l.trim_start_matches('\t');
    let body = t.strip_prefix("state\t").unwrap_or(t);
    if body.starts_with('R') && body.as_bytes().get(1).is_some_and(u8::is_ascii_digit)
        || body.starts_with("fp-")
        || body.starts_with("frame")
    {
        let keys: Vec<&str> = super::tokens(body)
            .into_iter()
            .map(|tok| tok.split_once('=').map_or(tok, |(k, _)| k))
            .filter(|k| !k.starts_with('('))
            .collect();
        let state = if t.starts_with("state\t") { "state " } else { "" };
        return format!("{state}{}", keys.join(" "));
    }
    mask_path_numbers(l)
}

/// The numbers right after `path ` (path numbers, which always differ)
/// as `#`; slots and other numbers stay.
fn mask_path_numbers(l: &str) -> String {
    let mut out = String::with_capacity(l.len());
    let mut rest = l;
    while let Some(p) = rest.find("path ") {
        out.push_str(&rest[..p + 5]);
        rest = &rest[p + 5..];
        let d = rest.bytes().take_while(u8::is_ascii_digit).count();
        if d > 0 {
            out.push('#');
            rest = &rest[d..];
        }
    }
    out.push_str(rest);
    out
}

/// Folds runs of three or more same-shaped units; `what` names a unit
/// (`rounds`, `paths`), `indent` starts the note line. `sep`: a blank line
/// goes between units (paths), none is part of a unit.
fn fold_units(units: Vec<Vec<String>>, what: &str, indent: &str, sep: bool, out: &mut Vec<String>, folded: &mut usize) {
    let shapes: Vec<Vec<String>> = units.iter().map(|u| u.iter().map(|l| shape(l)).collect()).collect();
    let mut i = 0;
    let emit = |out: &mut Vec<String>, lines: &[String]| {
        if sep && !out.is_empty() {
            out.push(String::new());
        }
        out.extend(lines.iter().cloned());
    };
    while i < units.len() {
        let mut j = i + 1;
        while j < units.len() && shapes[j] == shapes[i] {
            j += 1;
        }
        let n = j - i;
        // Only units that show instructions fold (a path pruned at once is
        // two lines and says where it came from).
        if n >= 3 && units[i].iter().any(|l| insn_slot(l).is_some()) {
            emit(out, &units[i]);
            let slots: Vec<usize> = units[i].iter().filter_map(|l| insn_slot(l)).collect();
            let span = match (slots.iter().min(), slots.iter().max()) {
                (Some(a), Some(b)) if a != b => format!(" of {a}-{b}"),
                (Some(a), _) => format!(" of {a}"),
                _ => String::new(),
            };
            let note = format!(
                "{indent}… {} more {what}{span}, same shape as the one above (the same instructions and changes, other values); the last one follows …",
                group(n - 2)
            );
            emit(out, &[note]);
            emit(out, &units[j - 1]);
            *folded += n - 2;
        } else {
            for u in &units[i..j] {
                emit(out, u);
            }
        }
        i = j;
    }
}

/// Splits a path's lines into rounds at each visit of a loop head (its
/// label line goes with it); folds them.
fn fold_rounds(path: Vec<String>, heads: &BTreeSet<usize>, out: &mut Vec<String>, folded: &mut usize) {
    let mut units: Vec<Vec<String>> = vec![Vec::new()];
    for (k, l) in path.iter().enumerate() {
        let starts = insn_slot(l).is_some_and(|s| heads.contains(&s))
            || is_label(l) && path.get(k + 1).and_then(|n| insn_slot(n)).is_some_and(|s| heads.contains(&s));
        let after_label = k > 0 && is_label(&path[k - 1]) && units.last().is_some_and(|u| u.len() == 1);
        if starts && !after_label && !units.last().unwrap().is_empty() {
            units.push(Vec::new());
        }
        units.last_mut().unwrap().push(l.clone());
    }
    // The lines before the first round stay as they are; so does the rest.
    let first = units.remove(0);
    out.extend(first);
    fold_units(units, "rounds", "\t\t", false, out, folded);
}

/// `1234567` → `1,234,567`.
pub(crate) fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The trace with loop rounds and paths folded; how many units it folded.
pub(crate) fn fold(trace: &str, heads: &BTreeSet<usize>) -> (String, usize) {
    let mut paths: Vec<Vec<String>> = vec![Vec::new()];
    for l in trace.lines() {
        if l.starts_with("path ") && !paths.last().unwrap().is_empty() {
            paths.push(Vec::new());
        }
        paths.last_mut().unwrap().push(l.to_string());
    }
    let mut folded = 0;
    let mut rounds_folded = Vec::new();
    for mut p in paths {
        while p.last().is_some_and(|l| l.is_empty()) {
            p.pop();
        }
        let mut o = Vec::new();
        fold_rounds(p, heads, &mut o, &mut folded);
        rounds_folded.push(o);
    }
    let mut out = Vec::new();
    fold_units(rounds_folded, "paths", "", true, &mut out, &mut folded);
    let mut s = out.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    (s, folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_numbers() {
        assert_eq!(
            mask_path_numbers("path 12: the jump at 4 taken; path 13 takes"),
            "path #: the jump at 4 taken; path # takes"
        );
        assert_eq!(shape("\t\tR0=0x3d08f R1=scalar(smin=-1)"), "R0 R1");
        assert_eq!(shape("\tstate\tR0=1 R10=fp0"), "state R0 R10");
        assert_eq!(shape("       4:\tif r1 != 0 goto -3 ; -> loop"), "       4:\tif r1 != 0 goto -3 ; -> loop");
        assert_eq!(group(249998), "249,998");
        assert_eq!(group(12), "12");
    }

    #[test]
    fn repeated_paths_and_rounds_fold() {
        let mut t = String::from("path 1: from the program's entry at 0\n\tstate\tR1=ctx() R10=fp0\n");
        for r in 0..10 {
            t.push_str(&format!("loop:\n       2:\tr0 += 1\n\t\tR0={r}\n       3:\tif r0 < 99 goto -2 ; -> loop\n"));
        }
        t.push_str("       4:\texit\n");
        for p in 2..8 {
            t.push_str(&format!(
                "\npath {p}: the jump at 3 taken, to 2 (loop)\n\tstate\tR0={p}\nloop:\n       2:\tr0 += 1\n\t\tR0={}\n",
                p + 1
            ));
        }
        let heads = BTreeSet::from([2]);
        let (f, n) = fold(&t, &heads);
        // Rounds 1-9 have one shape (the 10th goes on to exit): 7 fold.
        assert_eq!(n, 7 + 4, "{f}");
        assert!(f.contains("\t\t… 7 more rounds of 2-3, same shape"), "{f}");
        assert!(f.contains("\n… 4 more paths of 2, same shape"), "{f}");
        assert!(f.contains("\t\tR0=0\n") && f.contains("\t\tR0=8\n") && f.contains("\t\tR0=9\n"), "{f}");
        assert!(!f.contains("\t\tR0=5\n"), "{f}");
        assert!(f.contains("path 2:") && f.contains("path 7:") && !f.contains("path 4:"), "{f}");
        // Nothing repeats three times: nothing folds.
        let (g, n) = fold("path 1: x\n       0:\texit\n", &heads);
        assert_eq!((g.as_str(), n), ("path 1: x\n       0:\texit\n", 0));
    }
}
