//! BPF_OBJ_GET_INFO_BY_FD, BPF_{PROG,MAP}_GET_FD_BY_ID,
//! BPF_{PROG,MAP}_GET_NEXT_ID.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use super::error::{Result, SysError};
use super::types::*;
use super::{Cmd, bpf_attr, fd_u32, mut_ptr_u64, name_from_buf, owned_fd_from_ret, sys_bpf};

/// `union bpf_attr` member for BPF_OBJ_GET_INFO_BY_FD.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct InfoAttr {
    pub bpf_fd: u32,
    pub info_len: u32,
    pub info: u64,
}

/// `union bpf_attr` member for *_GET_NEXT_ID / *_GET_FD_BY_ID.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdAttr {
    /// `start_id` / `prog_id` / `map_id`.
    pub id: u32,
    pub next_id: u32,
    pub open_flags: u32,
    pub fd_by_id_token_fd: i32,
}

/// `struct bpf_prog_info` (kernel 6.x).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RawProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; 16],
    pub ifindex: u32,
    /// bit 0: gpl_compatible.
    pub gpl_bits: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad0: u32,
}

/// `struct bpf_map_info` (kernel 6.x).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RawMapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; 16],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_id: u32,
    pub map_extra: u64,
}

/// `struct bpf_btf_info`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RawBtfInfo {
    pub btf: u64,
    pub btf_size: u32,
    pub id: u32,
    pub name: u64,
    pub name_len: u32,
    pub kernel_btf: u32,
}

bpf_attr!(InfoAttr, IdAttr);

const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<InfoAttr>() == 16);
    assert!(size_of::<IdAttr>() == 16);
    assert!(offset_of!(RawProgInfo, name) == 64);
    assert!(offset_of!(RawProgInfo, btf_id) == 128);
    assert!(offset_of!(RawProgInfo, prog_tags) == 184);
    assert!(offset_of!(RawProgInfo, verified_insns) == 216);
    assert!(size_of::<RawProgInfo>() == 232);
    assert!(offset_of!(RawMapInfo, name) == 24);
    assert!(offset_of!(RawMapInfo, btf_id) == 64);
    assert!(size_of::<RawMapInfo>() == 88);
    assert!(size_of::<RawBtfInfo>() == 32);
};

/// Information about a loaded program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgInfo {
    pub id: u32,
    pub prog_type: ProgType,
    pub name: String,
    /// The program tag (hash of the instructions).
    pub tag: [u8; 8],
    /// Length in bytes of the translated (post-verifier) instructions.
    pub xlated_prog_len: u32,
    /// Length in bytes of the JIT image (0 if not JITed).
    pub jited_prog_len: u32,
    /// Boot-time nanoseconds at load.
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub gpl_compatible: bool,
    pub btf_id: u32,
    /// Only counted while `kernel.bpf_stats_enabled` is 1.
    pub run_time_ns: u64,
    pub run_cnt: u64,
    /// Instructions processed by the verifier (kernel >= 5.16).
    pub verified_insns: u32,
}

/// Information about a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    pub id: u32,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: String,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub map_extra: u64,
}

trait RawInfo: Default {}
impl RawInfo for RawProgInfo {}
impl RawInfo for RawMapInfo {}
impl RawInfo for RawBtfInfo {}

/// What kind of bpf object `fd` is, from its `/proc/self/fd` link
/// (`anon_inode:bpf-prog` -> `"prog"`), if that can be read.
pub fn fd_kind(fd: BorrowedFd<'_>) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd_u32(fd))).ok()?;
    let link = link.to_string_lossy();
    // `anon_inode:bpf-prog`, `anon_inode:bpf-map`, but `anon_inode:btf`.
    let kind = link.strip_prefix("anon_inode:bpf-").or_else(|| link.strip_prefix("anon_inode:")).unwrap_or(&link);
    Some(kind.to_string())
}

