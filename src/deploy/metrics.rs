//! The Prometheus text exposition of a status: what `sockasm status
//! --format prometheus` prints and `sockasm agent` serves on /metrics.

use super::orphans::Orphan;
use super::stale::Stale;
use super::status::Status;
use crate::progs::counters::Counter;

/// A Prometheus label value: backslash, double quote and newline escaped.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The status in the Prometheus text exposition format (version 0.0.4).
/// Every sample has a `pin_dir` label, so that several bypasses can be
/// exported side by side.
pub fn prometheus(st: &Status, orphans: &[Orphan], stale: &[Stale]) -> String {
    use std::fmt::Write;
    let pin = format!("pin_dir=\"{}\"", label(&st.pin_dir.display().to_string()));
    let mut s = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(s, "# HELP {name} {help}");
        let _ = writeln!(s, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(s, "{name}{{{pin}{labels}}} {v}");
        }
    };
    let one = |v: u64| [(String::new(), v)];
    family("sockasm_loaded", "gauge", "1 if the bypass is pinned in pin_dir, else 0.", &one(st.loaded as u64));
    family(
        "sockasm_orphaned_programs",
        "gauge",
        "sockasm sock_ops programs attached to a cgroup with no pin left (see sockasm status).",
        &one(orphans.len() as u64),
    );
    family(
        "sockasm_stale_leftovers",
        "gauge",
        "Cgroups, pin directories and files of killed sockasm bench/exec runs (sockasm unload --stale removes them).",
        &one(stale.len() as u64),
    );
    if !st.loaded {
        return s;
    }
    let attached: Vec<(String, u64)> =
        st.cgroups.iter().map(|c| (format!(",cgroup=\"{}\"", label(&c.display().to_string())), 1)).collect();
    family("sockasm_attached", "gauge", "1 for each cgroup the bypass's sock_ops program is attached to.", &attached);
    if let Some(m) = &st.map {
        family("sockasm_sockets", "gauge", "Sockets in the SOCKHASH.", &one(m.entries as u64));
        family("sockasm_sockets_max", "gauge", "Capacity of the SOCKHASH.", &one(m.max_entries as u64));
    }
    if let Some(c) = &st.config {
        family(
            "sockasm_peer_aware",
            "gauge",
            "1 if writes are bounded by the peer's receive queue, 0 if peer-blind.",
            &one(c.peer_aware as u64),
        );
    }
    for c in Counter::ALL {
        let name = format!("sockasm_{}_total", c.name());
        family(&name, "counter", c.help(), &one(st.counters.get(c)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{label, prometheus};
    use crate::deploy::status::Status;
    use crate::progs::counters::Counter;
    use std::path::{Path, PathBuf};

    #[test]
    fn prometheus_labels_are_escaped() {
        assert_eq!(label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        let st = Status {
            loaded: true,
            cgroups: vec![PathBuf::from("/sys/fs/cgroup/a b"), PathBuf::from("/sys/fs/cgroup/c\nd")],
            ..Status::not_loaded(Path::new("/sys/fs/bpf/x\"y"))
        };
        let text = prometheus(&st, &[], &[]);
        assert!(
            text.contains("sockasm_attached{pin_dir=\"/sys/fs/bpf/x\\\"y\",cgroup=\"/sys/fs/cgroup/c\\nd\"} 1"),
            "{text}"
        );
        assert!(text.contains("# TYPE sockasm_redirected_bytes_total counter\n"), "{text}");
        assert_eq!(text.lines().filter(|l| l.ends_with("_total counter")).count(), Counter::ALL.len());
    }
}
