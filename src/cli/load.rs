//! `sockasm load`: create, load, attach and pin the bypass.
use super::{Result, outln};
use crate::deploy::{self, Attach, LoadOptions};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// cgroup v2 directory whose TCP sockets get the bypass [default: the cgroup2 root, i.e. the whole host]
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
    /// bpffs directory for the pinned programs and maps
    #[arg(long, default_value = deploy::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
    /// Capacity of the SOCKHASH (sockets; default 65535, at most 1048576); connections beyond it stay on plain TCP
    #[arg(long)]
    pub max_entries: Option<u32>,
}

pub fn run(args: &Args, verbose: bool) -> Result<()> {
    let opts = LoadOptions {
        cgroup: args.cgroup.clone(),
        pin_dir: args.pin_dir.clone(),
        max_entries: args.max_entries,
        verifier_stats: true,
    };
    let r = match deploy::load(&opts) {
        Ok(r) => r,
        Err(e) => {
            if let (true, Some(log)) = (verbose, e.verifier_log()) {
                eprintln!("verifier log:\n{log}");
            }
            return Err(e.into());
        }
    };
    if r.mounted_bpffs {
        outln!("mounted bpffs at {}", crate::cgroup::BPFFS_DEFAULT);
    }
    let attach = match &r.attach {
        Attach::Attached => format!("attached to cgroup {}", r.cgroup.display()),
        Attach::Already => format!("already attached to cgroup {}", r.cgroup.display()),
        Attach::Inherited(a) => format!(
            "not attached to cgroup {}: its ancestor {} has it attached, which covers it",
            r.cgroup.display(),
            a.display()
        ),
    };
    outln!(
        "{} sockasm ({}) in {}; {attach}",
        if r.created { "loaded" } else { "reused" },
        r.pin_dir.display(),
        super::fmt_duration(r.elapsed),
    );
    for p in &r.programs {
        let insns = p.verifier_insns.map(|n| format!(", verifier processed {n} insns")).unwrap_or_default();
        outln!(
            "  {} id {} ({}): {} bytes xlated, {} bytes jited{insns}",
            p.name,
            p.id,
            p.prog_type,
            p.xlated_bytes,
            p.jited_bytes
        );
    }
    outln!("TCP connections opened from now on by processes in that cgroup skip the TCP/IP stack between each other.");
    Ok(())
}
