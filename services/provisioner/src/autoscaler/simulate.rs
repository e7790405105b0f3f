//! Replays a queue trace (jobs arriving with their datums' durations)
//! through a scaling policy, in steps of 100 ms, and measures what it cost
//! and how long the jobs waited.
//!
//! The model: a worker can take datums once it has started
//! (`worker_start_secs` after it was asked for: image pull, process start,
//! node scale-up), runs one datum at a time, and is removed idle-first when
//! the policy shrinks (a busy worker finishes its datum, then leaves). Every
//! second a worker exists counts, busy or not.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::nodes::{NodeModel, NodePolicy, Nodes};
use super::policy::{Autoscaler, Bounds, Observation, PolicyConfig};

/// Steps of the simulated clock.
const STEP_SECS: f64 = 0.1;
/// How often the queue depth and worker count are sampled for the plot.
const SAMPLE_EVERY_SECS: f64 = 1.0;
/// Strata's policy looks at the queue this often.
const STRATA_INTERVAL_SECS: f64 = 1.0;
/// KEDA's defaults: `pollingInterval` 30 s, `cooldownPeriod` / HPA
/// scale-down stabilisation 300 s.
const KEDA_INTERVAL_SECS: f64 = 30.0;
const KEDA_COOLDOWN_SECS: u64 = 300;
/// A simulation that has not finished after this long is stuck.
const MAX_SIMULATED_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// A queue trace, as `strata autoscale simulate --trace FILE` reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// From asking for a worker to its taking a first datum.
    pub worker_start_secs: f64,
    #[serde(default = "one")]
    pub datums_per_worker: u32,
    #[serde(default)]
    pub min_workers: u32,
    pub max_workers: u32,
    /// Strata's scale-down cooldown.
    #[serde(default = "sixty")]
    pub cooldown_secs: u64,
    /// The fixed-parallelism baseline's worker count (default: `max_workers`).
    #[serde(default)]
    pub fixed_workers: Option<u32>,
    /// The nodes under the workers, for `simulate_nodes`; without them
    /// `worker_start_secs` includes any node scale-up.
    #[serde(default)]
    pub nodes: Option<NodeModel>,
    pub jobs: Vec<Job>,
}

fn one() -> u32 {
    1
}

fn sixty() -> u64 {
    60
}

/// A job: when its datums arrive and how long each takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Seconds after the start of the trace.
    pub at: f64,
    /// `datums` datums of `secs` seconds each...
    #[serde(default)]
    pub datums: u32,
    #[serde(default)]
    pub secs: f64,
    /// ...and/or these durations.
    #[serde(default)]
    pub durations: Vec<f64>,
}

impl Job {
    fn durations(&self) -> impl Iterator<Item = f64> + '_ {
        std::iter::repeat_n(self.secs, self.datums as usize).chain(self.durations.iter().copied())
    }
}

/// Why a trace cannot be simulated.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    #[error("the trace is invalid: {0}")]
    InvalidTrace(String),
    #[error("the {policy} run did not finish within a simulated week; is max_workers 0?")]
    Stuck { policy: String },
    #[error("the trace has no `nodes` section (instance, workers_per_node, price_per_hour, boot_secs)")]
    NoNodes,
}

/// The policies compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Strata's policy, every second, with the trace's cooldown.
    Strata,
    /// A constant number of workers, always there.
    Fixed(u32),
    /// The same target, polled every 30 s, shrinking after 300 s (KEDA's defaults).
    KedaLike,
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Policy::Strata => f.write_str("strata (1 s, cooldown)"),
            Policy::Fixed(n) => write!(f, "fixed {n} workers"),
            Policy::KedaLike => f.write_str("KEDA-like (30 s poll, 300 s)"),
        }
    }
}

/// One point of the plot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub secs: f64,
    pub queued: u64,
    pub workers: u32,
}

/// What a run cost and how long jobs took.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub policy: Policy,
    /// Seconds of worker existence, busy or idle.
    pub worker_seconds: f64,
    /// Seconds of datum work (the same for every policy).
    pub busy_seconds: f64,
    /// From the first arrival to the last datum done.
    pub makespan_secs: f64,
    /// 95th percentile of (job done − job arrived).
    pub p95_job_latency_secs: f64,
    pub max_workers: u32,
    pub samples: Vec<Sample>,
}

