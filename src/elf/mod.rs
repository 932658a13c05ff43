//! BPF ELF objects as clang writes them (`clang -O2 -g -target bpf -c x.c`):
//! program sections and the program type their names stand for, functions,
//! relocations, the license, and the maps the object defines (legacy `maps`
//! section and BTF `.maps`).
//!
//! [`Object::parse`] never panics: the ELF header, every section header and
//! every symbol is bounds-checked before [`goblin`] or this module reads
//! through it, and anything malformed is an [`ElfError`].
//!
//! [`Object::link`] turns one program into loadable instructions the way
//! libbpf does: map references become `map_fd(FD)` loads, BPF-to-BPF calls
//! pull the called functions (from `.text` or the same section) in after the
//! program and point at them. What it cannot do (global data, externs/kfuncs,
//! CO-RE, map-in-map) is an error naming the instruction.

pub mod btf;
pub mod kernel_btf;
pub mod section;

use crate::asm::listing::{self, ListingOptions};
use crate::asm::{Call, DecodeError, Imm64, Insn, RawInsn, decode_all};
use crate::json::Json;
use crate::uapi::{MapType, ProgType};
use goblin::elf::Elf;
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
    #[error("section `{section}`: {source}")]
    Decode { section: String, source: DecodeError },
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
}

fn rd_u16(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off.checked_add(2)?).map(|s| u16::from_le_bytes([s[0], s[1]]))
}
fn rd_u32(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off.checked_add(4)?).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn rd_u64(b: &[u8], off: usize) -> Option<u64> {
    b.get(off..off.checked_add(8)?).map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
}

const SHT_NULL: u32 = 0;
const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHF_EXECINSTR: u64 = 0x4;
const STT_FUNC: u8 = 2;
const STT_SECTION: u8 = 3;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;

/// Checks everything goblin will read through, so that a corrupt file is an
/// error and not a panic or a huge allocation.
fn precheck(b: &[u8]) -> Result<(), ElfError> {
    if b.len() < 4 || &b[..4] != b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    if b.len() < 64 {
        return Err(corrupt(format!("the ELF header needs 64 bytes, the file has {}", b.len())));
    }
    if b[4] != 2 {
        return Err(ElfError::NotBpf("32-bit ELF (BPF objects are ELF64)".into()));
    }
    if b[5] != 1 {
        return Err(ElfError::NotBpf(
            "big-endian ELF (only little-endian `-target bpfel`/`bpf` objects are supported)".into(),
        ));
    }
    let e_type = rd_u16(b, 16).unwrap_or(0);
    let machine = rd_u16(b, 18).unwrap_or(0);
    if machine != EM_BPF {
        return Err(ElfError::NotBpf(format!("e_machine is {machine}, not EM_BPF (247)")));
    }
    if e_type != 1 {
        return Err(ElfError::NotBpf(format!("e_type is {e_type}, not ET_REL (a relocatable object, `clang -c`)")));
    }
    let phnum = rd_u16(b, 56).unwrap_or(0);
    if phnum != 0 {
        return Err(corrupt(format!("a relocatable object with {phnum} program headers")));
    }
    let shoff = rd_u64(b, 40).unwrap_or(0);
    let shentsize = rd_u16(b, 58).unwrap_or(0);
    let shnum = rd_u16(b, 60).unwrap_or(0) as u64;
    let shstrndx = rd_u16(b, 62).unwrap_or(0) as u64;
    if shnum == 0 {
        return Err(corrupt("no section headers"));
    }
    if shentsize != 64 {
        return Err(corrupt(format!("section header size {shentsize} (ELF64 has 64)")));
    }
    let end = shoff.checked_add(shnum * 64).ok_or_else(|| corrupt("section header table offset overflows"))?;
    if end > b.len() as u64 {
        return Err(corrupt(format!(
            "the section header table ({shnum} headers at offset {shoff}) runs past the end of the file ({} bytes)",
            b.len()
        )));
    }
    if shstrndx >= shnum {
        return Err(corrupt(format!("section name table index {shstrndx} is not below {shnum}")));
    }
    let mut symtabs = 0;
    for i in 0..shnum {
        let h = (shoff + i * 64) as usize;
        let ty = rd_u32(b, h + 4).unwrap_or(0);
        let off = rd_u64(b, h + 24).unwrap_or(0);
        let size = rd_u64(b, h + 32).unwrap_or(0);
        let link = rd_u32(b, h + 40).unwrap_or(0) as u64;
        let info = rd_u32(b, h + 44).unwrap_or(0) as u64;
        let entsize = rd_u64(b, h + 56).unwrap_or(0);
        if ty == SHT_NULL || ty == SHT_NOBITS {
            continue;
        }
        let send = off.checked_add(size).ok_or_else(|| corrupt(format!("section {i}: offset + size overflows")))?;
        if send > b.len() as u64 {
            return Err(corrupt(format!(
                "section {i} ({size} bytes at offset {off}) runs past the end of the file ({} bytes)",
                b.len()
            )));
        }
        let want = match ty {
            SHT_SYMTAB => Some(24),
            SHT_REL => Some(16),
            SHT_RELA => Some(24),
            _ => None,
        };
        if let Some(w) = want {
            if entsize != w || !size.is_multiple_of(w) {
                return Err(corrupt(format!(
                    "section {i}: entry size {entsize} / size {size} (expected entries of {w})"
                )));
            }
            if link >= shnum {
                return Err(corrupt(format!("section {i}: sh_link {link} is not below {shnum}")));
            }
        }
        if ty == SHT_SYMTAB {
            symtabs += 1;
        }
        if (ty == SHT_REL || ty == SHT_RELA) && info >= shnum {
            return Err(corrupt(format!("relocation section {i}: target section {info} is not below {shnum}")));
        }
    }
    if symtabs > 1 {
        return Err(corrupt("more than one symbol table"));
    }
    Ok(())
}

