//! Load a program into the kernel without attaching it and explain the
//! verifier's verdict: on rejection the decisive message, the instruction it
//! names in its listing context and the register state there; on success the
//! statistics and the translated/JITed sizes. Also runs programs with
//! BPF_PROG_TEST_RUN.
//!
//! Inputs ([`Inputs`]) are [`crate::spec`] programs from any producer: the
//! built-in programs ([`crate::progs::collection`], with the maps `sockasm
//! load` creates), a text file in LLVM's syntax, or a BPF ELF object
//! ([`crate::elf::Object::link`]). Their maps are created by
//! [`crate::loader::create_maps`] and each program is loaded by
//! [`crate::loader::load_program`] with the log level asked for. Nothing is
//! attached or pinned: every fd is closed when the [`Inputs`] and the loaded
//! program are dropped.

use crate::asm::listing::{self, ListingOptions};
use crate::asm::{Insn, decode_all, text};
use crate::elf::{self, Object};
use crate::loader::{self, LoaderError, Maps};
use crate::progs;
use crate::spec::{CollectionSpec, ProgramSpec};
use crate::syscall::{
    self, AttachType, BPF_LOG_LEVEL1, BPF_LOG_LEVEL2, BPF_LOG_STATS, LoadError, LoadedProg, MapSpec, MapType, ProgInfo,
    ProgType, SysError, TestRun, TestRunResult, VerifierStats,
};
use crate::trace;
use std::fmt::Write as _;

pub use crate::spec::kernel_name;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Input(String),
    #[error("{step} failed")]
    Sys { step: String, source: SysError },
    #[error(transparent)]
    Load(#[from] LoaderError),
    #[error(transparent)]
    Elf(#[from] elf::ElfError),
    #[error(transparent)]
    Text(#[from] text::TextError),
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
}

fn sys(step: impl Into<String>) -> impl FnOnce(SysError) -> VerifyError {
    let step = step.into();
    move |source| VerifyError::Sys { step, source }
}

/// Programs and the maps they reference (kept open until dropped).
pub struct Inputs {
    pub programs: Vec<ProgramSpec>,
    pub maps: Maps,
    /// Programs of an object that were not chosen explicitly and cannot be
    /// loaded (unknown section name, needs BTF attach target): (name, why).
    pub skipped: Vec<(String, String)>,
}

impl Inputs {
    /// Creates the maps of `spec`: the programs are then ready for [`verify`].
    fn create(spec: CollectionSpec, skipped: Vec<(String, String)>) -> Result<Inputs, VerifyError> {
        let maps = loader::create_maps(&spec)?;
        Ok(Inputs { programs: spec.programs, maps, skipped })
    }
}

/// The built-in programs (`which`: `sockops`, `sk_msg`/`skmsg`, or all),
/// with the maps `sockasm load` creates.
pub fn builtin(which: Option<&str>) -> Result<Inputs, VerifyError> {
    let policy = crate::deploy::kernel_policy(std::path::Path::new(crate::deploy::KERNEL_BTF));
    let mut spec = progs::collection(&policy, progs::DEFAULT_MAX_ENTRIES)
        .map_err(|e| VerifyError::Input(format!("built-in program does not assemble: {e}")))?;
    if let Some(w) = which {
        let want = match w.strip_prefix("sockasm_").unwrap_or(w) {
            "sockops" | "sock_ops" => Some(ProgType::SOCK_OPS),
            "skmsg" | "sk_msg" => Some(ProgType::SK_MSG),
            _ => None,
        };
        spec.programs.retain(|b| b.name == w || want == Some(b.prog_type));
        if spec.programs.is_empty() {
            return Err(VerifyError::Input(format!("no built-in program `{w}` (there are: sockops, sk_msg)")));
        }
    }
    Inputs::create(spec, Vec::new())
}

/// A map to create for a text program: `NAME=TYPE,KEY,VALUE,MAX[,FLAGS]`.
pub fn parse_map_arg(s: &str) -> Result<(String, MapSpec), VerifyError> {
    let bad = || {
        VerifyError::Input(format!(
            "--map `{s}`: expected NAME=TYPE,KEY_SIZE,VALUE_SIZE,MAX_ENTRIES[,FLAGS] (e.g. counts=array,4,8,1)"
        ))
    };
    let (name, rest) = s.split_once('=').ok_or_else(bad)?;
    let f: Vec<&str> = rest.split(',').map(str::trim).collect();
    if f.len() < 4 || f.len() > 5 {
        return Err(bad());
    }
    let t = MapType::from_name(f[0])
        .ok_or_else(|| VerifyError::Input(format!("--map `{s}`: unknown map type `{}`", f[0])))?;
    let num = |x: &str| -> Result<u32, VerifyError> {
        let r = match x.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16),
            None => x.parse(),
        };
        r.map_err(|_| bad())
    };
    let mut spec = MapSpec::new(t, num(f[1])?, num(f[2])?, num(f[3])?).with_name(kernel_name(name.trim()));
    if let Some(fl) = f.get(4) {
        spec = spec.with_flags(num(fl)?);
    }
    Ok((name.trim().to_string(), spec))
}

