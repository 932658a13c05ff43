//! Disassembly text in llvm-objdump's syntax, and annotated listings.
//!
//! `impl Display for Insn` prints exactly what `llvm-objdump-19 -d
//! --no-print-imm-hex` prints for the same bytes (without the ` <.text+0x..>`
//! branch-target suffix objdump adds), except where LLVM's text is wrong,
//! `<unknown>`, or does not assemble back to the same bytes. Those deviations
//! are listed below (and in `docs/isa-deviations.md`); every other form is
//! checked line by line against llvm-objdump-19 and reassembled with
//! llvm-mc-19 by `tests/integration/disasm.rs`.
//!
//! | Encoding | llvm-objdump-19 prints | sockasm prints | Why |
//! |---|---|---|---|
//! | STX ATOMIC W, `FETCH_ADD` (`c3`, imm `0x01`) | `lock *(u32 *)(r1 + 8) += r2` | `w2 = atomic_fetch_add((u32 *)(r1 + 8), w2)` | objdump's text is a different instruction (the non-fetching add, imm `0x00`) |
//! | STX ATOMIC W, `OR`/`AND`/`XOR` | `<unknown>` | `lock *(u32 *)(r1 + 8) \|= w2` (`&=`, `^=`) | objdump decodes these only with `--mcpu=v4`/`--mattr=+alu32`; we print that form, which llvm-mc-19 assembles to the same bytes |
//! | STX ATOMIC W, `FETCH_OR`/`FETCH_AND`/`FETCH_XOR` | `<unknown>` | `w2 = atomic_fetch_or((u32 *)(r1 + 8), w2)` | as above |
//! | STX ATOMIC W, `XCHG` | `<unknown>` | `w2 = xchg32_32(r1 + 8, w2)` | as above |
//! | STX ATOMIC W, `CMPXCHG` | `<unknown>` | `w0 = cmpxchg32_32(r1 + 16, w0, w2)` | as above |
//! | `lddw` src 1 (map fd) | `ld_pseudo r1, 1, 5` | `r1 = map_fd(5) ll` | sockasm's named form (LLVM has no name for it; llvm-mc does not accept ours) |
//! | `lddw` src 2 (map value) | `ld_pseudo r1, 2, 5` | `r1 = map_value(5, 16) ll` | objdump drops the second slot's imm (the value offset) |
//! | `lddw` src 3 (BTF id) | `ld_pseudo r1, 3, 123` | `r1 = btf_id(123, 0) ll` | objdump drops the second imm (the BTF object fd) |
//! | `lddw` src 4 (function) | `ld_pseudo r1, 4, 3` (negative offsets as unsigned) | `r1 = func(+3) ll` | named, signed slot offset |
//! | `lddw` src 5 (map index) | `ld_pseudo r1, 5, 0` | `r1 = map_idx(0) ll` | named form |
//! | `lddw` src 6 (map index + value) | `ld_pseudo r1, 6, 0` | `r1 = map_idx_value(0, 8) ll` | objdump drops the second imm |
//! | `call` src 1 (BPF-to-BPF) | `call 3` | `call func(+3)` | objdump's text is a helper call (src 0) when reassembled; llvm-mc can only write local calls to a label |
//! | `call` src 2 (kfunc) | `call 123` | `call kfunc(123)`, `call kfunc(123, 5)` (off = module BTF fd index) | objdump's text is a helper call when reassembled, and drops `off` |
//! | LD_IND with imm ≠ 0 | `r0 = *(u8 *)skb[r2]` | `r0 = *(u8 *)skb[r2 + 4]` | objdump drops the imm; llvm-mc-19 cannot parse `skb[r2 + 4]` (with imm 0 both print, and llvm-mc assembles, `skb[r2]`) |
//!
//! Not deviations in the text, but forms llvm-mc-19 does not assemble back:
//! `gotol` with an offset outside -32768..=32767 (objdump and sockasm print
//! `gotol +70000`; llvm-mc-19 accepts only 16-bit literal offsets, or a label).
//!
//! Choices where LLVM offers two spellings: 32-bit loads and stores print
//! `r0 = *(u32 *)(r1 + 20)` and `*(u32 *)(r1 + 2) = r3` (what llvm-objdump-19
//! prints by default; `w0 = ...`/`= w3` is its `--mcpu=v4` output; llvm-mc
//! assembles both to the same bytes), and STX ATOMIC W `ADD` prints
//! `lock *(u32 *)(r1 + 8) += r2` (objdump's default text, which round-trips).

