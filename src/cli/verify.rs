//! `sockasm verify`: load a program without attaching it and show the
//! verifier's verdict (the logic is in [`crate::verify`]).
use super::{Result, out, outln};
use crate::syscall::{AttachType, ProgType};
use crate::verify::{self, Verdict};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A text program (`.s`, needs --type) or a BPF ELF object (`.o`).
    #[arg(value_name = "FILE", required_unless_present = "prog", conflicts_with = "prog")]
    pub file: Option<PathBuf>,
    /// A built-in program: `sockops` or `sk_msg` (`all` for both).
    #[arg(long, value_name = "NAME")]
    pub prog: Option<String>,
    /// Program type of a text program (socket_filter, xdp, sched_cls, ...);
    /// for an ELF object it overrides what the section name says.
    #[arg(long = "type", value_name = "TYPE")]
    pub prog_type: Option<String>,
    /// Expected attach type (e.g. cgroup_sock_ops), for types that need one.
    #[arg(long, value_name = "TYPE")]
    pub attach_type: Option<String>,
    /// Only the programs of this ELF section (or the program of this name).
    #[arg(long, value_name = "NAME")]
    pub section: Option<String>,
    /// A map for a text program's `map_fd(NAME)` references:
    /// NAME=TYPE,KEY_SIZE,VALUE_SIZE,MAX_ENTRIES[,FLAGS]. Repeatable.
    #[arg(long = "map", value_name = "SPEC")]
    pub maps: Vec<String>,
    /// Print the verifier log: 1 (the path that failed, or every path) or
    /// 2 (the register state at every instruction).
    #[arg(long, value_name = "1|2", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub log_level: Option<u8>,
    /// Show how the verifier walked the program: sockasm's listing, path by
    /// path, with the registers and stack slots each instruction changed,
    /// branch decisions, pruning, precision and call frames (read from the
    /// level-2 log; -v also prints that log).
    #[arg(long, conflicts_with = "log_level")]
    pub trace: bool,
    /// With --trace: every line. A trace longer than 200 lines otherwise
    /// starts with a summary and has repeated loop rounds and paths folded.
    #[arg(long, requires = "trace")]
    pub full: bool,
    /// With --trace: only path N.
    #[arg(long, value_name = "N", requires = "trace")]
    pub path: Option<usize>,
    /// With --trace: only the visits of instruction INSN (a slot), each with
    /// the instruction before and after it.
    #[arg(long, value_name = "INSN", requires = "trace", conflicts_with = "path")]
    pub around: Option<usize>,
    /// With --trace: where the value of a register (or stack slot) before
    /// an instruction came from, e.g. `R0@7` or `fp-16@9`: walked back from
    /// the verifier's last visit there through copies, fills, spills and
    /// saved paths to the instruction that produced it.
    #[arg(long, value_name = "REG@INSN", requires = "trace", conflicts_with_all = ["path", "around"])]
    pub why: Option<String>,
    /// Print the verifier's statistics (processed insns, states, stack depth).
    #[arg(long)]
    pub stats: bool,
    /// Print the program as submitted and as the kernel rewrote it (context
    /// accesses, helper calls, may_goto, division checks), from the loaded
    /// program's xlated instructions.
    #[arg(long)]
    pub xlated: bool,
    /// Print the loaded program's BPF instructions (as the kernel rewrote
    /// them), each followed by the x86-64 machine code the JIT produced
    /// for it, as `sockasm dump --disasm --id N --jited` does.
    #[arg(long)]
    pub jited: bool,
}

/// The program type named by `--type`, with its default expected attach type.
pub fn parse_types(t: Option<&str>, a: Option<&str>) -> Result<(Option<ProgType>, Option<AttachType>)> {
    let pt = match t {
        None => None,
        Some(s) => Some(match s.to_ascii_lowercase().as_str() {
            "socket" => ProgType::SOCKET_FILTER,
            "tc" | "classifier" => ProgType::SCHED_CLS,
            "sockops" => ProgType::SOCK_OPS,
            "skmsg" => ProgType::SK_MSG,
            _ => ProgType::from_name(s).ok_or_else(|| {
                format!("unknown program type `{s}` (e.g. socket_filter, xdp, sched_cls, sock_ops, sk_msg)")
            })?,
        }),
    };
    let at = match a {
        Some(s) => Some(AttachType::from_name(s).ok_or_else(|| format!("unknown attach type `{s}`"))?),
        None => pt.and_then(ProgType::default_attach_type),
    };
    Ok((pt, at))
}

