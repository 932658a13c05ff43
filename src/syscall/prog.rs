//! Programs: BPF_PROG_LOAD (with verifier-log handling) and
//! BPF_PROG_TEST_RUN.

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use super::error::{Result, SysError};
use super::types::*;
use super::{Cmd, bpf_attr, fd_u32, mut_ptr_u64, obj_name, owned_fd_from_ret, ptr_u64, sys_bpf};

/// `union bpf_attr` member for BPF_PROG_LOAD (kernel 6.14+ layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; 16],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    /// `attach_prog_fd` / `attach_btf_obj_fd`.
    pub attach_prog_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    pub log_true_size: u32,
    pub prog_token_fd: i32,
    pub fd_array_cnt: u32,
}

/// `union bpf_attr` member for BPF_PROG_TEST_RUN.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TestRunAttr {
    pub prog_fd: u32,
    pub retval: u32,
    pub data_size_in: u32,
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    pub _pad0: u32,
}

bpf_attr!(ProgLoadAttr, TestRunAttr);

const _: () = {
    use std::mem::offset_of;
    assert!(offset_of!(ProgLoadAttr, log_buf) == 32);
    assert!(offset_of!(ProgLoadAttr, prog_name) == 48);
    assert!(offset_of!(ProgLoadAttr, expected_attach_type) == 68);
    assert!(offset_of!(ProgLoadAttr, fd_array) == 120);
    assert!(offset_of!(ProgLoadAttr, log_true_size) == 140);
    assert!(size_of::<ProgLoadAttr>() == 152);
    assert!(offset_of!(TestRunAttr, ctx_out) == 56);
    assert!(offset_of!(TestRunAttr, batch_size) == 72);
    assert!(size_of::<TestRunAttr>() == 80);
};

/// Initial verifier log buffer when a log is wanted.
/// `sizeof(struct bpf_func_info)`.
const FUNC_INFO_REC_SIZE: u32 = 8;
/// `sizeof(struct bpf_line_info)`.
const LINE_INFO_REC_SIZE: u32 = 16;
const LOG_INITIAL: usize = 256 * 1024;
/// Upper bound for the verifier log buffer.
const LOG_MAX: usize = 256 * 1024 * 1024;
/// Bounded retries.
const MAX_EAGAIN: u32 = 5;
const MAX_GROW: u32 = 12;

/// What to load.
#[derive(Debug, Clone, Copy)]
pub struct ProgSpec<'a> {
    pub prog_type: ProgType,
    /// Required for some types (e.g. CGROUP_SOCK_ADDR); `None` sends 0.
    pub expected_attach_type: Option<AttachType>,
    /// At most 15 bytes of `[A-Za-z0-9_.]`; may be empty.
    pub name: &'a str,
    /// Usually `"GPL"` (needed for GPL-only helpers such as the sockmap ones).
    pub license: &'a str,
    /// Instructions: a whole number of 8-byte slots.
    pub insns: &'a [u8],
    /// `log_level`: 0 (log only on failure), [`BPF_LOG_LEVEL1`],
    /// [`BPF_LOG_LEVEL2`], [`BPF_LOG_STATS`], or a combination.
    pub log_level: u32,
    /// `prog_flags`, e.g. [`BPF_F_STRICT_ALIGNMENT`].
    pub prog_flags: u32,
    /// BTF holding the `BTF_KIND_FUNC` types [`func_info`](Self::func_info) names.
    pub btf: Option<BorrowedFd<'a>>,
    /// `struct bpf_func_info` records, `(insn_off, type_id)`: one per
    /// function, sorted by slot, the first at slot 0. The kernel needs them
    /// for a program that passes a callback (`bpf_loop`), and they name the
    /// functions in its log.
    pub func_info: &'a [(u32, u32)],
    /// `struct bpf_line_info` records (needs [`btf`](Self::btf)): the
    /// source line of each run of instructions, sorted by instruction, one
    /// at every function start. The verifier's log then quotes the lines,
    /// and the kernel keeps them (and the JIT's address of each) for
    /// BPF_OBJ_GET_INFO_BY_FD.
    pub line_info: &'a [crate::spec::LineInfo],
    /// `attach_btf_id`: for a tracing program, the kernel BTF id of what it
    /// attaches to (an iterator's `bpf_iter_<target>` function); 0 for none.
    pub attach_btf_id: u32,
}

