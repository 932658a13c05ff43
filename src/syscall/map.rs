//! BPF maps: BPF_MAP_CREATE, LOOKUP/UPDATE/DELETE_ELEM, GET_NEXT_KEY.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::OnceLock;

use super::error::{Result, SysError};
use super::types::*;
use super::{Cmd, bpf_attr, fd_u32, mut_ptr_u64, obj_name, owned_fd_from_ret, ptr_u64, sys_bpf};
use crate::spec::{MapSpec, Pinning};

/// `union bpf_attr` member for BPF_MAP_CREATE (kernel 6.9+ layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; 16],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
    pub value_type_btf_obj_fd: i32,
    pub map_token_fd: i32,
}

/// `union bpf_attr` member for BPF_MAP_*_ELEM and BPF_MAP_GET_NEXT_KEY.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MapElemAttr {
    pub map_fd: u32,
    pub _pad0: u32,
    pub key: u64,
    /// `value` or `next_key`.
    pub value: u64,
    pub flags: u64,
}

bpf_attr!(MapCreateAttr, MapElemAttr);

const _: () = {
    assert!(size_of::<MapCreateAttr>() == 80);
    assert!(std::mem::offset_of!(MapCreateAttr, map_name) == 28);
    assert!(std::mem::offset_of!(MapCreateAttr, btf_fd) == 48);
    assert!(std::mem::offset_of!(MapCreateAttr, map_extra) == 64);
    assert!(size_of::<MapElemAttr>() == 32);
    assert!(std::mem::offset_of!(MapElemAttr, flags) == 24);
};

/// Flags for [`Map::update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateFlag {
    /// `BPF_ANY`: create or update.
    #[default]
    Any,
    /// `BPF_NOEXIST`: create only; fails with EEXIST if present.
    NoExist,
    /// `BPF_EXIST`: update only; fails with ENOENT if absent.
    Exist,
}

impl UpdateFlag {
    /// The raw `flags` value.
    pub fn bits(self) -> u64 {
        match self {
            UpdateFlag::Any => BPF_ANY,
            UpdateFlag::NoExist => BPF_NOEXIST,
            UpdateFlag::Exist => BPF_EXIST,
        }
    }
}

/// Size of the value buffer user space passes to lookup/update
/// (mirrors the kernel's `bpf_map_value_size()`).
fn user_value_size(spec: &MapSpec) -> Result<usize> {
    if spec.map_type.is_percpu() {
        Ok(round_up8(spec.value_size as usize) * possible_cpus()?)
    } else if spec.map_type.is_fd_map() {
        Ok(4)
    } else {
        Ok(spec.value_size as usize)
    }
}

fn round_up8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Number of possible CPUs, from `/sys/devices/system/cpu/possible`
/// (cached). Per-CPU map values have one slot per possible CPU.
pub fn possible_cpus() -> Result<usize> {
    static CPUS: OnceLock<std::result::Result<usize, String>> = OnceLock::new();
    const PATH: &str = "/sys/devices/system/cpu/possible";
    CPUS.get_or_init(|| {
        let s = std::fs::read_to_string(PATH).map_err(|e| format!("reading {PATH}: {e}"))?;
        parse_cpu_list(&s).ok_or_else(|| format!("cannot parse {PATH}: {s:?}"))
    })
    .clone()
    .map_err(SysError::InvalidInput)
}

/// Count the CPUs in a list like `0-3,5,7-9`.
pub(crate) fn parse_cpu_list(s: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a {
                    return None;
                }
                n += b - a + 1;
            }
            None => {
                part.trim().parse::<usize>().ok()?;
                n += 1;
            }
        }
    }
    (n > 0).then_some(n)
}