/// A program in LLVM's text syntax. Named map references (`map_fd(NAME)`)
/// are bound to maps created from `maps` (see [`parse_map_arg`]).
pub fn from_text(
    src: &str,
    file: &str,
    prog_type: ProgType,
    attach: Option<AttachType>,
    maps: &[(String, MapSpec)],
) -> Result<Inputs, VerifyError> {
    let parsed = text::parse_text(src).map_err(|e| e.with_file(file))?;
    let code = parsed.assemble(src).map_err(|e| e.with_file(file))?;
    if code.insns.is_empty() {
        return Err(VerifyError::Input(format!("{file}: no instructions")));
    }
    let stem = std::path::Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or("prog");
    let program = ProgramSpec { expected_attach_type: attach, ..ProgramSpec::new(kernel_name(stem), prog_type, code) };
    let spec = CollectionSpec { maps: maps.to_vec(), programs: vec![program] };
    if let Some((_, name)) = spec.unbound_ref() {
        return Err(VerifyError::Input(format!(
            "{file}: map `{name}` is not defined: pass `--map {name}=TYPE,KEY_SIZE,VALUE_SIZE,MAX_ENTRIES`"
        )));
    }
    Inputs::create(spec, Vec::new())
}

/// The programs of an object (only those of `section` if given), linked,
/// with the object's maps created.
pub fn from_object(
    obj: &Object,
    section: Option<&str>,
    prog_type: Option<ProgType>,
    attach: Option<AttachType>,
) -> Result<Inputs, VerifyError> {
    let progs = obj.programs();
    let chosen: Vec<_> = match section {
        Some(s) => progs.iter().filter(|p| obj.sections[p.section].name == s || p.name == s).collect(),
        None => progs.iter().collect(),
    };
    if chosen.is_empty() {
        let secs: Vec<&str> = obj.sections.iter().filter(|s| !s.is_text).map(|s| s.name.as_str()).collect();
        return Err(VerifyError::Input(match section {
            Some(s) => format!("no program section or program named `{s}` (program sections: {})", secs.join(", ")),
            None => "the object has no programs (only .text)".into(),
        }));
    }
    // Without --section, programs that cannot be loaded are reported and
    // skipped; naming one explicitly makes it an error (from `link`).
    let mut skipped = Vec::new();
    let chosen: Vec<_> = if section.is_some() {
        chosen
    } else {
        chosen
            .into_iter()
            .filter(|p| {
                let s = &obj.sections[p.section];
                let why = match (prog_type.or(s.kind.prog_type), s.kind.unloadable) {
                    (None, _) => Some(format!(
                        "section `{}` names no program type sockasm knows (use --section {} --type TYPE)",
                        s.name, s.name
                    )),
                    (Some(_), Some(w)) => Some(format!("section `{}`: {w}", s.name)),
                    _ => None,
                };
                match why {
                    Some(w) => {
                        skipped.push((p.name.clone(), w));
                        false
                    }
                    None => true,
                }
            })
            .collect()
    };
    if chosen.is_empty() {
        let why: Vec<String> = skipped.iter().map(|(n, w)| format!("{n}: {w}")).collect();
        return Err(VerifyError::Input(format!("no program of the object can be loaded ({})", why.join("; "))));
    }
    let maps = obj.map_specs()?;
    let programs = chosen.into_iter().map(|p| obj.link(p, prog_type, attach)).collect::<Result<Vec<_>, _>>()?;
    Inputs::create(CollectionSpec { maps, programs }, skipped)
}

