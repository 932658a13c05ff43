//! Disassembly text in llvm-objdump's syntax, and annotated listings.
//!
//! `impl Display for Insn` prints exactly what `llvm-objdump-19 -d
//! --no-print-imm-hex` prints for the same bytes (without the ` <.text+0x..>`
//! branch-target suffix objdump adds), except where LLVM's text is wrong,
//! `<unknown>`, or does not assemble back to the same bytes. Those deviations
//! are listed below (and in docs/isa.md, "Where sockasm's listing differs
//! from llvm-objdump-19"); every other form is
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
//! | STX ATOMIC W/DW, imm `0x100` (load-acquire, kernel 6.15) | `lock *(u32 *)(r0 + 0) += r1` | `w0 = load_acquire((u32 *)(r1 + 0))` (`r0 = ... (u64 *)...` for DW) | LLVM 19 predates load-acquire and misreads it as the non-fetching add; ours is newer LLVM's text (its MC tests), which llvm-mc-19 cannot assemble |
//! | STX ATOMIC B/H, imm `0x100` | `<unknown>` | `w0 = load_acquire((u8 *)(r1 + 0))` | as above |
//! | STX ATOMIC any size, imm `0x110` (store-release, 6.15) | `<unknown>` | `store_release((u8 *)(r1 + 0), w2)` (`r2` for u64) | as above |
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
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write as _};

use serde::ser::Error as _;
use serde::{Deserialize, Serialize, Serializer};

/// Separates an instruction's text from its annotations in a listing.
pub const ANNOTATION_SEP: &str = " ; ";

// ---------------------------------------------------------------------------
// Text output goes through a byte sink with hand-written integer formatting:
// `core::fmt` machinery costs several times more per instruction, and the
// listing must stay well ahead of llvm-objdump on big inputs.

/// Where instruction text is written.
trait Sink {
    fn put(&mut self, s: &[u8]);
    fn str(&mut self, s: &str) {
        self.put(s.as_bytes())
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
    }
}

/// A fixed stack buffer, for `Display` (no instruction text is near 128 bytes).
struct StackBuf {
    buf: [u8; 128],
    len: usize,
}

impl Sink for StackBuf {
    #[inline]
    fn put(&mut self, s: &[u8]) {
        let end = (self.len + s.len()).min(self.buf.len());
        self.buf[self.len..end].copy_from_slice(&s[..end - self.len]);
        self.len = end;
    }
}

/// Decimal digits of `u`, right-aligned in a 20-byte buffer; returns the start.
#[inline]
fn digits(mut u: u64, tmp: &mut [u8; 20]) -> usize {
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            return i;
        }
    }
}

#[inline]
fn int<S: Sink>(s: &mut S, v: i64) {
    let mut tmp = [0u8; 20];
    if v < 0 {
        s.put(b"-");
    }
    let i = digits(v.unsigned_abs(), &mut tmp);
    s.put(&tmp[i..]);
}

/// `+N` / `-N`: branch offsets.
#[inline]
fn signed<S: Sink>(s: &mut S, v: i64) {
    if v >= 0 {
        s.put(b"+");
    }
    int(s, v);
}

/// `rN`, or `wN` for 32-bit operations.
#[inline]
fn reg<S: Sink>(s: &mut S, width: Width, r: Reg) {
    let n = r.index();
    let c = if width == Width::W32 { b'w' } else { b'r' };
    if n < 10 { s.put(&[c, b'0' + n]) } else { s.put(&[c, b'1', b'0' + n - 10]) }
}

#[inline]
fn r64<S: Sink>(s: &mut S, r: Reg) {
    reg(s, Width::W64, r)
}

/// `rN + off` / `rN - off`.
fn addr<S: Sink>(s: &mut S, r: Reg, off: i64) {
    r64(s, r);
    if off < 0 {
        s.put(b" - ");
        int(s, -off);
    } else {
        s.put(b" + ");
        int(s, off);
    }
}

