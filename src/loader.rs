//! The one loader: turns a [`CollectionSpec`] into kernel objects through
//! [`crate::syscall`]. It creates the maps, binds the programs' symbolic map
//! loads to them by name ([`bind`], the only place a map name becomes an
//! fd), loads the programs with the verifier log the caller asks for, and
//! hands back named handles.
//!
//! `sockasm load`, from the command line to bpf(2):
//! [`crate::cli::load`] -> [`crate::deploy::load`] (privileges, lock, pin
//! directory, policy) -> `deploy::load::create_objects` ->
//! [`crate::progs::collection`] (the spec: maps by name, programs with
//! symbolic map loads) -> [`load`] here: [`create_maps`]
//! ([`Map::create`], BPF_MAP_CREATE), then for each program [`load_program`]
//! ([`bind`], then [`ProgSpec::load`], BPF_PROG_LOAD) -> back in deploy: the
//! `config` value, the sk_msg attachment and the pins, from the table in
//! `deploy::pins`.
//!
//! `sockasm verify` takes the same path without deploy: `verify::builtin`,
//! `verify::from_text` or `verify::from_object` build the spec,
//! [`create_maps`] makes its maps, and `verify::verify` loads each program
//! with [`load_program`] at the log level asked for and explains the verdict.

use crate::btf::kernel::KernelBtf;
use crate::deploy::KERNEL_BTF;
use crate::spec::{CollectionSpec, ProgramSpec, describe_map, program_btf};
use crate::syscall::{LoadError, LoadedProg, Map, MapType, ProgSpec, SysError, load_btf};
use std::os::fd::{AsFd, AsRawFd};

#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    #[error("creating map `{name}` ({what}) failed")]
    CreateMap { name: String, what: String, source: SysError },
    #[error("mapping arena `{name}` into this process failed")]
    Arena { name: String, source: std::io::Error },
    /// The kernel or its verifier refused the program, or a map reference
    /// named no map of the spec.
    #[error("loading program {name} failed")]
    Program { name: String, source: LoadError },
}

/// Kernel objects by the names the spec gives them, in creation order.
/// Closed when dropped.
#[derive(Debug)]
pub struct Named<T>(Vec<(String, T)>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named(Vec::new())
    }
}

impl<T> Named<T> {
    pub fn get(&self, name: &str) -> Option<&T> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, o)| o)
    }

    /// Removes `name` and gives it to the caller (to pin it, say).
    pub fn take(&mut self, name: &str) -> Option<T> {
        let i = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(n, o)| (n.as_str(), o))
    }

    /// Adds `o` under `name` (a map opened elsewhere, say, for [`load_program`]).
    pub fn push(&mut self, name: &str, o: T) {
        self.0.push((name.to_string(), o));
    }
}

/// Created maps, by the names the programs use.
pub type Maps = Named<Map>;

impl Maps {
    fn raw_fd(&self, name: &str) -> Option<i32> {
        self.get(name).map(|m| m.as_fd().as_raw_fd())
    }
}

/// Creates every map of `spec` (unpinned). An arena map also gets its user
/// address: the verifier refuses programs using an arena without one.
pub fn create_maps(spec: &CollectionSpec) -> Result<Maps, LoaderError> {
    let mut out = Maps::default();
    for (name, m) in &spec.maps {
        let map = Map::create(m).map_err(|source| LoaderError::CreateMap {
            name: name.clone(),
            what: describe_map(m),
            source,
        })?;
        if m.map_type == MapType::ARENA {
            map.fix_arena_address().map_err(|source| LoaderError::Arena { name: name.clone(), source })?;
        }
        out.push(name, map);
    }
    Ok(out)
}

/// The program's instruction bytes with every map load bound to the fd of
/// the map of its name, and every kfunc call by name to the kfunc's BTF id
/// in the running kernel ([`kfunc_ids`]). A name `maps` lacks, or a kfunc
/// the kernel does not have, refuses the load.
pub fn bind(p: &ProgramSpec, maps: &Maps) -> Result<Vec<u8>, LoadError> {
    let refused = |why: String| LoadError::refused(p.prog_type, &p.name, why);
    let mut code = p.code.clone();
    code.bind_maps(|n| maps.raw_fd(n)).map_err(|e| refused(e.to_string()))?;
    if !code.kfunc_refs.is_empty() {
        let names: Vec<&str> = code.kfunc_refs.iter().map(|r| r.name.as_str()).collect();
        let ids = kfunc_ids(std::path::Path::new(KERNEL_BTF), &names).map_err(refused)?;
        code.bind_kfuncs(|n| ids.iter().find(|(k, _)| k == n).map(|(_, id)| *id))
            .map_err(|e| refused(e.to_string()))?;
    }
    code.to_bytes().map_err(|e| refused(format!("cannot encode it: {e}")))
}

