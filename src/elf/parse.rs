//! Bytes to [`Object`]: bounds-checked before goblin reads anything.

use super::{
    CodeSection, EM_BPF, ElfError, Function, MapDef, MapOrigin, Object, Reloc, RelocTarget, SectionKind, corrupt, infer,
};
use crate::asm::decode_all;
use crate::btf::object as btf;
use crate::uapi::MapType;
use goblin::elf::Elf;

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
            let insns = decode_all(data).map_err(|e| ElfError::Decode { section: name.clone(), error: e })?;
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
}