use super::helpers::helper_name;
use super::insn::*;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io;

/// Separates an instruction's text from its annotations in a listing.
pub const ANNOTATION_SEP: &str = " ; ";

/// A register printed as its 32-bit half, `wN`.
struct W(Reg);
impl fmt::Display for W {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0.index())
    }
}

/// A register printed `rN` or `wN` by width.
struct R(Width, Reg);
impl fmt::Display for R {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = if self.0 == Width::W32 { 'w' } else { 'r' };
        write!(f, "{c}{}", self.1.index())
    }
}

/// `(rN + off)` / `(rN - off)`.
struct Mem(Reg, i16);
impl fmt::Display for Mem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let off = self.1 as i32;
        if off < 0 { write!(f, "({} - {})", self.0, -off) } else { write!(f, "({} + {})", self.0, off) }
    }
}

/// `rN + off` without parentheses (xchg/cmpxchg operands).
struct Addr(Reg, i16);
impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let off = self.1 as i32;
        if off < 0 { write!(f, "{} - {}", self.0, -off) } else { write!(f, "{} + {}", self.0, off) }
    }
}

fn size_name(size: Size, signed: bool) -> &'static str {
    match (size, signed) {
        (Size::B, false) => "u8",
        (Size::H, false) => "u16",
        (Size::W, false) => "u32",
        (Size::DW, false) => "u64",
        (Size::B, true) => "s8",
        (Size::H, true) => "s16",
        (Size::W, true) => "s32",
        (Size::DW, true) => "s64",
    }
}

/// The compound-assignment operator of an ALU operation (`+=`), or `None`
/// for moves.
pub fn alu_op_text(op: Alu) -> Option<&'static str> {
    Some(match op {
        Alu::Add => "+=",
        Alu::Sub => "-=",
        Alu::Mul => "*=",
        Alu::Div => "/=",
        Alu::Sdiv => "s/=",
        Alu::Or => "|=",
        Alu::And => "&=",
        Alu::Lsh => "<<=",
        Alu::Rsh => ">>=",
        Alu::Arsh => "s>>=",
        Alu::Mod => "%=",
        Alu::Smod => "s%=",
        Alu::Xor => "^=",
        Alu::Mov | Alu::Movsx8 | Alu::Movsx16 | Alu::Movsx32 => return None,
    })
}

/// The comparison operator of a conditional jump (`s<`).
pub fn jmp_op_text(op: Jmp) -> &'static str {
    match op {
        Jmp::Jeq => "==",
        Jmp::Jgt => ">",
        Jmp::Jge => ">=",
        Jmp::Jset => "&",
        Jmp::Jne => "!=",
        Jmp::Jsgt => "s>",
        Jmp::Jsge => "s>=",
        Jmp::Jlt => "<",
        Jmp::Jle => "<=",
        Jmp::Jslt => "s<",
        Jmp::Jsle => "s<=",
    }
}

/// The operator of a non-fetching atomic (`lock *(u64 *)(r1 + 8) += r2`).
fn atomic_op_text(op: AtomicOp) -> &'static str {
    match op {
        AtomicOp::Add | AtomicOp::FetchAdd => "+=",
        AtomicOp::Or | AtomicOp::FetchOr => "|=",
        AtomicOp::And | AtomicOp::FetchAnd => "&=",
        AtomicOp::Xor | AtomicOp::FetchXor => "^=",
        AtomicOp::Xchg | AtomicOp::Cmpxchg => "=",
    }
}

impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Insn::Alu { width, op, dst, src } => {
                let d = R(width, dst);
                match (op, src) {
                    (Alu::Movsx8 | Alu::Movsx16 | Alu::Movsx32, Src::Reg(s)) => {
                        let bits = match op {
                            Alu::Movsx8 => 8,
                            Alu::Movsx16 => 16,
                            _ => 32,
                        };
                        write!(f, "{d} = (s{bits}){}", R(width, s))
                    }
                    _ => {
                        let o = alu_op_text(op).unwrap_or("=");
                        match src {
                            Src::Imm(i) => write!(f, "{d} {o} {i}"),
                            Src::Reg(s) => write!(f, "{d} {o} {}", R(width, s)),
                        }
                    }
                }
            }
            Insn::Neg { width, dst } => write!(f, "{0} = -{0}", R(width, dst)),
            Insn::Endian { op, bits, dst } => {
                let name = match op {
                    Endian::Le => "le",
                    Endian::Be => "be",
                    Endian::Swap => "bswap",
                };
                write!(f, "{dst} = {name}{bits} {dst}")
            }
            Insn::Ja { off } => write!(f, "goto {off:+}"),
            Insn::Gotol { imm } => write!(f, "gotol {imm:+}"),
            Insn::JmpCond { width, op, dst, src, off } => {
                let o = jmp_op_text(op);
                match src {
                    Src::Imm(i) => write!(f, "if {} {o} {i} goto {off:+}", R(width, dst)),
                    Src::Reg(s) => write!(f, "if {} {o} {} goto {off:+}", R(width, dst), R(width, s)),
                }
            }
            Insn::Call(Call::Helper(id)) => write!(f, "call {id}"),
            Insn::Call(Call::Local(rel)) => write!(f, "call func({rel:+})"),
            Insn::Call(Call::Kfunc { btf_id, module: 0 }) => write!(f, "call kfunc({btf_id})"),
            Insn::Call(Call::Kfunc { btf_id, module }) => write!(f, "call kfunc({btf_id}, {module})"),
            Insn::Exit => f.write_str("exit"),
            Insn::MayGoto { off } => write!(f, "may_goto {off:+}"),
            Insn::Load { size, signed, dst, src, off } => {
                write!(f, "{dst} = *({} *){}", size_name(size, signed), Mem(src, off))
            }
            Insn::StoreImm { size, dst, off, imm } => {
                write!(f, "*({} *){} = {imm}", size_name(size, false), Mem(dst, off))
            }
            Insn::Store { size, dst, src, off } => {
                write!(f, "*({} *){} = {src}", size_name(size, false), Mem(dst, off))
            }
            Insn::Atomic { size, op, dst, src, off } => fmt_atomic(f, size, op, dst, src, off),
            Insn::LdImm64 { dst, value } => match value {
                Imm64::Const(v) => write!(f, "{dst} = {} ll", v as i64),
                Imm64::MapFd(fd) => write!(f, "{dst} = map_fd({fd}) ll"),
                Imm64::MapValue { fd, off } => write!(f, "{dst} = map_value({fd}, {off}) ll"),
                Imm64::BtfId { id, btf_fd } => write!(f, "{dst} = btf_id({id}, {btf_fd}) ll"),
                Imm64::Func(rel) => write!(f, "{dst} = func({rel:+}) ll"),
                Imm64::MapIdx(i) => write!(f, "{dst} = map_idx({i}) ll"),
                Imm64::MapIdxValue { idx, off } => write!(f, "{dst} = map_idx_value({idx}, {off}) ll"),
            },
            Insn::LdAbs { size, imm } => write!(f, "r0 = *({} *)skb[{imm}]", size_name(size, false)),
            Insn::LdInd { size, src, imm } => {
                let s = size_name(size, false);
                let imm = imm as i64;
                if imm == 0 {
                    write!(f, "r0 = *({s} *)skb[{src}]")
                } else if imm < 0 {
                    write!(f, "r0 = *({s} *)skb[{src} - {}]", -imm)
                } else {
                    write!(f, "r0 = *({s} *)skb[{src} + {imm}]")
                }
            }
        }
    }
}

