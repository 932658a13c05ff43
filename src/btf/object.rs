//! Just enough of BTF (the `.BTF` section clang writes with `-g`) to read the
//! map definitions of a `.maps` section:
//!
//! ```c
//! struct {
//!     __uint(type, BPF_MAP_TYPE_SOCKHASH);   // int (*type)[18]
//!     __uint(max_entries, 1024);             // int (*max_entries)[1024]
//!     __type(key, struct sock_key);          // struct sock_key *key
//!     __type(value, __u64);                  // __u64 *value
//! } sock_map SEC(".maps");
//! ```
//!
//! `__uint(name, N)` is a pointer to an array of N elements, `__type(name, T)`
//! a pointer to T. Every read is bounds-checked: a corrupt section is an
//! error, never a panic.

use super::{
    BTF_MAGIC, KIND_ARRAY, KIND_CONST, KIND_DATASEC, KIND_DECL_TAG, KIND_ENUM, KIND_ENUM64, KIND_FLOAT, KIND_FUNC,
    KIND_FUNC_PROTO, KIND_FWD, KIND_INT, KIND_PTR, KIND_RESTRICT, KIND_STRUCT, KIND_TYPE_TAG, KIND_TYPEDEF, KIND_UNION,
    KIND_VAR, KIND_VOLATILE,
};

use std::collections::HashMap;

/// How deep type chains (typedef → const → struct ...) are followed.
const MAX_DEPTH: usize = 32;

/// One BTF type: its kind, name, `size_or_type`, and what follows it.
#[derive(Clone, Debug)]
struct Type {
    kind: u32,
    name: String,
    /// `size` for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, `type` for PTR/TYPEDEF/VAR/....
    size_or_type: u32,
    /// ARRAY: (elem type, nelems).
    array: Option<(u32, u32)>,
    /// STRUCT/UNION members: (name, type, bit offset); DATASEC: (name "", var type, offset) with `sizes`.
    members: Vec<(String, u32, u32)>,
    /// DATASEC: var sizes, parallel to `members`.
    sizes: Vec<u32>,
}

/// A parsed `.BTF` section.
pub struct Btf {
    /// Index 0 is `void`.
    types: Vec<Type>,
}

/// A map defined in `.maps`, as BTF describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfMapDef {
    pub name: String,
    /// Byte offset of the variable in `.maps`.
    pub offset: u32,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, String> {
    b.get(off..off.checked_add(4).ok_or("BTF offset overflows")?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("BTF is truncated (needs 4 bytes at offset {off}, has {})", b.len()))
}

