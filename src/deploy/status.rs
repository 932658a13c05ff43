//! `sockasm status`: what is loaded at a pin directory, and its JSON.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use super::cgroups::cgroups_with_prog;
use super::config::{Config, PortSelection, read_config, read_ports};
use super::orphans::{OtherAttachment, other_attachments};
use super::pins::{Objects, PINNED, pins_present};
use super::{DeployError, Result};
use crate::json::Json;
use crate::progs::{self, counters};
use crate::syscall::{self, Map};

/// One loaded program, as `load` and `status` report it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProgStatus {
    pub name: String,
    pub id: u32,
    #[serde(rename = "type")]
    pub prog_type: String,
    pub xlated_bytes: u32,
    pub jited_bytes: u32,
    /// "processed N insns", when the program was loaded by this call with stats.
    pub verifier_insns: Option<u64>,
}

pub(super) fn prog_status(fd: BorrowedFd<'_>, verifier_insns: Option<u64>) -> Result<ProgStatus> {
    let info = syscall::prog_info(fd).map_err(DeployError::step("reading program info"))?;
    Ok(ProgStatus {
        name: info.name,
        id: info.id,
        prog_type: info.prog_type.name().map_or_else(|| info.prog_type.0.to_string(), |n| n.to_ascii_lowercase()),
        xlated_bytes: info.xlated_prog_len,
        jited_bytes: info.jited_prog_len,
        verifier_insns: verifier_insns.or(if info.verified_insns > 0 {
            Some(info.verified_insns as u64)
        } else {
            None
        }),
    })
}

/// The SOCKHASH as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapStatus {
    pub id: u32,
    pub max_entries: u32,
    pub entries: usize,
}

#[derive(Clone, Debug)]
pub struct Status {
    pub loaded: bool,
    pub pin_dir: PathBuf,
    pub cgroups: Vec<PathBuf>,
    /// Other sockasm pin directories' programs on those cgroups.
    pub others: Vec<OtherAttachment>,
    pub programs: Vec<ProgStatus>,
    pub map: Option<MapStatus>,
    pub config: Option<Config>,
    pub ports: Option<PortSelection>,
    pub counters: counters::Totals,
}

/// Reads the state of the bypass pinned at `pin_dir`.
pub fn status(pin_dir: &Path) -> Result<Status> {
    let mut st = Status {
        loaded: false,
        pin_dir: pin_dir.to_path_buf(),
        cgroups: vec![],
        others: vec![],
        programs: vec![],
        map: None,
        config: None,
        ports: None,
        counters: counters::Totals::default(),
    };
    let present = pins_present(pin_dir, "status")?;
    if present.is_empty() {
        return Ok(st);
    }
    if present.len() != PINNED.len() {
        return Err(DeployError::PartialPins { dir: pin_dir.to_path_buf(), present: present.join(", ") });
    }
    let objs = Objects::open(pin_dir)?;
    st.loaded = true;
    st.programs = objs.programs().map(|(fd, _)| prog_status(fd, None)).collect::<Result<Vec<_>>>()?;
    let sockops = objs.prog(progs::sockops::NAME)?;
    let sockops_id = syscall::prog_info(sockops).map_err(DeployError::step("reading sock_ops info"))?.id;
    st.cgroups = cgroups_with_prog(sockops_id)?;
    st.others = other_attachments(&st.cgroups, sockops_id, pin_dir);
    let sock_hash = objs.map(progs::MAP_SOCKHASH)?;
    let info = syscall::map_info(sock_hash.as_fd()).map_err(DeployError::step("reading SOCKHASH info"))?;
    let entries = sock_hash.count_entries().map_err(DeployError::step("counting SOCKHASH entries"))?;
    st.map = Some(MapStatus { id: info.id, max_entries: info.max_entries, entries });
    st.counters = read_counters(objs.map(progs::MAP_COUNTERS)?)?;
    st.config = Some(read_config(objs.map(progs::MAP_CONFIG)?)?);
    st.ports = Some(read_ports(objs.map(progs::MAP_PORTS)?)?);
    Ok(st)
}

fn read_counters(map: &Map) -> Result<counters::Totals> {
    let per_cpu =
        map.lookup_percpu(&0u32.to_ne_bytes()).map_err(DeployError::step("reading counters"))?.unwrap_or_default();
    Ok(counters::Totals::sum(per_cpu.iter().map(Vec::as_slice)))
}

impl ProgStatus {
    pub fn to_json(&self) -> Json {
        Json::obj([
            ("name", Json::from(self.name.as_str())),
            ("id", self.id.into()),
            ("type", self.prog_type.as_str().into()),
            ("xlated_bytes", self.xlated_bytes.into()),
            ("jited_bytes", self.jited_bytes.into()),
        ])
    }
}

impl Status {
    pub fn to_json(&self) -> Json {
        let map = match &self.map {
            Some(m) => Json::obj([
                ("id", Json::from(m.id)),
                ("max_entries", m.max_entries.into()),
                ("entries", m.entries.into()),
            ]),
            None => Json::Null,
        };
        Json::obj([
            ("loaded", Json::from(self.loaded)),
            ("pin_dir", self.pin_dir.display().to_string().into()),
            ("cgroups", Json::Arr(self.cgroups.iter().map(|c| c.display().to_string().into()).collect())),
            (
                "other_attachments",
                Json::Arr(
                    self.others
                        .iter()
                        .map(|o| {
                            Json::obj([
                                ("cgroup", Json::from(o.cgroup.display().to_string())),
                                ("prog_id", o.prog_id.into()),
                                ("pin_dir", o.pin_dir.as_ref().map_or(Json::Null, |p| p.display().to_string().into())),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("programs", Json::Arr(self.programs.iter().map(ProgStatus::to_json).collect())),
            ("map", map),
            (
                "policy",
                match &self.config {
                    Some(c) => Json::obj([
                        ("peer_aware", Json::from(c.peer_aware)),
                        ("max_queue", c.max_queue.into()),
                        ("rcvbuf_floor", c.rcvbuf_floor.into()),
                        ("same_netns", Json::from(c.same_netns)),
                    ]),
                    None => Json::Null,
                },
            ),
            (
                "ports",
                match &self.ports {
                    Some(p) => Json::obj([
                        ("only", Json::Arr(p.only.iter().map(|&v| u64::from(v).into()).collect())),
                        ("except", Json::Arr(p.except.iter().map(|&v| u64::from(v).into()).collect())),
                    ]),
                    None => Json::Null,
                },
            ),
            (
                "counters",
                Json::Obj(
                    counters::Counter::ALL
                        .iter()
                        .map(|c| (c.name().to_string(), self.counters.get(*c).into()))
                        .collect(),
                ),
            ),
        ])
    }
}