/// Reads `path`: an ELF object (by its magic) or a text program.
pub fn from_file(
    path: &std::path::Path,
    prog_type: Option<ProgType>,
    attach: Option<AttachType>,
    section: Option<&str>,
    maps: &[(String, MapSpec)],
) -> Result<Inputs, VerifyError> {
    let file = path.display().to_string();
    let bytes = crate::input::read(path)?;
    if elf::is_elf(&bytes) {
        let obj = Object::parse(&bytes).map_err(|e| VerifyError::Input(format!("{file}: {e}")))?;
        return from_object(&obj, section, prog_type, attach);
    }
    if section.is_some() {
        return Err(VerifyError::Input(format!("{file}: --section applies to ELF objects only")));
    }
    let src = String::from_utf8(bytes).map_err(|_| {
        VerifyError::Input(format!("{file}: neither an ELF object nor UTF-8 text (for raw instruction bytes, `sockasm dump --disasm --raw` lists them)"))
    })?;
    let t = prog_type.ok_or_else(|| {
        VerifyError::Input(format!(
            "{file}: a text program needs its program type: --type socket_filter|xdp|sched_cls|..."
        ))
    })?;
    from_text(&src, &file, t, attach, maps)
}

/// What the verifier log says about a rejection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogAnalysis {
    /// The decisive message (one or more lines).
    pub message: String,
    /// The instruction (slot) it is about, if the log names one.
    pub insn: Option<usize>,
    /// The verifier's own line for that instruction: `12: (61) r0 = *(u32 *)(r1 +0)`.
    pub insn_line: Option<String>,
    /// The register state at that instruction: `R1=ctx() R10=fp0`.
    pub regs: Option<String>,
}

fn is_stats_line(t: &str) -> bool {
    t.starts_with("processed ") || t.starts_with("verification time") || t.starts_with("stack depth")
}

/// `12: (61) r0 = ...` → 12.
fn insn_line_index(l: &str) -> Option<usize> {
    let (n, rest) = l.split_once(": ")?;
    let idx = n.trim().parse().ok()?;
    (rest.starts_with('(') && rest.get(3..4) == Some(")")).then_some(idx)
}

/// `12: R1=ctx() R10=fp0` → (12, "R1=ctx() R10=fp0"); also `from 3 to 5: R1=...`.
fn state_line(l: &str) -> Option<(usize, &str)> {
    let (head, rest) = l.split_once(": ")?;
    let rest = rest.trim();
    let is_state =
        |s: &str| s.starts_with('R') && s.as_bytes().get(1).is_some_and(u8::is_ascii_digit) || s.starts_with("frame");
    if let Ok(n) = head.trim().parse::<usize>() {
        return is_state(rest).then_some((n, rest));
    }
    let mut w = head.split_whitespace();
    if let (Some("from"), Some(_), Some("to"), Some(to), None) = (w.next(), w.next(), w.next(), w.next(), w.next()) {
        let to: usize = to.parse().ok()?;
        return is_state(rest).then_some((to, rest));
    }
    None
}

