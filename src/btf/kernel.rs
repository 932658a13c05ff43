//! Struct member offsets by name from a kernel's BTF (`/sys/kernel/btf/vmlinux`),
//! so the built-in programs read `struct sock` fields at the offsets of the
//! running kernel, not of the kernel sockasm was written on.
//!
//! vmlinux BTF holds well over 100,000 types; this reader only records where
//! each type record starts and decodes names and members on demand. Every
//! read is bounds-checked: corrupt BTF is an error, never a panic.

use super::{
    BTF_MAGIC, KIND_ARRAY, KIND_CONST, KIND_DATASEC, KIND_DECL_TAG, KIND_ENUM, KIND_ENUM64, KIND_FUNC, KIND_FUNC_PROTO,
    KIND_INT, KIND_MAX, KIND_RESTRICT, KIND_STRUCT, KIND_TYPE_TAG, KIND_TYPEDEF, KIND_UNION, KIND_VAR, KIND_VOLATILE,
};

/// How deep anonymous members and typedef chains are followed.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelBtfError {
    #[error("corrupt BTF: {0}")]
    Corrupt(String),
    #[error("the kernel's BTF has no struct {0}")]
    NoStruct(String),
    #[error("the kernel's BTF has no function {0} (a kernel without this BPF iterator?)")]
    NoFunc(String),
    #[error("struct {strukt} has no member {path} in the kernel's BTF")]
    NoMember { strukt: String, path: String },
    #[error("{strukt}.{path} is a bitfield; only whole members can be read")]
    Bitfield { strukt: String, path: String },
}

type Result<T> = std::result::Result<T, KernelBtfError>;

fn corrupt(s: impl Into<String>) -> KernelBtfError {
    KernelBtfError::Corrupt(s.into())
}

/// A member found by [`KernelBtf::member`]: byte offset from the start of the
/// outer struct and size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub offset: u32,
    pub size: u32,
}

/// An index over a raw BTF blob.
pub struct KernelBtf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// Byte offset in `types` of each type record; index 0 is `void`.
    starts: Vec<u32>,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32> {
    off.checked_add(4)
        .and_then(|end| b.get(off..end))
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| corrupt(format!("needs 4 bytes at offset {off} of {}", b.len())))
}

impl<'a> KernelBtf<'a> {
    /// Indexes a little-endian BTF blob.
    pub fn parse(b: &'a [u8]) -> Result<KernelBtf<'a>> {
        let magic = b.get(0..2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or_else(|| corrupt("no header"))?;
        if magic != BTF_MAGIC {
            return Err(corrupt(format!("bad magic {magic:#06x} (expected {BTF_MAGIC:#06x}, little-endian)")));
        }
        let hdr_len = u32_at(b, 4)? as usize;
        let section = |off: usize, len: usize, what: &str| -> Result<&'a [u8]> {
            let start = hdr_len.checked_add(off).ok_or_else(|| corrupt(format!("{what} offset overflows")))?;
            let end = start.checked_add(len).ok_or_else(|| corrupt(format!("{what} length overflows")))?;
            b.get(start..end).ok_or_else(|| corrupt(format!("{what} {start}..{end} lies outside {} bytes", b.len())))
        };
        let types = section(u32_at(b, 8)? as usize, u32_at(b, 12)? as usize, "type section")?;
        let strings = section(u32_at(b, 16)? as usize, u32_at(b, 20)? as usize, "string section")?;
        let mut starts = vec![0u32];
        let mut p = 0usize;
        while p < types.len() {
            starts.push(u32::try_from(p).map_err(|_| corrupt("type section over 4 GiB"))?);
            let info = u32_at(types, p + 4)?;
            let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
            if kind == 0 || kind > KIND_MAX {
                return Err(corrupt(format!("unknown kind {kind} (type {})", starts.len() - 1)));
            }
            p += 12
                + match kind {
                    KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                    KIND_ARRAY => 12,
                    KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                    KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
                    _ => 0,
                };
        }
        if p != types.len() {
            return Err(corrupt("the last type record is truncated"));
        }
        Ok(KernelBtf { types, strings, starts })
    }

    /// Number of types, `void` included.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.len() <= 1
    }

