//! The provisioner's side of the workspace rows: what it must run (desired
//! state), what it reports back (state, endpoint, conditions), the lease that
//! keeps two provisioner replicas from fighting, and the autoscaler's last
//! decision per pipeline. The gateway's route to a workspace server is here
//! too, since it reads the same columns.
//!
//! These calls act for the system, not for a person: only the provisioner
//! and the gateway (after their own checks) use them.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition as Where, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use strata_api_types::ErrorCode;
use strata_core::id::{OrganizationId, WorkspaceId};
use uuid::Uuid;

use crate::Hub;
use crate::entities::{lease, org, workspace, workspace_workers};
use crate::error::{HubError, Result, UserError};
use crate::roles::{Principal, WorkspaceRole};
use crate::sealing::{Purpose, Sealed};
use crate::workspaces::WorkspaceState;

/// `managed_by` of workspaces the provisioner runs.
pub const MANAGED_BY_PROVISIONER: &str = "provisioner";
/// `managed_by` of the workspace a server hosts in-process (`strata dev`'s `default`).
pub const MANAGED_BY_SERVER: &str = "server";

/// The kinds of status condition, as in Kubernetes objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionType {
    /// The workspace server answers and the workspace can be used.
    Ready,
    /// The provisioner is working towards the desired state.
    Progressing,
    /// Something went wrong; the provisioner keeps retrying.
    Degraded,
}

/// One status condition of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: ConditionType,
    pub status: bool,
    /// A CamelCase word for programs (`Provisioned`, `BackendError`…).
    pub reason: String,
    /// A sentence for people.
    pub message: String,
    /// When `status` last changed.
    pub last_transition_time: DateTime<Utc>,
}

impl Condition {
    pub fn new(kind: ConditionType, status: bool, reason: &str, message: impl Into<String>) -> Self {
        Condition { kind, status, reason: reason.to_owned(), message: message.into(), last_transition_time: Utc::now() }
    }

    pub(crate) fn pending(now: DateTime<Utc>) -> String {
        let waiting = "waiting for the provisioner";
        encode(&[
            Condition { last_transition_time: now, ..Condition::new(ConditionType::Ready, false, "Pending", waiting) },
            Condition {
                last_transition_time: now,
                ..Condition::new(ConditionType::Progressing, true, "Pending", waiting)
            },
        ])
    }

    pub(crate) fn ready_in_process(now: DateTime<Utc>) -> String {
        let message = "served in-process by this server";
        encode(&[Condition {
            last_transition_time: now,
            ..Condition::new(ConditionType::Ready, true, "InProcess", message)
        }])
    }

    /// `fresh` conditions, keeping the transition time of those whose
    /// status did not change since `previous`.
    pub fn merge(previous: &[Condition], fresh: Vec<Condition>) -> Vec<Condition> {
        fresh
            .into_iter()
            .map(|mut condition| {
                if let Some(old) = previous.iter().find(|old| old.kind == condition.kind)
                    && old.status == condition.status
                {
                    condition.last_transition_time = old.last_transition_time;
                }
                condition
            })
            .collect()
    }
}

fn encode(conditions: &[Condition]) -> String {
    serde_json::to_string(conditions).unwrap_or_else(|_| "[]".to_owned())
}

/// The stored conditions of workspace `id`. Unreadable JSON (never written
/// by us) is an error, not "no conditions": the provisioner would merge
/// fresh conditions into nothing and lose their transition times, and
/// people would see a workspace that reports nothing wrong.
pub(crate) fn decode(id: WorkspaceId, json: &str) -> Result<Vec<Condition>> {
    serde_json::from_str(json).map_err(|source| HubError::Corrupted {
        table: "hub_workspaces",
        key: id.to_string(),
        column: "conditions",
        source,
    })
}

