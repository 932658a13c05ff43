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
use crate::syscall::{AttachType, MapSpec, ProgType};
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
}

impl ProgramSpec {
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

    /// The first map reference of any program to a map the spec does not
    /// define: (program, map name).
    pub fn unbound_ref(&self) -> Option<(&str, &str)> {
        self.programs.iter().find_map(|p| {
            p.code.map_refs.iter().find(|r| self.map(&r.name).is_none()).map(|r| (p.name.as_str(), r.name.as_str()))
        })
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
    use crate::syscall::MapType;

    #[test]
    fn unbound_refs_and_names() {
        let mut p = Program::new();
        p.push(ld_map(R1, "counts"));
        p.push(Alu::Mov.imm(R0, 0));
        p.push(exit());
        let prog = ProgramSpec {
            name: "t".into(),
            prog_type: ProgType::SOCKET_FILTER,
            expected_attach_type: None,
            attach_btf_id: None,
            license: "GPL".into(),
            code: p.assemble().unwrap(),
            comments: BTreeMap::new(),
        };
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
