//! Idle workspaces sleep and wake (docs/provisioning.md, "Sleeping").
//!
//! The gateway and GraphQL note each workspace's activity; the provisioner's
//! autoscaler asks for sleep once a READY workspace has had no request and no
//! outstanding datum for its plan's `sleep_after`, and the reconciler then
//! stops its server (data kept). The next request of a member wakes it: the
//! workspace becomes PENDING with a new generation, and the request waits
//! until it is READY again.
//!
//! Both changes are conditional updates of the workspace row: sleep only
//! from READY when no activity was noted since the cutoff, wake only from
//! SLEEPING. A request notes its activity *before* it trusts the state it
//! read, so it either sees SLEEPING and wakes the workspace, or its note
//! keeps the sleep from happening.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};
use strata_core::id::WorkspaceId;

use crate::Hub;
use crate::entities::workspace;
use crate::error::Result;
use crate::provisioning::{MANAGED_BY_PROVISIONER, WorkspaceAccess};
use crate::roles::Principal;
use crate::workspaces::WorkspaceState;

/// How long a request waits for a sleeping workspace to wake before it is
/// answered `WORKSPACE_NOT_READY`.
pub const WAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often activity is written per workspace and process, and how often
/// requests still in flight are written again. A sleep needs a quiet spell
/// of at least [`SLEEP_AFTER_MIN`], well above this.
const NOTE_EVERY: Duration = Duration::from_secs(1);

/// The shortest quiet spell after which a workspace may sleep.
pub const SLEEP_AFTER_MIN: Duration = Duration::from_secs(3);

/// How often a waking request looks at the workspace when no change is
/// announced in this process (the provisioner may run elsewhere).
const WAKE_LOOK_EVERY: Duration = Duration::from_millis(50);

/// What this process knows of the requests it serves, per workspace.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    state: Mutex<ActivityState>,
}

#[derive(Debug, Default)]
struct ActivityState {
    /// When activity was last written.
    noted: HashMap<WorkspaceId, Instant>,
    /// Requests being served now (a long upload or download).
    in_flight: HashMap<WorkspaceId, usize>,
    /// Whether the task writing the in-flight requests' activity runs.
    refreshing: bool,
}

impl Activity {
    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Held while a request to a workspace is served: the workspace counts as
/// active until it is dropped, however long the request takes.
#[derive(Debug)]
pub struct ActivityGuard {
    id: WorkspaceId,
    activity: Arc<Activity>,
}

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        let mut state = self.activity.lock();
        if let Some(count) = state.in_flight.get_mut(&self.id) {
            *count -= 1;
            if *count == 0 {
                // Its activity was written within the last second (at its
                // start or by the refresher): nothing to write now.
                state.in_flight.remove(&self.id);
            }
        }
    }
}

/// A workspace reached for a request: what the caller may do there, and
/// the guard that keeps it awake while the request is served.
#[derive(Debug)]
pub struct Reached {
    pub access: WorkspaceAccess,
    pub activity: ActivityGuard,
}

impl Hub {
    /// Counts a request to the workspace as in flight and writes its
    /// activity unless this process did within [`NOTE_EVERY`]; `true` when
    /// it wrote.
    async fn note_activity(&self, id: WorkspaceId) -> Result<(ActivityGuard, bool)> {
        let now = Instant::now();
        let (due, start_refresher) = {
            let mut state = self.activity.lock();
            *state.in_flight.entry(id).or_default() += 1;
            let due = state.noted.get(&id).is_none_or(|at| now.duration_since(*at) >= NOTE_EVERY);
            if due {
                state.noted.insert(id, now);
            }
            let start_refresher = !std::mem::replace(&mut state.refreshing, true);
            (due, start_refresher)
        };
        let guard = ActivityGuard { id, activity: self.activity.clone() };
        if start_refresher {
            tokio::spawn(refresh_in_flight(self.db.clone(), Arc::downgrade(&self.activity)));
        }
        if due {
            touch(&self.db, &[id]).await?;
        }
        Ok((guard, due))
    }

