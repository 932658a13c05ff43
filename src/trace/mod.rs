//! `sockasm verify --trace`: the verifier's level-2 log read back onto
//! sockasm's own listing. Each explored path is a block; under each
//! instruction, the registers and stack slots it changed (the full state at
//! path starts and at calls), which way each conditional jump went and which
//! later path takes the other way, pruning points, precision backtracking,
//! and BPF-to-BPF call frames.
//!
//! Pure: the input is the program's instructions, its listing options
//! (labels, per-slot comments) and the log text; the output is text. Parsing
//! is total: a line it does not know is printed as it is.

use crate::asm::listing::{self, ListingOptions};
use crate::asm::{Call, Insn};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

mod fold;
mod state;
pub mod why;
use state::{Change, Tracker};

/// One line of a level-2 log, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Line<'a> {
    Blank,
    /// `func#1 @22`: subprogram 1 starts at slot 22.
    Func {
        func: usize,
        insn: usize,
    },
    /// `Live regs before insn:` and the table rows after it.
    Liveness,
    /// `12: (61) r2 = *(u32 *)(r6 +8)  ; R2=scalar()`.
    Insn {
        idx: usize,
        text: &'a str,
        after: Option<&'a str>,
    },
    /// `12: R1=ctx() R10=fp0`.
    State {
        idx: usize,
        state: &'a str,
    },
    /// `36: safe`.
    Safe {
        idx: usize,
    },
    /// `from 9 to 20: R1=...`, `from 203 to 214: safe`.
    From {
        from: usize,
        to: usize,
        speculative: bool,
        state: Option<&'a str>,
    },
    /// `mark_precise: ...`, `frame 0: propagating r9`.
    Precise(&'a str),
    /// `caller:`, `callee:`, `returning from callee:`, `to caller at 13:`.
    Caller,
    Callee,
    Returning,
    ToCaller {
        idx: usize,
    },
    /// ` frame1: R1=ctx() R10=fp0` (indented, after the four above).
    Indented(&'a str),
    /// `SCC enter (1)`: the verifier's loop bookkeeping (6.17+).
    Scc(&'a str),
    /// `(0) frame 0 insn 5 +live -8`: stack liveness (6.18).
    StackLiveness,
    /// `processed ...`, `verification time ...`, `stack depth ...`.
    Stats,
    /// `; return x + 1; @ add.c:3`: the source line of the instructions
    /// that follow (a program loaded with BTF line info).
    Source(&'a str),
    Other(&'a str),
}

fn num(s: &str) -> Option<usize> {
    s.trim().parse().ok()
}

/// `R1=..`, `fp-8=..`, `frame1: ..`: the start of a register state.
fn is_state(s: &str) -> bool {
    let b = s.as_bytes();
    (b.first() == Some(&b'R') && b.get(1).is_some_and(u8::is_ascii_digit))
        || s.starts_with("fp")
        || (s.starts_with("frame") && b.get(5).is_some_and(u8::is_ascii_digit))
}

/// The kernel pads an instruction to a column, then `; ` and the state.
fn split_after(rest: &str) -> (&str, Option<&str>) {
    let mut from = 0;
    while let Some(p) = rest[from..].find(" ; ") {
        let at = from + p;
        let tail = &rest[at + 3..];
        if is_state(tail) {
            return (rest[..at].trim_end(), Some(tail.trim()));
        }
        from = at + 3;
    }
    (rest.trim_end(), None)
}

/// A row of the `Live regs before insn:` table: `  1   2: 01........ (0f) ...`.
fn is_liveness_row(l: &str) -> bool {
    let Some((head, rest)) = l.split_once(": ") else { return false };
    let head_ok = head.split_whitespace().count() <= 2 && head.split_whitespace().all(|w| num(w).is_some());
    let cols = rest.as_bytes();
    head_ok
        && cols.len() > 12
        && cols[..10].iter().all(|c| *c == b'.' || c.is_ascii_digit())
        && cols[10] == b' '
        && cols[11] == b'('
}

fn classify<'a>(l: &'a str, in_liveness: bool) -> Line<'a> {
    let t = l.trim_end();
    if t.trim().is_empty() {
        return Line::Blank;
    }
    if in_liveness && is_liveness_row(t) {
        return Line::Liveness;
    }
    if t == "Live regs before insn:" {
        return Line::Liveness;
    }
    if let Some(rest) = t.strip_prefix("func#")
        && let Some((f, at)) = rest.split_once(" @")
        && let (Some(func), Some(insn)) = (num(f), num(at))
    {
        return Line::Func { func, insn };
    }
    match t {
        "caller:" => return Line::Caller,
        "callee:" => return Line::Callee,
        "returning from callee:" => return Line::Returning,
        _ => {}
    }
    if let Some(rest) = t.strip_prefix("to caller at ")
        && let Some(idx) = rest.strip_suffix(':').and_then(num)
    {
        return Line::ToCaller { idx };
    }
    if t.starts_with(' ') && is_state(t.trim_start()) {
        return Line::Indented(t.trim());
    }
    if t.starts_with("mark_precise: ") || (t.starts_with("frame ") && t.contains(": propagating ")) {
        return Line::Precise(t);
    }
    if t.starts_with("SCC ") {
        return Line::Scc(t);
    }
    if t.starts_with('(') && (t.contains(") frame ") && t.contains(" insn ") || t.contains(") live stack update")) {
        return Line::StackLiveness;
    }
    if t.starts_with("processed ") || t.starts_with("verification time ") || t.starts_with("stack depth ") {
        return Line::Stats;
    }
    if is_source_line(t) {
        return Line::Source(t);
    }
    if let Some(rest) = t.strip_prefix("from ")
        && let Some((head, tail)) = rest.split_once(':')
    {
        let mut w = head.split_whitespace();
        let speculative = head.contains("(speculative execution)");
        if let (Some(from), Some("to"), Some(to)) = (w.next().and_then(num), w.next(), w.next().and_then(num)) {
            let tail = tail.trim();
            let state = match tail {
                "safe" => None,
                s if is_state(s) => Some(s),
                _ => return Line::Other(t),
            };
            return Line::From { from, to, speculative, state };
        }
    }
    if let Some((head, rest)) = t.split_once(':')
        && let Some(idx) = num(head)
        && !head.starts_with(' ')
    {
        let rest = rest.trim_start();
        if rest == "safe" {
            return Line::Safe { idx };
        }
        // `15:` alone: a state print with nothing to name (after
        // bpf_tail_call the verifier prints one before the next insn).
        if rest.is_empty() {
            return Line::Blank;
        }
        if is_state(rest) {
            return Line::State { idx, state: rest };
        }
        let b = rest.as_bytes();
        if b.first() == Some(&b'(') && b.get(3) == Some(&b')') {
            let (text, after) = split_after(rest.get(4..).unwrap_or("").trim_start());
            return Line::Insn { idx, text, after };
        }
    }
    Line::Other(t)
}

/// `; return x + 1; @ add.c:3`: how the verifier quotes a program's BTF
/// line info before the instructions of that line.
pub fn is_source_line(t: &str) -> bool {
    t.starts_with("; ")
        && t.rsplit_once(" @ ").and_then(|(_, at)| at.rsplit_once(':')).is_some_and(|(_, n)| num(n).is_some())
}

/// The log without its source lines (for a program whose "source" is its
/// own listing: the trace prints that anyway).
pub fn without_source_lines(log: &str) -> String {
    log.lines().filter(|l| !is_source_line(l.trim_end())).flat_map(|l| [l, "\n"]).collect()
}

/// Splits `R1=ctx() R2=scalar(smin=0,var_off=(0x0; 0xff)) fp-8=mmmm` at
/// spaces outside parentheses.
pub(crate) fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ' ' if depth <= 0 => {
                if i > start {
                    out.push(&s[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// `R1_w` → `R1` (older kernels' liveness marks), `fp-8_rw` → `fp-8`.
pub(crate) fn key_of(k: &str) -> &str {
    ["_rw", "_w", "_r", "_D"].iter().find_map(|s| k.strip_suffix(s)).unwrap_or(k)
}

/// Registers first (R0..R10), then stack slots from fp-8 down.
pub(crate) fn order(k: &str) -> (u8, i64) {
    if let Some(n) = k.strip_prefix('R').and_then(|n| n.parse::<i64>().ok()) {
        (0, n)
    } else if let Some(n) = k.strip_prefix("fp").and_then(|n| n.parse::<i64>().ok()) {
        (1, -n)
    } else {
        (2, 0)
    }
}

/// A frame's registers and stack slots, as the verifier printed them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Regs(Vec<(String, String)>);

impl Regs {
    /// Parses a state; the frame it names (`frame1:`), if any.
    fn parse(s: &str) -> (Option<usize>, Vec<(String, String)>) {
        let mut frame = None;
        let mut v = Vec::new();
        for tok in tokens(s) {
            // The kernel has at most 8 frames; a larger number is not a frame.
            if let Some(n) =
                tok.strip_prefix("frame").and_then(|r| r.strip_suffix(':')).and_then(num).filter(|n| *n < MAX_FRAMES)
            {
                frame = Some(n);
                continue;
            }
            match tok.split_once('=') {
                Some((k, val)) => v.push((key_of(k).to_string(), val.to_string())),
                // Not a `K=V` pair: kept whole so nothing is lost.
                None => v.push((tok.to_string(), String::new())),
            }
        }
        (frame, v)
    }
    fn full(s: &str) -> (Option<usize>, Regs) {
        let (f, mut v) = Regs::parse(s);
        v.sort_by_key(|(k, _)| order(k));
        (f, Regs(v))
    }
    /// Merges `s` in; returns the pairs that changed or are new.
    /// `written`: the register the instruction wrote, shown even when its
    /// new value prints as the old one did (a fresh unknown number).
    fn merge(&mut self, s: &str, written: Option<&str>) -> (Option<usize>, Vec<(String, String)>) {
        let (frame, v) = Regs::parse(s);
        let mut changed = Vec::new();
        for (k, val) in v {
            match self.0.iter_mut().find(|(rk, _)| *rk == k) {
                Some(e) if e.1 == val && written != Some(k.as_str()) => {}
                Some(e) => {
                    e.1 = val.clone();
                    changed.push((k, val));
                }
                None => {
                    self.0.push((k.clone(), val.clone()));
                    changed.push((k, val));
                }
            }
        }
        self.0.sort_by_key(|(k, _)| order(k));
        (frame, changed)
    }
    /// A call leaves r1-r5 unreadable; whether one of them held something.
    fn clobber_args(&mut self) -> bool {
        let n = self.0.len();
        self.0.retain(|(k, _)| !matches!(k.as_str(), "R1" | "R2" | "R3" | "R4" | "R5"));
        self.0.len() != n
    }
}

fn show_pairs(frame: usize, pairs: &[(String, String)]) -> String {
    let body: Vec<String> =
        pairs.iter().map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}={v}") }).collect();
    if frame > 0 { format!("frame{frame}: {}", body.join(" ")) } else { body.join(" ") }
}

/// The `regs=r1,r6 stack=-8` of a mark_precise line, as `r1`, `r6`, `fp-8`.
fn precise_names(l: &str, into: &mut BTreeSet<String>) {
    if let Some(p) = l.find("regs=") {
        let rest = &l[p + 5..];
        let regs = rest.split(' ').next().unwrap_or("");
        into.extend(regs.split(',').filter(|r| !r.is_empty()).map(str::to_string));
        if let Some(q) = rest.find("stack=") {
            let st = rest[q + 6..].split([' ', ':']).next().unwrap_or("");
            into.extend(st.split(',').filter(|s| !s.is_empty()).map(|s| format!("fp{s}")));
        }
    }
    if let Some(p) = l.find(": propagating ") {
        into.extend(l[p + 14..].split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string));
    }
}

/// `before 12:` in a mark_precise line.
fn precise_before(l: &str) -> Option<usize> {
    let p = l.find(" before ")?;
    num(l[p + 8..].split(':').next()?)
}

/// What the log says happened, in order.
#[derive(Clone, Debug)]
enum Ev<'a> {
    /// A path starts: the program's entry (`from` None) or a state the
    /// verifier took back off its stack.
    Path {
        from: Option<usize>,
        to: usize,
        speculative: bool,
        state: Option<&'a str>,
    },
    Insn {
        idx: usize,
        text: &'a str,
        after: Option<&'a str>,
    },
    State {
        idx: usize,
        state: &'a str,
    },
    Safe {
        idx: usize,
    },
    Precise {
        names: BTreeSet<String>,
        back_to: Option<usize>,
    },
    Call {
        callee: Option<&'a str>,
    },
    Return {
        to: usize,
        caller: Option<&'a str>,
    },
    Scc(&'a str),
    /// A source line, printed above the instructions it covers.
    Source(&'a str),
    Raw(&'a str),
    /// The log's beginning is missing (it did not fit its buffer).
    Cut,
}

impl Ev<'_> {
    /// The instruction an event puts the path at.
    fn position(&self) -> Option<usize> {
        match self {
            Ev::Insn { idx, .. } | Ev::Safe { idx } => Some(*idx),
            _ => None,
        }
    }
}

struct Parsed<'a> {
    events: Vec<Ev<'a>>,
    /// Subprogram starts: slot → func number.
    funcs: BTreeMap<usize, usize>,
}

/// A log line as one or two lines. At level 1 the verifier prints no state
/// after an instruction, so the state it prints when it starts the next
/// path (`14: R0=... R6=0`, after a jump it followed) lands on the
/// instruction's line: `7: (15) if r6 == 0x0 goto pc+6 14: R0=...`.
fn unglue(raw: &str) -> impl Iterator<Item = &str> {
    let split = (|| {
        let (head, rest) = raw.split_once(": (")?;
        num(head)?;
        if rest.contains(" ; ") {
            return None;
        }
        // The last ` N: ` whose tail is a state.
        let mut at = None;
        let mut from = 0;
        while let Some(p) = rest[from..].find(": ") {
            let colon = from + p;
            let start = rest[..colon].rfind(' ').map_or(0, |b| b + 1);
            if start > 0 && num(&rest[start..colon]).is_some() && is_state(&rest[colon + 2..]) {
                at = Some(head.len() + 3 + start);
            }
            from = colon + 2;
        }
        at
    })();
    match split {
        Some(at) => [Some(raw[..at].trim_end()), Some(&raw[at..])],
        None => [Some(raw), None],
    }
    .into_iter()
    .flatten()
}

fn parse(log: &str) -> Parsed<'_> {
    let mut events: Vec<Ev> = Vec::new();
    let mut funcs = BTreeMap::new();
    let mut in_liveness = false;
    // Which indented state the next line is: caller, callee, returning, to caller.
    let mut expect: Option<Line> = None;
    let mut started = false;
    let mut first = true;
    for raw in log.lines().flat_map(unglue) {
        let line = classify(raw, in_liveness);
        in_liveness = matches!(line, Line::Liveness);
        // A log that does not fit its buffer keeps its end (Linux 6.4's
        // rotating log): it then starts anywhere, often inside a line.
        if first && !matches!(line, Line::Blank) {
            first = false;
            // A whole log starts at the entry, or with a message about the
            // program as a whole (`back-edge from insn 3 to 1`); a cut one
            // is as long as the largest buffer sockasm gives (far over 256 KiB).
            let whole = match line {
                Line::Func { .. } | Line::Liveness | Line::State { idx: 0, .. } | Line::Insn { idx: 0, .. } => true,
                Line::Other(_) => log.len() < 256 * 1024,
                _ => false,
            };
            if !whole {
                events.push(Ev::Cut);
                started = true;
            }
        }
        if let Line::Indented(s) = line {
            match expect.take() {
                Some(Line::Callee) => events.push(Ev::Call { callee: Some(s) }),
                Some(Line::ToCaller { idx }) => {
                    if let Some(Ev::Return { to, caller }) = events.last_mut()
                        && *to == idx
                    {
                        *caller = Some(s);
                    } else {
                        events.push(Ev::Return { to: idx, caller: Some(s) });
                    }
                }
                // The caller's own state before a call, the callee's before a
                // return: the trace already holds both.
                Some(Line::Caller) | Some(Line::Returning) => {}
                _ => events.push(Ev::Raw(raw)),
            }
            continue;
        }
        match line {
            Line::Caller | Line::Callee | Line::Returning => expect = Some(line),
            Line::ToCaller { idx } => {
                events.push(Ev::Return { to: idx, caller: None });
                expect = Some(line);
            }
            Line::Blank | Line::Liveness | Line::StackLiveness | Line::Stats => {}
            Line::Func { func, insn } => {
                funcs.insert(insn, func);
            }
            Line::State { idx, state } if !started => {
                started = true;
                events.push(Ev::Path { from: None, to: idx, speculative: false, state: Some(state) });
            }
            Line::State { idx, state } => events.push(Ev::State { idx, state }),
            Line::Insn { idx, text, after } => {
                started = true;
                events.push(Ev::Insn { idx, text, after });
            }
            Line::Safe { idx } => events.push(Ev::Safe { idx }),
            Line::From { from, to, speculative, state } => {
                // After `to caller at N:` the verifier prints the caller's
                // state as `from EXIT to N:`: the same path goes on.
                let is_return = matches!(events.last(), Some(Ev::Return { to: t, .. }) if *t == to);
                if !is_return {
                    started = true;
                    events.push(Ev::Path { from: Some(from), to, speculative, state });
                }
            }
            Line::Precise(l) => {
                if !matches!(events.last(), Some(Ev::Precise { .. })) {
                    events.push(Ev::Precise { names: BTreeSet::new(), back_to: None });
                }
                if let Some(Ev::Precise { names, back_to }) = events.last_mut() {
                    precise_names(l, names);
                    if let Some(b) = precise_before(l) {
                        *back_to = Some(back_to.map_or(b, |x: usize| x.min(b)));
                    }
                }
            }
            Line::Scc(s) => events.push(Ev::Scc(s)),
            Line::Source(s) => events.push(Ev::Source(s)),
            Line::Other(s) => events.push(Ev::Raw(s)),
            Line::Indented(_) => {}
        }
    }
    Parsed { events, funcs }
}

/// Where a conditional jump can go: (fall-through, target).
fn branch_targets(idx: usize, insn: &Insn) -> Option<(usize, usize)> {
    let off = match insn {
        Insn::JmpCond { off, .. } | Insn::MayGoto { off } => *off as i64,
        _ => return None,
    };
    let target = usize::try_from(idx as i64 + 1 + off).ok()?;
    Some((idx + 1, target))
}

/// For each jump visit (event index) the path that later took its other way.
fn other_ways(events: &[Ev], insns: &BTreeMap<usize, &Insn>) -> BTreeMap<usize, usize> {
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut out = BTreeMap::new();
    let mut path = 0;
    for (i, e) in events.iter().enumerate() {
        match e {
            Ev::Path { from, .. } => {
                path += 1;
                // The verifier's stack of branches is LIFO: the newest visit of
                // `from` is the one this path continues.
                if let Some(f) = from
                    && let Some(pos) = stack.iter().rposition(|(_, at)| at == f)
                {
                    out.insert(stack[pos].0, path);
                    stack.truncate(pos);
                }
            }
            Ev::Insn { idx, .. } if insns.get(idx).is_some_and(|x| branch_targets(*idx, x).is_some()) => {
                stack.push((i, *idx))
            }
            _ => {}
        }
    }
    out
}

const MAX_FRAMES: usize = 8;

const CLOBBERED: &str = "\t\t(r1-r5 are unreadable after a call)";

/// Renders the trace. `complete`: the verifier finished (the program was
/// accepted), so a way of a jump no path took was impossible, not pending.
/// For a rejected program the instruction the verifier stopped at is
/// followed by `registers there:` and the state before it, as the rejection
/// view prints it ([`state_before_last_insn`]), when the log lets it be known.
pub fn render(insns: &[(usize, Insn)], opts: &ListingOptions, log: &str, complete: bool) -> String {
    let by_slot: BTreeMap<usize, &Insn> = insns.iter().map(|(s, i)| (*s, i)).collect();
    let parsed = parse(log);
    let events = &parsed.events;
    let others = other_ways(events, &by_slot);
    let failing = if complete { None } else { events.iter().rposition(|e| matches!(e, Ev::Insn { .. })) };
    let opts = ListingOptions { annotate: true, ..opts.clone() };
    let name_of = |slot: usize| -> String {
        let label = opts.labels.get(&slot).map(|l| format!(" ({l})"));
        let func = parsed.funcs.get(&slot).filter(|f| **f > 0).map(|f| format!(" (func#{f})"));
        format!("{slot}{}", label.or(func).unwrap_or_default())
    };
    let mut out = String::new();
    let mut st = Tracker::default();
    let mut path = 0usize;
    // The slot of the last instruction shown on this path.
    let mut last: Option<usize> = None;
    let mut pending: Option<(usize, usize)> = None; // a jump waiting for where the path goes next
    let mut source: Option<&str> = None; // a source line waiting for its instruction
    let decide = |out: &mut String, jump: (usize, usize), next: Option<usize>| {
        let (ev, at) = jump;
        let Some((fall, target)) = by_slot.get(&at).and_then(|x| branch_targets(at, x)) else { return };
        let Some(next) = next else { return };
        let taken = if next == target && next != fall {
            true
        } else if next == fall {
            false
        } else {
            return;
        };
        let went =
            if taken { format!("jumps to {}", name_of(target)) } else { format!("falls through to {}", name_of(fall)) };
        let other = if taken {
            format!("falls through to {}", name_of(fall))
        } else {
            format!("takes the jump to {}", name_of(target))
        };
        let other_way = match others.get(&ev) {
            Some(p) => format!("path {p} {other}"),
            None if complete && taken => "falling through cannot happen in this state".to_string(),
            None if complete => "the jump cannot be taken in this state".to_string(),
            None => "the other way was not explored".to_string(),
        };
        let _ = writeln!(out, "\t\t-> {went}; {other_way}");
    };
    for (i, e) in events.iter().enumerate() {
        let next_pos = e.position().or(match e {
            Ev::State { idx, .. } if last != Some(*idx) => Some(*idx),
            _ => None,
        });
        if let Some(j) = pending
            && (next_pos.is_some() || matches!(e, Ev::Path { .. } | Ev::Call { .. } | Ev::Return { .. }))
        {
            decide(&mut out, j, next_pos);
            pending = None;
        }
        match e {
            Ev::Path { from, to, speculative, state } => {
                path += 1;
                last = None;
                if !out.is_empty() {
                    out.push('\n');
                }
                let spec = if *speculative { " (speculative execution)" } else { "" };
                let how = match from {
                    None => format!("path {path}: from the program's entry at {}", name_of(*to)),
                    Some(f) => {
                        let way = by_slot.get(f).and_then(|x| branch_targets(*f, x)).and_then(|(fall, target)| {
                            if *to == target && target != fall {
                                Some(format!("the jump at {f} taken, to {}", name_of(*to)))
                            } else if *to == fall {
                                Some(format!("the jump at {f} not taken, on to {}", name_of(*to)))
                            } else {
                                None
                            }
                        });
                        let way = way.unwrap_or_else(|| format!("from {f} to {}", name_of(*to)));
                        format!("path {path}: {way}{spec}")
                    }
                };
                let f = st.start(*state);
                match state {
                    None => {
                        let _ = writeln!(out, "{how}: safe, pruned at once");
                        let _ =
                            writeln!(out, "\t\t(a state already verified at {to} covers this one, so the path stops)");
                    }
                    Some(_) => {
                        let _ = writeln!(out, "{how}");
                        let _ = writeln!(out, "\tstate\t{}", st.render().unwrap_or_default());
                        debug_assert_eq!(f, st.current());
                    }
                }
            }
            Ev::Insn { idx, text, after } => {
                let mut ch = Change::default();
                let mut clobbered = false;
                if let Some(l) = opts.labels.get(idx) {
                    let _ = writeln!(out, "{l}:");
                }
                if let Some(s) = source.take() {
                    let _ = writeln!(out, "{s}");
                }
                match by_slot.get(idx) {
                    Some(insn) => {
                        let _ = write!(out, "{idx:>8}:\t{}", listing::insn_text_at(*idx, insn, &opts));
                        if let Some(a) = listing::annotation(insns, *idx, insn, &opts) {
                            let _ = write!(out, "{}{a}", listing::ANNOTATION_SEP);
                        }
                        out.push('\n');
                    }
                    // Not in our listing: the verifier's own text.
                    None => {
                        let _ = writeln!(out, "{idx:>8}:\t{text} (as the verifier prints it)");
                    }
                }
                if failing == Some(i)
                    && let Some(s) = st.render()
                {
                    let _ = writeln!(out, "\t\tregisters there: {s}");
                }
                let insn = by_slot.get(idx);
                // The call the verifier refused did not run: nothing was clobbered.
                if failing != Some(i)
                    && insn.is_some_and(|x| matches!(x, Insn::Call(Call::Helper(_)) | Insn::Call(Call::Kfunc { .. })))
                {
                    clobbered = st.helper_call(&mut ch);
                }
                if let Some(a) = after {
                    let w = insn.and_then(|x| written_reg(x));
                    let compare = insn.is_some_and(|x| matches!(x, Insn::JmpCond { .. }));
                    let lost = ch.lost;
                    ch = st.after(a, w.as_deref(), compare);
                    ch.lost = ch.lost.or(lost);
                }
                show_change(&mut out, &ch);
                if clobbered {
                    let _ = writeln!(out, "{CLOBBERED}");
                }
                last = Some(*idx);
                if by_slot.get(idx).is_some_and(|x| branch_targets(*idx, x).is_some()) {
                    pending = Some((i, *idx));
                }
            }
            // `N: R1=..` lists the registers the verifier touched since it
            // last printed (print_verifier_state(.., print_all=false)).
            Ev::State { state, .. } => show_change(&mut out, &st.after(state, None, false)),
            Ev::Safe { idx } => {
                let _ = writeln!(
                    out,
                    "\t\t-> at {}: safe: a state already verified there covers this one, the path stops",
                    name_of(*idx)
                );
            }
            Ev::Precise { names, back_to } => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let back = back_to.map_or(String::new(), |b| format!(" (walked back to {b})"));
                if !names.is_empty() {
                    let _ = writeln!(out, "\t\t~ precise: {}{back}", names.join(" "));
                }
            }
            Ev::Call { callee } => {
                let at = callee.and_then(|_| events.get(i + 1)).and_then(|n| match n {
                    Ev::State { idx, .. } | Ev::Insn { idx, .. } => Some(*idx),
                    _ => None,
                });
                let who = at.map_or(String::new(), |a| format!(" {}", name_of(a)));
                let f = st.enter(callee.unwrap_or(""));
                let _ = writeln!(out, "\t\t-> calls{who}: frame {f}");
                let _ = writeln!(out, "\tstate\t{}", st.render().unwrap_or_default());
            }
            Ev::Return { to, caller } => {
                let f = st.current().saturating_sub(1);
                let _ = writeln!(out, "\t\t-> returns to {}: frame {f}", name_of(*to));
                let was_known = st.known(f);
                let ch = st.leave(*caller);
                if was_known || caller.is_none() {
                    // The caller's state after the call: r1-r5 gone, r0 set.
                    let args: Vec<String> = ch
                        .dropped
                        .iter()
                        .filter(|k| matches!(k.as_str(), "R1" | "R2" | "R3" | "R4" | "R5"))
                        .cloned()
                        .collect();
                    let rest =
                        Change { dropped: ch.dropped.iter().filter(|k| !args.contains(k)).cloned().collect(), ..ch };
                    show_change(&mut out, &rest);
                    if !args.is_empty() {
                        let _ = writeln!(out, "{CLOBBERED}");
                    }
                } else {
                    let _ = writeln!(out, "\tstate\t{}", st.render().unwrap_or_default());
                }
                last = Some(*to);
            }
            Ev::Scc(s) => {
                let _ = writeln!(out, "\t\t~ {s} (loop bookkeeping)");
            }
            // Printed with the instruction it comes before, under its label.
            Ev::Source(s) => source = Some(s),
            Ev::Raw(s) => {
                let _ = writeln!(out, "{s}");
            }
            Ev::Cut => {
                path += 1;
                let _ = writeln!(
                    out,
                    "(the log's beginning is cut off: it did not fit the largest buffer, and the kernel keeps a log's end)"
                );
                let _ = writeln!(
                    out,
                    "path ?: somewhere in the program, state not known until the verifier prints it whole"
                );
                st = Tracker::default();
            }
        }
    }
    if let Some(j) = pending {
        decide(&mut out, j, None);
    }
    out
}

/// How much of a trace to print (`verify --trace` options).
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Every line: no summary, nothing folded.
    pub full: bool,
    /// Only path N (as numbered in the trace).
    pub path: Option<usize>,
    /// Only the visits of this instruction, with the instruction before and
    /// after each, under their path's header.
    pub around: Option<usize>,
}

/// A trace longer than this gets a summary first.
const SUMMARY_LINES: usize = 200;

/// [`render`], as `verify --trace` prints it: a big trace starts with a
/// summary (paths, pruning points, the longest path, the instructions that
/// took most of the verifier's budget) and has its repeated loop rounds and
/// paths folded ([`View::full`] turns both off); or only one path, or only
/// the visits of one instruction.
pub fn render_view(insns: &[(usize, Insn)], opts: &ListingOptions, log: &str, complete: bool, view: &View) -> String {
    let text = render(insns, opts, log, complete);
    if let Some(n) = view.path {
        let head = format!("path {n}: ");
        let lines: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with(&head))
            .enumerate()
            .take_while(|(i, l)| *i == 0 || !l.starts_with("path "))
            .map(|(_, l)| l)
            .collect();
        if lines.is_empty() {
            return format!(
                "(no path {n}: the trace has {} paths)\n",
                text.lines().filter(|l| l.starts_with("path ")).count()
            );
        }
        return lines.join("\n").trim_end().to_string() + "\n";
    }
    let heads = loop_heads(insns);
    if let Some(slot) = view.around {
        let lines: Vec<&str> = text.lines().collect();
        let mut windows: Vec<Vec<String>> = Vec::new();
        let mut header = "";
        let mut shown_header = "";
        for (k, l) in lines.iter().enumerate() {
            if l.starts_with("path ") {
                header = l;
            }
            if fold_slot(l) != Some(slot) {
                continue;
            }
            let prev = lines[..k].iter().rposition(|x| fold_slot(x).is_some() || x.starts_with("path ")).unwrap_or(k);
            let next = lines[k + 1..].iter().position(|x| fold_slot(x).is_some() || x.starts_with("path ")).map_or(
                lines.len(),
                |p| {
                    let after = k + 1 + p;
                    if lines[after].starts_with("path ") {
                        after
                    } else {
                        after
                            + 1
                            + lines[after + 1..]
                                .iter()
                                .position(|x| fold_slot(x).is_some() || x.starts_with("path "))
                                .unwrap_or(lines.len() - after - 1)
                    }
                },
            );
            let mut w: Vec<String> = Vec::new();
            if header != shown_header {
                w.push(header.to_string());
                shown_header = header;
            }
            w.extend(lines[prev.min(k)..next].iter().filter(|x| !x.starts_with("path ")).map(|x| x.to_string()));
            windows.push(w);
        }
        if windows.is_empty() {
            return format!("(instruction {slot} was never reached)\n");
        }
        let body: Vec<String> = windows.into_iter().map(|w| w.join("\n")).collect();
        let (folded, _) = fold::fold(&(body.join("\n") + "\n"), &BTreeSet::new());
        return folded;
    }
    if view.full || text.lines().count() <= SUMMARY_LINES {
        return text;
    }
    let (folded, n) = fold::fold(&text, &heads);
    let mut out = summary(insns, opts, log, text.lines().count());
    if n > 0 {
        let _ = writeln!(
            out,
            "folded: {} repeated loop rounds and paths (lines `… N more …`), {} of {} lines shown; --full shows every line, --path N one path, --around INSN one instruction's visits",
            fold::group(n),
            fold::group(folded.lines().count()),
            fold::group(text.lines().count())
        );
    }
    out.push('\n');
    out.push_str(&folded);
    out
}

