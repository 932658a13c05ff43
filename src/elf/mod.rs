//! BPF ELF objects as clang writes them (`clang -O2 -g -target bpf -c x.c`):
//! program sections and the program type their names stand for, functions,
//! relocations, the license, and the maps the object defines (legacy `maps`
//! section and BTF `.maps`).
//!
//! [`Object::parse`] never panics: the ELF header, every section header and
//! every symbol is bounds-checked before [`goblin`] or this module reads
//! through it, and anything malformed is an [`ElfError`].
//!
//! [`Object::link`] turns one program into a [`crate::spec::ProgramSpec`]
//! the way libbpf links: map references become symbolic map loads (bound by
//! name when [`crate::loader`] loads it), BPF-to-BPF calls pull the called
//! functions (from `.text` or the same section) in after the program and
//! point at them. What it cannot do (global data, externs/kfuncs, CO-RE,
//! map-in-map) is an error naming the instruction.
//!
//! Files: `parse` (bytes to [`Object`]), `link` (one program to a spec,
//! the object's maps to map specs), `render` (`dump --disasm` text and JSON).

mod link;
mod parse;
mod render;
pub mod section;

use crate::asm::{Call, DecodeError, Imm64, Insn};
use crate::uapi::MapType;
pub use render::{JsonMap, JsonObjInsn, JsonObject, JsonReloc, JsonSection};
pub use section::{SectionKind, infer};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `EM_BPF`.
pub const EM_BPF: u16 = 247;

pub const R_BPF_NONE: u32 = 0;
pub const R_BPF_64_64: u32 = 1;
pub const R_BPF_64_ABS64: u32 = 2;
pub const R_BPF_64_ABS32: u32 = 3;
pub const R_BPF_64_NODYLD32: u32 = 4;
pub const R_BPF_64_32: u32 = 10;

/// The name of a BPF relocation type, as llvm-objdump prints it.
pub fn reloc_type_name(t: u32) -> String {
    match t {
        R_BPF_NONE => "R_BPF_NONE".into(),
        R_BPF_64_64 => "R_BPF_64_64".into(),
        R_BPF_64_ABS64 => "R_BPF_64_ABS64".into(),
        R_BPF_64_ABS32 => "R_BPF_64_ABS32".into(),
        R_BPF_64_NODYLD32 => "R_BPF_64_NODYLD32".into(),
        R_BPF_64_32 => "R_BPF_64_32".into(),
        n => format!("R_BPF_{n}"),
    }
}

/// Why a file is not a usable BPF object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file (no \\x7fELF magic)")]
    NotElf,
    #[error("not a BPF object: {0}")]
    NotBpf(String),
    #[error("corrupt or truncated ELF: {0}")]
    Corrupt(String),
    /// The message shows the decoding error itself, so it is not also a `source()`.
    #[error("section `{section}`: {error}")]
    Decode { section: String, error: DecodeError },
    #[error("{0}")]
    Unsupported(String),
}

fn corrupt(s: impl Into<String>) -> ElfError {
    ElfError::Corrupt(s.into())
}

/// Where a map definition comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapOrigin {
    /// `struct bpf_map_def SEC("maps")`.
    Legacy,
    /// `SEC(".maps")`, described by BTF.
    Btf,
}

/// A map the object defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    pub name: String,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub origin: MapOrigin,
    /// ELF section index and byte offset of the definition (what relocations name).
    pub shndx: usize,
    pub offset: u64,
}

/// A function symbol (`STT_FUNC`) in a code section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub shndx: usize,
    /// Byte offset in the section.
    pub offset: u64,
    /// Bytes (0 if the symbol does not say).
    pub size: u64,
    pub global: bool,
}

/// What a relocation's symbol is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelocTarget {
    /// A map of [`Object::maps`], by index.
    Map(usize),
    /// Code: a function or section symbol in an executable section; `value`
    /// is the symbol's value (byte offset in that section).
    Code { shndx: usize, value: u64 },
    /// A data section (`.data`, `.rodata`, `.bss`, ...): global variables.
    Data { section: String, value: u64 },
    /// An undefined symbol (extern function, kfunc, kconfig).
    Extern,
    /// Something else (e.g. a debug section).
    Other,
}

/// A relocation on an instruction of a code section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloc {
    /// The slot the relocation applies to (`r_offset / 8`).
    pub slot: usize,
    pub rtype: u32,
    /// The symbol's name (a section symbol's is its section's name).
    pub symbol: String,
    pub target: RelocTarget,
}

/// An executable section.
#[derive(Clone, Debug)]
pub struct CodeSection {
    pub shndx: usize,
    pub name: String,
    /// `.text`: functions called by programs, not programs themselves.
    pub is_text: bool,
    pub kind: SectionKind,
    pub bytes: Vec<u8>,
    pub insns: Vec<(usize, Insn)>,
    /// Sorted by slot.
    pub relocs: Vec<Reloc>,
}

