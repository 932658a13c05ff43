//! The assembler DSL: instructions as values, labels, symbolic map references,
//! and `assemble()`, which resolves labels to slot offsets.
//!
//! ```
//! use sockasm::asm::*;
//! let mut p = Program::new();
//! p.push(Alu::Mov.imm(R0, 0));
//! p.push(Jmp::Jne.imm(R1, 7, "out"));
//! p.push(Alu::Mov.imm(R0, 1));
//! p.label("out");
//! p.push(exit());
//! let asm = p.assemble().unwrap();
//! assert_eq!(asm.insns.len(), 4);
//! ```

use super::insn::*;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Where a branch goes: a label, or a fixed offset in slots from the next slot.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Target {
    Label(String),
    Off(i64),
}

impl From<&str> for Target {
    fn from(s: &str) -> Target {
        Target::Label(s.to_string())
    }
}
impl From<String> for Target {
    fn from(s: String) -> Target {
        Target::Label(s)
    }
}
impl From<i16> for Target {
    fn from(v: i16) -> Target {
        Target::Off(v as i64)
    }
}
impl From<i32> for Target {
    fn from(v: i32) -> Target {
        Target::Off(v as i64)
    }
}

/// One element of a program before assembly.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Item {
    Insn(Insn),
    Label(String),
    /// A branch (jump, local call, `lddw` of a function) or a fixed-offset one.
    Branch {
        insn: Insn,
        target: Target,
    },
    /// `lddw dst, map` (or map value + off): the map fd is bound at load time.
    Map {
        dst: Reg,
        name: String,
        value_off: Option<i32>,
    },
    /// `call kfunc(name)`: a kernel function called by name; the loader
    /// binds its BTF id from the running kernel's BTF.
    Kfunc(String),
}

impl From<Insn> for Item {
    fn from(i: Insn) -> Item {
        Item::Insn(i)
    }
}

fn branch(insn: Insn, target: impl Into<Target>) -> Item {
    Item::Branch { insn, target: target.into() }
}

impl Jmp {
    /// `if dst op imm goto target` (64-bit compare).
    pub fn imm(self, dst: Reg, imm: i32, target: impl Into<Target>) -> Item {
        branch(Insn::JmpCond { width: Width::W64, op: self, dst, src: Src::Imm(imm), off: 0 }, target)
    }
    /// `if dst op src goto target` (64-bit compare).
    pub fn reg(self, dst: Reg, src: Reg, target: impl Into<Target>) -> Item {
        branch(Insn::JmpCond { width: Width::W64, op: self, dst, src: Src::Reg(src), off: 0 }, target)
    }
    /// `if wdst op imm goto target` (32-bit compare, JMP32).
    pub fn imm32(self, dst: Reg, imm: i32, target: impl Into<Target>) -> Item {
        branch(Insn::JmpCond { width: Width::W32, op: self, dst, src: Src::Imm(imm), off: 0 }, target)
    }
    /// `if wdst op wsrc goto target` (32-bit compare, JMP32).
    pub fn reg32(self, dst: Reg, src: Reg, target: impl Into<Target>) -> Item {
        branch(Insn::JmpCond { width: Width::W32, op: self, dst, src: Src::Reg(src), off: 0 }, target)
    }
}