/// A workspace as the provisioner sees it.
#[derive(Clone)]
pub struct DesiredWorkspace {
    pub id: WorkspaceId,
    pub org_id: OrganizationId,
    pub org_slug: String,
    pub slug: String,
    /// Its plan as the plans file says now (what its quota comes from).
    pub plan: crate::plans::Plan,
    /// What its server allows it under that plan.
    pub limits: crate::plans::PlanLimits,
    pub region: String,
    pub state: WorkspaceState,
    pub generation: i64,
    pub observed_generation: i64,
    pub endpoint: Option<String>,
    pub conditions: Vec<Condition>,
    /// What the workspace server accepts from the gateway and the workers.
    pub service_secret: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub data_freed_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for DesiredWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredWorkspace")
            .field("id", &self.id)
            .field("workspace", &format_args!("{}/{}", self.org_slug, self.slug))
            .field("plan", &self.plan.name)
            .field("state", &self.state)
            .field("generation", &self.generation)
            .field("observed_generation", &self.observed_generation)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// What the provisioner found and did, written back to the workspace row.
#[derive(Debug, Clone)]
pub struct ObservedStatus {
    pub state: WorkspaceState,
    pub endpoint: Option<String>,
    pub conditions: Vec<Condition>,
}

/// The autoscaler's last decision for one pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineWorkers {
    pub pipeline: String,
    pub desired: u32,
    pub current: u32,
    /// Datums not yet done (queued and in flight).
    pub outstanding: u64,
    /// The most workers the pipeline may have (spec and plan quota).
    pub max_workers: u32,
    /// Why `desired` is what it is (`scale_up`, `cooldown`, `idle`…).
    pub reason: String,
    /// Anything people should know, e.g. a quota that clamped the pipeline.
    pub message: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Where the gateway sends a request for a workspace, and who may.
#[derive(Clone)]
pub struct WorkspaceRoute {
    pub workspace_id: WorkspaceId,
    pub org_id: OrganizationId,
    pub slug: String,
    pub state: WorkspaceState,
    /// `None` for the workspace this server hosts in-process.
    pub upstream: Option<Upstream>,
    /// The caller's role (with the repo's bindings when a repo was named).
    pub role: WorkspaceRole,
    /// What the workspace's plan allows it now.
    pub limits: crate::plans::PlanLimits,
}

/// The caller's roles on one workspace: on the workspace itself, and on
/// each repo they hold a binding for (bindings add up, so a repo's role is
/// never below the workspace's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRoles {
    workspace: Option<WorkspaceRole>,
    repos: std::collections::BTreeMap<String, WorkspaceRole>,
}

impl WorkspaceRoles {
    pub(crate) fn new(
        workspace: Option<WorkspaceRole>,
        repos: std::collections::BTreeMap<String, WorkspaceRole>,
    ) -> Self {
        WorkspaceRoles { workspace, repos }
    }

    /// The role for a request about `repo` (or about no repo).
    pub fn for_repo(&self, repo: Option<&str>) -> Option<WorkspaceRole> {
        let on_repo = repo.and_then(|repo| self.repos.get(repo).copied());
        self.workspace.max(on_repo)
    }
}

/// A workspace as one caller may reach it; see [`Hub::workspace_access`].
#[derive(Debug, Clone)]
pub struct WorkspaceAccess {
    pub workspace_id: WorkspaceId,
    pub org_id: OrganizationId,
    pub slug: String,
    pub state: WorkspaceState,
    /// `None` for the workspace this server hosts in-process, and for one
    /// without a server (see `hosted`).
    pub upstream: Option<Upstream>,
    /// What the workspace's plan allows it now.
    pub limits: crate::plans::PlanLimits,
    /// Whether requests can be served: hosted in-process, or a server is up.
    hosted: bool,
    roles: WorkspaceRoles,
}

impl WorkspaceAccess {
    /// The caller's role for a request about `repo`; `None` when they may
    /// not even learn the workspace exists for it.
    pub fn role(&self, repo: Option<&str>) -> Option<WorkspaceRole> {
        self.roles.for_repo(repo)
    }