/// A BPF map owned by this process.
///
/// The spec is always accurate for the fd (it comes from the creation
/// request or from `BPF_OBJ_GET_INFO_BY_FD`), which is what makes the
/// buffer-size checks of the accessors sound.
#[derive(Debug)]
pub struct Map {
    fd: OwnedFd,
    spec: MapSpec,
    btf: Option<OwnedFd>,
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Map {
    /// BPF_MAP_CREATE. For local-storage maps (e.g. SK_STORAGE) a minimal
    /// BTF (key `int`, value a struct of `value_size` bytes) is generated
    /// and loaded first, and kept with the map.
    #[allow(unsafe_code)]
    pub fn create(spec: &MapSpec) -> Result<Map> {
        let map_name = obj_name(&spec.name).map_err(SysError::InvalidInput)?;
        let mut attr = MapCreateAttr {
            map_type: spec.map_type.0,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
            map_flags: spec.flags,
            map_name,
            ..Default::default()
        };
        let btf = if spec.map_type.needs_btf() {
            let (blob, key_id, value_id) = crate::btf::builder::sk_storage_btf(spec.value_size);
            let btf = super::btf::load_btf(&blob)?;
            attr.btf_fd = fd_u32(btf.fd.as_fd());
            attr.btf_key_type_id = key_id;
            attr.btf_value_type_id = value_id;
            Some(btf.fd)
        } else {
            None
        };
        // SAFETY: MapCreateAttr contains no pointers; the btf fd lives in
        // `btf` for the duration of the call.
        let ret = unsafe { sys_bpf(Cmd::MapCreate, &mut attr) };
        let fd = ret.and_then(owned_fd_from_ret).map_err(|e| SysError::map_create(e, spec.map_type, spec.label()))?;
        Ok(Map { fd, spec: spec.clone(), btf })
    }

    /// Wrap an existing map fd; its spec is read from the kernel.
    pub fn from_fd(fd: OwnedFd) -> Result<Map> {
        let info = super::info::map_info(fd.as_fd())?;
        let spec = MapSpec {
            map_type: info.map_type,
            key_size: info.key_size,
            value_size: info.value_size,
            max_entries: info.max_entries,
            flags: info.map_flags,
            name: info.name,
            pinning: Pinning::None,
        };
        Ok(Map { fd, spec, btf: None })
    }

    /// Open a pinned map (BPF_OBJ_GET).
    pub fn from_pinned(path: impl AsRef<Path>) -> Result<Map> {
        Map::from_fd(super::pin::get_pinned(path)?)
    }

    /// Open a map by id (BPF_MAP_GET_FD_BY_ID).
    pub fn from_id(id: u32) -> Result<Map> {
        Map::from_fd(super::info::map_fd_by_id(id)?)
    }

    /// The map's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The map's spec.
    pub fn spec(&self) -> &MapSpec {
        &self.spec
    }

    /// The BTF object generated for a local-storage map, if any.
    pub fn btf_fd(&self) -> Option<BorrowedFd<'_>> {
        self.btf.as_ref().map(|f| f.as_fd())
    }

    /// Give up the wrapper and keep the fd.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Size of the value buffer for [`Map::lookup`]/[`Map::update`].
    pub fn value_len(&self) -> Result<usize> {
        user_value_size(&self.spec)
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        if key.len() != self.spec.key_size as usize {
            return Err(SysError::InvalidInput(format!(
                "{}: key is {} bytes, map key_size is {}",
                self.spec.label(),
                key.len(),
                self.spec.key_size
            )));
        }
        Ok(())
    }

    fn check_value(&self, value: &[u8]) -> Result<()> {
        let want = self.value_len()?;
        if value.len() != want {
            return Err(SysError::InvalidInput(format!(
                "{}: value buffer is {} bytes, expected {}{}",
                self.spec.label(),
                value.len(),
                want,
                if self.spec.map_type.is_percpu() {
                    " (per-CPU: value_size rounded up to 8 x possible CPUs)"
                } else {
                    ""
                }
            )));
        }
        Ok(())
    }

    #[allow(unsafe_code)]
    fn elem(&self, cmd: Cmd, key: u64, value: u64, flags: u64) -> std::result::Result<i64, nix::errno::Errno> {
        let mut attr = MapElemAttr { map_fd: fd_u32(self.fd.as_fd()), key, value, flags, ..Default::default() };
        // SAFETY: callers pass pointers to buffers of exactly key_size and
        // user_value_size bytes (checked by check_key/check_value), or 0.
        unsafe { sys_bpf(cmd, &mut attr) }
    }

    /// BPF_MAP_LOOKUP_ELEM into `value` (must be [`Map::value_len`] bytes).
    /// Returns `Ok(false)` if the key is absent.
    pub fn lookup(&self, key: &[u8], value: &mut [u8]) -> Result<bool> {
        self.check_key(key)?;
        self.check_value(value)?;
        match self.elem(Cmd::MapLookupElem, ptr_u64(key), mut_ptr_u64(value), 0) {
            Ok(_) => Ok(true),
            Err(nix::errno::Errno::ENOENT) => Ok(false),
            Err(e) => Err(SysError::bpf(Cmd::MapLookupElem, e, self.spec.label())),
        }
    }