/// `goto target`.
pub fn ja(target: impl Into<Target>) -> Item {
    branch(Insn::Ja { off: 0 }, target)
}
/// `gotol target`: an unconditional jump with a 32-bit offset.
pub fn gotol(target: impl Into<Target>) -> Item {
    branch(Insn::Gotol { imm: 0 }, target)
}
/// `may_goto target`.
pub fn may_goto(target: impl Into<Target>) -> Item {
    branch(Insn::MayGoto { off: 0 }, target)
}
/// Call a BPF function of this program (BPF-to-BPF call).
pub fn call_local(target: impl Into<Target>) -> Item {
    branch(Insn::Call(Call::Local(0)), target)
}
/// `dst = <address of function target> ll` (lddw, src 4).
pub fn ld_func(dst: Reg, target: impl Into<Target>) -> Item {
    branch(Insn::LdImm64 { dst, value: Imm64::Func(0) }, target)
}
/// `call helper_id`.
pub fn call(helper: i32) -> Insn {
    Insn::Call(Call::Helper(helper))
}
pub fn exit() -> Insn {
    Insn::Exit
}
/// `call kfunc(name)`: the BTF id is bound at load time
/// ([`Assembled::bind_kfuncs`]).
pub fn call_kfunc(name: &str) -> Item {
    Item::Kfunc(name.to_string())
}
/// `dst = value ll`.
pub fn lddw(dst: Reg, value: u64) -> Insn {
    Insn::LdImm64 { dst, value: Imm64::Const(value) }
}
/// `dst = <map name> ll`: the fd is bound by [`Assembled::bind_maps`].
pub fn ld_map(dst: Reg, name: &str) -> Item {
    Item::Map { dst, name: name.to_string(), value_off: None }
}
/// `dst = <address of byte off of map name's value> ll`.
pub fn ld_map_value(dst: Reg, name: &str, off: i32) -> Item {
    Item::Map { dst, name: name.to_string(), value_off: Some(off) }
}
/// `dst = *(size *)(src + off)`.
pub fn load(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load { size, signed: false, dst, src, off }
}
/// `dst = *(sN *)(src + off)`: sign-extending load (v4).
pub fn load_sx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load { size, signed: true, dst, src, off }
}
/// `*(size *)(dst + off) = src`.
pub fn store(size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
    Insn::Store { size, dst, src, off }
}
/// `*(size *)(dst + off) = imm`.
pub fn store_imm(size: Size, dst: Reg, off: i16, imm: i32) -> Insn {
    Insn::StoreImm { size, dst, off, imm }
}
/// Atomic `op` on `*(size *)(dst + off)` with `src`.
pub fn atomic(size: Size, op: AtomicOp, dst: Reg, off: i16, src: Reg) -> Insn {
    Insn::Atomic { size, op, dst, src, off }
}
/// `dst = load_acquire((size *)(src + off))` (kernel 6.15, any size).
pub fn load_acquire(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::LoadAcquire { size, dst, src, off }
}
/// `store_release((size *)(dst + off), src)` (kernel 6.15, any size).
pub fn store_release(size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
    Insn::StoreRelease { size, dst, src, off }
}
/// `dst = addr_space_cast(src, dst_as, src_as)` (kernel 6.9; the kernel
/// accepts 1 -> 0 and 0 -> 1, in programs that use an arena map).
pub fn addr_space_cast(dst: Reg, src: Reg, dst_as: u16, src_as: u16) -> Insn {
    Insn::AddrSpaceCast { dst, src, dst_as, src_as }
}

/// A program under construction.
#[derive(Clone, Default, Debug)]
pub struct Program {
    pub items: Vec<Item>,
}

/// A map reference left for load time.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MapRef {
    /// Index into [`Assembled::insns`].
    pub index: usize,
    pub name: String,
}

/// A kfunc call by name, left for load time.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KfuncRef {
    /// Index into [`Assembled::insns`].
    pub index: usize,
    pub name: String,
}

/// The result of assembly: resolved instructions plus what a listing and a
/// loader need to know about them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Assembled {
    pub insns: Vec<Insn>,
    /// Label names by slot.
    pub labels: BTreeMap<usize, String>,
    pub map_refs: Vec<MapRef>,
    /// Kfunc calls by name (`call kfunc(bpf_iter_num_new)`), bound by the loader.
    pub kfunc_refs: Vec<KfuncRef>,
}

#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AsmErrorKind {
    #[error("undefined label `{0}`")]
    UndefinedLabel(String),
    #[error("duplicate label `{0}` (first defined at item {1})")]
    DuplicateLabel(String, usize),
    #[error("jump offset {off} to `{target}` does not fit in 16 bits (-32768..=32767); use gotol for long jumps")]
    OffsetTooFar { target: String, off: i64 },
    #[error("offset {off} to `{target}` does not fit in 32 bits")]
    OffsetTooFar32 { target: String, off: i64 },
    #[error("{0} has no branch target")]
    NotABranch(String),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("map `{0}` has no fd bound")]
    UnboundMap(String),
    #[error(
        "kfunc `{0}` is not a function of the running kernel's BTF (/sys/kernel/btf/vmlinux); is the name right, and does this kernel have it?"
    )]
    UnboundKfunc(String),
}