    /// Where a request about `repo` goes: `NOT_FOUND` without a role for
    /// it, `WORKSPACE_NOT_READY` while the workspace has no server.
    pub fn route(&self, repo: Option<&str>) -> Result<WorkspaceRoute> {
        let role = self.role(repo).ok_or_else(|| HubError::User(UserError::not_found("workspace")))?;
        if self.state == WorkspaceState::Suspended {
            return Err(crate::billing::payment_required(&self.slug));
        }
        if !self.hosted {
            return Err(HubError::User(UserError::new(
                Some("workspace"),
                ErrorCode::WorkspaceNotReady,
                format!("workspace `{}` is {}; it has no server yet", self.slug, self.state),
            )));
        }
        Ok(WorkspaceRoute {
            workspace_id: self.workspace_id,
            org_id: self.org_id,
            slug: self.slug.clone(),
            state: self.state,
            upstream: self.upstream.clone(),
            role,
            limits: self.limits.clone(),
        })
    }
}

/// A workspace server elsewhere, and the secret it accepts.
#[derive(Clone)]
pub struct Upstream {
    pub endpoint: String,
    pub secret: String,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for WorkspaceRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceRoute")
            .field("workspace_id", &self.workspace_id)
            .field("slug", &self.slug)
            .field("state", &self.state)
            .field("endpoint", &self.upstream.as_ref().map(|u| u.endpoint.as_str()))
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Every workspace the provisioner is responsible for: all but those
    /// served in-process and those deleted whose data is already freed.
    pub async fn provisioner_workspaces(&self) -> Result<Vec<DesiredWorkspace>> {
        let rows = workspace::Entity::find()
            .filter(workspace::Column::ManagedBy.eq(MANAGED_BY_PROVISIONER))
            .filter(
                Where::any()
                    .add(workspace::Column::State.ne(WorkspaceState::Deleted.as_str()))
                    .add(workspace::Column::DataFreedAt.is_null()),
            )
            .order_by_asc(workspace::Column::CreatedAt)
            .all(&self.db)
            .await?;
        self.desired_from(rows).await
    }

    /// One workspace the provisioner runs, by id.
    pub async fn provisioner_workspace(&self, id: WorkspaceId) -> Result<Option<DesiredWorkspace>> {
        let rows = workspace::Entity::find_by_id(id)
            .filter(workspace::Column::ManagedBy.eq(MANAGED_BY_PROVISIONER))
            .all(&self.db)
            .await?;
        Ok(self.desired_from(rows).await?.pop())
    }

    async fn desired_from(&self, rows: Vec<workspace::Model>) -> Result<Vec<DesiredWorkspace>> {
        let org_ids: Vec<OrganizationId> = rows.iter().map(|row| row.org_id).collect();
        let orgs = org::Entity::find().filter(org::Column::Id.is_in(org_ids)).all(&self.db).await?;
        rows.into_iter()
            .map(|row| {
                let org_slug = orgs.iter().find(|o| o.id == row.org_id).map(|o| o.slug.clone()).unwrap_or_default();
                // One unreadable secret must not stop the provisioner for every
                // workspace: this one's reconcile fails in `ensure_service_secret`.
                let service_secret = self.service_secret_of(&row).unwrap_or_else(|error| {
                    tracing::error!(workspace = %row.id, error = %error, "cannot read the service secret");
                    None
                });
                // A plan the file no longer has runs as the smallest.
                let plan = self.plans().named_or_default(&row.plan).clone();
                Ok(DesiredWorkspace {
                    id: row.id,
                    org_id: row.org_id,
                    org_slug,
                    slug: row.slug,
                    limits: crate::plans::workspace_limits(self.plans(), &plan),
                    plan,
                    region: row.region,
                    state: row.state.parse()?,
                    generation: row.generation,
                    observed_generation: row.observed_generation,
                    endpoint: row.endpoint,
                    conditions: decode(row.id, &row.conditions)?,
                    service_secret,
                    updated_at: row.updated_at,
                    data_freed_at: row.data_freed_at,
                })
            })
            .collect()
    }

