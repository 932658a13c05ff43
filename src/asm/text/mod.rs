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
//! | `call kfunc(bpf_iter_num_new)` | kfunc call by name: the loader binds the BTF id from the running kernel's BTF |
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
//!
//! Layout: [`lex`] blanks comments and splits a line into tokens, [`objdump`]
//! recognises pasted llvm-objdump lines, [`parser`] parses statements and
//! their operands, `assign` the `dst = ...` forms; this file drives them
//! line by line and maps errors to source positions.

mod assign;
mod lex;
mod objdump;
mod parser;

use super::helpers::helper_id;
use super::insn::*;
use super::program::{AsmError, AsmErrorKind, Assembled, Item, Program, Target};
use lex::{lex, strip_comments};
use objdump::{LineKind, classify, is_objdump_header};
use parser::LineParser;
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

#[cfg(test)]
mod tests;
