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
    /// The most bytes a reader may have waiting (unread) before writes to it go over TCP, for the
    /// rest of the connection, so TCP's flow control pushes the writer back [default: 16777216;
    /// 4096 to 67108864]. Changes a loaded bypass at once.
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
    /// Redirect only between sockets of one network namespace (a pod's application and its
    /// sidecar), never pod to pod. Changes a loaded bypass for new writes at once
    #[arg(long, conflicts_with = "any_netns")]
    pub same_netns_only: bool,
    /// Pair sockets across network namespaces again (the default)
    #[arg(long)]
    pub any_netns: bool,
    /// Do not adopt the cgroup's connections opened before this load (they then stay on TCP
    /// until they close)
    #[arg(long)]
    pub no_adopt: bool,
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
            same_netns: if self.same_netns_only {
                Some(true)
            } else if self.any_netns {
                Some(false)
            } else {
                None
            },
            adopt: !self.no_adopt,
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
        Attach::Attached => format!("attached to {}", crate::cgroup::describe(&r.cgroup)),
        Attach::Already => format!("already attached to {}", crate::cgroup::describe(&r.cgroup)),
        Attach::Inherited(a) => format!(
            "not attached to {}: its ancestor {} has it attached, which covers it",
            crate::cgroup::describe(&r.cgroup),
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
            "  policy: the peer's receive queue decides; once a reader holds --max-queue {} bytes, the \
             connection writing to it goes over TCP for good",
            r.max_queue
        );
    } else {
        outln!("  policy: peer-blind (loaded so earlier; unload and load again to change)");
    }
    outln!("  ports: {}", r.ports);
    outln!(
        "  pairing: {}",
        if r.same_netns {
            "within one network namespace only"
        } else {
            "by the connection's sequence numbers, across network namespaces and NAT"
        }
    );
    for o in &r.others {
        outln!(
            "warning: {} also has another sockasm's sock_ops program (id {}, {}). Only the first program in \
             attach order sees each socket, so a pair split between two pin directories stays on TCP; \
             keep one pin directory per cgroup.",
            crate::cgroup::describe(&o.cgroup),
            o.prog_id,
            super::status::other_pins(o)
        );
    }
    if r.stale_removed > 0 {
        outln!("  removed {} stale sock_info entries of sockets that closed while detached", r.stale_removed);
    }
    match &r.adoption {
        deploy::Adoption::Off => {}
        deploy::Adoption::Skipped(why) => outln!("  adoption of connections opened before this load: skipped: {why}"),
        deploy::Adoption::Done(a) => {
            outln!(
                "  adopted {} connected sockets opened before this load ({} network namespaces): {} confirmed, \
                 {} left on TCP (a reader was busy); {} without a peer in the cgroup",
                a.adopted,
                a.namespaces,
                a.confirmed,
                a.deferred,
                a.unpaired
            );
            if a.deferred > 0 {
                outln!(
                    "  task scan: {} sockets in a read call host-wide{}",
                    a.busy,
                    if a.all_busy {
                        ", and a read it could not place (io_uring, socketcall): all deferred"
                    } else {
                        ""
                    }
                );
            }
            if a.key_mismatches > 0 {
                outln!(
                    "warning: {} of {} recomputed keys differ from sock_ops' (a bug in sockasm; those sockets were left alone)",
                    a.key_mismatches,
                    a.key_checks
                );
            }
        }
    }
    outln!("TCP connections opened from now on by processes in that cgroup skip the TCP/IP stack between each other.");
    Ok(())
}