fn fmt_atomic(f: &mut fmt::Formatter<'_>, size: Size, op: AtomicOp, dst: Reg, src: Reg, off: i16) -> fmt::Result {
    let sz = size_name(size, false);
    let mem = Mem(dst, off);
    if size == Size::DW {
        return match op {
            AtomicOp::Add | AtomicOp::Or | AtomicOp::And | AtomicOp::Xor => {
                write!(f, "lock *({sz} *){mem} {} {src}", atomic_op_text(op))
            }
            AtomicOp::FetchAdd => write!(f, "{src} = atomic_fetch_add(({sz} *){mem}, {src})"),
            AtomicOp::FetchOr => write!(f, "{src} = atomic_fetch_or(({sz} *){mem}, {src})"),
            AtomicOp::FetchAnd => write!(f, "{src} = atomic_fetch_and(({sz} *){mem}, {src})"),
            AtomicOp::FetchXor => write!(f, "{src} = atomic_fetch_xor(({sz} *){mem}, {src})"),
            AtomicOp::Xchg => write!(f, "{src} = xchg_64({}, {src})", Addr(dst, off)),
            AtomicOp::Cmpxchg => write!(f, "r0 = cmpxchg_64({}, r0, {src})", Addr(dst, off)),
        };
    }
    // 32-bit (and, for robustness, any other size the decoder might one day
    // accept): llvm-objdump-19's default output for the non-fetching add,
    // else its `--mcpu=v4` (alu32) forms. See the table in the module docs.
    let s = W(src);
    match op {
        AtomicOp::Add => write!(f, "lock *({sz} *){mem} += {src}"),
        AtomicOp::Or | AtomicOp::And | AtomicOp::Xor => write!(f, "lock *({sz} *){mem} {} {s}", atomic_op_text(op)),
        AtomicOp::FetchAdd => write!(f, "{s} = atomic_fetch_add(({sz} *){mem}, {s})"),
        AtomicOp::FetchOr => write!(f, "{s} = atomic_fetch_or(({sz} *){mem}, {s})"),
        AtomicOp::FetchAnd => write!(f, "{s} = atomic_fetch_and(({sz} *){mem}, {s})"),
        AtomicOp::FetchXor => write!(f, "{s} = atomic_fetch_xor(({sz} *){mem}, {s})"),
        AtomicOp::Xchg => write!(f, "{s} = xchg32_32({}, {s})", Addr(dst, off)),
        AtomicOp::Cmpxchg => write!(f, "w0 = cmpxchg32_32({}, w0, {s})", Addr(dst, off)),
    }
}

/// What a listing shows besides the instructions.
#[derive(Clone, Debug)]
pub struct ListingOptions {
    /// Append ` ; ...` annotations: branch targets, helper names, `comments`.
    pub annotate: bool,
    /// Label names by slot: printed as `name:` lines before the slot, and
    /// used to name branch targets.
    pub labels: BTreeMap<usize, String>,
    /// Extra per-slot annotations supplied by the caller (ctx field names,
    /// map names, ...), appended after the built-in ones.
    pub comments: BTreeMap<usize, String>,
}

impl Default for ListingOptions {
    fn default() -> ListingOptions {
        ListingOptions { annotate: true, labels: BTreeMap::new(), comments: BTreeMap::new() }
    }
}

impl ListingOptions {
    /// No annotations, no labels: the body of `llvm-objdump -d --no-show-raw-insn`.
    pub fn plain() -> ListingOptions {
        ListingOptions { annotate: false, ..ListingOptions::default() }
    }
}

/// Where a branch at `slot` lands, and whether that is an instruction start.
struct Target {
    slot: i64,
    valid: bool,
}

fn branch_target(insns: &[(usize, Insn)], slot: usize, insn: &Insn) -> Option<Target> {
    let rel = insn.branch_offset()?;
    let to = slot as i64 + 1 + rel;
    let valid = to >= 0 && insns.binary_search_by_key(&(to as u64), |(s, _)| *s as u64).is_ok();
    Some(Target { slot: to, valid })
}

/// Writes the annotation text of one instruction (without the leading
/// separator); returns whether anything was written.
fn write_annotation<W: fmt::Write>(
    w: &mut W,
    insns: &[(usize, Insn)],
    slot: usize,
    insn: &Insn,
    opts: &ListingOptions,
) -> Result<bool, fmt::Error> {
    let mut any = false;
    if let Some(t) = branch_target(insns, slot, insn) {
        let label = if t.slot >= 0 { opts.labels.get(&(t.slot as usize)) } else { None };
        match label {
            Some(name) => write!(w, "-> {name}")?,
            None => write!(w, "-> {}", t.slot)?,
        }
        if !t.valid {
            let end = insns.last().map_or(0, |(s, i)| s + i.slots()) as i64;
            let why = if t.slot >= 0 && t.slot < end { "middle of lddw" } else { "outside the program" };
            write!(w, " ({why})")?;
        }
        any = true;
    }
    let mut helper = None;
    if let Insn::Call(Call::Helper(id)) = insn {
        if let Some(name) = helper_name(*id) {
            w.write_str(name)?;
            helper = Some(name);
            any = true;
        }
    }
    // A caller's comment that repeats the helper name adds nothing.
    if let Some(c) = opts.comments.get(&slot).filter(|c| Some(c.as_str()) != helper) {
        if any {
            w.write_str(", ")?;
        }
        w.write_str(c)?;
        any = true;
    }
    Ok(any)
}

