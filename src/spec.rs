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

use crate::asm::{Assembled, Call, Imm64, Insn, listing};
use crate::btf::BTF_FUNC_STATIC;
use crate::btf::builder::BtfBuilder;
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
    /// The source lines the instructions came from (BTF line info), if
    /// known: a C object's `.BTF.ext`, or the listing itself for the
    /// built-in programs ([`listing_source`]).
    pub source: Option<Source>,
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

/// Where instructions came from: a source line for the slot where each
/// run of instructions from one line starts (the next entry ends it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    pub lines: BTreeMap<usize, SourceLine>,
    /// The "source" is sockasm's own listing of each instruction (the
    /// built-in programs, so that the kernel keeps line info and the JIT's
    /// line table for them): views that print the listing anyway do not
    /// repeat it.
    pub synthetic: bool,
}

/// One line of source, as BTF line info names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub file: String,
    pub line: u32,
    pub col: u32,
    /// The line's text (clang stores it with leading whitespace trimmed or not; shown trimmed).
    pub text: String,
}

impl SourceLine {
    /// `; return x + 1; @ add.c:3`, as the verifier quotes line info
    /// (the file's base name).
    pub fn comment(&self) -> String {
        let file = self.file.rsplit('/').next().unwrap_or(&self.file);
        format!("; {} @ {file}:{}", self.text.trim(), self.line)
    }
}

impl Source {
    /// The line that covers `slot`: the last entry at or before it.
    pub fn covering(&self, slot: usize) -> Option<(usize, &SourceLine)> {
        self.lines.range(..=slot).next_back().map(|(s, l)| (*s, l))
    }
}

/// The synthetic source of a program written in the DSL: file `file`, one
/// line per instruction, its text sockasm's listing of that instruction.
pub fn listing_source(code: &Assembled, file: &str) -> Source {
    let lines = listing::with_slots(&code.insns)
        .into_iter()
        .enumerate()
        .map(|(n, (slot, insn))| {
            let mut text = insn.to_string();
            // A map load names its map, as the text assembler writes it
            // (`r1 = map_fd(sockasm_state) ll`): its fd is not known yet.
            if let Some(r) = code.map_refs.iter().find(|r| r.index == n) {
                text = text.replacen("map_fd(0)", &format!("map_fd({})", r.name), 1).replacen(
                    "map_value(0,",
                    &format!("map_value({},", r.name),
                    1,
                );
            }
            let line = SourceLine { file: file.to_string(), line: n as u32 + 1, col: 0, text };
            (slot, line)
        })
        .collect();
    Source { lines, synthetic: true }
}

/// What BPF_PROG_LOAD takes besides the instructions to know a program's
/// functions and source lines: a raw BTF blob (to load with
/// BPF_BTF_LOAD), `bpf_func_info` records `(insn_off, type_id)` and
/// `bpf_line_info` records. Plain data: the loader makes the syscalls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramBtf {
    pub blob: Vec<u8>,
    pub func_info: Vec<(u32, u32)>,
    pub line_info: Vec<LineInfo>,
    /// The kernel cannot load the program without it (it passes a
    /// callback, whose function needs a BTF type): a BTF the kernel
    /// refuses is then an error, where line info alone is not.
    pub required: bool,
}

/// `struct bpf_line_info`: the instruction (slot), and offsets of the file
/// name and line text in the BTF's strings; `line_col` is `line << 10 | col`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

/// The slots where the program's functions start (0 first).
pub fn function_starts(p: &ProgramSpec) -> (Vec<usize>, bool) {
    let target = |slot: usize, imm: i32| usize::try_from(slot as i64 + 1 + i64::from(imm)).ok();
    let mut takes_address = false;
    let mut starts = std::collections::BTreeSet::from([0]);
    for (slot, insn) in p.insns() {
        match insn {
            Insn::LdImm64 { value: Imm64::Func(off), .. } => {
                takes_address = true;
                starts.extend(target(slot, off));
            }
            Insn::Call(Call::Local(off)) => starts.extend(target(slot, off)),
            _ => {}
        }
    }
    (starts.into_iter().collect(), takes_address)
}

