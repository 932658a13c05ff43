//! `sockasm dump --disasm`: list raw instruction bytes, a BPF ELF object, or
//! the built-in programs, in llvm-objdump's syntax with annotations; or a
//! program loaded in the kernel (`--id`, `--pinned`), with `--jited` each of
//! its instructions followed by its machine code ([`crate::jited`]).
use super::Result;
use crate::asm::Decoder;
use crate::asm::listing::{self, ListingOptions, NamedListing};
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsFd, BorrowedFd};
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
    /// A program loaded in the kernel, by id (`sockasm prog list` shows the
    /// ids): its instructions as the kernel holds them (after the
    /// verifier's rewrites), with the names of the maps it loads.
    #[arg(long, value_name = "N", conflicts_with_all = ["file", "raw", "pinned"])]
    pub id: Option<u32>,
    /// A program pinned in bpffs (e.g. /sys/fs/bpf/sockasm/sockops), listed
    /// as for --id.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["file", "raw"])]
    pub pinned: Option<PathBuf>,
    /// With --id or --pinned: each BPF instruction followed by the x86-64
    /// machine code the kernel's JIT produced for it (from the program's
    /// line info; the JIT's address of each line), calls named by kernel
    /// symbol. Needs root (the kernel shows machine code only to callers
    /// that may see kernel addresses).
    #[arg(long)]
    pub jited: bool,
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
    let loaded = match (args.id, &args.pinned) {
        (Some(id), _) => Some(crate::syscall::info::prog_fd_by_id(id)?),
        (None, Some(p)) => Some(crate::syscall::get_pinned(p)?),
        (None, None) => None,
    };
    if args.jited && loaded.is_none() {
        return Err(
            "sockasm dump --jited: name a loaded program: --id N (see `sockasm prog list`) or --pinned PATH".into()
        );
    }
    let r = match (&args.file, &args.raw) {
        _ if loaded.is_some() => dump_loaded(&mut out, loaded.as_ref().unwrap().as_fd(), args.jited),
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
    let text = if args.json {
        format!("{}\n", super::json_line(&obj.to_json(&name))?)
    } else {
        obj.dump(&name, !args.no_annotate)
    };
    ignore_broken_pipe(out.write_all(text.as_bytes()))
}

/// A loaded program as the kernel holds it: a header from its info, then
/// its translated instructions; a map load names the map (the kernel puts
/// the map's id where the program had its fd). With `jited`, each
/// instruction is followed by its machine code ([`jited_listing`]).
fn dump_loaded(out: &mut impl Write, fd: BorrowedFd<'_>, jited: bool) -> Result<()> {
    use crate::syscall::info;
    if let Some(kind) = info::fd_kind(fd).filter(|k| k != "prog") {
        return Err(format!("that is a BPF {kind}, not a program").into());
    }
    let pi = info::prog_info(fd)?;
    let header = format!(
        "program {} `{}` ({}): {} insns as the kernel holds them (after the verifier's rewrites), {} bytes JITed",
        pi.id,
        pi.name,
        pi.prog_type,
        pi.xlated_prog_len / 8,
        pi.jited_prog_len
    );
    let text = if jited {
        jited_listing(fd)?
    } else {
        let bytes = info::prog_xlated_insns(fd)?;
        with_source_lines(fd, xlated_lines(fd, &bytes))
    };
    ignore_broken_pipe(writeln!(out, "{header}").and_then(|_| out.write_all(text.as_bytes())))
}

/// The translated instructions of program `fd` as `(slot, line)`, each map
/// load followed by the map's name.
fn xlated_lines(fd: BorrowedFd<'_>, bytes: &[u8]) -> Vec<(usize, String)> {
    use crate::syscall::info;
    let names: std::collections::BTreeMap<u32, String> = info::prog_map_ids(fd)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|id| {
            let m = info::map_fd_by_id(id).ok()?;
            Some((id, info::map_info(m.as_fd()).ok()?.name))
        })
        .collect();
    crate::verify::lenient_listing(bytes)
        .lines()
        .map(|line| {
            let slot = line.split(':').next().and_then(|n| n.trim().parse().ok()).unwrap_or(0);
            let mut l = line.to_string();
            if let Some(id) = map_id_in(line)
                && let Some(name) = names.get(&id)
            {
                l.push_str(&format!("{}map {id}: {name}", listing::ANNOTATION_SEP));
            }
            (slot, l)
        })
        .collect()
}

