//! Workspaces (the desired state the provisioner drives) and role bindings.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use strata_core::id::{OrganizationId, UserId, WorkspaceId};
use uuid::Uuid;

use crate::entities::{role_binding, workspace};
use strata_api_types::ErrorCode;

use crate::error::{HubError, Result, UserError};
use crate::identity::is_unique_violation;
use crate::provisioning::{Condition, MANAGED_BY_PROVISIONER};
use crate::roles::{OrgRole, Principal, WorkspaceRole};
use crate::{Hub, validate};

/// Where a workspace is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceState {
    Pending,
    Provisioning,
    Ready,
    /// Stopped after a quiet spell (the plan's `sleep_after`), data kept;
    /// the first request through the gateway or the console wakes it.
    Sleeping,
    Failed,
    Suspended,
    Deleting,
    Deleted,
}

impl WorkspaceState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceState::Pending => "PENDING",
            WorkspaceState::Provisioning => "PROVISIONING",
            WorkspaceState::Ready => "READY",
            WorkspaceState::Sleeping => "SLEEPING",
            WorkspaceState::Failed => "FAILED",
            WorkspaceState::Suspended => "SUSPENDED",
            WorkspaceState::Deleting => "DELETING",
            WorkspaceState::Deleted => "DELETED",
        }
    }
}

impl fmt::Display for WorkspaceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkspaceState {
    type Err = HubError;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "PENDING" => WorkspaceState::Pending,
            "PROVISIONING" => WorkspaceState::Provisioning,
            "READY" => WorkspaceState::Ready,
            "SLEEPING" => WorkspaceState::Sleeping,
            "FAILED" => WorkspaceState::Failed,
            "SUSPENDED" => WorkspaceState::Suspended,
            "DELETING" => WorkspaceState::Deleting,
            "DELETED" => WorkspaceState::Deleted,
            other => return Err(HubError::Internal(format!("unknown workspace state {other} in the database"))),
        })
    }
}

/// A workspace as its members see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub org_id: OrganizationId,
    pub slug: String,
    pub plan: String,
    pub region: String,
    pub state: WorkspaceState,
    pub status_message: Option<String>,
    pub endpoint: Option<String>,
    pub generation: i64,
    pub observed_generation: i64,
    /// What the provisioner last reported (Ready, Progressing, Degraded).
    pub conditions: Vec<Condition>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The caller's role in it.
    pub role: WorkspaceRole,
}

/// Someone's explicit role on a workspace (or one of its repos).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleBinding {
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    /// Empty for the whole workspace.
    pub repo: String,
    pub role: WorkspaceRole,
}

/// What `createWorkspace` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewWorkspace {
    pub org_slug: String,
    pub slug: String,
    pub plan: Option<String>,
    pub region: Option<String>,
    /// Retries with the same key return the first result instead of failing.
    pub idempotency_key: Option<String>,
}

const REGIONS: &[&str] = &["local", "eu-west", "us-east"];
const IDEMPOTENCY_KEY_MAX: usize = 200;

fn workspace_from(row: workspace::Model, role: WorkspaceRole) -> Result<Workspace> {
    Ok(Workspace {
        id: row.id,
        org_id: row.org_id,
        slug: row.slug,
        plan: row.plan,
        region: row.region,
        state: row.state.parse()?,
        status_message: row.status_message,
        endpoint: row.endpoint,
        generation: row.generation,
        observed_generation: row.observed_generation,
        conditions: crate::provisioning::decode(row.id, &row.conditions)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
        role,
    })
}

pub(crate) fn one_of(field: &str, value: Option<&str>, allowed: &[&str]) -> Result<String, UserError> {
    let value = value.map_or(allowed[0], str::trim);
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(UserError::invalid(field, format!("`{value}` is not available; use one of: {}", allowed.join(", "))))
    }
}