    /// The workspace's service secret, made on first call and stored
    /// sealed. Two provisioners racing here agree: only the first write
    /// lands and both read it back.
    pub async fn ensure_service_secret(&self, id: WorkspaceId) -> Result<String> {
        let fresh = format!("sts_{}", crate::secrets::random_secret());
        let sealed = self.sealer.seal(Purpose::ServiceSecret, &id.to_string(), fresh.as_bytes())?;
        workspace::Entity::update_many()
            .col_expr(workspace::Column::ServiceSecretSealed, Expr::value(Some(sealed.bytes)))
            .col_expr(workspace::Column::ServiceSecretKey, Expr::value(Some(sealed.key_id)))
            .filter(workspace::Column::Id.eq(id))
            .filter(workspace::Column::ServiceSecretSealed.is_null())
            .exec(&self.db)
            .await?;
        let row = workspace::Entity::find_by_id(id).one(&self.db).await?;
        row.as_ref()
            .map(|row| self.service_secret_of(row))
            .transpose()?
            .flatten()
            .ok_or_else(|| HubError::Internal(format!("workspace {id} vanished while making its secret")))
    }

    /// Where a provisioned workspace's server answers, and its secret;
    /// `None` for one this server hosts or one without a server yet.
    pub(crate) fn upstream_of(&self, row: &workspace::Model) -> Result<Option<Upstream>> {
        if row.managed_by == MANAGED_BY_SERVER {
            return Ok(None);
        }
        let Some(endpoint) = row.endpoint.clone() else { return Ok(None) };
        Ok(self.service_secret_of(row)?.map(|secret| Upstream { endpoint, secret }))
    }