/// The annotation of the instruction at `slot` (what follows ` ; `), if any.
pub fn annotation(insns: &[(usize, Insn)], slot: usize, insn: &Insn, opts: &ListingOptions) -> Option<String> {
    let mut s = String::new();
    match write_annotation(&mut s, insns, slot, insn, opts) {
        Ok(true) => Some(s),
        _ => None,
    }
}

/// Adapts an `io::Write` to `fmt::Write`, keeping the first I/O error.
struct IoFmt<'a, W: io::Write> {
    inner: &'a mut W,
    error: Option<io::Error>,
}

impl<W: io::Write> fmt::Write for IoFmt<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.inner.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}

impl<W: io::Write> IoFmt<'_, W> {
    fn finish(self, r: fmt::Result) -> io::Result<()> {
        match (r, self.error) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(e)) => Err(e),
            (Err(_), None) => Err(io::Error::other("formatting failed")),
        }
    }
}

fn fmt_listing<W: fmt::Write>(w: &mut W, insns: &[(usize, Insn)], opts: &ListingOptions) -> fmt::Result {
    for (slot, insn) in insns {
        if let Some(name) = opts.labels.get(slot) {
            writeln!(w, "{name}:")?;
        }
        write!(w, "{slot:>8}:\t{insn}")?;
        if opts.annotate {
            // Annotations are rare enough that a probe into a scratch String
            // costs little; write straight through when there are none.
            if insn.branch_offset().is_some()
                || matches!(insn, Insn::Call(Call::Helper(_)))
                || opts.comments.contains_key(slot)
            {
                let mut ann = String::new();
                if write_annotation(&mut ann, insns, *slot, insn, opts)? {
                    w.write_str(ANNOTATION_SEP)?;
                    w.write_str(&ann)?;
                }
            }
        }
        w.write_char('\n')?;
    }
    Ok(())
}

/// Writes a listing: one line per instruction in llvm-objdump's
/// `--no-show-raw-insn` format (`{slot:>8}:\t{text}`), with annotations.
pub fn write_listing<W: io::Write>(out: &mut W, insns: &[(usize, Insn)], opts: &ListingOptions) -> io::Result<()> {
    let mut a = IoFmt { inner: out, error: None };
    let r = fmt_listing(&mut a, insns, opts);
    a.finish(r)
}

/// A listing as a string (see [`write_listing`]).
pub fn listing(insns: &[(usize, Insn)], opts: &ListingOptions) -> String {
    let mut s = String::with_capacity(insns.len() * 40);
    fmt_listing(&mut s, insns, opts).expect("formatting into a String cannot fail");
    s
}

/// Pairs each instruction of an assembled program with its slot.
pub fn with_slots(insns: &[Insn]) -> Vec<(usize, Insn)> {
    let mut slot = 0;
    insns
        .iter()
        .map(|i| {
            let at = slot;
            slot += i.slots();
            (at, *i)
        })
        .collect()
}

