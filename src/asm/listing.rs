//! Disassembly text (llvm-objdump syntax). TEMPORARY placeholder Display.
use super::insn::Insn;
use std::fmt;

impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}