struct Sym {
    name: String,
    st_type: u8,
    bind: u8,
    shndx: usize,
    value: u64,
    size: u64,
}

impl Object {
    /// Parses a BPF ELF object. Every malformation is an error.
    pub fn parse(bytes: &[u8]) -> Result<Object, ElfError> {
        precheck(bytes)?;
        let elf = Elf::parse(bytes).map_err(|e| corrupt(e.to_string()))?;
        let shnum = elf.section_headers.len();
        let sec_name = |i: usize| -> String {
            elf.section_headers.get(i).and_then(|h| elf.shdr_strtab.get_at(h.sh_name)).unwrap_or("").to_string()
        };
        let sec_data = |i: usize| -> &[u8] {
            let Some(h) = elf.section_headers.get(i) else { return &[] };
            if h.sh_type == SHT_NOBITS {
                return &[];
            }
            let (o, s) = (h.sh_offset as usize, h.sh_size as usize);
            bytes.get(o..o.saturating_add(s)).unwrap_or(&[])
        };
        let find_section = |name: &str| (0..shnum).find(|&i| sec_name(i) == name);

        // Symbols.
        let mut syms = Vec::with_capacity(elf.syms.len());
        for s in elf.syms.iter() {
            let name = match s.st_type() {
                STT_SECTION => sec_name(s.st_shndx),
                _ => elf.strtab.get_at(s.st_name).unwrap_or("").to_string(),
            };
            syms.push(Sym {
                name,
                st_type: s.st_type(),
                bind: s.st_bind(),
                shndx: s.st_shndx,
                value: s.st_value,
                size: s.st_size,
            });
        }

        let license = find_section("license").map(|i| {
            let d = sec_data(i);
            let end = d.iter().position(|&c| c == 0).unwrap_or(d.len());
            String::from_utf8_lossy(&d[..end]).into_owned()
        });
        let kern_version = find_section("version").and_then(|i| rd_u32(sec_data(i), 0));

        // Maps.
        let mut maps = Vec::new();
        if let Some(mi) = find_section("maps") {
            let data = sec_data(mi);
            let mut ms: Vec<&Sym> =
                syms.iter().filter(|s| s.shndx == mi && s.st_type != STT_SECTION && !s.name.is_empty()).collect();
            ms.sort_by_key(|s| s.value);
            let def_size = if ms.is_empty() { 0 } else { data.len() / ms.len() };
            for s in ms {
                let o = s.value as usize;
                let f = |k: usize| rd_u32(data, o.checked_add(4 * k)?);
                let (Some(t), Some(k), Some(v), Some(m)) = (f(0), f(1), f(2), f(3)) else {
                    return Err(corrupt(format!("map `{}`: its definition at `maps`+{o} is truncated", s.name)));
                };
                maps.push(MapDef {
                    name: s.name.clone(),
                    map_type: MapType(t),
                    key_size: k,
                    value_size: v,
                    max_entries: m,
                    map_flags: if def_size >= 20 { f(4).unwrap_or(0) } else { 0 },
                    origin: MapOrigin::Legacy,
                    shndx: mi,
                    offset: s.value,
                });
            }
        }
        let btf = find_section(".BTF").map(|i| btf::Btf::parse(sec_data(i)));
        if let Some(mi) = find_section(".maps") {
            let btf = match &btf {
                None => {
                    return Err(ElfError::Unsupported(
                        "the object defines maps in `.maps` but has no `.BTF` section to describe them (compile with -g)".into(),
                    ));
                }
                Some(Err(e)) => return Err(corrupt(format!(".BTF: {e}"))),
                Some(Ok(b)) => b,
            };
            for d in btf.maps().map_err(|e| ElfError::Unsupported(format!(".maps: {e}")))? {
                // clang leaves the DATASEC offsets 0 (libbpf fills them in
                // from the symbols): the symbol says where the map is.
                let sym = syms
                    .iter()
                    .find(|s| s.shndx == mi && s.st_type != STT_SECTION && s.name == d.name)
                    .ok_or_else(|| corrupt(format!(".maps: map `{}` has BTF but no symbol", d.name)))?;
                let offset = sym.value;
                maps.push(MapDef {
                    name: d.name,
                    map_type: MapType(d.map_type),
                    key_size: d.key_size,
                    value_size: d.value_size,
                    max_entries: d.max_entries,
                    map_flags: d.map_flags,
                    origin: MapOrigin::Btf,
                    shndx: mi,
                    offset,
                });
            }
        }
        let core_relo_len = match find_section(".BTF.ext") {
            Some(i) => btf::core_relo_len(sec_data(i)).map_err(|e| corrupt(format!(".BTF.ext: {e}")))?,
            None => 0,
        };

        // Functions.
        let is_code = |i: usize| {
            elf.section_headers.get(i).is_some_and(|h| h.sh_type == SHT_PROGBITS && h.sh_flags & SHF_EXECINSTR != 0)
        };
        let mut functions: Vec<Function> = syms
            .iter()
            .filter(|s| s.st_type == STT_FUNC && is_code(s.shndx))
            .map(|s| Function {
                name: s.name.clone(),
                shndx: s.shndx,
                offset: s.value,
                size: s.size,
                global: s.bind == STB_GLOBAL || s.bind == STB_WEAK,
            })
            .collect();
        functions.sort_by_key(|f| (f.shndx, f.offset));

        let mut data_sections = Vec::new();
        for i in 0..shnum {
            let n = sec_name(i);
            if n == ".data"
                || n.starts_with(".data.")
                || n.starts_with(".rodata")
                || n == ".bss"
                || n.starts_with(".bss.")
            {
                data_sections.push((n, elf.section_headers[i].sh_size));
            }
        }

        // Code sections with their relocations.
        let mut sections = Vec::new();
        for i in 0..shnum {
            if !is_code(i) || elf.section_headers[i].sh_size == 0 {
                continue;
            }
            let name = sec_name(i);
            let data = sec_data(i);
            let insns = decode_all(data).map_err(|e| ElfError::Decode { section: name.clone(), source: e })?;
            let mut relocs = Vec::new();
            for (ri, rs) in &elf.shdr_relocs {
                if elf.section_headers.get(*ri).map(|h| h.sh_info as usize) != Some(i) {
                    continue;
                }
                for r in rs.iter() {
                    if r.r_offset % 8 != 0 || r.r_offset >= data.len() as u64 {
                        return Err(corrupt(format!(
                            "section `{name}`: relocation at offset {} is not on an instruction",
                            r.r_offset
                        )));
                    }
                    let slot = (r.r_offset / 8) as usize;
                    let sym = syms.get(r.r_sym).ok_or_else(|| {
                        corrupt(format!(
                            "section `{name}`: relocation at slot {slot} names symbol {} (of {})",
                            r.r_sym,
                            syms.len()
                        ))
                    })?;
                    if sym.shndx != 0 && sym.shndx < 0xff00 && sym.shndx >= shnum {
                        return Err(corrupt(format!("symbol `{}` is in section {} (of {shnum})", sym.name, sym.shndx)));
                    }
                    let target = if sym.shndx == 0 {
                        RelocTarget::Extern
                    } else if let Some(m) = maps
                        .iter()
                        .position(|m| m.shndx == sym.shndx && m.offset == sym.value && sym.st_type != STT_SECTION)
                    {
                        RelocTarget::Map(m)
                    } else if is_code(sym.shndx) {
                        RelocTarget::Code { shndx: sym.shndx, value: sym.value }
                    } else if data_sections.iter().any(|(n, _)| *n == sec_name(sym.shndx)) {
                        RelocTarget::Data { section: sec_name(sym.shndx), value: sym.value }
                    } else {
                        RelocTarget::Other
                    };
                    relocs.push(Reloc { slot, rtype: r.r_type, symbol: sym.name.clone(), target });
                }
            }
            relocs.sort_by_key(|r| r.slot);
            let is_text = name == ".text";
            let kind = if is_text {
                SectionKind { prog_type: None, expected_attach_type: None, unloadable: None }
            } else {
                infer(&name)
            };
            sections.push(CodeSection { shndx: i, name, is_text, kind, bytes: data.to_vec(), insns, relocs });
        }
        if sections.is_empty() {
            return Err(ElfError::NotBpf("the object has no code sections".into()));
        }
        Ok(Object { license, kern_version, maps, sections, functions, core_relo_len, data_sections })
    }

