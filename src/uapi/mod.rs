//! The kernel's BPF UAPI (`include/uapi/linux/bpf.h`) as plain data: program,
//! map and attach types, flags, helper ids, the layout of the context structs.
//! No I/O, no syscalls: `asm`, `elf` and `progs` use it without `syscall`
//! (which re-exports the types for its callers).

pub mod ctx;
pub mod helper;
pub mod types;

pub use helper::Helper;
pub use types::*;
