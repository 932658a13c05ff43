//! The text assembler: LLVM's pseudo-C eBPF syntax, as `llvm-objdump-19`
//! prints it and `llvm-mc-19 -triple=bpfel -mcpu=v4` reads it, plus the forms
//! LLVM cannot write (pseudo `lddw` kinds, kfunc and local calls, `LD_IND`
//! with an offset).
//!
//! ```
//! let a = sockasm::asm::text::assemble("
//!     r0 = 0
//!     if r1 == 0 goto out   # a comment
//!     r0 = *(u32 *)(r1 + 20)
//! out:
//!     exit
//! ").unwrap();
//! assert_eq!(a.insns.len(), 4);
//! ```
//!
//! # Grammar
//!
//! One statement per line, optionally preceded by `label:` definitions.
//! Comments run from `#`, `;` or `//` to the end of the line; `/* ... */` may
//! span lines. (llvm-mc reads `;` as a statement separator; here it starts a
//! comment, because listings annotate instructions after a `;`.)
//!
//! Numbers are decimal, `0x` hex, `0b` binary or (as in llvm-mc) `0`-prefixed
//! octal, with an optional sign. A 32-bit immediate accepts
//! `-2147483648..=4294967295` (values above `i32::MAX` are the same bits, as
//! in llvm-mc, which prints `r1 = 0xffffffff` back as `r1 = -1`); a 16-bit
//! offset accepts `-32768..=32767`; a `ll` constant `-2^63..=2^64-1`. Unlike
//! llvm-mc, a value out of range is an error, not silently truncated.
//!
//! Beyond LLVM:
//!
//! | text | instruction |
//! |---|---|
//! | `r1 = map_fd(5) ll` / `map_fd(name) ll` | lddw src 1 (a raw fd / a named map bound at load time) |
//! | `r1 = map_value(5, 16) ll` / `map_value(name, 16) ll` | lddw src 2 |
//! | `r1 = btf_id(123, 0) ll` | lddw src 3 |
//! | `r1 = func(+3) ll` / `func(name) ll` | lddw src 4 (slot offset or label) |
//! | `r1 = map_idx(0) ll` | lddw src 5 |
//! | `r1 = map_idx_value(0, 8) ll` | lddw src 6 |
//! | `ld_pseudo r1, 2, 5` | what llvm-objdump prints for pseudo lddw (second imm 0) |
//! | `call kfunc(ID)` / `call kfunc(ID, MODULE)` | kfunc call (src 2) |
//! | `call func(+N)` / `call func(name)` / `call name` | BPF-to-BPF call (src 1); `call name` with a label `name` of this file (as llvm-mc resolves it); `local(...)` is accepted for `func(...)` |
//! | `call bpf_map_lookup_elem` / `call map_lookup_elem` | helper call by name, when no label has that name |
//! | `r0 = *(u16 *)skb[r1 + 4]` | LD_IND with an offset |
//! | `gotol +100000` | llvm-mc only takes 16-bit numbers here |
//! | `w0 = load_acquire((u8 *)(r1 + 0))`, `r0 = load_acquire((u64 *)(r1 + 0))` | load-acquire (kernel 6.15), newer LLVM's syntax: `wN` for u8/u16/u32, `rN` for u64 |
//! | `store_release((u8 *)(r1 + 0), w2)`, `store_release((u64 *)(r1 + 0), r2)` | store-release (kernel 6.15), same register rule |
//!
//! `call N` is always a helper call (src 0), as in llvm-mc; llvm-objdump also
//! prints local and kfunc calls as `call N`, which cannot be told apart.
//!
//! Lines pasted from `llvm-objdump -d` are accepted: `  12:\t85 00 ...\tcall 1`
//! (address and bytes are skipped), `0000000000000038 <bar>:` (defines label
//! `bar`), trailing `<sym+0x10>` annotations, and the `file format` and
//! `Disassembly of section` headers and relocation lines (skipped).
//!
//! Also accepted beyond llvm-mc: `(r1)` for `(r1 + 0)`, `(r1 + -8)`, and `r2`
//! for `w2` in every 32-bit `lock` operation (llvm-mc only in `+=`).
//! Rejected although llvm-mc takes them: writes to `r10`, `r11`..`r15`
//! (llvm-mc encodes them), out-of-range numbers (llvm-mc truncates), `1ll`
//! (llvm-mc reads a 32-bit `1`, not a `ll` load), upper-case `R1`.
//!
//! Directives `.text .globl .global .type .size .file .p2align .align
//! .addrsig .local .weak .hidden` are accepted and ignored; any other
//! directive is an error.

use super::helpers::helper_id;
use super::insn::*;
use super::program::{AsmError, AsmErrorKind, Assembled, Item, Program, Target};
use std::collections::HashSet;
use std::fmt;

/// A syntax or assembly error, pointing at a line and column of the source.
/// `Display` renders it like llvm-mc / rustc, with the line and a caret.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TextError {
    /// The file name shown in the message (`<input>` when `None`).
    pub file: Option<String>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// The offending source line, verbatim.
    pub source_line: String,
    /// What went wrong, e.g. ``expected register, found `x1` ``.
    pub message: String,
}

impl TextError {
    /// Names the file in the rendered message.
    pub fn with_file(mut self, file: impl Into<String>) -> TextError {
        self.file = Some(file.into());
        self
    }
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.as_deref().unwrap_or("<input>");
        writeln!(f, "{file}:{}:{}: error: {}", self.line, self.col, self.message)?;
        writeln!(f, "{}", self.source_line)?;
        // Keep tabs so the caret lines up however the terminal expands them.
        let pad: String = self
            .source_line
            .chars()
            .take(self.col.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad}^")
    }
}

impl std::error::Error for TextError {}

/// Where an item of the parsed program came from.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct SrcPos {
    /// 1-based line.
    pub line: u32,
    /// 0-based byte column of the statement (or label).
    pub col: u32,
    /// 0-based byte column of the branch target, map name or written register
    /// (for errors about those), else the statement column.
    pub detail: u32,
}

/// A parsed program with the source position of each item.
#[derive(Clone, Debug, Default)]
pub struct ParsedText {
    pub program: Program,
    /// One per `program.items` element.
    pub positions: Vec<SrcPos>,
}

/// Parses `src` into a [`Program`] of items (labels unresolved).
pub fn parse(src: &str) -> Result<Program, TextError> {
    parse_text(src).map(|p| p.program)
}

/// Parses and assembles `src`: labels resolved, every instruction checked.
pub fn assemble(src: &str) -> Result<Assembled, TextError> {
    parse_text(src)?.assemble(src)
}

/// Parses `src`, keeping source positions (see [`ParsedText::assemble`]).
pub fn parse_text(src: &str) -> Result<ParsedText, TextError> {
    let mut out = ParsedText::default();
    // One item per line is the common case; reserving avoids re-copying a
    // large program's items as the vectors grow.
    let lines = src.len() / 8 + 1;
    let lines = lines.min(src.bytes().filter(|&b| b == b'\n').count() + 1);
    out.program.items.reserve(lines);
    out.positions.reserve(lines);
    let mut toks = Vec::with_capacity(24);
    let mut in_block = false;
    let mut scratch = String::new();
    for (i, raw) in src.split('\n').enumerate() {
        let line_no = i + 1;
        let raw_line = raw.strip_suffix('\r').unwrap_or(raw);
        let fail = |col: usize, msg: String| text_error(raw_line, line_no, col, msg);
        let line = strip_comments(raw_line, &mut in_block, &mut scratch);
        let start = match classify(line) {
            LineKind::Skip => continue,
            LineKind::Parse(start) => start,
            LineKind::Symbol(s, e) => {
                out.program.items.push(Item::Label(line[s..e].to_string()));
                out.positions.push(SrcPos { line: line_no as u32, col: s as u32, detail: s as u32 });
                continue;
            }
        };
        let before = out.program.items.len();
        let res = lex(line, start, &mut toks)
            .and_then(|()| LineParser { line, toks: &toks, i: 0, line_no: line_no as u32, out: &mut out }.statement());
        if let Err(e) = res {
            // Checked only on failure, to keep the common path fast.
            if is_objdump_header(line) {
                out.program.items.truncate(before);
                out.positions.truncate(before);
                continue;
            }
            return Err(fail(e.col, e.msg));
        }
    }
    resolve_helper_names(&mut out.program);
    if in_block {
        let last = src.split('\n').count();
        let raw_line = src.split('\n').next_back().unwrap_or("");
        let raw_line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        return Err(text_error(raw_line, last, raw_line.len(), "unterminated `/*` comment".into()));
    }
    Ok(out)
}

/// `call NAME` is a local call when `NAME` is a label of this file (as in
/// llvm-mc), else a helper call when `NAME` is a helper (`bpf_map_lookup_elem`
/// or `map_lookup_elem`); otherwise it stays an undefined label.
fn resolve_helper_names(p: &mut Program) {
    let is_helper_call = |item: &Item| matches!(item, Item::Branch { insn: Insn::Call(Call::Local(_)), target: Target::Label(l) } if helper_id(l).is_some());
    if !p.items.iter().any(is_helper_call) {
        return;
    }
    let labels: HashSet<String> =
        p.items.iter().filter_map(|i| if let Item::Label(l) = i { Some(l.clone()) } else { None }).collect();
    for item in &mut p.items {
        if let Item::Branch { insn: Insn::Call(Call::Local(_)), target: Target::Label(l) } = item
            && !labels.contains(l.as_str())
            && let Some(id) = helper_id(l)
        {
            *item = Item::Insn(Insn::Call(Call::Helper(id)));
        }
    }
}