/// What a run cost in nodes and how long jobs took.
#[derive(Debug, Clone, Serialize)]
pub struct NodeOutcome {
    pub policy: NodePolicy,
    pub instance: String,
    pub node_hours: f64,
    pub cost: f64,
    pub p95_job_latency_secs: f64,
    pub makespan_secs: f64,
    pub max_nodes: u32,
    pub worker_seconds: f64,
}

#[derive(Debug)]
struct Worker {
    /// When it can take datums; infinite while its pod waits for a node.
    ready_at: f64,
    busy_until: Option<f64>,
    job: usize,
    leaving: bool,
}

/// Runs `trace` under `policy`.
pub fn simulate(trace: &Trace, policy: Policy) -> Result<Outcome, SimulationError> {
    validate(trace)?;
    let mut run = Run::new(trace, policy);
    run.go().map_err(|()| SimulationError::Stuck { policy: policy.to_string() })?;
    Ok(run.outcome())
}

/// Runs `trace` with its nodes under `node_policy`: the peak-fixed pool
/// with fixed workers, the others with Strata's worker policy.
pub fn simulate_nodes(trace: &Trace, node_policy: NodePolicy) -> Result<NodeOutcome, SimulationError> {
    validate(trace)?;
    let model = trace.nodes.clone().ok_or(SimulationError::NoNodes)?;
    let valid = model.workers_per_node > 0
        && model.price_per_hour.is_finite()
        && model.price_per_hour >= 0.0
        && model.boot_secs.is_finite()
        && model.boot_secs >= 0.0;
    if !valid {
        return Err(SimulationError::InvalidTrace(
            "nodes: workers_per_node must be at least 1, price_per_hour and boot_secs 0 or more".to_owned(),
        ));
    }
    let policy = match node_policy {
        NodePolicy::PeakFixed => Policy::Fixed(trace.max_workers),
        _ => Policy::Strata,
    };
    let mut run = Run::new(trace, policy);
    run.nodes = Some(Nodes::new(model, node_policy, trace.max_workers));
    run.go().map_err(|()| SimulationError::Stuck { policy: node_policy.to_string() })?;
    let nodes = run.nodes.take().ok_or(SimulationError::NoNodes)?;
    let outcome = run.outcome();
    Ok(NodeOutcome {
        policy: node_policy,
        instance: nodes.model.instance.clone(),
        node_hours: nodes.node_seconds / 3600.0,
        cost: nodes.cost(),
        p95_job_latency_secs: outcome.p95_job_latency_secs,
        makespan_secs: outcome.makespan_secs,
        max_nodes: nodes.max_nodes,
        worker_seconds: outcome.worker_seconds,
    })
}

fn validate(trace: &Trace) -> Result<(), SimulationError> {
    let invalid = |m: &str| Err(SimulationError::InvalidTrace(m.to_owned()));
    if trace.jobs.is_empty() {
        return invalid("it has no jobs");
    }
    if trace.max_workers == 0 {
        return invalid("max_workers must be at least 1");
    }
    if !(trace.worker_start_secs.is_finite() && trace.worker_start_secs >= 0.0) {
        return invalid("worker_start_secs must be 0 or more");
    }
    for (n, job) in trace.jobs.iter().enumerate() {
        let bad = !job.at.is_finite() || job.at < 0.0 || job.durations().any(|d| !d.is_finite() || d <= 0.0);
        if bad {
            return invalid(&format!("job {n}: `at` must be 0 or more and every duration more than 0"));
        }
        if job.durations().next().is_none() {
            return invalid(&format!("job {n} has no datums"));
        }
    }
    Ok(())
}

struct Run<'a> {
    trace: &'a Trace,
    policy: Policy,
    scaler: Autoscaler,
    interval: f64,
    /// Job indices by arrival time.
    arrivals: Vec<usize>,
    next_arrival: usize,
    queue: VecDeque<(usize, f64)>,
    workers: Vec<Worker>,
    remaining: Vec<usize>,
    done_at: Vec<Option<f64>>,
    now: f64,
    next_decision: f64,
    next_sample: f64,
    worker_seconds: f64,
    max_workers: u32,
    samples: Vec<Sample>,
    /// The nodes, when the run models them.
    nodes: Option<Nodes>,
}

