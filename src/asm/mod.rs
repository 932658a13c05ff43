//! The eBPF ISA: pure computation, no I/O, no kernel (only `syscall` talks to it).
pub mod helpers;
pub mod insn;
pub mod listing;
pub mod program;
pub mod text;

pub use insn::*;
pub use program::*;