/// One program: a function of a program section (or the whole section when
/// it has no function symbol).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgRef {
    pub name: String,
    /// Index into [`Object::sections`].
    pub section: usize,
    pub offset: u64,
    pub size: u64,
}

/// A parsed BPF object.
#[derive(Clone, Debug)]
pub struct Object {
    pub license: Option<String>,
    /// `version` section (old kprobe programs), if any.
    pub kern_version: Option<u32>,
    pub maps: Vec<MapDef>,
    pub sections: Vec<CodeSection>,
    pub functions: Vec<Function>,
    /// CO-RE relocation bytes in `.BTF.ext` (programs that need them cannot be linked).
    pub core_relo_len: u32,
    /// Names of the data sections (`.data`, `.rodata*`, `.bss`) with their sizes.
    pub data_sections: Vec<(String, u64)>,
    /// `.BTF.ext` line info: the source line of each run of instructions,
    /// by code section (empty without `-g`).
    pub line_info: Vec<crate::btf::object::ExtLine>,
}

impl Object {
    /// The functions of code section `shndx`, by offset.
    pub fn functions_in(&self, shndx: usize) -> impl Iterator<Item = &Function> {
        self.functions.iter().filter(move |f| f.shndx == shndx)
    }

    /// The function that starts at byte `offset` of section `shndx`.
    pub fn function_at(&self, shndx: usize, offset: u64) -> Option<&Function> {
        self.functions.iter().find(|f| f.shndx == shndx && f.offset == offset)
    }

    pub(crate) fn section_by_shndx(&self, shndx: usize) -> Option<&CodeSection> {
        self.sections.iter().find(|s| s.shndx == shndx)
    }

    /// The code a call or function-address relocation points at: (section
    /// shndx, byte offset). Calls hold `(target - symbol) / 8 - 1` in imm; a
    /// `lddw` holds the byte offset from the symbol.
    pub fn code_target(&self, r: &Reloc, insn: &Insn) -> Option<(usize, u64)> {
        let RelocTarget::Code { shndx, value } = r.target else { return None };
        let delta: i64 = match insn {
            Insn::Call(Call::Local(imm)) | Insn::Call(Call::Helper(imm)) => (*imm as i64 + 1) * 8,
            Insn::LdImm64 { value: Imm64::Const(v), .. } => *v as u32 as i32 as i64,
            _ => return None,
        };
        let off = (value as i64).checked_add(delta)?;
        (off >= 0).then_some((shndx, off as u64))
    }

    /// The programs: the function symbols of every program section (not
    /// `.text`), or the whole section when it has none.
    pub fn programs(&self) -> Vec<ProgRef> {
        let mut out = Vec::new();
        for (si, s) in self.sections.iter().enumerate() {
            if s.is_text {
                continue;
            }
            let funcs: Vec<&Function> = self.functions_in(s.shndx).collect();
            if funcs.is_empty() {
                out.push(ProgRef { name: s.name.clone(), section: si, offset: 0, size: s.bytes.len() as u64 });
                continue;
            }
            for f in funcs {
                out.push(ProgRef { name: f.name.clone(), section: si, offset: f.offset, size: f.size });
            }
        }
        out
    }

    /// Labels (function names by slot) of a code section.
    pub fn labels(&self, section: &CodeSection) -> BTreeMap<usize, String> {
        self.functions_in(section.shndx).map(|f| ((f.offset / 8) as usize, f.name.clone())).collect()
    }
}

/// `pkt_count: PERCPU_ARRAY, key 4, value 8, max_entries 1 (legacy `maps`)`.
pub fn describe_map(m: &MapDef) -> String {
    let mut s = format!(
        "{}: {}, key {}, value {}, max_entries {}",
        m.name, m.map_type, m.key_size, m.value_size, m.max_entries
    );
    if m.map_flags != 0 {
        let _ = write!(s, ", flags {:#x}", m.map_flags);
    }
    s.push_str(match m.origin {
        MapOrigin::Legacy => " (legacy `maps` section)",
        MapOrigin::Btf => " (BTF `.maps`)",
    });
    s
}

/// Whether `bytes` look like an ELF file (so the CLI can tell objects from
/// raw instruction files).
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_elf_and_short() {
        assert_eq!(Object::parse(b"").unwrap_err(), ElfError::NotElf);
        assert_eq!(Object::parse(b"hello world").unwrap_err(), ElfError::NotElf);
        assert!(matches!(Object::parse(b"\x7fELF\x02\x01").unwrap_err(), ElfError::Corrupt(_)));
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[16] = 1;
        h[18] = 62; // x86-64
        assert!(matches!(Object::parse(&h).unwrap_err(), ElfError::NotBpf(_)));
        h[18] = 247;
        assert!(matches!(Object::parse(&h).unwrap_err(), ElfError::Corrupt(_)));
    }
}
