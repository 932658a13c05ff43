//! The bypass's life cycle: `load`, `unload` and `status`, over the objects
//! that [`crate::loader`] makes from the built-in programs' spec.
//!
//! What the bypass puts in the kernel is declared once, as data, in
//! [`crate::progs`]: the maps and programs of [`crate::progs::collection`],
//! each with its pinning ([`crate::spec::Pinning`]), and the table
//! [`crate::progs::ATTACHMENTS`] (program, target cgroup or map, attach
//! type). `load`, its undo, `unload`, orphan discovery, `agent`'s check and
//! `status` all walk those two; adding a map or a program is one entry.
//!
//! `sockasm load`, from the command line to bpf(2), in six hops:
//! 1. [`crate::cli::load`] turns the flags into [`LoadOptions`] and calls
//! 2. [`load()`] (`load.rs`), one straight line: check privileges (the
//!    capabilities, read once), take the [`lock`], then open or create the
//!    objects, apply the configuration and the ports (the `config` value is
//!    written once), attach ([`crate::progs::ATTACHMENTS`], each a `Link`
//!    that detaches itself if a later step fails), pin what is new;
//! 3. `load::open_or_create` builds the spec ([`crate::progs::collection`],
//!    pure data) and hands it to
//! 4. [`crate::loader::load`], which creates the maps, binds the programs'
//!    map loads by name and loads each program with
//! 5. [`crate::syscall::Map::create`] and [`crate::syscall::LoadedProg::load`]
//!    (BPF_MAP_CREATE, BPF_PROG_LOAD with the verifier log), which make the
//!    call through
//! 6. `syscall::sys_bpf`, the one unsafe funnel to bpf(2).
//!
//! Files: `load` (load and its pin undo log), `link` (attachments as values
//! that detach on drop), `unload`, `pins` (the declaration's pins, opening
//! and checking them), `lock` (the host-wide lifecycle lock), `config` (the
//! `config` and `ports` maps), `status` (status and its JSON), `cgroups`
//! (walking the cgroup tree for attachments), `orphans` (attachments no pin
//! refers to), `scratch` (the cgroup and pins of one bench or exec run),
//! `stale` (what a killed bench or exec left), `privileges`, `offsets` (the
//! running kernel's BTF and the policy it allows), `metrics` (the Prometheus
//! text), `check` (whether a loaded bypass is still pinned and attached, for
//! `sockasm agent`).
//!
//! Which cgroups the bypass is attached to is not stored anywhere: it is read
//! back from the kernel (PROG_QUERY on each cgroup), so it cannot go stale.
//! `load` and `unload` hold [`LOCK_PATH`] while they change anything; `status`
//! and `unload` also find sockasm programs no pin refers to any more by
//! walking the kernel's program ids ([`orphans()`]).

mod adopt;
mod cgroups;
mod check;
mod config;
mod link;
mod load;
mod lock;
mod metrics;
mod offsets;
mod orphans;
mod pins;
mod privileges;
pub mod scratch;
mod stale;
mod status;
mod unload;

pub use adopt::{AdoptReport, Adoption};
pub use cgroups::cgroups_with_prog;
pub use check::{AttachCheck, check_attached};
pub use config::{Config, PortSelection};
pub use load::{Attach, LoadOptions, LoadReport, load};
pub use lock::{LOCK_DIR, LOCK_PATH, LifecycleLock, lock, try_lock};
pub use metrics::{label as prometheus_label, prometheus};
pub use offsets::{KERNEL_BTF, OFFSETS_PATH, kernel_policy};
pub use orphans::{Orphan, OtherAttachment, orphans};
pub use privileges::check_privileges;
pub use scratch::Scratch;
pub use stale::{Stale, StaleOutcome, remove_stale, stale_leftovers};
pub use status::{AttachedTo, AttachmentStatus, MapStatus, ProgStatus, Status, status};
pub use unload::{UnloadOutcome, UnloadReport, unload};

pub use crate::progs::DEFAULT_MAX_ENTRIES;

use crate::asm::AsmError;
use crate::cgroup::CgroupError;
use crate::loader::LoaderError;
use crate::progs;
use crate::spec::ProgramSpec;
use crate::syscall::{LoadError, SysError};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/sockasm";
/// Upper bound of `--max-entries`: the SOCKHASH and sock_info are sized by
/// it (about 32 bytes of kernel memory per entry up front: 32 MiB here);
/// 2^27 made the kernel vmalloc 4 GiB for 14 s.
pub const MAX_MAX_ENTRIES: u32 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("{step} failed")]
    Step { step: String, source: SysError },
    #[error(
        "sockasm {command} needs root, or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN \
         (running as uid {uid}); try: sudo sockasm {command}"
    )]
    NotPrivileged { command: &'static str, uid: u32 },
    #[error(
        "the verifier rejected the built-in program {name} (a bug in sockasm, or a kernel without a feature it needs)"
    )]
    Rejected { name: String, source: LoadError },
    #[error(transparent)]
    Loader(LoaderError),
    #[error("a built-in program does not assemble (a bug in sockasm)")]
    Asm(#[from] AsmError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "{} holds only some of sockasm's pins ({present}); remove the directory or run `sockasm unload --pin-dir {}`",
        dir.display(), dir.display()
    )]
    PartialPins { dir: PathBuf, present: String },
    #[error(
        "refusing pin directory {}: {why}; another user could remove or replace sockasm's pins there. \
         Remove it (rm -r {}) and run `sockasm load` again, or choose another --pin-dir",
        dir.display(), dir.display()
    )]
    UnsafePinDir { dir: PathBuf, why: String },
    #[error(
        "refusing lock directory {}: owned by uid {uid} with mode {mode:o}; another user could hold sockasm's lock \
         forever. Remove it (rm -r {}); sockasm creates it again, owned by root with mode 0700",
        dir.display(), dir.display()
    )]
    UnsafeLockDir { dir: PathBuf, uid: u32, mode: u32 },
    #[error("cannot take the lock {}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    #[error(
        "another sockasm load/unload/bench cleanup has held {} for {}s; wait for it to finish, \
         or find it with `fuser {}`", path.display(), waited.as_secs(), path.display()
    )]
    LockTimeout { path: PathBuf, waited: Duration },
    #[error("cannot read {}: permission denied; sockasm {command} needs root (running as uid {uid}); try: sudo sockasm {command}", path.display())]
    NoPermission { command: &'static str, path: PathBuf, uid: u32 },
}

impl DeployError {
    fn step(step: impl Into<String>) -> impl FnOnce(SysError) -> DeployError {
        let step = step.into();
        move |source| DeployError::Step { step, source }
    }
    /// A failure of [`crate::loader::load`]: a program that did not load is
    /// a rejection of a built-in program.
    fn loading(e: LoaderError) -> DeployError {
        match e {
            LoaderError::Program { name, source } => DeployError::Rejected { name, source },
            e => DeployError::Loader(e),
        }
    }
    /// The whole verifier log, when the error is a rejection.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            DeployError::Rejected { source, .. } => Some(source.log()),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, DeployError>;

/// The built-in programs as `load` would build them on this kernel, for listings.
pub fn builtin_programs() -> Result<Vec<ProgramSpec>> {
    Ok(progs::builtin(&kernel_policy(Path::new(KERNEL_BTF)))?)
}