    /// Lookup returning an owned value.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = vec![0u8; self.value_len()?];
        Ok(self.lookup(key, &mut v)?.then_some(v))
    }

    /// BPF_MAP_UPDATE_ELEM.
    pub fn update(&self, key: &[u8], value: &[u8], flag: UpdateFlag) -> Result<()> {
        self.update_with_flags(key, value, flag.bits())
    }

    /// BPF_MAP_UPDATE_ELEM with raw flags (e.g. `BPF_ANY | BPF_F_LOCK`).
    pub fn update_with_flags(&self, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
        self.check_key(key)?;
        self.check_value(value)?;
        self.elem(Cmd::MapUpdateElem, ptr_u64(key), ptr_u64(value), flags)
            .map(|_| ())
            .map_err(|e| SysError::bpf(Cmd::MapUpdateElem, e, self.spec.label()))
    }

    /// BPF_MAP_DELETE_ELEM. Returns `Ok(false)` if the key was absent.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.check_key(key)?;
        match self.elem(Cmd::MapDeleteElem, ptr_u64(key), 0, 0) {
            Ok(_) => Ok(true),
            Err(nix::errno::Errno::ENOENT) => Ok(false),
            Err(e) => Err(SysError::bpf(Cmd::MapDeleteElem, e, self.spec.label())),
        }
    }

    /// BPF_MAP_GET_NEXT_KEY: the key after `key`, or the first key if
    /// `key` is `None`. `Ok(None)` at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        if let Some(k) = key {
            self.check_key(k)?;
        }
        let mut next = vec![0u8; self.spec.key_size as usize];
        let kp = key.map(ptr_u64).unwrap_or(0);
        match self.elem(Cmd::MapGetNextKey, kp, mut_ptr_u64(&mut next), 0) {
            Ok(_) => Ok(Some(next)),
            Err(nix::errno::Errno::ENOENT) => Ok(None),
            Err(e) => Err(SysError::bpf(Cmd::MapGetNextKey, e, self.spec.label())),
        }
    }

    /// Iterate over all keys (BPF_MAP_GET_NEXT_KEY). Bounded by
    /// `max_entries` steps for maps that have a limit, so concurrent
    /// deletions cannot make it loop forever.
    pub fn keys(&self) -> Keys<'_> {
        Keys { map: self, last: None, done: false, steps: 0 }
    }

    /// Count entries by iterating keys.
    pub fn count_entries(&self) -> Result<usize> {
        let mut n = 0;
        for k in self.keys() {
            k?;
            n += 1;
        }
        Ok(n)
    }

    /// Read a per-CPU value: one `value_size`-byte vector per possible CPU.
    pub fn lookup_percpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        if !self.spec.map_type.is_percpu() {
            return Err(SysError::InvalidInput(format!("{} is not a per-CPU map", self.spec.label())));
        }
        let stride = round_up8(self.spec.value_size as usize);
        let vs = self.spec.value_size as usize;
        Ok(self.get(key)?.map(|buf| buf.chunks_exact(stride).map(|c| c[..vs].to_vec()).collect()))
    }

    /// Per-CPU `u64` values (value_size must be 8).
    pub fn lookup_percpu_u64(&self, key: &[u8]) -> Result<Option<Vec<u64>>> {
        if self.spec.value_size != 8 {
            return Err(SysError::InvalidInput(format!(
                "{}: value_size is {}, not 8",
                self.spec.label(),
                self.spec.value_size
            )));
        }
        Ok(self.lookup_percpu(key)?.map(|v| v.iter().map(|b| u64::from_ne_bytes(b[..8].try_into().unwrap())).collect()))
    }

    /// Write the same `value_size`-byte value on every CPU of a per-CPU map.
    pub fn update_percpu_all(&self, key: &[u8], value: &[u8], flag: UpdateFlag) -> Result<()> {
        if !self.spec.map_type.is_percpu() || value.len() != self.spec.value_size as usize {
            return Err(SysError::InvalidInput(format!(
                "{}: need a per-CPU map and a {}-byte value",
                self.spec.label(),
                self.spec.value_size
            )));
        }
        let stride = round_up8(value.len());
        let mut buf = vec![0u8; self.value_len()?];
        for c in buf.chunks_exact_mut(stride) {
            c[..value.len()].copy_from_slice(value);
        }
        self.update(key, &buf, flag)
    }
}