impl Default for ProgSpec<'_> {
    fn default() -> Self {
        ProgSpec {
            prog_type: ProgType::UNSPEC,
            expected_attach_type: None,
            name: "",
            license: "GPL",
            insns: &[],
            log_level: 0,
            prog_flags: 0,
            btf: None,
            func_info: &[],
            line_info: &[],
            attach_btf_id: 0,
        }
    }
}

impl<'a> ProgSpec<'a> {
    /// A GPL program with no expected attach type and no log.
    pub fn new(prog_type: ProgType, name: &'a str, insns: &'a [u8]) -> Self {
        ProgSpec { prog_type, name, insns, ..Default::default() }
    }

    /// Set `expected_attach_type`.
    pub fn with_expected_attach_type(mut self, t: AttachType) -> Self {
        self.expected_attach_type = Some(t);
        self
    }

    /// Set `log_level`.
    pub fn with_log_level(mut self, level: u32) -> Self {
        self.log_level = level;
        self
    }

    /// Set the license.
    pub fn with_license(mut self, license: &'a str) -> Self {
        self.license = license;
        self
    }

    /// Load it (see [`LoadedProg::load`]).
    pub fn load(&self) -> Result<LoadedProg, LoadError> {
        LoadedProg::load(self)
    }
}

/// Convert `u64` instruction words (as they sit in memory: opcode in the
/// low byte on little-endian hosts) to the byte form [`ProgSpec`] takes.
pub fn insns_from_u64(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

/// Statistics from the verifier's final "processed N insns ..." line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierStats {
    /// Instructions processed by the verifier (the complexity measure).
    pub processed_insns: u64,
    /// `total_states`, if present.
    pub total_states: Option<u64>,
    /// `peak_states`, if present.
    pub peak_states: Option<u64>,
    /// The whole line.
    pub line: String,
}