impl Btf {
    /// Parses a little-endian `.BTF` section.
    pub fn parse(b: &[u8]) -> Result<Btf, String> {
        let magic = b.get(0..2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or("BTF header is truncated")?;
        if magic != BTF_MAGIC {
            return Err(format!("bad BTF magic {magic:#06x} (expected {BTF_MAGIC:#06x}, little-endian)"));
        }
        let hdr_len = u32_at(b, 4)? as usize;
        let (type_off, type_len) = (u32_at(b, 8)? as usize, u32_at(b, 12)? as usize);
        let (str_off, str_len) = (u32_at(b, 16)? as usize, u32_at(b, 20)? as usize);
        let range = |off: usize, len: usize, what: &str| -> Result<&[u8], String> {
            let start = hdr_len.checked_add(off).ok_or_else(|| format!("BTF {what} offset overflows"))?;
            let end = start.checked_add(len).ok_or_else(|| format!("BTF {what} length overflows"))?;
            b.get(start..end)
                .ok_or_else(|| format!("BTF {what} ({start}..{end}) lies outside the section ({} bytes)", b.len()))
        };
        let types_b = range(type_off, type_len, "type section")?;
        let strs = range(str_off, str_len, "string section")?;
        let name_at = |off: u32| -> Result<String, String> {
            let rest =
                strs.get(off as usize..).ok_or_else(|| format!("BTF name offset {off} is outside the strings"))?;
            let end = rest.iter().position(|&c| c == 0).ok_or("BTF string is not NUL-terminated")?;
            Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        let mut types = vec![Type {
            kind: 0,
            name: String::new(),
            size_or_type: 0,
            array: None,
            members: Vec::new(),
            sizes: Vec::new(),
        }];
        let mut p = 0usize;
        while p < types_b.len() {
            let name_off = u32_at(types_b, p)?;
            let info = u32_at(types_b, p + 4)?;
            let size_or_type = u32_at(types_b, p + 8)?;
            p += 12;
            let kind = (info >> 24) & 0x1f;
            let vlen = info & 0xffff;
            let mut t = Type {
                kind,
                name: name_at(name_off)?,
                size_or_type,
                array: None,
                members: Vec::new(),
                sizes: Vec::new(),
            };
            match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => p += 4,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_FUNC
                | KIND_FLOAT | KIND_TYPE_TAG => {}
                KIND_ARRAY => {
                    t.array = Some((u32_at(types_b, p)?, u32_at(types_b, p + 8)?));
                    p += 12;
                }
                KIND_STRUCT | KIND_UNION => {
                    for _ in 0..vlen {
                        let n = name_at(u32_at(types_b, p)?)?;
                        t.members.push((n, u32_at(types_b, p + 4)?, u32_at(types_b, p + 8)?));
                        p += 12;
                    }
                }
                KIND_ENUM | KIND_FUNC_PROTO => p += 8 * vlen as usize,
                KIND_ENUM64 => p += 12 * vlen as usize,
                KIND_DATASEC => {
                    for _ in 0..vlen {
                        t.members.push((String::new(), u32_at(types_b, p)?, u32_at(types_b, p + 4)?));
                        t.sizes.push(u32_at(types_b, p + 8)?);
                        p += 12;
                    }
                }
                k => return Err(format!("unknown BTF kind {k} (type {})", types.len())),
            }
            if p > types_b.len() {
                return Err("BTF type section is truncated".into());
            }
            types.push(t);
        }
        Ok(Btf { types })
    }

    fn get(&self, id: u32) -> Result<&Type, String> {
        self.types.get(id as usize).ok_or_else(|| format!("BTF type id {id} does not exist"))
    }

    /// Follows typedefs and qualifiers.
    fn skip_mods(&self, mut id: u32) -> Result<u32, String> {
        for _ in 0..MAX_DEPTH {
            let t = self.get(id)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => id = t.size_or_type,
                _ => return Ok(id),
            }
        }
        Err(format!("BTF type chain from {id} is too deep (a loop?)"))
    }

    /// The size in bytes of type `id`.
    pub fn size_of(&self, id: u32) -> Result<u32, String> {
        self.size_depth(id, 0)
    }

    fn size_depth(&self, id: u32, depth: usize) -> Result<u32, String> {
        if depth > MAX_DEPTH {
            return Err("BTF type nesting is too deep".into());
        }
        let id = self.skip_mods(id)?;
        let t = self.get(id)?;
        match t.kind {
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT | KIND_DATASEC => {
                Ok(t.size_or_type)
            }
            KIND_PTR => Ok(8),
            KIND_ARRAY => {
                let (elem, n) = t.array.unwrap_or((0, 0));
                self.size_depth(elem, depth + 1)?
                    .checked_mul(n)
                    .ok_or_else(|| format!("BTF array type {id} is too large"))
            }
            KIND_VAR => self.size_depth(t.size_or_type, depth + 1),
            0 => Err("BTF type is void (no size)".into()),
            k => Err(format!("BTF type {id} (kind {k}) has no size")),
        }
    }