/// The BTF a program is loaded with, or None when it needs none: a program
/// that passes a callback (the kernel wants a type for each function) or
/// carries source lines. Each function is `static int NAME(void)`, named by
/// its label (the program's name for the first): the kernel checks a static
/// function's arguments from the calls, not from this type, so the program
/// verifies as it would without BTF. Line info has one record per source
/// line entry, and one at every function start (the kernel wants one
/// there).
pub fn program_btf(p: &ProgramSpec) -> Result<Option<ProgramBtf>, String> {
    let (starts, takes_address) = function_starts(p);
    let lines = p.source.as_ref().map(|s| &s.lines).filter(|l| !l.is_empty());
    if !takes_address && lines.is_none() {
        return Ok(None);
    }
    let slot_u32 = |slot: usize| u32::try_from(slot).map_err(|_| format!("slot {slot}: program too large"));
    let ident = |s: &str| {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let proto = b.add_func_proto(int, &[]);
    let mut func_info = Vec::with_capacity(starts.len());
    for &slot in &starts {
        let name = match p.code.labels.get(&slot) {
            Some(l) if ident(l) => l.clone(),
            _ if slot == 0 && ident(&p.name) => p.name.clone(),
            _ => format!("func_{slot}"),
        };
        let id = b.add_func(&name, proto, BTF_FUNC_STATIC);
        func_info.push((slot_u32(slot)?, id));
    }
    let mut line_info = Vec::new();
    if let Some(lines) = lines {
        // Instruction starts: the kernel refuses line info on the second
        // half of a 16-byte load.
        let insn_starts: std::collections::BTreeSet<usize> = p.insns().into_iter().map(|(s, _)| s).collect();
        let mut at: BTreeMap<usize, &SourceLine> =
            lines.iter().filter(|(s, _)| insn_starts.contains(s)).map(|(s, l)| (*s, l)).collect();
        // A function start without its own entry gets the line covering it.
        for &f in &starts {
            if !at.contains_key(&f)
                && let Some((_, l)) = lines.range(..=f).next_back().or_else(|| lines.iter().next())
            {
                at.insert(f, l);
            }
        }
        let mut files: BTreeMap<&str, u32> = BTreeMap::new();
        for (slot, l) in at {
            let file_name_off = match files.get(l.file.as_str()) {
                Some(o) => *o,
                None => {
                    let o = b.add_str(&l.file);
                    files.insert(&l.file, o);
                    o
                }
            };
            let line_off = b.add_str(&l.text);
            line_info.push(LineInfo {
                insn_off: slot_u32(slot)?,
                file_name_off,
                line_off,
                line_col: (l.line << 10) | (l.col & 0x3ff),
            });
        }
    }
    Ok(Some(ProgramBtf { blob: b.build(), func_info, line_info, required: takes_address }))
}

impl ProgramSpec {
    /// A GPL program with no expected attach type, no notes, no source lines, not pinned.
    pub fn new(name: impl Into<String>, prog_type: ProgType, code: Assembled) -> ProgramSpec {
        ProgramSpec {
            name: name.into(),
            prog_type,
            expected_attach_type: None,
            attach_btf_id: None,
            license: "GPL".into(),
            code,
            comments: BTreeMap::new(),
            source: None,
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

    /// The built-in programs' synthetic source: one line per instruction,
    /// its listing, maps by name; line info at every instruction start
    /// (never on the second half of a 16-byte load), in order, one file.
    #[test]
    fn a_listing_as_source_and_its_line_info() {
        let mut p = Program::new();
        p.push(ld_map(R1, "counts"));
        p.push(Alu::Mov.imm(R0, 0));
        p.push(exit());
        let code = p.assemble().unwrap();
        let source = listing_source(&code, "t.s");
        assert!(source.synthetic);
        let texts: Vec<(usize, u32, &str)> = source.lines.iter().map(|(s, l)| (*s, l.line, l.text.as_str())).collect();
        assert_eq!(texts, vec![(0, 1, "r1 = map_fd(counts) ll"), (2, 2, "r0 = 0"), (3, 3, "exit")]);
        assert_eq!(source.covering(1).map(|(s, _)| s), Some(0));
        assert_eq!(source.lines[&2].comment(), "; r0 = 0 @ t.s:2");
        let prog = ProgramSpec {
            name: "t".into(),
            prog_type: ProgType::SOCKET_FILTER,
            expected_attach_type: None,
            license: "GPL".into(),
            code,
            comments: BTreeMap::new(),
            source: Some(source),
            pinning: Default::default(),
            attach_btf_id: None,
        };
        let btf = program_btf(&prog).unwrap().unwrap();
        assert!(!btf.required);
        assert_eq!(btf.func_info.len(), 1);
        let offs: Vec<u32> = btf.line_info.iter().map(|l| l.insn_off).collect();
        assert_eq!(offs, vec![0, 2, 3]);
        assert!(btf.line_info.iter().all(|l| l.file_name_off == btf.line_info[0].file_name_off));
        assert_eq!(btf.line_info[1].line_col, 2 << 10);
        // Without source lines or callbacks: no BTF, as before.
        let plain = ProgramSpec { source: None, ..prog };
        assert_eq!(program_btf(&plain), Ok(None));
    }
}
