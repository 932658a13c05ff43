//! An object as `sockasm dump --disasm FILE.o` shows it: text and JSON.

use super::{CodeSection, MapOrigin, Object, Reloc, RelocTarget, describe_map, reloc_type_name};
use crate::asm::Insn;
use crate::asm::listing::{self, ListingOptions};
use crate::json::Json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

impl Object {
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
}
