//! An object as `sockasm dump --disasm FILE.o` shows it: text and JSON ([`JsonObject`]).

use super::{CodeSection, MapOrigin, Object, Reloc, RelocTarget, describe_map, reloc_type_name};
use crate::asm::Insn;
use crate::asm::listing::{self, ListingOptions};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

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
            RelocTarget::Extern if matches!(insn, Insn::Call(_)) => s.push_str(": kfunc, bound by name at load time"),
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
        let opts = ListingOptions { annotate, labels: labels.clone(), ..ListingOptions::default() };
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
    pub fn to_json(&self, file: &str) -> JsonObject {
        let maps = self
            .maps
            .iter()
            .map(|m| JsonMap {
                name: m.name.clone(),
                map_type: m.map_type.to_string(),
                key_size: m.key_size,
                value_size: m.value_size,
                max_entries: m.max_entries,
                map_flags: m.map_flags,
                origin: if m.origin == MapOrigin::Legacy { "maps" } else { ".maps" }.into(),
            })
            .collect();
        let sections = self
            .sections
            .iter()
            .map(|s| {
                let labels = self.labels(s);
                let opts = ListingOptions { annotate: true, labels: labels.clone(), ..ListingOptions::default() };
                let insns = s
                    .insns
                    .iter()
                    .map(|(slot, insn)| {
                        let reloc = s.relocs.iter().find(|r| r.slot == *slot);
                        JsonObjInsn {
                            slot: *slot,
                            text: insn.to_string(),
                            label: labels.get(slot).cloned(),
                            reloc: reloc.map(|r| JsonReloc {
                                reloc_type: reloc_type_name(r.rtype).to_string(),
                                symbol: r.symbol.clone(),
                            }),
                            annotation: match reloc {
                                Some(r) => Some(self.reloc_note(r, insn)),
                                None => listing::annotation(&s.insns, *slot, insn, &opts),
                            },
                        }
                    })
                    .collect();
                JsonSection {
                    name: s.name.clone(),
                    program_type: (!s.is_text)
                        .then(|| s.kind.prog_type.map_or("unknown".to_string(), |t| t.to_string())),
                    expected_attach_type: s.kind.expected_attach_type.map(|a| a.to_string()),
                    insns,
                }
            })
            .collect();
        JsonObject { file: file.to_string(), license: self.license.clone(), maps, sections }
    }
}

/// `sockasm dump --disasm --json FILE.o`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonObject {
    pub file: String,
    pub license: Option<String>,
    pub maps: Vec<JsonMap>,
    pub sections: Vec<JsonSection>,
}

/// A map the object defines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonMap {
    pub name: String,
    #[serde(rename = "type")]
    pub map_type: String,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    /// `maps` (legacy section) or `.maps` (BTF).
    pub origin: String,
}

/// A code section; `program_type` is null for `.text` (subprograms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonSection {
    pub name: String,
    pub program_type: Option<String>,
    pub expected_attach_type: Option<String>,
    pub insns: Vec<JsonObjInsn>,
}

/// One instruction of a section, with its relocation if it has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonObjInsn {
    pub slot: usize,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reloc: Option<JsonReloc>,
    pub annotation: Option<String>,
}

/// `{"type": "R_BPF_64_64", "symbol": "counts"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonReloc {
    #[serde(rename = "type")]
    pub reloc_type: String,
    pub symbol: String,
}