    fn record(&self, id: u32) -> Result<(u32, u32, u32, usize)> {
        let at =
            *self.starts.get(id as usize).filter(|_| id != 0).ok_or_else(|| corrupt(format!("no type {id}")))? as usize;
        Ok((u32_at(self.types, at)?, u32_at(self.types, at + 4)?, u32_at(self.types, at + 8)?, at + 12))
    }

    fn name(&self, off: u32) -> Result<&'a [u8]> {
        let rest = self.strings.get(off as usize..).ok_or_else(|| corrupt(format!("name offset {off}")))?;
        let end = rest.iter().position(|&c| c == 0).ok_or_else(|| corrupt("unterminated name"))?;
        Ok(&rest[..end])
    }

    /// The ids of the functions (`BTF_KIND_FUNC`) with these names, in one
    /// pass; `None` for a name the BTF has no function of. A kfunc call's
    /// `imm` is this id (kfuncs of vmlinux; a module's have their own BTF).
    pub fn find_funcs(&self, names: &[&str]) -> Result<Vec<Option<u32>>> {
        let mut ids = vec![None; names.len()];
        let mut left = names.len();
        for id in 1..self.starts.len() as u32 {
            if left == 0 {
                break;
            }
            let (name_off, info, _, _) = self.record(id)?;
            if (info >> 24) & 0x1f != KIND_FUNC {
                continue;
            }
            let n = self.name(name_off)?;
            for (slot, want) in ids.iter_mut().zip(names) {
                if slot.is_none() && n == want.as_bytes() {
                    *slot = Some(id);
                    left -= 1;
                }
            }
        }
        Ok(ids)
    }

    /// The id of the first struct named `name`.
    pub fn find_struct(&self, name: &str) -> Result<u32> {
        self.find_structs(&[name]).map(|ids| ids[0])
    }

    /// The ids of the first structs with these names, in one pass over the
    /// types (vmlinux has over 100,000).
    pub fn find_structs(&self, names: &[&str]) -> Result<Vec<u32>> {
        let mut ids = vec![0u32; names.len()];
        let mut left = names.len();
        for id in 1..self.starts.len() as u32 {
            if left == 0 {
                break;
            }
            let (name_off, info, _, _) = self.record(id)?;
            if (info >> 24) & 0x1f != KIND_STRUCT {
                continue;
            }
            let n = self.name(name_off)?;
            for (slot, want) in ids.iter_mut().zip(names) {
                if *slot == 0 && n == want.as_bytes() {
                    *slot = id;
                    left -= 1;
                }
            }
        }
        match names.iter().zip(&ids).find(|(_, id)| **id == 0) {
            Some((n, _)) => Err(KernelBtfError::NoStruct(n.to_string())),
            None => Ok(ids),
        }
    }

    /// The id of the function (`BTF_KIND_FUNC`) named `name`: what a
    /// tracing program's `attach_btf_id` names, e.g. `bpf_iter_tcp`.
    pub fn find_func(&self, name: &str) -> Result<u32> {
        for id in 1..self.starts.len() as u32 {
            let (name_off, info, _, _) = self.record(id)?;
            if (info >> 24) & 0x1f == KIND_FUNC && self.name(name_off)? == name.as_bytes() {
                return Ok(id);
            }
        }
        Err(KernelBtfError::NoFunc(name.to_string()))
    }

    fn skip_mods(&self, mut id: u32) -> Result<u32> {
        for _ in 0..MAX_DEPTH {
            let (_, info, next, _) = self.record(id)?;
            match (info >> 24) & 0x1f {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => id = next,
                _ => return Ok(id),
            }
        }
        Err(corrupt(format!("type chain from {id} is too deep")))
    }

    /// Size in bytes of a member's type (ints, pointers, structs, arrays, enums).
    fn size_of(&self, id: u32, depth: usize) -> Result<u32> {
        if depth > MAX_DEPTH {
            return Err(corrupt("type nesting is too deep"));
        }
        let id = self.skip_mods(id)?;
        let (_, info, size_or_type, data) = self.record(id)?;
        match (info >> 24) & 0x1f {
            2 => Ok(8),
            KIND_ARRAY => {
                let elem = u32_at(self.types, data)?;
                let n = u32_at(self.types, data + 8)?;
                self.size_of(elem, depth + 1)?.checked_mul(n).ok_or_else(|| corrupt("array too large"))
            }
            _ => Ok(size_or_type),
        }
    }

    /// Finds `path` (members separated by dots, e.g. `sk_backlog.rmem_alloc`)
    /// in struct `strukt`, looking through anonymous structs and unions.
    pub fn member(&self, strukt: &str, path: &str) -> Result<Member> {
        self.member_of(self.find_struct(strukt)?, strukt, path)
    }

    /// [`KernelBtf::member`] in the struct with id `id` (named `strukt`, for errors).
    pub fn member_of(&self, id: u32, strukt: &str, path: &str) -> Result<Member> {
        let not_found = || KernelBtfError::NoMember { strukt: strukt.to_string(), path: path.to_string() };
        let mut ty = id;
        let mut offset_bits = 0u64;
        for part in path.split('.') {
            let ((off, bitfield_size), member_ty) = self.find_member(ty, part, 0)?.ok_or_else(not_found)?;
            if bitfield_size != 0 {
                return Err(KernelBtfError::Bitfield { strukt: strukt.to_string(), path: path.to_string() });
            }
            offset_bits += off;
            ty = member_ty;
        }
        if !offset_bits.is_multiple_of(8) {
            return Err(KernelBtfError::Bitfield { strukt: strukt.to_string(), path: path.to_string() });
        }
        let offset = u32::try_from(offset_bits / 8).map_err(|_| corrupt("member offset too large"))?;
        Ok(Member { offset, size: self.size_of(ty, 0)? })
    }

    /// The bit offset, from the start of struct `id`, of `path`, which may be
    /// a one-bit bitfield (a flag such as `tcp_sock.repair`); a member of
    /// another size is refused.
    pub fn flag_bit_of(&self, id: u32, strukt: &str, path: &str) -> Result<u64> {
        let not_found = || KernelBtfError::NoMember { strukt: strukt.to_string(), path: path.to_string() };
        let mut ty = id;
        let mut offset_bits = 0u64;
        let parts: Vec<&str> = path.split('.').collect();
        let mut bits = 0;
        for (i, part) in parts.iter().enumerate() {
            let ((off, size), member_ty) = self.find_member(ty, part, 0)?.ok_or_else(not_found)?;
            if size != 0 && i + 1 != parts.len() {
                return Err(KernelBtfError::Bitfield { strukt: strukt.to_string(), path: path.to_string() });
            }
            offset_bits += off;
            bits = size;
            ty = member_ty;
        }
        if bits != 1 {
            return Err(KernelBtfError::Bitfield { strukt: strukt.to_string(), path: path.to_string() });
        }
        Ok(offset_bits)
    }

    /// `((bit offset, bitfield size or 0), type)` of member `name` of
    /// struct/union `id`, searching anonymous members too.
    fn find_member(&self, id: u32, name: &str, depth: usize) -> Result<Option<((u64, u32), u32)>> {
        if depth > MAX_DEPTH {
            return Err(corrupt("anonymous members nest too deep"));
        }
        let id = self.skip_mods(id)?;
        let (_, info, _, data) = self.record(id)?;
        let kind = (info >> 24) & 0x1f;
        if kind != KIND_STRUCT && kind != KIND_UNION {
            return Ok(None);
        }
        let kind_flag = info >> 31 == 1;
        for i in 0..(info & 0xffff) as usize {
            let at = data + 12 * i;
            let (m_name, m_type, m_off) =
                (u32_at(self.types, at)?, u32_at(self.types, at + 4)?, u32_at(self.types, at + 8)?);
            // With kind_flag, the top 8 bits hold a bitfield's size.
            let (bits, bitfield) = if kind_flag { (m_off & 0xff_ffff, m_off >> 24) } else { (m_off, 0) };
            let m = self.name(m_name)?;
            if m == name.as_bytes() {
                return Ok(Some(((bits as u64, bitfield), m_type)));
            }
            if m.is_empty()
                && let Some(((inner, bf), t)) = self.find_member(m_type, name, depth + 1)?
            {
                return Ok(Some(((bits as u64 + inner, bf), t)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob with `struct outer { int a; union { int b; struct inner c; }; }`
    /// and `struct inner { int pad; long x; }`.
    fn blob() -> Vec<u8> {
        let strs = b"\0int\0outer\0a\0b\0c\0inner\0pad\0x\0long\0".to_vec();
        let s = |n: &str| {
            let pos = strs
                .windows(n.len() + 2)
                .position(|w| w[0] == 0 && &w[1..=n.len()] == n.as_bytes() && w[n.len() + 1] == 0);
            pos.map(|p| p as u32 + 1).unwrap()
        };
        let mut t: Vec<u32> = Vec::new();
        // 1: int (4 bytes)
        t.extend([s("int"), KIND_INT << 24, 4, 32]);
        // 2: long (8 bytes)
        t.extend([s("long"), KIND_INT << 24, 8, 64]);
        // 3: struct inner { int pad; long x@64 }
        t.extend([s("inner"), (KIND_STRUCT << 24) | 2, 16, s("pad"), 1, 0, s("x"), 2, 64]);
        // 4: anonymous union { int b; struct inner c; }
        t.extend([0, (KIND_UNION << 24) | 2, 16, s("b"), 1, 0, s("c"), 3, 0]);
        // 5: struct outer { int a; <anon union> @64 }
        t.extend([s("outer"), (KIND_STRUCT << 24) | 2, 24, s("a"), 1, 0, 0, 4, 64]);
        // 6: a function named `inner` (its prototype is not needed here)
        t.extend([s("inner"), KIND_FUNC << 24, 0]);
        let types: Vec<u8> = t.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut b = Vec::new();
        b.extend(BTF_MAGIC.to_le_bytes());
        b.extend([1, 0]);
        for v in [24u32, 0, types.len() as u32, types.len() as u32, strs.len() as u32] {
            b.extend(v.to_le_bytes());
        }
        b.extend(types);
        b.extend(strs);
        b
    }

    #[test]
    fn members_through_anonymous_unions() {
        let b = blob();
        let btf = KernelBtf::parse(&b).unwrap();
        assert_eq!(btf.len(), 7);
        assert_eq!(btf.member("outer", "a").unwrap(), Member { offset: 0, size: 4 });
        assert_eq!(btf.member("outer", "b").unwrap(), Member { offset: 8, size: 4 });
        assert_eq!(btf.member("outer", "c.x").unwrap(), Member { offset: 16, size: 8 });
        assert_eq!(btf.member("outer", "c").unwrap(), Member { offset: 8, size: 16 });
        assert!(matches!(btf.member("outer", "zz"), Err(KernelBtfError::NoMember { .. })));
        assert!(matches!(btf.member("nosuch", "a"), Err(KernelBtfError::NoStruct(_))));
    }

    #[test]
    fn functions_by_name_not_structs() {
        let b = blob();
        let btf = KernelBtf::parse(&b).unwrap();
        assert_eq!(btf.find_funcs(&["inner", "outer", "nosuch"]).unwrap(), [Some(6), None, None]);
        assert_eq!(btf.find_struct("inner").unwrap(), 3);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let b = blob();
        for n in 0..b.len() {
            if let Ok(btf) = KernelBtf::parse(&b[..n]) {
                let _ = btf.member("outer", "c.x");
            }
        }
        let mut bad = b.clone();
        for i in 0..bad.len() {
            bad[i] ^= 0xff;
            if let Ok(btf) = KernelBtf::parse(&bad) {
                let _ = btf.member("outer", "c.x");
            }
            bad[i] ^= 0xff;
        }
    }
}
