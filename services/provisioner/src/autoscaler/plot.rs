//! An SVG of simulated runs: queue depth (shaded) and workers over time, one
//! panel per policy, on shared axes so the panels compare at a glance.

use std::fmt::Write as _;

use super::simulate::Outcome;

const WIDTH: f64 = 900.0;
const PANEL: f64 = 170.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const GAP: f64 = 45.0;

/// The SVG document for `outcomes` of the trace named `title`.
pub fn svg(title: &str, outcomes: &[Outcome]) -> String {
    let end = outcomes.iter().flat_map(|o| o.samples.last()).map(|s| s.secs).fold(1.0, f64::max);
    let peak_queue = outcomes.iter().flat_map(|o| &o.samples).map(|s| s.queued).max().unwrap_or(0).max(1) as f64;
    let peak_workers = outcomes.iter().map(|o| o.max_workers).max().unwrap_or(0).max(1) as f64;
    let height = TOP + outcomes.len() as f64 * (PANEL + GAP) + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{} — queued datums (grey, left axis) and workers (blue, right axis)</text>"##,
        escape(title)
    );
    let plot_width = WIDTH - LEFT - RIGHT;
    for (n, outcome) in outcomes.iter().enumerate() {
        let top = TOP + n as f64 * (PANEL + GAP);
        let bottom = top + PANEL;
        let x = |secs: f64| LEFT + secs / end * plot_width;
        let queue_y = |q: f64| bottom - q / peak_queue * PANEL;
        let workers_y = |w: f64| bottom - w / peak_workers * PANEL;
        let _ = writeln!(
            out,
            r##"<text x="{LEFT}" y="{}" font-weight="bold">{}: {:.0} worker-seconds, makespan {:.0} s, p95 job latency {:.0} s</text>"##,
            top - 6.0,
            escape(&outcome.policy.to_string()),
            outcome.worker_seconds,
            outcome.makespan_secs,
            outcome.p95_job_latency_secs
        );
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{top}" width="{plot_width}" height="{PANEL}" fill="none" stroke="#cccccc"/>"##
        );
        let mut area = format!("{LEFT:.1},{bottom:.1} ");
        let mut line = String::new();
        // At most about 600 points a line: finer than the picture can show.
        let every = (outcome.samples.len() / 600).max(1);
        let last = outcome.samples.len().saturating_sub(1);
        let shown = outcome.samples.iter().enumerate().filter(|(i, _)| i % every == 0 || *i == last);
        for (_, sample) in shown {
            let _ = write!(area, "{:.1},{:.1} ", x(sample.secs), queue_y(sample.queued as f64));
            let _ = write!(line, "{:.1},{:.1} ", x(sample.secs), workers_y(f64::from(sample.workers)));
        }
        let _ = write!(area, "{:.1},{bottom:.1}", x(outcome.samples.last().map_or(0.0, |s| s.secs)));
        let _ = writeln!(out, r##"<polygon points="{area}" fill="#bbbbbb" fill-opacity="0.6"/>"##);
        let _ = writeln!(out, r##"<polyline points="{line}" fill="none" stroke="#1f5fbf" stroke-width="1.6"/>"##);
        let _ =
            writeln!(out, r##"<text x="{}" y="{}" text-anchor="end">{peak_queue:.0}</text>"##, LEFT - 6.0, top + 10.0);
        let _ = writeln!(out, r##"<text x="{}" y="{bottom}" text-anchor="end">0</text>"##, LEFT - 6.0);
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" fill="#1f5fbf">{peak_workers:.0} workers</text>"##,
            WIDTH - RIGHT - 70.0,
            top + 12.0
        );
        let _ =
            writeln!(out, r##"<text x="{}" y="{}" text-anchor="end">{end:.0} s</text>"##, WIDTH - RIGHT, bottom + 14.0);
    }
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::super::simulate::{Job, Policy, Trace, simulate};
    use super::*;

    #[test]
    fn the_plot_has_a_panel_per_policy_with_its_figures() {
        let trace = Trace {
            name: "a <small> trace".into(),
            description: String::new(),
            worker_start_secs: 2.0,
            datums_per_worker: 1,
            min_workers: 0,
            max_workers: 3,
            cooldown_secs: 10,
            fixed_workers: None,
            nodes: None,
            jobs: vec![Job { at: 0.0, datums: 6, secs: 3.0, durations: Vec::new() }],
        };
        let outcomes: Vec<Outcome> =
            [Policy::Strata, Policy::Fixed(3)].into_iter().map(|p| simulate(&trace, p).unwrap()).collect();
        let svg = svg(&trace.name, &outcomes);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a &lt;small&gt; trace"));
        assert!(svg.contains("worker-seconds"));
    }
}
