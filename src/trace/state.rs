//! The verifier's state along one path, rebuilt from its log: one
//! [`Tracker`] for `verify --trace` and for the rejection view's `registers
//! there:`, so both print the same state at the same instruction.
//!
//! The log gives two kinds of state. A *full* state line lists every
//! readable register and stack slot of one frame
//! (`print_verifier_state(.., print_all=true)`): `0: R1=ctx() R10=fp0` at the
//! entry, `from 9 to 20: ...` when a saved path is taken back up, the
//! `callee:` and `to caller at N:` states of a BPF-to-BPF call. After an
//! instruction, `; R2=...`, and `12: R2=...` before one, list only what the
//! verifier *touched* since it last printed (`print_all=false`), so between
//! full lines the state is rebuilt by merging those in, plus what the
//! verifier does that it does not print:
//!
//! - a helper or kfunc call leaves r1-r5 unreadable (`mark_reg_not_init`);
//! - a comparison narrows every register and spilled slot linked to the
//!   compared one: a scalar copy with the same `id` gets the same bounds
//!   (`sync_linked_regs`), a packet pointer with the same `id` the same
//!   proven range `r` (`find_good_pkt_pointers`), and a null check makes
//!   every copy of a `_or_null` pointer non-null or 0 (`mark_ptr_or_null_regs`).
//!
//! Where the log leaves a change out that cannot be replayed exactly (copies
//! linked with an offset, a reference whose copies a call may release), the
//! frame's state is marked *not known* until the next full line: printing
//! nothing is better than printing a guess.

use super::{MAX_FRAMES, Regs, show_pairs, tokens};

/// One frame's registers and slots, and whether they are the whole state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Frame {
    pub regs: Regs,
    pub known: bool,
}

/// What one step changed, for the trace to print.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Change {
    /// The frame the step is about.
    pub frame: usize,
    /// Registers and slots the step set, as the log printed them.
    pub changed: Vec<(String, String)>,
    /// Set because a comparison proved it for a linked register: (frame,
    /// key, new value, the compared register).
    pub linked: Vec<(usize, String, String, String)>,
    /// Keys a full state line no longer has (unreadable now).
    pub dropped: Vec<String>,
    /// The state is not known from here on, and why.
    pub lost: Option<&'static str>,
}

/// The frames of the path being walked, innermost last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tracker {
    frames: Vec<Frame>,
    cur: usize,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker { frames: vec![Frame::default()], cur: 0 }
    }
}

const ARGS: [&str; 5] = ["R1", "R2", "R3", "R4", "R5"];

/// `pkt(id=2,off=14,r=0)` → (`pkt`, [`id=2`, `off=14`, `r=0`]): the type and
/// its fields (commas inside nested parentheses do not split). A value
/// without parentheses (`0`, `fp-8`, `mmmm`) has no fields.
fn fields(v: &str) -> (&str, Vec<&str>) {
    let v = v.strip_prefix('P').filter(|r| r.contains('(')).unwrap_or(v);
    let Some(open) = v.find('(') else { return (v, Vec::new()) };
    let inner = v[open + 1..].strip_suffix(')').unwrap_or(&v[open + 1..]);
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < inner.len() {
        out.push(&inner[start..]);
    }
    (&v[..open], out)
}

fn field<'a>(v: &'a str, name: &str) -> Option<&'a str> {
    fields(v).1.into_iter().find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
}

/// A packet pointer (`pkt`, `pkt_meta`; not `pkt_end`): its id and proven range.
fn packet(v: &str) -> Option<(Option<&str>, u64)> {
    let (ty, _) = fields(v);
    if ty != "pkt" && ty != "pkt_meta" {
        return None;
    }
    Some((field(v, "id"), field(v, "r")?.parse().ok()?))
}

/// `v` with its `r=` field set to `r`.
fn with_range(v: &str, r: u64) -> String {
    let (ty, fs) = fields(v);
    let prefix = if v.starts_with('P') && !ty.starts_with('P') { "P" } else { "" };
    let fs: Vec<String> =
        fs.iter().map(|f| if f.starts_with("r=") { format!("r={r}") } else { f.to_string() }).collect();
    format!("{prefix}{ty}({})", fs.join(","))
}