/// The slot of a trace line that shows an instruction.
fn fold_slot(l: &str) -> Option<usize> {
    let (n, _) = l.split_once(":\t")?;
    if l.starts_with('\t') {
        return None;
    }
    n.trim_start().parse().ok()
}

/// The targets of backward jumps: where each loop round starts.
fn loop_heads(insns: &[(usize, Insn)]) -> BTreeSet<usize> {
    insns
        .iter()
        .filter_map(|(s, i)| {
            let off = match i {
                Insn::JmpCond { off, .. } | Insn::Ja { off } | Insn::MayGoto { off } => *off as i64,
                Insn::Gotol { imm } => *imm as i64,
                _ => return None,
            };
            let t = *s as i64 + 1 + off;
            (t <= *s as i64 && t >= 0).then_some(t as usize)
        })
        .collect()
}

/// The summary of a big trace.
fn summary(insns: &[(usize, Insn)], opts: &ListingOptions, log: &str, lines: usize) -> String {
    let parsed = parse(log);
    let mut paths = 0usize;
    let mut pruned = 0usize;
    let mut longest = (0usize, 0usize); // (insns, path)
    let mut cur = 0usize;
    let mut visits: BTreeMap<usize, usize> = BTreeMap::new();
    let mut total = 0usize;
    for e in &parsed.events {
        match e {
            Ev::Path { state, .. } => {
                paths += 1;
                cur = 0;
                if state.is_none() {
                    pruned += 1;
                }
            }
            Ev::Cut => {
                paths += 1;
                cur = 0;
            }
            Ev::Safe { .. } => pruned += 1,
            Ev::Insn { idx, .. } => {
                cur += 1;
                total += 1;
                *visits.entry(*idx).or_default() += 1;
                if cur > longest.0 {
                    longest = (cur, paths);
                }
            }
            _ => {}
        }
    }
    let processed = log.lines().find_map(|l| l.strip_prefix("processed ")?.split(' ').next()?.parse::<usize>().ok());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "summary: {} lines; {} paths, {} of them ending at a pruning point; {} instructions walked{}",
        fold::group(lines),
        fold::group(paths),
        fold::group(pruned),
        fold::group(total),
        processed
            .map_or(String::new(), |p| format!(" (the verifier's count: {}; its limit is 1,000,000)", fold::group(p)))
    );
    let _ = writeln!(out, "longest path: path {}, {} instructions", longest.1, fold::group(longest.0));
    let mut top: Vec<(usize, usize)> = visits.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let by_slot: BTreeMap<usize, &Insn> = insns.iter().map(|(s, i)| (*s, i)).collect();
    let _ = writeln!(out, "most walked:");
    for (slot, n) in top.into_iter().take(3) {
        let label = opts.labels.get(&slot).map_or(String::new(), |l| format!(" ({l})"));
        let text = by_slot.get(&slot).map_or(String::new(), |i| format!("  {i}"));
        let _ = writeln!(out, "\t{slot}{label}: {} times, {}%{text}", fold::group(n), n * 100 / total.max(1));
    }
    out
}

