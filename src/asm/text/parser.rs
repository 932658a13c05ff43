//! The line parser: tokens, operands, and every statement but `dst = ...`.

use super::assign::{ordered_width_msg, small_atomic_hint};
use super::lex::*;
use super::{ParsedText, SrcPos};
use crate::asm::insn::*;
use crate::asm::program::{Item, Target};

pub(super) const IGNORED_DIRECTIVES: &[&str] = &[
    ".text", ".globl", ".global", ".type", ".size", ".file", ".p2align", ".align", ".addrsig", ".local", ".weak",
    ".hidden",
];

pub(super) struct LineParser<'a, 'o> {
    pub(super) line: &'a str,
    pub(super) toks: &'a [Tok],
    pub(super) i: usize,
    pub(super) line_no: u32,
    pub(super) out: &'o mut ParsedText,
}

impl<'a> LineParser<'a, '_> {
    pub(super) fn peek(&self) -> Option<Tok> {
        self.toks.get(self.i).copied()
    }
    pub(super) fn peek_at(&self, k: usize) -> Option<Tok> {
        self.toks.get(self.i + k).copied()
    }
    pub(super) fn text(&self, t: Tok) -> &'a str {
        &self.line[t.start as usize..t.end as usize]
    }
    pub(super) fn col(&self) -> usize {
        match self.peek() {
            Some(t) => t.start as usize,
            None => self.line.trim_end().len(),
        }
    }
    pub(super) fn found(&self) -> String {
        match self.peek() {
            Some(t) => format!("found `{}`", self.text(t)),
            None => "found end of line".to_string(),
        }
    }
    pub(super) fn expected<T>(&self, what: &str) -> PResult<T> {
        perr(self.col(), format!("expected {what}, {}", self.found()))
    }
    pub(super) fn is_p(&self, p: P) -> bool {
        matches!(self.peek(), Some(Tok { kind: Tk::P(q), .. }) if q == p)
    }
    pub(super) fn eat_p(&mut self, p: P) -> bool {
        if self.is_p(p) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub(super) fn expect_p(&mut self, p: P, what: &str) -> PResult<usize> {
        let col = self.col();
        if self.eat_p(p) { Ok(col) } else { self.expected(what) }
    }
    pub(super) fn is_ident(&self, s: &str) -> bool {
        matches!(self.peek(), Some(t) if t.kind == Tk::Ident && self.text(t) == s)
    }
    pub(super) fn eat_ident(&mut self, s: &str) -> bool {
        if self.is_ident(s) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub(super) fn expect_ident(&mut self, s: &str) -> PResult<()> {
        if self.eat_ident(s) { Ok(()) } else { self.expected(&format!("`{s}`")) }
    }
    pub(super) fn end(&mut self) -> PResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => perr(self.col(), format!("expected end of line, {}", self.found())),
        }
    }

    pub(super) fn push(&mut self, item: Item, col: usize, detail: usize) {
        self.out.program.items.push(item);
        self.out.positions.push(SrcPos { line: self.line_no, col: col as u32, detail: detail as u32 });
    }

    /// A register token at the cursor, if there is one.
    pub(super) fn peek_reg(&self) -> Option<RegTok> {
        let t = self.peek()?;
        if t.kind != Tk::Ident {
            return None;
        }
        let (n, w) = reg_name(self.text(t))?;
        Some(RegTok { reg: Reg::new(n)?, w, col: t.start as usize })
    }

    pub(super) fn reg(&mut self) -> PResult<RegTok> {
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
    pub(super) fn reg_like(&mut self, like: RegTok) -> PResult<RegTok> {
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

    pub(super) fn reg_w(&mut self, w: bool) -> PResult<RegTok> {
        let r = self.reg()?;
        if r.w != w {
            let (want, bits) = if w { ('w', 32) } else { ('r', 64) };
            return perr(r.col, format!("expected a {bits}-bit register ({want}0..{want}10), found `{}`", r.name()));
        }
        Ok(r)
    }

    /// An optionally signed number; returns the value and its column.
    pub(super) fn number(&mut self, field: Field, what: &str) -> PResult<(i128, usize)> {
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

    pub(super) fn imm32(&mut self, what: &str) -> PResult<i32> {
        Ok(self.number(Field::Imm32, what)?.0 as u32 as i32)
    }

    pub(super) fn is_number_start(&self) -> bool {
        match self.peek() {
            Some(Tok { kind: Tk::Num, .. }) => true,
            Some(Tok { kind: Tk::P(P::Minus | P::Plus), .. }) => {
                matches!(self.peek_at(1), Some(Tok { kind: Tk::Num, .. }))
            }
            _ => false,
        }
    }

    /// `u8 | u16 | u32 | u64 | s8 | s16 | s32` inside `*(... *)`.
    pub(super) fn size(&mut self) -> PResult<(Size, bool, usize)> {
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
    pub(super) fn size_cast(&mut self) -> PResult<(Size, bool, usize)> {
        self.expect_p(P::LParen, "`(`")?;
        let s = self.size()?;
        self.expect_p(P::Star, "`*`")?;
        self.expect_p(P::RParen, "`)`")?;
        Ok(s)
    }

    /// `reg + off`, `reg - off` or `reg` (without parentheses).
    pub(super) fn addr(&mut self) -> PResult<(RegTok, i16)> {
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
    pub(super) fn mem(&mut self) -> PResult<(RegTok, i16)> {
        self.expect_p(P::LParen, "`(`")?;
        let a = self.addr()?;
        self.expect_p(P::RParen, "`)`")?;
        Ok(a)
    }

    /// A branch target: a signed slot offset or a label, then an optional
    /// objdump `<sym+0x10>` annotation.
    pub(super) fn target(&mut self) -> PResult<(Target, usize)> {
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
    pub(super) fn annotation(&mut self) -> PResult<()> {
        if self.is_p(P::Lt) {
            if matches!(self.toks.last(), Some(Tok { kind: Tk::P(P::Gt), .. })) && self.toks.len() > self.i + 1 {
                self.i = self.toks.len();
            } else {
                return perr(self.col(), "unterminated `<...>` annotation");
            }
        }
        Ok(())
    }

    pub(super) fn statement(&mut self) -> PResult<()> {
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

    pub(super) fn call(&mut self, col: usize) -> PResult<()> {
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
            // `kfunc(bpf_iter_num_new)`: by name, the loader binds the BTF id.
            if let Some(t) = self.peek().filter(|t| t.kind == Tk::Ident) {
                self.i += 1;
                let name = self.text(t).to_string();
                self.expect_p(P::RParen, "`)`")?;
                self.annotation()?;
                self.end()?;
                self.push(Item::Kfunc(name), col, tcol);
                return Ok(());
            }
            let id = self.imm32("a BTF id or a kfunc name")?;
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

    pub(super) fn target_no_annotation(&mut self) -> PResult<(Target, usize)> {
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

    pub(super) fn cond_jump(&mut self, col: usize) -> PResult<()> {
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
    pub(super) fn src_reg(&mut self, dst: RegTok) -> PResult<Src> {
        if self.peek_reg().is_none()
            && !matches!(self.peek(), Some(t) if t.kind == Tk::Ident && reg_name(self.text(t)).is_some())
        {
            return self.expected("a register or number");
        }
        Ok(Src::Reg(self.reg_like(dst)?.reg))
    }

    pub(super) fn lock(&mut self, col: usize) -> PResult<()> {
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
    pub(super) fn ordered_size(&mut self, word: &str) -> PResult<(Size, usize)> {
        let (size, signed, scol) = self.size_cast()?;
        if signed {
            let s = &self.line[scol..self.toks[self.i - 3].end as usize];
            return perr(scol, format!("`{word}` takes u8, u16, u32 or u64, found `{s}`"));
        }
        Ok((size, scol))
    }

    /// `store_release((u8 *)(r1 + 0), w2)` (the word is consumed).
    pub(super) fn store_release(&mut self, col: usize) -> PResult<()> {
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

    pub(super) fn ld_pseudo(&mut self, col: usize) -> PResult<()> {
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
    pub(super) fn store(&mut self, col: usize) -> PResult<()> {
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

    pub(super) fn check_write(&self, r: RegTok) -> PResult<()> {
        if r.reg == Reg::R10 {
            return perr(r.col, format!("`{}` is the read-only frame pointer and cannot be written", r.name()));
        }
        Ok(())
    }

    /// Statements starting with a register: assignments and compound ALU ops.
    pub(super) fn reg_statement(&mut self, col: usize) -> PResult<()> {
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
}
