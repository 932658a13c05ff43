//! `sockasm unload`: detach from a cgroup; remove everything when nothing is left.
use super::{Result, outln};
use crate::deploy::{self, StaleOutcome, UnloadOutcome};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// cgroup v2 directory to detach from [default: the cgroup2 root]
    #[arg(long, conflicts_with = "stale")]
    pub cgroup: Option<PathBuf>,
    /// bpffs directory holding the pins
    #[arg(long, default_value = deploy::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
    /// Remove what killed `sockasm bench` and `sockasm exec` runs left behind (cgroups, pins,
    /// socket files named sockasm-bench-PID-… or sockasm-exec-PID-… whose PID is gone), and nothing else
    #[arg(long)]
    pub stale: bool,
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    if args.stale {
        let done = deploy::remove_stale()?;
        if done.is_empty() {
            outln!("no stale leftovers of sockasm bench or exec runs");
        }
        for (s, o) in done {
            match o {
                StaleOutcome::Removed => outln!("removed {} (pid {} is gone)", s.path.display(), s.pid),
                StaleOutcome::Draining { connections } => outln!(
                    "kept {}: {connections} connection(s) still use it; run `sockasm unload --stale` again once they have closed",
                    s.path.display()
                ),
            }
        }
        return Ok(());
    }
    let r = deploy::unload(args.cgroup.as_deref(), &args.pin_dir)?;
    let cg = crate::cgroup::describe(&r.cgroup);
    for id in &r.orphans_detached {
        outln!("detached orphaned sock_ops program id {id} (no pin left) from {cg}");
    }
    let this = if r.cgroup_missing {
        format!("cgroup {} does not exist (a removed cgroup takes its attachments with it)", r.cgroup.display())
    } else if r.detached {
        format!("detached from {cg}")
    } else {
        format!("was not attached to {cg}")
    };
    match r.outcome {
        UnloadOutcome::NotLoaded => {
            if r.cgroup_missing {
                outln!("{this}");
            }
            outln!("sockasm is not loaded at {}; nothing else to do", args.pin_dir.display())
        }
        UnloadOutcome::StillAttached(left) => {
            outln!("{this}; still attached to:");
            for c in left {
                outln!("  {}", c.display());
            }
        }
        UnloadOutcome::Draining { connections } => outln!(
            "{this}; {connections} connection(s) still use the bypass, so the map and sk_msg stay pinned at {} \
             until they close (removing them now would drop their queued bytes); run `sockasm unload` again later",
            args.pin_dir.display()
        ),
        UnloadOutcome::Removed => {
            outln!("{this}; unloaded sockasm: no cgroup attachment and no pins left in {}", args.pin_dir.display())
        }
    }
    Ok(())
}
