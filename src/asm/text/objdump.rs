//! Pasted llvm-objdump output: addresses, raw bytes, headers, relocations
//! and symbol lines, recognised before a line is parsed.

/// What to do with a line, after looking for llvm-objdump listing syntax.
pub(super) enum LineKind {
    /// Nothing to assemble (blank, objdump header, relocation).
    Skip,
    /// Parse from this byte offset (past an objdump address and bytes).
    Parse(usize),
    /// `0000000000000038 <bar>:` -- a symbol header, defining label `bar`
    /// (byte range of the name).
    Symbol(usize, usize),
}

/// `x.o:\tfile format elf64-bpf` and `Disassembly of section .text:`.
pub(super) fn is_objdump_header(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("Disassembly of section ") || t.contains(":\tfile format ") || t.contains(": file format ")
}

pub(super) fn classify(line: &str) -> LineKind {
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