impl Hub {
    /// Asks for a new workspace: it starts PENDING and the provisioner
    /// makes it READY. Owners and admins of the organisation may.
    pub async fn create_workspace(&self, principal: &Principal, new: &NewWorkspace) -> Result<Workspace> {
        let (org, role) = self.org_for(principal, &new.org_slug).await?;
        if !role.manages_org() {
            return Err(UserError::forbidden(format!(
                "only owners and admins of `{}` can create workspaces",
                org.slug
            ))
            .into());
        }
        let slug = validate::slug("slug", &new.slug)?;
        let plan = one_of("plan", new.plan.as_deref(), &self.plan_names())?;
        let region = one_of("region", new.region.as_deref(), REGIONS)?;
        let key = new.idempotency_key.as_deref().map(str::trim).filter(|k| !k.is_empty());
        if key.is_some_and(|k| k.len() > IDEMPOTENCY_KEY_MAX) {
            return Err(
                UserError::invalid("idempotencyKey", format!("at most {IDEMPOTENCY_KEY_MAX} characters")).into()
            );
        }
        if let Some(key) = key
            && let Some(earlier) = self.workspace_by_idempotency_key(org.id, key).await?
        {
            return workspace_from(earlier, WorkspaceRole::Admin);
        }
        self.check_plan(&org.slug, org.id, &plan, true).await?;
        let now = Utc::now();
        let row = workspace::ActiveModel {
            id: Set(WorkspaceId::new()),
            org_id: Set(org.id),
            slug: Set(slug.clone()),
            live_slug: Set(Some(slug.clone())),
            plan: Set(plan),
            region: Set(region),
            state: Set(WorkspaceState::Pending.as_str().to_owned()),
            status_message: Set(None),
            endpoint: Set(None),
            generation: Set(1),
            observed_generation: Set(0),
            idempotency_key: Set(key.map(str::to_owned)),
            created_by: Set(principal.user_id),
            created_at: Set(now),
            updated_at: Set(now),
            conditions: Set(Condition::pending(now)),
            managed_by: Set(MANAGED_BY_PROVISIONER.to_owned()),
            service_secret_sealed: Set(None),
            service_secret_key: Set(None),
            data_freed_at: Set(None),
            // Creating it counts as using it: a new workspace is not idle.
            last_active_at: Set(Some(now)),
        };
        let created = match workspace::Entity::insert(row).exec_with_returning(&self.db).await {
            Ok(created) => created,
            Err(error) if is_unique_violation(&error) => {
                // A concurrent retry with the same key won the race: answer with its result.
                if let Some(key) = key
                    && let Some(earlier) = self.workspace_by_idempotency_key(org.id, key).await?
                {
                    return workspace_from(earlier, WorkspaceRole::Admin);
                }
                return Err(UserError::new(
                    Some("slug"),
                    ErrorCode::AlreadyExists,
                    format!("`{}` already has a workspace `{slug}`", org.slug),
                )
                .into());
            }
            Err(error) => return Err(error.into()),
        };
        let workspace = workspace_from(created, WorkspaceRole::Admin)?;
        self.workspace_changes.notify_one();
        let detail = serde_json::json!({ "slug": workspace.slug, "plan": workspace.plan, "region": workspace.region });
        self.audit(principal, Some(org.id), "workspace.create", &format!("workspace:{}", workspace.id), detail).await?;
        Ok(workspace)
    }

    async fn workspace_by_idempotency_key(
        &self,
        org_id: OrganizationId,
        key: &str,
    ) -> Result<Option<workspace::Model>> {
        Ok(workspace::Entity::find()
            .filter(workspace::Column::OrgId.eq(org_id))
            .filter(workspace::Column::IdempotencyKey.eq(key))
            .one(&self.db)
            .await?)
    }

    /// The workspaces of an organisation the caller can see, by slug.
    pub async fn workspaces(&self, principal: &Principal, org_slug: &str) -> Result<Vec<Workspace>> {
        let (org, _, org_role) = self.org_with_roles(principal, org_slug).await?;
        let rows = workspace::Entity::find()
            .filter(workspace::Column::OrgId.eq(org.id))
            .filter(workspace::Column::State.ne(WorkspaceState::Deleted.as_str()))
            .order_by_asc(workspace::Column::Slug)
            .all(&self.db)
            .await?;
        let bindings = self.bindings_of(principal.user_id, rows.iter().map(|w| w.id).collect()).await?;
        let mut visible = Vec::with_capacity(rows.len());
        for row in rows {
            let own = bindings.iter().filter(|b| b.workspace_id == row.id && b.repo.is_empty());
            if let Some(role) = effective_role(principal, org.id, row.id, org_role, own)? {
                visible.push(workspace_from(row, role)?);
            }
        }
        Ok(visible)
    }

