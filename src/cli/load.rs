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
    /// The most bytes a reader may have waiting (unread) before writes to it go over TCP instead
    /// of the redirect, so TCP's flow control pushes the writer back. The bound is the reader's
    /// receive buffer (at least tcp_rmem[2]), capped at this [default: 4194304; 4096 to 67108864].
    /// Changes a loaded bypass at once.
    #[arg(long)]
    pub max_queue: Option<u32>,
    /// Accelerate only new connections whose local or remote port is in this list (e.g. 6379,8080);
    /// replaces the earlier list. Changes a loaded bypass at once (connections already open keep their path)
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub ports: Option<Vec<u16>>,
    /// Never accelerate new connections whose local or remote port is in this list (e.g. a
    /// splicing proxy's); wins over --ports; replaces the earlier list
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub exclude_ports: Option<Vec<u16>>,
    /// Forget --ports and --exclude-ports: accelerate connections on every port
    #[arg(long, conflicts_with_all = ["ports", "exclude_ports"])]
    pub all_ports: bool,
    /// Kernel BTF to read struct offsets from
    #[arg(long, default_value = deploy::KERNEL_BTF, hide = true)]
    pub kernel_btf: PathBuf,
}

impl Args {
    /// The library's options for these arguments (also `sockasm agent`'s).
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            cgroup: self.cgroup.clone(),
            pin_dir: self.pin_dir.clone(),
            max_entries: self.max_entries,
            verifier_stats: true,
            max_queue: self.max_queue,
            kernel_btf: self.kernel_btf.clone(),
            ports_only: if self.all_ports { Some(vec![]) } else { self.ports.clone() },
            ports_except: if self.all_ports { Some(vec![]) } else { self.exclude_ports.clone() },
        }
    }
}

pub fn run(args: &Args, verbose: bool) -> Result<()> {
    let opts = args.options();
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
    if let Some(reason) = &r.peer_blind_reason {
        outln!(
            "warning: loaded peer-blind: {reason}.\n  Every write to a peer in the map is redirected, and a reader that \
             stops reading can make the kernel queue unbounded memory. Peer-aware (bounded) decisions need the \
             kernel's BTF and CAP_PERFMON."
        );
    } else if r.peer_aware {
        outln!(
            "  policy: the peer's receive queue decides; a write goes over TCP while its reader holds more than \
             min(max(its rcvbuf, tcp_rmem[2]), {} bytes)",
            r.max_queue
        );
    } else {
        outln!("  policy: peer-blind (loaded so earlier; unload and load again to change)");
    }
    outln!("  ports: {}", r.ports);
    if r.stale_removed > 0 {
        outln!("  removed {} stale sock_info entries of sockets that closed while detached", r.stale_removed);
    }
    outln!("TCP connections opened from now on by processes in that cgroup skip the TCP/IP stack between each other.");
    Ok(())
}
