//! The benchmark's output: a Markdown table (readable in a terminal, pasteable
//! into docs) and one JSON object with the same data.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::{Machine, Placement, Report, Row, Samples, Transport, Workload};
use crate::deploy::ProgStatus;
use crate::progs::counters::{Counter, Totals};

/// `64 B`, `16 KiB`, `1 MiB`, or plain bytes when not a round power.
pub fn fmt_size(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

fn fmt_count(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.2}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn fmt_us(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

fn fmt_gbps(v: f64) -> String {
    if v >= 10.0 { format!("{v:.1}") } else { format!("{v:.2}") }
}

/// `40%`: the share of samples with both ends on one CPU (`-` without samples).
fn fmt_share(s: &Samples) -> String {
    s.together_share().map_or_else(|| "-".into(), |v| format!("{:.0}%", v * 100.0))
}

/// CPU cost: µs per transaction (rr), ms per GiB (stream).
pub fn fmt_cpu(w: Workload, us_per_op: f64) -> String {
    match w {
        Workload::Rr => format!("{} µs/tx", fmt_us(us_per_op)),
        Workload::Stream => format!("{:.0} ms/GiB", us_per_op / 1e3),
    }
}

/// The figure ratios compare: tps (rr) or Gbit/s (stream); higher is better.
pub fn figure(r: &Row) -> f64 {
    r.tps.or(r.gbps).unwrap_or(0.0)
}

fn cell(r: &Row) -> String {
    match r.workload {
        Workload::Rr => format!(
            "{} tps ({} / {} µs)",
            fmt_count(r.tps.unwrap_or(0.0)),
            fmt_us(r.p50_us.unwrap_or(0.0)),
            fmt_us(r.p99_us.unwrap_or(0.0))
        ),
        Workload::Stream => format!("{} Gbit/s", fmt_gbps(r.gbps.unwrap_or(0.0))),
    }
}

/// Share of the row's bytes that sk_msg redirected (bypass rows). The rest
/// went over TCP: passed by sk_msg, or written after the socket left the
/// SOCKHASH, where sk_msg no longer sees them.
pub fn redirected_share(r: &Row) -> Option<f64> {
    let redir = r.counters.get(Counter::RedirectedBytes) as f64;
    let seen = redir + r.counters.get(Counter::PassedBytes) as f64;
    let total = seen.max(r.verified_bytes as f64);
    (r.transport == Transport::Bypass && total > 0.0).then(|| redir / total)
}

/// More than 1% of a bypass row's bytes went over TCP (small-write fallback or a miss).
fn mostly_tcp(r: &Row) -> bool {
    redirected_share(r).is_some_and(|s| s < 0.99)
}

/// The bypass loses to plain TCP on this row's figure.
pub fn loses(bypass: &Row, tcp: &Row) -> bool {
    figure(bypass) < figure(tcp)
}

impl Report {
    pub fn row(&self, p: Placement, w: Workload, size: usize, t: Transport) -> Option<&Row> {
        self.rows.iter().find(|r| r.placement == p && r.workload == w && r.size == size && r.transport == t)
    }

    /// A cell's bypass, TCP and AF_UNIX rows, when all three ran.
    pub fn trio(&self, p: Placement, w: Workload, size: usize) -> Option<(&Row, &Row, &Row)> {
        Some((
            self.row(p, w, size, Transport::Bypass)?,
            self.row(p, w, size, Transport::Tcp)?,
            self.row(p, w, size, Transport::Unix)?,
        ))
    }

    /// Where each placement ran, in words.
    pub fn placement_note(&self) -> String {
        let (s, c) = self.cpus;
        let mut parts = Vec::new();
        for p in &self.config.placements {
            parts.push(match p {
                Placement::SameCpu => format!("same-cpu: server and client both on CPU {s}"),
                Placement::Spread => format!("spread: server on CPU {s}, client on CPU {c}"),
                Placement::Free => format!(
                    "free: neither pinned, the scheduler places both on CPUs {}",
                    crate::traffic::probe::cpu_list(&self.allowed)
                ),
            });
        }
        parts.join("; ")
    }

    /// The whole human-readable report.
    pub fn table(&self) -> String {
        let c = &self.config;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "sockasm bench: {} s per cell after {} s warm-up, median of {} run{}, {} connection{} per cell; {} CPUs ({}), Linux {}",
            c.seconds,
            c.warmup().as_secs_f64(),
            c.repeat,
            if c.repeat == 1 { "" } else { "s" },
            c.conns,
            if c.conns == 1 { "" } else { "s in parallel, aggregate figures" },
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.kernel
        );
        let _ = writeln!(
            out,
            "rr: request/response ping-pong, TCP_NODELAY; transactions/s (p50 / p99 round trip). stream: one-way writes of SIZE, reader buffer 64 KiB; Gbit/s."
        );
        let _ = writeln!(
            out,
            "✗: the bypass is slower than plain TCP. †: more than 1% of the row's bytes went over TCP (small-write fallback; share redirected in brackets). Every byte was checked against the workload pattern."
        );
        let _ = writeln!(
            out,
            "Placement (sched_setaffinity, checked per cell): {}. Same CPU: share of the samples (every {} ms, the CPU each endpoint thread last ran on, /proc/PID/task/TID/stat) with server and client on one CPU. CPU: user + system time of both endpoints in the measured window (their getrusage), per transaction (rr) or per GiB (stream); lower is better.",
            self.placement_note(),
            super::sample::INTERVAL.as_millis()
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| placement | workload | size | bypass | tcp | unix | bypass/tcp | bypass/unix | CPU bypass / tcp / unix | CPU bypass/tcp | same CPU bypass / tcp |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (p, w, size) in self.cells() {
            let Some((b, t, u)) = self.trio(p, w, size) else { continue };
            let lose = loses(b, t);
            let mark = if lose { " ✗" } else { "" };
            let dagger = match redirected_share(b) {
                Some(sh) if mostly_tcp(b) => format!(" † [{:.0}% redirected]", sh * 100.0),
                _ => String::new(),
            };
            let ratio = |x: &Row| {
                let d = figure(x);
                if d > 0.0 { format!("{:.2}", figure(b) / d) } else { "-".into() }
            };
            let cpu = match w {
                Workload::Rr => format!(
                    "{} / {} / {} µs/tx",
                    fmt_us(b.cpu_us_per_op),
                    fmt_us(t.cpu_us_per_op),
                    fmt_us(u.cpu_us_per_op)
                ),
                Workload::Stream => format!(
                    "{:.0} / {:.0} / {:.0} ms/GiB",
                    b.cpu_us_per_op / 1e3,
                    t.cpu_us_per_op / 1e3,
                    u.cpu_us_per_op / 1e3
                ),
            };
            let cpu_ratio =
                if t.cpu_us_per_op > 0.0 { format!("{:.2}", b.cpu_us_per_op / t.cpu_us_per_op) } else { "-".into() };
            let together = format!("{} / {}", fmt_share(&b.samples), fmt_share(&t.samples));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {}{dagger}{mark} | {} | {} | {}{mark} | {} | {cpu} | {cpu_ratio} | {together} |",
                p.name(),
                w.name(),
                fmt_size(size),
                cell(b),
                cell(t),
                cell(u),
                ratio(t),
                ratio(u)
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Cost of sockasm: load {:.1} ms (create {} maps, load and verify 2 programs, attach, pin), unload {:.1} ms.",
            self.load.as_secs_f64() * 1e3,
            crate::progs::map_specs(1).len(),
            self.unload.as_secs_f64() * 1e3
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| program | type | verifier: processed insns | xlated bytes | jited bytes |");
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for p in &self.programs {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                p.name,
                p.prog_type,
                p.verifier_insns.map_or_else(|| "-".into(), |n| n.to_string()),
                p.xlated_bytes,
                p.jited_bytes
            );
        }
        if self.config.placements.contains(&Placement::Free) {
            let _ = writeln!(out);
            let _ = writeln!(out, "Where the free endpoints ran (share of samples per CPU):");
            let _ = writeln!(out);
            let _ = writeln!(out, "| workload | size | transport | server | client | same CPU |");
            let _ = writeln!(out, "|---|---:|---|---|---|---:|");
            for r in self.rows.iter().filter(|r| r.placement == Placement::Free) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    r.workload.name(),
                    fmt_size(r.size),
                    r.transport.name(),
                    Samples::shares(&r.samples.server),
                    Samples::shares(&r.samples.client),
                    fmt_share(&r.samples)
                );
            }
        }
        let redirected: u64 = self.rows.iter().map(|r| r.counters.get(Counter::RedirectedBytes)).sum();
        let verified: u64 = self.rows.iter().map(|r| r.verified_bytes).sum();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Checked: {verified} bytes verified; {redirected} bytes redirected, all on bypass rows (tcp and unix rows moved no counter). \
             Cgroup {} and pins {} removed. Total {:.0} s.",
            self.cgroup.display(),
            self.pin_dir.display(),
            self.total.as_secs_f64()
        );
        out
    }

    /// (placement, workload, size) of every table row, in table order.
    pub fn cells(&self) -> Vec<(Placement, Workload, usize)> {
        let c = &self.config;
        let mut v = Vec::new();
        for &p in &c.placements {
            for &w in &c.workloads {
                for &size in &c.sizes {
                    v.push((p, w, size));
                }
            }
        }
        v
    }

    /// `bench --json`.
    pub fn to_json(&self) -> JsonReport {
        let c = &self.config;
        let rows = self
            .rows
            .iter()
            .map(|r| JsonRow {
                placement: r.placement.name().into(),
                workload: r.workload.name().into(),
                size: r.size as u64,
                conns: r.conns,
                transport: r.transport.name().into(),
                p50_us: r.p50_us,
                p99_us: r.p99_us,
                tps: r.tps,
                gbps: r.gbps,
                runs: r.runs.clone(),
                verified_bytes: r.verified_bytes,
                redirected_share: redirected_share(r),
                cpu_us_per_op: r.cpu_us_per_op,
                cpu_per: if r.workload == Workload::Rr { "transaction" } else { "GiB" }.into(),
                server_ran_on: r.ran_on.0.clone(),
                client_ran_on: r.ran_on.1.clone(),
                cpu_samples: r.samples.n,
                same_cpu_share: r.samples.together_share(),
                server_cpu_samples: r.samples.server.clone(),
                client_cpu_samples: r.samples.client.clone(),
                counters: Totals(r.counters.0),
            })
            .collect();
        JsonReport {
            rows,
            load_ms: self.load.as_secs_f64() * 1e3,
            unload_ms: self.unload.as_secs_f64() * 1e3,
            programs: self.programs.clone(),
            seconds: c.seconds,
            warmup_s: c.warmup().as_secs_f64(),
            repeat: c.repeat,
            conns: c.conns,
            sizes: c.sizes.iter().map(|s| *s as u64).collect(),
            placements: c.placements.iter().map(|p| p.name().into()).collect(),
            cpus: JsonCpus { server: self.cpus.0, client_spread: self.cpus.1 },
            allowed_cpus: crate::traffic::probe::cpu_list(&self.allowed),
            machine: self.machine.clone(),
            cgroup: self.cgroup.display().to_string(),
            pin_dir: self.pin_dir.display().to_string(),
            cleaned_up: self.cleaned_up,
            total_s: self.total.as_secs_f64(),
        }
    }
}

