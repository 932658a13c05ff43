mod asm_text;
mod bench;
mod disasm;
mod elf;
mod kernel;
mod strategy;
mod verify_run;
