//! `sockasm dump --disasm`: list raw instruction bytes, a BPF ELF object, or
//! the built-in programs, in llvm-objdump's syntax with annotations.
use super::Result;
use crate::asm::Decoder;
use crate::asm::listing::{self, ListingOptions, NamedListing};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A BPF ELF object (`clang -O2 -g -target bpf -c x.c`): its program
    /// sections with their program types, functions, relocations, license
    /// and maps.
    #[arg(value_name = "FILE.o", conflicts_with = "raw")]
    pub file: Option<PathBuf>,
    /// Disassemble (the only dump mode so far).
    #[arg(long)]
    pub disasm: bool,
    /// A file of raw little-endian eBPF instructions (8 bytes a slot) to
    /// list instead of the built-in programs; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub raw: Option<PathBuf>,
    /// Leave out the `; ...` annotations and label lines: the text is then
    /// what `llvm-objdump -d --no-show-raw-insn` prints.
    #[arg(long)]
    pub no_annotate: bool,
    /// Print JSON: {"insns":[{"slot","text","bytes","annotation"}]} for a raw
    /// file, {"programs":[{"name","insns":[...]}]} for the built-in programs.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    if !args.disasm {
        return Err("sockasm dump: say what to dump: --disasm".into());
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let r = match (&args.file, &args.raw) {
        (Some(path), _) => dump_elf(&mut out, path, args),
        (None, Some(path)) => dump_raw(&mut out, path, args),
        (None, None) => dump_builtin(&mut out, args),
    };
    r?;
    match out.flush() {
        // `sockasm dump ... | head` is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn options(args: &Args) -> ListingOptions {
    ListingOptions { annotate: !args.no_annotate, ..ListingOptions::default() }
}

fn ignore_broken_pipe(r: io::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn dump_raw(out: &mut impl Write, path: &std::path::Path, args: &Args) -> Result<()> {
    let bytes = crate::input::read(path)?;
    if crate::elf::is_elf(&bytes) {
        return Err(format!(
            "{}: an ELF file, not raw instructions: list it with `sockasm dump --disasm {}`",
            path.display(),
            path.display()
        )
        .into());
    }
    // Decode everything first so that bad bytes fail the command before any
    // output: a listing that stops half-way is easy to mistake for a whole one.
    let mut insns = Vec::with_capacity(bytes.len() / 8);
    for r in Decoder::new(&bytes) {
        insns.push(r.map_err(|e| format!("{}: {e}", path.display()))?);
    }
    let opts = options(args);
    let r = if args.json {
        listing::write_json(out, &insns, Some(&bytes), &opts)
    } else {
        listing::write_listing(out, &insns, &opts)
    };
    ignore_broken_pipe(r)
}

fn dump_elf(out: &mut impl Write, path: &std::path::Path, args: &Args) -> Result<()> {
    let bytes = crate::input::read(path)?;
    if !crate::elf::is_elf(&bytes) {
        return Err(format!(
            "{}: not an ELF object (no \\x7fELF magic); for raw instruction bytes use `--raw {}`",
            path.display(),
            path.display()
        )
        .into());
    }
    let obj = crate::elf::Object::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.display().to_string();
    let text = if args.json { format!("{}\n", obj.to_json(&name)) } else { obj.dump(&name, !args.no_annotate) };
    ignore_broken_pipe(out.write_all(text.as_bytes()))
}

fn dump_builtin(out: &mut impl Write, args: &Args) -> Result<()> {
    let progs = crate::deploy::builtin_programs()?;
    if progs.is_empty() {
        writeln!(out, "no built-in programs yet")?;
        return Ok(());
    }
    let listed: Vec<_> = progs
        .iter()
        .map(|p| {
            let insns = p.insns();
            let opts = if args.no_annotate {
                options(args)
            } else {
                ListingOptions { annotate: true, labels: p.code.labels.clone(), comments: p.comments.clone() }
            };
            (p.name.as_str(), insns, opts)
        })
        .collect();
    let r = if args.json {
        let named: Vec<_> = listed.iter().map(|(name, insns, opts)| NamedListing { name, insns, opts }).collect();
        listing::write_json_programs(out, &named)
    } else {
        (|| {
            for (i, (name, insns, opts)) in listed.iter().enumerate() {
                // llvm-objdump's function header: blank line, address, <name>:.
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "{:016x} <{name}>:", 0)?;
                listing::write_listing(out, insns, opts)?;
            }
            Ok(())
        })()
    };
    ignore_broken_pipe(r)
}