/// The value without its precision mark (`Pscalar(..)`, `P5`).
fn unmarked(v: &str) -> &str {
    v.strip_prefix('P').filter(|r| !r.is_empty()).unwrap_or(v)
}

impl Tracker {
    /// The frame the path is in.
    pub fn current(&self) -> usize {
        self.cur
    }

    /// The whole state of the current frame, if the log let it be known.
    pub fn render(&self) -> Option<String> {
        let f = self.frames.get(self.cur)?;
        f.known.then(|| show_pairs(self.cur, &f.regs.0))
    }

    fn frame_mut(&mut self, f: usize) -> &mut Frame {
        let f = f.min(MAX_FRAMES);
        while self.frames.len() <= f {
            self.frames.push(Frame::default());
        }
        &mut self.frames[f]
    }

    /// A path starts with this full state (None: the path was pruned at
    /// once, nothing is walked).
    pub fn start(&mut self, state: Option<&str>) -> usize {
        *self = Tracker::default();
        match state {
            Some(s) => self.full(s).frame,
            None => 0,
        }
    }

    /// A full state line: it replaces its frame's state (frame 0 unless it
    /// names another); deeper frames are gone.
    pub fn full(&mut self, s: &str) -> Change {
        let (f, regs) = Regs::full(s);
        let f = f.unwrap_or(0).min(MAX_FRAMES);
        self.frames.truncate(f + 1);
        let old = self.frame_mut(f).clone();
        let mut ch = Change { frame: f, ..Default::default() };
        if old.known {
            ch.changed = regs.0.iter().filter(|p| !old.regs.0.contains(p)).cloned().collect();
            ch.dropped = old
                .regs
                .0
                .iter()
                .filter(|(k, _)| !regs.0.iter().any(|(rk, _)| rk == k))
                .map(|(k, _)| k.clone())
                .collect();
        }
        *self.frame_mut(f) = Frame { regs, known: true };
        self.cur = f;
        ch
    }

    /// The state an instruction printed after itself (`; R2=...`): merged
    /// into the frame it names. `written`: the register the instruction
    /// wrote, reported even if its value prints as before. `compare`: the
    /// instruction is a conditional jump, whose proof also holds for every
    /// register and slot linked to the compared ones.
    pub fn after(&mut self, s: &str, written: Option<&str>, compare: bool) -> Change {
        let (f, _) = Regs::parse(tokens(s).first().copied().unwrap_or(""));
        let f = f.unwrap_or(0).min(MAX_FRAMES);
        self.cur = f;
        let before = self.frame_mut(f).regs.clone();
        let (_, changed) = self.frame_mut(f).regs.merge(s, written);
        let mut ch = Change { frame: f, changed, ..Default::default() };
        if compare {
            for (k, new) in ch.changed.clone() {
                let Some((_, old)) = before.0.iter().find(|(rk, _)| *rk == k) else { continue };
                self.link(f, &k, old, &new, &mut ch);
            }
        }
        ch
    }

    /// The comparison proved `new` for `k` (was `old`): the same for what
    /// is linked to it, in every frame.
    fn link(&mut self, f: usize, k: &str, old: &str, new: &str, ch: &mut Change) {
        let id = field(old, "id");
        let old_pkt = packet(old);
        let new_pkt = packet(new);
        if id.is_none() && old_pkt.is_none() {
            return;
        }
        let (old_ty, _) = fields(old);
        for (fi, frame) in self.frames.iter_mut().enumerate() {
            for (rk, v) in frame.regs.0.iter_mut() {
                if fi == f && rk == k {
                    continue;
                }
                let set = if unmarked(v) == unmarked(old) && id.is_some() {
                    // A copy: the same tracked value, now what the comparison proved.
                    Some(new.to_string())
                } else if let (Some((pid, r)), Some((oid, _)), Some((nid, nr))) = (packet(v), old_pkt, new_pkt)
                    && pid == oid
                    && oid == nid
                    && fields(v).0 == old_ty
                {
                    // Another offset into the same packet: the proven range grows.
                    (nr > r).then(|| with_range(v, nr))
                } else if id.is_some() && field(v, "id") == id && fields(v).0 == old_ty {
                    // Linked with an offset: the kernel adjusts it, the log does not say how.
                    frame.known = false;
                    ch.lost = Some("a register linked to the compared one with an offset changed too");
                    None
                } else {
                    None
                };
                if let Some(nv) = set {
                    *v = nv.clone();
                    ch.linked.push((fi, rk.clone(), nv, k.to_string()));
                }
            }
        }
    }