/// `*(u32 *)(rN + off)`.
fn mem<S: Sink>(s: &mut S, size: &str, r: Reg, off: i16) {
    s.put(b"*(");
    s.str(size);
    s.put(b" *)(");
    addr(s, r, off as i64);
    s.put(b")");
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

fn src_operand<S: Sink>(s: &mut S, width: Width, src: Src) {
    match src {
        Src::Imm(i) => int(s, i as i64),
        Src::Reg(r) => reg(s, width, r),
    }
}

/// Writes the llvm-objdump text of `insn`.
fn write_insn<S: Sink>(s: &mut S, insn: &Insn) {
    match *insn {
        Insn::Alu { width, op, dst, src } => {
            reg(s, width, dst);
            match op {
                Alu::Movsx8 | Alu::Movsx16 | Alu::Movsx32 => {
                    s.put(match op {
                        Alu::Movsx8 => b" = (s8)",
                        Alu::Movsx16 => b" = (s16)",
                        _ => b" = (s32)",
                    });
                }
                _ => {
                    s.put(b" ");
                    s.str(alu_op_text(op).unwrap_or("="));
                    s.put(b" ");
                }
            }
            src_operand(s, width, src);
        }
        Insn::Neg { width, dst } => {
            reg(s, width, dst);
            s.put(b" = -");
            reg(s, width, dst);
        }
        Insn::Endian { op, bits, dst } => {
            r64(s, dst);
            s.put(match op {
                Endian::Le => b" = le",
                Endian::Be => b" = be",
                Endian::Swap => b" = bswap",
            });
            int(s, bits as i64);
            s.put(b" ");
            r64(s, dst);
        }
        Insn::Ja { off } => {
            s.put(b"goto ");
            signed(s, off as i64);
        }
        Insn::Gotol { imm } => {
            s.put(b"gotol ");
            signed(s, imm as i64);
        }
        Insn::JmpCond { width, op, dst, src, off } => {
            s.put(b"if ");
            reg(s, width, dst);
            s.put(b" ");
            s.str(jmp_op_text(op));
            s.put(b" ");
            src_operand(s, width, src);
            s.put(b" goto ");
            signed(s, off as i64);
        }
        Insn::Call(c) => {
            s.put(b"call ");
            match c {
                Call::Helper(id) => int(s, id as i64),
                Call::Local(rel) => {
                    s.put(b"func(");
                    signed(s, rel as i64);
                    s.put(b")");
                }
                Call::Kfunc { btf_id, module } => {
                    s.put(b"kfunc(");
                    int(s, btf_id as i64);
                    if module != 0 {
                        s.put(b", ");
                        int(s, module as i64);
                    }
                    s.put(b")");
                }
            }
        }
        Insn::Exit => s.put(b"exit"),
        Insn::MayGoto { off } => {
            s.put(b"may_goto ");
            signed(s, off as i64);
        }
        Insn::Load { size, signed, dst, src, off } => {
            r64(s, dst);
            s.put(b" = ");
            mem(s, size_name(size, signed), src, off);
        }
        Insn::StoreImm { size, dst, off, imm } => {
            mem(s, size_name(size, false), dst, off);
            s.put(b" = ");
            int(s, imm as i64);
        }
        Insn::Store { size, dst, src, off } => {
            mem(s, size_name(size, false), dst, off);
            s.put(b" = ");
            r64(s, src);
        }
        Insn::Atomic { size, op, dst, src, off } => write_atomic(s, size, op, dst, src, off),
        // Newer LLVM's text: a w register below 64 bits (the value is zero-extended).
        Insn::LoadAcquire { size, dst, src, off } => {
            reg(s, ordered_width(size), dst);
            s.put(b" = load_acquire((");
            s.str(size_name(size, false));
            s.put(b" *)(");
            addr(s, src, off as i64);
            s.put(b"))");
        }
        Insn::StoreRelease { size, dst, src, off } => {
            s.put(b"store_release((");
            s.str(size_name(size, false));
            s.put(b" *)(");
            addr(s, dst, off as i64);
            s.put(b"), ");
            reg(s, ordered_width(size), src);
            s.put(b")");
        }
        Insn::AddrSpaceCast { dst, src, dst_as, src_as } => {
            r64(s, dst);
            s.put(b" = addr_space_cast(");
            r64(s, src);
            s.put(b", ");
            int(s, dst_as as i64);
            s.put(b", ");
            int(s, src_as as i64);
            s.put(b")");
        }
        Insn::LdImm64 { dst, value } => {
            r64(s, dst);
            s.put(b" = ");
            let pair = |s: &mut S, name: &[u8], a: i32, b: i32| {
                s.put(name);
                int(s, a as i64);
                s.put(b", ");
                int(s, b as i64);
                s.put(b")");
            };
            match value {
                Imm64::Const(v) => int(s, v as i64),
                Imm64::MapFd(fd) => {
                    s.put(b"map_fd(");
                    int(s, fd as i64);
                    s.put(b")");
                }
                Imm64::MapValue { fd, off } => pair(s, b"map_value(", fd, off),
                Imm64::BtfId { id, btf_fd } => pair(s, b"btf_id(", id, btf_fd),
                Imm64::Func(rel) => {
                    s.put(b"func(");
                    signed(s, rel as i64);
                    s.put(b")");
                }
                Imm64::MapIdx(i) => {
                    s.put(b"map_idx(");
                    int(s, i as i64);
                    s.put(b")");
                }
                Imm64::MapIdxValue { idx, off } => pair(s, b"map_idx_value(", idx, off),
            }
            s.put(b" ll");
        }
        Insn::LdAbs { size, imm } => {
            s.put(b"r0 = *(");
            s.str(size_name(size, false));
            s.put(b" *)skb[");
            int(s, imm as i64);
            s.put(b"]");
        }
        Insn::LdInd { size, src, imm } => {
            s.put(b"r0 = *(");
            s.str(size_name(size, false));
            s.put(b" *)skb[");
            if imm == 0 {
                r64(s, src);
            } else {
                addr(s, src, imm as i64);
            }
            s.put(b"]");
        }
    }
}

/// The register width load-acquire and store-release name: `wN` below 64 bits.
fn ordered_width(size: Size) -> Width {
    if size == Size::DW { Width::W64 } else { Width::W32 }
}

fn write_atomic<S: Sink>(s: &mut S, size: Size, op: AtomicOp, dst: Reg, src: Reg, off: i16) {
    let sz = size_name(size, false);
    // DW: llvm-objdump-19's text. W: its default text for the non-fetching
    // add, else its `--mcpu=v4` (alu32) forms; see the table in the module docs.
    let w = if size == Size::DW { Width::W64 } else { Width::W32 };
    let lock = |s: &mut S, op: &[u8], v: Width| {
        s.put(b"lock ");
        mem(s, sz, dst, off);
        s.put(op);
        reg(s, v, src);
    };
    let fetch = |s: &mut S, name: &[u8]| {
        reg(s, w, src);
        s.put(name);
        s.str(sz);
        s.put(b" *)(");
        addr(s, dst, off as i64);
        s.put(b"), ");
        reg(s, w, src);
        s.put(b")");
    };
    match op {
        AtomicOp::Add => lock(s, b" += ", Width::W64),
        AtomicOp::Or => lock(s, b" |= ", w),
        AtomicOp::And => lock(s, b" &= ", w),
        AtomicOp::Xor => lock(s, b" ^= ", w),
        AtomicOp::FetchAdd => fetch(s, b" = atomic_fetch_add(("),
        AtomicOp::FetchOr => fetch(s, b" = atomic_fetch_or(("),
        AtomicOp::FetchAnd => fetch(s, b" = atomic_fetch_and(("),
        AtomicOp::FetchXor => fetch(s, b" = atomic_fetch_xor(("),
        AtomicOp::Xchg => {
            reg(s, w, src);
            s.put(if w == Width::W64 { b" = xchg_64(" as &[u8] } else { b" = xchg32_32(" });
            addr(s, dst, off as i64);
            s.put(b", ");
            reg(s, w, src);
            s.put(b")");
        }
        AtomicOp::Cmpxchg => {
            s.put(if w == Width::W64 { b"r0 = cmpxchg_64(" as &[u8] } else { b"w0 = cmpxchg32_32(" });
            addr(s, dst, off as i64);
            s.put(if w == Width::W64 { b", r0, " as &[u8] } else { b", w0, " });
            reg(s, w, src);
            s.put(b")");
        }
    }
}

impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = StackBuf { buf: [0; 128], len: 0 };
        write_insn(&mut b, self);
        // Only ASCII is ever written.
        f.write_str(std::str::from_utf8(&b.buf[..b.len]).map_err(|_| fmt::Error)?)
    }
}

