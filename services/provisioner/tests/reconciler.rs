//! The reconciler's rules, against a real hub on SQLite and PostgreSQL and
//! a scripted backend (the local backend has its own end-to-end tests in
//! the CLI suite; here each failure can be set up exactly).
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_core::config::DatabaseUrl;
use strata_hub::{
    ConditionType, DesiredWorkspace, Hub, HubSettings, NewWorkspace, OutboxMailer, Principal, WorkspaceState,
};
use strata_provisioner::{
    Applied, Backend, ProvisionerError, ProvisionerMetrics, Reconciler, ReconcilerConfig, Role, Teardown,
};
use strata_testkit::{Backend as Db, TestDatabase};
use tokio::sync::Notify;

use crate::common::ManualClock;

/// What the scripted backend was asked to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Apply(String),
    Teardown(String),
    FreeData(String),
}

/// Answers `apply` from a script of failures, then succeeds.
#[derive(Debug, Default)]
struct ScriptedBackend {
    calls: Mutex<Vec<Call>>,
    failures: Mutex<VecDeque<ProvisionerError>>,
    /// When set, `apply` waits for it (to change the hub mid-reconcile).
    gate: Mutex<Option<Arc<Notify>>>,
    /// Notified when `apply` has begun, before it waits for the gate.
    applying: Notify,
    changes: Arc<Notify>,
}

impl ScriptedBackend {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn fail_next(&self, error: ProvisionerError) {
        self.failures.lock().unwrap().push_back(error);
    }
}

#[async_trait::async_trait]
impl Backend for ScriptedBackend {
    fn name(&self) -> &'static str {
        "scripted"
    }

    async fn apply(&self, workspace: &DesiredWorkspace, secret: &str) -> Result<Applied, ProvisionerError> {
        assert!(secret.starts_with("sts_"), "the reconciler hands over the workspace's service secret");
        self.calls.lock().unwrap().push(Call::Apply(workspace.slug.clone()));
        self.applying.notify_one();
        let gate = self.gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            gate.notified().await;
        }
        if let Some(error) = self.failures.lock().unwrap().pop_front() {
            return Err(error);
        }
        Ok(Applied::running(format!("http://127.0.0.1:9/{}", workspace.slug)))
    }

    async fn teardown(&self, workspace: &DesiredWorkspace) -> Result<Teardown, ProvisionerError> {
        self.calls.lock().unwrap().push(Call::Teardown(workspace.slug.clone()));
        Ok(Teardown::Done)
    }

    async fn free_data(&self, workspace: &DesiredWorkspace) -> Result<(), ProvisionerError> {
        self.calls.lock().unwrap().push(Call::FreeData(workspace.slug.clone()));
        Ok(())
    }

    fn changes(&self) -> Arc<Notify> {
        self.changes.clone()
    }
}

struct Fixture {
    hub: Hub,
    admin: Principal,
    backend: Arc<ScriptedBackend>,
    /// The reconcilers' time, moved on by the tests.
    clock: Arc<ManualClock>,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

/// The operator lets the local organisation use every plan and hold the
/// workspaces these tests make (`org_plans`).
fn operator_settings() -> HubSettings {
    let org_plans = strata_hub::plans::OrgPlans::new(
        &strata_hub::plans::Catalogue::built_in(),
        &[(strata_hub::LOCAL_ORG.to_owned(), "enterprise".to_owned())],
    );
    HubSettings { org_plans: org_plans.unwrap(), ..HubSettings::new(strata_core::config::MasterKeys::generate()) }
}

async fn fixture(db: Db) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(db, dir.path()).await;
    let connection = strata_core::db::connect(&DatabaseUrl::parse(&database.url()).unwrap()).await.unwrap();
    let mailer = Arc::new(OutboxMailer::new(dir.path().join("outbox")));
    let hub = Hub::open(connection, mailer, operator_settings()).await.unwrap();
    hub.ensure_hosted_workspace(strata_hub::LOCAL_ORG, "default", "http://127.0.0.1:1").await.unwrap();
    let token = hub.local_admin_token("tests").await.unwrap();
    let admin = hub.authenticate(&token.secret).await.unwrap();
    let clock = Arc::new(ManualClock::new());
    Fixture { hub, admin, backend: Arc::default(), clock, _database: database, _dir: dir }
}

