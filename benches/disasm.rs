//! Disassembler throughput (plain `Instant` timing, no criterion).
//!
//!     cargo bench --bench disasm                    # decode + list 1,000,000 instructions
//!     cargo bench --bench disasm -- --gen FILE N    # write N instructions of raw bytes to FILE
//!
//! The generated mix is deterministic and uses only forms llvm-objdump-19
//! prints (no deviations), so `scripts/bench-disasm.sh` can compare against it.

use sockasm::asm::listing::{self, ListingOptions};
use sockasm::asm::*;
use std::hint::black_box;
use std::time::Instant;

/// xorshift64*: deterministic, no dependencies.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn reg(&mut self) -> Reg {
        Reg::new(self.below(10) as u8).unwrap()
    }
    fn any_reg(&mut self) -> Reg {
        Reg::new(self.below(11) as u8).unwrap()
    }
    fn imm(&mut self) -> i32 {
        match self.below(4) {
            0 => self.next() as i32,
            1 => -(self.below(100) as i32),
            _ => self.below(4096) as i32,
        }
    }
    fn off(&mut self) -> i16 {
        (self.below(512) as i16) - 256
    }
    fn width(&mut self) -> Width {
        if self.below(3) == 0 { Width::W32 } else { Width::W64 }
    }
}

/// A plausible mix of `n` slots of instructions (lddw counts as two).
pub fn generate(n: usize) -> Vec<Insn> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(n);
    let mut slots = 0;
    while slots < n {
        let i = match r.below(20) {
            0..=4 => {
                let op = Alu::ALL[r.below(14) as usize];
                let src = if r.below(2) == 0 { Src::Imm(r.imm()) } else { Src::Reg(r.any_reg()) };
                Insn::Alu { width: r.width(), op, dst: r.reg(), src }
            }
            5..=7 => {
                let op = Jmp::ALL[r.below(11) as usize];
                let src = if r.below(2) == 0 { Src::Imm(r.imm()) } else { Src::Reg(r.any_reg()) };
                Insn::JmpCond { width: r.width(), op, dst: r.any_reg(), src, off: r.off() }
            }
            8..=10 => {
                let size = Size::ALL[r.below(4) as usize];
                Insn::Load {
                    size,
                    signed: size != Size::DW && r.below(8) == 0,
                    dst: r.reg(),
                    src: r.any_reg(),
                    off: r.off(),
                }
            }
            11..=12 => {
                Insn::Store { size: Size::ALL[r.below(4) as usize], dst: r.any_reg(), src: r.any_reg(), off: r.off() }
            }
            13 => Insn::StoreImm { size: Size::ALL[r.below(4) as usize], dst: r.any_reg(), off: r.off(), imm: r.imm() },
            14 => Insn::LdImm64 { dst: r.reg(), value: Imm64::Const(r.next()) },
            15 => Insn::Call(Call::Helper(1 + r.below(211) as i32)),
            16 => Insn::Ja { off: r.off() },
            17 => {
                let op = AtomicOp::ALL[r.below(10) as usize];
                Insn::Atomic { size: Size::DW, op, dst: r.any_reg(), src: r.reg(), off: r.off() }
            }
            18 => match r.below(4) {
                0 => Insn::Endian {
                    op: [Endian::Le, Endian::Be, Endian::Swap][r.below(3) as usize],
                    bits: 16 << r.below(3),
                    dst: r.reg(),
                },
                1 => Insn::Neg { width: r.width(), dst: r.reg() },
                2 => Alu::Movsx16.reg(r.reg(), r.any_reg()),
                _ => Insn::MayGoto { off: r.off() },
            },
            _ => Insn::Exit,
        };
        if slots + i.slots() > n {
            continue;
        }
        slots += i.slots();
        out.push(i);
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("--gen") {
        let (Some(path), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse().ok())) else {
            eprintln!("usage: disasm --gen FILE N");
            std::process::exit(2);
        };
        let bytes = encode_all(&generate(n)).unwrap();
        std::fs::write(path, bytes).unwrap();
        return;
    }

    const N: usize = 1_000_000;
    let bytes = encode_all(&generate(N)).unwrap();
    let slots = bytes.len() / 8;
    let rounds = 5;
    let report = |what: &str, insns: usize, best: f64| {
        println!("{what:<34} {insns:>9} insns  {:>8.2} ms  {:>7.1} M insns/s", best * 1e3, insns as f64 / best / 1e6);
    };
    let best_of = |f: &mut dyn FnMut()| {
        (0..rounds)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };

    let insns = decode_all(&bytes).unwrap();
    let n = insns.len();
    println!("{slots} slots, {n} instructions, best of {rounds}");
    report(
        "decode",
        n,
        best_of(&mut || {
            black_box(decode_all(black_box(&bytes)).unwrap());
        }),
    );
    let mut buf = Vec::with_capacity(slots * 48);
    report(
        "listing (no annotations)",
        n,
        best_of(&mut || {
            buf.clear();
            listing::write_listing(&mut buf, &insns, &ListingOptions::plain()).unwrap();
            black_box(&buf);
        }),
    );
    report(
        "listing (annotated)",
        n,
        best_of(&mut || {
            buf.clear();
            listing::write_listing(&mut buf, &insns, &ListingOptions::default()).unwrap();
            black_box(&buf);
        }),
    );
    report(
        "decode + annotated listing",
        n,
        best_of(&mut || {
            buf.clear();
            let insns = decode_all(&bytes).unwrap();
            listing::write_listing(&mut buf, &insns, &ListingOptions::default()).unwrap();
            black_box(&buf);
        }),
    );
    report(
        "json",
        n,
        best_of(&mut || {
            buf.clear();
            listing::write_json(&mut buf, &insns, Some(&bytes), &ListingOptions::default()).unwrap();
            black_box(&buf);
        }),
    );
}