/// The state before the last instruction of `log` (where a rejected
/// program's verifier stopped), in the current frame, as the trace prints
/// it: None when the log names no instruction or does not let the state be
/// known there.
pub fn state_before_last_insn(log: &str) -> Option<String> {
    let parsed = parse(log);
    let events = &parsed.events;
    let last = events.iter().rposition(|e| matches!(e, Ev::Insn { .. }))?;
    let mut st = Tracker::default();
    // The verifier's instruction texts are enough to tell calls and jumps.
    for e in &events[..last] {
        match e {
            Ev::Path { state, .. } => {
                st.start(*state);
            }
            Ev::Insn { text, after, .. } => {
                let call = text.starts_with("call ") && !text.starts_with("call pc");
                if call {
                    st.helper_call(&mut Change::default());
                }
                if let Some(a) = after {
                    let compare = text.starts_with("if ");
                    st.after(a, written_by_text(text).as_deref(), compare);
                }
            }
            Ev::State { state, .. } => {
                st.after(state, None, false);
            }
            Ev::Cut => st = Tracker::default(),
            Ev::Call { callee } => {
                st.enter(callee.unwrap_or(""));
            }
            Ev::Return { caller, .. } => {
                st.leave(*caller);
            }
            _ => {}
        }
    }
    st.render()
}