    /// Puts a READY workspace to sleep when nothing was noted on it since
    /// `quiet_since`: a new wish the reconciler carries out (it stops the
    /// server). `false` when it is not READY or was used meanwhile.
    pub async fn request_sleep(&self, id: WorkspaceId, quiet_since: DateTime<Utc>) -> Result<bool> {
        let quiet = Condition::any()
            .add(workspace::Column::LastActiveAt.is_null())
            .add(workspace::Column::LastActiveAt.lt(quiet_since));
        let only_if = Condition::all()
            .add(workspace::Column::State.eq(WorkspaceState::Ready.as_str()))
            // A workspace served in-process lives as long as its server.
            .add(workspace::Column::ManagedBy.eq(MANAGED_BY_PROVISIONER))
            .add(quiet);
        let changes = vec![
            (workspace::Column::State, Expr::value(WorkspaceState::Sleeping.as_str())),
            (workspace::Column::Endpoint, Expr::value(None::<String>)),
            (workspace::Column::StatusMessage, Expr::value(Some("going to sleep: idle".to_owned()))),
        ];
        self.change_wish_if(id, changes, only_if, Utc::now()).await
    }

    /// Wakes a SLEEPING workspace: PENDING with a new generation, so the
    /// provisioner starts its server at once. `false` when it was not asleep.
    pub async fn wake(&self, id: WorkspaceId) -> Result<bool> {
        let now = Utc::now();
        let changes = vec![
            (workspace::Column::State, Expr::value(WorkspaceState::Pending.as_str())),
            (workspace::Column::StatusMessage, Expr::value(Some("waking up".to_owned()))),
            (workspace::Column::LastActiveAt, Expr::value(Some(now))),
        ];
        let asleep = Condition::all().add(workspace::Column::State.eq(WorkspaceState::Sleeping.as_str()));
        self.change_wish_if(id, changes, asleep, now).await
    }

    /// [`Hub::workspace_access`] for a request that is about to be served:
    /// notes the activity and, when the workspace sleeps, wakes it and waits
    /// (up to [`WAKE_TIMEOUT`]) until it serves. Someone who may not see the
    /// workspace neither wakes it nor learns it sleeps: their answer is
    /// `NOT_FOUND` as for any other state.
    pub async fn reach_workspace(&self, principal: &Principal, org_slug: &str, slug: &str) -> Result<Reached> {
        let mut access = self.workspace_access(principal, org_slug, slug).await?;
        let (activity, wrote) = self.note_activity(access.workspace_id).await?;
        if wrote && access.state == WorkspaceState::Ready {
            // A sleep decided between the read and the note: see it now.
            access = self.workspace_access(principal, org_slug, slug).await?;
        }
        if access.state == WorkspaceState::Sleeping {
            access = self.wake_and_wait(principal, org_slug, slug, access.workspace_id).await?;
        }
        Ok(Reached { access, activity })
    }

    async fn wake_and_wait(
        &self,
        principal: &Principal,
        org_slug: &str,
        slug: &str,
        id: WorkspaceId,
    ) -> Result<WorkspaceAccess> {
        let started = Instant::now();
        if self.wake(id).await? {
            tracing::info!(workspace = %id, "waking a sleeping workspace for a request");
        }
        loop {
            let changed = self.status_changes.notified();
            let access = self.workspace_access(principal, org_slug, slug).await?;
            let awake = access.state == WorkspaceState::Ready && access.upstream.is_some();
            let on_its_way = matches!(
                access.state,
                WorkspaceState::Pending | WorkspaceState::Provisioning | WorkspaceState::Sleeping
            ) || (access.state == WorkspaceState::Ready && access.upstream.is_none());
            if awake || !on_its_way || started.elapsed() >= WAKE_TIMEOUT {
                if awake {
                    tracing::info!(workspace = %id, wake_ms = started.elapsed().as_millis() as u64, "workspace awake");
                }
                return Ok(access);
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep(WAKE_LOOK_EVERY) => {}
            }
        }
    }
}

/// Writes `now` as the last activity of `ids`.
async fn touch(db: &DatabaseConnection, ids: &[WorkspaceId]) -> Result<()> {
    workspace::Entity::update_many()
        .col_expr(workspace::Column::LastActiveAt, Expr::value(Some(Utc::now())))
        .filter(workspace::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Keeps the workspaces of requests still being served active (a 20-minute
/// upload must not let its workspace fall asleep under it). Ends with the
/// hub.
async fn refresh_in_flight(db: DatabaseConnection, activity: Weak<Activity>) {
    loop {
        tokio::time::sleep(NOTE_EVERY).await;
        let Some(activity) = activity.upgrade() else { return };
        let busy: Vec<WorkspaceId> = {
            let mut state = activity.lock();
            let now = Instant::now();
            let busy: Vec<WorkspaceId> = state.in_flight.keys().copied().collect();
            for id in &busy {
                state.noted.insert(*id, now);
            }
            busy
        };
        drop(activity);
        if !busy.is_empty()
            && let Err(error) = touch(&db, &busy).await
        {
            tracing::warn!(%error, "cannot note the activity of requests in flight");
        }
    }
}
