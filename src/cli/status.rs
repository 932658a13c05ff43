//! `sockasm status`: programs, attachments, map and counters; and what a
//! crash left behind (orphaned attachments, stale bench leftovers), found in
//! the kernel and on disk rather than only from the pins.
use super::{Result, out, outln};
use crate::deploy::{self, DeployError, Orphan, Stale};
use crate::json::Json;
use crate::progs::counters::Counter;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// bpffs directory holding the pins
    #[arg(long, default_value = deploy::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
    /// Print one JSON object (the same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// text, json, or prometheus (the text exposition format, for node_exporter's textfile collector)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Prometheus,
}

fn orphans_json(orphans: &[Orphan]) -> Json {
    Json::Arr(
        orphans
            .iter()
            .map(|o| {
                Json::obj([
                    ("id", Json::from(o.id)),
                    ("cgroups", Json::Arr(o.cgroups.iter().map(|c| c.display().to_string().into()).collect())),
                    ("sockets", o.sockets.map_or(Json::Null, Json::from)),
                ])
            })
            .collect(),
    )
}

fn stale_json(stale: &[Stale]) -> Json {
    Json::Arr(
        stale
            .iter()
            .map(|s| Json::obj([("path", Json::from(s.path.display().to_string())), ("pid", s.pid.into())]))
            .collect(),
    )
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    let st = deploy::status(&args.pin_dir);
    // Lacking permission says so before anything else is tried.
    if let Err(e @ DeployError::NoPermission { .. }) = st {
        return Err(e.into());
    }
    let orphans = deploy::orphans(&args.pin_dir)?;
    let stale = deploy::stale_leftovers()?;
    let format = if args.json { Format::Json } else { args.format };
    if format == Format::Prometheus {
        // Partial pins: an error and no output, so a scrape file keeps its last good content.
        out!("{}", deploy::prometheus(&st?, &orphans, &stale));
        return Ok(());
    }
    if format == Format::Json {
        // Partial pins: the error, and what the kernel shows, in the object.
        let mut fields = match &st {
            Ok(st) => match st.to_json() {
                Json::Obj(f) => f,
                other => vec![("status".into(), other)],
            },
            Err(e) => vec![("loaded".into(), Json::Null), ("error".into(), Json::from(e.to_string().as_str()))],
        };
        fields.push(("orphans".into(), orphans_json(&orphans)));
        fields.push(("stale".into(), stale_json(&stale)));
        outln!("{}", Json::Obj(fields));
        return st.map(|_| ()).map_err(Into::into);
    }
    // Partial pins are an error, but what the kernel shows is printed first.
    let st = match st {
        Ok(st) => Some(st),
        Err(e) => {
            print_leftovers(&orphans, &stale)?;
            return Err(e.into());
        }
    };
    let st = st.expect("status");
    if !st.loaded {
        outln!("sockasm is not loaded (no pins in {})", st.pin_dir.display());
        return print_leftovers(&orphans, &stale);
    }
    outln!("sockasm is loaded (pins in {})", st.pin_dir.display());
    outln!("cgroups:");
    if st.cgroups.is_empty() {
        outln!("  (none: new connections are not accelerated)");
    }
    for c in &st.cgroups {
        outln!("  {}", crate::cgroup::describe(c));
        for o in st.others.iter().filter(|o| &o.cgroup == c) {
            outln!("    also attached: sockasm sock_ops id {} ({})", o.prog_id, other_pins(o));
        }
    }
    if !st.others.is_empty() {
        outln!(
            "  warning: only the first sockasm program in attach order sees a socket; a pair split between \
             two pin directories stays on TCP. Unload all but one (`sockasm unload --cgroup C --pin-dir D`)."
        );
    }
    outln!("programs:");
    for p in &st.programs {
        outln!(
            "  {:<16} id {:<6} {:<8} {} bytes xlated, {} bytes jited",
            p.name,
            p.id,
            p.prog_type,
            p.xlated_bytes,
            p.jited_bytes
        );
    }
    if let Some(m) = &st.map {
        outln!("map: id {} with {} of {} entries (sockets)", m.id, m.entries, m.max_entries);
    }
    if let Some(p) = &st.ports {
        outln!("ports: {p}");
    }
    if let Some(c) = &st.config {
        if c.peer_aware {
            outln!(
                "policy: peer-aware; a write goes over TCP while its reader holds more than {} bytes \
                 (min(max(reader's rcvbuf, {}), --max-queue {}))",
                c.rcvbuf_floor.min(c.max_queue),
                c.rcvbuf_floor,
                c.max_queue
            );
        } else {
            outln!(
                "policy: peer-blind (no kernel BTF or no CAP_PERFMON at load): every write to a peer is redirected, unbounded"
            );
        }
    }
    if let Some(c) = &st.config {
        outln!(
            "pairing: {}",
            if c.same_netns { "within one network namespace only" } else { "across network namespaces and NAT" }
        );
    }
    outln!("counters (all CPUs):");
    for c in Counter::ALL {
        outln!("  {:<22} {}", c.name(), st.counters.get(c));
    }
    print_leftovers(&orphans, &stale)
}

fn print_leftovers(orphans: &[Orphan], stale: &[Stale]) -> Result<()> {
    for o in orphans {
        let socks = o.sockets.map_or(String::new(), |n| format!(", {n} socket(s) in its map"));
        outln!("orphaned: sock_ops program id {} is attached with no pin left{socks}; remove it with", o.id);
        for c in &o.cgroups {
            outln!("  sockasm unload --cgroup {} --pin-dir <its pin dir, or any>", c.display());
        }
    }
    if !stale.is_empty() {
        outln!(
            "stale leftovers of sockasm bench or exec runs that were killed (remove them with `sockasm unload --stale`):"
        );
        for s in stale {
            outln!("  {} (pid {} is gone)", s.path.display(), s.pid);
        }
    }
    Ok(())
}

/// Where another sockasm attachment's program is pinned, in words.
pub(super) fn other_pins(o: &crate::deploy::OtherAttachment) -> String {
    match &o.pin_dir {
        Some(d) => format!("pins in {}", d.display()),
        None => "no pin left: an orphan, `sockasm unload --stale` removes it".into(),
    }
}