/// An assembly error, naming the item (instruction or label) it is about.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AsmError {
    /// Index into [`Program::items`].
    pub item: usize,
    /// The instruction as text, when the item is one.
    pub insn: Option<String>,
    pub kind: AsmErrorKind,
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.insn {
            Some(text) => write!(f, "item {} `{}`: {}", self.item, text, self.kind),
            None => write!(f, "item {}: {}", self.item, self.kind),
        }
    }
}
impl std::error::Error for AsmError {}

impl Item {
    fn insn(&self) -> Insn {
        match self {
            Item::Insn(i) | Item::Branch { insn: i, .. } => *i,
            Item::Map { dst, value_off: None, .. } => Insn::LdImm64 { dst: *dst, value: Imm64::MapFd(0) },
            Item::Map { dst, value_off: Some(off), .. } => {
                Insn::LdImm64 { dst: *dst, value: Imm64::MapValue { fd: 0, off: *off } }
            }
            Item::Kfunc(_) => Insn::Call(Call::Kfunc { btf_id: 0, module: 0 }),
            Item::Label(_) => Insn::Exit,
        }
    }
    fn describe(&self) -> Option<String> {
        match self {
            Item::Label(_) => None,
            Item::Map { name, .. } => Some(format!("{} ; map {name}", self.insn())),
            Item::Kfunc(name) => Some(format!("call kfunc({name})")),
            _ => Some(self.insn().to_string()),
        }
    }
}

impl Program {
    pub fn new() -> Program {
        Program::default()
    }
    pub fn push(&mut self, item: impl Into<Item>) -> &mut Program {
        self.items.push(item.into());
        self
    }
    pub fn extend<I: Into<Item>>(&mut self, items: impl IntoIterator<Item = I>) -> &mut Program {
        self.items.extend(items.into_iter().map(Into::into));
        self
    }
    pub fn label(&mut self, name: &str) -> &mut Program {
        self.items.push(Item::Label(name.to_string()));
        self
    }

    /// Resolves labels and checks every instruction. Offsets count slots from
    /// the slot after the branch; `lddw` counts as 2.
    pub fn assemble(&self) -> Result<Assembled, AsmError> {
        let err = |item: usize, kind| AsmError { item, insn: self.items[item].describe(), kind };
        // Pass 1: the slot of every label.
        let mut by_name: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut out = Assembled::default();
        let mut slot = 0usize;
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Label(name) => {
                    if let Some(&(_, first)) = by_name.get(name.as_str()) {
                        return Err(err(i, AsmErrorKind::DuplicateLabel(name.clone(), first)));
                    }
                    by_name.insert(name, (slot, i));
                    // Several labels on one slot: the first in program order
                    // names it (deterministically, unlike HashMap order).
                    out.labels.entry(slot).or_insert_with(|| name.clone());
                }
                other => slot += other.insn().slots(),
            }
        }
        // Pass 2: patch offsets and validate.
        let mut slot = 0usize;
        for (i, item) in self.items.iter().enumerate() {
            let mut insn = item.insn();
            match item {
                Item::Label(_) => continue,
                Item::Branch { target, .. } => {
                    let (rel, name) = match target {
                        Target::Off(o) => (*o, o.to_string()),
                        Target::Label(l) => {
                            let &(to, _) = by_name
                                .get(l.as_str())
                                .ok_or_else(|| err(i, AsmErrorKind::UndefinedLabel(l.clone())))?;
                            (to as i64 - (slot as i64 + 1), l.clone())
                        }
                    };
                    if insn.branch_offset().is_none() {
                        return Err(err(i, AsmErrorKind::NotABranch(insn.to_string())));
                    }
                    if !insn.set_branch_offset(rel) {
                        let kind = if matches!(insn, Insn::Ja { .. } | Insn::JmpCond { .. } | Insn::MayGoto { .. }) {
                            AsmErrorKind::OffsetTooFar { target: name, off: rel }
                        } else {
                            AsmErrorKind::OffsetTooFar32 { target: name, off: rel }
                        };
                        return Err(err(i, kind));
                    }
                }
                Item::Map { name, .. } => out.map_refs.push(MapRef { index: out.insns.len(), name: name.clone() }),
                Item::Kfunc(name) => out.kfunc_refs.push(KfuncRef { index: out.insns.len(), name: name.clone() }),
                Item::Insn(_) => {}
            }
            insn.validate().map_err(|e| err(i, e.into()))?;
            slot += insn.slots();
            out.insns.push(insn);
        }
        Ok(out)
    }
}