/// The BTF ids of the kfunc `names` in the kernel BTF at `path` (the
/// running kernel's is `/sys/kernel/btf/vmlinux`): the `imm` of a kfunc
/// call, which differs from one kernel build to the next, so a program
/// names its kfuncs and is bound here, when it is loaded. A name the BTF
/// has no function of is left out (the caller names it in its error).
pub fn kfunc_ids(path: &std::path::Path, names: &[&str]) -> Result<Vec<(String, i32)>, String> {
    let blob = std::fs::read(path).map_err(|e| {
        format!("calls kfuncs ({}), whose BTF ids come from {}: cannot read it: {e}", names.join(", "), path.display())
    })?;
    let btf = KernelBtf::parse(&blob).map_err(|e| format!("{}: {e}", path.display()))?;
    let ids = btf.find_funcs(names).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(names.iter().zip(ids).filter_map(|(n, id)| Some((n.to_string(), i32::try_from(id?).ok()?))).collect())
}

/// Binds and loads one program (never attaches it). `log_level` 0 keeps
/// the log of a failure only; see [`ProgSpec::log_level`]. A program with
/// functions whose address it takes, or with source lines, is loaded with
/// the BTF [`program_btf`] describes.
pub fn load_program(p: &ProgramSpec, maps: &Maps, log_level: u32) -> Result<LoadedProg, LoadError> {
    let bytes = bind(p, maps)?;
    let mut spec = ProgSpec::new(p.prog_type, &p.name, &bytes).with_log_level(log_level).with_license(&p.license);
    spec.expected_attach_type = p.expected_attach_type;
    spec.attach_btf_id = p.attach_btf_id.unwrap_or(0);
    let described = program_btf(p).map_err(|e| LoadError::refused(p.prog_type, &p.name, e))?;
    let loaded = match &described {
        None => None,
        Some(d) => match load_btf(&d.blob) {
            Ok(btf) => Some((btf, d)),
            Err(e) if d.required => {
                return Err(LoadError::refused(
                    p.prog_type,
                    &p.name,
                    format!("loading the BTF of its functions (func_info): {e}"),
                ));
            }
            // Only line info: the program runs the same without it, on a
            // kernel that refuses the BTF.
            Err(_) => None,
        },
    };
    if let Some((btf, d)) = &loaded {
        spec.btf = Some(btf.as_fd());
        spec.func_info = &d.func_info;
        spec.line_info = &d.line_info;
    }
    LoadedProg::load(&spec)
}

/// A loaded collection: its maps and its programs, by name.
#[derive(Debug)]
pub struct Collection {
    pub maps: Maps,
    pub programs: Named<LoadedProg>,
}