/// The register an instruction writes, from the verifier's own text
/// (`r2 = *(u32 *)(r1 +0)`, `w3 += 1`, `call bpf_map_lookup_elem#1`).
fn written_by_text(text: &str) -> Option<String> {
    if text.starts_with("call ") {
        return Some("R0".into());
    }
    let b = text.as_bytes();
    if (b.first() == Some(&b'r') || b.first() == Some(&b'w')) && b.get(1).is_some_and(u8::is_ascii_digit) {
        let n: String = text[1..].chars().take_while(char::is_ascii_digit).collect();
        let rest = text[1 + n.len()..].trim_start();
        let op = rest.split(' ').next().unwrap_or("");
        if op.ends_with('=') && !matches!(op, "==" | "!=" | "<=" | ">=") {
            return Some(format!("R{n}"));
        }
    }
    None
}

/// Prints what a step changed: the registers and slots it set, those a
/// comparison proved through a link, those no longer readable, and a
/// state that is not known any more.
fn show_change(out: &mut String, ch: &Change) {
    if !ch.changed.is_empty() {
        let _ = writeln!(out, "\t\t{}", show_pairs(ch.frame, &ch.changed));
    }
    for (f, k, v, via) in &ch.linked {
        let _ = writeln!(
            out,
            "\t\t{} (linked to {via}: the comparison proves it too)",
            show_pairs(*f, &[(k.clone(), v.clone())])
        );
    }
    if !ch.dropped.is_empty() {
        let _ = writeln!(out, "\t\t(no longer readable: {})", ch.dropped.join(" "));
    }
    if let Some(why) = ch.lost {
        let _ = writeln!(out, "\t\t(the whole state is not known from here until the verifier prints it: {why})");
    }
}