fn config() -> ReconcilerConfig {
    ReconcilerConfig {
        poll: Duration::from_millis(20),
        // On the manual clock: only the tests move time on.
        backoff_initial: Duration::from_millis(1500),
        backoff_max: Duration::from_millis(5000),
        deletion_grace: Duration::from_secs(3600),
        ..ReconcilerConfig::default()
    }
}

impl Fixture {
    fn reconciler(&self, config: ReconcilerConfig) -> Reconciler {
        Reconciler::new(self.hub.clone(), self.backend.clone(), config, ProvisionerMetrics::disabled())
            .with_clock(self.clock.clone())
    }

    async fn create(&self, slug: &str) -> strata_hub::Workspace {
        let new = NewWorkspace { org_slug: strata_hub::LOCAL_ORG.into(), slug: slug.into(), ..Default::default() };
        self.hub.create_workspace(&self.admin, &new).await.unwrap()
    }

    async fn get(&self, slug: &str) -> strata_hub::Workspace {
        self.hub.workspace(&self.admin, strata_hub::LOCAL_ORG, slug).await.unwrap()
    }

    /// The workspace row by id, deleted ones included.
    async fn row(&self, id: strata_core::id::WorkspaceId) -> DesiredWorkspace {
        self.hub.provisioner_workspace(id).await.unwrap().unwrap()
    }
}

fn condition(ws: &strata_hub::Workspace, kind: ConditionType) -> &strata_hub::Condition {
    ws.conditions.iter().find(|c| c.kind == kind).unwrap_or_else(|| panic!("no {kind:?} in {:?}", ws.conditions))
}

strata_testkit::on_both_backends!(
    a_new_workspace_becomes_ready_and_a_resync_changes_nothing,
    failures_back_off_show_as_degraded_and_recover,
    a_permanent_failure_marks_the_workspace_failed,
    a_delete_during_provisioning_wins,
    a_restarted_provisioner_resumes_where_the_last_stopped,
    deleted_data_is_freed_after_the_grace_period,
    one_provisioner_leads_at_a_time,
    a_plan_below_usage_is_reported_and_deletes_nothing,
);

async fn a_new_workspace_becomes_ready_and_a_resync_changes_nothing(db: Db) {
    let f = fixture(db).await;
    let created = f.create("ci").await;
    assert_eq!(created.state, WorkspaceState::Pending);
    assert!(!condition(&created, ConditionType::Ready).status);

    let mut reconciler = f.reconciler(config());
    reconciler.pass().await;
    let ready = f.get("ci").await;
    assert_eq!(ready.state, WorkspaceState::Ready);
    assert_eq!(ready.endpoint.as_deref(), Some("http://127.0.0.1:9/ci"));
    assert_eq!(ready.observed_generation, ready.generation);
    assert_eq!(condition(&ready, ConditionType::Ready).reason, "Provisioned");
    assert!(!condition(&ready, ConditionType::Degraded).status);
    assert_eq!(f.backend.calls(), [Call::Apply("ci".into())], "the in-process `default` is not the provisioner's");

    reconciler.pass().await;
    assert_eq!(f.backend.calls().len(), 1, "nothing is due until the resync interval");
    let again = f.get("ci").await;
    assert_eq!(again.updated_at, ready.updated_at, "no write without a change");
}

async fn failures_back_off_show_as_degraded_and_recover(db: Db) {
    let f = fixture(db).await;
    let created = f.create("flaky").await;
    f.backend.fail_next(ProvisionerError::retryable("ServerStartFailed", "port taken"));
    f.backend.fail_next(ProvisionerError::retryable("ServerStartFailed", "port taken"));
    let mut reconciler = f.reconciler(config());

    reconciler.pass().await;
    let degraded = f.get("flaky").await;
    assert_eq!(degraded.state, WorkspaceState::Provisioning, "never READY while the backend fails");
    let condition = condition(&degraded, ConditionType::Degraded);
    assert!(condition.status);
    assert_eq!(condition.reason, "ServerStartFailed");
    assert!(condition.message.contains("port taken") && condition.message.contains("attempt 1"), "{condition:?}");

    reconciler.pass().await;
    assert_eq!(f.backend.calls().len(), 1, "backing off: no retry at once");
    f.clock.advance(Duration::from_millis(1600));
    reconciler.pass().await;
    assert_eq!(f.backend.calls().len(), 2);
    assert!(self::condition(&f.get("flaky").await, ConditionType::Degraded).message.contains("attempt 2"));
    f.clock.advance(Duration::from_millis(3100));
    reconciler.pass().await;
    let ready = f.get("flaky").await;
    assert_eq!(ready.state, WorkspaceState::Ready);
    assert!(!self::condition(&ready, ConditionType::Degraded).status, "recovery clears Degraded");
    assert_eq!(f.row(created.id).await.observed_generation, 1);
}

