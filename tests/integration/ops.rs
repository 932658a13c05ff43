//! What platform engineers run: `status --format prometheus` read by the
//! Prometheus client's own parser, completion scripts read by their shells,
//! the man page rendered by man, the systemd unit checked by systemd-analyze.
//! A tool that is not installed skips its test with a note (.ci/run installs
//! all of them).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::kernel::harness::{Env, show, sockasm};
use crate::kernel::json::{Field, Value, parse};
use crate::kernel::kernel_ok;

const BIN: &str = env!("CARGO_BIN_EXE_sockasm");
/// Debian's python3-prometheus-client is for Debian's interpreter, which
/// need not be the `python3` on PATH.
const PYTHON: &str = "/usr/bin/python3";

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

fn run_with_stdin(cmd: &str, args: &[&str], input: &[u8]) -> Output {
    let mut c = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    c.stdin.take().expect("stdin").write_all(input).expect("write stdin");
    c.wait_with_output().expect("wait")
}

/// Parses exposition text with prometheus_client and prints
/// `{"family": {"type": T, "samples": [[name, labels, value], ...]}}`.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
print(json.dumps(out))
"#;

pub(crate) fn prometheus_client() -> bool {
    let ok = Command::new(PYTHON).args(["-c", "import prometheus_client"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping: {PYTHON} has no prometheus_client (apt-get install python3-prometheus-client)");
    }
    ok
}

pub(crate) fn parse_exposition(text: &[u8]) -> Value {
    let o = run_with_stdin(PYTHON, &["-c", PARSE], text);
    assert!(o.status.success(), "prometheus_client rejected:\n{}\n{}", String::from_utf8_lossy(text), show(&o));
    parse(String::from_utf8_lossy(&o.stdout).trim()).expect("parser output")
}

/// The samples of one family: (sample name, labels object, value).
pub(crate) fn samples<'a>(v: &'a Value, family: &str) -> Vec<(&'a str, &'a Value, f64)> {
    let Some(f) = v.get(family) else { panic!("no family {family}") };
    f.arr("samples")
        .iter()
        .map(|s| match s {
            Value::Array(x) => {
                (x[0].as_str().expect("name"), &x[1], x[2].as_f64().unwrap_or_else(|| panic!("value {:?}", x[2])))
            }
            other => panic!("sample {other:?}"),
        })
        .collect()
}

