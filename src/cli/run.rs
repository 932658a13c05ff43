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