/// The register an instruction writes, as the verifier names it.
fn written_reg(insn: &Insn) -> Option<String> {
    let r = match insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::LoadAcquire { dst, .. }
        | Insn::AddrSpaceCast { dst, .. }
        | Insn::LdImm64 { dst, .. } => dst.index(),
        Insn::Call(_) | Insn::LdAbs { .. } | Insn::LdInd { .. } => 0,
        _ => return None,
    };
    Some(format!("R{r}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::listing::with_slots;

    /// A text program's instructions and labels, as `sockasm verify` has them.
    fn program(src: &str) -> (Vec<(usize, Insn)>, ListingOptions) {
        let a = crate::asm::text::assemble(src).unwrap();
        (with_slots(&a.insns), ListingOptions { annotate: true, labels: a.labels, ..ListingOptions::default() })
    }

    fn trace(src: &str, log: &str, complete: bool) -> String {
        let (insns, opts) = program(src);
        render(&insns, &opts, log, complete)
    }

    const BOUNDS: &str = "        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r0 = 2
        r4 = r2
        r4 += 34
        if r4 > r3 goto out
        r5 = *(u8 *)(r2 + 23)
        if r5 != 17 goto out
        r0 = 1
out:
        exit
";

    // Linux 6.18, `sockasm verify bounds.s --type xdp --log-level 2`.
    const BOUNDS_LOG: &str = "func#0 @0
Live regs before insn:
      0: .1........ (61) r2 = *(u32 *)(r1 +0)
      1: .12....... (61) r3 = *(u32 *)(r1 +4)
      2: ..23...... (b7) r0 = 2
      3: 0.23...... (bf) r4 = r2
      4: 0.234..... (07) r4 += 34
      5: 0.234..... (2d) if r4 > r3 goto pc+3
      6: 0.2....... (71) r5 = *(u8 *)(r2 +23)
      7: 0....5.... (55) if r5 != 0x11 goto pc+1
      8: .......... (b7) r0 = 1
      9: 0......... (95) exit
0: R1=ctx() R10=fp0
0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=pkt(r=0)
1: (61) r3 = *(u32 *)(r1 +4)          ; R1=ctx() R3=pkt_end()
2: (b7) r0 = 2                        ; R0=2
3: (bf) r4 = r2                       ; R2=pkt(r=0) R4=pkt(r=0)
4: (07) r4 += 34                      ; R4=pkt(off=34,r=0)
5: (2d) if r4 > r3 goto pc+3          ; R3=pkt_end() R4=pkt(off=34,r=34)
6: (71) r5 = *(u8 *)(r2 +23)          ; R2=pkt(r=34) R5=scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))
7: (55) if r5 != 0x11 goto pc+1       ; R5=17
8: (b7) r0 = 1                        ; R0=1
9: (95) exit

