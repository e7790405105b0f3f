//! The reconcile loop: reads the workspaces the hub wants, drives the
//! backend towards them, and writes what it found back as status.
//!
//! * Level-triggered: each pass looks at every workspace and decides from
//!   its current row, so a crash after any step is repaired by the next
//!   pass (of this or another replica).
//! * One active replica: a lease row in the control-plane database; the
//!   others wait and take over when it expires.
//! * Status writes are conditional on the generation read, so a slow pass
//!   never overwrites a newer wish (a delete that came meanwhile).
//! * Failures back off per workspace (exponentially, capped) and show as a
//!   `Degraded` condition with the reason.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_core::id::WorkspaceId;
use strata_hub::{Condition, ConditionType, DesiredWorkspace, Hub, ObservedStatus, WorkspaceState};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, Teardown};
use crate::clock::{Clock, SystemClock};
use crate::error::{ProvisionerError, Result};
use crate::metrics::ProvisionerMetrics;
use crate::plans::PlanQuota;

/// The lease all provisioner replicas of an installation compete for.
pub const LEASE: &str = "provisioner";

/// What a running replica last learnt from the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It has not asked for the lease yet.
    Starting,
    /// It holds the lease and reconciles.
    Leading,
    /// Another replica holds the lease; this one waits to take over.
    Standby,
}

/// Timing of the loop.
#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    /// How often to look for new wishes when nothing wakes the loop.
    pub poll: Duration,
    /// How often a workspace that looks fine is checked again anyway.
    pub resync: Duration,
    /// How long a lease lasts without renewal.
    pub lease_ttl: Duration,
    /// How long a deleted workspace's data is kept before it is freed.
    pub deletion_grace: Duration,
    /// Backoff after a failure: first delay, doubled each time up to `max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        ReconcilerConfig {
            poll: Duration::from_millis(200),
            resync: Duration::from_secs(10),
            lease_ttl: Duration::from_secs(5),
            deletion_grace: Duration::from_secs(3600),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    until: Instant,
}

/// Where a reconcile left a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// As wished (or recorded as failed): look again at the next resync.
    Settled,
    /// The backend is on its way (pods starting, a namespace terminating):
    /// look again soon, less often the longer it takes.
    Waiting,
}

/// The longest pause between looks at a workspace the backend is still
/// working on; the first pause is the poll interval, doubling from there.
const WAITING_MAX: Duration = Duration::from_secs(5);

/// The loop's state.
#[derive(Debug)]
pub struct Reconciler {
    hub: Hub,
    backend: Arc<dyn Backend>,
    config: ReconcilerConfig,
    /// This replica's name in the lease.
    holder: String,
    backoff: HashMap<WorkspaceId, Backoff>,
    /// Workspaces the backend is still working on, and when to look again
    /// (`failures` counts the looks).
    waiting: HashMap<WorkspaceId, Backoff>,
    synced: HashMap<WorkspaceId, Instant>,
    metrics: ProvisionerMetrics,
    clock: Arc<dyn Clock>,
    role: watch::Sender<Role>,
}

impl Reconciler {
    pub fn new(hub: Hub, backend: Arc<dyn Backend>, config: ReconcilerConfig, metrics: ProvisionerMetrics) -> Self {
        let holder = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Reconciler {
            hub,
            backend,
            config,
            holder,
            backoff: HashMap::new(),
            waiting: HashMap::new(),
            synced: HashMap::new(),
            metrics,
            clock: Arc::new(SystemClock),
            role: watch::Sender::new(Role::Starting),
        }
    }

    /// Measures backoffs, pauses and resyncs on `clock` instead of the
    /// system's (tests move a manual clock on rather than sleep).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// This replica's role, updated each time `run` asks for the lease;
    /// take it before calling `run`.
    pub fn role(&self) -> watch::Receiver<Role> {
        self.role.subscribe()
    }

    /// Records what the lease said; answers the role it replaces.
    fn take_role(&self, role: Role) -> Role {
        self.role.send_replace(role)
    }