#[allow(unsafe_code)]
fn get_info<T: RawInfo>(fd: BorrowedFd<'_>, raw: &mut T, what: &str) -> Result<()> {
    // The kernel dispatches on the fd's type and would happily fill a prog
    // info buffer with map info; refuse mismatches up front.
    if let Some(kind) = fd_kind(fd).filter(|k| k != what) {
        return Err(SysError::InvalidInput(format!("fd {} is not a bpf {what} (it is {kind})", fd_u32(fd))));
    }
    let mut attr =
        InfoAttr { bpf_fd: fd_u32(fd), info_len: size_of::<T>() as u32, info: raw as *mut T as usize as u64 };
    // SAFETY: `info` points to a `#[repr(C)]` info struct of `info_len`
    // bytes without implicit padding; any pointer fields inside it are
    // either 0 or set by the caller to buffers of the lengths given by the
    // matching count fields.
    unsafe { sys_bpf(Cmd::ObjGetInfoByFd, &mut attr) }
        .map(|_| ())
        .map_err(|e| SysError::bpf(Cmd::ObjGetInfoByFd, e, format!("{what} fd {}", fd_u32(fd))))
}

/// Information about the program `fd`.
pub fn prog_info(fd: BorrowedFd<'_>) -> Result<ProgInfo> {
    let mut r = RawProgInfo::default();
    get_info(fd, &mut r, "prog")?;
    Ok(ProgInfo {
        id: r.id,
        prog_type: ProgType(r.prog_type),
        name: name_from_buf(&r.name),
        tag: r.tag,
        xlated_prog_len: r.xlated_prog_len,
        jited_prog_len: r.jited_prog_len,
        load_time: r.load_time,
        created_by_uid: r.created_by_uid,
        nr_map_ids: r.nr_map_ids,
        gpl_compatible: r.gpl_bits & 1 != 0,
        btf_id: r.btf_id,
        run_time_ns: r.run_time_ns,
        run_cnt: r.run_cnt,
        verified_insns: r.verified_insns,
    })
}

/// The translated (post-verifier, as the kernel rewrote them) instructions
/// of program `fd`, as bytes (8 per slot).
pub fn prog_xlated_insns(fd: BorrowedFd<'_>) -> Result<Vec<u8>> {
    let len = prog_info(fd)?.xlated_prog_len as usize;
    let mut buf = vec![0u8; len];
    let mut r =
        RawProgInfo { xlated_prog_len: len as u32, xlated_prog_insns: mut_ptr_u64(&mut buf), ..Default::default() };
    get_info(fd, &mut r, "prog")?;
    if r.xlated_prog_insns == 0 && len > 0 {
        return Err(SysError::bpf(
            Cmd::ObjGetInfoByFd,
            Errno::EPERM,
            "xlated insns (hidden by kernel.kptr_restrict / bpf_dump_raw_ok)",
        ));
    }
    buf.truncate((r.xlated_prog_len as usize).min(len));
    Ok(buf)
}

/// What the JIT made of a program, as BPF_OBJ_GET_INFO_BY_FD gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JitedProg {
    /// The translated instructions (8 bytes a slot).
    pub xlated: Vec<u8>,
    /// The machine code of every function, one after the other.
    pub jited: Vec<u8>,
    /// Each function's address in the kernel (`bpf_prog_<tag>_<name>`).
    pub ksyms: Vec<u64>,
    /// Each function's length in bytes, parallel to `ksyms`.
    pub func_lens: Vec<u32>,
    /// The program's line info, `insn_off` counted in translated slots.
    pub line_info: Vec<crate::spec::LineInfo>,
    /// The address of the machine code of each `line_info` entry.
    pub jited_line_info: Vec<u64>,
    /// The program's BTF (0: none), which holds the line info's strings.
    pub btf_id: u32,
    /// The kernel said how long the image is but gave no bytes or
    /// addresses: it shows them only to a caller that may see kernel
    /// addresses (`kernel.kptr_restrict`, CAP_SYSLOG).
    pub hidden: bool,
}