/// Appends the text of `insn` to `out` (what `Display` prints, without the
/// formatting machinery: for bulk output).
pub fn push_insn(out: &mut Vec<u8>, insn: &Insn) {
    write_insn(out, insn);
}

// ---------------------------------------------------------------------------
// Listings.

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
    /// Kfunc names by slot (a call by name whose BTF id the loader binds):
    /// such a call is written `call kfunc(NAME)`, as the text assembler reads it.
    pub kfuncs: BTreeMap<usize, String>,
}

impl Default for ListingOptions {
    fn default() -> ListingOptions {
        ListingOptions { annotate: true, labels: BTreeMap::new(), comments: BTreeMap::new(), kfuncs: BTreeMap::new() }
    }
}

impl ListingOptions {
    /// No annotations, no labels: the body of `llvm-objdump -d --no-show-raw-insn`.
    pub fn plain() -> ListingOptions {
        ListingOptions { annotate: false, ..ListingOptions::default() }
    }
}

/// Answers "does an instruction start at this slot?" for branch targets.
enum Starts<'a> {
    /// One bit per slot: for whole listings.
    Bits(Vec<u64>, usize),
    /// Binary search: for a single lookup.
    Search(&'a [(usize, Insn)]),
}

impl Starts<'_> {
    fn bits(insns: &[(usize, Insn)]) -> Starts<'static> {
        let end = insns.last().map_or(0, |(s, i)| s + i.slots());
        let mut bits = vec![0u64; end.div_ceil(64)];
        for (s, _) in insns {
            bits[s / 64] |= 1 << (s % 64);
        }
        Starts::Bits(bits, end)
    }
    fn contains(&self, slot: i64) -> bool {
        if slot < 0 {
            return false;
        }
        match self {
            Starts::Bits(bits, end) => {
                let s = slot as usize;
                s < *end && bits[s / 64] & (1 << (s % 64)) != 0
            }
            Starts::Search(insns) => insns.binary_search_by_key(&(slot as u64), |(s, _)| *s as u64).is_ok(),
        }
    }
}