impl<'a> Run<'a> {
    fn new(trace: &'a Trace, policy: Policy) -> Self {
        let bounds = Bounds { min: trace.min_workers, max: trace.max_workers };
        let (interval, cooldown) = match policy {
            Policy::KedaLike => (KEDA_INTERVAL_SECS, KEDA_COOLDOWN_SECS),
            Policy::Strata | Policy::Fixed(_) => (STRATA_INTERVAL_SECS, trace.cooldown_secs),
        };
        let config =
            PolicyConfig { datums_per_worker: trace.datums_per_worker, cooldown: Duration::from_secs(cooldown) };
        let mut arrivals: Vec<usize> = (0..trace.jobs.len()).collect();
        arrivals.sort_by(|a, b| trace.jobs[*a].at.total_cmp(&trace.jobs[*b].at));
        let mut run = Run {
            trace,
            policy,
            scaler: Autoscaler::new(config, bounds),
            interval,
            arrivals,
            next_arrival: 0,
            queue: VecDeque::new(),
            workers: Vec::new(),
            remaining: trace.jobs.iter().map(|job| job.durations().count()).collect(),
            done_at: vec![None; trace.jobs.len()],
            now: 0.0,
            next_decision: 0.0,
            next_sample: 0.0,
            worker_seconds: 0.0,
            max_workers: 0,
            samples: Vec::new(),
            nodes: None,
        };
        if let Policy::Fixed(n) = policy {
            // Fixed workers are up before the trace starts.
            run.grow(n, 0.0);
        }
        run
    }

    fn go(&mut self) -> Result<(), ()> {
        loop {
            self.arrive();
            self.finish_datums();
            self.workers.retain(|w| !(w.leaving && w.busy_until.is_none()));
            if self.now + 1e-9 >= self.next_decision {
                self.decide();
                self.scale_nodes();
                self.next_decision += self.interval;
            }
            self.place();
            self.assign();
            if self.now + 1e-9 >= self.next_sample {
                self.samples.push(Sample { secs: self.now, queued: self.queue.len() as u64, workers: self.count() });
                self.next_sample += SAMPLE_EVERY_SECS;
            }
            if self.all_done() && self.settled() {
                // The last point, wherever the sampling clock stands.
                self.samples.push(Sample { secs: self.now, queued: self.queue.len() as u64, workers: self.count() });
                return Ok(());
            }
            self.worker_seconds += f64::from(self.count()) * STEP_SECS;
            if let Some(nodes) = &mut self.nodes {
                nodes.tick(STEP_SECS);
            }
            self.now += STEP_SECS;
            if self.now > MAX_SIMULATED_SECS {
                return Err(());
            }
        }
    }

    fn count(&self) -> u32 {
        u32::try_from(self.workers.len()).unwrap_or(u32::MAX)
    }

    fn arrive(&mut self) {
        while let Some(&job) = self.arrivals.get(self.next_arrival) {
            if self.trace.jobs[job].at > self.now + 1e-9 {
                break;
            }
            self.queue.extend(self.trace.jobs[job].durations().map(|d| (job, d)));
            self.next_arrival += 1;
        }
    }

    fn finish_datums(&mut self) {
        let now = self.now;
        for worker in &mut self.workers {
            if let Some(until) = worker.busy_until.filter(|until| *until <= now + 1e-9) {
                worker.busy_until = None;
                self.remaining[worker.job] -= 1;
                if self.remaining[worker.job] == 0 {
                    self.done_at[worker.job] = Some(until);
                }
            }
        }
    }

    fn decide(&mut self) {
        if let Policy::Fixed(_) = self.policy {
            return;
        }
        let staying: Vec<&Worker> = self.workers.iter().filter(|w| !w.leaving).collect();
        let observation = Observation {
            now: Duration::from_secs_f64(self.now),
            queued: self.queue.len() as u64,
            in_flight: staying.iter().filter(|w| w.busy_until.is_some()).count() as u64,
            current: u32::try_from(staying.len()).unwrap_or(u32::MAX),
        };
        let decision = self.scaler.decide(observation);
        if decision.desired > observation.current {
            self.grow(decision.desired - observation.current, self.now);
        } else if decision.desired < observation.current {
            self.shrink(observation.current - decision.desired);
        }
    }

    fn grow(&mut self, by: u32, now: f64) {
        for _ in 0..by {
            let ready_at = match (self.policy, &self.nodes) {
                (Policy::Fixed(_), _) => now,
                // Pending until `place` finds it a node.
                (_, Some(_)) => f64::INFINITY,
                (_, None) => now + self.trace.worker_start_secs,
            };
            self.workers.push(Worker { ready_at, busy_until: None, job: 0, leaving: false });
        }
        self.max_workers = self.max_workers.max(self.count());
    }

