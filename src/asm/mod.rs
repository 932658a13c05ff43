//! The eBPF ISA: no I/O, no unsafe, no kernel.
pub mod insn;
pub mod listing;
pub mod program;

pub use insn::*;
pub use program::*;
