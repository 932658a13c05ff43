mod disasm;
mod strategy;
mod asm_text;
mod kernel;
mod bench;
mod elf;
mod verify_run;
