//! Placeholder pods sized from the queue's short-term forecast.
//!
//! Every workspace's worker autoscaler reports what its pipelines want
//! ([`Demand`]), counted in placeholder slots (a team-plan worker each).
//! A loop keeps `peak - wanted` slots of room on the CPU worker pool, where
//! `peak` is the most wanted within the forecast window ([`RecentPeak`], the
//! rule the node simulator's queue-driven buffer uses), and never fewer than
//! the configured floor: the later jobs of a burst then find nodes already
//! booted, and once the queue has been quiet for the window the room, and
//! the nodes under it, go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use strata_core::id::WorkspaceId;
use tokio_util::sync::CancellationToken;

use super::KubeApi;
use super::render::{self, Cluster, Size};
use crate::autoscaler::RecentPeak;
use crate::error::Result;
use crate::plans::PlanQuota;

/// What the worker autoscalers of all workspaces want now, in slots of
/// `slot`'s size.
#[derive(Debug, Clone)]
pub(crate) struct Demand {
    slot: Size,
    wanted: Arc<Mutex<HashMap<(WorkspaceId, String), u32>>>,
}

impl Demand {
    pub(crate) fn new(slot: Size) -> Self {
        Demand { slot, wanted: Arc::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(WorkspaceId, String), u32>> {
        self.wanted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pipeline's autoscaler asked for `workers` of `quota`'s size.
    pub(crate) fn report(&self, workspace: WorkspaceId, pipeline: &str, workers: u32, quota: &PlanQuota) {
        let slots = slots_for(workers, quota, self.slot);
        self.lock().insert((workspace, pipeline.to_owned()), slots);
    }

    pub(crate) fn forget_pipeline(&self, workspace: WorkspaceId, pipeline: &str) {
        self.lock().remove(&(workspace, pipeline.to_owned()));
    }

    /// The workspace's autoscaler stopped (it sleeps, or was deleted).
    pub(crate) fn forget_workspace(&self, workspace: WorkspaceId) {
        self.lock().retain(|(id, _), _| *id != workspace);
    }

    pub(crate) fn total(&self) -> u32 {
        self.lock().values().fold(0, |sum, slots| sum.saturating_add(*slots))
    }
}

/// Slots that `workers` workers of `quota`'s size take: by CPU or memory,
/// whichever needs more.
fn slots_for(workers: u32, quota: &PlanQuota, slot: Size) -> u32 {
    let by = |need: u32, per_slot: u32| workers.saturating_mul(need).div_ceil(per_slot.max(1));
    by(quota.worker_cpu_millis, slot.cpu_millis).max(by(quota.worker_memory_mib, slot.memory_mib))
}

/// How many placeholders to keep, decided from the demand over time.
#[derive(Debug)]
pub(crate) struct PlaceholderPlan {
    floor: u32,
    max: u32,
    peak: RecentPeak,
}

impl PlaceholderPlan {
    pub(crate) fn new(floor: u32, max: u32, window: Duration) -> Self {
        PlaceholderPlan { floor, max: max.max(floor), peak: RecentPeak::new(window.as_secs_f64()) }
    }

    /// The placeholders for `wanted` slots at `now` (seconds).
    pub(crate) fn target(&mut self, now: f64, wanted: u32) -> u32 {
        let peak = self.peak.observe(now, wanted);
        peak.saturating_sub(wanted).clamp(self.floor, self.max)
    }
}

/// The placeholder Deployment, applied only when its size changes.
#[derive(Debug)]
pub(crate) struct Placeholders {
    pub api: KubeApi,
    pub cluster: Cluster,
    pub slot: Size,
    /// The replicas last applied.
    pub applied: Option<u32>,
}

impl Placeholders {
    pub(crate) async fn set(&mut self, replicas: u32) -> Result<()> {
        if self.applied == Some(replicas) {
            return Ok(());
        }
        let object = render::with_hash(render::placeholders(&self.cluster, self.slot, replicas));
        self.api.apply(&object).await?;
        if self.applied.is_some() {
            tracing::info!(replicas, "placeholder pods resized to the queue's forecast");
        }
        self.applied = Some(replicas);
        Ok(())
    }

    /// Follows the demand every `every` until `stop`.
    pub(crate) async fn run(
        mut self,
        demand: Demand,
        mut plan: PlaceholderPlan,
        every: Duration,
        stop: CancellationToken,
    ) {
        let started = Instant::now();
        loop {
            let target = plan.target(started.elapsed().as_secs_f64(), demand.total());
            if let Err(error) = self.set(target).await {
                tracing::warn!(%error, target, "cannot resize the placeholder pods");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

    use serde_json::Value;
    use strata_kube_fake::{FakeApiServer, Verb};

    use super::*;

    const SLOT: Size = Size { cpu_millis: 1000, memory_mib: 4096 };

    #[test]
    fn room_is_kept_for_the_recent_peak_above_the_floor_and_below_the_cap() {
        let mut plan = PlaceholderPlan::new(1, 6, Duration::from_secs(300));
        assert_eq!(plan.target(0.0, 0), 1, "the floor while nothing is wanted");
        assert_eq!(plan.target(10.0, 4), 1, "a burst starts: it has its workers");
        assert_eq!(plan.target(40.0, 1), 3, "it shrinks: room for the rest of the burst");
        assert_eq!(plan.target(60.0, 0), 4);
        assert_eq!(plan.target(400.0, 0), 1, "quiet for the window: back to the floor");
        assert_eq!(plan.target(410.0, 20), 1);
        assert_eq!(plan.target(420.0, 0), 6, "never above the cap");
    }

    #[test]
    fn workers_count_in_slots_by_cpu_or_memory() {
        let (free, team, enterprise) =
            (PlanQuota::built_in("free"), PlanQuota::built_in("team"), PlanQuota::built_in("enterprise"));
        assert_eq!(slots_for(4, &free, SLOT), 2, "free workers are half a slot");
        assert_eq!(slots_for(3, &team, SLOT), 3);
        assert_eq!(slots_for(1, &enterprise, SLOT), 2);
        let demand = Demand::new(SLOT);
        let (a, b) = (WorkspaceId::new(), WorkspaceId::new());
        demand.report(a, "edges", 3, &team);
        demand.report(a, "stats", 1, &team);
        demand.report(b, "edges", 4, &free);
        assert_eq!(demand.total(), 6);
        demand.forget_pipeline(a, "stats");
        demand.forget_workspace(b);
        assert_eq!(demand.total(), 3);
    }

    #[tokio::test]
    async fn the_deployment_follows_the_target_on_the_worker_pool_and_is_written_only_on_change() {
        let fake = FakeApiServer::new();
        let api = KubeApi { client: fake.client(), timeout: Duration::from_secs(5) };
        let cluster = Cluster {
            image: "ghcr.io/strata-dev/strata:0.1.0".into(),
            hub_namespace: "strata".into(),
            egress: Vec::new(),
            placeholder_pods: 1,
            telemetry_env: Default::default(),
        };
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(fake.client());
        let hub = serde_json::from_value(serde_json::json!({"metadata": {"name": "strata"}})).unwrap();
        namespaces.create(&kube::api::PostParams::default(), &hub).await.unwrap();
        let mut placeholders = Placeholders { api, cluster, slot: SLOT, applied: None };
        placeholders.set(3).await.unwrap();
        assert!(fake.rejected().is_empty(), "the API server refused: {:?}", fake.rejected());
        let deployment = fake.get("apps/v1", "Deployment", Some("strata"), render::PLACEHOLDERS).unwrap();
        assert_eq!(deployment["spec"]["replicas"], 3);
        let spec = &deployment["spec"]["template"]["spec"];
        assert_eq!(spec["nodeSelector"][render::POOL_LABEL], render::WORKERS_POOL);
        assert_eq!(spec["priorityClassName"], render::PLACEHOLDER_PRIORITY);
        assert_eq!(spec["containers"][0]["resources"]["requests"]["cpu"], "1000m");
        fake.clear_requests();
        placeholders.set(3).await.unwrap();
        assert!(fake.requests().iter().all(|r| !r.verb.is_write()), "no change, no write");
        placeholders.set(0).await.unwrap();
        let deployment = fake.get("apps/v1", "Deployment", Some("strata"), render::PLACEHOLDERS).unwrap();
        assert_eq!(deployment["spec"]["replicas"], Value::from(0));
        assert!(fake.requests().iter().any(|r| r.verb == Verb::Apply));
    }
}