    /// A helper or kfunc call, before its `; R0=...`: r1-r5 become
    /// unreadable. Whether one of them held something. If an argument
    /// holds a reference (`ref_obj_id=N`) that some other register or slot
    /// shares, the call may release it and change those: not known then.
    pub fn helper_call(&mut self, ch: &mut Change) -> bool {
        let cur = self.cur;
        let refs: Vec<String> = self
            .frame_mut(cur)
            .regs
            .0
            .iter()
            .filter(|(k, _)| ARGS.contains(&k.as_str()))
            .filter_map(|(_, v)| field(v, "ref_obj_id").map(str::to_string))
            .filter(|r| r != "0")
            .collect();
        let clobbered = self.frame_mut(cur).regs.clobber_args();
        for (fi, frame) in self.frames.iter_mut().enumerate() {
            // The call writes r0 itself (its after-state says how).
            let shared = frame.regs.0.iter().any(|(k, v)| {
                !(fi == cur && k == "R0") && field(v, "ref_obj_id").is_some_and(|r| refs.iter().any(|x| x == r))
            });
            if shared && frame.known {
                frame.known = false;
                ch.lost = Some("the call may release a reference other registers or slots hold");
            }
        }
        clobbered
    }

    /// A BPF-to-BPF call enters the callee with this full state.
    pub fn enter(&mut self, callee: &str) -> usize {
        let (f, regs) = Regs::full(callee);
        let f = f.unwrap_or(self.cur + 1).min(MAX_FRAMES);
        self.frames.truncate(f);
        self.frame_mut(f);
        self.frames[f] = Frame { regs, known: true };
        self.cur = f;
        f
    }

    /// Back in the caller (frame `cur - 1`) with its full state, if the log
    /// printed it; without it r1-r5 are gone and r0 is the callee's,
    /// which the log did not say: not known.
    pub fn leave(&mut self, caller: Option<&str>) -> Change {
        let f = self.cur.saturating_sub(1);
        self.frames.truncate(f + 1);
        self.cur = f;
        match caller {
            Some(c) => {
                let (_, regs) = Regs::full(c);
                let old = self.frame_mut(f).clone();
                let mut ch = Change { frame: f, ..Default::default() };
                if old.known {
                    ch.changed = regs.0.iter().filter(|p| !old.regs.0.contains(p) || p.0 == "R0").cloned().collect();
                    ch.dropped = old
                        .regs
                        .0
                        .iter()
                        .filter(|(k, _)| !regs.0.iter().any(|(rk, _)| rk == k))
                        .map(|(k, _)| k.clone())
                        .collect();
                }
                self.frames[f] = Frame { regs, known: true };
                ch
            }
            None => {
                let fr = self.frame_mut(f);
                fr.regs.clobber_args();
                fr.regs.0.retain(|(k, _)| k != "R0");
                fr.known = false;
                Change {
                    frame: f,
                    lost: Some("the log does not print the caller's state after the return"),
                    ..Default::default()
                }
            }
        }
    }

