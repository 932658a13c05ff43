//! sockasm: a pure-Rust eBPF toolkit. Same-host TCP that skips the TCP/IP stack
//! (sock_ops + sk_msg written in sockasm's own assembler DSL), and a typed
//! assembler, text assembler and disassembler for the whole eBPF ISA.
//!
//! Layers, bottom up (a test in `layers.rs` reads the imports and keeps
//! them): the object layer (`asm`, `uapi`, `btf`, `spec`, `elf`, `progs`)
//! is plain data, with no syscall and no file; `syscall` (the one
//! unsafe funnel to bpf(2)), `cgroup` and `loader` make kernel objects of
//! it; `deploy` is the bypass's life cycle, and `bench`, `exec`, `agent` and
//! `cli` are built on it. How `sockasm load` goes from the command line to
//! bpf(2) is walked in [`deploy`].

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
pub mod jited;
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