from 7 to 9: safe

from 5 to 9: safe
verification time 193 usec
stack depth 0
processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
";

    #[test]
    fn bounds_check_narrows_on_the_fall_through() {
        let t = trace(BOUNDS, BOUNDS_LOG, true);
        let want = "path 1: from the program's entry at 0
\tstate\tR1=ctx() R10=fp0
       0:\tr2 = *(u32 *)(r1 + 0)
\t\tR2=pkt(r=0)
       1:\tr3 = *(u32 *)(r1 + 4)
\t\tR3=pkt_end()
       2:\tr0 = 2
\t\tR0=2
       3:\tr4 = r2
\t\tR4=pkt(r=0)
       4:\tr4 += 34
\t\tR4=pkt(off=34,r=0)
       5:\tif r4 > r3 goto +3 ; -> out
\t\tR4=pkt(off=34,r=34)
\t\tR2=pkt(r=34) (linked to R4: the comparison proves it too)
\t\t-> falls through to 6; path 3 takes the jump to 9 (out)
       6:\tr5 = *(u8 *)(r2 + 23)
\t\tR5=scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))
       7:\tif r5 != 17 goto +1 ; -> out
\t\tR5=17
\t\t-> falls through to 8; path 2 takes the jump to 9 (out)
       8:\tr0 = 1
\t\tR0=1
out:
       9:\texit

path 2: the jump at 7 taken, to 9 (out): safe, pruned at once
\t\t(a state already verified at 9 covers this one, so the path stops)

path 3: the jump at 5 taken, to 9 (out): safe, pruned at once
\t\t(a state already verified at 9 covers this one, so the path stops)
";
        assert_eq!(t, want);
    }

    const CALL: &str = "        r1 = *(u32 *)(r1 + 0)
        call double
        exit
double:
        r0 = r1
        r0 += r1
        exit
";

    // Linux 6.18, `sockasm verify call.s --type socket_filter --log-level 2`.
    const CALL_LOG: &str = "func#0 @0
func#1 @3
Live regs before insn:
      0: .12345.... (61) r1 = *(u32 *)(r1 +0)
      1: .12345.... (85) call pc+1
      2: 0......... (95) exit
      3: .1........ (bf) r0 = r1
      4: 01........ (0f) r0 += r1
      5: 0......... (95) exit
0: R1=ctx() R10=fp0
0: (61) r1 = *(u32 *)(r1 +0)          ; R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
1: (85) call pc+1
caller:
 R10=fp0
callee:
 frame1: R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