    /// The maps of the `.maps` DATASEC. `Ok(vec![])` when there is none.
    pub fn maps(&self) -> Result<Vec<BtfMapDef>, String> {
        let Some(sec) = self.types.iter().find(|t| t.kind == KIND_DATASEC && t.name == ".maps") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (_, var_id, offset) in &sec.members {
            let var = self.get(*var_id)?;
            if var.kind != KIND_VAR {
                return Err(format!("`.maps` entry {var_id} is not a variable"));
            }
            let name = var.name.clone();
            let st_id = self.skip_mods(var.size_or_type)?;
            let st = self.get(st_id)?;
            if st.kind != KIND_STRUCT {
                return Err(format!("map `{name}`: its BTF type is not a struct"));
            }
            let mut fields: HashMap<&str, u32> = HashMap::new();
            let mut key_size = None;
            let mut value_size = None;
            for (m, ty, _) in &st.members {
                let ptr_id = self.skip_mods(*ty)?;
                let ptr = self.get(ptr_id)?;
                let err = |what: &str| format!("map `{name}`: member `{m}` {what}");
                match m.as_str() {
                    "type" | "key_size" | "value_size" | "max_entries" | "map_flags" | "numa_node" | "pinning"
                    | "map_extra" => {
                        if ptr.kind != KIND_PTR {
                            return Err(err("is not __uint(..) (a pointer to an array)"));
                        }
                        let arr_id = self.skip_mods(ptr.size_or_type)?;
                        let arr = self.get(arr_id)?;
                        let (_, n) = arr.array.ok_or_else(|| err("is not __uint(..) (a pointer to an array)"))?;
                        fields.insert(m.as_str(), n);
                    }
                    "key" | "value" => {
                        if ptr.kind != KIND_PTR {
                            return Err(err("is not __type(..) (a pointer)"));
                        }
                        let size = self.size_of(ptr.size_or_type).map_err(|e| err(&e))?;
                        if m == "key" { key_size = Some(size) } else { value_size = Some(size) }
                    }
                    "values" => {
                        return Err(format!(
                            "map `{name}`: `values` (map-in-map or prog-array initial values) is not supported"
                        ));
                    }
                    other => return Err(format!("map `{name}`: unknown map attribute `{other}`")),
                }
            }
            if fields.get("pinning").copied().unwrap_or(0) != 0 {
                return Err(format!("map `{name}`: pinning is not supported"));
            }
            let map_type = *fields.get("type").ok_or_else(|| format!("map `{name}` has no __uint(type, ..)"))?;
            let pick = |explicit: Option<&u32>, typed: Option<u32>, what: &str| -> Result<u32, String> {
                match (explicit, typed) {
                    (Some(a), Some(b)) if *a != b => {
                        Err(format!("map `{name}`: {what}_size {a} disagrees with the size of its {what} type ({b})"))
                    }
                    (Some(a), _) => Ok(*a),
                    (None, Some(b)) => Ok(b),
                    (None, None) => Ok(0),
                }
            };
            out.push(BtfMapDef {
                key_size: pick(fields.get("key_size"), key_size, "key")?,
                value_size: pick(fields.get("value_size"), value_size, "value")?,
                max_entries: fields.get("max_entries").copied().unwrap_or(0),
                map_flags: fields.get("map_flags").copied().unwrap_or(0),
                map_type,
                offset: *offset,
                name,
            });
        }
        Ok(out)
    }
}

/// The CO-RE relocation count in `.BTF.ext` (0 when there are none), so
/// that objects needing CO-RE are refused instead of loaded wrong.
pub fn core_relo_len(ext: &[u8]) -> Result<u32, String> {
    let magic = ext.get(0..2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or(".BTF.ext header is truncated")?;
    if magic != BTF_MAGIC {
        return Err(format!("bad .BTF.ext magic {magic:#06x}"));
    }
    let hdr_len = u32_at(ext, 4)?;
    if hdr_len < 32 {
        return Ok(0);
    }
    u32_at(ext, 28)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error() {
        assert!(Btf::parse(&[]).is_err());
        assert!(Btf::parse(&[0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err());
        let mut hdr = vec![0x9f, 0xeb, 1, 0, 24, 0, 0, 0];
        hdr.extend([0u8; 16]);
        let b = Btf::parse(&hdr).unwrap();
        assert_eq!(b.maps().unwrap(), vec![]);
        // One type whose size chain loops: typedef 1 -> 1.
        let mut t = hdr.clone();
        t[12] = 12; // type_len
        t[20] = 1; // str_off... keep strings empty but valid
        t[16] = 12;
        t.extend([0, 0, 0, 0, 0, 0, 0, 8, 1, 0, 0, 0, 0]);
        let b = Btf::parse(&t).unwrap();
        assert!(b.size_of(1).is_err());
    }
}
