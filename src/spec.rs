//! What to load, as plain data: the one form every producer hands the
//! loader, and the loader ([`crate::loader`]) the only thing that turns it
//! into kernel objects. No syscall here.
//!
//! - the built-in programs: [`crate::progs::collection`];
//! - a text program: [`crate::verify::from_text`] (via [`crate::asm::text`]);
//! - a clang object: [`crate::elf::Object::link`] per program.
//!
//! A [`CollectionSpec`] holds maps by name and programs whose map loads are
//! symbolic ([`crate::asm::MapRef`]: an instruction index and a map name);
//! the loader binds them to the created maps by name, in one place.

use crate::asm::{Assembled, Insn, listing};
use crate::uapi::{AttachType, BPF_F_NO_PREALLOC, MapType, ProgType};
use std::collections::BTreeMap;

/// Maps by name, and the programs that refer to them by name.
#[derive(Clone, Debug, Default)]
pub struct CollectionSpec {
    /// In creation order; names are unique.
    pub maps: Vec<(String, MapSpec)>,
    pub programs: Vec<ProgramSpec>,
}

/// One program, ready to load once its map references are bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// The name the program is loaded under and found by (at most 15
    /// bytes of `[A-Za-z0-9_.]`, see [`kernel_name`]).
    pub name: String,
    pub prog_type: ProgType,
    pub expected_attach_type: Option<AttachType>,
    /// A tracing program's target, as a kernel BTF id (an iterator's
    /// `bpf_iter_<target>` function); `None` for every other program.
    pub attach_btf_id: Option<u32>,
    pub license: String,
    /// Instructions, label (function) names by slot, and the symbolic map loads.
    pub code: Assembled,
    /// Per-slot notes for listings (context fields, maps, relocations).
    pub comments: BTreeMap<usize, String>,
    /// Whether `load` pins it, and under which file name.
    pub pinning: Pinning,
}

/// Whether an object is pinned in the pin directory of its collection, and
/// under which file name (as cilium/ebpf's `MapSpec.Pinning`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Pinning {
    /// Not pinned: it lives while a file descriptor or another object holds it.
    #[default]
    None,
    /// Pinned under its name in the collection.
    ByName,
    /// Pinned under this file name.
    As(String),
}

impl Pinning {
    /// The pin's file name for an object named `name`, if it is pinned.
    pub fn file_name<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        match self {
            Pinning::None => None,
            Pinning::ByName => Some(name),
            Pinning::As(file) => Some(file),
        }
    }
}

/// A pinned object of a collection: its pin's file name, and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinned<'a> {
    pub file: &'a str,
    pub object: Object<'a>,
}

/// An object of a collection, by its name there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object<'a> {
    Map(&'a str),
    Program(&'a str),
}

impl ProgramSpec {
    /// A GPL program with no expected attach type, no notes, not pinned.
    pub fn new(name: impl Into<String>, prog_type: ProgType, code: Assembled) -> ProgramSpec {
        ProgramSpec {
            name: name.into(),
            prog_type,
            expected_attach_type: None,
            attach_btf_id: None,
            license: "GPL".into(),
            code,
            comments: BTreeMap::new(),
            pinning: Pinning::None,
        }
    }

    /// Width in 8-byte slots.
    pub fn slots(&self) -> usize {
        self.code.slots()
    }

    /// Each instruction with its slot, for listings.
    pub fn insns(&self) -> Vec<(usize, Insn)> {
        listing::with_slots(&self.code.insns)
    }
}

impl CollectionSpec {
    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&MapSpec> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&ProgramSpec> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// Every pinned object: the programs, then the maps, each in spec order.
    pub fn pinned(&self) -> Vec<Pinned<'_>> {
        let progs = self
            .programs
            .iter()
            .filter_map(|p| Some(Pinned { file: p.pinning.file_name(&p.name)?, object: Object::Program(&p.name) }));
        let maps = self
            .maps
            .iter()
            .filter_map(|(n, m)| Some(Pinned { file: m.pinning.file_name(n)?, object: Object::Map(n) }));
        progs.chain(maps).collect()
    }

    /// The first map reference of any program to a map the spec does not
    /// define: (program, map name).
    pub fn unbound_ref(&self) -> Option<(&str, &str)> {
        self.programs.iter().find_map(|p| {
            p.code.map_refs.iter().find(|r| self.map(&r.name).is_none()).map(|r| (p.name.as_str(), r.name.as_str()))
        })
    }
}

/// Description of a map to create (or of an existing map).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapSpec {
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `map_flags`, e.g. [`BPF_F_NO_PREALLOC`].
    pub flags: u32,
    /// At most 15 bytes of `[A-Za-z0-9_.]`; may be empty.
    pub name: String,
    /// Whether `load` pins it (by its name in the collection, not this name).
    pub pinning: Pinning,
}

impl MapSpec {
    /// A spec with no flags and no name.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> Self {
        MapSpec { map_type, key_size, value_size, max_entries, flags: 0, name: String::new(), pinning: Pinning::None }
    }

    /// Set the name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Set how it is pinned.
    pub fn with_pinning(mut self, pinning: Pinning) -> Self {
        self.pinning = pinning;
        self
    }

    /// Set `map_flags`.
    pub fn with_flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    /// An SK_STORAGE map (`int` socket-fd key, `value_size`-byte value,
    /// `BPF_F_NO_PREALLOC`, max_entries 0). BTF is generated by
    /// `syscall::Map::create`.
    pub fn sk_storage(name: impl Into<String>, value_size: u32) -> Self {
        MapSpec::new(MapType::SK_STORAGE, 4, value_size, 0).with_flags(BPF_F_NO_PREALLOC).with_name(name)
    }

    /// `map 'name' (TYPE)`: how syscall errors name the map.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("map ({})", self.map_type)
        } else {
            format!("map '{}' ({})", self.name, self.map_type)
        }
    }
}

/// A program or map name the kernel accepts: `[A-Za-z0-9_.]`, at most 15 bytes.
pub fn kernel_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' }).take(15).collect()
}

/// `PERCPU_ARRAY, key 4, value 8, max_entries 1`: how errors name a map definition.
pub fn describe_map(spec: &MapSpec) -> String {
    let mut s = format!(
        "{}, key {}, value {}, max_entries {}",
        spec.map_type, spec.key_size, spec.value_size, spec.max_entries
    );
    if spec.flags != 0 {
        s.push_str(&format!(", flags {:#x}", spec.flags));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::*;
    use crate::uapi::MapType;

    #[test]
    fn unbound_refs_and_names() {
        let mut p = Program::new();
        p.push(ld_map(R1, "counts"));
        p.push(Alu::Mov.imm(R0, 0));
        p.push(exit());
        let prog = ProgramSpec::new("t", ProgType::SOCKET_FILTER, p.assemble().unwrap());
        assert_eq!((prog.slots(), prog.insns().len()), (4, 3));
        let mut spec = CollectionSpec { maps: vec![], programs: vec![prog] };
        assert_eq!(spec.unbound_ref(), Some(("t", "counts")));
        spec.maps.push(("counts".into(), MapSpec::new(MapType::ARRAY, 4, 8, 1)));
        assert_eq!(spec.unbound_ref(), None);
        for (name, want) in [("a-b c", "a_b_c"), ("0123456789abcdefgh", "0123456789abcde")] {
            assert_eq!(kernel_name(name), want);
        }
        assert_eq!(
            describe_map(&MapSpec::new(MapType::HASH, 4, 8, 2).with_flags(1)),
            "HASH, key 4, value 8, max_entries 2, flags 0x1"
        );
    }
}