/// `sockasm bench --json`: the table's rows and how the run went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonReport {
    pub rows: Vec<JsonRow>,
    pub load_ms: f64,
    pub unload_ms: f64,
    pub programs: Vec<ProgStatus>,
    pub seconds: f64,
    pub warmup_s: f64,
    pub repeat: u32,
    pub conns: u32,
    pub sizes: Vec<u64>,
    pub placements: Vec<String>,
    pub cpus: JsonCpus,
    /// The CPUs the benchmark may use, as `0,1`.
    pub allowed_cpus: String,
    pub machine: Machine,
    pub cgroup: String,
    pub pin_dir: String,
    pub cleaned_up: bool,
    pub total_s: f64,
}

/// The CPUs the pinned placements use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonCpus {
    pub server: usize,
    pub client_spread: usize,
}

/// One table row: a cell's median over its runs, with how it was checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonRow {
    pub placement: String,
    pub workload: String,
    pub size: u64,
    pub conns: u32,
    pub transport: String,
    /// rr only (null for stream), and the reverse for `gbps`.
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub tps: Option<f64>,
    pub gbps: Option<f64>,
    pub runs: Vec<f64>,
    pub verified_bytes: u64,
    pub redirected_share: Option<f64>,
    pub cpu_us_per_op: f64,
    /// What `cpu_us_per_op` is per: `transaction` or `GiB`.
    pub cpu_per: String,
    pub server_ran_on: String,
    pub client_ran_on: String,
    pub cpu_samples: u64,
    pub same_cpu_share: Option<f64>,
    /// Samples per CPU number.
    pub server_cpu_samples: BTreeMap<usize, u64>,
    pub client_cpu_samples: BTreeMap<usize, u64>,
    /// What the cell moved the bypass's counters by.
    pub counters: Totals,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_numbers() {
        assert_eq!(fmt_size(64), "64 B");
        assert_eq!(fmt_size(1024), "1 KiB");
        assert_eq!(fmt_size(65536), "64 KiB");
        assert_eq!(fmt_size(1 << 20), "1 MiB");
        assert_eq!(fmt_size(1000), "1000 B");
        assert_eq!(fmt_count(52_123.0), "52.1k");
        assert_eq!(fmt_count(1_234.0), "1.23k");
        assert_eq!(fmt_count(2_500_000.0), "2.50M");
        assert_eq!(fmt_us(17.26), "17.3");
        assert_eq!(fmt_gbps(31.27), "31.3");
        assert_eq!(fmt_cpu(Workload::Rr, 12.34), "12.3 µs/tx");
        assert_eq!(fmt_cpu(Workload::Stream, 310_400.0), "310 ms/GiB");
    }
}
