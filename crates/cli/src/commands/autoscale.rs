//! `strata autoscale simulate`: a queue trace through the autoscaling policy
//! and its baselines.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use serde::Serialize;
use strata_provisioner::autoscaler::{
    NodeOutcome, NodePolicy, Outcome, Policy, Trace, simulate as run, simulate_nodes, svg,
};

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

pub fn simulate(global: &GlobalArgs, trace_path: &Path, svg_path: Option<&Path>, nodes: bool) -> Result<(), Failure> {
    let trace = read_trace(trace_path)?;
    if nodes {
        return simulate_with_nodes(global, &trace);
    }
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

fn read_trace(path: &Path) -> Result<Trace, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the trace {}", path.display()))
        .map_err(user)?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a queue trace", path.display())).map_err(user)
}

/// `--nodes`: the trace's nodes under each node policy.
fn simulate_with_nodes(global: &GlobalArgs, trace: &Trace) -> Result<(), Failure> {
    let rows = node_runs(trace)?;
    match global.output {
        crate::cli::OutputFormat::Json => crate::output::print_record(global.output, &rows, &[]).map_err(internal),
        crate::cli::OutputFormat::Table => print_node_table(&rows),
    }
}

/// The trace under each node policy, with cost and latency relative to
/// the pool sized for the peak.
fn node_runs(trace: &Trace) -> Result<Vec<NodeRow>, Failure> {
    let mut outcomes = Vec::new();
    for policy in NodePolicy::ALL {
        outcomes.push(simulate_nodes(trace, policy).map_err(|e| user(anyhow!(e)))?);
    }
    let peak = outcomes.iter().find(|o| o.policy == NodePolicy::PeakFixed).cloned();
    Ok(outcomes.iter().map(|o| NodeRow::new(o, peak.as_ref())).collect())
}

/// One node policy's figures, for the table and `-o json`.
#[derive(Debug, Serialize)]
struct NodeRow {
    policy: NodePolicy,
    instance: String,
    node_hours: f64,
    cost: f64,
    p95_job_latency_secs: f64,
    max_nodes: u32,
    /// Cost and p95 latency as a change from the peak-fixed pool, in percent.
    cost_vs_peak_percent: f64,
    p95_vs_peak_percent: f64,
}

impl NodeRow {
    fn new(o: &NodeOutcome, peak: Option<&NodeOutcome>) -> Self {
        let change =
            |value: f64, base: f64| if base > 0.0 { ((value / base - 1.0) * 1000.0).round() / 10.0 } else { 0.0 };
        let hundredth = |x: f64| (x * 100.0).round() / 100.0;
        NodeRow {
            policy: o.policy,
            instance: o.instance.clone(),
            node_hours: hundredth(o.node_hours),
            cost: hundredth(o.cost),
            p95_job_latency_secs: (o.p95_job_latency_secs * 10.0).round() / 10.0,
            max_nodes: o.max_nodes,
            cost_vs_peak_percent: peak.map_or(0.0, |p| change(o.cost, p.cost)),
            p95_vs_peak_percent: peak.map_or(0.0, |p| change(o.p95_job_latency_secs, p.p95_job_latency_secs)),
        }
    }
}

fn print_node_table(rows: &[NodeRow]) -> Result<(), Failure> {
    let table = rows
        .iter()
        .map(|r| {
            vec![
                r.policy.to_string(),
                format!("{:.2}", r.node_hours),
                format!("{:.2}", r.cost),
                format!("{:+.1} %", r.cost_vs_peak_percent),
                format!("{:.1} s", r.p95_job_latency_secs),
                format!("{:+.1} %", r.p95_vs_peak_percent),
                r.max_nodes.to_string(),
            ]
        })
        .collect();
    let instance = rows.first().map_or("", |r| r.instance.as_str());
    say(&format!("nodes: {instance}"));
    let headers = ["node policy", "node-hours", "cost", "vs peak", "p95 job latency", "vs peak", "max nodes"];
    print_table(crate::cli::OutputFormat::Table, &rows, &headers, table).map_err(internal)
}

impl Row {
    fn policy_name(&self) -> String {
        self.policy.to_string()
    }
}
