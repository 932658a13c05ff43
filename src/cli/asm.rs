//! `sockasm asm IN.s -o OUT.bin`: assemble LLVM pseudo-C text (the syntax
//! `llvm-objdump -d` prints) into raw little-endian instruction bytes, 8 per
//! slot, the format `sockasm dump` and the kernel read.
use super::Result;
use crate::asm::text;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The source file (`-` reads standard input).
    pub input: PathBuf,
    /// Where to write the bytes (`-` writes standard output).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Binds a named map reference (`r1 = map_fd(NAME) ll`,
    /// `map_value(NAME, OFF)`) to a raw fd number. Repeatable.
    #[arg(short, long = "map", value_name = "NAME=FD")]
    pub maps: Vec<String>,
}

/// A failed assembly: the diagnostic has already been printed to stderr with
/// its source line and caret; this is the one-line summary for `main`.
#[derive(Debug, thiserror::Error)]
#[error("could not assemble `{0}`")]
pub struct AsmFailed(pub String);

pub fn run(args: &Args, verbose: bool) -> Result<()> {
    let is_stdin = args.input.as_os_str() == "-";
    let name = if is_stdin { "<stdin>".to_string() } else { args.input.display().to_string() };
    let src = String::from_utf8(crate::input::read(&args.input)?).map_err(|_| {
        format!("`{name}` is not UTF-8 text (for raw instruction bytes, `sockasm dump --disasm --raw` lists them)")
    })?;
    let bytes = match assemble(&src, &args.maps) {
        Ok((bytes, insns)) => {
            if verbose {
                eprintln!("{name}: {insns} instructions, {} slots, {} bytes", bytes.len() / 8, bytes.len());
            }
            bytes
        }
        Err(e) => {
            // The caret rendering is several lines; print it as llvm-mc does and
            // let `main` add a one-line `error:` summary.
            eprintln!("{}", e.with_file(name.clone()));
            return Err(AsmFailed(name).into());
        }
    };
    if args.output.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        match out.write_all(&bytes).and_then(|_| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Err(super::StdoutClosed.into()),
            r => r.map_err(|e| format!("writing standard output: {e}"))?,
        }
    } else {
        std::fs::write(&args.output, &bytes).map_err(|e| format!("writing `{}`: {e}", args.output.display()))?;
    }
    Ok(())
}

/// Assembles `src`, binding `NAME=FD` map references. Returns the bytes and
/// the instruction count.
pub fn assemble(src: &str, maps: &[String]) -> std::result::Result<(Vec<u8>, usize), text::TextError> {
    let parsed = text::parse_text(src)?;
    let mut asm = parsed.assemble(src)?;
    let mut binds = Vec::new();
    for m in maps {
        let bad = || text::TextError {
            file: Some("--map".into()),
            line: 1,
            col: 1,
            source_line: m.clone(),
            message: format!("expected NAME=FD (an fd number), found `{m}`"),
        };
        let (n, fd) = m.split_once('=').ok_or_else(bad)?;
        let fd: i32 = fd.trim().parse().map_err(|_| bad())?;
        binds.push((n.trim().to_string(), fd));
    }
    if !asm.map_refs.is_empty() {
        // Item index of each map reference, to point errors at the source.
        let map_items: Vec<usize> = parsed
            .program
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| matches!(i, crate::asm::Item::Map { .. }))
            .map(|(k, _)| k)
            .collect();
        for (k, r) in asm.map_refs.iter().enumerate() {
            if !binds.iter().any(|(n, _)| *n == r.name) {
                let item = map_items.get(k).copied().unwrap_or(0);
                return Err(parsed.error_at(
                    src,
                    item,
                    true,
                    format!("map `{}` has no fd: pass `--map {}=FD`, or write the fd as `map_fd(FD)`", r.name, r.name),
                ));
            }
        }
        asm.bind_maps(|n| binds.iter().find(|(b, _)| b == n).map(|(_, fd)| *fd))
            .map_err(|e| parsed.error_at(src, 0, false, e.to_string()))?;
    }
    if let Some(r) = asm.kfunc_refs.first() {
        // A kfunc's BTF id is the running kernel's: the loader binds it
        // (`sockasm run`/`verify`); raw bytes would carry a wrong one.
        let item = parsed.program.items.iter().position(|i| matches!(i, crate::asm::Item::Kfunc(_))).unwrap_or(0);
        return Err(parsed.error_at(
            src,
            item,
            true,
            format!(
                "kfunc `{}` is bound by name when the program is loaded (`sockasm run`, `sockasm verify`); for raw bytes write its BTF id, `call kfunc(ID)`",
                r.name
            ),
        ));
    }
    let n = asm.insns.len();
    let bytes = asm.to_bytes().map_err(|e| parsed.error_at(src, 0, false, e.to_string()))?;
    Ok((bytes, n))
}
