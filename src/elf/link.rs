//! One program of an object to a [`ProgramSpec`], and the object's maps to
//! map specs: what [`crate::loader`] loads.

use super::{ElfError, Object, ProgRef, R_BPF_64_32, R_BPF_64_64, RelocTarget, corrupt, reloc_type_name};
use crate::asm::{Assembled, KfuncRef, MapRef, RawInsn, decode_all};
use crate::asm::{Call, Imm64, Insn};
use crate::spec::MapSpec;
use crate::spec::{ProgramSpec, Source, SourceLine, kernel_name};
use crate::uapi::MapType;
use crate::uapi::{AttachType, ProgType};
use std::collections::BTreeMap;

impl Object {
    /// The maps the object defines, as the loader creates them, by name.
    /// Kinds sockasm cannot create are an error naming the map.
    pub fn map_specs(&self) -> Result<Vec<(String, MapSpec)>, ElfError> {
        let mut out = Vec::new();
        for m in &self.maps {
            let no = |why: String| Err(ElfError::Unsupported(format!("map `{}`: {why}", m.name)));
            if matches!(m.map_type, MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS) {
                return no(format!("map-in-map ({}) is not supported", m.map_type));
            }
            if m.map_type == MapType::STRUCT_OPS {
                return no("struct_ops maps are not supported".into());
            }
            if m.map_type.needs_btf() && m.key_size != 4 {
                return no(format!("{} needs an `int` key (key_size 4), has {}", m.map_type, m.key_size));
            }
            let spec = MapSpec::new(m.map_type, m.key_size, m.value_size, m.max_entries)
                .with_flags(m.map_flags)
                .with_name(kernel_name(&m.name));
            out.push((m.name.clone(), spec));
        }
        Ok(out)
    }

    /// Links program `p` into a program spec: called functions are
    /// appended after it (each once), calls and function addresses point at
    /// them, and map loads name their map (see [`Object::map_specs`]).
    /// `prog_type` overrides what the section name says, and then
    /// `attach` is the expected attach type (otherwise the section's).
    pub fn link(
        &self,
        p: &ProgRef,
        prog_type: Option<ProgType>,
        attach: Option<AttachType>,
    ) -> Result<ProgramSpec, ElfError> {
        let sec = self
            .sections
            .get(p.section)
            .ok_or_else(|| ElfError::Unsupported(format!("no section for `{}`", p.name)))?;
        let kind = sec.kind;
        let explicit_type = prog_type.is_some();
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
        // (slot, map name) of every map load.
        let mut map_slots: Vec<(usize, String)> = Vec::new();
        // (slot, kfunc name) of every call of an extern function.
        let mut kfunc_slots: Vec<(usize, String)> = Vec::new();
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
                                let def = self.maps.get(*m).ok_or_else(|| {
                                    corrupt(format!("{}: the relocation names no map of the object", here()))
                                })?;
                                if at + 1 >= out.len() {
                                    return Err(corrupt(format!("{}: lddw cut by the end of its function", here())));
                                }
                                // map_fd(0) until the loader binds the name.
                                out[at].src = 1;
                                out[at].imm = 0;
                                out[at + 1].imm = 0;
                                map_slots.push((at, def.name.clone()));
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
                            // LLVM writes a call of an `extern ... __ksym` function as
                            // `call -1` (src 1) with R_BPF_64_32 against the undefined
                            // symbol; like libbpf, make it a kfunc call (src 2) that
                            // the loader binds by name.
                            (RelocTarget::Extern, Insn::Call(_)) if r.rtype == R_BPF_64_32 => {
                                out[at].src = 2;
                                out[at].imm = 0;
                                out[at].off = 0;
                                kfunc_slots.push((at, r.symbol.clone()));
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
        let decoded = decode_all(&bytes).map_err(|e| ElfError::Decode { section: sec.name.clone(), error: e })?;
        let map_refs = map_slots
            .into_iter()
            .map(|(slot, name)| match decoded.iter().position(|(s, _)| *s == slot) {
                Some(index) => Ok(MapRef { index, name }),
                None => {
                    Err(corrupt(format!("`{}`: the load of map `{name}` at slot {slot} is not an instruction", p.name)))
                }
            })
            .collect::<Result<_, _>>()?;
        let kfunc_refs = kfunc_slots
            .into_iter()
            .map(|(slot, name)| match decoded.iter().position(|(s, _)| *s == slot) {
                Some(index) => Ok(KfuncRef { index, name }),
                None => Err(corrupt(format!(
                    "`{}`: the call of kfunc `{name}` at slot {slot} is not an instruction",
                    p.name
                ))),
            })
            .collect::<Result<_, _>>()?;
        let code = Assembled { insns: decoded.into_iter().map(|(_, i)| i).collect(), labels, map_refs, kfunc_refs };
        // The source lines of every part, at the slots it was linked to.
        let mut lines = BTreeMap::new();
        for &(shndx, off, size, base) in &parts {
            let Some(s) = self.section_by_shndx(shndx) else { continue };
            for l in self.line_info.iter().filter(|l| l.section == s.name) {
                let o = u64::from(l.insn_off);
                if o >= off && o < off + size && o % 8 == 0 {
                    let line = SourceLine { file: l.file.clone(), line: l.line, col: l.col, text: l.text.clone() };
                    lines.insert(base + ((o - off) / 8) as usize, line);
                }
            }
        }
        let source = (!lines.is_empty()).then_some(Source { lines, synthetic: false });
        Ok(ProgramSpec {
            name: kernel_name(&p.name),
            prog_type,
            expected_attach_type: if explicit_type { attach } else { kind.expected_attach_type },
            attach_btf_id: None,
            license: self.license.clone().unwrap_or_default(),
            code,
            comments,
            source,
            pinning: crate::spec::Pinning::None,
        })
    }
}