/// Iterator returned by [`Map::keys`].
pub struct Keys<'a> {
    map: &'a Map,
    last: Option<Vec<u8>>,
    done: bool,
    steps: u64,
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let max = self.map.spec.max_entries as u64;
        if max > 0 && self.steps >= max {
            self.done = true;
            return None;
        }
        match self.map.next_key(self.last.as_deref()) {
            Ok(Some(k)) => {
                self.steps += 1;
                self.last = Some(k.clone());
                Some(Ok(k))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[allow(unsafe_code)]
impl Map {
    /// Maps an arena (BPF_F_MMAPABLE, `max_entries` pages) once and unmaps
    /// it: the first mmap() fixes the arena's user address, which the
    /// verifier needs before it accepts a program using the arena (the
    /// other way is `map_extra` at creation).
    #[allow(unsafe_code)]
    pub fn fix_arena_address(&self) -> std::io::Result<()> {
        // SAFETY: sysconf has no memory effects.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let len = self.spec.max_entries.max(1) as usize * page;
        // SAFETY: a fresh shared mapping at an address of the kernel's
        // choosing, unmapped before anything can refer to it.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                0,
            );
            if p == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            libc::munmap(p, len);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::testutil::root_or_skip;

    #[test]
    fn cpu_list() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(2));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3,5,7-9"), Some(8));
        assert_eq!(parse_cpu_list("x"), None);
        assert!(possible_cpus().unwrap() >= 1);
    }

    #[test]
    fn bad_name_rejected() {
        let e = Map::create(&MapSpec::new(MapType::HASH, 4, 4, 1).with_name("this_name_is_too_long")).unwrap_err();
        assert!(e.to_string().contains("at most 15"), "{e}");
    }

    #[test]
    fn sockhash_create() {
        if !root_or_skip() {
            return;
        }
        let m = Map::create(&MapSpec::new(MapType::SOCKHASH, 44, 8, 128).with_name("test_sockhash")).unwrap();
        let info = crate::syscall::map_info(m.fd()).unwrap();
        assert_eq!(info.map_type, MapType::SOCKHASH);
        assert_eq!(info.key_size, 44);
        assert_eq!(info.value_size, 8);
        assert_eq!(info.max_entries, 128);
        assert_eq!(info.name, "test_sockhash");
        assert_eq!(m.count_entries().unwrap(), 0);
    }

    #[test]
    fn hash_update_lookup_delete_iterate() {
        if !root_or_skip() {
            return;
        }
        let m = Map::create(&MapSpec::new(MapType::HASH, 4, 8, 16).with_name("test_hash")).unwrap();
        let k = 7u32.to_ne_bytes();
        assert_eq!(m.get(&k).unwrap(), None);
        m.update(&k, &42u64.to_ne_bytes(), UpdateFlag::Any).unwrap();
        assert_eq!(m.get(&k).unwrap().unwrap(), 42u64.to_ne_bytes());
        let e = m.update(&k, &1u64.to_ne_bytes(), UpdateFlag::NoExist).unwrap_err();
        assert_eq!(e.errno(), Some(nix::errno::Errno::EEXIST));
        assert!(e.to_string().contains("already exists"), "{e}");
        let e = m.update(&9u32.to_ne_bytes(), &1u64.to_ne_bytes(), UpdateFlag::Exist).unwrap_err();
        assert_eq!(e.errno(), Some(nix::errno::Errno::ENOENT));
        m.update(&k, &43u64.to_ne_bytes(), UpdateFlag::Exist).unwrap();
        let mut v = [0u8; 8];
        assert!(m.lookup(&k, &mut v).unwrap());
        assert_eq!(u64::from_ne_bytes(v), 43);
        // wrong sizes are rejected before the kernel sees them
        assert!(matches!(m.lookup(&[0u8; 3], &mut v), Err(SysError::InvalidInput(_))));
        assert!(matches!(m.lookup(&k, &mut [0u8; 4]), Err(SysError::InvalidInput(_))));

        for i in 0..5u32 {
            m.update(&(100 + i).to_ne_bytes(), &u64::from(i).to_ne_bytes(), UpdateFlag::NoExist).unwrap();
        }
        assert_eq!(m.count_entries().unwrap(), 6);
        let mut keys: Vec<u32> = m.keys().map(|k| u32::from_ne_bytes(k.unwrap().try_into().unwrap())).collect();
        keys.sort();
        assert_eq!(keys, vec![7, 100, 101, 102, 103, 104]);
        assert!(m.delete(&k).unwrap());
        assert!(!m.delete(&k).unwrap());
        assert_eq!(m.count_entries().unwrap(), 5);
        // the first key, then the end
        let first = m.next_key(None).unwrap().unwrap();
        assert_eq!(first.len(), 4);

        // a map re-opened by id has the same spec
        let info = crate::syscall::map_info(m.fd()).unwrap();
        let m2 = Map::from_id(info.id).unwrap();
        assert_eq!(m2.spec(), m.spec());
        assert_eq!(m2.count_entries().unwrap(), 5);
    }

    #[test]
    fn hash_full_gives_e2big() {
        if !root_or_skip() {
            return;
        }
        let m = Map::create(&MapSpec::new(MapType::HASH, 4, 4, 2)).unwrap();
        m.update(&1u32.to_ne_bytes(), &[0; 4], UpdateFlag::Any).unwrap();
        m.update(&2u32.to_ne_bytes(), &[0; 4], UpdateFlag::Any).unwrap();
        let e = m.update(&3u32.to_ne_bytes(), &[0; 4], UpdateFlag::Any).unwrap_err();
        assert_eq!(e.errno(), Some(nix::errno::Errno::E2BIG));
        assert!(e.to_string().contains("map is full"), "{e}");
    }

    #[test]
    fn percpu_array_read() {
        if !root_or_skip() {
            return;
        }
        let m = Map::create(&MapSpec::new(MapType::PERCPU_ARRAY, 4, 8, 4).with_name("test_pcpu")).unwrap();
        let ncpu = possible_cpus().unwrap();
        assert_eq!(m.value_len().unwrap(), 8 * ncpu);
        let k = 2u32.to_ne_bytes();
        let vals = m.lookup_percpu_u64(&k).unwrap().unwrap();
        assert_eq!(vals, vec![0; ncpu]);
        let mut buf = vec![0u8; m.value_len().unwrap()];
        for (i, c) in buf.chunks_exact_mut(8).enumerate() {
            c.copy_from_slice(&(i as u64 + 10).to_ne_bytes());
        }
        m.update(&k, &buf, UpdateFlag::Any).unwrap();
        let vals = m.lookup_percpu_u64(&k).unwrap().unwrap();
        assert_eq!(vals, (0..ncpu as u64).map(|i| i + 10).collect::<Vec<_>>());
        m.update_percpu_all(&k, &5u64.to_ne_bytes(), UpdateFlag::Exist).unwrap();
        assert_eq!(m.lookup_percpu_u64(&k).unwrap().unwrap().iter().sum::<u64>(), 5 * ncpu as u64);
        // arrays iterate over all indices
        assert_eq!(m.count_entries().unwrap(), 4);
        // a non-percpu-sized buffer is refused
        assert!(m.lookup(&k, &mut [0u8; 8]).is_err() || ncpu == 1);
        // 4-byte values are laid out with an 8-byte stride
        let m4 = Map::create(&MapSpec::new(MapType::PERCPU_ARRAY, 4, 4, 1)).unwrap();
        assert_eq!(m4.value_len().unwrap(), 8 * ncpu);
        assert_eq!(m4.lookup_percpu(&0u32.to_ne_bytes()).unwrap().unwrap(), vec![vec![0u8; 4]; ncpu]);
    }

    #[test]
    fn sk_storage_with_btf() {
        if !root_or_skip() {
            return;
        }
        let m = Map::create(&MapSpec::sk_storage("test_skstor", 8)).unwrap();
        let info = crate::syscall::map_info(m.fd()).unwrap();
        assert_eq!(info.map_type, MapType::SK_STORAGE);
        assert_eq!(info.value_size, 8);
        assert_eq!(info.map_flags & BPF_F_NO_PREALLOC, BPF_F_NO_PREALLOC);
        assert_ne!(info.btf_id, 0);
        // odd sizes work too
        Map::create(&MapSpec::sk_storage("test_skstor3", 3)).unwrap();
        // without NO_PREALLOC the kernel refuses, with a hint
        let e = Map::create(&MapSpec::new(MapType::SK_STORAGE, 4, 8, 0)).unwrap_err();
        assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL));
        assert!(e.to_string().contains("NO_PREALLOC"), "{e}");
    }
}