    /// One workspace by org and slug, with the caller's role; invisible and
    /// missing workspaces look the same.
    pub async fn workspace(&self, principal: &Principal, org_slug: &str, slug: &str) -> Result<Workspace> {
        let missing = || HubError::User(UserError::not_found("workspace"));
        let (org, _, org_role) = self.org_with_roles(principal, org_slug).await.map_err(|_| missing())?;
        let row = workspace::Entity::find()
            .filter(workspace::Column::OrgId.eq(org.id))
            .filter(workspace::Column::LiveSlug.eq(slug.trim()))
            .one(&self.db)
            .await?
            .ok_or_else(missing)?;
        let bindings = self.bindings_of(principal.user_id, vec![row.id]).await?;
        let whole = bindings.iter().filter(|b| b.repo.is_empty());
        let role = effective_role(principal, org.id, row.id, org_role, whole)?.ok_or_else(missing)?;
        workspace_from(row, role)
    }

    /// A workspace by id (for global ids), with its organisation's slug.
    pub async fn workspace_by_id(&self, principal: &Principal, id: WorkspaceId) -> Result<(Workspace, String)> {
        use crate::entities::org;
        let missing = || HubError::User(UserError::not_found("workspace"));
        let row = workspace::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(missing)?;
        let slug = row.live_slug.ok_or_else(missing)?;
        let org = org::Entity::find_by_id(row.org_id).one(&self.db).await?.ok_or_else(missing)?;
        let workspace = self.workspace(principal, &org.slug, &slug).await?;
        Ok((workspace, org.slug))
    }

    async fn bindings_of(&self, user_id: UserId, workspaces: Vec<WorkspaceId>) -> Result<Vec<role_binding::Model>> {
        self.user_bindings(user_id, workspaces, None).await
    }

    /// Refuses a workspace `plan` above the organisation's, and (for a new
    /// workspace) one more workspace than the organisation's plan allows.
    async fn check_plan(&self, org_slug: &str, org_id: OrganizationId, plan: &str, new: bool) -> Result<()> {
        let catalogue = self.plans();
        let org_plan = self.org_plan(org_id, org_slug).await?;
        let wanted =
            catalogue.named(plan).ok_or_else(|| HubError::Internal(format!("plan `{plan}` is listed but unknown")))?;
        crate::plans::check_assignable(catalogue, org_slug, org_plan, wanted)?;
        if new {
            let live = self.count_live_workspaces(org_id).await?;
            catalogue
                .check_limit(org_plan, crate::plans::Limit::Workspaces, live + 1)
                .map_err(|exceeded| crate::plans::quota_exceeded("slug", org_slug, &exceeded))?;
        }
        Ok(())
    }

    /// Workspaces of the organisation that are not deleted.
    pub(crate) async fn count_live_workspaces(&self, org_id: OrganizationId) -> Result<u64> {
        let live = workspace::Entity::find()
            .filter(workspace::Column::OrgId.eq(org_id))
            .filter(workspace::Column::LiveSlug.is_not_null())
            .count(&self.db)
            .await?;
        Ok(live)
    }

    /// The names of the plans, smallest (the default) first.
    pub(crate) fn plan_names(&self) -> Vec<&str> {
        self.plans().plans().iter().map(|plan| plan.name.as_str()).collect()
    }