/// Writes the annotation of one instruction (without the leading separator);
/// returns whether anything was written.
fn write_annotation(
    out: &mut Vec<u8>,
    insns: &[(usize, Insn)],
    starts: &Starts<'_>,
    slot: usize,
    insn: &Insn,
    opts: &ListingOptions,
) -> bool {
    let mut any = false;
    if let Some(rel) = insn.branch_offset() {
        let to = slot as i64 + 1 + rel;
        out.put(b"-> ");
        match opts.labels.get(&(to as usize)).filter(|_| to >= 0) {
            Some(name) => out.str(name),
            None => int(out, to),
        }
        if !starts.contains(to) {
            let end = insns.last().map_or(0, |(s, i)| s + i.slots()) as i64;
            out.str(if to >= 0 && to < end { " (middle of lddw)" } else { " (outside the program)" });
        }
        any = true;
    }
    let mut helper = None;
    if let Insn::Call(Call::Helper(id)) = insn
        && let Some(name) = helper_name(*id)
    {
        out.str(name);
        helper = Some(name);
        any = true;
    }
    // A caller's comment that repeats the helper name adds nothing.
    if let Some(c) = opts.comments.get(&slot).filter(|c| Some(c.as_str()) != helper) {
        if any {
            out.put(b", ");
        }
        out.str(c);
        any = true;
    }
    any
}

/// The annotation of the instruction at `slot` (what follows ` ; `), if any.
pub fn annotation(insns: &[(usize, Insn)], slot: usize, insn: &Insn, opts: &ListingOptions) -> Option<String> {
    let mut v = Vec::new();
    if write_annotation(&mut v, insns, &Starts::Search(insns), slot, insn, opts) {
        String::from_utf8(v).ok()
    } else {
        None
    }
}

/// The instruction at `slot` as a listing writes it: a kfunc call that
/// `opts` names is `call kfunc(NAME)`.
pub fn write_insn_at(out: &mut Vec<u8>, slot: usize, insn: &Insn, opts: &ListingOptions) {
    match (insn, opts.kfuncs.get(&slot)) {
        (Insn::Call(Call::Kfunc { .. }), Some(name)) => {
            out.put(b"call kfunc(");
            out.str(name);
            out.put(b")");
        }
        _ => write_insn(out, insn),
    }
}

/// [`write_insn_at`] as a string.
pub fn insn_text_at(slot: usize, insn: &Insn, opts: &ListingOptions) -> String {
    let mut v = Vec::with_capacity(48);
    write_insn_at(&mut v, slot, insn, opts);
    String::from_utf8(v).expect("listings are UTF-8")
}

/// Right-aligns `slot` in 8 columns, like llvm-objdump's `%8u:`.
fn slot_prefix(out: &mut Vec<u8>, slot: usize) {
    let mut tmp = [0u8; 20];
    let i = digits(slot as u64, &mut tmp);
    let n = tmp.len() - i;
    for _ in n..8 {
        out.push(b' ');
    }
    out.extend_from_slice(&tmp[i..]);
    out.extend_from_slice(b":\t");
}