/// Finds the decisive message, the instruction it is about and the register
/// state there, in a verifier log (level 1 or 2).
pub fn analyze_log(log: &str) -> LogAnalysis {
    let lines: Vec<&str> = log.lines().map(|l| l.trim_end()).filter(|l| !l.trim().is_empty()).collect();
    let body_end = lines.iter().rposition(|l| !is_stats_line(l.trim())).map_or(0, |i| i + 1);
    let body = &lines[..body_end];
    let last_insn = body.iter().rposition(|l| insn_line_index(l).is_some());
    // The message: what follows the last instruction line (skipping the
    // state lines the verifier prints before it, and its own `; R1=..`
    // suffixes), or the last line when no instruction was processed.
    let message_lines: Vec<&str> = match last_insn {
        Some(i) => body[i + 1..].iter().copied().filter(|l| state_line(l).is_none()).collect(),
        None => body.last().copied().into_iter().collect(),
    };
    let mut message = message_lines.join("\n");
    if message.is_empty() {
        message = body.last().map_or(String::new(), |l| l.to_string());
    }
    let mut out = LogAnalysis { message, ..Default::default() };
    if let Some(i) = last_insn {
        let line = body[i];
        let idx = insn_line_index(line);
        out.insn = idx;
        // Strip the verifier's `; R1_w=0` suffix (the state after the insn).
        let shown = match line.find("  ; ").or_else(|| line.find("\t; ")).or_else(|| line.find(" ; R")) {
            Some(p) => line[..p].trim_end(),
            None => line,
        };
        out.insn_line = Some(shown.to_string());
        // The state before insn `idx`, rebuilt as `--trace` does (full
        // state lines, the changes after each instruction, calls, what a
        // comparison proves for linked registers); None where not known.
        out.regs = trace::state_before_last_insn(&body[..=i].join("\n"));
    } else {
        // check_cfg errors name the instruction in the message.
        let words: Vec<&str> = out.message.split_whitespace().collect();
        out.insn = words
            .windows(2)
            .rev()
            .find(|w| w[0] == "insn" && w[1].trim_end_matches([',', ':']).parse::<usize>().is_ok())
            .and_then(|w| w[1].trim_end_matches([',', ':']).parse().ok());
        if out.message.starts_with("back-edge from insn") {
            // "back-edge from insn 3 to 1": the jump is the culprit.
            out.insn = words.get(3).and_then(|w| w.parse().ok());
        }
    }
    out
}

/// Our listing of the instructions around `slot`, the one at `slot` marked `=>`.
pub fn context_listing(c: &ProgramSpec, slot: usize, radius: usize) -> String {
    let insns = c.insns();
    let Some(pos) = insns.iter().position(|(s, _)| *s >= slot) else {
        return format!("(instruction {slot} is beyond the program's {} slots)\n", c.slots());
    };
    let lo = pos.saturating_sub(radius);
    let hi = (pos + radius + 1).min(insns.len());
    let opts = ListingOptions {
        annotate: true,
        labels: c.code.labels.clone(),
        comments: c.comments.clone(),
        kfuncs: c.code.kfunc_names(),
    };
    let source = c.source.as_ref().filter(|s| !s.synthetic);
    let mut shown_line = None;
    let mut out = String::new();
    for (k, (s, insn)) in insns[lo..hi].iter().enumerate() {
        if let Some(name) = c.code.labels.get(s) {
            let _ = writeln!(out, "{name}:");
        }
        // The source line above the instructions it covers (clang -g).
        if let Some((_, line)) = source.and_then(|src| src.covering(*s))
            && shown_line != Some((&line.file, line.line))
        {
            shown_line = Some((&line.file, line.line));
            let _ = writeln!(out, "{}", line.comment());
        }
        let mark = if lo + k == pos && *s == slot { "=>" } else { "  " };
        let _ = write!(out, "{mark}{s:>6}:\t{}", listing::insn_text_at(*s, insn, &opts));
        if let Some(a) = listing::annotation(&insns, *s, insn, &opts) {
            let _ = write!(out, "{}{a}", listing::ANNOTATION_SEP);
        }
        out.push('\n');
    }
    out
}

/// A successful load.
pub struct Accepted {
    pub prog: LoadedProg,
    pub info: Option<ProgInfo>,
    pub stats: Option<VerifierStats>,
}

/// A rejection, explained.
pub struct Rejected {
    pub error: LoadError,
    pub analysis: LogAnalysis,
    /// [`context_listing`] at the failing instruction, when the log names one.
    pub context: Option<String>,
}

pub enum Verdict {
    Accepted(Box<Accepted>),
    Rejected(Box<Rejected>),
}

/// The `log_level` for `--log-level N`: 1 or 2, always with statistics.
pub fn log_level(level: u8) -> u32 {
    (if level >= 2 { BPF_LOG_LEVEL2 } else { BPF_LOG_LEVEL1 }) | BPF_LOG_STATS
}

