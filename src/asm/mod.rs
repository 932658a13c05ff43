//! The eBPF ISA: no I/O, no unsafe, no kernel.
pub mod helpers;
pub mod insn;
pub mod listing;
pub mod program;
pub mod text;

pub use insn::*;
pub use program::*;