    /// The functions of code section `shndx`, by offset.
    pub fn functions_in(&self, shndx: usize) -> impl Iterator<Item = &Function> {
        self.functions.iter().filter(move |f| f.shndx == shndx)
    }

    /// The function that starts at byte `offset` of section `shndx`.
    pub fn function_at(&self, shndx: usize, offset: u64) -> Option<&Function> {
        self.functions.iter().find(|f| f.shndx == shndx && f.offset == offset)
    }

    fn section_by_shndx(&self, shndx: usize) -> Option<&CodeSection> {
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

    /// The annotation of a relocated instruction: `R_BPF_64_64 pkt_count: map PERCPU_ARRAY`.
    pub fn reloc_note(&self, r: &Reloc, insn: &Insn) -> String {
        let mut s = format!("{} {}", reloc_type_name(r.rtype), r.symbol);
        match &r.target {
            RelocTarget::Map(m) => {
                let _ = write!(s, ": map {}", self.maps[*m].map_type);
            }
            RelocTarget::Code { .. } => match self.code_target(r, insn) {
                Some((sh, off)) => {
                    let what = if matches!(insn, Insn::Call(_)) { "call" } else { "address of" };
                    match self.function_at(sh, off) {
                        Some(f) => {
                            let _ = write!(s, ": {what} {}", f.name);
                        }
                        None => {
                            let sec = self.section_by_shndx(sh).map_or("?", |c| c.name.as_str());
                            let _ = write!(s, ": {what} {sec}+{off}");
                        }
                    }
                }
                None => s.push_str(": code"),
            },
            RelocTarget::Data { section, value } => {
                let _ = write!(s, ": global data in {section}+{value}");
            }
            RelocTarget::Extern => s.push_str(": extern (undefined symbol)"),
            RelocTarget::Other => {}
        }
        s
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

    /// The listing of one code section: llvm-objdump's `{slot:>8}:\t{text}`
    /// lines, a `<name>:` header before each function, relocations as
    /// annotations on their instruction.
    pub fn section_listing(&self, section: &CodeSection, annotate: bool) -> String {
        let labels = self.labels(section);
        let opts = ListingOptions { annotate, labels: labels.clone(), comments: BTreeMap::new() };
        let mut out = String::new();
        let mut first = true;
        for (slot, insn) in &section.insns {
            if let Some(name) = labels.get(slot) {
                if !first {
                    out.push('\n');
                }
                let _ = writeln!(out, "{:016x} <{name}>:", slot * 8);
            }
            first = false;
            let _ = write!(out, "{slot:>8}:\t{insn}");
            if annotate {
                let note = match section.relocs.iter().find(|r| r.slot == *slot) {
                    Some(r) => Some(self.reloc_note(r, insn)),
                    None => listing::annotation(&section.insns, *slot, insn, &opts),
                };
                if let Some(n) = note {
                    out.push_str(listing::ANNOTATION_SEP);
                    out.push_str(&n);
                }
            }
            out.push('\n');
        }
        out
    }

    /// The whole `sockasm dump --disasm FILE.o` text.
    pub fn dump(&self, file: &str, annotate: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{file}:\tfile format elf64-bpf");
        let _ = writeln!(
            out,
            "license: {}",
            self.license
                .as_deref()
                .map_or("(none: GPL-only helpers will be refused)".to_string(), |l| format!("{l:?}"))
        );
        if self.maps.is_empty() {
            let _ = writeln!(out, "maps: none");
        } else {
            let _ = writeln!(out, "maps:");
            for m in &self.maps {
                let _ = writeln!(out, "  {}", describe_map(m));
            }
        }
        for s in &self.sections {
            let _ = writeln!(out, "\nDisassembly of section {}:", s.name);
            if s.is_text {
                let _ = writeln!(out, "; functions for BPF-to-BPF calls (not a program)");
            } else {
                match s.kind.prog_type {
                    Some(_) => {
                        let _ = write!(out, "; program type: {}", s.kind.describe());
                        if let Some(why) = s.kind.unloadable {
                            let _ = write!(out, "; sockasm cannot load it: {why}");
                        }
                        out.push('\n');
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "; program type: unknown (sockasm knows no program type named by `{}`)",
                            s.name
                        );
                    }
                }
            }
            out.push('\n');
            out.push_str(&self.section_listing(s, annotate));
        }
        out
    }

    /// `dump --json` for an object.
    pub fn to_json(&self, file: &str) -> Json {
        let maps = self
            .maps
            .iter()
            .map(|m| {
                Json::obj([
                    ("name", Json::str(&m.name)),
                    ("type", Json::str(m.map_type.to_string())),
                    ("key_size", m.key_size.into()),
                    ("value_size", m.value_size.into()),
                    ("max_entries", m.max_entries.into()),
                    ("map_flags", m.map_flags.into()),
                    ("origin", Json::str(if m.origin == MapOrigin::Legacy { "maps" } else { ".maps" })),
                ])
            })
            .collect();
        let sections = self
            .sections
            .iter()
            .map(|s| {
                let labels = self.labels(s);
                let opts = ListingOptions { annotate: true, labels: labels.clone(), comments: BTreeMap::new() };
                let insns = s
                    .insns
                    .iter()
                    .map(|(slot, insn)| {
                        let reloc = s.relocs.iter().find(|r| r.slot == *slot);
                        let note = match reloc {
                            Some(r) => Some(self.reloc_note(r, insn)),
                            None => listing::annotation(&s.insns, *slot, insn, &opts),
                        };
                        let mut o =
                            vec![("slot".to_string(), Json::from(*slot)), ("text".into(), Json::str(insn.to_string()))];
                        if let Some(l) = labels.get(slot) {
                            o.push(("label".into(), Json::str(l)));
                        }
                        if let Some(r) = reloc {
                            o.push((
                                "reloc".into(),
                                Json::obj([
                                    ("type", Json::str(reloc_type_name(r.rtype))),
                                    ("symbol", Json::str(&r.symbol)),
                                ]),
                            ));
                        }
                        o.push(("annotation".into(), note.map_or(Json::Null, Json::Str)));
                        Json::Obj(o)
                    })
                    .collect();
                Json::obj([
                    ("name", Json::str(&s.name)),
                    (
                        "program_type",
                        if s.is_text {
                            Json::Null
                        } else {
                            Json::str(s.kind.prog_type.map_or("unknown".to_string(), |t| t.to_string()))
                        },
                    ),
                    (
                        "expected_attach_type",
                        s.kind.expected_attach_type.map_or(Json::Null, |a| Json::str(a.to_string())),
                    ),
                    ("insns", Json::Arr(insns)),
                ])
            })
            .collect();
        Json::obj([
            ("file", Json::str(file)),
            ("license", self.license.as_deref().map_or(Json::Null, Json::str)),
            ("maps", Json::Arr(maps)),
            ("sections", Json::Arr(sections)),
        ])
    }

    /// Links program `p` into loadable instructions: called functions are
    /// appended after it (each once), calls and function addresses point at
    /// them, and map loads get the fd `map_fd(index)` returns.
    /// `prog_type` overrides what the section name says.
    pub fn link(
        &self,
        p: &ProgRef,
        map_fd: &dyn Fn(usize) -> Option<i32>,
        prog_type: Option<ProgType>,
    ) -> Result<Linked, ElfError> {
        let sec = self
            .sections
            .get(p.section)
            .ok_or_else(|| ElfError::Unsupported(format!("no section for `{}`", p.name)))?;
        let kind = sec.kind;
        let prog_type = prog_type.or(kind.prog_type).ok_or_else(|| {
            ElfError::Unsupported(format!(
                "section `{}` names no program type sockasm knows; cannot load `{}` (give its type with --type)",
                sec.name, p.name
            ))
        })?;
        if let Some(why) = kind.unloadable.filter(|_| Some(prog_type) == kind.prog_type) {
            return Err(ElfError::Unsupported(format!("cannot load `{}` (section `{}`): {why}", p.name, sec.name)));
        }
        if self.core_relo_len > 0 {
            return Err(ElfError::Unsupported(
                "the object has CO-RE relocations (`.BTF.ext`, e.g. from BPF_CORE_READ or vmlinux.h with preserve_access_index): sockasm does not apply them".into(),
            ));
        }
        // (section shndx, byte offset, byte size, first slot in the output)
        let mut parts: Vec<(usize, u64, u64, usize)> = Vec::new();
        let mut out: Vec<RawInsn> = Vec::new();
        let mut labels = BTreeMap::new();
        let mut comments = BTreeMap::new();
        let size_of = |shndx: usize, off: u64, size: u64| -> Result<u64, ElfError> {
            let len = self.section_by_shndx(shndx).map_or(0, |s| s.bytes.len() as u64);
            if off >= len || !off.is_multiple_of(8) {
                return Err(corrupt(format!(
                    "function at offset {off} is not an instruction of its section ({len} bytes)"
                )));
            }
            // `size` comes from the symbol table: compare without adding, it may be near u64::MAX.
            Ok(if size == 0 || size > len - off { len - off } else { size })
        };
        let mut add = |shndx: usize,
                       off: u64,
                       size: u64,
                       name: String,
                       parts: &mut Vec<(usize, u64, u64, usize)>,
                       out: &mut Vec<RawInsn>|
         -> Result<usize, ElfError> {
            if let Some(&(_, _, _, base)) = parts.iter().find(|(s, o, _, _)| *s == shndx && *o == off) {
                return Ok(base);
            }
            let size = size_of(shndx, off, size)?;
            let s = self.section_by_shndx(shndx).ok_or_else(|| corrupt("call into a section that is not code"))?;
            let base = out.len();
            for c in s.bytes[off as usize..(off + size) as usize].chunks(8) {
                let arr: [u8; 8] = c.try_into().map_err(|_| corrupt("function size is not a multiple of 8"))?;
                out.push(RawInsn::from_bytes(&arr));
            }
            labels.insert(base, name);
            parts.push((shndx, off, size, base));
            Ok(base)
        };
        add(sec.shndx, p.offset, p.size, p.name.clone(), &mut parts, &mut out)?;
        let mut done = 0;
        while done < parts.len() {
            let (shndx, off, size, base) = parts[done];
            done += 1;
            let s = self.section_by_shndx(shndx).ok_or_else(|| corrupt("missing code section"))?;
            let first = (off / 8) as usize;
            let n = (size / 8) as usize;
            for (slot, insn) in s.insns.iter().filter(|(sl, _)| *sl >= first && *sl < first + n) {
                let at = base + (slot - first);
                let here = || format!("`{}` slot {} (section `{}` slot {slot}: {insn})", p.name, at, s.name);
                match s.relocs.iter().find(|r| r.slot == *slot) {
                    Some(r) => {
                        comments.insert(at, self.reloc_note(r, insn));
                        match (&r.target, insn) {
                            (RelocTarget::Map(m), Insn::LdImm64 { .. }) if r.rtype == R_BPF_64_64 => {
                                let def = &self.maps[*m];
                                let fd = map_fd(*m).ok_or_else(|| {
                                    ElfError::Unsupported(format!("{}: map `{}` was not created", here(), def.name))
                                })?;
                                if at + 1 >= out.len() {
                                    return Err(corrupt(format!("{}: lddw cut by the end of its function", here())));
                                }
                                out[at].src = 1;
                                out[at].imm = fd;
                                out[at + 1].imm = 0;
                            }
                            (RelocTarget::Code { .. }, Insn::Call(_) | Insn::LdImm64 { .. }) => {
                                let (tsh, toff) = self.code_target(r, insn).ok_or_else(|| {
                                    corrupt(format!("{}: the relocation points before its section", here()))
                                })?;
                                let f = self.function_at(tsh, toff).ok_or_else(|| {
                                    ElfError::Unsupported(format!(
                                        "{}: the target (offset {toff}) is not the start of a function",
                                        here()
                                    ))
                                })?;
                                let tb = add(tsh, toff, f.size, f.name.clone(), &mut parts, &mut out)?;
                                let rel = tb as i64 - (at as i64 + 1);
                                out[at].imm = i32::try_from(rel).map_err(|_| corrupt("call offset overflows"))?;
                                out[at].src = if matches!(insn, Insn::Call(_)) { 1 } else { 4 };
                                if !matches!(insn, Insn::Call(_)) {
                                    let next = out
                                        .get_mut(at + 1)
                                        .ok_or_else(|| corrupt("lddw cut by the end of its function"))?;
                                    next.imm = 0;
                                }
                            }
                            (RelocTarget::Data { section, .. }, _) => {
                                return Err(ElfError::Unsupported(format!(
                                    "{}: refers to global data in `{section}` (global variables, strings, bpf_printk formats): sockasm does not create .data/.rodata/.bss maps",
                                    here()
                                )));
                            }
                            (RelocTarget::Extern, _) => {
                                return Err(ElfError::Unsupported(format!(
                                    "{}: `{}` is an extern (kfunc, kconfig or a function of another object): sockasm does not resolve externs",
                                    here(),
                                    r.symbol
                                )));
                            }
                            _ => {
                                return Err(ElfError::Unsupported(format!(
                                    "{}: cannot apply relocation {} against `{}`",
                                    here(),
                                    reloc_type_name(r.rtype),
                                    r.symbol
                                )));
                            }
                        }
                    }
                    None => {
                        // Calls resolved by the compiler: relative to this section.
                        if let Insn::Call(Call::Local(imm)) | Insn::LdImm64 { value: Imm64::Func(imm), .. } = insn {
                            let tslot = *slot as i64 + 1 + *imm as i64;
                            if tslot >= first as i64 && tslot < (first + n) as i64 {
                                continue; // within this function: offsets stay valid
                            }
                            let toff = u64::try_from(tslot * 8)
                                .map_err(|_| corrupt(format!("{}: call before its section", here())))?;
                            let f = self.function_at(shndx, toff).ok_or_else(|| {
                                ElfError::Unsupported(format!(
                                    "{}: the call target is not the start of a function",
                                    here()
                                ))
                            })?;
                            let tb = add(shndx, toff, f.size, f.name.clone(), &mut parts, &mut out)?;
                            out[at].imm = i32::try_from(tb as i64 - (at as i64 + 1))
                                .map_err(|_| corrupt("call offset overflows"))?;
                        } else if let Insn::Call(Call::Kfunc { .. }) = insn {
                            return Err(ElfError::Unsupported(format!("{}: kfunc calls are not supported", here())));
                        }
                    }
                }
            }
        }
        let bytes: Vec<u8> = out.iter().flat_map(|r| r.to_bytes()).collect();
        let insns = decode_all(&bytes).map_err(|e| ElfError::Decode { section: sec.name.clone(), source: e })?;
        Ok(Linked {
            name: p.name.clone(),
            section: sec.name.clone(),
            prog_type,
            kind,
            license: self.license.clone().unwrap_or_default(),
            bytes,
            insns,
            labels,
            comments,
        })
    }
}

/// A program ready for BPF_PROG_LOAD.
#[derive(Clone, Debug)]
pub struct Linked {
    pub name: String,
    pub section: String,
    pub prog_type: ProgType,
    pub kind: SectionKind,
    pub license: String,
    pub bytes: Vec<u8>,
    pub insns: Vec<(usize, Insn)>,
    /// Function names by slot (the program at 0, then the called functions).
    pub labels: BTreeMap<usize, String>,
    /// Relocation notes by slot.
    pub comments: BTreeMap<usize, String>,
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