    /// Idle workers (and ones still starting) go first; busy ones leave
    /// after their datum, as pod-deletion-cost makes Kubernetes do.
    fn shrink(&mut self, by: u32) {
        let mut left = by as usize;
        let before = self.workers.len();
        // Pods still waiting for a node first: they hold nothing.
        self.workers.retain(|w| {
            if !w.ready_at.is_finite() && !w.leaving && left > 0 {
                left -= 1;
                return false;
            }
            true
        });
        self.workers.retain(|w| {
            let idle = w.busy_until.is_none() && !w.leaving;
            if idle && left > 0 {
                left -= 1;
                return false;
            }
            true
        });
        debug_assert!(before - self.workers.len() <= by as usize);
        for worker in self.workers.iter_mut().filter(|w| !w.leaving) {
            if left == 0 {
                break;
            }
            worker.leaving = true;
            left -= 1;
        }
    }

    /// The node count for the workers wanted now.
    fn scale_nodes(&mut self) {
        let wanted = u32::try_from(self.workers.iter().filter(|w| !w.leaving).count()).unwrap_or(u32::MAX);
        let (now, peak) = (self.now, self.trace.max_workers);
        if let Some(nodes) = &mut self.nodes {
            nodes.scale(now, wanted, peak);
        }
    }

    /// Pending worker pods take free slots on ready nodes, then start.
    fn place(&mut self) {
        let Some(nodes) = &self.nodes else { return };
        let placed = self.workers.iter().filter(|w| w.ready_at.is_finite()).count();
        let mut free = (nodes.ready_slots(self.now) as usize).saturating_sub(placed);
        let start = self.now + self.trace.worker_start_secs;
        for worker in self.workers.iter_mut().filter(|w| !w.ready_at.is_finite() && !w.leaving) {
            if free == 0 {
                break;
            }
            worker.ready_at = start;
            free -= 1;
        }
    }

    fn assign(&mut self) {
        let now = self.now;
        for worker in
            self.workers.iter_mut().filter(|w| !w.leaving && w.busy_until.is_none() && w.ready_at <= now + 1e-9)
        {
            let Some((job, secs)) = self.queue.pop_front() else { break };
            worker.job = job;
            worker.busy_until = Some(now + secs);
        }
    }

    fn all_done(&self) -> bool {
        self.next_arrival == self.arrivals.len() && self.done_at.iter().all(Option::is_some)
    }

    /// Autoscaled runs count until the workers are back at the minimum.
    fn settled(&self) -> bool {
        let workers = match self.policy {
            Policy::Fixed(_) => true,
            Policy::Strata | Policy::KedaLike => self.count() <= self.trace.min_workers,
        };
        workers && self.nodes.as_ref().is_none_or(|nodes| nodes.settled(self.trace.max_workers))
    }

