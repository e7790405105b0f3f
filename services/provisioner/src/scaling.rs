//! The live autoscaler of one workspace, whatever runs its workers: every
//! tick it reads each pipeline's outstanding datums from the workspace
//! server, asks the policy how many workers that needs, shares the plan's
//! quota between pipelines, and has the backend's [`Workers`] make it so.
//! Each change of decision is logged with its inputs, stored for
//! `strata workspace inspect` and GraphQL, and exported as metrics.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use strata_api_types::pps::PipelineLoad;
use strata_core::id::WorkspaceId;
use strata_hub::{Hub, PipelineWorkers};
use tokio_util::sync::CancellationToken;

use crate::autoscaler::{Autoscaler, Bounds, Decision, Observation, PolicyConfig};
use crate::error::Result;
use crate::metrics::{ProvisionerMetrics, Scaling};
use crate::plans::{IdleSleep, PlanQuota};

/// What runs a workspace's workers: child processes or Deployments.
#[async_trait::async_trait]
pub(crate) trait Workers: Send {
    /// How many workers of the pipeline exist now (starting or running);
    /// workers that died are replaced by the next `resize`.
    async fn current(&mut self, load: &PipelineLoad) -> u32;
    /// Makes `desired` workers exist.
    async fn resize(&mut self, load: &PipelineLoad, desired: u32) -> Result<()>;
    /// The workspace moved to another plan (worker sizes may change).
    fn set_quota(&mut self, quota: PlanQuota);
    /// The pipeline is gone: its workers go too.
    async fn remove(&mut self, pipeline: &str);
    /// The scaler stops: what the backend must stop with it.
    async fn stop(&mut self);
}

/// One workspace's scaler.
#[derive(Debug)]
pub(crate) struct Scaler {
    pub workspace_id: WorkspaceId,
    /// `org/slug`, for logs and metrics.
    pub label: String,
    /// The workspace server, with the service secret.
    pub client: strata_client::Workspace,
    pub every: Duration,
    pub policy: PolicyConfig,
    /// The plan's quota, read every tick; the backend replaces it when the
    /// plan changes.
    pub quota: tokio::sync::watch::Receiver<PlanQuota>,
    pub hub: Hub,
    pub metrics: ProvisionerMetrics,
    /// When the workspace sleeps once nothing is left to do.
    pub idle_sleep: IdleSleep,
}

/// One pipeline's policy state.
#[derive(Debug)]
struct Pipeline {
    bounds: Bounds,
    policy: Autoscaler,
    /// The last decision stored: (desired, current, outstanding, reason).
    stored: Option<(u32, u32, u64, String)>,
}