    /// Whether frame `f` was known before this step (the trace prints a
    /// whole state where it was not).
    pub fn known(&self, f: usize) -> bool {
        self.frames.get(f).is_some_and(|x| x.known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_values() {
        assert_eq!(fields("pkt(id=2,off=14,r=0)"), ("pkt", vec!["id=2", "off=14", "r=0"]));
        assert_eq!(fields("scalar(smin=0,var_off=(0x0; 0xff))"), ("scalar", vec!["smin=0", "var_off=(0x0; 0xff)"]));
        assert_eq!(fields("Pscalar(id=1)"), ("scalar", vec!["id=1"]));
        assert_eq!(fields("P5"), ("P5", vec![]));
        assert_eq!(packet("pkt(off=12,r=12)"), Some((None, 12)));
        assert_eq!(packet("pkt_end()"), None);
        assert_eq!(with_range("pkt(id=3,off=2,r=0)", 14), "pkt(id=3,off=2,r=14)");
    }

    #[test]
    fn a_packet_check_proves_the_range_for_every_pointer_with_the_same_id() {
        let mut t = Tracker::default();
        t.start(Some("R1=ctx() R10=fp0"));
        t.after("R1=ctx() R2=pkt(r=0)", Some("R2"), false);
        t.after("R2=pkt(r=0) R4=pkt(r=0)", Some("R4"), false);
        t.after("R4=pkt(off=12,r=0)", Some("R4"), false);
        t.after("fp-8=pkt(r=0)", None, false);
        t.after("R7=pkt(id=1,r=0)", None, false);
        let ch = t.after("R3=pkt_end() R4=pkt(off=12,r=12)", None, true);
        assert_eq!(ch.linked.len(), 2, "{ch:?}");
        assert_eq!(
            t.render().unwrap(),
            "R1=ctx() R2=pkt(r=12) R3=pkt_end() R4=pkt(off=12,r=12) R7=pkt(id=1,r=0) R10=fp0 fp-8=pkt(r=12)"
        );
    }

    #[test]
    fn a_comparison_narrows_copies_and_a_null_check_every_copy() {
        let mut t = Tracker::default();
        t.start(Some("R1=scalar(id=1,umax=255) R2=scalar(id=1,umax=255) R3=map_value_or_null(id=2,ks=4,vs=8) R6=map_value_or_null(id=2,ks=4,vs=8) R10=fp0"));
        t.after("R1=scalar(id=1,umax=9)", None, true);
        t.after("R3=map_value(ks=4,vs=8)", None, true);
        assert_eq!(
            t.render().unwrap(),
            "R1=scalar(id=1,umax=9) R2=scalar(id=1,umax=9) R3=map_value(ks=4,vs=8) R6=map_value(ks=4,vs=8) R10=fp0"
        );
        // A copy with an offset: the kernel moves it by its delta; not known.
        let mut t = Tracker::default();
        t.start(Some("R1=scalar(id=1,umax=255) R2=scalar(id=1,off=4,umax=255) R10=fp0"));
        let ch = t.after("R1=scalar(id=1,umax=9)", None, true);
        assert!(ch.lost.is_some());
        assert_eq!(t.render(), None);
    }

    #[test]
    fn calls_and_returns() {
        let mut t = Tracker::default();
        t.start(Some("R1=ctx() R10=fp0"));
        t.after("R1=scalar()", Some("R1"), false);
        assert_eq!(t.enter("frame1: R1=scalar() R10=fp0"), 1);
        t.after("frame1: R0=scalar()", Some("R0"), false);
        assert_eq!(t.render().unwrap(), "frame1: R0=scalar() R1=scalar() R10=fp0");
        let ch = t.leave(Some("R0=scalar() R10=fp0"));
        assert_eq!(ch.dropped, ["R1"]);
        assert_eq!(t.render().unwrap(), "R0=scalar() R10=fp0");
        // A release: copies of the reference change where the log does not say.
        let mut t = Tracker::default();
        t.start(Some("R1=sock(ref_obj_id=3) R6=sock(ref_obj_id=3) R10=fp0"));
        let mut ch = Change::default();
        assert!(t.helper_call(&mut ch));
        assert!(ch.lost.is_some());
        assert_eq!(t.render(), None);
        t.full("R0=0 R10=fp0");
        assert_eq!(t.render().unwrap(), "R0=0 R10=fp0");
    }
}