/// Output is built in a buffer and handed to the writer in large pieces.
const FLUSH_AT: usize = 1 << 16;

/// Writes a listing: one line per instruction in llvm-objdump's
/// `--no-show-raw-insn` format (`{slot:>8}:\t{text}`), with annotations.
pub fn write_listing<W: io::Write>(out: &mut W, insns: &[(usize, Insn)], opts: &ListingOptions) -> io::Result<()> {
    let mut buf = Vec::with_capacity(FLUSH_AT + 256);
    let starts = if opts.annotate { Starts::bits(insns) } else { Starts::Search(insns) };
    for (slot, insn) in insns {
        if let Some(name) = opts.labels.get(slot) {
            buf.str(name);
            buf.put(b":\n");
        }
        slot_prefix(&mut buf, *slot);
        write_insn_at(&mut buf, *slot, insn, opts);
        if opts.annotate {
            let mark = buf.len();
            buf.put(ANNOTATION_SEP.as_bytes());
            if !write_annotation(&mut buf, insns, &starts, *slot, insn, opts) {
                buf.truncate(mark);
            }
        }
        buf.push(b'\n');
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)
}

/// A listing as a string (see [`write_listing`]).
pub fn listing(insns: &[(usize, Insn)], opts: &ListingOptions) -> String {
    let mut v = Vec::with_capacity(insns.len() * 40);
    write_listing(&mut v, insns, opts).expect("writing to a Vec cannot fail");
    String::from_utf8(v).expect("listings are UTF-8")
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

// ---------------------------------------------------------------------------
// JSON: typed with serde; the instructions stream into the writer one by one
// (a listing of millions of instructions is never held as JSON values).

/// One instruction of `dump --json`. Read back with `S = String`; written
/// with `&str` borrowed from scratch buffers (no allocation per instruction).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonInsn<S = String> {
    pub slot: usize,
    pub text: S,
    /// `b7 00 ...`; null for an instruction that has no encoding (a decoded
    /// write to r10) and no input bytes.
    pub bytes: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<S>,
    pub annotation: Option<S>,
}

/// `{"insns":[...]}`: a raw listing. Written with a streaming `I`
/// ([`write_json`]); read back with the default, a vector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonListing<I = Vec<JsonInsn>> {
    pub insns: I,
}

/// One named program of `{"programs":[...]}` ([`write_json_programs`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonProgram<I = Vec<JsonInsn>> {
    pub name: String,
    pub insns: I,
}

/// `{"programs":[{"name":"...","insns":[...]}, ...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonPrograms<I = Vec<JsonInsn>> {
    pub programs: Vec<JsonProgram<I>>,
}

/// The instructions of a listing as a JSON array, each built in `scratch`
/// when the serializer gets to it.
struct InsnStream<'a> {
    insns: &'a [(usize, Insn)],
    bytes: Option<&'a [u8]>,
    opts: &'a ListingOptions,
}

impl Serialize for InsnStream<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let starts = if self.opts.annotate { Starts::bits(self.insns) } else { Starts::Search(self.insns) };
        let scratch = RefCell::new(Scratch::default());
        s.collect_seq(self.insns.iter().map(|(slot, insn)| Entry {
            stream: self,
            starts: &starts,
            scratch: &scratch,
            slot: *slot,
            insn,
        }))
    }
}

/// Text, bytes and annotation of the instruction being written.
#[derive(Default)]
struct Scratch {
    text: Vec<u8>,
    bytes: String,
    note: Vec<u8>,
}

struct Entry<'s> {
    stream: &'s InsnStream<'s>,
    starts: &'s Starts<'s>,
    scratch: &'s RefCell<Scratch>,
    slot: usize,
    insn: &'s Insn,
}

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let InsnStream { insns, bytes, opts } = *self.stream;
        let (slot, insn) = (self.slot, self.insn);
        let mut guard = self.scratch.borrow_mut();
        let Scratch { text, bytes: hex, note } = &mut *guard;
        text.clear();
        write_insn_at(text, slot, insn, opts);
        hex.clear();
        let width = insn.slots() * 8;
        let has_bytes = match bytes.and_then(|b| b.get(slot * 8..slot * 8 + width)) {
            Some(b) => {
                push_hex(hex, b);
                true
            }
            None => insn.to_bytes().map(|b| push_hex(hex, &b)).is_ok(),
        };
        note.clear();
        let has_note = opts.annotate && write_annotation(note, insns, self.starts, slot, insn, opts);
        let (text, note) = (std::str::from_utf8(text), std::str::from_utf8(note));
        JsonInsn {
            slot,
            text: text.map_err(S::Error::custom)?,
            bytes: has_bytes.then_some(hex.as_str()),
            label: opts.labels.get(&slot).map(String::as_str),
            annotation: if has_note { Some(note.map_err(S::Error::custom)?) } else { None },
        }
        .serialize(s)
    }
}

