//! `sockasm unload`: detach from a cgroup; remove everything when nothing is left.
use super::Result;
use crate::deploy::{self, UnloadOutcome};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// cgroup v2 directory to detach from [default: the cgroup2 root]
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
    /// bpffs directory holding the pins
    #[arg(long, default_value = deploy::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    let r = deploy::unload(args.cgroup.as_deref(), &args.pin_dir)?;
    let cg = r.cgroup.display();
    match r.outcome {
        UnloadOutcome::NotLoaded => println!("sockasm is not loaded at {}; nothing to do", args.pin_dir.display()),
        UnloadOutcome::StillAttached(left) => {
            let what = if r.detached { "detached from" } else { "was not attached to" };
            println!("{what} cgroup {cg}; still attached to:");
            for c in left {
                println!("  {}", c.display());
            }
        }
        UnloadOutcome::Draining { connections } => println!(
            "detached from cgroup {cg}; {connections} connection(s) still use the bypass, so the map and sk_msg stay pinned at {} \
             until they close (removing them now would drop their queued bytes); run `sockasm unload` again later",
            args.pin_dir.display()
        ),
        UnloadOutcome::Removed => {
            println!("unloaded sockasm: no cgroup attachment and no pins left in {}", args.pin_dir.display())
        }
    }
    Ok(())
}
