//! `dst = ...` statements: moves, ALU, loads, atomics, byte swaps, pseudo loads.

use super::lex::*;
use super::parser::LineParser;
use crate::asm::insn::*;
use crate::asm::program::Item;

impl<'a> LineParser<'a, '_> {
    /// `dst = ...`.
    pub(super) fn assign(&mut self, col: usize, dst: RegTok) -> PResult<()> {
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
    pub(super) fn pseudo(&mut self, col: usize, dst: RegTok, word: &str) -> PResult<()> {
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
    pub(super) fn load(&mut self, col: usize, dst: RegTok) -> PResult<()> {
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
pub(super) fn small_atomic_hint(size: Size) -> &'static str {
    if matches!(size, Size::B | Size::H) { " (8- and 16-bit: only `load_acquire` and `store_release`)" } else { "" }
}

pub(super) fn size_width_msg(size: Size, dst: RegTok) -> String {
    if size == Size::DW {
        format!("a u64 atomic operation needs a 64-bit register, found `{}`", dst.name())
    } else {
        format!("a u32 atomic operation needs a 32-bit register (w0..w10), found `{}`", dst.name())
    }
}

/// LLVM names the value of a load-acquire or store-release `wN` below 64
/// bits and `rN` for u64.
pub(super) fn ordered_width_msg(word: &str, size: Size, r: RegTok) -> String {
    let n = r.reg.index();
    if size == Size::DW {
        format!("a u64 `{word}` takes a 64-bit register: use `r{n}`, not `{}`", r.name())
    } else {
        format!("a {}-bit `{word}` takes a 32-bit register: use `w{n}`, not `{}`", size.bytes() * 8, r.name())
    }
}

pub(super) fn endian_word(w: &str) -> Option<(Endian, u8)> {
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

/// Fetching atomics write the old value back into their source register, so
/// the text names it on both sides: `w2 = atomic_fetch_add((u32 *)(r1 + 8), w2)`.
pub(super) fn returns_old_value_in_src(word: &str, dst: &RegTok, src: &RegTok) -> PResult<()> {
    if src.reg == dst.reg {
        return Ok(());
    }
    perr(
        src.col,
        format!("`{word}` returns the old value in its source: expected `{}`, found `{}`", dst.name(), src.name()),
    )
}