    /// Moves a workspace to another plan (owners and admins of its
    /// organisation). The provisioner applies the new quota; a plan below
    /// what runs now deletes nothing: workers are brought down to the new
    /// quota as they finish, and the workspace's status says so.
    pub async fn set_workspace_plan(
        &self,
        principal: &Principal,
        org_slug: &str,
        slug: &str,
        plan: &str,
    ) -> Result<Workspace> {
        let (org, role) = self.org_for(principal, org_slug).await?;
        if !role.manages_org() {
            return Err(
                UserError::forbidden(format!("only owners and admins of `{}` can change plans", org.slug)).into()
            );
        }
        let plan = one_of("plan", Some(plan), &self.plan_names())?;
        self.check_plan(&org.slug, org.id, &plan, false).await?;
        let workspace = self.workspace(principal, &org.slug, slug).await?;
        if matches!(workspace.state, WorkspaceState::Deleting | WorkspaceState::Deleted) {
            return Err(UserError::invalid("slug", format!("workspace `{slug}` is being deleted")).into());
        }
        if workspace.plan == plan {
            return Ok(workspace);
        }
        let now = self.change_wish(workspace.id, workspace::Column::Plan, Expr::value(plan.clone())).await?;
        let detail = serde_json::json!({ "slug": workspace.slug, "from": workspace.plan, "to": plan });
        self.audit(principal, Some(workspace.org_id), "workspace.plan", &format!("workspace:{}", workspace.id), detail)
            .await?;
        Ok(Workspace { plan, generation: workspace.generation + 1, updated_at: now, ..workspace })
    }

    /// Sets one column of what is wanted of a workspace, bumps its
    /// generation so the provisioner acts on it, and wakes the provisioner.
    /// Returns the time of the change.
    async fn change_wish(
        &self,
        id: WorkspaceId,
        column: workspace::Column,
        value: SimpleExpr,
    ) -> Result<DateTime<Utc>> {
        let now = Utc::now();
        self.change_wish_if(id, vec![(column, value)], sea_orm::Condition::all(), now).await?;
        Ok(now)
    }

    /// [`Hub::change_wish`] of several columns at `now`, only where the row
    /// also meets `only_if` (one conditional update, so a concurrent change
    /// wins or loses as a whole); `true` when the row changed.
    pub(crate) async fn change_wish_if(
        &self,
        id: WorkspaceId,
        changes: Vec<(workspace::Column, SimpleExpr)>,
        only_if: sea_orm::Condition,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut update = workspace::Entity::update_many()
            .col_expr(workspace::Column::Generation, Expr::col(workspace::Column::Generation).add(1))
            .col_expr(workspace::Column::UpdatedAt, Expr::value(now));
        for (column, value) in changes {
            update = update.col_expr(column, value);
        }
        let result = update.filter(workspace::Column::Id.eq(id)).filter(only_if).exec(&self.db).await?;
        self.workspace_changes.notify_one();
        Ok(result.rows_affected == 1)
    }

    /// Starts deleting a workspace; `confirm` must repeat its slug.
    pub async fn delete_workspace(
        &self,
        principal: &Principal,
        org_slug: &str,
        slug: &str,
        confirm: &str,
    ) -> Result<Workspace> {
        let workspace = self.workspace(principal, org_slug, slug).await?;
        if workspace.role != WorkspaceRole::Admin {
            return Err(UserError::forbidden("only workspace admins can delete it").into());
        }
        if confirm.trim() != workspace.slug {
            return Err(UserError::new(
                Some("confirm"),
                ErrorCode::ConfirmationMismatch,
                format!("type the workspace's slug `{}` to confirm", workspace.slug),
            )
            .into());
        }
        if matches!(workspace.state, WorkspaceState::Deleting | WorkspaceState::Deleted) {
            return Ok(workspace);
        }
        let deleting = Expr::value(WorkspaceState::Deleting.as_str());
        let now = self.change_wish(workspace.id, workspace::Column::State, deleting).await?;
        self.audit(
            principal,
            Some(workspace.org_id),
            "workspace.delete",
            &format!("workspace:{}", workspace.id),
            serde_json::json!({ "slug": workspace.slug }),
        )
        .await?;
        Ok(Workspace {
            state: WorkspaceState::Deleting,
            generation: workspace.generation + 1,
            updated_at: now,
            ..workspace
        })
    }