/// Find the "processed N insns" line in a verifier log.
pub fn parse_verifier_stats(log: &str) -> Option<VerifierStats> {
    let line = log.lines().rev().find(|l| l.starts_with("processed ") && l.contains(" insns"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let after =
        |key: &str| words.iter().position(|w| *w == key).and_then(|i| words.get(i + 1)).and_then(|v| v.parse().ok());
    Some(VerifierStats {
        processed_insns: after("processed")?,
        total_states: after("total_states"),
        peak_states: after("peak_states"),
        line: line.to_string(),
    })
}

/// A successfully loaded program.
#[derive(Debug)]
pub struct LoadedProg {
    /// The program fd.
    pub fd: OwnedFd,
    /// The verifier log (empty if `log_level` was 0).
    pub log: String,
    /// Parsed from the log when `log_level` includes [`BPF_LOG_STATS`]
    /// (or level 1/2, whose logs end with the same line).
    pub verifier_stats: Option<VerifierStats>,
}

/// `Prog::load(&spec)` reads naturally; same type as [`LoadedProg`].
pub type Prog = LoadedProg;

impl AsFd for LoadedProg {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Loading a program failed. Carries the complete verifier log.
#[derive(Debug, Clone)]
pub struct LoadError {
    /// The errno of the final attempt (EACCES/EINVAL for verifier rejections).
    pub errno: Errno,
    /// Program name from the spec.
    pub name: String,
    /// Program type from the spec.
    pub prog_type: ProgType,
    /// The complete verifier log (may be empty, e.g. for EPERM).
    pub log: String,
    /// The log filled the largest buffer we were willing to allocate.
    pub log_truncated: bool,
    /// Set when we refused the spec before calling the kernel.
    pub reason: Option<String>,
}

/// Alias: a load error is usually a verifier rejection.
pub type VerifierError = LoadError;

impl LoadError {
    /// The whole verifier log.
    pub fn log(&self) -> &str {
        &self.log
    }

    /// The last `n` non-empty lines of the log.
    pub fn last_lines(&self, n: usize) -> Vec<&str> {
        let lines: Vec<&str> = self.log.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].to_vec()
    }

    /// The last `n` non-empty log lines that are not the trailing
    /// statistics ("processed N insns", "verification time", "stack depth"):
    /// usually the instruction and the reason it was rejected.
    pub fn decisive_lines(&self, n: usize) -> Vec<&str> {
        let lines: Vec<&str> = self
            .log
            .lines()
            .filter(|l| {
                let t = l.trim();
                !t.is_empty()
                    && !t.starts_with("processed ")
                    && !t.starts_with("verification time")
                    && !t.starts_with("stack depth")
            })
            .collect();
        lines[lines.len().saturating_sub(n)..].to_vec()
    }

    /// True if the verifier (rather than e.g. permissions) refused it.
    pub fn is_verifier_rejection(&self) -> bool {
        // E2BIG with a log: "BPF program is too large. Processed 1000001 insn".
        self.reason.is_none()
            && (self.errno == Errno::EACCES
                || (matches!(self.errno, Errno::EINVAL | Errno::E2BIG) && !self.log.is_empty()))
    }

    /// A load refused before the kernel was asked, for `reason` (e.g. a map
    /// reference the loader could not bind).
    pub fn refused(prog_type: ProgType, name: &str, reason: String) -> Self {
        LoadError {
            errno: Errno::EINVAL,
            name: name.to_string(),
            prog_type,
            log: String::new(),
            log_truncated: false,
            reason: Some(reason),
        }
    }

    fn invalid(spec: &ProgSpec<'_>, reason: String) -> Self {
        LoadError {
            errno: Errno::EINVAL,
            name: spec.name.to_string(),
            prog_type: spec.prog_type,
            log: String::new(),
            log_truncated: false,
            reason: Some(reason),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() { "<unnamed>" } else { &self.name };
        if let Some(r) = &self.reason {
            return write!(f, "cannot load {} program '{}': {}", self.prog_type, name, r);
        }
        write!(f, "loading {} program '{}' failed: {}", self.prog_type, name, self.errno)?;
        if self.is_verifier_rejection() {
            write!(f, "; the verifier rejected it")?;
        } else if let Some(h) = super::error::hint_for(Cmd::ProgLoad, self.errno, name) {
            write!(f, "; hint: {h}")?;
        }
        let total = self.log.lines().filter(|l| !l.trim().is_empty()).count();
        if total > 0 {
            let last = self.decisive_lines(5);
            write!(
                f,
                "\nverifier log (last {} of {} lines{}; run with --verbose for the whole log):",
                last.len(),
                total,
                if self.log_truncated { ", truncated" } else { "" }
            )?;
            for l in last {
                write!(f, "\n  | {l}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

impl LoadedProg {
    /// BPF_PROG_LOAD.
    ///
    /// * EAGAIN is retried (bounded).
    /// * If loading fails with `log_level` 0, it is retried once with
    ///   log level 1 so the error carries the verifier log.
    /// * ENOSPC (log buffer too small) grows the buffer to the kernel's
    ///   `log_true_size` (kernel >= 6.4) or doubles it, bounded.
    #[allow(unsafe_code)]
    pub fn load(spec: &ProgSpec<'_>) -> Result<LoadedProg, LoadError> {
        if spec.insns.is_empty() || !spec.insns.len().is_multiple_of(INSN_SIZE) {
            return Err(LoadError::invalid(
                spec,
                format!("instruction bytes must be a non-zero multiple of 8, got {}", spec.insns.len()),
            ));
        }
        let insn_cnt = u32::try_from(spec.insns.len() / INSN_SIZE)
            .map_err(|_| LoadError::invalid(spec, "too many instructions".into()))?;
        let name = obj_name(spec.name).map_err(|r| LoadError::invalid(spec, r))?;
        let license =
            CString::new(spec.license).map_err(|_| LoadError::invalid(spec, "license contains a NUL byte".into()))?;

        // struct bpf_func_info { __u32 insn_off; __u32 type_id; }, as bytes.
        let func_info: Vec<u8> =
            spec.func_info.iter().flat_map(|(off, ty)| off.to_ne_bytes().into_iter().chain(ty.to_ne_bytes())).collect();
        let line_info: Vec<u8> = spec
            .line_info
            .iter()
            .flat_map(|l| [l.insn_off, l.file_name_off, l.line_off, l.line_col])
            .flat_map(u32::to_ne_bytes)
            .collect();
        let mut log_level = spec.log_level;
        let mut log_size = if log_level != 0 { LOG_INITIAL } else { 0 };
        let (mut eagain, mut grows, mut retried_with_log) = (0, 0, false);
        loop {
            let mut buf = vec![0u8; log_size];
            let mut attr = ProgLoadAttr {
                prog_type: spec.prog_type.0,
                insn_cnt,
                insns: ptr_u64(spec.insns),
                license: license.as_ptr() as usize as u64,
                prog_flags: spec.prog_flags,
                prog_name: name,
                expected_attach_type: spec.expected_attach_type.map_or(0, |t| t.0),
                attach_btf_id: spec.attach_btf_id,
                ..Default::default()
            };
            if let Some(btf) = spec.btf {
                attr.prog_btf_fd = fd_u32(btf);
                attr.func_info_rec_size = FUNC_INFO_REC_SIZE;
                attr.func_info = ptr_u64(&func_info);
                attr.func_info_cnt = spec.func_info.len() as u32;
                if !spec.line_info.is_empty() {
                    attr.line_info_rec_size = LINE_INFO_REC_SIZE;
                    attr.line_info = ptr_u64(&line_info);
                    attr.line_info_cnt = spec.line_info.len() as u32;
                }
            }
            if log_size > 0 {
                attr.log_level = log_level;
                attr.log_size = log_size as u32;
                attr.log_buf = mut_ptr_u64(&mut buf);
            }
            // SAFETY: `insns` points to insn_cnt*8 readable bytes of
            // `spec.insns`, `license` to a NUL-terminated CString,
            // `func_info` to func_info_cnt 8-byte records of `func_info`,
            // `line_info` to line_info_cnt 16-byte records of `line_info`, and
            // `log_buf` to `buf` (log_size writable bytes); all outlive the
            // call.
            let res = unsafe { sys_bpf(Cmd::ProgLoad, &mut attr) }.and_then(owned_fd_from_ret);
            let log = super::name_from_buf(&buf);
            match res {
                Ok(fd) => {
                    let verifier_stats = parse_verifier_stats(&log);
                    return Ok(LoadedProg { fd, log, verifier_stats });
                }
                Err(Errno::EAGAIN) if eagain < MAX_EAGAIN => eagain += 1,
                Err(Errno::ENOSPC) if log_size > 0 && log_size < LOG_MAX && grows < MAX_GROW => {
                    grows += 1;
                    let true_size = attr.log_true_size as usize;
                    log_size = if true_size > log_size { true_size + 1 } else { log_size * 2 };
                    log_size = log_size.min(LOG_MAX);
                }
                Err(e) if log_size == 0 && !retried_with_log && e != Errno::EPERM => {
                    retried_with_log = true;
                    log_level = BPF_LOG_LEVEL1;
                    log_size = LOG_INITIAL;
                }
                Err(e) => {
                    return Err(LoadError {
                        errno: e,
                        name: spec.name.to_string(),
                        prog_type: spec.prog_type,
                        log,
                        log_truncated: e == Errno::ENOSPC,
                        reason: None,
                    });
                }
            }
        }
    }

    /// The program's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// BPF_PROG_TEST_RUN on this program.
    pub fn test_run(&self, opts: &TestRun<'_>) -> Result<TestRunResult> {
        test_run(self.fd.as_fd(), opts)
    }
}

/// Input for [`test_run`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TestRun<'a> {
    /// Packet data (for skb programs at least 14 bytes, an Ethernet header).
    pub data_in: &'a [u8],
    /// Capacity for the output packet; `None` = do not copy it out.
    pub data_out_len: Option<usize>,
    /// Context (e.g. `struct __sk_buff`) to pass in, if any.
    pub ctx_in: Option<&'a [u8]>,
    /// Capacity for the output context; `None` = do not copy it out.
    pub ctx_out_len: Option<usize>,
    /// Number of runs (0 means 1); `duration` is the average per run.
    pub repeat: u32,
    /// `flags` (e.g. BPF_F_TEST_RUN_ON_CPU = 1).
    pub flags: u32,
    /// CPU for BPF_F_TEST_RUN_ON_CPU.
    pub cpu: u32,
}

/// Output of [`test_run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value (r0).
    pub retval: u32,
    /// Average run time in nanoseconds.
    pub duration_ns: u32,
    /// Size of the output packet as reported by the kernel.
    pub data_size_out: u32,
    /// The output packet (empty if not requested).
    pub data_out: Vec<u8>,
    /// The output context (empty if not requested).
    pub ctx_out: Vec<u8>,
}

/// BPF_PROG_TEST_RUN.
#[allow(unsafe_code)]
pub fn test_run(prog: BorrowedFd<'_>, opts: &TestRun<'_>) -> Result<TestRunResult> {
    let mut data_out = vec![0u8; opts.data_out_len.unwrap_or(0)];
    let mut ctx_out = vec![0u8; opts.ctx_out_len.unwrap_or(0)];
    let ctx_in = opts.ctx_in.unwrap_or(&[]);
    let too_big = |n: usize| u32::try_from(n).is_err();
    if too_big(opts.data_in.len()) || too_big(data_out.len()) || too_big(ctx_in.len()) || too_big(ctx_out.len()) {
        return Err(SysError::InvalidInput("test-run buffer larger than 4 GiB".into()));
    }
    let mut attr = TestRunAttr {
        prog_fd: fd_u32(prog),
        data_size_in: opts.data_in.len() as u32,
        data_size_out: data_out.len() as u32,
        data_in: ptr_u64(opts.data_in),
        data_out: mut_ptr_u64(&mut data_out),
        repeat: opts.repeat,
        ctx_size_in: ctx_in.len() as u32,
        ctx_size_out: ctx_out.len() as u32,
        ctx_in: ptr_u64(ctx_in),
        ctx_out: mut_ptr_u64(&mut ctx_out),
        flags: opts.flags,
        cpu: opts.cpu,
        ..Default::default()
    };
    // SAFETY: every pointer refers to a live buffer whose exact length is
    // given in the matching *_size_* field (pointers are 0 for empty ones).
    let mut res = unsafe { sys_bpf(Cmd::ProgTestRun, &mut attr) };
    for _ in 0..MAX_EAGAIN {
        if res != Err(Errno::EAGAIN) {
            break;
        }
        // SAFETY: as above; the buffers are unchanged.
        res = unsafe { sys_bpf(Cmd::ProgTestRun, &mut attr) };
    }
    res.map_err(|e| {
        let what = if e == Errno::ENOSPC {
            format!("program fd {} (output needs {} bytes of data_out)", prog.as_raw_fd(), attr.data_size_out)
        } else {
            format!("program fd {}", prog.as_raw_fd())
        };
        SysError::bpf(Cmd::ProgTestRun, e, what)
    })?;
    data_out.truncate(attr.data_size_out as usize);
    ctx_out.truncate(attr.ctx_size_out as usize);
    Ok(TestRunResult {
        retval: attr.retval,
        duration_ns: attr.duration,
        data_size_out: attr.data_size_out,
        data_out,
        ctx_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::testutil::root_or_skip;

    /// mov r0, 0; exit
    pub(crate) const RET0: [u8; 16] = [
        0xb7, 0, 0, 0, 0, 0, 0, 0, //
        0x95, 0, 0, 0, 0, 0, 0, 0,
    ];

    #[test]
    fn stats_parse() {
        let s = parse_verifier_stats(
            "0: (b7) r0 = 0\nprocessed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n",
        )
        .unwrap();
        assert_eq!(s.processed_insns, 2);
        assert_eq!(s.total_states, Some(0));
        assert!(parse_verifier_stats("nothing").is_none());
    }

    #[test]
    fn u64_words() {
        assert_eq!(insns_from_u64(&[0xb7, 0x95]), RET0.to_vec());
    }

    #[test]
    fn spec_validation() {
        let e = ProgSpec::new(ProgType::SOCKET_FILTER, "x", &RET0[..12]).load().unwrap_err();
        assert!(e.reason.is_some());
        assert!(e.to_string().contains("multiple of 8"), "{e}");
        let e = ProgSpec::new(ProgType::SOCKET_FILTER, "bad name!", &RET0).load().unwrap_err();
        assert!(e.to_string().contains("only [A-Za-z0-9_.]"), "{e}");
    }

    #[test]
    fn load_trivial_and_test_run() {
        if !root_or_skip() {
            return;
        }
        let p = Prog::load(&ProgSpec::new(ProgType::SOCKET_FILTER, "sockasm_t0", &RET0)).unwrap();
        assert!(p.log.is_empty());
        let info = crate::syscall::prog_info(p.fd()).unwrap();
        assert_eq!(info.name, "sockasm_t0");
        assert_eq!(info.prog_type, ProgType::SOCKET_FILTER);
        assert_eq!(info.xlated_prog_len, 16);
        assert!(info.jited_prog_len > 0, "JIT disabled? {info:?}");
        assert_eq!(crate::syscall::prog_xlated_insns(p.fd()).unwrap(), RET0.to_vec());

        let pkt = [0u8; 64];
        let r =
            p.test_run(&TestRun { data_in: &pkt, data_out_len: Some(128), repeat: 10, ..Default::default() }).unwrap();
        assert_eq!(r.retval, 0);
        assert_eq!(r.data_out.len(), 64);

        // r0 = 1 gives retval 1
        let ret1 = insns_from_u64(&[0x0000_0001_0000_00b7, 0x95]);
        let p1 = ProgSpec::new(ProgType::SOCKET_FILTER, "sockasm_t1", &ret1).load().unwrap();
        assert_eq!(p1.test_run(&TestRun { data_in: &pkt, ..Default::default() }).unwrap().retval, 1);
    }

    #[test]
    fn load_with_stats() {
        if !root_or_skip() {
            return;
        }
        let p =
            ProgSpec::new(ProgType::SOCKET_FILTER, "sockasm_st", &RET0).with_log_level(BPF_LOG_STATS).load().unwrap();
        let s = p.verifier_stats.expect("stats line");
        assert_eq!(s.processed_insns, 2, "{}", p.log);
        let p = ProgSpec::new(ProgType::SOCKET_FILTER, "", &RET0)
            .with_log_level(BPF_LOG_LEVEL2 | BPF_LOG_STATS)
            .load()
            .unwrap();
        assert!(p.log.contains("exit"), "{}", p.log);
        assert_eq!(p.verifier_stats.unwrap().processed_insns, 2);
    }

    #[test]
    fn load_invalid_carries_log() {
        if !root_or_skip() {
            return;
        }
        let exit_only = [0x95u8, 0, 0, 0, 0, 0, 0, 0];
        let e = ProgSpec::new(ProgType::SOCKET_FILTER, "sockasm_bad", &exit_only).load().unwrap_err();
        assert_eq!(e.errno, Errno::EACCES);
        assert!(e.is_verifier_rejection());
        assert!(e.log().contains("R0 !read_ok"), "{}", e.log());
        let shown = e.to_string();
        assert!(shown.contains("EACCES") && shown.contains("R0 !read_ok"), "{shown}");
        let se: SysError = e.into();
        assert!(se.to_string().contains("R0 !read_ok"));
    }

    #[test]
    fn small_log_grows() {
        if !root_or_skip() {
            return;
        }
        // a long straight-line program gives a long level-2 log
        let mut words = vec![0xb7u64; 6000];
        words.push(0x95);
        let insns = insns_from_u64(&words);
        let p = ProgSpec::new(ProgType::SOCKET_FILTER, "sockasm_big", &insns)
            .with_log_level(BPF_LOG_LEVEL2)
            .load()
            .unwrap();
        assert!(p.log.len() > LOG_INITIAL, "log only {} bytes", p.log.len());
        assert_eq!(p.verifier_stats.unwrap().processed_insns, 6001);
    }
}