fn listing_options(c: &crate::spec::ProgramSpec) -> crate::asm::listing::ListingOptions {
    crate::asm::listing::ListingOptions {
        annotate: true,
        labels: c.code.labels.clone(),
        comments: c.comments.clone(),
        kfuncs: c.code.kfunc_names(),
    }
}

/// The submitted listing, then the translated one (their slot numbers
/// differ: rewrites insert and remove instructions).
fn print_xlated(c: &crate::spec::ProgramSpec, prog: &crate::syscall::LoadedProg) -> Result<()> {
    let xlated = verify::xlated_listing(prog)?;
    let opts = crate::asm::listing::ListingOptions {
        labels: c.code.labels.clone(),
        comments: c.comments.clone(),
        kfuncs: c.code.kfunc_names(),
        ..Default::default()
    };
    outln!("--- submitted ({} insns) ---", c.slots());
    out!("{}", crate::asm::listing::listing(&c.insns(), &opts));
    outln!("--- as the kernel rewrote it ({} insns; helper calls show kernel addresses) ---", xlated.lines().count());
    out!("{xlated}");
    outln!("--- end of translation ---");
    Ok(())
}

/// Rejected programs: the details are on stdout already.
#[derive(Debug, thiserror::Error)]
#[error("the verifier rejected {0}")]
pub struct Rejected(pub String);

/// The kernel refused to load the programs before verifying them (details on stdout).
#[derive(Debug, thiserror::Error)]
#[error("the kernel did not load {0} (not a verifier rejection; see above)")]
pub struct NotLoaded(pub String);