/// The program as the kernel runs it (after the verifier's rewrites), one
/// line per slot: `{slot:>8}:\t{text}`. The kernel's rewrites may contain
/// instructions that are not in the ISA (internal opcodes); those slots
/// print their bytes, and decoding goes on at the next slot. Helper calls
/// show the kernel's `imm` (the helper's address relative to
/// `__bpf_call_base`), so they carry no helper names.
pub fn xlated_listing(prog: &LoadedProg) -> Result<String, VerifyError> {
    let bytes = syscall::prog_xlated_insns(prog.fd()).map_err(sys("reading the translated program"))?;
    Ok(lenient_listing(&bytes))
}

/// [`xlated_listing`]'s text for raw bytes.
pub fn lenient_listing(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut slot = 0;
    while slot * 8 < bytes.len() {
        let rest = &bytes[slot * 8..];
        match crate::asm::Decoder::new(rest).next() {
            Some(Ok((_, insn))) => {
                let _ = writeln!(out, "{slot:>8}:\t{insn}");
                slot += insn.slots();
            }
            _ => {
                match with_ax(rest) {
                    Some(text) => {
                        let _ = writeln!(out, "{slot:>8}:\t{text}");
                    }
                    None => {
                        let raw = crate::asm::hex(&rest[..rest.len().min(8)]);
                        let _ = writeln!(out, "{slot:>8}:\t<not an ISA instruction: {raw}>");
                    }
                }
                slot += 1;
            }
        }
    }
    out
}

/// The kernel's rewrites use a hidden eleventh register, BPF_REG_AX (`r11`),
/// which the ISA has no number for. A one-slot instruction naming it is
/// decoded with a register it does not use standing in for r11, whose name
/// is then put back.
fn with_ax(rest: &[u8]) -> Option<String> {
    let mut b: [u8; 8] = *rest.first_chunk::<8>()?;
    let (dst, src) = (b[1] & 0x0f, b[1] >> 4);
    if dst != 11 && src != 11 || b[0] == 0x18 {
        return None;
    }
    let k = (0u8..=9).find(|&k| k != dst && k != src)?;
    let (d, s) = (if dst == 11 { k } else { dst }, if src == 11 { k } else { src });
    b[1] = (s << 4) | d;
    let (_, insn) = crate::asm::Decoder::new(&b).next()?.ok()?;
    let text = insn.to_string();
    let mut out = String::with_capacity(text.len() + 2);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'_';
        let is_k = (c == b'r' || c == b'w')
            && starts_word
            && bytes.get(i + 1) == Some(&(b'0' + k))
            && !bytes.get(i + 2).is_some_and(u8::is_ascii_alphanumeric);
        if is_k {
            out.push(c as char);
            out.push_str("11");
            i += 2;
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    Some(out)
}

/// Loads `c` (never attaches it) with its maps from `maps` and
/// `log_level`, and explains the verdict.
pub fn verify(c: &ProgramSpec, maps: &Maps, log_level: u32) -> Verdict {
    match loader::load_program(c, maps, log_level) {
        Ok(prog) => {
            let info = syscall::prog_info(prog.fd()).ok();
            let stats = prog.verifier_stats.clone();
            Verdict::Accepted(Box::new(Accepted { prog, info, stats }))
        }
        Err(error) => {
            let analysis = analyze_log(error.log());
            let context = analysis.insn.map(|i| context_listing(c, i, 3));
            Verdict::Rejected(Box::new(Rejected { error, analysis, context }))
        }
    }
}

/// Why the kernel refused to load a program before the verifier ran (not a
/// verifier rejection), when the generic errno hint would mislead.
pub fn load_refusal_reason(prog_type: ProgType, errno: nix::errno::Errno, root: bool) -> Option<String> {
    use nix::errno::Errno;
    let btf_attached = matches!(prog_type, ProgType::LSM | ProgType::TRACING | ProgType::EXT | ProgType::STRUCT_OPS);
    match errno {
        _ if btf_attached => Some(format!(
            "{prog_type} programs are loaded for one kernel function or struct, named by its BTF id \
             (attach_btf_id); sockasm verify does not pass one, so the kernel refuses them ({errno}) \
             whoever runs it; verify it with the loader that knows its hook (e.g. bpftool prog load)"
        )),
        Errno::EPERM if root => Some(format!(
            "the kernel refused to load this {prog_type} program (EPERM) although sockasm runs as root: \
             a security module or lockdown may forbid it, or the program type needs something sockasm verify does not pass"
        )),
        _ => None,
    }
}

/// Program types whose test runs take packet data and give it back.
pub fn takes_packet(t: ProgType) -> bool {
    matches!(
        t,
        ProgType::SOCKET_FILTER
            | ProgType::SCHED_CLS
            | ProgType::SCHED_ACT
            | ProgType::XDP
            | ProgType::CGROUP_SKB
            | ProgType::LWT_IN
            | ProgType::LWT_OUT
            | ProgType::LWT_XMIT
            | ProgType::LWT_SEG6LOCAL
            | ProgType::FLOW_DISSECTOR
    )
}

/// Parses `--data` hex: `00ff10`, `00 ff 10`, `00:ff:10`, optional `0x`.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let s = s.strip_prefix("0x").unwrap_or(s);
    let digits: Vec<u8> = s.bytes().filter(|b| !matches!(b, b' ' | b':' | b'\n' | b'\t' | b'-' | b'_')).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks(2)
        .map(|p| {
            let h = std::str::from_utf8(p).map_err(|_| "not hex".to_string())?;
            u8::from_str_radix(h, 16).map_err(|_| format!("`{h}` is not a hex byte"))
        })
        .collect()
}

