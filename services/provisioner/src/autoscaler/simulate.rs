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

#[derive(Debug)]
struct Worker {
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
                self.next_decision += self.interval;
            }
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
            let ready_at =
                if matches!(self.policy, Policy::Fixed(_)) { now } else { now + self.trace.worker_start_secs };
            self.workers.push(Worker { ready_at, busy_until: None, job: 0, leaving: false });
        }
        self.max_workers = self.max_workers.max(self.count());
    }

    /// Idle workers (and ones still starting) go first; busy ones leave
    /// after their datum, as pod-deletion-cost makes Kubernetes do.
    fn shrink(&mut self, by: u32) {
        let mut left = by as usize;
        let before = self.workers.len();
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
        match self.policy {
            Policy::Fixed(_) => true,
            Policy::Strata | Policy::KedaLike => self.count() <= self.trace.min_workers,
        }
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

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.95), 19.0);
        assert_eq!(percentile(&[3.0], 0.95), 3.0);
    }
}
