//! sockasm: a pure-Rust eBPF toolkit. Same-host TCP that skips the TCP/IP stack
//! (sock_ops + sk_msg written in sockasm's own assembler DSL), and a typed
//! assembler, text assembler and disassembler for the whole eBPF ISA.

pub mod agent;
pub mod asm;
pub mod bench;
pub mod btf;
pub mod cgroup;
pub mod cli;
pub mod deploy;
pub mod elf;
pub mod exec;
pub mod input;
pub mod json;
#[cfg(test)]
mod layers;
pub mod loader;
pub mod progs;
pub mod spec;
pub mod syscall;
pub mod trace;
pub mod uapi;
pub mod verify;
// The traffic generator behind `sockasm worker` and `sockasm bench`: used by
// the CLI only, not part of the library's API.
mod traffic;