impl Scaler {
    pub(crate) async fn run(self, mut workers: impl Workers, stop: CancellationToken) {
        let started = Instant::now();
        let mut pipelines: BTreeMap<String, Pipeline> = BTreeMap::new();
        // Rows of pipelines deleted while no provisioner ran are dropped on
        // the first tick; after that only when a pipeline goes.
        let mut rows_in_step = false;
        // Since when no pipeline has had anything to do, as seen here.
        let mut quiet_since: Option<Instant> = None;
        loop {
            match self.client.pipeline_load().await {
                Ok(loads) => {
                    self.tick(&mut workers, &mut pipelines, &loads, started, &mut rows_in_step).await;
                    self.consider_sleep(&loads, &mut quiet_since).await;
                }
                Err(error) => tracing::debug!(workspace = %self.label, %error, "cannot read pipeline load"),
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.every) => {}
            }
        }
        workers.stop().await;
    }

    /// Asks the hub to put the workspace to sleep once no pipeline has had
    /// a datum to process, a worker busy or a cron schedule to keep for the
    /// plan's quiet spell; the hub refuses when a request came meanwhile.
    async fn consider_sleep(&self, loads: &[PipelineLoad], quiet_since: &mut Option<Instant>) {
        let busy = loads.iter().any(|load| {
            load.outstanding_datums > 0 || !load.busy_workers.is_empty() || (load.scheduled && !load.stopped)
        });
        if busy {
            *quiet_since = None;
            return;
        }
        let since = *quiet_since.get_or_insert_with(Instant::now);
        let quota = *self.quota.borrow();
        let Some(after) = self.idle_sleep.after(&quota) else { return };
        if since.elapsed() < after {
            return;
        }
        let spell = chrono::Duration::from_std(after).ok();
        // A spell too long to subtract from now never ends.
        let Some(cutoff) = spell.and_then(|spell| chrono::Utc::now().checked_sub_signed(spell)) else { return };
        match self.hub.request_sleep(self.workspace_id, cutoff).await {
            Ok(true) => {
                tracing::info!(workspace = %self.label, idle_secs = after.as_secs(), "idle workspace going to sleep");
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(workspace = %self.label, %error, "cannot put an idle workspace to sleep"),
        }
    }

    async fn tick(
        &self,
        workers: &mut impl Workers,
        pipelines: &mut BTreeMap<String, Pipeline>,
        loads: &[PipelineLoad],
        started: Instant,
        rows_in_step: &mut bool,
    ) {
        let gone: Vec<String> =
            pipelines.keys().filter(|name| !loads.iter().any(|l| &l.pipeline == *name)).cloned().collect();
        *rows_in_step &= gone.is_empty();
        for name in gone {
            pipelines.remove(&name);
            workers.remove(&name).await;
        }
        if !*rows_in_step {
            let names: Vec<String> = loads.iter().map(|l| l.pipeline.clone()).collect();
            match self.hub.forget_workers(self.workspace_id, &names).await {
                Ok(()) => *rows_in_step = true,
                Err(error) => tracing::warn!(%error, "cannot drop the autoscaler rows of deleted pipelines"),
            }
        }
        let quota = *self.quota.borrow();
        workers.set_quota(quota);
        let mut wanted = HashMap::new();
        for load in loads {
            let (bounds, note) = bounds_of(load, &quota);
            let pipeline = pipelines.entry(load.pipeline.clone()).or_insert_with(|| Pipeline {
                bounds,
                policy: Autoscaler::new(self.policy, bounds),
                stored: None,
            });
            if pipeline.bounds != bounds {
                pipeline.bounds = bounds;
                pipeline.policy = Autoscaler::new(self.policy, bounds);
            }
            let current = workers.current(load).await;
            let observation =
                Observation { now: started.elapsed(), queued: load.outstanding_datums, in_flight: 0, current };
            wanted.insert(load.pipeline.clone(), (pipeline.policy.decide(observation), note));
        }
        let granted = share_quota(&wanted, quota.max_workers);
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
                    quota.max_workers, decision.desired
                ));
            }
            if let Err(error) = workers.resize(load, desired).await {
                tracing::warn!(workspace = %self.label, pipeline = %load.pipeline, %error, "cannot resize workers");
                message = Some(format!("cannot resize the workers: {error}"));
            }
            let current = workers.current(load).await;
            let reason = decision.reason.as_str();
            self.report(load, pipeline, (desired, current), reason, message).await;
        }
    }

    /// Logs, stores and exports the decision when it changed; exports
    /// the gauges every tick.
    async fn report(
        &self,
        load: &PipelineLoad,
        pipeline: &mut Pipeline,
        (desired, current): (u32, u32),
        reason: &str,
        message: Option<String>,
    ) {
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

/// A pipeline's bounds: its spec (`parallelism_spec`, `autoscaling`,
/// stopped) clamped to the plan's quota, with a note when clamped.
pub(crate) fn bounds_of(load: &PipelineLoad, quota: &PlanQuota) -> (Bounds, Option<String>) {
    if load.stopped {
        return (Bounds { min: 0, max: 0 }, None);
    }
    let wanted = load.parallelism.max(1);
    let max = wanted.min(quota.max_workers).min(quota.max_parallelism);
    let min = if load.autoscaling { 0 } else { max };
    let note = (max < wanted).then(|| match quota.max_parallelism < quota.max_workers {
        true => {
            format!("parallelism {wanted} is above this plan's {} workers per pipeline; clamped", quota.max_parallelism)
        }
        false => format!("parallelism {wanted} is above this plan's quota of {} workers; clamped", quota.max_workers),
    });
    (Bounds { min, max }, note)
}

/// Shares the workspace's worker quota: each pipeline in turn gets one
/// more worker until it has what it wants or the quota is used up, so a
/// big pipeline cannot starve the others.
pub(crate) fn share_quota<N: Clone + Ord + std::hash::Hash>(
    wanted: &HashMap<N, (Decision, Option<String>)>,
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
    use crate::autoscaler::Reason;

    fn load(parallelism: u32, autoscaling: bool, stopped: bool) -> PipelineLoad {
        PipelineLoad {
            pipeline: "p".into(),
            outstanding_datums: 10,
            parallelism,
            autoscaling,
            stopped,
            image: "ubuntu:24.04".into(),
            busy_workers: Vec::new(),
            pod: strata_api_types::pps::WorkerPod::default(),
            scheduled: false,
        }
    }

    #[test]
    fn bounds_follow_the_spec_within_the_quota() {
        let free = PlanQuota::built_in("free");
        assert_eq!(bounds_of(&load(3, true, false), &free), (Bounds { min: 0, max: 3 }, None));
        assert_eq!(bounds_of(&load(3, false, false), &free).0, Bounds { min: 3, max: 3 });
        assert_eq!(bounds_of(&load(3, true, true), &free).0, Bounds { min: 0, max: 0 }, "stopped");
        let (clamped, note) = bounds_of(&load(50, true, false), &free);
        assert_eq!(clamped, Bounds { min: 0, max: free.max_workers });
        assert!(note.is_some_and(|n| n.contains("quota")));
    }

    #[test]
    fn a_plan_may_cap_one_pipeline_below_the_workspace() {
        let quota = PlanQuota { max_parallelism: 2, ..PlanQuota::built_in("team") };
        let (bounds, note) = bounds_of(&load(3, false, false), &quota);
        assert_eq!(bounds, Bounds { min: 2, max: 2 });
        assert_eq!(note.as_deref(), Some("parallelism 3 is above this plan's 2 workers per pipeline; clamped"));
    }

    /// Remembers what the scaler asked for.
    #[derive(Debug, Default)]
    struct Recorded {
        sizes: HashMap<String, u32>,
        quota: Option<PlanQuota>,
    }

    #[async_trait::async_trait]
    impl Workers for Recorded {
        async fn current(&mut self, load: &PipelineLoad) -> u32 {
            self.sizes.get(&load.pipeline).copied().unwrap_or(0)
        }
        async fn resize(&mut self, load: &PipelineLoad, desired: u32) -> Result<()> {
            self.sizes.insert(load.pipeline.clone(), desired);
            Ok(())
        }
        fn set_quota(&mut self, quota: PlanQuota) {
            self.quota = Some(quota);
        }
        async fn remove(&mut self, pipeline: &str) {
            self.sizes.remove(pipeline);
        }
        async fn stop(&mut self) {}
    }

    /// A hub on SQLite under `dir` with one READY workspace, and a scaler for it.
    async fn scaler_of_a_ready_workspace(dir: &std::path::Path, idle_sleep: IdleSleep) -> (Hub, Scaler) {
        let database = strata_testkit::TestDatabase::create(strata_testkit::Backend::Sqlite, dir).await;
        let url = strata_core::config::DatabaseUrl::parse(&database.url()).expect("url");
        let db = strata_core::db::connect(&url).await.expect("connect");
        let mailer = std::sync::Arc::new(strata_hub::OutboxMailer::new(dir.join("outbox")));
        let hub = Hub::open(db, mailer, strata_hub::HubSettings::new(strata_core::config::MasterKeys::generate()))
            .await
            .expect("hub");
        hub.ensure_hosted_workspace(strata_hub::LOCAL_ORG, "default", "http://127.0.0.1:1").await.expect("org");
        let token = hub.local_admin_token("tests").await.expect("token");
        let admin = hub.authenticate(&token.secret).await.expect("admin");
        let new = strata_hub::NewWorkspace {
            org_slug: strata_hub::LOCAL_ORG.into(),
            slug: "ci".into(),
            ..Default::default()
        };
        let workspace = hub.create_workspace(&admin, &new).await.expect("create").id;
        let ready = strata_hub::ObservedStatus {
            state: strata_hub::WorkspaceState::Ready,
            endpoint: Some("http://127.0.0.1:9".into()),
            conditions: Vec::new(),
        };
        hub.record_status(workspace, 1, ready).await.expect("ready");
        let (_, updates) = tokio::sync::watch::channel(PlanQuota::built_in("free"));
        let client = strata_client::StrataClient::new("http://127.0.0.1:9").expect("client").workspace("ci");
        let scaler = Scaler {
            workspace_id: workspace,
            label: "local/ci".into(),
            client,
            every: Duration::from_millis(10),
            policy: PolicyConfig::default(),
            quota: updates,
            hub: hub.clone(),
            metrics: ProvisionerMetrics::disabled(),
            idle_sleep,
        };
        (hub, scaler)
    }

    async fn state_of(hub: &Hub, scaler: &Scaler) -> strata_hub::WorkspaceState {
        hub.provisioner_workspace(scaler.workspace_id).await.expect("read").expect("there").state
    }

    #[tokio::test]
    async fn a_workspace_sleeps_only_when_no_pipeline_has_work_a_schedule_or_a_busy_worker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (hub, scaler) = scaler_of_a_ready_workspace(dir.path(), IdleSleep::After(Duration::ZERO)).await;
        let idle = PipelineLoad { outstanding_datums: 0, ..load(2, true, false) };
        let busy_loads = [
            PipelineLoad { outstanding_datums: 1, ..idle.clone() },
            PipelineLoad { scheduled: true, ..idle.clone() },
            PipelineLoad { busy_workers: vec!["w-1".into()], ..idle.clone() },
        ];
        for busy in busy_loads {
            let mut quiet_since = None;
            scaler.consider_sleep(&[idle.clone(), busy.clone()], &mut quiet_since).await;
            assert_eq!(quiet_since, None, "{busy:?}");
            assert_eq!(state_of(&hub, &scaler).await, strata_hub::WorkspaceState::Ready, "{busy:?}");
        }
        let stopped_cron = PipelineLoad { scheduled: true, stopped: true, ..idle.clone() };
        scaler.consider_sleep(&[idle, stopped_cron], &mut None).await;
        assert_eq!(state_of(&hub, &scaler).await, strata_hub::WorkspaceState::Sleeping);
    }

    #[tokio::test]
    async fn a_request_noted_during_the_quiet_spell_keeps_the_workspace_awake() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (hub, scaler) = scaler_of_a_ready_workspace(dir.path(), IdleSleep::After(Duration::ZERO)).await;
        let token = hub.local_admin_token("reader").await.expect("token");
        let admin = hub.authenticate(&token.secret).await.expect("admin");
        let reached = hub.reach_workspace(&admin, strata_hub::LOCAL_ORG, "ci").await.expect("reach");
        assert_eq!(reached.access.state, strata_hub::WorkspaceState::Ready);
        // The scaler's cutoff (now minus a zero spell) is after the request: it sleeps.
        scaler.consider_sleep(&[], &mut None).await;
        assert_eq!(state_of(&hub, &scaler).await, strata_hub::WorkspaceState::Sleeping);
        // A cutoff from before the request (a spell longer than the time since) refuses.
        assert!(hub.wake(scaler.workspace_id).await.expect("wake"));
        let before = chrono::Utc::now() - chrono::Duration::seconds(60);
        assert!(!hub.request_sleep(scaler.workspace_id, before).await.expect("sleep"), "woken just now");
        let never = Scaler { idle_sleep: IdleSleep::Never, ..scaler };
        never.consider_sleep(&[], &mut Some(Instant::now() - Duration::from_secs(3600))).await;
        assert_ne!(state_of(&hub, &never).await, strata_hub::WorkspaceState::Sleeping);
    }

    #[tokio::test]
    async fn parallelism_above_the_quota_is_clamped_shared_and_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (hub, scaler) = scaler_of_a_ready_workspace(dir.path(), IdleSleep::Never).await;
        let workspace = scaler.workspace_id;
        let wide =
            |name: &str| PipelineLoad { pipeline: name.into(), outstanding_datums: 100, ..load(50, true, false) };
        let loads = [wide("a"), wide("b")];
        let (mut workers, mut pipelines, mut in_step) = (Recorded::default(), BTreeMap::new(), false);
        for _ in 0..3 {
            scaler.tick(&mut workers, &mut pipelines, &loads, Instant::now(), &mut in_step).await;
        }
        assert_eq!((workers.sizes["a"], workers.sizes["b"]), (2, 2), "the free plan's 4 workers, shared");
        assert_eq!(workers.quota, Some(PlanQuota::built_in("free")));
        let rows = hub.workers_of(workspace).await.expect("rows");
        assert_eq!(rows.len(), 2);
        for row in rows {
            assert_eq!((row.desired, row.current, row.max_workers), (2, 2, 4), "{row:?}");
            let message = row.message.unwrap_or_default();
            assert!(message.contains("quota") && message.contains("2 of 4 granted"), "{message}");
        }
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
