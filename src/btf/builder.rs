//! A tiny raw-BTF generator, enough to describe the key and value of
//! local-storage maps (SK_STORAGE needs BTF) and a program's functions.
//!
//! Format (see `Documentation/bpf/btf.rst`): a 24-byte header, the type
//! section (`struct btf_type` records, each followed by kind-specific data),
//! and the string section (starts with a NUL; names are offsets into it).
//! Type ids start at 1, in the order types are added (0 is `void`).

use super::{BTF_INT_SIGNED, BTF_MAGIC, KIND_ARRAY, KIND_FUNC, KIND_FUNC_PROTO, KIND_INT, KIND_STRUCT};

/// Builds a raw BTF blob.
#[derive(Debug, Clone)]
pub struct BtfBuilder {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BtfBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        BtfBuilder { types: Vec::new(), strings: vec![0], next_id: 1 }
    }

    fn add_str(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn push_u32(&mut self, v: u32) {
        self.types.extend_from_slice(&v.to_ne_bytes());
    }

    fn push_type(&mut self, name: &str, kind: u32, vlen: u32, size_or_type: u32) -> u32 {
        let name_off = self.add_str(name);
        self.push_u32(name_off);
        self.push_u32((kind << 24) | (vlen & 0xffff));
        self.push_u32(size_or_type);
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// `KIND_INT` of `size` bytes. Returns its type id.
    pub fn add_int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let id = self.push_type(name, KIND_INT, 0, size);
        let enc = if signed { BTF_INT_SIGNED } else { 0 };
        self.push_u32((enc << 24) | ((size * 8) & 0xff));
        id
    }

    /// `KIND_ARRAY` of `nelems` elements of type `elem`, indexed by the
    /// int type `index`.
    pub fn add_array(&mut self, elem: u32, index: u32, nelems: u32) -> u32 {
        let id = self.push_type("", KIND_ARRAY, 0, 0);
        self.push_u32(elem);
        self.push_u32(index);
        self.push_u32(nelems);
        id
    }

    /// `KIND_STRUCT` of `size` bytes with `(name, type_id, bit_offset)`
    /// members.
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let id = self.push_type(name, KIND_STRUCT, members.len() as u32, size);
        for (mname, ty, bit_off) in members {
            let off = self.add_str(mname);
            self.push_u32(off);
            self.push_u32(*ty);
            self.push_u32(*bit_off);
        }
        id
    }

    /// `KIND_FUNC_PROTO` returning `ret` with `(name, type_id)` parameters.
    pub fn add_func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.push_type("", KIND_FUNC_PROTO, params.len() as u32, ret);
        for (pname, ty) in params {
            let off = self.add_str(pname);
            self.push_u32(off);
            self.push_u32(*ty);
        }
        id
    }

    /// `KIND_FUNC` `name` of prototype `proto`, with `linkage`
    /// ([`BTF_FUNC_STATIC`] or [`BTF_FUNC_GLOBAL`]).
    pub fn add_func(&mut self, name: &str, proto: u32, linkage: u32) -> u32 {
        self.push_type(name, KIND_FUNC, linkage, proto)
    }

    /// The raw blob: header + types + strings.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.types.len() + self.strings.len());
        out.extend_from_slice(&BTF_MAGIC.to_ne_bytes());
        out.push(1); // version
        out.push(0); // flags
        out.extend_from_slice(&24u32.to_ne_bytes()); // hdr_len
        out.extend_from_slice(&0u32.to_ne_bytes()); // type_off
        out.extend_from_slice(&(self.types.len() as u32).to_ne_bytes()); // type_len
        out.extend_from_slice(&(self.types.len() as u32).to_ne_bytes()); // str_off
        out.extend_from_slice(&(self.strings.len() as u32).to_ne_bytes()); // str_len
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// BTF for a local-storage map: key `int` (4 bytes), value
/// `struct sockasm_value { __u8 data[value_size]; }`.
/// Returns `(blob, key_type_id, value_type_id)`.
pub fn sk_storage_btf(value_size: u32) -> (Vec<u8>, u32, u32) {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let u8t = b.add_int("__u8", 1, false);
    let arr = b.add_array(u8t, int, value_size);
    let val = b.add_struct("sockasm_value", value_size, &[("data", arr, 0)]);
    (b.build(), int, val)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_layout() {
        let (blob, k, v) = sk_storage_btf(8);
        assert_eq!((k, v), (1, 4));
        assert_eq!(u16::from_ne_bytes([blob[0], blob[1]]), BTF_MAGIC);
        let type_len = u32::from_ne_bytes(blob[12..16].try_into().unwrap()) as usize;
        let str_len = u32::from_ne_bytes(blob[20..24].try_into().unwrap()) as usize;
        // int(16) + int(16) + array(24) + struct(12 + 12)
        assert_eq!(type_len, 16 + 16 + 24 + 24);
        assert_eq!(blob.len(), 24 + type_len + str_len);
        assert_eq!(blob[24 + type_len], 0);
    }
}