/// Writes `s` as a JSON string literal.
fn json_str<W: fmt::Write>(w: &mut W, s: &str) -> fmt::Result {
    w.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            '\r' => w.write_str("\\r")?,
            '\t' => w.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(w, "\\u{:04x}", c as u32)?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

fn fmt_json_insns<W: fmt::Write>(
    w: &mut W,
    insns: &[(usize, Insn)],
    bytes: Option<&[u8]>,
    opts: &ListingOptions,
) -> fmt::Result {
    w.write_str("[")?;
    let mut text = String::new();
    let mut ann = String::new();
    for (n, (slot, insn)) in insns.iter().enumerate() {
        if n > 0 {
            w.write_char(',')?;
        }
        text.clear();
        write!(text, "{insn}")?;
        write!(w, "{{\"slot\":{slot},\"text\":")?;
        json_str(w, &text)?;
        w.write_str(",\"bytes\":")?;
        let width = insn.slots() * 8;
        let raw: Option<Vec<u8>> = match bytes.and_then(|b| b.get(slot * 8..slot * 8 + width)) {
            Some(b) => Some(b.to_vec()),
            None => insn.to_bytes().ok(),
        };
        match raw {
            Some(b) => {
                w.write_char('"')?;
                for (i, x) in b.iter().enumerate() {
                    if i > 0 {
                        w.write_char(' ')?;
                    }
                    write!(w, "{x:02x}")?;
                }
                w.write_char('"')?;
            }
            None => w.write_str("null")?,
        }
        if let Some(l) = opts.labels.get(slot) {
            w.write_str(",\"label\":")?;
            json_str(w, l)?;
        }
        w.write_str(",\"annotation\":")?;
        ann.clear();
        if opts.annotate && write_annotation(&mut ann, insns, *slot, insn, opts)? {
            json_str(w, &ann)?;
        } else {
            w.write_str("null")?;
        }
        w.write_char('}')?;
    }
    w.write_str("]")
}

/// Writes `{"insns":[{"slot":0,"text":"...","bytes":"b7 00 ...","annotation":null}, ...]}`.
///
/// `bytes` is the buffer the instructions were decoded from, if any (slot `s`
/// is at `bytes[8*s..]`); without it the bytes are re-encoded. An instruction
/// that has no encoding (a decoded write to r10) has `"bytes":null`. A
/// labelled slot also has `"label":"name"`.
pub fn write_json<W: io::Write>(
    out: &mut W,
    insns: &[(usize, Insn)],
    bytes: Option<&[u8]>,
    opts: &ListingOptions,
) -> io::Result<()> {
    let mut a = IoFmt { inner: out, error: None };
    let r = (|| {
        a.write_str("{\"insns\":")?;
        fmt_json_insns(&mut a, insns, bytes, opts)?;
        a.write_str("}\n")
    })();
    a.finish(r)
}

/// [`write_json`] into a string.
pub fn json(insns: &[(usize, Insn)], bytes: Option<&[u8]>, opts: &ListingOptions) -> String {
    let mut v = Vec::new();
    write_json(&mut v, insns, bytes, opts).expect("writing to a Vec cannot fail");
    String::from_utf8(v).expect("JSON output is UTF-8")
}

/// One named program for [`write_json_programs`].
pub struct NamedListing<'a> {
    pub name: &'a str,
    pub insns: &'a [(usize, Insn)],
    pub opts: &'a ListingOptions,
}