/// Creates the maps and loads every program of `spec`. On an error,
/// everything created so far is closed (and so freed by the kernel).
pub fn load(spec: &CollectionSpec, log_level: u32) -> Result<Collection, LoaderError> {
    let maps = create_maps(spec)?;
    let mut programs = Named::default();
    for p in &spec.programs {
        let prog = load_program(p, &maps, log_level)
            .map_err(|source| LoaderError::Program { name: p.name.clone(), source })?;
        programs.push(&p.name, prog);
    }
    Ok(Collection { maps, programs })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kfunc ids from the running kernel's BTF (the iterator kfuncs are in
    /// vmlinux since 6.4); a name it lacks is left out, an unreadable file
    /// is an error naming it.
    #[test]
    fn kfunc_ids_from_kernel_btf() {
        let e = kfunc_ids(std::path::Path::new("/nonexistent/vmlinux"), &["bpf_iter_num_new"]).unwrap_err();
        assert!(e.contains("/nonexistent/vmlinux") && e.contains("bpf_iter_num_new"), "{e}");
        let path = std::path::Path::new(KERNEL_BTF);
        if !path.exists() {
            eprintln!("SKIPPED kfunc_ids_from_kernel_btf: no {KERNEL_BTF}");
            return;
        }
        let ids = kfunc_ids(path, &["bpf_iter_num_new", "bpf_iter_num_next", "no_such_kfunc_here"]).unwrap();
        let names: Vec<&str> = ids.iter().map(|(n, _)| n.as_str()).collect();
        if names.is_empty() {
            eprintln!("SKIPPED kfunc_ids_from_kernel_btf: this kernel has no number iterator (Linux 6.4)");
            return;
        }
        assert_eq!(names, ["bpf_iter_num_new", "bpf_iter_num_next"]);
        assert!(ids.iter().all(|(_, id)| *id > 0) && ids[0].1 != ids[1].1, "{ids:?}");
    }
    use crate::asm::{Alu, Program, R0, R1, R2, R10, Size, call, exit, ld_map, store_imm};
    use crate::syscall::{MapSpec, ProgType};

    /// `r0 = *lookup(map, 0) or 0`: one map load of `map`.
    fn reader(name: &str, map: &str) -> ProgramSpec {
        let mut p = Program::new();
        p.push(store_imm(Size::W, R10, -4, 0));
        p.push(ld_map(R1, map));
        p.push(Alu::Mov.reg(R2, R10));
        p.push(Alu::Add.imm(R2, -4));
        p.push(call(crate::uapi::Helper::MapLookupElem.id()));
        p.push(Alu::Mov.imm(R0, 0));
        p.push(exit());
        ProgramSpec::new(name, ProgType::SOCKET_FILTER, p.assemble().unwrap())
    }

    #[test]
    fn loads_by_name_and_refuses_unknown_maps() {
        if !crate::syscall::testutil::root_or_skip() {
            return;
        }
        let spec = CollectionSpec {
            maps: vec![("counts".into(), MapSpec::new(MapType::ARRAY, 4, 8, 1).with_name("sockasm_t_count"))],
            programs: vec![reader("sockasm_t_a", "counts"), reader("sockasm_t_b", "counts")],
        };
        let mut c = load(&spec, 0).unwrap();
        assert!(c.maps.get("counts").is_some());
        assert!(c.programs.get("sockasm_t_a").is_some());
        let b = c.programs.take("sockasm_t_b").unwrap();
        assert!(c.programs.get("sockasm_t_b").is_none());
        // Both programs use the one map of that name.
        let ids = crate::syscall::prog_map_ids(b.fd()).unwrap();
        let a_ids = crate::syscall::prog_map_ids(c.programs.get("sockasm_t_a").unwrap().fd()).unwrap();
        assert_eq!((ids.len(), &ids), (1, &a_ids));
        // A name the spec does not define is refused before the kernel is asked.
        let bad = CollectionSpec { programs: vec![reader("sockasm_t_c", "nope")], ..spec };
        match load(&bad, 0) {
            Err(LoaderError::Program { name, source }) => {
                assert_eq!(name, "sockasm_t_c");
                assert!(source.reason.as_deref().is_some_and(|r| r.contains("nope")), "{source}");
            }
            other => panic!("an unbound map: {:?}", other.map(|_| ())),
        }
    }
    fn spec_of(p: Program) -> ProgramSpec {
        ProgramSpec::new("t", ProgType::SOCKET_FILTER, p.assemble().unwrap())
    }

    /// func_info only for a program that takes a function's address: every
    /// function start, from calls and from `func(...)` loads, slot 0 first.
    #[test]
    fn functions_of_a_program_that_passes_a_callback() {
        let mut p = Program::new();
        p.push(crate::asm::call_local("f"));
        p.push(exit());
        p.label("f");
        p.push(Alu::Mov.imm(R0, 0));
        p.push(exit());
        assert_eq!(program_btf(&spec_of(p.clone())), Ok(None), "a plain BPF-to-BPF call needs no BTF");
        p.label("cb");
        p.push(crate::asm::ld_func(R2, "cb"));
        p.push(exit());
        // call f (0), exit (1), f: 2-3, cb: lddw at 4-5 pointing at itself.
        let btf = program_btf(&spec_of(p)).unwrap().unwrap();
        assert!(btf.required && btf.line_info.is_empty());
        assert_eq!(btf.func_info.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![0, 2, 4]);
    }
}
