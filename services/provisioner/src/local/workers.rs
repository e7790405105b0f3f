//! The live autoscaler of one local workspace: every tick it reads each
//! pipeline's outstanding datums from the workspace server, asks the
//! policy how many workers that needs, and starts or stops `strata worker`
//! processes to match. Crashed workers are noticed on the next tick and
//! replaced. Each change of decision is logged with its inputs, stored for
//! `strata workspace inspect` and GraphQL, and exported as metrics.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use strata_client::wire::pps::PipelineLoad;
use strata_hub::{Hub, PipelineWorkers};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::LocalConfig;
use super::process::{WorkerProcess, strata};
use crate::autoscaler::{Autoscaler, Bounds, Observation};
use crate::metrics::{ProvisionerMetrics, Scaling};
use crate::plans::PlanQuota;

/// What the autoscaler of one workspace needs.
#[derive(Debug)]
pub(crate) struct Pool {
    pub workspace_id: Uuid,
    /// `org/slug`, for logs and metrics.
    pub label: String,
    pub slug: String,
    pub endpoint: String,
    pub secret: String,
    pub dir: PathBuf,
    pub config: LocalConfig,
    pub quota: PlanQuota,
    pub hub: Hub,
    pub metrics: ProvisionerMetrics,
}

/// One pipeline's policy state and processes.
#[derive(Debug)]
struct Pipeline {
    bounds: Bounds,
    policy: Autoscaler,
    workers: Vec<WorkerProcess>,
    /// The last decision stored: (desired, current, outstanding, reason).
    stored: Option<(u32, u32, u64, String)>,
    spawned: u64,
}

