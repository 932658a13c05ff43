//! `sockasm bench`: TCP through the bypass against plain loopback TCP and
//! AF_UNIX, in a temporary cgroup and pin directory it removes again (also on
//! Ctrl-C). Each end of a cell is a hidden `sockasm worker` (src/cli/worker.rs).
use std::path::PathBuf;

use nix::sys::signal::{SigSet, Signal};

use super::{Result, out, outln};
use crate::bench::{self as lib, BenchError, Config, Interrupt, Placement, Workload};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Measured seconds per cell (each after a warm-up of a fifth of that, 10 ms to 0.5 s).
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Runs per cell; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Message (rr) and write (stream) sizes in bytes; k and m suffixes mean KiB and MiB.
    #[arg(long, value_delimiter = ',', value_parser = parse_size, default_value = "64,1024,16384,65536,1048576")]
    pub sizes: Vec<usize>,
    /// Connections in parallel per cell (aggregate figures).
    #[arg(long, default_value_t = 1)]
    pub conns: u32,
    /// Only these workloads (rr, stream).
    #[arg(long, value_delimiter = ',', default_value = "rr,stream")]
    pub workloads: Vec<Workload>,
    /// Where the two endpoints of a cell run, one or more of: spread (pinned
    /// to two CPUs: what an application spread over a machine sees, wake-ups
    /// of idle CPUs included); same-cpu (both pinned to one CPU: what the
    /// network stack costs); free (nothing pinned, the scheduler decides and
    /// the report says where they ran: what production runs); both
    /// (spread,same-cpu); all [default: all, or same-cpu,free where this
    /// process may use only one CPU]
    #[arg(long, value_delimiter = ',', value_parser = parse_placement)]
    pub placement: Option<Vec<Placements>>,
    /// Also write a chart (SVG) of bypass/TCP and bypass/AF_UNIX per cell to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// The placements `--placement` selected.
#[derive(Clone, Debug)]
pub struct Placements(pub Vec<Placement>);

fn parse_placement(s: &str) -> std::result::Result<Placements, String> {
    match s {
        "both" => Ok(Placements(vec![Placement::Spread, Placement::SameCpu])),
        "all" => Ok(Placements(Placement::ALL.to_vec())),
        _ => s.parse::<Placement>().map(|p| Placements(vec![p])),
    }
}

fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mul) = if let Some(n) = t.strip_suffix("kib").or_else(|| t.strip_suffix('k')) {
        (n, 1024)
    } else if let Some(n) = t.strip_suffix("mib").or_else(|| t.strip_suffix('m')) {
        (n, 1 << 20)
    } else {
        (t.strip_suffix('b').unwrap_or(&t), 1)
    };
    num.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("{s:?} is not a size (e.g. 64, 16k, 1m)"))
}

pub fn run(args: &Args, verbose: bool) -> Result<()> {
    // Ctrl-C and SIGTERM: blocked here, before any other thread exists, so
    // every thread inherits the mask and only the waiting thread sees them.
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.thread_block()?;
    let intr = Interrupt::new();
    {
        let intr = intr.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while let Ok(sig) = set.wait() {
                n += 1;
                if n == 1 {
                    eprintln!(
                        "\nsockasm bench: {sig}: stopping the endpoints, unloading, removing the cgroup and pins…"
                    );
                }
                intr.trigger();
            }
        });
    }
    let mut sizes = args.sizes.clone();
    let mut seen = std::collections::HashSet::new();
    sizes.retain(|s| seen.insert(*s));
    let mut workloads = args.workloads.clone();
    workloads.dedup();
    let placements = match &args.placement {
        Some(ps) => {
            let mut v: Vec<Placement> = Vec::new();
            for p in ps.iter().flat_map(|p| p.0.iter()) {
                if !v.contains(p) {
                    v.push(*p);
                }
            }
            v
        }
        // One CPU (taskset, a cpuset): what can run, and say so.
        None if crate::traffic::probe::affinity().len() == 1 => {
            if !args.quiet {
                eprintln!(
                    "sockasm bench: only one CPU is available, so only --placement same-cpu,free runs (free: unpinned, on that CPU)"
                );
            }
            vec![Placement::SameCpu, Placement::Free]
        }
        None => Placement::ALL.to_vec(),
    };
    // A chart that cannot be written should not cost a whole run first.
    if let Some(f) = &args.svg {
        let dir = f.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            return Err(format!(
                "--svg {}: there is no directory {} to write the chart in",
                f.display(),
                dir.display()
            )
            .into());
        }
        if f.is_dir() {
            return Err(format!("--svg {}: is a directory; give a file name such as bench.svg", f.display()).into());
        }
    }
    let cfg = Config {
        seconds: args.seconds,
        repeat: args.repeat,
        sizes,
        conns: args.conns,
        workloads,
        placements,
        exe: std::env::current_exe()?,
        progress: !args.quiet,
        verbose,
    };
    match lib::run(&cfg, &intr) {
        Ok(rep) => {
            if let Some(f) = &args.svg {
                std::fs::write(f, rep.svg()).map_err(|e| format!("writing the chart to {}: {e}", f.display()))?;
            }
            if args.json {
                outln!("{}", super::json_line(&rep.to_json())?);
            } else {
                out!("{}", rep.table());
            }
            Ok(())
        }
        Err(e) if matches!(e, BenchError::Interrupted) || intr.is_set() => {
            eprintln!("sockasm bench: interrupted; endpoints stopped, bypass unloaded, cgroup and pins removed");
            std::process::exit(130);
        }
        Err(e) => Err(e.into()),
    }
}