    fn outcome(self) -> Outcome {
        let first = self.trace.jobs.iter().map(|j| j.at).fold(f64::INFINITY, f64::min);
        let done: Vec<f64> = self.done_at.iter().flatten().copied().collect();
        let last = done.iter().copied().fold(0.0, f64::max);
        let mut latencies: Vec<f64> =
            self.trace.jobs.iter().zip(&self.done_at).filter_map(|(job, done)| done.map(|d| d - job.at)).collect();
        latencies.sort_by(f64::total_cmp);
        let busy_seconds = self.trace.jobs.iter().flat_map(Job::durations).sum();
        Outcome {
            policy: self.policy,
            worker_seconds: self.worker_seconds,
            busy_seconds,
            makespan_secs: last - first,
            p95_job_latency_secs: percentile(&latencies, 0.95),
            max_workers: self.max_workers,
            samples: self.samples,
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(jobs: Vec<Job>) -> Trace {
        Trace {
            name: "t".into(),
            description: String::new(),
            worker_start_secs: 5.0,
            datums_per_worker: 1,
            min_workers: 0,
            max_workers: 4,
            cooldown_secs: 60,
            fixed_workers: None,
            nodes: None,
            jobs,
        }
    }

    fn job(at: f64, datums: u32, secs: f64) -> Job {
        Job { at, datums, secs, durations: Vec::new() }
    }

    #[test]
    fn one_job_on_fixed_workers_runs_in_waves() {
        let outcome = simulate(&trace(vec![job(0.0, 8, 10.0)]), Policy::Fixed(4)).unwrap();
        assert!((outcome.makespan_secs - 20.0).abs() < 0.2, "{}", outcome.makespan_secs);
        assert!((outcome.worker_seconds - 80.0).abs() < 1.0, "{}", outcome.worker_seconds);
        assert_eq!(outcome.busy_seconds, 80.0);
    }

    #[test]
    fn the_policy_starts_workers_then_returns_to_zero_after_the_cooldown() {
        let outcome = simulate(&trace(vec![job(0.0, 8, 10.0)]), Policy::Strata).unwrap();
        assert_eq!(outcome.max_workers, 4);
        // 5 s to start, two waves of 10 s.
        assert!((outcome.makespan_secs - 25.0).abs() < 0.3, "{}", outcome.makespan_secs);
        let last = outcome.samples.last().unwrap();
        assert_eq!(last.workers, 0, "back to zero");
        assert!(outcome.worker_seconds >= outcome.busy_seconds);
    }

    #[test]
    fn polling_every_30_s_is_slower_to_react_than_every_second() {
        let jobs = vec![job(1.0, 4, 5.0), job(200.0, 4, 5.0)];
        let strata = simulate(&trace(jobs.clone()), Policy::Strata).unwrap();
        let keda = simulate(&trace(jobs), Policy::KedaLike).unwrap();
        assert!(
            strata.p95_job_latency_secs < keda.p95_job_latency_secs,
            "{} vs {}",
            strata.p95_job_latency_secs,
            keda.p95_job_latency_secs
        );
    }

    #[test]
    fn bad_traces_are_refused_with_a_reason() {
        let error = simulate(&trace(vec![]), Policy::Strata).unwrap_err();
        assert!(error.to_string().contains("no jobs"));
        let error = simulate(&trace(vec![job(0.0, 1, -1.0)]), Policy::Strata).unwrap_err();
        assert!(error.to_string().contains("duration"));
    }

    fn with_nodes(jobs: Vec<Job>) -> Trace {
        let nodes = NodeModel {
            instance: "test.large".into(),
            workers_per_node: 2,
            price_per_hour: 3.6,
            boot_secs: 60.0,
            consolidate_after_secs: 30.0,
            fixed_buffer_nodes: 1,
            forecast_window_secs: 120.0,
        };
        Trace { nodes: Some(nodes), ..trace(jobs) }
    }

    #[test]
    fn a_cold_pool_makes_the_first_job_wait_for_a_node_and_drains_to_zero_after() {
        let trace = with_nodes(vec![job(0.0, 4, 10.0)]);
        let peak = simulate_nodes(&trace, NodePolicy::PeakFixed).unwrap();
        let cold = simulate_nodes(&trace, NodePolicy::NoBuffer).unwrap();
        // Two nodes of two workers: one wave of 10 s; cold adds 60 s of boot and 5 s of start.
        assert!((peak.p95_job_latency_secs - 10.0).abs() < 0.3, "{}", peak.p95_job_latency_secs);
        assert!((cold.p95_job_latency_secs - 75.0).abs() < 1.5, "{}", cold.p95_job_latency_secs);
        assert_eq!((peak.max_nodes, cold.max_nodes), (2, 2));
        // Cold nodes live from the request to 30 s after the cooldown's end, then go.
        assert!(cold.node_hours > 0.0 && cold.cost > 0.0);
    }

    #[test]
    fn a_fixed_buffer_takes_the_first_datums_at_once() {
        let trace = with_nodes(vec![job(0.0, 2, 10.0)]);
        let buffered = simulate_nodes(&trace, NodePolicy::FixedBuffer).unwrap();
        // The spare node holds both workers: only their 5 s start.
        assert!((buffered.p95_job_latency_secs - 15.0).abs() < 0.5, "{}", buffered.p95_job_latency_secs);
    }

    #[test]
    fn the_queue_driven_buffer_keeps_room_between_the_jobs_of_a_burst() {
        // The first job's workers leave 60 s after it ends (75 s), their
        // nodes 30 s later; the second job comes at 200 s, still within
        // the 120 s the forecast looks back over the first one's demand.
        let trace = with_nodes(vec![job(0.0, 4, 10.0), job(200.0, 4, 10.0)]);
        let none = simulate_nodes(&trace, NodePolicy::NoBuffer).unwrap();
        let queue = simulate_nodes(&trace, NodePolicy::QueueDriven).unwrap();
        assert!(queue.makespan_secs < none.makespan_secs, "{} vs {}", queue.makespan_secs, none.makespan_secs);
    }

    #[test]
    fn node_policies_need_the_traces_nodes() {
        let error = simulate_nodes(&trace(vec![job(0.0, 1, 1.0)]), NodePolicy::NoBuffer).unwrap_err();
        assert!(error.to_string().contains("nodes"));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.95), 19.0);
        assert_eq!(percentile(&[3.0], 0.95), 3.0);
    }
}