/// What an skb test run keeps free in the data page: NET_SKB_PAD headroom
/// (64) and the aligned skb_shared_info (320), on x86-64.
const SKB_TEST_OVERHEAD: usize = 384;

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().map_or(4096, |p| p as usize)
}

/// Runs a loaded program once (or `repeat` times) on `data`.
pub fn run(prog: &LoadedProg, prog_type: ProgType, data: &[u8], repeat: u32) -> Result<TestRunResult, VerifyError> {
    let packet = takes_packet(prog_type);
    let opts =
        TestRun { data_in: data, data_out_len: packet.then_some(data.len() + 256), repeat, ..Default::default() };
    prog.test_run(&opts).map_err(|e| {
        // 524 is the kernel-internal ENOTSUPP test runs return for types without a test-run hook.
        let why = match e.errno().map(|e| e as i32) {
            Some(95) | Some(524) => Some(format!("the kernel cannot test-run {prog_type} programs")),
            Some(libc::EINVAL) if packet && data.len() + SKB_TEST_OVERHEAD > page_size() => Some(format!(
                "{} bytes of data is more than fits: the kernel copies a test run's packet into one page ({} bytes) \
                 with room for its headers, so skb-based types take at most {} bytes here; give less data",
                data.len(),
                page_size(),
                page_size() - SKB_TEST_OVERHEAD
            )),
            Some(libc::EINVAL) if packet && data.len() < 14 => Some(format!(
                "{prog_type} test runs need at least 14 bytes of data, an Ethernet header; got {}",
                data.len()
            )),
            Some(libc::EINVAL) if packet && data.get(12..14) == Some(&[0x08, 0x00]) && data.len() < 34 => Some(format!(
                "the Ethernet type says IPv4: the kernel wants a whole IPv4 header after it, 34 bytes in all; got {}",
                data.len()
            )),
            Some(libc::EINVAL) if packet && data.get(12..14) == Some(&[0x86, 0xdd]) && data.len() < 54 => Some(format!(
                "the Ethernet type says IPv6: the kernel wants a whole IPv6 header after it, 54 bytes in all; got {}",
                data.len()
            )),
            _ => None,
        };
        // A specific reason replaces the syscall layer's generic hint.
        match (why, e.errno()) {
            (Some(why), Some(errno)) => VerifyError::Input(format!("the kernel refused the test run ({errno}): {why}")),
            _ => VerifyError::Input(e.to_string()),
        }
    })
}