3: frame1: R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
3: (bf) r0 = r1                       ; frame1: R0=scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R1=scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
4: (0f) r0 += r1                      ; frame1: R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1ffffffff)) R1=scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
5: (95) exit
returning from callee:
 frame1: R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1ffffffff)) R1=scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
to caller at 2:
 R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1ffffffff)) R10=fp0

from 5 to 2: R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1ffffffff)) R10=fp0
2: (95) exit
verification time 200 usec
stack depth 0+0
processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";

    #[test]
    fn calls_show_frames_and_the_return_is_the_same_path() {
        let t = trace(CALL, CALL_LOG, true);
        let want = "path 1: from the program's entry at 0
\tstate\tR1=ctx() R10=fp0
       0:\tr1 = *(u32 *)(r1 + 0)
\t\tR1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
       1:\tcall func(+1) ; -> double
\t\t-> calls 3 (double): frame 1
\tstate\tframe1: R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
double:
       3:\tr0 = r1
\t\tframe1: R0=scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R1=scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
       4:\tr0 += r1
\t\tframe1: R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1ffffffff))
       5:\texit
\t\t-> returns to 2: frame 0
\t\tR0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1ffffffff))
\t\t(r1-r5 are unreadable after a call)
       2:\texit
";
        assert_eq!(t, want);
    }

    const MAYGOTO: &str = "        r0 = 0
loop:
        r0 += 1
        may_goto out
        goto loop
out:
        r0 = 0
        exit
";

    // Linux 6.18 (the liveness table left out).
    const MAYGOTO_LOG: &str = "func#0 @0
0: R1=ctx() R10=fp0
0: (b7) r0 = 0                        ; R0=0
1: (07) r0 += 1
SCC enter (1)
2: R0=1
2: (e5) may_goto pc+1
4: (b7) r0 = 0                        ; R0=0
5: (95) exit

from 2 to 3: R0=1 R1=ctx() R10=fp0
3: R0=1 R1=ctx() R10=fp0
3: (05) goto pc-3
1: (07) r0 += 1                       ; R0=2
2: (e5) may_goto pc+1
4: (b7) r0 = 0                        ; R0=0
5: (95) exit

from 2 to 3: R0=scalar() R1=ctx() R10=fp0
3: R0=scalar() R1=ctx() R10=fp0
3: (05) goto pc-3
1: (07) r0 += 1                       ; R0=scalar()
2: (e5) may_goto pc+1
4: (b7) r0 = 0                        ; R0=0
5: (95) exit

from 2 to 3: R0=scalar() R1=ctx() R10=fp0
3: R0=scalar() R1=ctx() R10=fp0
3: (05) goto pc-3
1: (07) r0 += 1
SCC backedge (1)
2: safe
SCC exit (1)
verification time 178 usec
stack depth 16
processed 18 insns (limit 1000000) max_states_per_insn 2 total_states 3 peak_states 4 mark_read 0
";

    #[test]
    fn a_loop_ends_at_a_pruning_point() {
        let t = trace(MAYGOTO, MAYGOTO_LOG, true);
        // Each may_goto is a branch; each later path takes its fall-through.
        for p in 1..=3 {
            assert!(t.contains(&format!("path {} falls through to 3", p + 1)), "{t}");
            assert!(t.contains(&format!("path {}: the jump at 2 not taken, on to 3\n", p + 1)), "{t}");
        }
        // The value of r0 is widened to an unknown scalar, and the fourth
        // round is pruned at the may_goto.
        assert!(t.contains("\tstate\tR0=scalar() R1=ctx() R10=fp0\n"), "{t}");
        assert!(t.ends_with(
            "\t\t~ SCC backedge (1) (loop bookkeeping)\n\t\t-> at 2: safe: a state already verified there covers this one, the path stops\n\t\t~ SCC exit (1) (loop bookkeeping)\n"
        ), "{t}");
        // The state printed after the SCC line belongs to insn 1.
        assert!(t.contains("       1:\tr0 += 1\n\t\t~ SCC enter (1) (loop bookkeeping)\n\t\tR0=1\n"), "{t}");
        assert_eq!(t.matches("\npath ").count() + 1, 4, "{t}");
    }

    // Linux 6.18, built-in sock_ops: a jump the verifier decides (r9 is
    // known to be 10 there), precision backtracking, and the after-state
    // printed on its own line after the mark_precise lines.
    const DECIDED_LOG: &str = "0: R1=ctx() R10=fp0
0: (b7) r9 = 10                       ; R9=10
1: (15) if r9 == 0xa goto pc+1
mark_precise: frame0: last_idx 1 first_idx 0 subseq_idx -1 
mark_precise: frame0: regs=r9 stack= before 0: (b7) r9 = 10
1: R9=10
3: (95) exit
";

    #[test]
    fn a_decided_jump_and_precision() {
        let src = "        r9 = 10\n        if r9 == 10 goto out\n        r0 = 1\nout:\n        exit\n";
        let t = trace(src, DECIDED_LOG, true);
        assert!(t.contains("\t\t~ precise: r9 (walked back to 0)\n"), "{t}");
        assert!(t.contains("\t\t-> jumps to 3 (out); falling through cannot happen in this state\n"), "{t}");
        // Rejected programs: the verifier stopped, nothing is known of the other way.
        let t = trace(src, DECIDED_LOG, false);
        assert!(t.contains("\t\t-> jumps to 3 (out); the other way was not explored\n"), "{t}");
    }

    // Linux 6.18, clang's xdp.o: a path that starts inside a callee (frame 1)
    // and returns to a caller whose state it has not seen.
    const FRAME1_LOG: &str = "0: R1=ctx() R10=fp0
0: (bf) r1 = r1                       ; R1=ctx()
1: (85) call pc+1
caller:
 R10=fp0
callee:
 frame1: R1=ctx() R10=fp0
3: frame1: R1=ctx() R10=fp0
3: (b7) r0 = 1                        ; frame1: R0=1
4: (15) if r1 == 0x8 goto pc+1
5: (b7) r0 = 3                        ; frame1: R0=3
6: (95) exit
returning from callee:
 frame1: R0=3 R1=ctx() R10=fp0
to caller at 2:
 R0=3 R10=fp0

from 6 to 2: R0=3 R10=fp0
2: (95) exit

from 4 to 6: frame1: R0=1 R1=8 R10=fp0
6: frame1: R0=1 R1=8 R10=fp0
6: (95) exit
returning from callee:
 frame1: R0=1 R1=8 R10=fp0
to caller at 2:
 R0=1 R6=0 R10=fp0 fp-8=0000????

