//! `strata autoscale simulate`: a queue trace through the autoscaling policy
//! and its baselines.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use serde::Serialize;
use strata_provisioner::autoscaler::{Outcome, Policy, Trace, simulate as run, svg};

use crate::cli::GlobalArgs;
use crate::failure::{Failure, internal, user};
use crate::output::{print_table, say};

/// A run's figures, for `-o json` (without the samples).
#[derive(Debug, Serialize)]
struct Row {
    policy: Policy,
    worker_seconds: f64,
    busy_seconds: f64,
    utilisation: f64,
    makespan_secs: f64,
    p95_job_latency_secs: f64,
    max_workers: u32,
}

impl From<&Outcome> for Row {
    fn from(o: &Outcome) -> Self {
        // A tenth of a second (or of a percent) is all a 100 ms simulation can tell.
        let tenth = |x: f64| (x * 10.0).round() / 10.0;
        let utilisation = if o.worker_seconds > 0.0 { o.busy_seconds / o.worker_seconds } else { 0.0 };
        Row {
            policy: o.policy,
            worker_seconds: tenth(o.worker_seconds),
            busy_seconds: tenth(o.busy_seconds),
            utilisation: (utilisation * 1000.0).round() / 1000.0,
            makespan_secs: tenth(o.makespan_secs),
            p95_job_latency_secs: tenth(o.p95_job_latency_secs),
            max_workers: o.max_workers,
        }
    }
}

pub fn simulate(global: &GlobalArgs, trace_path: &Path, svg_path: Option<&Path>) -> Result<(), Failure> {
    let text = std::fs::read_to_string(trace_path)
        .with_context(|| format!("cannot read the trace {}", trace_path.display()))
        .map_err(user)?;
    let trace: Trace = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a queue trace", trace_path.display()))
        .map_err(user)?;
    let fixed = trace.fixed_workers.unwrap_or(trace.max_workers);
    let mut outcomes = Vec::new();
    for policy in [Policy::Strata, Policy::Fixed(fixed), Policy::KedaLike] {
        outcomes.push(run(&trace, policy).map_err(|e| user(anyhow!(e)))?);
    }
    let rows: Vec<Row> = outcomes.iter().map(Row::from).collect();
    let table = rows
        .iter()
        .map(|r| {
            vec![
                r.policy_name(),
                format!("{:.0}", r.worker_seconds),
                format!("{:.0} %", r.utilisation * 100.0),
                format!("{:.0} s", r.makespan_secs),
                format!("{:.1} s", r.p95_job_latency_secs),
                r.max_workers.to_string(),
            ]
        })
        .collect();
    let headers = ["policy", "worker-seconds", "busy", "makespan", "p95 job latency", "max workers"];
    print_table(global.output, &rows, &headers, table).map_err(internal)?;
    if let Some(path) = svg_path {
        std::fs::write(path, svg(&trace.name, &outcomes))
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(user)?;
        if global.output == crate::cli::OutputFormat::Table {
            say(&format!("plot: {}", path.display()));
        }
    }
    Ok(())
}

impl Row {
    fn policy_name(&self) -> String {
        self.policy.to_string()
    }
}