/// The machine code, function addresses and line tables of program `fd`:
/// one call for the lengths, one for the contents.
pub fn prog_jited(fd: BorrowedFd<'_>) -> Result<JitedProg> {
    let mut r = RawProgInfo::default();
    get_info(fd, &mut r, "prog")?;
    let mut out = JitedProg {
        xlated: vec![0; r.xlated_prog_len as usize],
        jited: vec![0; r.jited_prog_len as usize],
        ksyms: vec![0; r.nr_jited_ksyms as usize],
        func_lens: vec![0; r.nr_jited_func_lens as usize],
        jited_line_info: vec![0; r.nr_jited_line_info as usize],
        btf_id: r.btf_id,
        ..Default::default()
    };
    let mut lines = vec![0u32; 4 * r.nr_line_info as usize];
    let mut q = RawProgInfo {
        xlated_prog_len: r.xlated_prog_len,
        xlated_prog_insns: mut_ptr_u64(&mut out.xlated),
        jited_prog_len: r.jited_prog_len,
        jited_prog_insns: mut_ptr_u64(&mut out.jited),
        nr_jited_ksyms: r.nr_jited_ksyms,
        jited_ksyms: mut_ptr_u64(&mut out.ksyms),
        nr_jited_func_lens: r.nr_jited_func_lens,
        jited_func_lens: mut_ptr_u64(&mut out.func_lens),
        nr_line_info: r.nr_line_info,
        line_info: mut_ptr_u64(&mut lines),
        nr_jited_line_info: r.nr_jited_line_info,
        jited_line_info: mut_ptr_u64(&mut out.jited_line_info),
        ..Default::default()
    };
    // The kernel checks the record sizes whenever records are asked for.
    if r.nr_line_info > 0 {
        q.line_info_rec_size = 16;
    }
    if r.nr_jited_line_info > 0 {
        q.jited_line_info_rec_size = 8;
    }
    get_info(fd, &mut q, "prog")?;
    // A program can change between the calls only by being replaced, which
    // gives it another fd: the lengths hold; the kernel zeroes a pointer
    // it will not fill.
    out.hidden = (r.jited_prog_len > 0 && q.jited_prog_insns == 0)
        || (r.nr_jited_ksyms > 0 && q.jited_ksyms == 0)
        || (r.nr_jited_line_info > 0 && q.jited_line_info == 0);
    if q.xlated_prog_insns == 0 {
        out.xlated.clear();
    }
    out.line_info = lines
        .chunks_exact(4)
        .map(|c| crate::spec::LineInfo { insn_off: c[0], file_name_off: c[1], line_off: c[2], line_col: c[3] })
        .collect();
    Ok(out)
}

/// The raw BTF (header, types, strings) of BTF object `id`, as
/// BPF_BTF_LOAD took it.
pub fn btf_blob_by_id(id: u32) -> Result<Vec<u8>> {
    let fd = fd_by_id(Cmd::BtfGetFdById, id, "btf")?;
    let mut r = RawBtfInfo::default();
    get_info(fd.as_fd(), &mut r, "btf")?;
    let mut blob = vec![0u8; r.btf_size as usize];
    let mut q = RawBtfInfo { btf: mut_ptr_u64(&mut blob), btf_size: r.btf_size, ..Default::default() };
    get_info(fd.as_fd(), &mut q, "btf")?;
    blob.truncate((q.btf_size as usize).min(r.btf_size as usize));
    Ok(blob)
}

/// Ids of the maps program `fd` uses.
pub fn prog_map_ids(fd: BorrowedFd<'_>) -> Result<Vec<u32>> {
    let n = prog_info(fd)?.nr_map_ids as usize;
    let mut ids = vec![0u32; n];
    let mut r = RawProgInfo { nr_map_ids: n as u32, map_ids: mut_ptr_u64(&mut ids), ..Default::default() };
    get_info(fd, &mut r, "prog")?;
    ids.truncate((r.nr_map_ids as usize).min(n));
    Ok(ids)
}