impl ParsedText {
    /// Resolves labels and validates, mapping errors back to source lines.
    pub fn assemble(&self, src: &str) -> Result<Assembled, TextError> {
        self.program.assemble().map_err(|e| self.asm_error(src, &e))
    }

    /// An error about item `item`, at the column the error is about.
    pub fn error_at(&self, src: &str, item: usize, at_detail: bool, message: String) -> TextError {
        let Some(pos) = self.positions.get(item) else {
            return TextError { file: None, line: 0, col: 0, source_line: String::new(), message };
        };
        let raw = src.split('\n').nth(pos.line as usize - 1).unwrap_or("");
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let col = if at_detail { pos.detail } else { pos.col };
        text_error(raw, pos.line as usize, col as usize, message)
    }

    fn asm_error(&self, src: &str, e: &AsmError) -> TextError {
        let (at_detail, msg) = match &e.kind {
            AsmErrorKind::DuplicateLabel(name, first) => {
                let line = self.positions.get(*first).map_or(0, |p| p.line);
                (false, format!("duplicate label `{name}` (first defined on line {line})"))
            }
            AsmErrorKind::UndefinedLabel(name) => {
                let is_call = matches!(
                    self.program.items.get(e.item),
                    Some(Item::Branch { insn: Insn::Call(Call::Local(_)), .. })
                );
                let hint = if is_call {
                    "; `call NAME` calls a function of this file (helpers are called by number, e.g. `call 1`)"
                } else {
                    ""
                };
                (true, format!("undefined label `{name}`{hint}"))
            }
            AsmErrorKind::OffsetTooFar { .. } | AsmErrorKind::OffsetTooFar32 { .. } => (true, e.kind.to_string()),
            AsmErrorKind::Encode(EncodeError::WriteToR10) => (true, e.kind.to_string()),
            other => (false, other.to_string()),
        };
        self.error_at(src, e.item, at_detail, msg)
    }
}

fn text_error(raw_line: &str, line: usize, byte_col: usize, message: String) -> TextError {
    let byte_col = byte_col.min(raw_line.len());
    // Columns count characters; the byte column is always a char boundary
    // here, but be total anyway.
    let col = raw_line.char_indices().take_while(|&(b, _)| b < byte_col).count() + 1;
    TextError { file: None, line, col, source_line: raw_line.to_string(), message }
}