impl Pool {
    pub(crate) async fn run(self, stop: CancellationToken) {
        let client = match strata_client::StrataClient::new(&self.endpoint) {
            Ok(client) => client.with_token(self.secret.clone()).workspace(&self.slug),
            Err(error) => {
                tracing::error!(workspace = %self.label, %error, "cannot reach the workspace server");
                return;
            }
        };
        let started = Instant::now();
        let mut pipelines: BTreeMap<String, Pipeline> = BTreeMap::new();
        // Rows of pipelines deleted while no provisioner ran are dropped on
        // the first tick; after that only when a pipeline goes.
        let mut rows_in_step = false;
        loop {
            match client.pipeline_load().await {
                Ok(loads) => self.tick(&mut pipelines, &loads, started, &mut rows_in_step).await,
                Err(error) => tracing::debug!(workspace = %self.label, %error, "cannot read pipeline load"),
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.config.autoscale_every) => {}
            }
        }
        for (_, pipeline) in pipelines {
            pipeline.workers.into_iter().for_each(WorkerProcess::stop);
        }
    }

    async fn tick(
        &self,
        pipelines: &mut BTreeMap<String, Pipeline>,
        loads: &[PipelineLoad],
        started: Instant,
        rows_in_step: &mut bool,
    ) {
        let gone: Vec<String> =
            pipelines.keys().filter(|name| !loads.iter().any(|l| &l.pipeline == *name)).cloned().collect();
        *rows_in_step &= gone.is_empty();
        for name in gone {
            if let Some(pipeline) = pipelines.remove(&name) {
                pipeline.workers.into_iter().for_each(WorkerProcess::stop);
            }
        }
        if !*rows_in_step {
            match self.hub.forget_workers(self.workspace_id, &pipelines_of(loads)).await {
                Ok(()) => *rows_in_step = true,
                Err(error) => tracing::warn!(%error, "cannot drop the autoscaler rows of deleted pipelines"),
            }
        }
        let mut wanted = HashMap::new();
        for load in loads {
            let (bounds, note) = bounds_of(load, &self.quota);
            let pipeline = pipelines.entry(load.pipeline.clone()).or_insert_with(|| Pipeline {
                bounds,
                policy: Autoscaler::new(self.config.policy, bounds),
                workers: Vec::new(),
                stored: None,
                spawned: 0,
            });
            if pipeline.bounds != bounds {
                pipeline.bounds = bounds;
                pipeline.policy = Autoscaler::new(self.config.policy, bounds);
            }
            let crashed = reap(&mut pipeline.workers);
            if crashed > 0 {
                tracing::warn!(workspace = %self.label, pipeline = %load.pipeline, crashed, "workers exited; replacing them");
            }
            let current = u32::try_from(pipeline.workers.len()).unwrap_or(u32::MAX);
            let observation =
                Observation { now: started.elapsed(), queued: load.outstanding_datums, in_flight: 0, current };
            let decision = pipeline.policy.decide(observation);
            wanted.insert(load.pipeline.clone(), (decision, note));
        }
        let granted = share_quota(&wanted, self.quota.max_workers);
        for load in loads {
            let (Some(pipeline), Some((decision, note))) =
                (pipelines.get_mut(&load.pipeline), wanted.get(&load.pipeline))
            else {
                continue;
            };
            let desired = granted.get(&load.pipeline).copied().unwrap_or(0);
            let mut message = note.clone();
            if desired < decision.desired {
                message = Some(format!(
                    "the {}-worker quota of this plan is shared by all pipelines; {desired} of {} granted",
                    self.quota.max_workers, decision.desired
                ));
            }
            self.resize(&load.pipeline, pipeline, desired);
            let reason = format!("{:?}", decision.reason).to_lowercase();
            self.report(load, pipeline, desired, &reason, message).await;
        }
    }

    /// Starts or stops workers until `desired` run.
    fn resize(&self, name: &str, pipeline: &mut Pipeline, desired: u32) {
        let desired = desired as usize;
        while pipeline.workers.len() > desired {
            // The newest first: the oldest are the likeliest to be mid-datum
            // with warm caches; SIGTERM lets each hand its task back.
            if let Some(worker) = pipeline.workers.pop() {
                worker.stop();
            }
        }
        while pipeline.workers.len() < desired {
            pipeline.spawned += 1;
            let id = format!("{}-{name}-{}", &self.workspace_id.simple().to_string()[..8], pipeline.spawned);
            match self.worker_command(name, &id).and_then(|command| WorkerProcess::spawn(command, id)) {
                Ok(worker) => pipeline.workers.push(worker),
                Err(error) => {
                    tracing::warn!(workspace = %self.label, pipeline = name, %error, "cannot start a worker");
                    break;
                }
            }
        }
    }

    fn worker_command(&self, pipeline: &str, id: &str) -> crate::error::Result<tokio::process::Command> {
        let mut command = strata(&self.config, &self.dir.join("workers.log"))?;
        let scratch = self.dir.join("scratch");
        command
            .arg("worker")
            .args(["--endpoint", &self.endpoint, "--workspace", &self.slug, "--pipeline", pipeline, "--id", id])
            .args(["--isolation", &self.config.isolation])
            .arg("--scratch")
            .arg(&scratch)
            .arg("--supervised")
            // The CLI's own config file is not for workers.
            .env("STRATA_CONFIG", self.dir.join("worker-cli.toml"))
            .env("STRATA_TOKEN", &self.secret);
        Ok(command)
    }

    /// Logs, stores and exports the decision when it changed; exports
    /// the gauges every tick.
    async fn report(
        &self,
        load: &PipelineLoad,
        pipeline: &mut Pipeline,
        desired: u32,
        reason: &str,
        message: Option<String>,
    ) {
        let current = u32::try_from(pipeline.workers.len()).unwrap_or(u32::MAX);
        let key = (desired, current, load.outstanding_datums, reason.to_owned());
        let changed = pipeline.stored.as_ref() != Some(&key);
        let decided =
            pipeline.stored.as_ref().is_none_or(|(d, c, _, r)| (*d, *c, r.as_str()) != (desired, current, reason));
        let scaling = Scaling { desired, current, outstanding: load.outstanding_datums, reason, changed: decided };
        self.metrics.scaled(&self.label, &load.pipeline, scaling);
        if !changed {
            return;
        }
        if decided {
            tracing::info!(
            workspace = %self.label, pipeline = %load.pipeline, outstanding = load.outstanding_datums,
            min = pipeline.bounds.min, max = pipeline.bounds.max, desired, current, reason,
            "autoscaler decision"
            );
        }
        let row = PipelineWorkers {
            pipeline: load.pipeline.clone(),
            desired,
            current,
            outstanding: load.outstanding_datums,
            max_workers: pipeline.bounds.max,
            reason: reason.to_owned(),
            message,
            updated_at: chrono::Utc::now(),
        };
        match self.hub.record_workers(self.workspace_id, &row).await {
            Ok(()) => pipeline.stored = Some(key),
            Err(error) => tracing::warn!(%error, "cannot store an autoscaler decision"),
        }
    }
}