impl Assembled {
    /// Total width in slots.
    pub fn slots(&self) -> usize {
        self.insns.iter().map(Insn::slots).sum()
    }

    /// Slot index of each instruction.
    pub fn slot_of(&self) -> Vec<usize> {
        let mut s = 0;
        self.insns
            .iter()
            .map(|i| {
                let at = s;
                s += i.slots();
                at
            })
            .collect()
    }

    /// Binds every map reference to an fd given by `fd_of(name)`.
    pub fn bind_maps(&mut self, mut fd_of: impl FnMut(&str) -> Option<i32>) -> Result<(), AsmError> {
        for r in &self.map_refs {
            let fd = fd_of(&r.name).ok_or_else(|| AsmError {
                item: r.index,
                insn: Some(self.insns[r.index].to_string()),
                kind: AsmErrorKind::UnboundMap(r.name.clone()),
            })?;
            if let Insn::LdImm64 { value, .. } = &mut self.insns[r.index] {
                *value = match *value {
                    Imm64::MapValue { off, .. } => Imm64::MapValue { fd, off },
                    _ => Imm64::MapFd(fd),
                };
            }
        }
        Ok(())
    }

    /// Binds every kfunc call by name to the BTF id `id_of(name)` gives
    /// (the loader looks it up in the running kernel's BTF).
    pub fn bind_kfuncs(&mut self, mut id_of: impl FnMut(&str) -> Option<i32>) -> Result<(), AsmError> {
        for r in &self.kfunc_refs {
            let id = id_of(&r.name).ok_or_else(|| AsmError {
                item: r.index,
                insn: Some(format!("call kfunc({})", r.name)),
                kind: AsmErrorKind::UnboundKfunc(r.name.clone()),
            })?;
            if let Insn::Call(Call::Kfunc { btf_id, .. }) = &mut self.insns[r.index] {
                *btf_id = id;
            }
        }
        Ok(())
    }

    /// The kfunc names by slot, for a listing ([`super::listing::ListingOptions::kfuncs`]).
    pub fn kfunc_names(&self) -> BTreeMap<usize, String> {
        let slots = self.slot_of();
        self.kfunc_refs.iter().filter_map(|r| Some((*slots.get(r.index)?, r.name.clone()))).collect()
    }