async fn a_permanent_failure_marks_the_workspace_failed(db: Db) {
    let f = fixture(db).await;
    f.create("broken").await;
    f.backend.fail_next(ProvisionerError::permanent("ExecutableMissing", "cannot run /nowhere/strata"));
    f.reconciler(config()).pass().await;
    let failed = f.get("broken").await;
    assert_eq!(failed.state, WorkspaceState::Failed);
    assert_eq!(condition(&failed, ConditionType::Ready).reason, "ExecutableMissing");
    assert!(failed.status_message.unwrap().contains("/nowhere/strata"));
}

async fn a_delete_during_provisioning_wins(db: Db) {
    let f = fixture(db).await;
    let created = f.create("short-lived").await;
    let gate = Arc::new(Notify::new());
    *f.backend.gate.lock().unwrap() = Some(gate.clone());
    let mut reconciler = f.reconciler(config());
    let hub = f.hub.clone();
    let admin = f.admin.clone();
    let backend = f.backend.clone();
    let deleter = tokio::spawn(async move {
        // Wait until the reconciler is inside `apply`, then delete.
        backend.applying.notified().await;
        hub.delete_workspace(&admin, strata_hub::LOCAL_ORG, "short-lived", "short-lived").await.unwrap();
        gate.notify_one();
    });
    reconciler.pass().await;
    deleter.await.unwrap();
    let row = f.row(created.id).await;
    assert_eq!(row.state, WorkspaceState::Deleting, "the slow apply did not overwrite the delete");
    assert_eq!(row.observed_generation, 1);

    *f.backend.gate.lock().unwrap() = None;
    reconciler.pass().await;
    let row = f.row(created.id).await;
    assert_eq!(row.state, WorkspaceState::Deleted);
    assert_eq!(row.observed_generation, 2);
    assert_eq!(f.backend.calls(), [Call::Apply("short-lived".into()), Call::Teardown("short-lived".into())]);
    // The slug is free again.
    assert_eq!(f.create("short-lived").await.state, WorkspaceState::Pending);
}

async fn a_restarted_provisioner_resumes_where_the_last_stopped(db: Db) {
    let f = fixture(db).await;
    let created = f.create("resumed").await;
    // The first provisioner "dies" inside apply: it got as far as
    // PROVISIONING and never wrote READY.
    f.backend.fail_next(ProvisionerError::retryable("Interrupted", "killed"));
    f.reconciler(config()).pass().await;
    assert_eq!(f.get("resumed").await.state, WorkspaceState::Provisioning);
    let secret = f.row(created.id).await.service_secret.unwrap();

    let mut second = f.reconciler(config());
    second.pass().await;
    let ready = f.row(created.id).await;
    assert_eq!(ready.state, WorkspaceState::Ready);
    assert_eq!(ready.service_secret.as_deref(), Some(secret.as_str()), "the secret is made once");
    assert_eq!(f.hub.provisioner_workspaces().await.unwrap().len(), 1, "no duplicate rows");
}

async fn deleted_data_is_freed_after_the_grace_period(db: Db) {
    let f = fixture(db).await;
    let created = f.create("gone").await;
    let mut kept = f.reconciler(config());
    kept.pass().await;
    f.hub.delete_workspace(&f.admin, strata_hub::LOCAL_ORG, "gone", "gone").await.unwrap();
    kept.pass().await;
    kept.pass().await;
    assert!(!f.backend.calls().contains(&Call::FreeData("gone".into())), "the grace period keeps the data");

    let mut eager = f.reconciler(ReconcilerConfig { deletion_grace: Duration::ZERO, ..config() });
    eager.pass().await;
    assert!(f.backend.calls().contains(&Call::FreeData("gone".into())));
    let row = f.row(created.id).await;
    assert!(row.data_freed_at.is_some());
    assert!(row.service_secret.is_none(), "the secret dies with the data");
    assert!(f.hub.provisioner_workspaces().await.unwrap().is_empty(), "nothing left to do for it");
}