/// Information about the map `fd`.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<MapInfo> {
    let mut r = RawMapInfo::default();
    get_info(fd, &mut r, "map")?;
    Ok(MapInfo {
        id: r.id,
        map_type: MapType(r.map_type),
        key_size: r.key_size,
        value_size: r.value_size,
        max_entries: r.max_entries,
        map_flags: r.map_flags,
        name: name_from_buf(&r.name),
        btf_id: r.btf_id,
        btf_key_type_id: r.btf_key_type_id,
        btf_value_type_id: r.btf_value_type_id,
        map_extra: r.map_extra,
    })
}

#[allow(unsafe_code)]
fn fd_by_id(cmd: Cmd, id: u32, what: &str) -> Result<OwnedFd> {
    let mut attr = IdAttr { id, ..Default::default() };
    // SAFETY: the attr holds only integers.
    unsafe { sys_bpf(cmd, &mut attr) }
        .and_then(owned_fd_from_ret)
        .map_err(|e| SysError::bpf(cmd, e, format!("{what} id {id}")))
}

/// Open a program by id.
pub fn prog_fd_by_id(id: u32) -> Result<OwnedFd> {
    fd_by_id(Cmd::ProgGetFdById, id, "prog")
}

/// Open a map by id.
pub fn map_fd_by_id(id: u32) -> Result<OwnedFd> {
    fd_by_id(Cmd::MapGetFdById, id, "map")
}

#[allow(unsafe_code)]
fn next_id(cmd: Cmd, start: u32) -> Result<Option<u32>> {
    let mut attr = IdAttr { id: start, ..Default::default() };
    // SAFETY: the attr holds only integers.
    match unsafe { sys_bpf(cmd, &mut attr) } {
        Ok(_) => Ok(Some(attr.next_id)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(SysError::bpf(cmd, e, format!("id after {start}"))),
    }
}

/// The next program id after `start` (0 = first).
pub fn prog_next_id(start: u32) -> Result<Option<u32>> {
    next_id(Cmd::ProgGetNextId, start)
}

/// The next map id after `start` (0 = first).
pub fn map_next_id(start: u32) -> Result<Option<u32>> {
    next_id(Cmd::MapGetNextId, start)
}

fn all_ids(cmd: Cmd) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let mut cur = 0;
    while let Some(id) = next_id(cmd, cur)? {
        out.push(id);
        cur = id;
    }
    Ok(out)
}

/// All program ids in the system.
pub fn prog_ids() -> Result<Vec<u32>> {
    all_ids(Cmd::ProgGetNextId)
}

/// All map ids in the system.
pub fn map_ids() -> Result<Vec<u32>> {
    all_ids(Cmd::MapGetNextId)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::testutil::root_or_skip;
    use crate::syscall::{Map, MapSpec, ProgSpec};
    use std::os::fd::AsFd;

    #[test]
    fn ids_and_fds() {
        if !root_or_skip() {
            return;
        }
        let m = Map::create(&MapSpec::new(MapType::ARRAY, 4, 4, 1).with_name("test_ids")).unwrap();
        let mi = map_info(m.fd()).unwrap();
        assert!(map_ids().unwrap().contains(&mi.id));
        let fd = map_fd_by_id(mi.id).unwrap();
        assert_eq!(map_info(fd.as_fd()).unwrap().id, mi.id);

        let insns = [0xb7u8, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        let p = ProgSpec::new(ProgType::SOCKET_FILTER, "sockasm_ids", &insns).load().unwrap();
        let pi = prog_info(p.fd()).unwrap();
        assert!(pi.gpl_compatible);
        assert_eq!(pi.verified_insns, 2);
        assert!(prog_ids().unwrap().contains(&pi.id));
        let fd = prog_fd_by_id(pi.id).unwrap();
        assert_eq!(prog_info(fd.as_fd()).unwrap().name, "sockasm_ids");
        assert!(prog_map_ids(p.fd()).unwrap().is_empty());
        // a map fd is not a prog fd
        assert!(prog_info(m.fd()).is_err());
        let e = prog_fd_by_id(u32::MAX).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::ENOENT));
    }
}
