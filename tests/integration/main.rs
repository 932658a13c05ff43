mod asm_text;
mod bench;
mod disasm;
mod elf;
mod hardening;
mod kernel;
mod strategy;
mod verify_run;