from 6 to 2: R0=1 R6=0 R10=fp0 fp-8=0000????
2: (95) exit
";

    #[test]
    fn a_path_can_start_in_a_callee() {
        let src = "        r1 = r1\n        call f\n        exit\nf:\n        r0 = 1\n        if r1 == 8 goto +1\n        r0 = 3\n        exit\n";
        let t = trace(src, FRAME1_LOG, true);
        assert!(t.contains("\t\t-> falls through to 5; path 2 takes the jump to 6\n"), "{t}");
        let tail = "path 2: the jump at 4 taken, to 6
\tstate\tframe1: R0=1 R1=8 R10=fp0
       6:\texit
\t\t-> returns to 2: frame 0
\tstate\tR0=1 R6=0 R10=fp0 fp-8=0000????
       2:\texit
";
        assert!(t.ends_with(tail), "{t}");
        assert_eq!(t.matches("path ").count(), 3, "{t}");
    }

    #[test]
    fn rejection_messages_and_unknown_lines_are_shown_as_they_are() {
        let log = "0: R1=ctx() R10=fp0
0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=pkt(r=0)
1: (71) r0 = *(u8 *)(r2 +0)
invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)
R2 offset is outside of the packet
some line a future kernel prints
processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";
        let src = "        r2 = *(u32 *)(r1 + 0)\n        r0 = *(u8 *)(r2 + 0)\n        exit\n";
        let t = trace(src, log, false);
        assert!(t.ends_with(
            "       1:\tr0 = *(u8 *)(r2 + 0)\n\t\tregisters there: R1=ctx() R2=pkt(r=0) R10=fp0\ninvalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)\nR2 offset is outside of the packet\nsome line a future kernel prints\n"
        ), "{t}");
        // A slot outside the listing: the verifier's own text.
        let t = trace("        exit\n", "0: R1=ctx() R10=fp0\n7: (95) exit\n", true);
        assert!(t.contains("       7:\texit (as the verifier prints it)\n"), "{t}");
    }

    // Linux 6.18, docs/isa.md's mapget_fixed.s: a helper call and a null check.
    const MAPGET_LOG: &str = "0: R1=ctx() R10=fp0
0: (62) *(u32 *)(r10 -4) = 0          ; R10=fp0 fp-8=0000????
1: (18) r1 = 0xffff888148d8e800       ; R1=map_ptr(map=counters,ks=4,vs=8)
3: (bf) r2 = r10                      ; R2=fp0 R10=fp0
4: (07) r2 += -4                      ; R2=fp-4
5: (85) call bpf_map_lookup_elem#1    ; R0=map_value_or_null(id=1,map=counters,ks=4,vs=8)
6: (15) if r0 == 0x0 goto pc+1        ; R0=map_value(map=counters,ks=4,vs=8)
7: (79) r0 = *(u64 *)(r0 +0)          ; R0=scalar()
8: (95) exit
(0) frame 0 insn 5 +live -8 
(0) frame 0 insn 0 +live -8 
(0) live stack update done in 2 iterations

from 6 to 8: safe
verification time 189 usec
stack depth 8
processed 9 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
";

    #[test]
    fn a_helper_call_clears_the_argument_registers() {
        let src = "        *(u32 *)(r10 - 4) = 0
        r1 = 0 ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
out:
        exit
";
        let t = trace(src, MAPGET_LOG, true);
        let want = "       5:\tcall 1 ; bpf_map_lookup_elem
\t\tR0=map_value_or_null(id=1,map=counters,ks=4,vs=8)
\t\t(r1-r5 are unreadable after a call)
       6:\tif r0 == 0 goto +1 ; -> out
\t\tR0=map_value(map=counters,ks=4,vs=8)
\t\t-> falls through to 7; path 2 takes the jump to 8 (out)
       7:\tr0 = *(u64 *)(r0 + 0)
\t\tR0=scalar()
out:
       8:\texit

path 2: the jump at 6 taken, to 8 (out): safe, pruned at once
";
        assert!(t.contains(want), "{t}");
        // The map a `lddw` names comes from the verifier's state.
        assert!(t.contains("       1:\tr1 = 0 ll\n\t\tR1=map_ptr(map=counters,ks=4,vs=8)\n       3:"), "{t}");
    }

    #[test]
    fn lines_are_classified() {
        use Line::*;
        let cases: &[(&str, Line)] = &[
            ("func#1 @22", Func { func: 1, insn: 22 }),
            ("36: safe", Safe { idx: 36 }),
            ("44: R9=10", State { idx: 44, state: "R9=10" }),
            ("3: frame1: R1=ctx() R10=fp0", State { idx: 3, state: "frame1: R1=ctx() R10=fp0" }),
            ("2: (15) if r9 == 0x4 goto pc+5", Insn { idx: 2, text: "if r9 == 0x4 goto pc+5", after: None }),
            (
                "42: (85) call bpf_get_netns_cookie#122        ; R0=scalar()",
                Insn { idx: 42, text: "call bpf_get_netns_cookie#122", after: Some("R0=scalar()") },
            ),
            (
                "from 9 to 20: R1=ctx() R2=10",
                From { from: 9, to: 20, speculative: false, state: Some("R1=ctx() R2=10") },
            ),
            ("from 203 to 214: safe", From { from: 203, to: 214, speculative: false, state: None }),
            (
                "from 1 to 3 (speculative execution): R1=ctx()",
                From { from: 1, to: 3, speculative: true, state: Some("R1=ctx()") },
            ),
            ("to caller at 13:", ToCaller { idx: 13 }),
            (" frame1: R1=3 R10=fp0", Indented("frame1: R1=3 R10=fp0")),
            ("(0) frame 0 insn 5 +live -8 ", StackLiveness),
            ("(0) live stack update done in 2 iterations", StackLiveness),
            ("frame 0: propagating r9", Precise("frame 0: propagating r9")),
            ("stack depth 8+0+0", Stats),
            ("R0 !read_ok", Other("R0 !read_ok")),
            ("12: what", Other("12: what")),
            ("15:", Blank),
            ("from x to y: z", Other("from x to y: z")),
        ];
        for (l, want) in cases {
            assert_eq!(&classify(l, false), want, "{l}");
        }
        let glued = "7: (15) if r6 == 0x0 goto pc+6 14: R0=ringbuf_mem(ref_obj_id=2,sz=8) R6=0 R10=fp0 refs=2";
        assert_eq!(
            unglue(glued).collect::<Vec<_>>(),
            ["7: (15) if r6 == 0x0 goto pc+6", "14: R0=ringbuf_mem(ref_obj_id=2,sz=8) R6=0 R10=fp0 refs=2"]
        );
        let whole = "6: (15) if r0 == 0x0 goto pc+7        ; R0=ringbuf_mem(ref_obj_id=2,sz=8) refs=2";
        assert_eq!(unglue(whole).collect::<Vec<_>>(), [whole]);
        assert_eq!(unglue("12: (95) exit").collect::<Vec<_>>(), ["12: (95) exit"]);
        assert_eq!(classify("  1   2: 01........ (0f) r0 += r1", true), Liveness);
        assert_eq!(classify("      0: .1........ (bf) r6 = r1", true), Liveness);
    }

    #[test]
    fn any_cut_or_corruption_of_a_log_renders() {
        let (insns, opts) = program(CALL);
        for log in [BOUNDS_LOG, CALL_LOG, MAYGOTO_LOG, FRAME1_LOG] {
            for cut in (0..=log.len()).filter(|c| log.is_char_boundary(*c)) {
                let _ = render(&insns, &opts, &log[..cut], false);
                let _ = render(&insns, &opts, &log[cut..], true);
            }
            let _ = render(
                &insns,
                &opts,
                "0: frame4000000000: R1=1\n1: (85) call pc+1\ncallee:\n frame99999999: R1=2\n",
                true,
            );
            // Byte flips into characters the parser looks for.
            let bytes = log.as_bytes();
            for (i, c) in [b':', b' ', b'(', b')', b'=', b'9', b'\n'].iter().cycle().take(2000).enumerate() {
                let mut b = bytes.to_vec();
                let at = (i * 7919) % b.len();
                b[at] = *c;
                let _ = render(&insns, &opts, &String::from_utf8_lossy(&b), i % 2 == 0);
            }
        }
    }
}
