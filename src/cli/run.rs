//! `sockasm run FILE --type TYPE`: load a program (never attached) and run it
//! with BPF_PROG_TEST_RUN, printing `retval: N`.
use super::{Result, outln};
use crate::asm::hex;
use crate::verify::{self, Verdict};
use std::path::PathBuf;

/// Packet used when neither --data nor --data-file is given: 64 zero bytes
/// (skb test runs need at least an Ethernet header, 14 bytes).
pub const DEFAULT_DATA_LEN: usize = 64;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A text program (`.s`) or a BPF ELF object (`.o`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Program type: socket_filter, xdp, sched_cls, ... (required for text).
    #[arg(long = "type", value_name = "TYPE")]
    pub prog_type: Option<String>,
    /// The ELF section (or program name) to run.
    #[arg(long, value_name = "NAME")]
    pub section: Option<String>,
    /// Input data as hex (`00ff...`, spaces and colons allowed).
    #[arg(long, value_name = "HEX", conflicts_with = "data_file")]
    pub data: Option<String>,
    /// Input data from a file.
    #[arg(long, value_name = "FILE")]
    pub data_file: Option<PathBuf>,
    /// Run this many times (the duration is the average).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// A map for a text program's `map_fd(NAME)` references:
    /// NAME=TYPE,KEY_SIZE,VALUE_SIZE,MAX_ENTRIES[,FLAGS]. Repeatable.
    #[arg(long = "map", value_name = "SPEC")]
    pub maps: Vec<String>,
    /// Before the run, put the loaded program itself in slot INDEX of the
    /// program array MAP (a `--map MAP=prog_array,4,4,N`), so that
    /// `bpf_tail_call(ctx, MAP, INDEX)` jumps back to its start: a chain of
    /// tail calls that only the kernel's limit ends.
    #[arg(long = "self-at", value_name = "MAP=INDEX")]
    pub self_at: Option<String>,
}

/// `--self-at MAP=INDEX`: the program's fd into slot INDEX of the
/// PROG_ARRAY `MAP`. (The array holds a reference to the program, and the
/// program one to the array: both are freed when the array's last fd
/// closes, which clears it.)
fn put_self(maps: &crate::loader::Maps, prog: &crate::syscall::LoadedProg, at: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    let (name, index) = at
        .split_once('=')
        .and_then(|(n, i)| Some((n.trim(), i.trim().parse::<u32>().ok()?)))
        .ok_or_else(|| format!("--self-at `{at}`: expected MAP=INDEX (e.g. jmp=0)"))?;
    let map =
        maps.get(name).ok_or_else(|| format!("--self-at {at}: no map `{name}` (add --map {name}=prog_array,4,4,N)"))?;
    if map.spec().map_type != crate::syscall::MapType::PROG_ARRAY {
        return Err(format!("--self-at {at}: map `{name}` is a {}, not a prog_array", map.spec().map_type).into());
    }
    let fd = prog.fd().as_raw_fd() as u32;
    map.update(&index.to_ne_bytes(), &fd.to_ne_bytes(), crate::syscall::UpdateFlag::Any)
        .map_err(|e| format!("--self-at {at}: putting the program in slot {index} of `{name}` failed: {e}"))?;
    Ok(())
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    let (t, a) = super::verify::parse_types(args.prog_type.as_deref(), None)?;
    let maps = args.maps.iter().map(|m| verify::parse_map_arg(m)).collect::<std::result::Result<Vec<_>, _>>()?;
    let inputs = verify::from_file(&args.file, t, a, args.section.as_deref(), &maps)?;
    if inputs.programs.len() > 1 {
        let names: Vec<&str> = inputs.programs.iter().map(|p| p.name.as_str()).collect();
        return Err(format!(
            "{} holds {} programs ({}): choose one with --section",
            args.file.display(),
            names.len(),
            names.join(", ")
        )
        .into());
    }
    let c = &inputs.programs[0];
    let data = match (&args.data, &args.data_file) {
        (Some(h), _) => verify::parse_hex(h).map_err(|e| format!("--data: {e}"))?,
        (None, Some(f)) => crate::input::read(f)?,
        (None, None) => vec![0u8; DEFAULT_DATA_LEN],
    };
    let prog = match verify::verify(c, &inputs.maps, 0) {
        Verdict::Accepted(a) => a.prog,
        Verdict::Rejected(r) => {
            let mut msg = format!("the verifier rejected {}: {}", c.name, r.analysis.message);
            if let Some(l) = &r.analysis.insn_line {
                msg.push_str(&format!("\n  at {l}"));
            }
            msg.push_str(&format!("\n  (`sockasm verify {}` explains it)", args.file.display()));
            return Err(msg.into());
        }
    };
    if let Some(at) = &args.self_at {
        put_self(&inputs.maps, &prog, at)?;
    }
    let res = verify::run(&prog, c.prog_type, &data, args.repeat)?;
    outln!("retval: {}", res.retval);
    let signed = res.retval as i32;
    if signed < 0 || res.retval > 9 {
        outln!("retval (hex): {:#x}, as i32: {signed}", res.retval);
    }
    outln!(
        "duration: {} ns{}",
        res.duration_ns,
        if args.repeat > 1 { format!(" (average of {} runs)", args.repeat) } else { String::new() }
    );
    if verify::takes_packet(c.prog_type) {
        if res.data_out == data {
            outln!("data out: unchanged ({} bytes)", data.len());
        } else {
            outln!("data out ({} bytes): {}", res.data_out.len(), hex(&res.data_out));
        }
    }
    Ok(())
}