/// Blanks out comments, keeping columns. Returns the cleaned line.
fn strip_comments<'a>(line: &'a str, in_block: &mut bool, scratch: &'a mut String) -> &'a str {
    if !*in_block && !line.bytes().any(|b| matches!(b, b'#' | b';' | b'/')) {
        return line;
    }
    let b = line.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if *in_block {
            if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                *in_block = false;
                out.extend_from_slice(b"  ");
                i += 2;
            } else {
                out.push(if b[i] == b'\t' { b'\t' } else { b' ' });
                i += 1;
            }
            continue;
        }
        match b[i] {
            b'#' | b';' => break,
            b'/' if b.get(i + 1) == Some(&b'/') => break,
            b'/' if b.get(i + 1) == Some(&b'*') => {
                *in_block = true;
                out.extend_from_slice(b"  ");
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Comment bytes became ASCII spaces and whole UTF-8 sequences outside
    // comments were copied, except that a comment may have cut one in half
    // inside a block; replace anything invalid rather than fail.
    scratch.clear();
    scratch.push_str(&String::from_utf8_lossy(&out));
    scratch.as_str()
}

/// What to do with a line, after looking for llvm-objdump listing syntax.
enum LineKind {
    /// Nothing to assemble (blank, objdump header, relocation).
    Skip,
    /// Parse from this byte offset (past an objdump address and bytes).
    Parse(usize),
    /// `0000000000000038 <bar>:` -- a symbol header, defining label `bar`
    /// (byte range of the name).
    Symbol(usize, usize),
}

/// `x.o:\tfile format elf64-bpf` and `Disassembly of section .text:`.
fn is_objdump_header(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("Disassembly of section ") || t.contains(":\tfile format ") || t.contains(": file format ")
}

fn classify(line: &str) -> LineKind {
    let t = line.trim_start();
    if t.is_empty() {
        return LineKind::Skip;
    }
    let lead = line.len() - t.len();
    let digits = t.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return LineKind::Parse(0);
    }
    let rest = &t[digits..];
    if let Some(inner) = rest.strip_prefix(" <").and_then(|r| r.trim_end().strip_suffix(">:"))
        && !inner.is_empty()
        && !inner.contains(char::is_whitespace)
    {
        let start = lead + digits + 2;
        return LineKind::Symbol(start, start + inner.len());
    }
    // `  12:\t85 00 ...\tcall 1`: address, bytes, instruction.
    let decimal = t[..digits].bytes().all(|b| b.is_ascii_digit());
    let Some(r) = rest.strip_prefix(':') else { return LineKind::Parse(0) };
    if !(decimal || digits == 16) || !(r.is_empty() || r.starts_with([' ', '\t'])) {
        return LineKind::Parse(0);
    }
    let lb = line.as_bytes();
    let mut pos = lead + digits + 1;
    loop {
        while pos < lb.len() && (lb[pos] == b' ' || lb[pos] == b'\t') {
            pos += 1;
        }
        let is_byte = pos + 2 <= lb.len()
            && lb[pos].is_ascii_hexdigit()
            && lb[pos + 1].is_ascii_hexdigit()
            && (pos + 2 == lb.len() || lb[pos + 2] == b' ' || lb[pos + 2] == b'\t');
        if !is_byte {
            break;
        }
        pos += 2;
    }
    let rest = &line[pos..];
    if rest.starts_with("R_") || rest.trim().is_empty() {
        return LineKind::Skip;
    }
    LineKind::Parse(pos)
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Tk {
    Ident,
    Num,
    P(P),
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum P {
    Eq,     // =
    EqEq,   // ==
    Ne,     // !=
    Gt,     // >
    Ge,     // >=
    Lt,     // <
    Le,     // <=
    Amp,    // &
    Plus,   // +
    Minus,  // -
    Star,   // *
    LParen, // (
    RParen, // )
    LBrack, // [
    RBrack, // ]
    Comma,  // ,
    Colon,  // :
    AddEq,  // +=
    SubEq,  // -=
    MulEq,  // *=
    DivEq,  // /=
    ModEq,  // %=
    OrEq,   // |=
    AndEq,  // &=
    XorEq,  // ^=
    ShlEq,  // <<=
    ShrEq,  // >>=
}

#[derive(Copy, Clone, Debug)]
struct Tok {
    kind: Tk,
    start: u32,
    end: u32,
}

struct PErr {
    col: usize,
    msg: String,
}

type PResult<T> = Result<T, PErr>;

fn perr<T>(col: usize, msg: impl Into<String>) -> PResult<T> {
    Err(PErr { col, msg: msg.into() })
}

/// Fetching atomics write the old value back into their source register, so
/// the text names it on both sides: `w2 = atomic_fetch_add((u32 *)(r1 + 8), w2)`.
fn returns_old_value_in_src(word: &str, dst: &RegTok, src: &RegTok) -> PResult<()> {
    if src.reg == dst.reg {
        return Ok(());
    }
    perr(
        src.col,
        format!("`{word}` returns the old value in its source: expected `{}`, found `{}`", dst.name(), src.name()),
    )
}

/// Splits a (comment-free) line into tokens, starting at byte `start`.
fn lex(line: &str, start: usize, toks: &mut Vec<Tok>) -> PResult<()> {
    toks.clear();
    let b = line.as_bytes();
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        if c == b' ' || c == b'\t' || c == b'\x0b' || c == b'\x0c' || c == b'\r' {
            i += 1;
            continue;
        }
        let s = i;
        let ident_start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c == b'.' || c == b'$';
        let ident_cont = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'$';
        let kind = if ident_start(c) {
            i += 1;
            while i < b.len() && ident_cont(b[i]) {
                i += 1;
            }
            Tk::Ident
        } else if c.is_ascii_digit() {
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Tk::Num
        } else {
            let next = b.get(i + 1).copied();
            let next2 = b.get(i + 2).copied();
            let (p, n) = match (c, next, next2) {
                (b'<', Some(b'<'), Some(b'=')) => (P::ShlEq, 3),
                (b'>', Some(b'>'), Some(b'=')) => (P::ShrEq, 3),
                (b'=', Some(b'='), _) => (P::EqEq, 2),
                (b'!', Some(b'='), _) => (P::Ne, 2),
                (b'>', Some(b'='), _) => (P::Ge, 2),
                (b'<', Some(b'='), _) => (P::Le, 2),
                (b'+', Some(b'='), _) => (P::AddEq, 2),
                (b'-', Some(b'='), _) => (P::SubEq, 2),
                (b'*', Some(b'='), _) => (P::MulEq, 2),
                (b'/', Some(b'='), _) => (P::DivEq, 2),
                (b'%', Some(b'='), _) => (P::ModEq, 2),
                (b'|', Some(b'='), _) => (P::OrEq, 2),
                (b'&', Some(b'='), _) => (P::AndEq, 2),
                (b'^', Some(b'='), _) => (P::XorEq, 2),
                (b'=', ..) => (P::Eq, 1),
                (b'>', ..) => (P::Gt, 1),
                (b'<', ..) => (P::Lt, 1),
                (b'&', ..) => (P::Amp, 1),
                (b'+', ..) => (P::Plus, 1),
                (b'-', ..) => (P::Minus, 1),
                (b'*', ..) => (P::Star, 1),
                (b'(', ..) => (P::LParen, 1),
                (b')', ..) => (P::RParen, 1),
                (b'[', ..) => (P::LBrack, 1),
                (b']', ..) => (P::RBrack, 1),
                (b',', ..) => (P::Comma, 1),
                (b':', ..) => (P::Colon, 1),
                _ => {
                    let ch = line[i..].chars().next().unwrap_or('?');
                    return perr(i, format!("unexpected character `{}`", ch.escape_debug()));
                }
            };
            i += n;
            Tk::P(p)
        };
        toks.push(Tok { kind, start: s as u32, end: i as u32 });
    }
    Ok(())
}

/// Parses an unsigned literal: decimal, 0x hex, 0b binary, 0-prefixed octal.
fn parse_literal(t: &str) -> Option<u128> {
    // Fast path: short decimal without a leading zero.
    let b = t.as_bytes();
    if b.len() <= 18 && !b.is_empty() && (b[0] != b'0' || b.len() == 1) && b.iter().all(u8::is_ascii_digit) {
        return Some(b.iter().fold(0u128, |v, d| v * 10 + (d - b'0') as u128));
    }
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(bin) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (bin, 2)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || digits.len() > 64 {
        return None;
    }
    u128::from_str_radix(digits, radix).ok().filter(|v| *v <= u64::MAX as u128)
}

const MAX_U64: i128 = u64::MAX as i128;

/// What a number is for, with its accepted range.
#[derive(Copy, Clone)]
enum Field {
    Imm32,
    Off16,
    Imm64,
    Jump,
    AddrSpace,
}

impl Field {
    fn range(self) -> (i128, i128, &'static str) {
        match self {
            Field::Imm32 => (i32::MIN as i128, u32::MAX as i128, "a 32-bit immediate (-2147483648..=4294967295)"),
            Field::Off16 => (i16::MIN as i128, i16::MAX as i128, "a 16-bit offset (-32768..=32767)"),
            Field::Imm64 => (i64::MIN as i128, MAX_U64, "a 64-bit immediate"),
            Field::Jump => (i32::MIN as i128, i32::MAX as i128, "a 32-bit jump offset"),
            Field::AddrSpace => (0, u16::MAX as i128, "an address space (0..=65535)"),
        }
    }
}

/// Register operand: number and whether it was written `wN`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
struct RegTok {
    reg: Reg,
    w: bool,
    col: usize,
}

impl RegTok {
    fn width(self) -> Width {
        if self.w { Width::W32 } else { Width::W64 }
    }
    fn name(self) -> String {
        format!("{}{}", if self.w { 'w' } else { 'r' }, self.reg.index())
    }
}

fn reg_name(t: &str) -> Option<(u8, bool)> {
    let w = match t.as_bytes() {
        [b'r', ..] => false,
        [b'w', ..] => true,
        _ => return None,
    };
    // r0..r9, r10..r99 (r11 and up are reported as unknown registers).
    match t.as_bytes()[1..] {
        [d @ b'0'..=b'9'] => Some((d - b'0', w)),
        [a @ b'1'..=b'9', b @ b'0'..=b'9'] => Some(((a - b'0') * 10 + (b - b'0'), w)),
        [b'1'..=b'9', b'0'..=b'9', b'0'..=b'9'] => Some((255, w)),
        _ => None,
    }
}

const IGNORED_DIRECTIVES: &[&str] = &[
    ".text", ".globl", ".global", ".type", ".size", ".file", ".p2align", ".align", ".addrsig", ".local", ".weak",
    ".hidden",
];

struct LineParser<'a, 'o> {
    line: &'a str,
    toks: &'a [Tok],
    i: usize,
    line_no: u32,
    out: &'o mut ParsedText,
}

impl<'a> LineParser<'a, '_> {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<Tok> {
        self.toks.get(self.i + k).copied()
    }
    fn text(&self, t: Tok) -> &'a str {
        &self.line[t.start as usize..t.end as usize]
    }
    fn col(&self) -> usize {
        match self.peek() {
            Some(t) => t.start as usize,
            None => self.line.trim_end().len(),
        }
    }
    fn found(&self) -> String {
        match self.peek() {
            Some(t) => format!("found `{}`", self.text(t)),
            None => "found end of line".to_string(),
        }
    }
    fn expected<T>(&self, what: &str) -> PResult<T> {
        perr(self.col(), format!("expected {what}, {}", self.found()))
    }
    fn is_p(&self, p: P) -> bool {
        matches!(self.peek(), Some(Tok { kind: Tk::P(q), .. }) if q == p)
    }
    fn eat_p(&mut self, p: P) -> bool {
        if self.is_p(p) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_p(&mut self, p: P, what: &str) -> PResult<usize> {
        let col = self.col();
        if self.eat_p(p) { Ok(col) } else { self.expected(what) }
    }
    fn is_ident(&self, s: &str) -> bool {
        matches!(self.peek(), Some(t) if t.kind == Tk::Ident && self.text(t) == s)
    }
    fn eat_ident(&mut self, s: &str) -> bool {
        if self.is_ident(s) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_ident(&mut self, s: &str) -> PResult<()> {
        if self.eat_ident(s) { Ok(()) } else { self.expected(&format!("`{s}`")) }
    }
    fn end(&mut self) -> PResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => perr(self.col(), format!("expected end of line, {}", self.found())),
        }
    }

    fn push(&mut self, item: Item, col: usize, detail: usize) {
        self.out.program.items.push(item);
        self.out.positions.push(SrcPos { line: self.line_no, col: col as u32, detail: detail as u32 });
    }

    /// A register token at the cursor, if there is one.
    fn peek_reg(&self) -> Option<RegTok> {
        let t = self.peek()?;
        if t.kind != Tk::Ident {
            return None;
        }
        let (n, w) = reg_name(self.text(t))?;
        Some(RegTok { reg: Reg::new(n)?, w, col: t.start as usize })
    }

    fn reg(&mut self) -> PResult<RegTok> {
        if let Some(r) = self.peek_reg() {
            self.i += 1;
            return Ok(r);
        }
        if let Some(t) = self.peek()
            && t.kind == Tk::Ident
            && reg_name(self.text(t)).is_some()
        {
            return perr(
                t.start as usize,
                format!("no register `{}`: registers are r0..r10 (w0..w10 for 32 bits)", self.text(t)),
            );
        }
        self.expected("register")
    }

    /// A register of the given width (to match `like`).
    fn reg_like(&mut self, like: RegTok) -> PResult<RegTok> {
        let r = self.reg()?;
        if r.w != like.w {
            let (want, bits) = if like.w { ('w', 32) } else { ('r', 64) };
            return perr(
                r.col,
                format!(
                    "expected a {bits}-bit register ({want}0..{want}10) to match `{}`, found `{}`",
                    like.name(),
                    r.name()
                ),
            );
        }
        Ok(r)
    }

    fn reg_w(&mut self, w: bool) -> PResult<RegTok> {
        let r = self.reg()?;
        if r.w != w {
            let (want, bits) = if w { ('w', 32) } else { ('r', 64) };
            return perr(r.col, format!("expected a {bits}-bit register ({want}0..{want}10), found `{}`", r.name()));
        }
        Ok(r)
    }

    /// An optionally signed number; returns the value and its column.
    fn number(&mut self, field: Field, what: &str) -> PResult<(i128, usize)> {
        let col = self.col();
        let neg = if self.eat_p(P::Minus) {
            true
        } else {
            self.eat_p(P::Plus);
            false
        };
        let Some(t) = self.peek().filter(|t| t.kind == Tk::Num) else {
            return self.expected(what);
        };
        let text = self.text(t);
        let Some(v) = parse_literal(text) else {
            let hint = if text.ends_with("ll") || text.ends_with("LL") {
                " (write `1 ll`, with a space, for a 64-bit constant)"
            } else {
                ""
            };
            return perr(t.start as usize, format!("invalid number `{text}`{hint}"));
        };
        self.i += 1;
        let v = if neg { -(v as i128) } else { v as i128 };
        let (lo, hi, desc) = field.range();
        if v < lo || v > hi {
            let shown = &self.line[col..t.end as usize];
            return perr(col, format!("`{}` does not fit in {desc}", shown.replace([' ', '\t'], "")));
        }
        Ok((v, col))
    }

    fn imm32(&mut self, what: &str) -> PResult<i32> {
        Ok(self.number(Field::Imm32, what)?.0 as u32 as i32)
    }

    fn is_number_start(&self) -> bool {
        match self.peek() {
            Some(Tok { kind: Tk::Num, .. }) => true,
            Some(Tok { kind: Tk::P(P::Minus | P::Plus), .. }) => {
                matches!(self.peek_at(1), Some(Tok { kind: Tk::Num, .. }))
            }
            _ => false,
        }
    }

    /// `u8 | u16 | u32 | u64 | s8 | s16 | s32` inside `*(... *)`.
    fn size(&mut self) -> PResult<(Size, bool, usize)> {
        let col = self.col();
        let s = match self.peek() {
            Some(t) if t.kind == Tk::Ident => self.text(t),
            _ => return self.expected("a size (u8, u16, u32, u64, s8, s16, s32)"),
        };
        let r = match s {
            "u8" => (Size::B, false),
            "u16" => (Size::H, false),
            "u32" => (Size::W, false),
            "u64" => (Size::DW, false),
            "s8" => (Size::B, true),
            "s16" => (Size::H, true),
            "s32" => (Size::W, true),
            _ => return self.expected("a size (u8, u16, u32, u64, s8, s16, s32)"),
        };
        self.i += 1;
        Ok((r.0, r.1, col))
    }

    /// `(u32 *)` -- the part after `*` in a dereference, or the cast inside
    /// `atomic_fetch_add(`.
    fn size_cast(&mut self) -> PResult<(Size, bool, usize)> {
        self.expect_p(P::LParen, "`(`")?;
        let s = self.size()?;
        self.expect_p(P::Star, "`*`")?;
        self.expect_p(P::RParen, "`)`")?;
        Ok(s)
    }

    /// `reg + off`, `reg - off` or `reg` (without parentheses).
    fn addr(&mut self) -> PResult<(RegTok, i16)> {
        let r = self.reg_w(false)?;
        let neg = if self.eat_p(P::Plus) {
            false
        } else if self.eat_p(P::Minus) {
            true
        } else {
            return Ok((r, 0));
        };
        let (v, col) = self.number(Field::Imm64, "an offset")?;
        let v = if neg { -v } else { v };
        if v < i16::MIN as i128 || v > i16::MAX as i128 {
            return perr(col, format!("offset {v} does not fit in a 16-bit offset (-32768..=32767)"));
        }
        Ok((r, v as i16))
    }

    /// `(reg + off)`.
    fn mem(&mut self) -> PResult<(RegTok, i16)> {
        self.expect_p(P::LParen, "`(`")?;
        let a = self.addr()?;
        self.expect_p(P::RParen, "`)`")?;
        Ok(a)
    }

    /// A branch target: a signed slot offset or a label, then an optional
    /// objdump `<sym+0x10>` annotation.
    fn target(&mut self) -> PResult<(Target, usize)> {
        let col = self.col();
        let t = if self.is_number_start() {
            Target::Off(self.number(Field::Jump, "a jump offset or label")?.0 as i64)
        } else {
            match self.peek() {
                Some(t) if t.kind == Tk::Ident && self.peek_reg().is_none() => {
                    self.i += 1;
                    Target::Label(self.text(t).to_string())
                }
                _ => return self.expected("a jump offset or label"),
            }
        };
        self.annotation()?;
        Ok((t, col))
    }

    /// Skips a trailing objdump `<...>` annotation.
    fn annotation(&mut self) -> PResult<()> {
        if self.is_p(P::Lt) {
            if matches!(self.toks.last(), Some(Tok { kind: Tk::P(P::Gt), .. })) && self.toks.len() > self.i + 1 {
                self.i = self.toks.len();
            } else {
                return perr(self.col(), "unterminated `<...>` annotation");
            }
        }
        Ok(())
    }

    fn statement(&mut self) -> PResult<()> {
        // Labels.
        while let (Some(t), Some(Tok { kind: Tk::P(P::Colon), .. })) = (self.peek(), self.peek_at(1)) {
            if t.kind != Tk::Ident {
                break;
            }
            let name = self.text(t);
            if reg_name(name).is_some() {
                return perr(t.start as usize, format!("`{name}` is a register name and cannot be a label"));
            }
            let col = t.start as usize;
            self.push(Item::Label(name.to_string()), col, col);
            self.i += 2;
        }
        let Some(first) = self.peek() else { return Ok(()) };
        let col = first.start as usize;
        match first.kind {
            Tk::P(P::Star) => return self.store(col),
            Tk::Ident => {}
            _ => return self.expected("an instruction"),
        }
        let word = self.text(first);
        if word.starts_with('.') {
            if IGNORED_DIRECTIVES.contains(&word) {
                self.i = self.toks.len();
                return Ok(());
            }
            return perr(
                col,
                format!(
                    "unsupported directive `{word}` (only {} are accepted, and ignored)",
                    IGNORED_DIRECTIVES.join(" ")
                ),
            );
        }
        if self.peek_reg().is_some() {
            return self.reg_statement(col);
        }
        self.i += 1;
        match word {
            "exit" => {
                self.end()?;
                self.push(Item::Insn(Insn::Exit), col, col);
                Ok(())
            }
            "goto" | "gotol" | "may_goto" => {
                let (target, tcol) = self.target()?;
                self.end()?;
                let insn = match word {
                    "goto" => Insn::Ja { off: 0 },
                    "gotol" => Insn::Gotol { imm: 0 },
                    _ => Insn::MayGoto { off: 0 },
                };
                self.push(Item::Branch { insn, target }, col, tcol);
                Ok(())
            }
            "call" => self.call(col),
            "if" => self.cond_jump(col),
            "lock" => self.lock(col),
            "ld_pseudo" => self.ld_pseudo(col),
            "store_release" => self.store_release(col),
            _ => {
                self.i -= 1;
                if reg_name(word).is_some() {
                    self.reg()?;
                }
                self.expected("an instruction")
            }
        }
    }

    fn call(&mut self, col: usize) -> PResult<()> {
        let tcol = self.col();
        if self.is_number_start() {
            let id = self.imm32("a helper id, `kfunc(ID)`, `local(TARGET)` or a label")?;
            self.annotation()?;
            self.end()?;
            self.push(Item::Insn(Insn::Call(Call::Helper(id))), col, tcol);
            return Ok(());
        }
        let is_fn =
            |p: &Self, name: &str| p.is_ident(name) && matches!(p.peek_at(1), Some(Tok { kind: Tk::P(P::LParen), .. }));
        if is_fn(self, "kfunc") {
            self.i += 2;
            let id = self.imm32("a BTF id")?;
            let module =
                if self.eat_p(P::Comma) { self.number(Field::Off16, "a module BTF fd index")?.0 as i16 } else { 0 };
            self.expect_p(P::RParen, "`)`")?;
            self.end()?;
            self.push(Item::Insn(Insn::Call(Call::Kfunc { btf_id: id, module })), col, tcol);
            return Ok(());
        }
        let target = if is_fn(self, "func") || is_fn(self, "local") {
            self.i += 2;
            let (t, c) = self.target_no_annotation()?;
            self.expect_p(P::RParen, "`)`")?;
            (t, c)
        } else {
            match self.peek() {
                Some(t) if t.kind == Tk::Ident && self.peek_reg().is_none() => {
                    self.i += 1;
                    (Target::Label(self.text(t).to_string()), t.start as usize)
                }
                _ => return self.expected("a helper id, `kfunc(ID)`, `local(TARGET)` or a label"),
            }
        };
        self.annotation()?;
        self.end()?;
        self.push(Item::Branch { insn: Insn::Call(Call::Local(0)), target: target.0 }, col, target.1);
        Ok(())
    }

    fn target_no_annotation(&mut self) -> PResult<(Target, usize)> {
        let col = self.col();
        if self.is_number_start() {
            return Ok((Target::Off(self.number(Field::Jump, "a slot offset or label")?.0 as i64), col));
        }
        match self.peek() {
            Some(t) if t.kind == Tk::Ident && self.peek_reg().is_none() => {
                self.i += 1;
                Ok((Target::Label(self.text(t).to_string()), col))
            }
            _ => self.expected("a slot offset or label"),
        }
    }

    fn cond_jump(&mut self, col: usize) -> PResult<()> {
        let dst = self.reg()?;
        let signed = self.eat_ident("s");
        let ocol = self.col();
        let op = match (self.peek().map(|t| t.kind), signed) {
            (Some(Tk::P(P::EqEq)), false) => Jmp::Jeq,
            (Some(Tk::P(P::Ne)), false) => Jmp::Jne,
            (Some(Tk::P(P::Amp)), false) => Jmp::Jset,
            (Some(Tk::P(P::Gt)), false) => Jmp::Jgt,
            (Some(Tk::P(P::Ge)), false) => Jmp::Jge,
            (Some(Tk::P(P::Lt)), false) => Jmp::Jlt,
            (Some(Tk::P(P::Le)), false) => Jmp::Jle,
            (Some(Tk::P(P::Gt)), true) => Jmp::Jsgt,
            (Some(Tk::P(P::Ge)), true) => Jmp::Jsge,
            (Some(Tk::P(P::Lt)), true) => Jmp::Jslt,
            (Some(Tk::P(P::Le)), true) => Jmp::Jsle,
            (_, true) => return perr(ocol, format!("expected `s>`, `s>=`, `s<` or `s<=`, {}", self.found())),
            (_, false) => {
                return perr(
                    ocol,
                    format!("expected a comparison (==, !=, >, >=, <, <=, &, s>, s>=, s<, s<=), {}", self.found()),
                );
            }
        };
        self.i += 1;
        let src =
            if self.is_number_start() { Src::Imm(self.imm32("a register or number")?) } else { self.src_reg(dst)? };
        self.expect_ident("goto")?;
        let (target, tcol) = self.target()?;
        self.end()?;
        let insn = Insn::JmpCond { width: dst.width(), op, dst: dst.reg, src, off: 0 };
        self.push(Item::Branch { insn, target }, col, tcol);
        Ok(())
    }

    /// A register source of the same width as `dst`, or an error naming both options.
    fn src_reg(&mut self, dst: RegTok) -> PResult<Src> {
        if self.peek_reg().is_none()
            && !matches!(self.peek(), Some(t) if t.kind == Tk::Ident && reg_name(self.text(t)).is_some())
        {
            return self.expected("a register or number");
        }
        Ok(Src::Reg(self.reg_like(dst)?.reg))
    }

    fn lock(&mut self, col: usize) -> PResult<()> {
        self.expect_p(P::Star, "`*`")?;
        let (size, signed, scol) = self.size_cast()?;
        if signed || !matches!(size, Size::W | Size::DW) {
            let found = &self.line[scol..self.toks[self.i - 3].end as usize];
            return perr(
                scol,
                format!("atomic operations exist only for u32 and u64, found `{found}`{}", small_atomic_hint(size)),
            );
        }
        let (dst, off) = self.mem()?;
        let ocol = self.col();
        let op = match self.peek().map(|t| t.kind) {
            Some(Tk::P(P::AddEq)) => AtomicOp::Add,
            Some(Tk::P(P::OrEq)) => AtomicOp::Or,
            Some(Tk::P(P::AndEq)) => AtomicOp::And,
            Some(Tk::P(P::XorEq)) => AtomicOp::Xor,
            _ => return perr(ocol, format!("expected `+=`, `|=`, `&=` or `^=`, {}", self.found())),
        };
        self.i += 1;
        // llvm-mc takes `r2` or `w2` for 32-bit (and llvm-objdump prints `r2`
        // without --mcpu=v4); 64-bit needs `r2`.
        let src = if size == Size::DW { self.reg_w(false)? } else { self.reg()? };
        self.end()?;
        self.push(Item::Insn(Insn::Atomic { size, op, dst: dst.reg, src: src.reg, off }), col, col);
        Ok(())
    }

    /// `(u8 *)` .. `(u64 *)` in `load_acquire(` / `store_release(`.
    fn ordered_size(&mut self, word: &str) -> PResult<(Size, usize)> {
        let (size, signed, scol) = self.size_cast()?;
        if signed {
            let s = &self.line[scol..self.toks[self.i - 3].end as usize];
            return perr(scol, format!("`{word}` takes u8, u16, u32 or u64, found `{s}`"));
        }
        Ok((size, scol))
    }

    /// `store_release((u8 *)(r1 + 0), w2)` (the word is consumed).
    fn store_release(&mut self, col: usize) -> PResult<()> {
        self.expect_p(P::LParen, "`(`")?;
        let (size, _) = self.ordered_size("store_release")?;
        let (dst, off) = self.mem()?;
        self.expect_p(P::Comma, "`,`")?;
        let src = self.reg()?;
        if src.w != (size != Size::DW) {
            return perr(src.col, ordered_width_msg("store_release", size, src));
        }
        self.expect_p(P::RParen, "`)`")?;
        self.end()?;
        self.push(Item::Insn(Insn::StoreRelease { size, dst: dst.reg, src: src.reg, off }), col, col);
        Ok(())
    }

    fn ld_pseudo(&mut self, col: usize) -> PResult<()> {
        let dst = self.reg_w(false)?;
        self.expect_p(P::Comma, "`,`")?;
        let (kind, kcol) = self.number(Field::Imm64, "a pseudo source (0..6)")?;
        self.expect_p(P::Comma, "`,`")?;
        let imm = self.imm32("an immediate")?;
        self.end()?;
        let value = match kind {
            0 => Imm64::Const(imm as u32 as u64),
            1 => Imm64::MapFd(imm),
            2 => Imm64::MapValue { fd: imm, off: 0 },
            3 => Imm64::BtfId { id: imm, btf_fd: 0 },
            4 => Imm64::Func(imm),
            5 => Imm64::MapIdx(imm),
            6 => Imm64::MapIdxValue { idx: imm, off: 0 },
            _ => return perr(kcol, format!("unknown pseudo source {kind} (expected 0..6)")),
        };
        self.check_write(dst)?;
        self.push(Item::Insn(Insn::LdImm64 { dst: dst.reg, value }), col, dst.col);
        Ok(())
    }

    /// `*(size *)(reg + off) = src|imm`.
    fn store(&mut self, col: usize) -> PResult<()> {
        self.i += 1;
        let (size, signed, scol) = self.size_cast()?;
        if signed {
            return perr(scol, "stores take an unsigned size (u8, u16, u32, u64)");
        }
        let (dst, off) = self.mem()?;
        self.expect_p(P::Eq, "`=`")?;
        let insn = if self.is_number_start() {
            let imm = self.imm32("a register or number")?;
            Insn::StoreImm { size, dst: dst.reg, off, imm }
        } else {
            let src = if size == Size::DW { self.reg_w(false)? } else { self.reg()? };
            Insn::Store { size, dst: dst.reg, src: src.reg, off }
        };
        self.end()?;
        self.push(Item::Insn(insn), col, col);
        Ok(())
    }

    fn check_write(&self, r: RegTok) -> PResult<()> {
        if r.reg == Reg::R10 {
            return perr(r.col, format!("`{}` is the read-only frame pointer and cannot be written", r.name()));
        }
        Ok(())
    }

    /// Statements starting with a register: assignments and compound ALU ops.
    fn reg_statement(&mut self, col: usize) -> PResult<()> {
        let dst = self.reg()?;
        let ocol = self.col();
        let signed = self.eat_ident("s");
        let kind = self.peek().map(|t| t.kind);
        let op = match (kind, signed) {
            (Some(Tk::P(P::Eq)), false) => {
                self.i += 1;
                return self.assign(col, dst);
            }
            (Some(Tk::P(P::AddEq)), false) => Alu::Add,
            (Some(Tk::P(P::SubEq)), false) => Alu::Sub,
            (Some(Tk::P(P::MulEq)), false) => Alu::Mul,
            (Some(Tk::P(P::DivEq)), false) => Alu::Div,
            (Some(Tk::P(P::ModEq)), false) => Alu::Mod,
            (Some(Tk::P(P::OrEq)), false) => Alu::Or,
            (Some(Tk::P(P::AndEq)), false) => Alu::And,
            (Some(Tk::P(P::XorEq)), false) => Alu::Xor,
            (Some(Tk::P(P::ShlEq)), false) => Alu::Lsh,
            (Some(Tk::P(P::ShrEq)), false) => Alu::Rsh,
            (Some(Tk::P(P::DivEq)), true) => Alu::Sdiv,
            (Some(Tk::P(P::ModEq)), true) => Alu::Smod,
            (Some(Tk::P(P::ShrEq)), true) => Alu::Arsh,
            (_, true) => return perr(self.col(), format!("expected `s/=`, `s%=` or `s>>=`, {}", self.found())),
            (_, false) => {
                return perr(
                    ocol,
                    format!(
                        "expected `=` or an operator (+= -= *= /= %= |= &= ^= <<= >>= s/= s%= s>>=), {}",
                        self.found()
                    ),
                );
            }
        };
        self.i += 1;
        self.check_write(dst)?;
        let src =
            if self.is_number_start() { Src::Imm(self.imm32("a register or number")?) } else { self.src_reg(dst)? };
        self.end()?;
        self.push(Item::Insn(Insn::Alu { width: dst.width(), op, dst: dst.reg, src }), col, dst.col);
        Ok(())
    }

    /// `dst = ...`.
    fn assign(&mut self, col: usize, dst: RegTok) -> PResult<()> {
        let Some(t) = self.peek() else { return self.expected("a value") };
        // Memory loads: `*(u32 *)(r1 + 8)` and `*(u8 *)skb[...]`.
        if t.kind == Tk::P(P::Star) {
            self.i += 1;
            return self.load(col, dst);
        }
        // `-r1` (neg) or a negative number.
        if t.kind == Tk::P(P::Minus) && self.peek_at(1).is_some_and(|n| n.kind == Tk::Ident) {
            self.i += 1;
            let src = self.reg_like(dst)?;
            if src.reg != dst.reg {
                return perr(
                    src.col,
                    format!("negation is in place: expected `{}`, found `{}`", dst.name(), src.name()),
                );
            }
            self.end()?;
            self.check_write(dst)?;
            self.push(Item::Insn(Insn::Neg { width: dst.width(), dst: dst.reg }), col, dst.col);
            return Ok(());
        }
        if self.is_number_start() {
            let save = self.i;
            let is_ll = {
                // Look past the number for `ll`.
                let skip = if matches!(t.kind, Tk::P(_)) { 2 } else { 1 };
                matches!(self.peek_at(skip), Some(n) if n.kind == Tk::Ident && self.text(n) == "ll")
            };
            if is_ll {
                if dst.w {
                    return perr(
                        dst.col,
                        format!("a 64-bit constant (`ll`) needs a 64-bit register, found `{}`", dst.name()),
                    );
                }
                let (v, _) = self.number(Field::Imm64, "a number")?;
                self.i += 1; // ll
                self.end()?;
                self.check_write(dst)?;
                let value = Imm64::Const(v as u64);
                self.push(Item::Insn(Insn::LdImm64 { dst: dst.reg, value }), col, dst.col);
                return Ok(());
            }
            self.i = save;
            let imm = self.imm32("a number")?;
            self.end()?;
            self.check_write(dst)?;
            self.push(
                Item::Insn(Insn::Alu { width: dst.width(), op: Alu::Mov, dst: dst.reg, src: Src::Imm(imm) }),
                col,
                dst.col,
            );
            return Ok(());
        }
        // `(s8)r2`.
        if t.kind == Tk::P(P::LParen) {
            self.i += 1;
            let scol = self.col();
            let op = match self.peek().map(|t| self.text(t)) {
                Some("s8") => Alu::Movsx8,
                Some("s16") => Alu::Movsx16,
                Some("s32") if !dst.w => Alu::Movsx32,
                Some("s32") => return perr(scol, "a 32-bit sign-extending move takes (s8) or (s16), not (s32)"),
                _ => return self.expected("`s8`, `s16` or `s32`"),
            };
            self.i += 1;
            self.expect_p(P::RParen, "`)`")?;
            let src = self.reg_like(dst)?;
            self.end()?;
            self.check_write(dst)?;
            let insn = Insn::Alu { width: dst.width(), op, dst: dst.reg, src: Src::Reg(src.reg) };
            self.push(Item::Insn(insn), col, dst.col);
            return Ok(());
        }
        if t.kind != Tk::Ident {
            return self.expected("a register, number or memory operand");
        }
        if self.peek_reg().is_some() || reg_name(self.text(t)).is_some() {
            let src = self.reg_like(dst)?;
            self.end()?;
            self.check_write(dst)?;
            let insn = Insn::Alu { width: dst.width(), op: Alu::Mov, dst: dst.reg, src: Src::Reg(src.reg) };
            self.push(Item::Insn(insn), col, dst.col);
            return Ok(());
        }
        let word = self.text(t);
        let wcol = t.start as usize;
        if let Some((op, bits)) = endian_word(word) {
            self.i += 1;
            if dst.w {
                return perr(dst.col, format!("`{word}` operates on a 64-bit register, found `{}`", dst.name()));
            }
            let src = self.reg_like(dst)?;
            if src.reg != dst.reg {
                return perr(
                    src.col,
                    format!("`{word}` is in place: expected `{}`, found `{}`", dst.name(), src.name()),
                );
            }
            self.end()?;
            self.check_write(dst)?;
            self.push(Item::Insn(Insn::Endian { op, bits, dst: dst.reg }), col, dst.col);
            return Ok(());
        }
        if !matches!(self.peek_at(1), Some(Tok { kind: Tk::P(P::LParen), .. })) {
            return perr(
                wcol,
                format!(
                    "expected a register, number or memory operand, found `{word}`{}",
                    if self.peek_at(1).is_some_and(|n| n.kind == Tk::Ident && self.text(n) == "ll") {
                        " (a function's address is `func(NAME) ll`, a map's `map_fd(NAME) ll`)"
                    } else {
                        ""
                    }
                ),
            );
        }
        self.i += 2; // word (
        match word {
            "atomic_fetch_add" | "atomic_fetch_or" | "atomic_fetch_and" | "atomic_fetch_xor" => {
                let op = match word {
                    "atomic_fetch_add" => AtomicOp::FetchAdd,
                    "atomic_fetch_or" => AtomicOp::FetchOr,
                    "atomic_fetch_and" => AtomicOp::FetchAnd,
                    _ => AtomicOp::FetchXor,
                };
                let (size, signed, scol) = self.size_cast()?;
                let want_w = match (size, signed) {
                    (Size::DW, false) => false,
                    (Size::W, false) => true,
                    _ => {
                        let s = &self.line[scol..self.toks[self.i - 3].end as usize];
                        return perr(
                            scol,
                            format!(
                                "atomic operations exist only for u32 and u64, found `{s}`{}",
                                small_atomic_hint(size)
                            ),
                        );
                    }
                };
                if dst.w != want_w {
                    return perr(dst.col, size_width_msg(size, dst));
                }
                let (base, off) = self.mem()?;
                self.expect_p(P::Comma, "`,`")?;
                let src = self.reg_like(dst)?;
                returns_old_value_in_src(word, &dst, &src)?;
                self.expect_p(P::RParen, "`)`")?;
                self.end()?;
                self.check_write(dst)?;
                let size = if want_w { Size::W } else { Size::DW };
                self.push(Item::Insn(Insn::Atomic { size, op, dst: base.reg, src: src.reg, off }), col, dst.col);
                Ok(())
            }
            "xchg_64" | "xchg32_32" | "cmpxchg_64" | "cmpxchg32_32" => {
                let want_w = word.contains("32_32");
                if dst.w != want_w {
                    let bits = if want_w { 32 } else { 64 };
                    let want = if want_w { 'w' } else { 'r' };
                    return perr(
                        dst.col,
                        format!("`{word}` is {bits}-bit: expected a {want}N register, found `{}`", dst.name()),
                    );
                }
                let (base, off) = self.addr()?;
                self.expect_p(P::Comma, "`,`")?;
                let cmp = word.starts_with("cmpxchg");
                if cmp {
                    let r0 = if want_w { "w0" } else { "r0" };
                    if dst.reg != Reg::R0 {
                        return perr(dst.col, format!("`{word}` returns in `{r0}`, found `{}`", dst.name()));
                    }
                    let c = self.reg_like(dst)?;
                    if c.reg != Reg::R0 {
                        return perr(c.col, format!("`{word}` compares with `{r0}`, found `{}`", c.name()));
                    }
                    self.expect_p(P::Comma, "`,`")?;
                }
                let src = self.reg_like(dst)?;
                if !cmp {
                    returns_old_value_in_src(word, &dst, &src)?;
                }
                self.expect_p(P::RParen, "`)`")?;
                self.end()?;
                self.check_write(dst)?;
                let op = if cmp { AtomicOp::Cmpxchg } else { AtomicOp::Xchg };
                let size = if want_w { Size::W } else { Size::DW };
                self.push(Item::Insn(Insn::Atomic { size, op, dst: base.reg, src: src.reg, off }), col, dst.col);
                Ok(())
            }
            "load_acquire" => {
                let (size, _) = self.ordered_size(word)?;
                if dst.w != (size != Size::DW) {
                    return perr(dst.col, ordered_width_msg(word, size, dst));
                }
                let (base, off) = self.mem()?;
                self.expect_p(P::RParen, "`)`")?;
                self.end()?;
                self.check_write(dst)?;
                self.push(Item::Insn(Insn::LoadAcquire { size, dst: dst.reg, src: base.reg, off }), col, dst.col);
                Ok(())
            }
            "addr_space_cast" => {
                if dst.w {
                    return perr(
                        dst.col,
                        format!("`addr_space_cast` writes a 64-bit register, found `{}`", dst.name()),
                    );
                }
                let src = self.reg_w(false)?;
                self.expect_p(P::Comma, "`,`")?;
                let dst_as = self.number(Field::AddrSpace, "a destination address space")?.0 as u16;
                self.expect_p(P::Comma, "`,`")?;
                let src_as = self.number(Field::AddrSpace, "a source address space")?.0 as u16;
                self.expect_p(P::RParen, "`)`")?;
                self.end()?;
                self.check_write(dst)?;
                let insn = Insn::AddrSpaceCast { dst: dst.reg, src: src.reg, dst_as, src_as };
                self.push(Item::Insn(insn), col, dst.col);
                Ok(())
            }
            "map_fd" | "map_value" | "btf_id" | "func" | "map_idx" | "map_idx_value" => self.pseudo(col, dst, word),
            _ => perr(wcol, format!("expected a register, number or memory operand, found `{word}`")),
        }
    }

    /// `map_fd(5) ll` and friends (the word and `(` are consumed).
    fn pseudo(&mut self, col: usize, dst: RegTok, word: &str) -> PResult<()> {
        if dst.w {
            return perr(dst.col, format!("a 64-bit load (`ll`) needs a 64-bit register, found `{}`", dst.name()));
        }
        let named = |p: &Self| matches!(p.peek(), Some(t) if t.kind == Tk::Ident);
        let mut detail = dst.col;
        let item = match word {
            "map_fd" | "map_value" if named(self) => {
                let t = self.peek().unwrap_or(Tok { kind: Tk::Ident, start: 0, end: 0 });
                self.i += 1;
                let name = self.text(t).to_string();
                let value_off = if word == "map_value" {
                    self.expect_p(P::Comma, "`,`")?;
                    Some(self.imm32("an offset into the map value")?)
                } else {
                    None
                };
                detail = t.start as usize;
                Item::Map { dst: dst.reg, name, value_off }
            }
            "func" => {
                let (target, tcol) = self.target_no_annotation()?;
                detail = tcol;
                Item::Branch { insn: Insn::LdImm64 { dst: dst.reg, value: Imm64::Func(0) }, target }
            }
            _ => {
                let a = self.imm32("a number")?;
                let two = matches!(word, "map_value" | "btf_id" | "map_idx_value");
                let b = if two {
                    self.expect_p(P::Comma, "`,`")?;
                    self.imm32("a number")?
                } else {
                    0
                };
                let value = match word {
                    "map_fd" => Imm64::MapFd(a),
                    "map_value" => Imm64::MapValue { fd: a, off: b },
                    "btf_id" => Imm64::BtfId { id: a, btf_fd: b },
                    "map_idx" => Imm64::MapIdx(a),
                    _ => Imm64::MapIdxValue { idx: a, off: b },
                };
                Item::Insn(Insn::LdImm64 { dst: dst.reg, value })
            }
        };
        self.expect_p(P::RParen, "`)`")?;
        self.expect_ident("ll")?;
        self.end()?;
        self.check_write(dst)?;
        self.push(item, col, detail);
        Ok(())
    }

    /// After `dst = *`: `(size *)(reg + off)` or `(size *)skb[...]`.
    fn load(&mut self, col: usize, dst: RegTok) -> PResult<()> {
        let (size, signed, scol) = self.size_cast()?;
        if self.is_ident("skb") {
            self.i += 1;
            if dst.reg != Reg::R0 || dst.w {
                return perr(dst.col, format!("packet loads (`skb[...]`) always write `r0`, found `{}`", dst.name()));
            }
            if signed || size == Size::DW {
                let s = &self.line[scol..self.toks[self.i - 4].end as usize];
                return perr(scol, format!("packet loads take u8, u16 or u32, found `{s}`"));
            }
            self.expect_p(P::LBrack, "`[`")?;
            let insn = if self.peek_reg().is_some() || self.peek().is_some_and(|t| t.kind == Tk::Ident) {
                let (src, off) = {
                    let r = self.reg_w(false)?;
                    let neg = if self.eat_p(P::Plus) {
                        Some(false)
                    } else if self.eat_p(P::Minus) {
                        Some(true)
                    } else {
                        None
                    };
                    let imm = match neg {
                        None => 0,
                        Some(neg) => {
                            let (v, c) = self.number(Field::Imm64, "an offset")?;
                            let v = if neg { -v } else { v };
                            if v < i32::MIN as i128 || v > i32::MAX as i128 {
                                return perr(c, format!("offset {v} does not fit in a 32-bit immediate"));
                            }
                            v as i32
                        }
                    };
                    (r, imm)
                };
                Insn::LdInd { size, src: src.reg, imm: off }
            } else {
                Insn::LdAbs { size, imm: self.imm32("a packet offset or register")? }
            };
            self.expect_p(P::RBrack, "`]`")?;
            self.end()?;
            self.push(Item::Insn(insn), col, dst.col);
            return Ok(());
        }
        let (src, off) = self.mem()?;
        self.end()?;
        if dst.w && (signed || size == Size::DW) {
            let s = &self.line[scol..];
            let s = s.split(')').next().unwrap_or("").trim_end_matches([' ', '*']);
            return perr(
                dst.col,
                format!(
                    "a `{s}` load writes the whole 64-bit register: use `r{}`, not `{}`",
                    dst.reg.index(),
                    dst.name()
                ),
            );
        }
        if signed && size == Size::DW {
            return perr(scol, "sign-extending loads take s8, s16 or s32");
        }
        self.check_write(dst)?;
        self.push(Item::Insn(Insn::Load { size, signed, dst: dst.reg, src: src.reg, off }), col, dst.col);
        Ok(())
    }
}