    /// Little-endian bytes, 8 per slot. The instructions were validated by
    /// `assemble`, so this cannot fail for an `Assembled` built there.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        encode_all(&self.insns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builders of the 6.9/6.15 additions, down to the kernel's bytes
    /// (the first program is the issue's example, returning 0x12).
    #[test]
    fn ordered_access_and_cast_builders() {
        let mut p = Program::new();
        p.push(Alu::Mov.imm32(R1, 0x12));
        p.push(store(Size::B, R10, -1, R1));
        p.push(load_acquire(Size::B, R0, R10, -1));
        p.push(store_release(Size::DW, R10, -16, R0));
        p.push(addr_space_cast(R2, R1, 0, 1));
        p.push(exit());
        let b = p.assemble().unwrap().to_bytes().unwrap();
        assert_eq!(&b[16..24], &[0xd3, 0xa0, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(&b[24..32], &[0xdb, 0x0a, 0xf0, 0xff, 0x10, 0x01, 0x00, 0x00]);
        assert_eq!(&b[32..40], &[0xbf, 0x12, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00]);
        let mut bad = Program::new();
        bad.push(load_acquire(Size::W, R10, R1, 0));
        assert!(matches!(bad.assemble().unwrap_err().kind, AsmErrorKind::Encode(EncodeError::WriteToR10)));
    }

    #[test]
    fn forward_and_backward_labels_count_lddw_as_two() {
        let mut p = Program::new();
        p.label("top");
        p.push(Jmp::Jeq.imm(R1, 0, "out")); // slot 0
        p.push(lddw(R2, 1)); // slots 1-2
        p.push(ja("top")); // slot 3 -> 0: -4
        p.label("out");
        p.push(exit()); // slot 4
        let a = p.assemble().unwrap();
        assert_eq!(a.insns[0], Insn::JmpCond { width: Width::W64, op: Jmp::Jeq, dst: R1, src: Src::Imm(0), off: 3 });
        assert_eq!(a.insns[2], Insn::Ja { off: -4 });
        assert_eq!(a.labels.get(&4).map(String::as_str), Some("out"));

        // Two labels on one slot: the first one names it, every time.
        let mut p = Program::new();
        p.label("a").label("b").label("c").push(exit());
        assert_eq!(p.assemble().unwrap().labels.get(&0).map(String::as_str), Some("a"));
        assert_eq!(a.slots(), 5);
    }

    #[test]
    fn errors_name_the_instruction() {
        let mut p = Program::new();
        p.push(ja("nowhere"));
        let e = p.assemble().unwrap_err();
        assert_eq!(e.kind, AsmErrorKind::UndefinedLabel("nowhere".into()));
        assert_eq!(e.item, 0);

        let mut p = Program::new();
        p.label("a").push(exit()).label("a");
        assert_eq!(p.assemble().unwrap_err().kind, AsmErrorKind::DuplicateLabel("a".into(), 0));

        let mut p = Program::new();
        p.push(Alu::Add.imm(R10, 8));
        let e = p.assemble().unwrap_err();
        assert_eq!(e.kind, AsmErrorKind::Encode(EncodeError::WriteToR10));
        assert!(e.to_string().contains("r10"), "{e}");

        let mut p = Program::new();
        p.push(ja("far"));
        for _ in 0..40000 {
            p.push(exit());
        }
        p.label("far").push(exit());
        let e = p.assemble().unwrap_err();
        assert!(matches!(e.kind, AsmErrorKind::OffsetTooFar { off: 40000, .. }));
        assert!(e.to_string().contains("gotol"), "{e}");

        let mut p = Program::new();
        p.push(gotol("far"));
        for _ in 0..40000 {
            p.push(exit());
        }
        p.label("far").push(exit());
        assert_eq!(p.assemble().unwrap().insns[0], Insn::Gotol { imm: 40000 });

        let mut p = Program::new();
        p.push(atomic(Size::B, AtomicOp::Add, R1, 0, R2));
        let e = p.assemble().unwrap_err();
        assert!(e.to_string().contains("atomic operation has no 1-byte form"), "{e}");
    }

    #[test]
    fn maps_bind_at_load_time() {
        let mut p = Program::new();
        p.push(ld_map(R1, "sock_map")).push(ld_map_value(R2, "cfg", 4)).push(exit());
        let mut a = p.assemble().unwrap();
        assert!(a.clone().bind_maps(|_| None).is_err());
        a.bind_maps(|n| Some(if n == "sock_map" { 7 } else { 9 })).unwrap();
        assert_eq!(a.insns[0], Insn::LdImm64 { dst: R1, value: Imm64::MapFd(7) });
        assert_eq!(a.insns[1], Insn::LdImm64 { dst: R2, value: Imm64::MapValue { fd: 9, off: 4 } });
    }

    #[test]
    fn kfuncs_bind_at_load_time() {
        let mut p = Program::new();
        p.push(lddw(R1, 5)).push(call_kfunc("bpf_iter_num_new")).push(exit());
        let mut a = p.assemble().unwrap();
        assert_eq!(a.kfunc_names().into_iter().collect::<Vec<_>>(), [(2, "bpf_iter_num_new".to_string())]);
        let e = a.clone().bind_kfuncs(|_| None).unwrap_err();
        assert_eq!(e.kind, AsmErrorKind::UnboundKfunc("bpf_iter_num_new".into()));
        a.bind_kfuncs(|n| (n == "bpf_iter_num_new").then_some(4242)).unwrap();
        assert_eq!(a.insns[1], Insn::Call(Call::Kfunc { btf_id: 4242, module: 0 }));
    }
}