async fn one_provisioner_leads_at_a_time(db: Db) {
    let f = fixture(db).await;
    // Leases are stamped with explicit times: one ends when the test says so,
    // not when the machine is slow enough.
    let ttl = Duration::from_secs(30);
    let start = chrono::Utc::now();
    let lease = |holder: &'static str, at: chrono::DateTime<chrono::Utc>| {
        let hub = f.hub.clone();
        async move { hub.try_lease_at("provisioner", holder, ttl, at).await.unwrap() }
    };
    assert!(lease("a", start).await);
    assert!(!lease("b", start).await, "b waits while a holds it");
    assert!(lease("a", start).await, "a renews");
    let after_expiry = start + chrono::Duration::seconds(31);
    assert!(lease("b", after_expiry).await, "an expired lease passes on");
    f.hub.release_lease("provisioner", "b").await.unwrap();
    assert!(lease("a", after_expiry).await, "a released lease is free at once");

    // Two reconcilers running side by side: only the one holding the lease acts.
    f.hub.release_lease("provisioner", "a").await.unwrap();
    f.create("shared").await;
    let stop = tokio_util::sync::CancellationToken::new();
    // A lease far longer than the test: on a loaded machine a renewal late
    // by the default 5 s would hand over the lease, and the new leader
    // rightly re-applies what it has not checked itself.
    let config = || ReconcilerConfig { lease_ttl: Duration::from_secs(120), ..config() };
    let (first, second) = (f.reconciler(config()), f.reconciler(config()));
    let mut roles = [first.role(), second.role()];
    let first = tokio::spawn(first.run(stop.clone()));
    let second = tokio::spawn(second.run(stop.clone()));
    // Both have asked for the lease, and the leader has done its work.
    for role in &mut roles {
        role.wait_for(|role| *role != Role::Starting).await.unwrap();
    }
    wait_until_ready(&f, "shared").await;
    stop.cancel();
    first.await.unwrap();
    second.await.unwrap();
    assert_eq!(f.backend.calls(), [Call::Apply("shared".into())], "one apply, not one per replica");
}

/// Polls the hub until `slug` is READY; a generous deadline, only reached
/// when the reconciler is broken.
async fn wait_until_ready(f: &Fixture, slug: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while f.get(slug).await.state != WorkspaceState::Ready {
        assert!(tokio::time::Instant::now() < deadline, "{slug} never became READY");
        // Poll interval of a wait-for-condition loop, not synchronisation.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_plan_below_usage_is_reported_and_deletes_nothing(db: Db) {
    let f = fixture(db).await;
    let new = NewWorkspace {
        org_slug: strata_hub::LOCAL_ORG.into(),
        slug: "big".into(),
        plan: Some("team".into()),
        ..Default::default()
    };
    let created = f.hub.create_workspace(&f.admin, &new).await.unwrap();
    let config = ReconcilerConfig { resync: Duration::ZERO, ..config() };
    let mut reconciler = f.reconciler(config);
    reconciler.pass().await;
    let running = |current: u32| strata_hub::PipelineWorkers {
        pipeline: "edges".into(),
        desired: current,
        current,
        outstanding: 40,
        max_workers: 32,
        reason: "scale_up".into(),
        message: None,
        updated_at: chrono::Utc::now(),
    };
    f.hub.record_workers(created.id, &running(10)).await.unwrap();

    let moved = f.hub.set_workspace_plan(&f.admin, strata_hub::LOCAL_ORG, "big", "free").await.unwrap();
    assert_eq!((moved.plan.as_str(), moved.generation), ("free", created.generation + 1));
    reconciler.pass().await;
    let downgraded = f.get("big").await;
    assert_eq!(downgraded.state, WorkspaceState::Ready, "a smaller plan stops nothing that serves");
    assert_eq!(downgraded.observed_generation, downgraded.generation);
    let degraded = condition(&downgraded, ConditionType::Degraded);
    assert!(degraded.status && degraded.reason == "PlanBelowUsage", "{degraded:?}");
    assert!(degraded.message.contains("allows 4 workers") && degraded.message.contains("10 run now"), "{degraded:?}");
    assert!(!f.backend.calls().iter().any(|c| matches!(c, Call::Teardown(_) | Call::FreeData(_))), "nothing deleted");

    f.hub.record_workers(created.id, &running(4)).await.unwrap();
    reconciler.pass().await;
    assert!(!condition(&f.get("big").await, ConditionType::Degraded).status, "usage fits again");

    let bad = f.hub.set_workspace_plan(&f.admin, strata_hub::LOCAL_ORG, "big", "platinum").await.unwrap_err();
    assert!(bad.to_string().contains("plan"), "{bad}");
}