/// 8- and 16-bit memory operations that are atomic exist since kernel 6.15,
/// but only as these two.
fn small_atomic_hint(size: Size) -> &'static str {
    if matches!(size, Size::B | Size::H) { " (8- and 16-bit: only `load_acquire` and `store_release`)" } else { "" }
}

fn size_width_msg(size: Size, dst: RegTok) -> String {
    if size == Size::DW {
        format!("a u64 atomic operation needs a 64-bit register, found `{}`", dst.name())
    } else {
        format!("a u32 atomic operation needs a 32-bit register (w0..w10), found `{}`", dst.name())
    }
}

/// LLVM names the value of a load-acquire or store-release `wN` below 64
/// bits and `rN` for u64.
fn ordered_width_msg(word: &str, size: Size, r: RegTok) -> String {
    let n = r.reg.index();
    if size == Size::DW {
        format!("a u64 `{word}` takes a 64-bit register: use `r{n}`, not `{}`", r.name())
    } else {
        format!("a {}-bit `{word}` takes a 32-bit register: use `w{n}`, not `{}`", size.bytes() * 8, r.name())
    }
}

fn endian_word(w: &str) -> Option<(Endian, u8)> {
    let (op, bits) = if let Some(b) = w.strip_prefix("bswap") {
        (Endian::Swap, b)
    } else if let Some(b) = w.strip_prefix("le") {
        (Endian::Le, b)
    } else if let Some(b) = w.strip_prefix("be") {
        (Endian::Be, b)
    } else {
        return None;
    };
    let bits = match bits {
        "16" => 16,
        "32" => 32,
        "64" => 64,
        _ => return None,
    };
    Some((op, bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::program::*;

    fn one(s: &str) -> Insn {
        let a = assemble(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(a.insns.len(), 1, "{s}");
        a.insns[0]
    }

    fn err(s: &str) -> TextError {
        match assemble(s) {
            Ok(a) => panic!("{s:?} assembled to {:?}", a.insns),
            Err(e) => e,
        }
    }

    #[test]
    fn basic_forms() {
        use Width::*;
        assert_eq!(one("r0 = *(u32 *)(r1 + 20)"), load(Size::W, R0, R1, 20));
        assert_eq!(one("w0 = *(u32 *)(r1 + 20)"), load(Size::W, R0, R1, 20));
        assert_eq!(one("r0 = *(s16 *)(r1 - 2)"), load_sx(Size::H, R0, R1, -2));
        assert_eq!(
            one("if w1 s< -5 goto +2"),
            Insn::JmpCond { width: W32, op: Jmp::Jslt, dst: R1, src: Src::Imm(-5), off: 2 }
        );
        assert_eq!(
            one("if r1 & r2 goto +1"),
            Insn::JmpCond { width: W64, op: Jmp::Jset, dst: R1, src: Src::Reg(R2), off: 1 }
        );
        assert_eq!(one("lock *(u64 *)(r1 + 8) += r2"), atomic(Size::DW, AtomicOp::Add, R1, 8, R2));
        assert_eq!(one("lock *(u32 *)(r1 + 8) ^= w2"), atomic(Size::W, AtomicOp::Xor, R1, 8, R2));
        assert_eq!(one("r2 = atomic_fetch_add((u64 *)(r1 + 8), r2)"), atomic(Size::DW, AtomicOp::FetchAdd, R1, 8, R2));
        assert_eq!(one("w2 = xchg32_32(r1 + 8, w2)"), atomic(Size::W, AtomicOp::Xchg, R1, 8, R2));
        assert_eq!(one("r0 = cmpxchg_64(r1 + 16, r0, r2)"), atomic(Size::DW, AtomicOp::Cmpxchg, R1, 16, R2));
        assert_eq!(one("w0 = cmpxchg32_32(r1 + 16, w0, w2)"), atomic(Size::W, AtomicOp::Cmpxchg, R1, 16, R2));
        assert_eq!(one("r1 = 0x1122334455667788 ll"), lddw(R1, 0x1122334455667788));
        assert_eq!(one("r1 = 1234605616436508552 ll"), lddw(R1, 0x1122334455667788));
        assert_eq!(one("r1 = -1 ll"), lddw(R1, u64::MAX));
        assert_eq!(one("gotol +3"), Insn::Gotol { imm: 3 });
        assert_eq!(one("gotol -100000"), Insn::Gotol { imm: -100000 });
        assert_eq!(one("may_goto +2"), Insn::MayGoto { off: 2 });
        assert_eq!(one("r0 = *(u8 *)skb[20]"), Insn::LdAbs { size: Size::B, imm: 20 });
        assert_eq!(one("r0 = *(u16 *)skb[r1 + 4]"), Insn::LdInd { size: Size::H, src: R1, imm: 4 });
        assert_eq!(one("r0 = *(u32 *)skb[r1]"), Insn::LdInd { size: Size::W, src: R1, imm: 0 });
        assert_eq!(one("r1 = bswap16 r1"), Insn::Endian { op: Endian::Swap, bits: 16, dst: R1 });
        assert_eq!(one("r1 = le16 r1"), Insn::Endian { op: Endian::Le, bits: 16, dst: R1 });
        assert_eq!(one("r1 = be32 r1"), Insn::Endian { op: Endian::Be, bits: 32, dst: R1 });
        assert_eq!(one("w1 = (s8)w2"), Alu::Movsx8.reg32(R1, R2));
        assert_eq!(one("r1 = (s32)r2"), Alu::Movsx32.reg(R1, R2));
        assert_eq!(one("r1 = -r1"), Insn::Neg { width: W64, dst: R1 });
        assert_eq!(one("w1 = -w1"), Insn::Neg { width: W32, dst: R1 });
        assert_eq!(one("w1 s/= 3"), Alu::Sdiv.imm32(R1, 3));
        assert_eq!(one("r1 s%= r2"), Alu::Smod.reg(R1, R2));
        assert_eq!(one("r1 s>>= 3"), Alu::Arsh.imm(R1, 3));
        assert_eq!(one("r1 = -5"), Alu::Mov.imm(R1, -5));
        assert_eq!(one("r1 = 0xffffffff"), Alu::Mov.imm(R1, -1));
        assert_eq!(one("*(u32 *)(r10 - 4) = 7"), store_imm(Size::W, R10, -4, 7));
        assert_eq!(one("*(u64 *)(r10 - 8) = r1"), store(Size::DW, R10, -8, R1));
        assert_eq!(one("*(u8 *)(r10 - 8) = w1"), store(Size::B, R10, -8, R1));
        assert_eq!(one("call 5"), call(5));
        assert_eq!(one("call kfunc(123)"), Insn::Call(Call::Kfunc { btf_id: 123, module: 0 }));
        assert_eq!(one("call kfunc(123, 2)"), Insn::Call(Call::Kfunc { btf_id: 123, module: 2 }));
        assert_eq!(one("call local(-1)"), Insn::Call(Call::Local(-1)));
        assert_eq!(one("call func(+2)"), Insn::Call(Call::Local(2)));
        assert_eq!(one("call bpf_map_lookup_elem"), call(1));
        assert_eq!(one("call map_lookup_elem"), call(1));
        assert_eq!(one("exit"), Insn::Exit);
        assert_eq!(one("r1 = map_fd(5) ll"), Insn::LdImm64 { dst: R1, value: Imm64::MapFd(5) });
        assert_eq!(
            one("r1 = map_value(5, 16) ll"),
            Insn::LdImm64 { dst: R1, value: Imm64::MapValue { fd: 5, off: 16 } }
        );
        assert_eq!(
            one("r1 = btf_id(123, 0) ll"),
            Insn::LdImm64 { dst: R1, value: Imm64::BtfId { id: 123, btf_fd: 0 } }
        );
        assert_eq!(one("r1 = func(+3) ll"), Insn::LdImm64 { dst: R1, value: Imm64::Func(3) });
        assert_eq!(one("r1 = map_idx(0) ll"), Insn::LdImm64 { dst: R1, value: Imm64::MapIdx(0) });
        assert_eq!(
            one("r1 = map_idx_value(0, 8) ll"),
            Insn::LdImm64 { dst: R1, value: Imm64::MapIdxValue { idx: 0, off: 8 } }
        );
        assert_eq!(one("ld_pseudo\tr1, 0x2, 0x5"), Insn::LdImm64 { dst: R1, value: Imm64::MapValue { fd: 5, off: 0 } });
    }

    /// Load-acquire and store-release in newer LLVM's syntax (its MC tests:
    /// `wN` below 64 bits, `rN` for u64), and addr_space_cast in LLVM 19's.
    #[test]
    fn ordered_and_cast_forms() {
        let cases: &[(&str, Insn)] = &[
            ("w0 = load_acquire((u8 *)(r1 + 0))", load_acquire(Size::B, R0, R1, 0)),
            ("w0 = load_acquire((u16 *)(r1 + 0x0))", load_acquire(Size::H, R0, R1, 0)),
            ("w3 = load_acquire((u32 *)(r10 - 4))", load_acquire(Size::W, R3, R10, -4)),
            ("r0 = load_acquire((u64 *)(r1 + 8))", load_acquire(Size::DW, R0, R1, 8)),
            ("store_release((u8 *)(r1 + 0), w2)", store_release(Size::B, R1, 0, R2)),
            ("store_release((u16 *)(r1 - 2), w2)", store_release(Size::H, R1, -2, R2)),
            ("store_release((u32 *)(r1 + 0), w9)", store_release(Size::W, R1, 0, R9)),
            ("store_release((u64 *)(r10 - 8), r2)", store_release(Size::DW, R10, -8, R2)),
            ("store_release((u64 *)(r1), r10)", store_release(Size::DW, R1, 0, R10)),
            ("r1 = addr_space_cast(r2, 0, 1)", addr_space_cast(R1, R2, 0, 1)),
            ("r1 = addr_space_cast(r2, 0x1, 0x0)", addr_space_cast(R1, R2, 1, 0)),
            ("r0 = addr_space_cast(r10, 65535, 0xfffe)", addr_space_cast(R0, R10, 65535, 65534)),
        ];
        for (src, want) in cases {
            assert_eq!(one(src), *want, "{src}");
            assert_eq!(one(&want.to_string()), *want, "{want}");
        }
        let errs: &[(&str, usize, &str)] = &[
            (
                "r0 = load_acquire((u8 *)(r1 + 0))",
                1,
                "a 8-bit `load_acquire` takes a 32-bit register: use `w0`, not `r0`",
            ),
            ("w0 = load_acquire((u64 *)(r1 + 0))", 1, "a u64 `load_acquire` takes a 64-bit register: use `r0`"),
            ("w0 = load_acquire((s8 *)(r1 + 0))", 20, "`load_acquire` takes u8, u16, u32 or u64, found `s8`"),
            ("w10 = load_acquire((u8 *)(r1 + 0))", 1, "read-only frame pointer"),
            ("w0 = load_acquire((u8 *)(w1 + 0))", 26, "expected a 64-bit register"),
            ("store_release((u8 *)(r1 + 0), r2)", 31, "use `w2`, not `r2`"),
            ("store_release((u64 *)(r1 + 0), w2)", 32, "use `r2`, not `w2`"),
            ("store_release((u64 *)(r1 + 0), 5)", 32, "expected register"),
            ("store_release((u64 *)(r1 + 0) r2)", 31, "expected `,`"),
            ("w1 = addr_space_cast(r2, 0, 1)", 1, "writes a 64-bit register"),
            ("r1 = addr_space_cast(r2, 65536, 1)", 26, "does not fit in an address space (0..=65535)"),
            ("r1 = addr_space_cast(r2, -1, 1)", 26, "does not fit in an address space"),
            ("r1 = addr_space_cast(w2, 0, 1)", 22, "expected a 64-bit register"),
            ("r10 = addr_space_cast(r2, 0, 1)", 1, "read-only frame pointer"),
            ("lock *(u8 *)(r1 + 0) += w2", 8, "(8- and 16-bit: only `load_acquire` and `store_release`)"),
        ];
        for (src, col, msg) in errs {
            let e = err(src);
            assert!(e.message.contains(msg), "{src:?}: {}", e.message);
            assert_eq!(e.col, *col, "{src:?}: {e}");
        }
    }

    #[test]
    fn labels_calls_and_comments() {
        let a = assemble(
            "
            /* block
               comment */ r0 = 0
            top:  // c
              if r1 == 0 goto out ; c
              call fn
              r2 = func(fn) ll # c
              gotol top
              may_goto out
            out: exit
            fn:
              exit",
        )
        .unwrap();
        assert_eq!(a.insns[1], Insn::JmpCond { width: Width::W64, op: Jmp::Jeq, dst: R1, src: Src::Imm(0), off: 5 });
        assert_eq!(a.insns[2], Insn::Call(Call::Local(5)));
        // lddw of a function counts from the slot after its first slot, as the kernel does.
        assert_eq!(a.insns[3], Insn::LdImm64 { dst: R2, value: Imm64::Func(4) });
        assert_eq!(a.insns[4], Insn::Gotol { imm: -5 });
        assert_eq!(a.insns[5], Insn::MayGoto { off: 0 });
    }

    #[test]
    fn objdump_lines() {
        let src = "
x.o:\tfile format elf64-bpf

Disassembly of section .text:

0000000000000000 <foo>:
       0:\t85 10 00 00 03 00 00 00\tcall 0x3
       1:\t18 01 00 00 05 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x5 ll
\t\t0000000000000008:  R_BPF_64_64\t.text
       3:\t15 01 f8 ff ff ff ff ff\tif r1 == -0x1 goto -0x8 <.text+0xa8>
       4:\t05 00 fb ff 00 00 00 00\tgoto -0x5 <foo>
       5:\tbe 01 00 00 00 00 00 00\texit
";
        let p = parse_text(src).unwrap();
        assert_eq!(p.program.items[0], Item::Label("foo".into()));
        let a = p.assemble(src).unwrap();
        assert_eq!(a.insns[0], call(3));
        assert_eq!(a.insns[2], Insn::JmpCond { width: Width::W64, op: Jmp::Jeq, dst: R1, src: Src::Imm(-1), off: -8 });
        assert_eq!(a.insns[3], Insn::Ja { off: -5 });
        assert_eq!(a.insns[4], Insn::Exit);
    }

    #[test]
    fn error_rendering() {
        let e = err("r0 = 1\n\n\tr0 = x1\n").with_file("prog.s");
        assert_eq!(
            e.to_string(),
            "prog.s:3:7: error: expected a register, number or memory operand, found `x1`\n\tr0 = x1\n\t     ^"
        );
        let e = err("r0 = r11");
        assert!(e.message.contains("no register `r11`"), "{e}");
        assert_eq!(e.col, 6);
        let e = err("  r10 = 1");
        assert_eq!((e.line, e.col), (1, 3));
        assert!(e.message.contains("read-only"), "{e}");
        let e = err("lock *(u8 *)(r1 + 0) += w2");
        assert!(e.message.contains("u32 and u64, found `u8`"), "{e}");
        assert_eq!(e.col, 8);
        let e = err("goto nowhere");
        assert_eq!((e.col, e.message.as_str()), (6, "undefined label `nowhere`"));
        let e = err("a:\nexit\n a: exit");
        assert_eq!((e.line, e.col), (3, 2));
        assert!(e.message.contains("first defined on line 1"), "{e}");
        let e = err("r1 = 1ll");
        assert!(e.message.contains("1 ll"), "{e}");
        let e = err("r1 = 4294967296");
        assert!(e.message.contains("does not fit in a 32-bit immediate"), "{e}");
        let e = err("r1 = *(u32 *)(r2 + 32768)");
        assert!(e.message.contains("16-bit"), "{e}");
        assert_eq!(err("/* open").message, "unterminated `/*` comment");
        assert!(err(".byte 1").message.contains("unsupported directive"));
        assert!(err("r1 = w2").message.contains("to match `r1`"));
        assert!(err("r1 = é").message.contains("unexpected character `é`"));
    }

    #[test]
    fn long_jump_suggests_gotol() {
        let mut s = String::from("goto far\n");
        for _ in 0..40000 {
            s.push_str("r0 = 0\n");
        }
        s.push_str("far: exit\n");
        let e = err(&s);
        assert_eq!((e.line, e.col), (1, 6));
        assert!(e.message.contains("gotol"), "{e}");
        assert!(assemble(&s.replacen("goto", "gotol", 1)).is_ok());
        assert!(err("goto +40000").message.contains("gotol"));
    }
}
