use sockasm::asm::listing::{ListingOptions, listing, with_slots};
use sockasm::asm::*;

fn main() {
    print!("{}", demo());
}

/// The listing of a small program, then the errors of two bad ones (pub: a test calls it).
pub fn demo() -> String {
    // if (r2 != r3) return 0; return *(u64 *)config_value + 22;
    let mut p = Program::new();
    p.push(Alu::Mov.imm(R0, 0))
        .push(Jmp::Jne.reg(R2, R3, "out"))
        .push(ld_map_value(R1, "config", 0)) // lddw, src 2: two slots
        .push(load(Size::DW, R0, R1, 0))
        .push(Alu::Add.imm(R0, 22))
        .label("out")
        .push(exit());

    let mut asm = p.assemble().expect("assembles");
    asm.bind_maps(|name| (name == "config").then_some(7)).expect("every map bound");
    let bytes = asm.to_bytes().expect("encodes");
    assert_eq!(bytes.len(), 8 * asm.slots());

    let opts = ListingOptions { labels: asm.labels.clone(), ..ListingOptions::default() };
    let mut out = listing(&with_slots(&asm.insns), &opts);

    // Errors name the item they are about.
    let mut bad = Program::new();
    bad.push(Jmp::Jeq.imm(R1, 0, "nowhere")).push(exit());
    out += &format!("{}\n", bad.assemble().unwrap_err());
    let mut bad = Program::new();
    bad.push(Alu::Add.imm(R10, 8)).push(exit());
    out += &format!("{}\n", bad.assemble().unwrap_err());
    out
}
