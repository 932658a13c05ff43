//! A tiny raw-BTF builder and BPF_BTF_LOAD, enough to describe the key and
//! value of local-storage maps (SK_STORAGE needs BTF).
//!
//! Format (see `Documentation/bpf/btf.rst`): a 24-byte header, the type
//! section (`struct btf_type` records, each followed by kind-specific data),
//! and the string section (starts with a NUL; names are offsets into it).
//! Type ids start at 1, in the order types are added (0 is `void`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::error::{Result, SysError};
use super::{Cmd, bpf_attr, mut_ptr_u64, owned_fd_from_ret, ptr_u64, sys_bpf};

/// `union bpf_attr` member for BPF_BTF_LOAD (kernel 6.9+ layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    pub btf_log_true_size: u32,
    pub btf_flags: u32,
    pub btf_token_fd: i32,
}

bpf_attr!(BtfLoadAttr);

const _: () = assert!(size_of::<BtfLoadAttr>() == 40);

/// BTF magic number.
pub const BTF_MAGIC: u16 = 0xEB9F;
const BTF_KIND_INT: u32 = 1;
const BTF_KIND_ARRAY: u32 = 3;
const BTF_KIND_STRUCT: u32 = 4;
const BTF_KIND_FUNC: u32 = 12;
const BTF_KIND_FUNC_PROTO: u32 = 13;
/// `BTF_KIND_FUNC` linkage (its vlen): a static function.
pub const BTF_FUNC_STATIC: u32 = 0;
/// `BTF_KIND_FUNC` linkage: a global function (verified on its own).
pub const BTF_FUNC_GLOBAL: u32 = 1;
/// `BTF_INT_SIGNED` encoding bit.
pub const BTF_INT_SIGNED: u32 = 1;

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

    /// Adds a string (a line info's file name or text) and returns its
    /// offset; "" is offset 0.
    pub fn add_str(&mut self, s: &str) -> u32 {
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

    /// `BTF_KIND_INT` of `size` bytes. Returns its type id.
    pub fn add_int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let id = self.push_type(name, BTF_KIND_INT, 0, size);
        let enc = if signed { BTF_INT_SIGNED } else { 0 };
        self.push_u32((enc << 24) | ((size * 8) & 0xff));
        id
    }

    /// `BTF_KIND_ARRAY` of `nelems` elements of type `elem`, indexed by the
    /// int type `index`.
    pub fn add_array(&mut self, elem: u32, index: u32, nelems: u32) -> u32 {
        let id = self.push_type("", BTF_KIND_ARRAY, 0, 0);
        self.push_u32(elem);
        self.push_u32(index);
        self.push_u32(nelems);
        id
    }

    /// `BTF_KIND_STRUCT` of `size` bytes with `(name, type_id, bit_offset)`
    /// members.
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let id = self.push_type(name, BTF_KIND_STRUCT, members.len() as u32, size);
        for (mname, ty, bit_off) in members {
            let off = self.add_str(mname);
            self.push_u32(off);
            self.push_u32(*ty);
            self.push_u32(*bit_off);
        }
        id
    }

    /// `BTF_KIND_FUNC_PROTO` returning `ret` with `(name, type_id)` parameters.
    pub fn add_func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.push_type("", BTF_KIND_FUNC_PROTO, params.len() as u32, ret);
        for (pname, ty) in params {
            let off = self.add_str(pname);
            self.push_u32(off);
            self.push_u32(*ty);
        }
        id
    }

    /// `BTF_KIND_FUNC` `name` of prototype `proto`, with `linkage`
    /// ([`BTF_FUNC_STATIC`] or [`BTF_FUNC_GLOBAL`]).
    pub fn add_func(&mut self, name: &str, proto: u32, linkage: u32) -> u32 {
        self.push_type(name, BTF_KIND_FUNC, linkage, proto)
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

/// A BTF object loaded into the kernel.
#[derive(Debug)]
pub struct LoadedBtf {
    /// The BTF fd.
    pub fd: OwnedFd,
}

impl AsFd for LoadedBtf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[allow(unsafe_code)]
fn btf_load_raw(blob: &[u8], log: &mut [u8]) -> std::result::Result<OwnedFd, nix::errno::Errno> {
    let mut attr = BtfLoadAttr { btf: ptr_u64(blob), btf_size: blob.len() as u32, ..Default::default() };
    if !log.is_empty() {
        attr.btf_log_buf = mut_ptr_u64(log);
        attr.btf_log_size = log.len() as u32;
        attr.btf_log_level = 1;
    }
    // SAFETY: `btf` points to `blob` (btf_size bytes) and `btf_log_buf` to
    // `log` (btf_log_size bytes), both alive for the call.
    unsafe { sys_bpf(Cmd::BtfLoad, &mut attr) }.and_then(owned_fd_from_ret)
}

/// BPF_BTF_LOAD. On failure the error's object text includes the end of the
/// kernel's BTF log.
pub fn load_btf(blob: &[u8]) -> Result<LoadedBtf> {
    match btf_load_raw(blob, &mut []) {
        Ok(fd) => Ok(LoadedBtf { fd }),
        Err(e) if e == nix::errno::Errno::EPERM => Err(SysError::bpf(Cmd::BtfLoad, e, "BTF blob")),
        Err(_) => {
            let mut log = vec![0u8; 64 * 1024];
            match btf_load_raw(blob, &mut log) {
                Ok(fd) => Ok(LoadedBtf { fd }),
                Err(e) => {
                    let text = super::name_from_buf(&log);
                    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                    let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
                    Err(SysError::bpf(Cmd::BtfLoad, e, format!("BTF blob (log: {tail})")))
                }
            }
        }
    }
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

    #[test]
    fn kernel_accepts_blob() {
        if !crate::syscall::testutil::root_or_skip() {
            return;
        }
        let (blob, _, _) = sk_storage_btf(8);
        load_btf(&blob).unwrap();
        // garbage is rejected with a log excerpt
        let mut bad = blob.clone();
        bad[0] = 0;
        let e = load_btf(&bad).unwrap_err();
        assert!(e.errno().is_some(), "{e}");
    }
}