/// Decodes bytes back to instructions (for callers holding raw bytes).
pub fn listing_of(bytes: &[u8]) -> Option<Vec<(usize, Insn)>> {
    decode_all(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_with_bad_deref() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (61) r1 = *(u32 *)(r1 +8)          ; R1_w=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))\n1: (61) r0 = *(u32 *)(r1 +0)\nR1 invalid mem access 'scalar'\nprocessed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        let a = analyze_log(log);
        assert_eq!(a.message, "R1 invalid mem access 'scalar'");
        assert_eq!(a.insn, Some(1));
        assert_eq!(a.insn_line.as_deref(), Some("1: (61) r0 = *(u32 *)(r1 +0)"));
        assert_eq!(a.regs.as_deref(), Some("R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0"));
    }

    #[test]
    fn log_without_insns() {
        let a = analyze_log("unreachable insn 2\nverification time 5 usec\n");
        assert_eq!(a.message, "unreachable insn 2");
        assert_eq!(a.insn, Some(2));
        let a = analyze_log("back-edge from insn 3 to 1\n");
        assert_eq!(a.insn, Some(3));
        let a = analyze_log("0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\n");
        assert_eq!((a.message.as_str(), a.insn, a.regs.as_deref()), ("R0 !read_ok", Some(0), Some("R1=ctx() R10=fp0")));
    }

    // Linux 6.18, docs/exercises/04-packet-bounds/task.s (log level 1): the
    // check on r4 proves the range for r2 too (same packet, id 0).
    #[test]
    fn a_bounds_check_proves_the_range_for_the_copies() {
        let log = "0: R1=ctx() R10=fp0
0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=pkt(r=0)
1: (61) r3 = *(u32 *)(r1 +4)          ; R1=ctx() R3=pkt_end()
2: (bf) r4 = r2                       ; R2=pkt(r=0) R4=pkt(r=0)
3: (07) r4 += 12                      ; R4=pkt(off=12,r=0)
4: (b7) r0 = 0                        ; R0=0
5: (2d) if r4 > r3 goto pc+1          ; R3=pkt_end() R4=pkt(off=12,r=12)
6: (71) r0 = *(u8 *)(r2 +12)
invalid access to packet, off=12 size=1, R2(id=0,off=12,r=12)
R2 offset is outside of the packet
processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";
        let a = analyze_log(log);
        assert_eq!(a.insn, Some(6));
        assert_eq!(a.regs.as_deref(), Some("R0=0 R1=ctx() R2=pkt(r=12) R3=pkt_end() R4=pkt(off=12,r=12) R10=fp0"));
    }

    // Linux 6.18, docs/exercises/12-bpf-call/task.s (log level 1): after the
    // call the caller's r1 is unreadable; the callee's r1 is another frame's.
    #[test]
    fn after_a_call_the_callers_arguments_are_gone() {
        let log = "0: R1=ctx() R10=fp0
0: (61) r1 = *(u32 *)(r1 +0)          ; R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
1: (85) call pc+2
caller:
 R10=fp0
callee:
 frame1: R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
4: frame1: R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
4: (bf) r0 = r1                       ; frame1: R0=scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R1=scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
5: (67) r0 <<= 1                      ; frame1: R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1fffffffe))
6: (95) exit
returning from callee:
 frame1: R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1fffffffe)) R1=scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
to caller at 2:
 R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1fffffffe)) R10=fp0
2: (0f) r0 += r1
R1 !read_ok
";
        let a = analyze_log(log);
        assert_eq!((a.message.as_str(), a.insn), ("R1 !read_ok", Some(2)));
        assert_eq!(
            a.regs.as_deref(),
            Some("R0=scalar(smin=0,smax=umax=0x1fffffffe,var_off=(0x0; 0x1fffffffe)) R10=fp0")
        );
        // Inside the callee the state is the callee's frame, named.
        let cut = &log[..log.find("6: (95)").unwrap()];
        let a = analyze_log(&format!("{cut}6: (95) exit\nsome error\n"));
        assert!(a.regs.as_deref().unwrap().starts_with("frame1: R0=scalar(smin=0,"), "{a:?}");
        // A log without a full state: nothing rather than a guess.
        let a = analyze_log("3: (07) r4 += 12 ; R4=pkt(off=12,r=0)\n4: (95) exit\nR0 !read_ok\n");
        assert_eq!(a.regs, None);
    }

    #[test]
    fn hex_and_maps() {
        assert_eq!(parse_hex("00 ff:10").unwrap(), vec![0, 255, 16]);
        assert!(parse_hex("abc").is_err());
        let (n, s) = parse_map_arg("counts=array,4,8,1").unwrap();
        assert_eq!((n.as_str(), s.map_type, s.value_size), ("counts", MapType::ARRAY, 8));
        assert!(parse_map_arg("x=nope,4,8,1").is_err());
    }
}