pub fn run(args: &Args, verbose: bool) -> Result<()> {
    let inputs = match (&args.prog, &args.file) {
        (Some(p), _) => verify::builtin(if p == "all" { None } else { Some(p.as_str()) })?,
        (None, Some(f)) => {
            let (t, a) = parse_types(args.prog_type.as_deref(), args.attach_type.as_deref())?;
            let maps =
                args.maps.iter().map(|m| verify::parse_map_arg(m)).collect::<std::result::Result<Vec<_>, _>>()?;
            verify::from_file(f, t, a, args.section.as_deref(), &maps)?
        }
        (None, None) => return Err("sockasm verify: give a FILE or --prog sockops|sk_msg".into()),
    };
    let level = verify::log_level(if args.trace { 2 } else { args.log_level.unwrap_or(1) });
    for (name, why) in &inputs.skipped {
        outln!("program {name}: skipped: {why}\n");
    }
    let mut rejected = Vec::new();
    // Refused by the kernel before the verifier ran.
    let mut refused = Vec::new();
    for (i, c) in inputs.programs.iter().enumerate() {
        if i > 0 {
            outln!();
        }
        let attach = c.expected_attach_type.map_or(String::new(), |a| format!(", expected attach type {a}"));
        outln!("program {} ({}{attach}): {} instructions", c.name, c.prog_type, c.slots());
        let verdict = verify::verify(c, &inputs.maps, level);
        let accepted = matches!(verdict, Verdict::Accepted(_));
        let (log, stats) = match verdict {
            Verdict::Accepted(a) => {
                outln!("verdict: accepted");
                if let Some(s) = &a.stats {
                    let states = s.total_states.map_or(String::new(), |t| format!(", {t} states"));
                    let peak = s.peak_states.map_or(String::new(), |p| format!(" (peak {p})"));
                    outln!("verifier: processed {} insns{states}{peak}", s.processed_insns);
                }
                if let Some(info) = &a.info {
                    outln!(
                        "size: {} bytes translated ({} insns), {} bytes JITed",
                        info.xlated_prog_len,
                        info.xlated_prog_len / 8,
                        info.jited_prog_len
                    );
                }
                if args.xlated {
                    print_xlated(c, &a.prog)?;
                }
                if args.jited {
                    use std::os::fd::AsFd;
                    let text = super::dump::jited_listing(a.prog.fd.as_fd())?;
                    outln!(
                        "--- machine code: each instruction as the kernel holds it, then what the JIT made of it ---"
                    );
                    out!("{text}");
                    outln!("--- end of machine code ---");
                }
                (a.prog.log.clone(), a.stats.clone())
            }
            Verdict::Rejected(r) => {
                rejected.push(c.name.clone());
                let why = if r.error.is_verifier_rejection() { "rejected by the verifier" } else { "load failed" };
                outln!("verdict: {why} ({})", r.error.errno);
                if let Some(reason) = &r.error.reason {
                    outln!("reason: {reason}");
                }
                if !r.analysis.message.is_empty() {
                    outln!("message: {}", r.analysis.message.replace('\n', "\n         "));
                }
                if let Some(line) = &r.analysis.insn_line {
                    outln!("verifier at: {line}");
                }
                if let (Some(i), Some(ctx)) = (r.analysis.insn, &r.context) {
                    outln!("instruction {i} in the listing:");
                    out!("{ctx}");
                }
                if let Some(regs) = &r.analysis.regs {
                    outln!("registers there: {regs}");
                }
                if !r.error.is_verifier_rejection() {
                    refused.push(c.name.clone());
                    let root = nix::unistd::geteuid().is_root();
                    if let Some(why) = verify::load_refusal_reason(c.prog_type, r.error.errno, root) {
                        outln!("why: {why}");
                    } else if let Some(h) =
                        crate::syscall::error::hint_for(crate::syscall::Cmd::ProgLoad, r.error.errno, &c.name)
                    {
                        outln!("hint: {h}");
                    }
                }
                let stats = crate::syscall::parse_verifier_stats(r.error.log());
                (r.error.log.clone(), stats)
            }
        };
        if args.stats {
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| {
                    l.starts_with("processed ") || l.starts_with("verification time") || l.starts_with("stack depth")
                })
                .collect();
            if lines.is_empty()
                && let Some(s) = stats
            {
                outln!("stats: {}", s.line);
            }
            for l in lines {
                outln!("stats: {l}");
            }
        }
        if args.trace {
            outln!("--- trace: every path the verifier explored (-v adds its raw log) ---");
            // The instructions as the kernel got them (map loads carry their
            // fds), which is what the log's instruction numbers refer to.
            let insns = crate::loader::bind(c, &inputs.maps)
                .ok()
                .and_then(|b| verify::listing_of(&b))
                .unwrap_or_else(|| c.insns());
            // A built-in program's source lines are its own listing, which
            // the trace prints anyway.
            let log = match &c.source {
                Some(s) if s.synthetic => crate::trace::without_source_lines(&log),
                _ => log.clone(),
            };
            if let Some(w) = &args.why {
                let (key, at) = crate::trace::why::parse_spec(w)
                    .ok_or_else(|| format!("--why `{w}`: expected REG@INSN, e.g. R0@7 or fp-16@9"))?;
                out!("{}", crate::trace::why::why(&insns, &log, &key, at));
            } else {
                let view = crate::trace::View { full: args.full, path: args.path, around: args.around };
                out!("{}", crate::trace::render_view(&insns, &listing_options(c), &log, accepted, &view));
            }
            outln!("--- end of trace ---");
        }
        if args.log_level.is_some() || verbose {
            outln!("--- verifier log ---");
            out!("{log}");
            if !log.ends_with('\n') && !log.is_empty() {
                outln!();
            }
            outln!("--- end of log ---");
        }
    }
    rejected.retain(|n| !refused.contains(n));
    match (rejected.is_empty(), refused.is_empty()) {
        (true, true) => Ok(()),
        (false, _) => Err(Rejected(rejected.join(", ")).into()),
        (true, false) => Err(NotLoaded(refused.join(", ")).into()),
    }
}