    /// Runs until `stop`; then stops what the backend runs here and gives
    /// the lease up so another replica takes over at once.
    pub async fn run(mut self, stop: CancellationToken) {
        let changes = self.backend.changes();
        let wishes = self.hub.workspace_changes();
        while !stop.is_cancelled() {
            match self.hub.try_lease(LEASE, &self.holder, self.config.lease_ttl).await {
                Ok(true) => {
                    if self.take_role(Role::Leading) != Role::Leading {
                        tracing::info!(holder = %self.holder, backend = self.backend.name(), "provisioner leads");
                        // A new leader trusts nothing it has not checked itself.
                        self.synced.clear();
                    }
                    self.pass().await;
                }
                Ok(false) => {
                    if self.take_role(Role::Standby) == Role::Leading {
                        tracing::warn!(holder = %self.holder, "lost the provisioner lease; standing by");
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot reach the control plane for the lease"),
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = changes.notified() => {}
                () = wishes.notified() => {}
                () = tokio::time::sleep(self.config.poll) => {}
            }
        }
        self.backend.shutdown().await;
        let leading = *self.role.borrow() == Role::Leading;
        if leading && let Err(error) = self.hub.release_lease(LEASE, &self.holder).await {
            tracing::warn!(%error, "could not release the provisioner lease");
        }
    }

    /// One look at every workspace.
    pub async fn pass(&mut self) {
        let workspaces = match self.hub.provisioner_workspaces().await {
            Ok(workspaces) => workspaces,
            Err(error) => {
                tracing::warn!(%error, "cannot list workspaces");
                return;
            }
        };
        for workspace in workspaces {
            if !self.due(&workspace) {
                continue;
            }
            // Real time, not the clock's: this is a measurement for metrics.
            let started = Instant::now();
            let outcome = self.reconcile(&workspace).await;
            self.metrics.reconciled(self.backend.name(), outcome.as_ref().err(), started.elapsed());
            match outcome {
                Ok(outcome) => {
                    self.backoff.remove(&workspace.id);
                    self.synced.insert(workspace.id, self.clock.now());
                    self.note_waiting(workspace.id, outcome);
                }
                Err(error) => {
                    self.waiting.remove(&workspace.id);
                    self.failed(&workspace, &error).await;
                }
            }
        }
    }

    /// Spaces out the looks at a workspace the backend is still working on,
    /// so a server that takes a minute to start costs a dozen looks, not
    /// hundreds.
    fn note_waiting(&mut self, id: WorkspaceId, outcome: Outcome) {
        if outcome == Outcome::Settled {
            self.waiting.remove(&id);
            return;
        }
        let looks = self.waiting.get(&id).map_or(1, |w| w.failures.saturating_add(1));
        let pause = self.config.poll.saturating_mul(2u32.saturating_pow((looks - 1).min(16))).min(WAITING_MAX);
        self.waiting.insert(id, Backoff { failures: looks, until: self.clock.now() + pause });
    }

    /// Whether a workspace needs work now.
    fn due(&self, workspace: &DesiredWorkspace) -> bool {
        let now = self.clock.now();
        if self.backoff.get(&workspace.id).is_some_and(|b| now < b.until) {
            return false;
        }
        let new_wish = workspace.generation > workspace.observed_generation;
        if !new_wish && self.waiting.get(&workspace.id).is_some_and(|w| now < w.until) {
            return false;
        }
        let stale =
            self.synced.get(&workspace.id).is_none_or(|at| now.saturating_duration_since(*at) >= self.config.resync);
        match workspace.state {
            WorkspaceState::Pending | WorkspaceState::Provisioning | WorkspaceState::Deleting => true,
            WorkspaceState::Deleted => workspace.data_freed_at.is_none() && self.grace_over(workspace),
            WorkspaceState::Ready | WorkspaceState::Sleeping | WorkspaceState::Suspended | WorkspaceState::Failed => {
                workspace.generation > workspace.observed_generation || stale
            }
        }
    }

    fn grace_over(&self, workspace: &DesiredWorkspace) -> bool {
        let grace = chrono::Duration::from_std(self.config.deletion_grace).unwrap_or(chrono::Duration::MAX);
        chrono::Utc::now() >= workspace.updated_at + grace
    }

    async fn reconcile(&self, workspace: &DesiredWorkspace) -> Result<Outcome> {
        match workspace.state {
            WorkspaceState::Deleting => self.delete(workspace).await,
            WorkspaceState::Deleted => {
                self.backend.free_data(workspace).await?;
                self.hub.mark_data_freed(workspace.id).await?;
                tracing::info!(workspace = %workspace.id, "freed the data of a deleted workspace");
                Ok(Outcome::Settled)
            }
            WorkspaceState::Suspended => {
                if let Teardown::Waiting(why) = self.backend.teardown(workspace).await? {
                    return self.still_going(workspace, "Suspending", why).await;
                }
                let ready = Condition::new(ConditionType::Ready, false, "Suspended", "the workspace is suspended");
                self.record(workspace, WorkspaceState::Suspended, None, vec![ready]).await?;
                Ok(Outcome::Settled)
            }
            WorkspaceState::Sleeping => {
                if let Teardown::Waiting(why) = self.backend.sleep(workspace).await? {
                    return self.still_going(workspace, "FallingAsleep", why).await;
                }
                let message = "asleep after a quiet spell; the next request wakes it";
                let ready = Condition::new(ConditionType::Ready, false, "Sleeping", message);
                let progressing = Condition::new(ConditionType::Progressing, false, "Sleeping", "nothing left to do");
                if workspace.observed_generation < workspace.generation {
                    tracing::info!(workspace = %workspace.id, "workspace asleep");
                }
                self.record(workspace, WorkspaceState::Sleeping, None, vec![ready, progressing]).await?;
                Ok(Outcome::Settled)
            }
            _ => self.provision(workspace).await,
        }
    }

    async fn provision(&self, workspace: &DesiredWorkspace) -> Result<Outcome> {
        if workspace.state == WorkspaceState::Pending {
            let working = "starting the workspace server";
            let conditions = vec![
                Condition::new(ConditionType::Ready, false, "Provisioning", working),
                Condition::new(ConditionType::Progressing, true, "Provisioning", working),
            ];
            self.record(workspace, WorkspaceState::Provisioning, None, conditions).await?;
        }
        let secret = self.hub.ensure_service_secret(workspace.id).await?;
        let applied = self.backend.apply(workspace, &secret).await?;
        if let Some(why) = applied.waiting {
            return self.still_going(workspace, "WaitingForServer", why).await;
        }
        let message = match applied.notes.as_slice() {
            [] => "the workspace server is running".to_owned(),
            notes => format!("the workspace server is running; {}", notes.join("; ")),
        };
        let degraded = match self.usage_above_plan(workspace).await? {
            Some(over) => Condition::new(ConditionType::Degraded, true, "PlanBelowUsage", over),
            None => Condition::new(ConditionType::Degraded, false, "AsExpected", "no errors"),
        };
        let conditions = vec![
            Condition::new(ConditionType::Ready, true, "Provisioned", message),
            Condition::new(ConditionType::Progressing, false, "Provisioned", "nothing left to do"),
            degraded,
        ];
        let state = WorkspaceState::Ready;
        if workspace.state != state || workspace.endpoint.as_deref() != Some(applied.endpoint.as_str()) {
            tracing::info!(workspace = %workspace.id, endpoint = %applied.endpoint, "workspace ready");
        }
        self.record(workspace, state, Some(applied.endpoint), conditions).await?;
        Ok(Outcome::Settled)
    }

    /// After a move to a smaller plan, what runs may be above its quota.
    /// Nothing is deleted for it: the autoscaler does not replace workers
    /// above the quota as they finish; until then the status says so.
    async fn usage_above_plan(&self, workspace: &DesiredWorkspace) -> Result<Option<String>> {
        let quota = PlanQuota::of(&workspace.plan);
        let running: u32 = self.hub.workers_of(workspace.id).await?.iter().map(|w| w.current).sum();
        Ok((running > quota.max_workers).then(|| {
            format!(
                "the {} plan allows {} workers at once and {running} run now; nothing is deleted: \
                 the autoscaler stops the workers above the quota and they hand their datums back",
                workspace.plan.name, quota.max_workers
            )
        }))
    }

    /// Ordered teardown: stop workers and server, then mark DELETED; the
    /// data goes after the grace period.
    async fn delete(&self, workspace: &DesiredWorkspace) -> Result<Outcome> {
        if let Teardown::Waiting(why) = self.backend.teardown(workspace).await? {
            return self.still_going(workspace, "Deleting", why).await;
        }
        let ready = Condition::new(
            ConditionType::Ready,
            false,
            "Deleted",
            format!("deleted; data is kept for {} s", self.config.deletion_grace.as_secs()),
        );
        let progressing = Condition::new(ConditionType::Progressing, false, "Deleted", "nothing left to do");
        self.record(workspace, WorkspaceState::Deleted, None, vec![ready, progressing]).await?;
        tracing::info!(workspace = %workspace.id, "workspace deleted");
        Ok(Outcome::Settled)
    }

    /// The backend is on its way (pods starting, a namespace terminating):
    /// the state stays, `Progressing` says why, and the next pass looks again.
    async fn still_going(&self, workspace: &DesiredWorkspace, reason: &str, why: String) -> Result<Outcome> {
        let state = match workspace.state {
            WorkspaceState::Pending | WorkspaceState::Ready | WorkspaceState::Failed => WorkspaceState::Provisioning,
            other => other,
        };
        let ready = Condition::new(ConditionType::Ready, false, reason, why.clone());
        let progressing = Condition::new(ConditionType::Progressing, true, reason, why);
        self.record(workspace, state, None, vec![ready, progressing]).await?;
        Ok(Outcome::Waiting)
    }

    async fn record(
        &self,
        workspace: &DesiredWorkspace,
        state: WorkspaceState,
        endpoint: Option<String>,
        conditions: Vec<Condition>,
    ) -> Result<()> {
        let status = ObservedStatus { state, endpoint, conditions };
        if !self.hub.record_status(workspace.id, workspace.generation, status).await? {
            // Changed meanwhile: the next pass sees the newer wish.
            tracing::debug!(workspace = %workspace.id, "workspace changed during reconcile; looking again");
        }
        Ok(())
    }

    /// Backs off and reports the failure as conditions (FAILED when retrying
    /// cannot help).
    async fn failed(&mut self, workspace: &DesiredWorkspace, error: &ProvisionerError) {
        let failures = self.backoff.get(&workspace.id).map_or(1, |b| b.failures + 1);
        let delay = backoff_delay(&self.config, failures);
        self.backoff.insert(workspace.id, Backoff { failures, until: self.clock.now() + delay });
        tracing::warn!(
            workspace = %workspace.id, reason = error.reason(), %error, failures, retry_in_ms = delay.as_millis() as u64,
            "reconcile failed"
        );
        let message = format!("{error} (attempt {failures}; next try in {} s)", delay.as_secs().max(1));
        let degraded = Condition::new(ConditionType::Degraded, true, error.reason(), message.clone());
        let (state, conditions) = match (workspace.state, error.is_retryable()) {
            (WorkspaceState::Deleting | WorkspaceState::Deleted, _) => (workspace.state, vec![degraded]),
            (_, false) => {
                let ready = Condition::new(ConditionType::Ready, false, error.reason(), message);
                (WorkspaceState::Failed, vec![ready, degraded])
            }
            // A READY workspace whose server died stays READY-but-Degraded
            // only while retrying; never READY with a dead endpoint and no word.
            (state, true) => {
                let ready = Condition::new(ConditionType::Ready, false, error.reason(), message);
                let progressing = Condition::new(ConditionType::Progressing, true, "Retrying", "trying again");
                let state = match state {
                    WorkspaceState::Pending | WorkspaceState::Ready => WorkspaceState::Provisioning,
                    other => other,
                };
                (state, vec![ready, progressing, degraded])
            }
        };
        if let Err(error) = self.record(workspace, state, workspace.endpoint.clone(), conditions).await {
            tracing::warn!(%error, "cannot record a failed reconcile");
        }
    }
}

/// `initial * 2^(failures-1)`, capped at `max`.
fn backoff_delay(config: &ReconcilerConfig, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
    config.backoff_initial.saturating_mul(factor).min(config.backoff_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let config = ReconcilerConfig {
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(5),
            ..ReconcilerConfig::default()
        };
        let delays: Vec<u128> = (1..=6).map(|n| backoff_delay(&config, n).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(backoff_delay(&config, u32::MAX), Duration::from_secs(5));
    }
}