fn pipelines_of(loads: &[PipelineLoad]) -> Vec<String> {
    loads.iter().map(|l| l.pipeline.clone()).collect()
}

/// Drops workers that exited; returns how many did.
fn reap(workers: &mut Vec<WorkerProcess>) -> usize {
    let before = workers.len();
    workers.retain_mut(|worker| {
        let exited = worker.exited();
        if exited {
            tracing::debug!(worker = %worker.id, "worker exited");
        }
        !exited
    });
    before - workers.len()
}

/// A pipeline's bounds: its spec (`parallelism_spec`, `autoscaling`,
/// stopped) clamped to the plan's quota, with a note when clamped.
pub(crate) fn bounds_of(load: &PipelineLoad, quota: &PlanQuota) -> (Bounds, Option<String>) {
    if load.stopped {
        return (Bounds { min: 0, max: 0 }, None);
    }
    let wanted = load.parallelism.max(1);
    let max = wanted.min(quota.max_workers);
    let min = if load.autoscaling { 0 } else { max };
    let note = (max < wanted)
        .then(|| format!("parallelism {wanted} is above this plan's quota of {} workers; clamped", quota.max_workers));
    (Bounds { min, max }, note)
}

/// Shares the workspace's worker quota: each pipeline in turn gets one
/// more worker until it has what it wants or the quota is used up, so a
/// big pipeline cannot starve the others.
pub(crate) fn share_quota<N: Clone + Ord + std::hash::Hash>(
    wanted: &HashMap<N, (crate::autoscaler::Decision, Option<String>)>,
    quota: u32,
) -> HashMap<N, u32> {
    let mut names: Vec<&N> = wanted.keys().collect();
    names.sort();
    let mut granted: HashMap<N, u32> = names.iter().map(|n| ((*n).clone(), 0)).collect();
    let mut left = quota;
    loop {
        let mut gave = false;
        for name in &names {
            let want = wanted[*name].0.desired;
            let have = granted.entry((*name).clone()).or_default();
            if left > 0 && *have < want {
                *have += 1;
                left -= 1;
                gave = true;
            }
        }
        if !gave {
            return granted;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaler::{Decision, Reason};

    fn load(parallelism: u32, autoscaling: bool, stopped: bool) -> PipelineLoad {
        PipelineLoad {
            pipeline: "p".into(),
            outstanding_datums: 10,
            parallelism,
            autoscaling,
            stopped,
            image: "ubuntu:24.04".into(),
            busy_workers: Vec::new(),
        }
    }

    #[test]
    fn bounds_follow_the_spec_within_the_quota() {
        let free = PlanQuota::of("free");
        assert_eq!(bounds_of(&load(3, true, false), &free), (Bounds { min: 0, max: 3 }, None));
        assert_eq!(bounds_of(&load(3, false, false), &free).0, Bounds { min: 3, max: 3 });
        assert_eq!(bounds_of(&load(3, true, true), &free).0, Bounds { min: 0, max: 0 }, "stopped");
        let (clamped, note) = bounds_of(&load(50, true, false), &free);
        assert_eq!(clamped, Bounds { min: 0, max: free.max_workers });
        assert!(note.is_some_and(|n| n.contains("quota")));
    }

    #[test]
    fn the_quota_is_shared_round_robin() {
        let want = |n| (Decision { desired: n, target: n, reason: Reason::ScaleUp }, None);
        let wanted: HashMap<&str, _> = [("a", want(10)), ("b", want(1)), ("c", want(3))].into();
        let granted = share_quota(&wanted, 4);
        assert_eq!((granted["a"], granted["b"], granted["c"]), (2, 1, 1));
        let granted = share_quota(&wanted, 100);
        assert_eq!((granted["a"], granted["b"], granted["c"]), (10, 1, 3));
    }
}