    /// Opens the row's sealed service secret, if it has one.
    fn service_secret_of(&self, row: &workspace::Model) -> Result<Option<String>> {
        let (Some(bytes), Some(key_id)) = (&row.service_secret_sealed, &row.service_secret_key) else {
            return Ok(None);
        };
        let sealed = Sealed { key_id: key_id.clone(), bytes: bytes.clone() };
        let plain = self.sealer.open(Purpose::ServiceSecret, &row.id.to_string(), &sealed)?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| HubError::Crypto(format!("the service secret of workspace {} is not text", row.id)))
    }

    /// Seals again, with the current master key, the service secrets an
    /// older master key sealed (the secrets themselves stay the same, so
    /// running workspace servers are not disturbed).
    pub(crate) async fn reseal_service_secrets(&self) -> Result<()> {
        let stale = workspace::Entity::find()
            .filter(workspace::Column::ServiceSecretKey.is_not_null())
            .filter(workspace::Column::ServiceSecretKey.ne(self.sealer.sealing_key_id()))
            .all(&self.db)
            .await?;
        for row in stale {
            let Some(secret) = self.service_secret_of(&row)? else { continue };
            let fresh = self.sealer.seal(Purpose::ServiceSecret, &row.id.to_string(), secret.as_bytes())?;
            workspace::Entity::update_many()
                .col_expr(workspace::Column::ServiceSecretSealed, Expr::value(Some(fresh.bytes)))
                .col_expr(workspace::Column::ServiceSecretKey, Expr::value(Some(fresh.key_id)))
                .filter(workspace::Column::Id.eq(row.id))
                .filter(workspace::Column::ServiceSecretKey.eq(row.service_secret_key.clone()))
                .exec(&self.db)
                .await?;
            tracing::info!(workspace = %row.id, "service secret sealed again with the current master key");
        }
        Ok(())
    }

    /// Writes what the provisioner observed for `generation`. Nothing is
    /// written (and `false` returned) when the workspace was changed since
    /// (a newer generation, e.g. a delete), so a slow reconcile can never
    /// overwrite a newer wish.
    pub async fn record_status(&self, id: WorkspaceId, generation: i64, status: ObservedStatus) -> Result<bool> {
        let Some(row) = workspace::Entity::find_by_id(id).one(&self.db).await? else { return Ok(false) };
        let conditions = Condition::merge(&decode(id, &row.conditions)?, status.conditions);
        let message = summary(&conditions);
        let mut update = workspace::Entity::update_many()
            .col_expr(workspace::Column::State, Expr::value(status.state.as_str()))
            .col_expr(workspace::Column::Endpoint, Expr::value(status.endpoint))
            .col_expr(workspace::Column::Conditions, Expr::value(encode(&conditions)))
            .col_expr(workspace::Column::StatusMessage, Expr::value(message))
            .col_expr(workspace::Column::ObservedGeneration, Expr::value(generation))
            .col_expr(workspace::Column::UpdatedAt, Expr::value(Utc::now()));
        if status.state == WorkspaceState::Deleted {
            // The slug may be used again; the row stays for the audit trail.
            update = update.col_expr(workspace::Column::LiveSlug, Expr::value(None::<String>));
        }
        let result = update
            .filter(workspace::Column::Id.eq(id))
            .filter(workspace::Column::Generation.eq(generation))
            .exec(&self.db)
            .await?;
        self.status_changes.notify_waiters();
        Ok(result.rows_affected == 1)
    }

    /// Notes that a deleted workspace's data (metadata, objects) is gone.
    pub async fn mark_data_freed(&self, id: WorkspaceId) -> Result<()> {
        workspace::Entity::update_many()
            .col_expr(workspace::Column::DataFreedAt, Expr::value(Some(Utc::now())))
            .col_expr(workspace::Column::ServiceSecretSealed, Expr::value(None::<Vec<u8>>))
            .col_expr(workspace::Column::ServiceSecretKey, Expr::value(None::<String>))
            .filter(workspace::Column::Id.eq(id))
            .filter(workspace::Column::State.eq(WorkspaceState::Deleted.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Takes or renews the lease `name` for `holder` until `ttl` from now;
    /// `false` while someone else holds an unexpired one.
    pub async fn try_lease(&self, name: &str, holder: &str, ttl: std::time::Duration) -> Result<bool> {
        self.try_lease_at(name, holder, ttl, Utc::now()).await
    }

    /// [`Self::try_lease`] as seen at `now`, which lets tests watch a lease
    /// run out without waiting for it.
    pub async fn try_lease_at(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(15));
        let fresh =
            lease::ActiveModel { name: Set(name.to_owned()), holder: Set(holder.to_owned()), expires_at: Set(until) };
        lease::Entity::insert(fresh).on_conflict_do_nothing_on([lease::Column::Name]).exec(&self.db).await?;
        let taken = lease::Entity::update_many()
            .col_expr(lease::Column::Holder, Expr::value(holder))
            .col_expr(lease::Column::ExpiresAt, Expr::value(until))
            .filter(lease::Column::Name.eq(name))
            .filter(Where::any().add(lease::Column::Holder.eq(holder)).add(lease::Column::ExpiresAt.lt(now)))
            .exec(&self.db)
            .await?;
        Ok(taken.rows_affected == 1)
    }

    /// Gives a lease up (on shutdown), so another replica takes over at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        lease::Entity::delete_many()
            .filter(lease::Column::Name.eq(name))
            .filter(lease::Column::Holder.eq(holder))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Stores the autoscaler's decision for a pipeline.
    pub async fn record_workers(&self, workspace_id: WorkspaceId, workers: &PipelineWorkers) -> Result<()> {
        let row = workspace_workers::ActiveModel {
            workspace_id: Set(workspace_id),
            pipeline: Set(workers.pipeline.clone()),
            desired: Set(i32::try_from(workers.desired).unwrap_or(i32::MAX)),
            current: Set(i32::try_from(workers.current).unwrap_or(i32::MAX)),
            outstanding: Set(i64::try_from(workers.outstanding).unwrap_or(i64::MAX)),
            max_workers: Set(i32::try_from(workers.max_workers).unwrap_or(i32::MAX)),
            reason: Set(workers.reason.clone()),
            message: Set(workers.message.clone()),
            updated_at: Set(workers.updated_at),
        };
        use workspace_workers::Column as C;
        let update = [C::Desired, C::Current, C::Outstanding, C::MaxWorkers, C::Reason, C::Message, C::UpdatedAt];
        workspace_workers::Entity::insert(row)
            .on_conflict(OnConflict::columns([C::WorkspaceId, C::Pipeline]).update_columns(update).to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Drops the autoscaler rows of pipelines that no longer exist.
    pub async fn forget_workers(&self, workspace_id: WorkspaceId, keep: &[String]) -> Result<()> {
        workspace_workers::Entity::delete_many()
            .filter(workspace_workers::Column::WorkspaceId.eq(workspace_id))
            .filter(workspace_workers::Column::Pipeline.is_not_in(keep.iter().cloned()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The autoscaler's rows of a workspace, for the provisioner and for
    /// callers that already checked access to the workspace.
    pub async fn workers_of(&self, workspace_id: WorkspaceId) -> Result<Vec<PipelineWorkers>> {
        let rows = workspace_workers::Entity::find()
            .filter(workspace_workers::Column::WorkspaceId.eq(workspace_id))
            .order_by_asc(workspace_workers::Column::Pipeline)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| PipelineWorkers {
                pipeline: row.pipeline,
                desired: u32::try_from(row.desired).unwrap_or(0),
                current: u32::try_from(row.current).unwrap_or(0),
                outstanding: u64::try_from(row.outstanding).unwrap_or(0),
                max_workers: u32::try_from(row.max_workers).unwrap_or(0),
                reason: row.reason,
                message: row.message,
                updated_at: row.updated_at,
            })
            .collect())
    }

    /// Where to send the caller's request for `org/slug` (about `repo`,
    /// when it names one): [`Self::workspace_access`] narrowed to one repo.
    pub async fn workspace_route(
        &self,
        principal: &Principal,
        org_slug: &str,
        slug: &str,
        repo: Option<&str>,
    ) -> Result<WorkspaceRoute> {
        self.workspace_access(principal, org_slug, slug).await?.route(repo)
    }

    /// The caller's access to `org/slug`, resolved once for any number of
    /// requests: its server and the caller's role on the workspace and on
    /// each repo they hold a binding for. Workspaces the caller has no role
    /// on, and missing ones, are both `NOT_FOUND`, after the same
    /// statements: a missing organisation or workspace is looked up further
    /// with a nil id, so the time an answer takes does not tell what exists.
    pub async fn workspace_access(&self, principal: &Principal, org_slug: &str, slug: &str) -> Result<WorkspaceAccess> {
        let missing = || HubError::User(UserError::not_found("workspace"));
        let org = org::Entity::find().filter(org::Column::Slug.eq(org_slug)).one(&self.db).await?;
        let org_id = org.as_ref().map_or(OrganizationId::from_uuid(Uuid::nil()), |org| org.id);
        let row = workspace::Entity::find()
            .filter(workspace::Column::OrgId.eq(org_id))
            .filter(workspace::Column::LiveSlug.eq(slug))
            .one(&self.db)
            .await?;
        let workspace_id = row.as_ref().map_or(WorkspaceId::from_uuid(Uuid::nil()), |row| row.id);
        let roles = self.roles_on_workspace(principal, org_id, workspace_id).await?;
        let Some(row) = row else { return Err(missing()) };
        let Some(roles) = roles else { return Err(missing()) };
        let upstream = self.upstream_of(&row)?;
        let state: WorkspaceState = row.state.parse()?;
        let hosted = row.managed_by == MANAGED_BY_SERVER || upstream.is_some();
        let limits = crate::plans::workspace_limits(self.plans(), self.plans().named_or_default(&row.plan));
        Ok(WorkspaceAccess {
            workspace_id: row.id,
            org_id: row.org_id,
            slug: row.slug,
            state,
            upstream,
            limits,
            hosted,
            roles,
        })
    }
}

/// The status message: the first condition that is wrong, else Ready's.
fn summary(conditions: &[Condition]) -> Option<String> {
    let wrong = |c: &&Condition| match c.kind {
        ConditionType::Ready => !c.status,
        ConditionType::Degraded => c.status,
        ConditionType::Progressing => false,
    };
    conditions
        .iter()
        .find(|c| c.kind == ConditionType::Degraded && c.status)
        .or_else(|| conditions.iter().find(wrong))
        .or_else(|| conditions.iter().find(|c| c.kind == ConditionType::Ready))
        .map(|c| c.message.clone())
}