/// The listing, with the program's BTF line info (`; <line> @ file:N`)
/// above the first instruction each entry covers, where the program has
/// line info and the line says more than the instruction below it.
fn with_source_lines(fd: BorrowedFd<'_>, lines: Vec<(usize, String)>) -> String {
    use crate::syscall::info;
    let p = info::prog_jited(fd).ok();
    let btf = p
        .as_ref()
        .filter(|p| p.btf_id != 0 && !p.line_info.is_empty())
        .and_then(|p| info::btf_blob_by_id(p.btf_id).ok())
        .and_then(|b| crate::btf::object::Btf::parse(&b).ok());
    let mut out = String::new();
    for (slot, l) in &lines {
        if let (Some(p), Some(b)) = (&p, &btf)
            && let Some(li) = p.line_info.iter().find(|li| li.insn_off as usize == *slot)
            && let (Ok(file), Ok(text)) = (b.string_at(li.file_name_off), b.string_at(li.line_off))
        {
            let insn = l.split_once(":\t").map_or(l.as_str(), |(_, t)| t);
            let insn = insn.split(listing::ANNOTATION_SEP).next().unwrap_or(insn).trim();
            if insn != text.trim() {
                let src = crate::spec::SourceLine { file, line: li.line_col >> 10, col: li.line_col & 0x3ff, text };
                out.push_str(&src.comment());
                out.push('\n');
            }
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Program `fd`'s BPF instructions, each followed by the x86-64 code the
/// JIT made of it (see [`crate::jited`]); an error says why the kernel
/// gives no machine code and what to do.
pub(crate) fn jited_listing(fd: BorrowedFd<'_>) -> Result<String> {
    use crate::jited;
    use crate::syscall::info;
    jited::check_arch(std::env::consts::ARCH)?;
    let pi = info::prog_info(fd)?;
    let p = info::prog_jited(fd)?;
    if let Some(why) = jited::why_no_code(&p, pi.jited_prog_len, pi.xlated_prog_len, &jited::Host::read()) {
        return Err(jited::JitedError::Refused(why).into());
    }
    let insns = xlated_lines(fd, &p.xlated);
    // The line info's strings are in the program's BTF.
    let btf = (p.btf_id != 0)
        .then(|| info::btf_blob_by_id(p.btf_id).ok())
        .flatten()
        .and_then(|b| crate::btf::object::Btf::parse(&b).ok());
    let source = |l: &crate::spec::LineInfo| {
        let b = btf.as_ref()?;
        Some(crate::spec::SourceLine {
            file: b.string_at(l.file_name_off).ok()?,
            line: l.line_col >> 10,
            col: l.line_col & 0x3ff,
            text: b.string_at(l.line_off).ok()?,
        })
    };
    let mut want = jited::outside_targets(&p);
    want.extend(p.ksyms.iter().copied());
    let mut syms = jited::kallsyms(&want);
    // The program's own functions, should kallsyms not list BPF programs.
    for (i, a) in p.ksyms.iter().enumerate() {
        syms.entry(*a).or_insert_with(|| {
            format!("bpf_prog_{}_{}{}", hex(&pi.tag), pi.name, if i > 0 { format!("_f{i}") } else { String::new() })
        });
    }
    let symbol = |a: u64| syms.get(&a).cloned();
    let mut text = jited::render(&p, &insns, &source, &symbol);
    if let Some(h) = jited::Host::read().jit_harden.filter(|h| *h > 0) {
        text.push_str(&format!(
            "(net.core.bpf_jit_harden is {h}: the JIT may blind constants, so immediates appear xored with a random key)\n"
        ));
    }
    Ok(text)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The map id of a translated map load (`r1 = map_fd(12) ll`,
/// `r1 = map_value(12, 0) ll`).
fn map_id_in(line: &str) -> Option<u32> {
    let p = line.find("= map_fd(").map(|p| p + 9).or_else(|| line.find("= map_value(").map(|p| p + 12))?;
    line[p..].split([')', ',']).next()?.trim().parse().ok()
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
                ListingOptions {
                    annotate: true,
                    labels: p.code.labels.clone(),
                    comments: p.comments.clone(),
                    kfuncs: p.code.kfunc_names(),
                }
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