#[test]
fn status_prometheus_parses_with_the_real_parser() {
    if !kernel_ok() || !prometheus_client() {
        return;
    }
    let env = Env::new();
    // Not loaded: only the loaded/leftover gauges.
    let o = sockasm(&["status", "--pin-dir", env.pin_str(), "--format", "prometheus"]);
    assert!(o.status.success(), "{}", show(&o));
    let v = parse_exposition(&o.stdout);
    assert_eq!(samples(&v, "sockasm_loaded")[0].2, 0.0);
    assert!(v.get("sockasm_redirected_bytes").is_none());

    env.load(&[]);
    let (mut srv, port) = env.server(true, None, &["--listen", "127.0.0.1:0"]);
    let target = format!("127.0.0.1:{port}");
    let mut cli = env.client(true, None, &["--connect", &target, "--bytes", "65536", "--half-close"]);
    cli.finish();
    srv.finish();
    let o = sockasm(&["status", "--pin-dir", env.pin_str(), "--format", "prometheus"]);
    assert!(o.status.success(), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let v = parse_exposition(&o.stdout);
    let pin = env.pin_str();
    let loaded = samples(&v, "sockasm_loaded");
    assert_eq!(loaded[0].2, 1.0, "{text}");
    assert_eq!(loaded[0].1.get("pin_dir").and_then(Value::as_str), Some(pin), "{text}");
    let attached = samples(&v, "sockasm_attached");
    assert_eq!(attached.len(), 1, "{text}");
    assert_eq!(attached[0].1.get("cgroup").and_then(Value::as_str), Some(env.cg_str()), "{text}");
    assert_eq!(v.at("sockasm_sockets").get("type").and_then(Value::as_str), Some("gauge"));
    // Every counter, as a counter family sockasm_<name> with a _total sample.
    let json = crate::kernel::harness::status_of(&env.pin);
    let Some(Value::Object(counters)) = json.get("counters") else { panic!("status --json has no counters") };
    assert_eq!(counters.len(), sockasm::progs::counters::Counter::ALL.len());
    for (name, val) in counters {
        let fam = format!("sockasm_{name}");
        assert_eq!(v.at(&fam).get("type").and_then(Value::as_str), Some("counter"), "{fam}: {text}");
        let s = samples(&v, &fam);
        assert_eq!(s[0].0, format!("{fam}_total"));
        let Some(want) = val.as_f64() else { panic!("{name}") };
        // The traffic has ended: the counters no longer move.
        assert_eq!(s[0].2, want, "{fam}: {text}");
    }
    assert!(samples(&v, "sockasm_redirected_bytes")[0].2 > 0.0, "{text}");
    // --json and --format json are the same; together with another format, an error.
    let a = sockasm(&["status", "--pin-dir", pin, "--json"]);
    let b = sockasm(&["status", "--pin-dir", pin, "--format", "json"]);
    assert!(parse(String::from_utf8_lossy(&b.stdout).trim()).is_ok(), "{}", show(&b));
    assert_eq!(a.stdout.len(), b.stdout.len(), "{}\n{}", show(&a), show(&b));
    let c = sockasm(&["status", "--json", "--format", "text"]);
    assert!(!c.status.success(), "{}", show(&c));
}

#[test]
fn completions_parse_in_their_shells() {
    for (shell, check) in [("bash", "bash"), ("zsh", "zsh"), ("fish", "fish")] {
        let o = sockasm(&["completions", shell]);
        assert!(o.status.success() && !o.stdout.is_empty(), "{}", show(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("exec"), "{shell}: no exec subcommand");
        if !have(check) {
            eprintln!("skipping the {shell} syntax check: {check} is not installed");
            continue;
        }
        let dir = std::env::temp_dir().join(crate::kernel::harness::unique("sockasm-completions"));
        std::fs::create_dir(&dir).expect("mkdir");
        let file = dir.join(format!("sockasm.{shell}"));
        std::fs::write(&file, &o.stdout).expect("write script");
        let r = Command::new(check).arg("-n").arg(&file).output().expect("run shell");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(r.status.success(), "{check} -n rejects the {shell} completions: {}", show(&r));
    }
    assert!(!sockasm(&["completions", "tcsh"]).status.success());
}

#[test]
fn man_pages_render() {
    let o = sockasm(&["man"]);
    assert!(o.status.success(), "{}", show(&o));
    let roff = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(roff.starts_with(".ie") || roff.contains(".TH sockasm"), "not roff:\n{roff}");
    let sub = sockasm(&["man", "exec"]);
    assert!(
        sub.status.success() && String::from_utf8_lossy(&sub.stdout).contains(".TH sockasm-exec"),
        "{}",
        show(&sub)
    );
    let bad = sockasm(&["man", "worker"]);
    assert!(!bad.status.success(), "hidden subcommands have no page: {}", show(&bad));
    if !have("man") {
        eprintln!("skipping man -l: man is not installed (apt-get install man-db)");
        return;
    }
    for (page, want) in [(&o.stdout, "SUBCOMMANDS"), (&sub.stdout, "--max-queue")] {
        // MANPAGER/PAGER=cat and no terminal: plain text on stdout.
        let r = Command::new("sh")
            .args(["-c", "MANPAGER=cat PAGER=cat MANWIDTH=80 man -l -"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().expect("stdin").write_all(page)?;
                c.wait_with_output()
            })
            .expect("run man -l");
        let text = String::from_utf8_lossy(&r.stdout);
        assert!(r.status.success() && text.contains(want), "man -l: {}", show(&r));
        assert!(r.stderr.is_empty(), "man -l warns: {}", show(&r));
    }
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd/sockasm.service");
    let text = std::fs::read_to_string(&unit).expect("read the unit");
    for want in [
        "Type=oneshot",
        "RemainAfterExit=yes",
        "Environment=SOCKASM_CGROUP=",
        "ExecStart=/usr/local/bin/sockasm load --cgroup ${SOCKASM_CGROUP}",
        "ExecStop=/usr/local/bin/sockasm unload --cgroup ${SOCKASM_CGROUP}",
    ] {
        assert!(text.contains(want), "the unit lacks {want}");
    }
    if !have("systemd-analyze") {
        eprintln!("skipping systemd-analyze verify: it is not installed (apt-get install systemd)");
        return;
    }
    // verify wants the executables to exist: the built binary stands in for
    // /usr/local/bin/sockasm; nothing else changes.
    let dir = std::env::temp_dir().join(crate::kernel::harness::unique("sockasm-unit"));
    std::fs::create_dir(&dir).expect("mkdir");
    let copy = dir.join("sockasm.service");
    std::fs::write(&copy, text.replace("/usr/local/bin/sockasm", BIN)).expect("write unit");
    let o = Command::new("systemd-analyze").arg("verify").arg(&copy).output().expect("run systemd-analyze");
    let _ = std::fs::remove_dir_all(&dir);
    // It exits 0 on mistakes it ignores (an unknown key): any output fails.
    assert!(o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(), "{}", show(&o));
}
