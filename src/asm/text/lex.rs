//! Comments and tokens: a line of text as the parser sees it.

use crate::asm::insn::{Reg, Width};

/// Blanks out comments, keeping columns. Returns the cleaned line.
pub(super) fn strip_comments<'a>(line: &'a str, in_block: &mut bool, scratch: &'a mut String) -> &'a str {
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

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum Tk {
    Ident,
    Num,
    P(P),
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum P {
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
pub(super) struct Tok {
    pub(super) kind: Tk,
    pub(super) start: u32,
    pub(super) end: u32,
}

pub(super) struct PErr {
    pub(super) col: usize,
    pub(super) msg: String,
}

pub(super) type PResult<T> = Result<T, PErr>;

pub(super) fn perr<T>(col: usize, msg: impl Into<String>) -> PResult<T> {
    Err(PErr { col, msg: msg.into() })
}

/// Splits a (comment-free) line into tokens, starting at byte `start`.
pub(super) fn lex(line: &str, start: usize, toks: &mut Vec<Tok>) -> PResult<()> {
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
pub(super) fn parse_literal(t: &str) -> Option<u128> {
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

pub(super) const MAX_U64: i128 = u64::MAX as i128;

/// What a number is for, with its accepted range.
#[derive(Copy, Clone)]
pub(super) enum Field {
    Imm32,
    Off16,
    Imm64,
    Jump,
    AddrSpace,
}

impl Field {
    pub(super) fn range(self) -> (i128, i128, &'static str) {
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
pub(super) struct RegTok {
    pub(super) reg: Reg,
    pub(super) w: bool,
    pub(super) col: usize,
}

impl RegTok {
    pub(super) fn width(self) -> Width {
        if self.w { Width::W32 } else { Width::W64 }
    }
    pub(super) fn name(self) -> String {
        format!("{}{}", if self.w { 'w' } else { 'r' }, self.reg.index())
    }
}

pub(super) fn reg_name(t: &str) -> Option<(u8, bool)> {
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