/// Writes `{"programs":[{"name":"...","insns":[...]}, ...]}`.
pub fn write_json_programs<W: io::Write>(out: &mut W, progs: &[NamedListing<'_>]) -> io::Result<()> {
    let mut a = IoFmt { inner: out, error: None };
    let r = (|| {
        a.write_str("{\"programs\":[")?;
        for (i, p) in progs.iter().enumerate() {
            if i > 0 {
                a.write_char(',')?;
            }
            a.write_str("{\"name\":")?;
            json_str(&mut a, p.name)?;
            a.write_str(",\"insns\":")?;
            fmt_json_insns(&mut a, p.insns, None, p.opts)?;
            a.write_char('}')?;
        }
        a.write_str("]}\n")
    })();
    a.finish(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::program::*;

    fn t(i: Insn) -> String {
        i.to_string()
    }

    #[test]
    fn objdump_forms() {
        let cases: &[(Insn, &str)] = &[
            (Insn::Load { size: Size::W, signed: false, dst: R0, src: R1, off: 20 }, "r0 = *(u32 *)(r1 + 20)"),
            (Insn::Load { size: Size::B, signed: true, dst: R0, src: R1, off: -2 }, "r0 = *(s8 *)(r1 - 2)"),
            (
                Insn::Load { size: Size::DW, signed: false, dst: R0, src: R10, off: i16::MIN },
                "r0 = *(u64 *)(r10 - 32768)",
            ),
            (
                Insn::JmpCond { width: Width::W32, op: Jmp::Jslt, dst: R1, src: Src::Imm(-5), off: 2 },
                "if w1 s< -5 goto +2",
            ),
            (
                Insn::JmpCond { width: Width::W64, op: Jmp::Jgt, dst: R1, src: Src::Reg(R2), off: -3 },
                "if r1 > r2 goto -3",
            ),
            (atomic(Size::DW, AtomicOp::Add, R1, 8, R2), "lock *(u64 *)(r1 + 8) += r2"),
            (atomic(Size::DW, AtomicOp::Cmpxchg, R1, 16, R2), "r0 = cmpxchg_64(r1 + 16, r0, r2)"),
            (atomic(Size::DW, AtomicOp::FetchOr, R1, -8, R3), "r3 = atomic_fetch_or((u64 *)(r1 - 8), r3)"),
            (atomic(Size::DW, AtomicOp::Xchg, R1, 8, R2), "r2 = xchg_64(r1 + 8, r2)"),
            (atomic(Size::W, AtomicOp::Add, R1, 8, R2), "lock *(u32 *)(r1 + 8) += r2"),
            (atomic(Size::W, AtomicOp::FetchAdd, R1, 8, R2), "w2 = atomic_fetch_add((u32 *)(r1 + 8), w2)"),
            (atomic(Size::W, AtomicOp::Xor, R1, 8, R2), "lock *(u32 *)(r1 + 8) ^= w2"),
            (atomic(Size::W, AtomicOp::Cmpxchg, R1, -16, R2), "w0 = cmpxchg32_32(r1 - 16, w0, w2)"),
            (atomic(Size::W, AtomicOp::Xchg, R1, 8, R2), "w2 = xchg32_32(r1 + 8, w2)"),
            (lddw(R1, 0x1122334455667788), "r1 = 1234605616436508552 ll"),
            (lddw(R1, u64::MAX), "r1 = -1 ll"),
            (Insn::Gotol { imm: 3 }, "gotol +3"),
            (Insn::Gotol { imm: -70000 }, "gotol -70000"),
            (Insn::MayGoto { off: 2 }, "may_goto +2"),
            (Insn::Ja { off: 0 }, "goto +0"),
            (Insn::LdAbs { size: Size::B, imm: 20 }, "r0 = *(u8 *)skb[20]"),
            (Insn::LdAbs { size: Size::W, imm: -1 }, "r0 = *(u32 *)skb[-1]"),
            (Insn::LdInd { size: Size::H, src: R2, imm: 0 }, "r0 = *(u16 *)skb[r2]"),
            (Insn::LdInd { size: Size::B, src: R2, imm: 4 }, "r0 = *(u8 *)skb[r2 + 4]"),
            (Insn::LdInd { size: Size::B, src: R2, imm: i32::MIN }, "r0 = *(u8 *)skb[r2 - 2147483648]"),
            (Insn::Endian { op: Endian::Swap, bits: 16, dst: R1 }, "r1 = bswap16 r1"),
            (Insn::Endian { op: Endian::Le, bits: 16, dst: R1 }, "r1 = le16 r1"),
            (Insn::Endian { op: Endian::Be, bits: 64, dst: R3 }, "r3 = be64 r3"),
            (Alu::Movsx8.reg32(R1, R2), "w1 = (s8)w2"),
            (Alu::Movsx32.reg(R1, R2), "r1 = (s32)r2"),
            (call(5), "call 5"),
            (call(-1), "call -1"),
            (exit(), "exit"),
            (Insn::Neg { width: Width::W64, dst: R1 }, "r1 = -r1"),
            (Insn::Neg { width: Width::W32, dst: R1 }, "w1 = -w1"),
            (Alu::Sdiv.imm32(R1, 3), "w1 s/= 3"),
            (Alu::Smod.reg(R1, R3), "r1 s%= r3"),
            (Alu::Mov.imm32(R1, -1), "w1 = -1"),
            (Alu::Arsh.imm(R1, 3), "r1 s>>= 3"),
            (Alu::Mov.reg32(R0, R10), "w0 = w10"),
            (store(Size::W, R1, 2, R3), "*(u32 *)(r1 + 2) = r3"),
            (store_imm(Size::DW, R10, -8, i32::MIN), "*(u64 *)(r10 - 8) = -2147483648"),
            (Insn::Call(Call::Local(3)), "call func(+3)"),
            (Insn::Call(Call::Local(-2)), "call func(-2)"),
            (Insn::Call(Call::Kfunc { btf_id: 123, module: 0 }), "call kfunc(123)"),
            (Insn::Call(Call::Kfunc { btf_id: 123, module: 5 }), "call kfunc(123, 5)"),
            (Insn::LdImm64 { dst: R1, value: Imm64::MapFd(5) }, "r1 = map_fd(5) ll"),
            (Insn::LdImm64 { dst: R1, value: Imm64::MapValue { fd: 5, off: 16 } }, "r1 = map_value(5, 16) ll"),
            (Insn::LdImm64 { dst: R1, value: Imm64::BtfId { id: 123, btf_fd: 0 } }, "r1 = btf_id(123, 0) ll"),
            (Insn::LdImm64 { dst: R1, value: Imm64::Func(3) }, "r1 = func(+3) ll"),
            (Insn::LdImm64 { dst: R1, value: Imm64::Func(-2) }, "r1 = func(-2) ll"),
            (Insn::LdImm64 { dst: R1, value: Imm64::MapIdx(0) }, "r1 = map_idx(0) ll"),
            (Insn::LdImm64 { dst: R1, value: Imm64::MapIdxValue { idx: 0, off: 8 } }, "r1 = map_idx_value(0, 8) ll"),
        ];
        for (i, want) in cases {
            assert_eq!(t(*i), *want, "{i:?}");
        }
    }

    fn prog() -> Assembled {
        let mut p = Program::new();
        p.push(Alu::Mov.imm(R0, 0)); // 0
        p.push(Jmp::Jne.imm(R1, 7, "out")); // 1
        p.push(lddw(R2, 1)); // 2-3
        p.push(call(71)); // 4
        p.push(ja(-6)); // 5 -> 0
        p.label("out");
        p.push(exit()); // 6
        p.assemble().unwrap()
    }

    #[test]
    fn listing_format_and_annotations() {
        let a = prog();
        let insns = with_slots(&a.insns);
        let mut opts = ListingOptions { labels: a.labels.clone(), ..ListingOptions::default() };
        opts.comments.insert(0, "ctx.family".into());
        opts.comments.insert(4, "bpf_msg_redirect_hash".into()); // repeats the helper: dropped
        let got = listing(&insns, &opts);
        let want = "       0:\tr0 = 0 ; ctx.family\n\
                    \x20      1:\tif r1 != 7 goto +4 ; -> out\n\
                    \x20      2:\tr2 = 1 ll\n\
                    \x20      4:\tcall 71 ; bpf_msg_redirect_hash\n\
                    \x20      5:\tgoto -6 ; -> 0\n\
                    out:\n\
                    \x20      6:\texit\n";
        assert_eq!(got, want);
        let plain = listing(&insns, &ListingOptions::plain());
        assert_eq!(plain.lines().nth(1), Some("       1:\tif r1 != 7 goto +4"));
        assert!(!plain.contains(';'));
    }

    #[test]
    fn bad_targets_are_flagged() {
        let insns = vec![(0, Insn::Ja { off: 1 }), (1, lddw(R1, 0)), (3, Insn::Ja { off: 5 }), (4, exit())];
        let l = listing(&insns, &ListingOptions::default());
        assert!(l.contains("goto +1 ; -> 2 (middle of lddw)"), "{l}");
        assert!(l.contains("goto +5 ; -> 9 (outside the program)"), "{l}");
        let l = listing(&[(0, Insn::Ja { off: -2 })], &ListingOptions::default());
        assert!(l.contains("-> -1 (outside the program)"), "{l}");
    }

    #[test]
    fn json_output() {
        let a = prog();
        let insns = with_slots(&a.insns);
        let opts = ListingOptions { labels: a.labels.clone(), ..ListingOptions::default() };
        let j = json(&insns, None, &opts);
        assert!(j.starts_with("{\"insns\":[{\"slot\":0,\"text\":\"r0 = 0\",\"bytes\":\"b7 00 00 00 00 00 00 00\",\"annotation\":null}"), "{j}");
        assert!(j.contains("{\"slot\":2,\"text\":\"r2 = 1 ll\",\"bytes\":\"18 02 00 00 01 00 00 00 00 00 00 00 00 00 00 00\",\"annotation\":null}"), "{j}");
        assert!(j.contains("\"label\":\"out\""), "{j}");
        assert!(j.contains("\"annotation\":\"bpf_msg_redirect_hash\""), "{j}");
        assert!(j.ends_with("]}\n"));
        // A decoded write to r10 has no encoding: bytes come from the buffer.
        let raw = [0xb7u8, 0x0a, 0, 0, 0, 0, 0, 0];
        let d = decode_all(&raw).unwrap();
        assert!(json(&d, Some(&raw), &opts).contains("\"bytes\":\"b7 0a 00 00 00 00 00 00\""));
        assert!(json(&d, None, &opts).contains("\"bytes\":null"));
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\n\u{1}").unwrap();
        assert_eq!(s, r#""a\"b\\c\n\u0001""#);
    }
}