    /// Grants (or with `None` removes) a user's role on a workspace or on
    /// one repo of it. Workspace admins may.
    pub async fn set_role_binding(
        &self,
        principal: &Principal,
        org_slug: &str,
        workspace_slug: &str,
        user_id: UserId,
        repo: Option<&str>,
        role: Option<WorkspaceRole>,
    ) -> Result<()> {
        let workspace = self.workspace(principal, org_slug, workspace_slug).await?;
        if workspace.role != WorkspaceRole::Admin {
            return Err(UserError::forbidden("only workspace admins can change its roles").into());
        }
        if self.org_role_of_user(workspace.org_id, user_id).await?.is_none() {
            return Err(UserError::new(
                Some("userId"),
                ErrorCode::NotFound,
                "that user is not a member of the organisation; invite them first",
            )
            .into());
        }
        let repo = repo.map(str::trim).unwrap_or_default().to_owned();
        role_binding::Entity::delete_many()
            .filter(role_binding::Column::WorkspaceId.eq(workspace.id))
            .filter(role_binding::Column::Repo.eq(repo.clone()))
            .filter(role_binding::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await?;
        if let Some(role) = role {
            role_binding::Entity::insert(role_binding::ActiveModel {
                id: Set(Uuid::new_v4()),
                workspace_id: Set(workspace.id),
                repo: Set(repo.clone()),
                user_id: Set(user_id),
                role: Set(role.as_str().to_owned()),
                created_at: Set(Utc::now()),
            })
            .exec(&self.db)
            .await?;
        }
        let detail = serde_json::json!({ "user": user_id, "repo": repo, "role": role.map(WorkspaceRole::as_str) });
        self.audit(principal, Some(workspace.org_id), "role.bind", &format!("workspace:{}", workspace.id), detail).await
    }

    /// The role bindings of many workspaces at once, in two queries whatever
    /// their number (for GraphQL pages). The caller must already be allowed
    /// to see the workspaces.
    pub async fn role_bindings(&self, workspace_ids: &[WorkspaceId]) -> Result<Vec<RoleBinding>> {
        use crate::entities::user;
        let bindings = role_binding::Entity::find()
            .filter(role_binding::Column::WorkspaceId.is_in(workspace_ids.to_vec()))
            .order_by_asc(role_binding::Column::CreatedAt)
            .all(&self.db)
            .await?;
        let user_ids: Vec<UserId> = bindings.iter().map(|b| b.user_id).collect();
        let users = user::Entity::find()
            .filter(user::Column::Id.is_in(user_ids))
            .filter(user::Column::DeletedAt.is_null())
            .all(&self.db)
            .await?;
        let mut result = Vec::with_capacity(bindings.len());
        for binding in bindings {
            let Some(person) = users.iter().find(|u| u.id == binding.user_id) else { continue };
            result.push(RoleBinding {
                workspace_id: binding.workspace_id,
                user_id: person.id,
                email: person.email.clone(),
                display_name: person.display_name.clone(),
                repo: binding.repo,
                role: binding.role.parse()?,
            });
        }
        Ok(result)
    }

    async fn org_role_of_user(&self, org_id: OrganizationId, user_id: UserId) -> Result<Option<OrgRole>> {
        use crate::entities::membership;
        let row = membership::Entity::find_by_id((org_id, user_id)).one(&self.db).await?;
        row.map(|row| row.role.parse().map_err(HubError::from)).transpose()
    }
}

/// Org admins administer every workspace; others need a binding (the
/// strongest of `bindings` counts); the credential caps both. `org_role` is
/// the member's own role, uncapped: a reader token of an org admin reads
/// every workspace of the org.
pub(crate) fn effective_role<'a>(
    principal: &Principal,
    org_id: OrganizationId,
    workspace_id: WorkspaceId,
    org_role: OrgRole,
    bindings: impl Iterator<Item = &'a role_binding::Model>,
) -> Result<Option<WorkspaceRole>> {
    let bound = bindings.map(|b| b.role.parse::<WorkspaceRole>()).collect::<Result<Vec<_>, _>>()?.into_iter().max();
    let role = org_role.implied_workspace_role().max(bound);
    Ok(role.and_then(|role| principal.cap_workspace_role(org_id, workspace_id, role)))
}
