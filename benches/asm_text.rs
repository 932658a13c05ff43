//! Text assembler throughput: `cargo bench --bench asm_text`.
//!
//! Assembles a program of >= 1,000,000 instructions (a mix of every kind of
//! statement, with labels and comments) and prints instructions per second.
use std::hint::black_box;
use std::time::Instant;

const BLOCK: &[&str] = &[
    "top{n}:",
    "  r0 = 0",
    "  r2 = *(u32 *)(r1 + 76)          # load a ctx field",
    "  w3 = w2",
    "  w3 &= 0xffff",
    "  if w3 s> 1024 goto out{n}",
    "  r4 = r10",
    "  r4 += -16",
    "  *(u64 *)(r10 - 16) = r2",
    "  *(u32 *)(r10 - 8) = 7",
    "  r1 = 0x1122334455667788 ll",
    "  r1 = map_fd(5) ll",
    "  lock *(u64 *)(r10 - 16) += r2",
    "  r2 = atomic_fetch_add((u64 *)(r10 - 16), r2)",
    "  r5 = be32 r5",
    "  r6 s>>= 3",
    "  if r2 != r3 goto top{n}",
    "  call 1",
    "out{n}:",
    "  exit",
];

fn main() {
    let per_block = BLOCK.iter().filter(|l| !l.ends_with(':')).count();
    let blocks = 1_000_000usize.div_ceil(per_block);
    let mut src = String::with_capacity(blocks * 500);
    for n in 0..blocks {
        for l in BLOCK {
            src.push_str(&l.replace("{n}", &n.to_string()));
            src.push('\n');
        }
    }
    let insns = blocks * per_block;
    let lines = blocks * BLOCK.len();
    // Warm up, then take the best of a few runs.
    let mut best = f64::INFINITY;
    for _ in 0..4 {
        let t = Instant::now();
        let a = sockasm::asm::text::assemble(black_box(&src)).expect("benchmark source assembles");
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(a.insns.len(), insns);
        best = best.min(dt);
    }
    let parse_only = {
        let t = Instant::now();
        let p = sockasm::asm::text::parse(black_box(&src)).expect("parses");
        black_box(p);
        t.elapsed().as_secs_f64()
    };
    println!(
        "asm_text: {insns} instructions ({lines} lines, {:.1} MB) assembled in {:.3} s (best of 4): {:.2} M instructions/s, {:.1} MB/s; parse alone {:.3} s",
        src.len() as f64 / 1e6,
        best,
        insns as f64 / best / 1e6,
        src.len() as f64 / best / 1e6,
        parse_only
    );
}
