//! `sockasm bench --svg`: the ratios as a horizontal bar chart, plain SVG
//! written by hand (no dependency). One group per cell and placement, two
//! bars (bypass/TCP, bypass/AF_UNIX), a line at 1.0; readable on its own.

use std::fmt::Write;

use super::report::{figure, fmt_size};
use super::{Placement, Report, Workload};

const WIDTH: f64 = 960.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 70.0;
const BAR: f64 = 13.0;
const GAP: f64 = 3.0;
const GROUP: f64 = 2.0 * BAR + GAP + 9.0;
const HEADER: f64 = 26.0;
const TCP_COLOR: &str = "#2f6db5";
const UNIX_COLOR: &str = "#e08a1e";

/// Text for XML content and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The largest value of the axis: at least 2, above every ratio, on a half step.
fn axis_max(ratios: impl Iterator<Item = f64>) -> f64 {
    let m = ratios.filter(|r| r.is_finite()).fold(2.0f64, f64::max);
    ((m * 2.0).ceil() / 2.0).min(20.0)
}

impl Report {
    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> String {
        // (placement, label, bypass/tcp, bypass/unix) per table row.
        let mut groups: Vec<(Placement, String, Option<f64>, Option<f64>)> = Vec::new();
        for (p, w, size) in self.cells() {
            let Some((b, t, u)) = self.trio(p, w, size) else { continue };
            let ratio = |x: f64| (x > 0.0).then(|| figure(b) / x);
            let what = match w {
                Workload::Rr => "rr",
                Workload::Stream => "stream",
            };
            groups.push((p, format!("{what} {}", fmt_size(size)), ratio(figure(t)), ratio(figure(u))));
        }
        let max = axis_max(groups.iter().flat_map(|g| [g.2, g.3]).flatten());
        let plot_w = WIDTH - LEFT - RIGHT;
        let x = |v: f64| LEFT + v.clamp(0.0, max) / max * plot_w;
        let placements: Vec<Placement> =
            self.config.placements.iter().copied().filter(|p| groups.iter().any(|g| g.0 == *p)).collect();
        let top = 108.0;
        let plot_h = groups.len() as f64 * GROUP + placements.len() as f64 * HEADER;
        let height = top + plot_h + 78.0;
        let mut s = String::new();
        let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" font-size="16" font-weight="bold" text-anchor="middle">sockasm bench: the bypass against plain TCP and AF_UNIX on one host</text>"#,
            WIDTH / 2.0
        );
        let m = &self.machine;
        let c = &self.config;
        for (y, line) in [
            (
                40,
                format!(
                    "{} CPUs ({}), Linux {}; {} s per cell, median of {} run(s), {} connection(s)",
                    m.cpus, m.cpu_model, m.kernel, c.seconds, c.repeat, c.conns
                ),
            ),
            (56, self.placement_note()),
        ] {
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{y}" text-anchor="middle" fill="#444">{}</text>"##,
                WIDTH / 2.0,
                esc(&line)
            );
        }
        // Legend.
        let ly = 78.0;
        for (i, (color, text)) in [
            (TCP_COLOR, "bypass / TCP over loopback"),
            (UNIX_COLOR, "bypass / AF_UNIX (the best a bypass can hope for)"),
        ]
        .iter()
        .enumerate()
        {
            let lx = LEFT + i as f64 * 250.0;
            let _ = writeln!(s, r#"<rect x="{lx}" y="{}" width="14" height="12" fill="{color}"/>"#, ly - 10.0);
            let _ = writeln!(s, r#"<text x="{}" y="{ly}">{}</text>"#, lx + 19.0, esc(text));
        }
        // Grid and axis labels, top and bottom.
        let step = if max > 6.0 { 1.0 } else { 0.5 };
        let bottom = top + plot_h;
        let mut v = 0.0;
        while v <= max + 1e-9 {
            let gx = x(v);
            let _ = writeln!(
                s,
                r##"<line x1="{gx:.1}" y1="{top}" x2="{gx:.1}" y2="{bottom}" stroke="#ddd" stroke-width="1"/>"##
            );
            let _ =
                writeln!(s, r##"<text x="{gx:.1}" y="{}" text-anchor="middle" fill="#444">{v:.1}×</text>"##, top - 6.0);
            let _ = writeln!(
                s,
                r##"<text x="{gx:.1}" y="{}" text-anchor="middle" fill="#444">{v:.1}×</text>"##,
                bottom + 15.0
            );
            v += step;
        }
        // The line at 1.0 (right of it the bypass is faster), under the bars.
        let one = x(1.0);
        let _ = writeln!(
            s,
            r##"<line x1="{one:.1}" y1="{}" x2="{one:.1}" y2="{}" stroke="#c00" stroke-width="2" stroke-dasharray="6,3"/>"##,
            top - 2.0,
            bottom + 2.0
        );
        // Bars.
        let mut y = top;
        for p in &placements {
            let _ = writeln!(
                s,
                r#"<text x="8" y="{}" font-weight="bold">{}</text>"#,
                y + 17.0,
                esc(match p {
                    Placement::SameCpu => "same-cpu: both endpoints on one CPU",
                    Placement::Spread => "spread: the endpoints on two CPUs",
                    Placement::Free => "free: nothing pinned, the scheduler decides",
                })
            );
            y += HEADER;
            for (gp, label, rt, ru) in &groups {
                if gp != p {
                    continue;
                }
                let _ = writeln!(
                    s,
                    r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                    LEFT - 8.0,
                    y + BAR + GAP / 2.0 + 4.0,
                    esc(label)
                );
                for (i, (r, color, vs)) in [(rt, TCP_COLOR, "tcp"), (ru, UNIX_COLOR, "unix")].into_iter().enumerate() {
                    let by = y + i as f64 * (BAR + GAP);
                    let val = r.unwrap_or(0.0);
                    let w = x(val) - LEFT;
                    let shown = r.map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}"));
                    let _ = writeln!(
                        s,
                        r#"<rect class="bar" data-placement="{}" data-cell="{}" data-vs="{vs}" x="{LEFT}" y="{by:.1}" width="{w:.1}" height="{BAR}" fill="{color}"><title>{} {}: bypass/{vs} {shown}</title></rect>"#,
                        p.name(),
                        esc(label),
                        p.name(),
                        esc(label)
                    );
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{:.1}" font-size="11" stroke="white" stroke-width="3" paint-order="stroke">{shown}</text>"#,
                        x(val) + 4.0,
                        by + BAR - 2.0
                    );
                }
                y += GROUP;
            }
        }
        let _ =
            writeln!(s, r##"<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#000" stroke-width="1"/>"##);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + plot_w / 2.0,
            bottom + 36.0,
            esc(
                "bypass throughput ÷ the other transport's (rr: transactions/s, stream: Gbit/s); right of the red 1.0 line the bypass is faster"
            )
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#444">{}</text>"##,
            LEFT + plot_w / 2.0,
            bottom + 54.0,
            esc(
                "rr: request/response ping-pong of SIZE bytes; stream: one-way writes of SIZE bytes. Every byte verified."
            )
        );
        let _ = writeln!(s, "</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_and_escaping() {
        assert_eq!(axis_max([0.5, 1.2].into_iter()), 2.0);
        assert_eq!(axis_max([2.3].into_iter()), 2.5);
        assert_eq!(axis_max([f64::INFINITY, 1e9].into_iter()), 20.0);
        assert_eq!(esc("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
