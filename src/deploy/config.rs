//! The `config` and `ports` maps: the policy `load` sets and `status` shows.

use std::collections::BTreeMap;

use super::{DeployError, Result};
use crate::progs::{self, config};
use crate::syscall::{self, Map};

/// `config` value flag: the programs were loaded peer-aware.
const CONFIG_PEER_AWARE: u64 = 1;

/// Which connections the bypass admits, by local or remote port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSelection {
    /// When not empty, only connections with one of these ports.
    pub only: Vec<u16>,
    /// Never connections with one of these ports (wins over `only`).
    pub except: Vec<u16>,
}

impl PortSelection {
    fn describe(&self) -> String {
        let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        match (self.only.is_empty(), self.except.is_empty()) {
            (true, true) => "all ports".into(),
            (false, true) => format!("only ports {}", list(&self.only)),
            (true, false) => format!("all ports except {}", list(&self.except)),
            (false, false) => format!("only ports {}, except {}", list(&self.only), list(&self.except)),
        }
    }
}

impl std::fmt::Display for PortSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Adds (or changes) the entries of `sel` in the `ports` map, after
/// checking it; returns the entries, for [`remove_other_ports`]. The caller
/// sets the "only listed" flag in between, so that a connection established
/// meanwhile sees either selection, never none.
pub(super) fn add_ports(ports: &Map, sel: &PortSelection) -> Result<BTreeMap<u32, u32>> {
    if sel.only.len() + sel.except.len() > progs::MAX_PORTS as usize {
        return Err(DeployError::Invalid(format!(
            "--ports and --exclude-ports name at most {} ports",
            progs::MAX_PORTS
        )));
    }
    if let Some(p) = sel.only.iter().chain(&sel.except).find(|p| **p == 0) {
        return Err(DeployError::Invalid(format!("port {p} is not a port a connection can have")));
    }
    let mut want = BTreeMap::<u32, u32>::new();
    for p in &sel.only {
        *want.entry(u32::from(*p)).or_default() |= progs::PORT_INCLUDE as u32;
    }
    for p in &sel.except {
        *want.entry(u32::from(*p)).or_default() |= progs::PORT_EXCLUDE as u32;
    }
    for (port, v) in &want {
        ports
            .update(&port.to_ne_bytes(), &v.to_ne_bytes(), syscall::UpdateFlag::Any)
            .map_err(DeployError::step(format!("writing port {port} to the ports map")))?;
    }
    Ok(want)
}

/// Removes the entries of the `ports` map that are not in `want`.
pub(super) fn remove_other_ports(ports: &Map, want: &BTreeMap<u32, u32>) -> Result<()> {
    for key in ports.keys().collect::<Vec<_>>() {
        let key = key.map_err(DeployError::step("listing the ports map"))?;
        let port = u32::from_ne_bytes(key[..4].try_into().unwrap_or([0; 4]));
        if !want.contains_key(&port) {
            ports.delete(&key).map_err(DeployError::step(format!("removing port {port} from the ports map")))?;
        }
    }
    Ok(())
}

pub(super) fn read_ports(map: &Map) -> Result<PortSelection> {
    let mut sel = PortSelection::default();
    for key in map.keys() {
        let key = key.map_err(DeployError::step("listing the ports map"))?;
        let Some(v) = map.get(&key).map_err(DeployError::step("reading the ports map"))? else { continue };
        let port = u32::from_ne_bytes(key[..4].try_into().unwrap_or([0; 4])) as u16;
        let v = u32::from_ne_bytes(v[..4].try_into().unwrap_or([0; 4]));
        if v & progs::PORT_INCLUDE as u32 != 0 {
            sel.only.push(port);
        }
        if v & progs::PORT_EXCLUDE as u32 != 0 {
            sel.except.push(port);
        }
    }
    sel.only.sort_unstable();
    sel.except.sort_unstable();
    Ok(sel)
}

/// The `config` map's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub max_queue: u32,
    pub peer_aware: bool,
    pub rcvbuf_floor: u32,
    /// Only connections with an INCLUDE port are admitted.
    pub only_listed: bool,
    /// Redirect only between sockets of one network namespace.
    pub same_netns: bool,
}

/// `tcp_rmem[2]` of the calling process's network namespace (6 MiB by default).
pub(super) fn tcp_rmem_max() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_rmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(6 << 20)
}

pub(super) fn read_config(map: &Map) -> Result<Config> {
    let v = map
        .get(&0u32.to_ne_bytes())
        .map_err(DeployError::step("reading the config map"))?
        .ok_or_else(|| DeployError::Invalid("the config map has no entry 0".into()))?;
    let word = |off: usize| v.get(off..off + 8).map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])));
    Ok(Config {
        max_queue: word(config::OFF_MAX_QUEUE as usize).min(u32::MAX as u64) as u32,
        peer_aware: word(config::OFF_FLAGS as usize) & CONFIG_PEER_AWARE != 0,
        rcvbuf_floor: word(config::OFF_RCVBUF_FLOOR as usize).min(u32::MAX as u64) as u32,
        only_listed: word(config::OFF_PORT_FLAGS as usize) & config::PORTS_ONLY_LISTED as u64 != 0,
        same_netns: word(config::OFF_PAIR_FLAGS as usize) & config::PAIR_SAME_NETNS as u64 != 0,
    })
}

pub(super) fn write_config(map: &Map, cfg: &Config) -> Result<()> {
    let mut v = [0u8; config::VALUE_SIZE as usize];
    let at = |off: i16| off as usize..off as usize + 8;
    v[at(config::OFF_MAX_QUEUE)].copy_from_slice(&(cfg.max_queue as u64).to_ne_bytes());
    let flags = if cfg.peer_aware { CONFIG_PEER_AWARE } else { 0 };
    v[at(config::OFF_FLAGS)].copy_from_slice(&flags.to_ne_bytes());
    v[at(config::OFF_RCVBUF_FLOOR)].copy_from_slice(&(cfg.rcvbuf_floor as u64).to_ne_bytes());
    let port_flags = if cfg.only_listed { config::PORTS_ONLY_LISTED as u64 } else { 0 };
    v[at(config::OFF_PORT_FLAGS)].copy_from_slice(&port_flags.to_ne_bytes());
    let pair_flags = if cfg.same_netns { config::PAIR_SAME_NETNS as u64 } else { 0 };
    v[at(config::OFF_PAIR_FLAGS)].copy_from_slice(&pair_flags.to_ne_bytes());
    map.update(&0u32.to_ne_bytes(), &v, syscall::UpdateFlag::Any).map_err(DeployError::step("writing the config map"))
}
