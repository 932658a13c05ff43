//! `sockasm status`: programs, attachments, map and counters; and what a
//! crash left behind (orphaned attachments, stale bench leftovers), found in
//! the kernel and on disk rather than only from the pins.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Result, json_line, out, outln};
use crate::deploy::{self, DeployError, Orphan, ProgStatus, Stale, Status};
use crate::progs::counters::{Counter, Totals};

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

/// `status --json`: the state of one pin directory, or why it could not be
/// read, and the leftovers found in the kernel and on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusJson {
    /// Null when the pins could not be read (see `error`).
    pub loaded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub state: Option<StateJson>,
    pub orphans: Vec<OrphanJson>,
    pub stale: Vec<StaleJson>,
}

/// What is loaded at the pin directory ([`deploy::Status`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateJson {
    pub pin_dir: String,
    pub cgroups: Vec<String>,
    pub other_attachments: Vec<OtherJson>,
    pub programs: Vec<ProgStatus>,
    pub map: Option<MapJson>,
    pub policy: Option<PolicyJson>,
    pub ports: Option<PortsJson>,
    pub counters: Totals,
}

/// Another pin directory's sock_ops program on one of our cgroups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OtherJson {
    pub cgroup: String,
    pub prog_id: u32,
    pub pin_dir: Option<String>,
}

/// The SOCKHASH.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapJson {
    pub id: u32,
    pub max_entries: u32,
    pub entries: usize,
}

/// The policy in the config map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyJson {
    pub peer_aware: bool,
    pub max_queue: u32,
    pub rcvbuf_floor: u32,
    pub same_netns: bool,
}

/// The port selection (both empty: every port).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortsJson {
    pub only: Vec<u16>,
    pub except: Vec<u16>,
}

/// A sockasm sock_ops program attached with no pins left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrphanJson {
    pub id: u32,
    pub cgroups: Vec<String>,
    pub sockets: Option<usize>,
}

/// A bench or exec scratch directory whose process is gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaleJson {
    pub path: String,
    pub pid: u32,
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

impl StateJson {
    pub fn new(st: &Status) -> StateJson {
        StateJson {
            pin_dir: path(&st.pin_dir),
            cgroups: st.cgroups.iter().map(|c| path(c)).collect(),
            other_attachments: st
                .others
                .iter()
                .map(|o| OtherJson {
                    cgroup: path(&o.cgroup),
                    prog_id: o.prog_id,
                    pin_dir: o.pin_dir.as_deref().map(path),
                })
                .collect(),
            programs: st.programs.clone(),
            map: st.map.as_ref().map(|m| MapJson { id: m.id, max_entries: m.max_entries, entries: m.entries }),
            policy: st.config.map(|c| PolicyJson {
                peer_aware: c.peer_aware,
                max_queue: c.max_queue,
                rcvbuf_floor: c.rcvbuf_floor,
                same_netns: c.same_netns,
            }),
            ports: st.ports.as_ref().map(|p| PortsJson { only: p.only.clone(), except: p.except.clone() }),
            counters: st.counters,
        }
    }
}

impl StatusJson {
    pub fn new(st: &std::result::Result<Status, DeployError>, orphans: &[Orphan], stale: &[Stale]) -> StatusJson {
        let (loaded, error, state) = match st {
            Ok(st) => (Some(st.loaded), None, Some(StateJson::new(st))),
            Err(e) => (None, Some(e.to_string()), None),
        };
        StatusJson {
            loaded,
            error,
            state,
            orphans: orphans
                .iter()
                .map(|o| OrphanJson {
                    id: o.id,
                    cgroups: o.cgroups.iter().map(|c| path(c)).collect(),
                    sockets: o.sockets,
                })
                .collect(),
            stale: stale.iter().map(|s| StaleJson { path: path(&s.path), pid: s.pid }).collect(),
        }
    }
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
        outln!("{}", json_line(&StatusJson::new(&st, &orphans, &stale))?);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorted (serde_json's map is a BTreeMap).
    fn keys(v: &serde_json::Value) -> Vec<&str> {
        v.as_object().expect("an object").keys().map(String::as_str).collect()
    }

    /// The keys `status --json` has always had, which scripts read.
    #[test]
    fn status_json_keeps_its_keys() {
        let state = StateJson {
            pin_dir: "/sys/fs/bpf/sockasm".into(),
            cgroups: vec!["/sys/fs/cgroup/a".into()],
            other_attachments: vec![OtherJson { cgroup: "/sys/fs/cgroup/a".into(), prog_id: 9, pin_dir: None }],
            programs: vec![],
            map: Some(MapJson { id: 1, max_entries: 2, entries: 0 }),
            policy: Some(PolicyJson { peer_aware: true, max_queue: 1, rcvbuf_floor: 2, same_netns: false }),
            ports: Some(PortsJson { only: vec![80], except: vec![] }),
            counters: Totals::default(),
        };
        let loaded = StatusJson {
            loaded: Some(true),
            error: None,
            state: Some(state),
            orphans: vec![OrphanJson { id: 3, cgroups: vec![], sockets: None }],
            stale: vec![StaleJson { path: "/tmp/sockasm-bench-1".into(), pid: 1 }],
        };
        let v = serde_json::to_value(&loaded).unwrap();
        assert_eq!(
            keys(&v),
            [
                "cgroups",
                "counters",
                "loaded",
                "map",
                "orphans",
                "other_attachments",
                "pin_dir",
                "policy",
                "ports",
                "programs",
                "stale"
            ]
        );
        assert_eq!(v["policy"]["peer_aware"], true);
        assert_eq!(v["ports"]["only"][0], 80);
        assert_eq!(v["other_attachments"][0]["pin_dir"], serde_json::Value::Null);
        assert_eq!(v["counters"]["redirected_bytes"], 0);
        assert_eq!(serde_json::from_value::<StatusJson>(v).unwrap(), loaded);
        // Partial pins: the error and the leftovers, nothing of the state.
        let failed =
            StatusJson { loaded: None, error: Some("partial".into()), state: None, orphans: vec![], stale: vec![] };
        let v = serde_json::to_value(&failed).unwrap();
        assert_eq!(keys(&v), ["error", "loaded", "orphans", "stale"]);
        assert_eq!(serde_json::from_value::<StatusJson>(v).unwrap(), failed);
    }
}
