//! `sockasm status`: what is loaded at a pin directory.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use super::cgroups::cgroups_with_prog;
use super::config::{Config, PortSelection, read_config, read_ports};
use super::orphans::{OtherAttachment, cgroup_progs, other_attachments};
use super::pins::{Objects, pins, pins_present};
use super::{DeployError, Result};
use crate::progs::{self, ATTACHMENTS, Target, counters};
use crate::syscall::{self, AttachType, Map};

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

/// One entry of [`ATTACHMENTS`] as the kernel has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentStatus {
    pub program: String,
    pub attach_type: AttachType,
    pub target: AttachedTo,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachedTo {
    /// The cgroups that have the program attached directly.
    Cgroups(Vec<PathBuf>),
    /// A map of the bypass, by name; `attached`: what BPF_PROG_QUERY on the
    /// map says (`None` on kernels that cannot query a map, before 5.19).
    Map { name: String, attached: Option<bool> },
}

#[derive(Clone, Debug)]
pub struct Status {
    pub loaded: bool,
    pub pin_dir: PathBuf,
    pub cgroups: Vec<PathBuf>,
    /// Other sockasm pin directories' programs on those cgroups.
    pub others: Vec<OtherAttachment>,
    pub programs: Vec<ProgStatus>,
    /// The pins in the pin directory, in declaration order.
    pub pins: Vec<String>,
    /// Every attachment of the bypass, read back from the kernel.
    pub attachments: Vec<AttachmentStatus>,
    pub map: Option<MapStatus>,
    pub config: Option<Config>,
    pub ports: Option<PortSelection>,
    pub counters: counters::Totals,
}

impl Status {
    /// Nothing loaded at `pin_dir`.
    pub fn not_loaded(pin_dir: &Path) -> Status {
        Status {
            loaded: false,
            pin_dir: pin_dir.to_path_buf(),
            cgroups: vec![],
            others: vec![],
            programs: vec![],
            pins: vec![],
            attachments: vec![],
            map: None,
            config: None,
            ports: None,
            counters: counters::Totals::default(),
        }
    }
}

/// Reads the state of the bypass pinned at `pin_dir`.
pub fn status(pin_dir: &Path) -> Result<Status> {
    let mut st = Status::not_loaded(pin_dir);
    let pins = pins()?;
    let present = pins_present(pin_dir, &pins, "status")?;
    if present.is_empty() {
        return Ok(st);
    }
    if present.len() != pins.len() {
        return Err(DeployError::PartialPins { dir: pin_dir.to_path_buf(), present: present.join(", ") });
    }
    let objs = Objects::open(pin_dir, &pins)?;
    st.loaded = true;
    st.pins = present;
    st.programs = objs.programs().map(|(fd, _)| prog_status(fd, None)).collect::<Result<Vec<_>>>()?;
    for cp in cgroup_progs()? {
        let id = syscall::prog_info(objs.prog(cp.name)?).map_err(DeployError::step("reading program info"))?.id;
        let cgroups = cgroups_with_prog(id, cp.attach_type)?;
        st.others.extend(other_attachments(&cp, &cgroups, id, pin_dir));
        st.cgroups.extend(cgroups);
    }
    st.attachments = attachments(&objs)?;
    let sock_hash = objs.map(progs::MAP_SOCKHASH)?;
    let info = syscall::map_info(sock_hash.as_fd()).map_err(DeployError::step("reading SOCKHASH info"))?;
    let entries = sock_hash.count_entries().map_err(DeployError::step("counting SOCKHASH entries"))?;
    st.map = Some(MapStatus { id: info.id, max_entries: info.max_entries, entries });
    st.counters = read_counters(objs.map(progs::MAP_COUNTERS)?)?;
    st.config = Some(read_config(objs.map(progs::MAP_CONFIG)?)?);
    st.ports = Some(read_ports(objs.map(progs::MAP_PORTS)?)?);
    Ok(st)
}

/// Each entry of [`ATTACHMENTS`], read back from the kernel.
fn attachments(objs: &Objects) -> Result<Vec<AttachmentStatus>> {
    let mut out = Vec::new();
    for a in ATTACHMENTS {
        let id = syscall::prog_info(objs.prog(a.program)?).map_err(DeployError::step("reading program info"))?.id;
        let target = match a.target {
            Target::Cgroup => AttachedTo::Cgroups(cgroups_with_prog(id, a.attach_type)?),
            Target::Map(name) => {
                let attached = syscall::query_cgroup(objs.map(name)?.as_fd(), a.attach_type).ok();
                AttachedTo::Map { name: name.to_string(), attached: attached.map(|ids| ids.contains(&id)) }
            }
        };
        out.push(AttachmentStatus { program: a.program.to_string(), attach_type: a.attach_type, target });
    }
    Ok(out)
}

fn read_counters(map: &Map) -> Result<counters::Totals> {
    let per_cpu =
        map.lookup_percpu(&0u32.to_ne_bytes()).map_err(DeployError::step("reading counters"))?.unwrap_or_default();
    Ok(counters::Totals::sum(per_cpu.iter().map(Vec::as_slice)))
}