/// Writes `v` and a newline through a buffer of its own.
fn write_doc<W: io::Write>(out: &mut W, v: &impl Serialize) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(FLUSH_AT, out);
    serde_json::to_writer(&mut w, v)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// Writes `{"insns":[{"slot":0,"text":"...","bytes":"b7 00 ...","annotation":null}, ...]}`
/// ([`JsonListing`]).
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
    write_doc(out, &JsonListing { insns: InsnStream { insns, bytes, opts } })
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

/// Writes `{"programs":[{"name":"...","insns":[...]}, ...]}` ([`JsonPrograms`]).
pub fn write_json_programs<W: io::Write>(out: &mut W, progs: &[NamedListing<'_>]) -> io::Result<()> {
    let programs = progs
        .iter()
        .map(|p| JsonProgram {
            name: p.name.to_string(),
            insns: InsnStream { insns: p.insns, bytes: None, opts: p.opts },
        })
        .collect();
    write_doc(out, &JsonPrograms { programs })
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
            (load_acquire(Size::B, R0, R10, -1), "w0 = load_acquire((u8 *)(r10 - 1))"),
            (load_acquire(Size::H, R0, R1, 0), "w0 = load_acquire((u16 *)(r1 + 0))"),
            (load_acquire(Size::W, R3, R1, 4), "w3 = load_acquire((u32 *)(r1 + 4))"),
            (load_acquire(Size::DW, R0, R1, 0), "r0 = load_acquire((u64 *)(r1 + 0))"),
            (store_release(Size::B, R1, 0, R2), "store_release((u8 *)(r1 + 0), w2)"),
            (store_release(Size::H, R1, -2, R2), "store_release((u16 *)(r1 - 2), w2)"),
            (store_release(Size::W, R1, 0, R2), "store_release((u32 *)(r1 + 0), w2)"),
            (store_release(Size::DW, R10, -8, R2), "store_release((u64 *)(r10 - 8), r2)"),
            (addr_space_cast(R1, R2, 0, 1), "r1 = addr_space_cast(r2, 0, 1)"),
            (addr_space_cast(R0, R9, 65535, 3), "r0 = addr_space_cast(r9, 65535, 3)"),
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
        assert!(
            j.starts_with(
                "{\"insns\":[{\"slot\":0,\"text\":\"r0 = 0\",\"bytes\":\"b7 00 00 00 00 00 00 00\",\"annotation\":null}"
            ),
            "{j}"
        );
        assert!(j.contains("{\"slot\":2,\"text\":\"r2 = 1 ll\",\"bytes\":\"18 02 00 00 01 00 00 00 00 00 00 00 00 00 00 00\",\"annotation\":null}"), "{j}");
        assert!(j.contains("\"label\":\"out\""), "{j}");
        assert!(j.contains("\"annotation\":\"bpf_msg_redirect_hash\""), "{j}");
        assert!(j.ends_with("]}\n"));
        // A decoded write to r10 has no encoding: bytes come from the buffer.
        let raw = [0xb7u8, 0x0a, 0, 0, 0, 0, 0, 0];
        let d = decode_all(&raw).unwrap();
        assert!(json(&d, Some(&raw), &opts).contains("\"bytes\":\"b7 0a 00 00 00 00 00 00\""));
        assert!(json(&d, None, &opts).contains("\"bytes\":null"));
        // What it writes reads back as the typed listing.
        let back: JsonListing = serde_json::from_str(&j).unwrap();
        assert_eq!(back.insns.len(), insns.len());
        assert_eq!(
            back.insns[0],
            JsonInsn {
                slot: 0,
                text: "r0 = 0".into(),
                bytes: Some("b7 00 00 00 00 00 00 00".into()),
                label: None,
                annotation: None
            }
        );
        assert!(back.insns.iter().any(|i| i.label.as_deref() == Some("out")));
    }
}
