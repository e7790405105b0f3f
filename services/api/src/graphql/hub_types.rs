//! The hub's GraphQL types: the viewer, organisations, members,
//! invitations, workspaces, API tokens and audit events.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use strata_hub::{AuditFilter, OrgRole, WorkspaceRole, WorkspaceState};

use super::caller::{hub, principal, query_result};
use super::ids::{self, Kind};
use super::paging::{self, Page};
use super::workspace_types as data;

/// A role in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "OrgRole")]
pub(crate) enum GqlOrgRole {
    Owner,
    Admin,
    Member,
}

impl From<OrgRole> for GqlOrgRole {
    fn from(role: OrgRole) -> Self {
        match role {
            OrgRole::Owner => GqlOrgRole::Owner,
            OrgRole::Admin => GqlOrgRole::Admin,
            OrgRole::Member => GqlOrgRole::Member,
        }
    }
}

impl From<GqlOrgRole> for OrgRole {
    fn from(role: GqlOrgRole) -> Self {
        match role {
            GqlOrgRole::Owner => OrgRole::Owner,
            GqlOrgRole::Admin => OrgRole::Admin,
            GqlOrgRole::Member => OrgRole::Member,
        }
    }
}

/// A role on a workspace or repo: Pachyderm's repoOwner, repoWriter, repoReader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "WorkspaceRole")]
pub(crate) enum GqlWorkspaceRole {
    Admin,
    Writer,
    Reader,
}

impl From<WorkspaceRole> for GqlWorkspaceRole {
    fn from(role: WorkspaceRole) -> Self {
        match role {
            WorkspaceRole::Admin => GqlWorkspaceRole::Admin,
            WorkspaceRole::Writer => GqlWorkspaceRole::Writer,
            WorkspaceRole::Reader => GqlWorkspaceRole::Reader,
        }
    }
}

impl From<GqlWorkspaceRole> for WorkspaceRole {
    fn from(role: GqlWorkspaceRole) -> Self {
        match role {
            GqlWorkspaceRole::Admin => WorkspaceRole::Admin,
            GqlWorkspaceRole::Writer => WorkspaceRole::Writer,
            GqlWorkspaceRole::Reader => WorkspaceRole::Reader,
        }
    }
}

/// Where a workspace is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "WorkspaceState")]
pub(crate) enum GqlWorkspaceState {
    /// Asked for; the provisioner has not started on it.
    Pending,
    Provisioning,
    Ready,
    /// Stopped after a quiet spell, data kept; the next request wakes it.
    Sleeping,
    Failed,
    Suspended,
    Deleting,
    Deleted,
}

impl From<WorkspaceState> for GqlWorkspaceState {
    fn from(state: WorkspaceState) -> Self {
        match state {
            WorkspaceState::Pending => GqlWorkspaceState::Pending,
            WorkspaceState::Provisioning => GqlWorkspaceState::Provisioning,
            WorkspaceState::Ready => GqlWorkspaceState::Ready,
            WorkspaceState::Sleeping => GqlWorkspaceState::Sleeping,
            WorkspaceState::Failed => GqlWorkspaceState::Failed,
            WorkspaceState::Suspended => GqlWorkspaceState::Suspended,
            WorkspaceState::Deleting => GqlWorkspaceState::Deleting,
            WorkspaceState::Deleted => GqlWorkspaceState::Deleted,
        }
    }
}

/// A person with an account.
#[derive(Debug, Clone)]
pub(crate) struct User(pub strata_hub::User);

#[Object]
impl User {
    pub(crate) async fn id(&self) -> ID {
        ids::encode(Kind::User, self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn email_verified(&self) -> bool {
        self.0.email_verified
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The organisations this person belongs to (an API token sees only its own).
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Organization>> {
        let orgs = query_result(hub(ctx)?.organizations(principal(ctx)?).await)?;
        paging::page(orgs.into_iter().map(|(org, role)| Organization::new(org, role)).collect(), first, after)
    }
}

/// An organisation, as one of its members sees it.
#[derive(Debug, Clone)]
pub(crate) struct Organization {
    pub org: strata_hub::Org,
    pub role: OrgRole,
    /// Its plan's name, read once per query however many fields need it.
    plan: tokio::sync::OnceCell<String>,
}

impl Organization {
    pub(crate) fn new(org: strata_hub::Org, role: OrgRole) -> Self {
        Organization { org, role, plan: tokio::sync::OnceCell::new() }
    }

    /// The organisation's plan (see [`strata_hub::Hub::org_plan`]).
    pub(crate) async fn plan_of<'h>(
        &self,
        hub: &'h strata_hub::Hub,
    ) -> async_graphql::Result<&'h strata_hub::plans::Plan> {
        let name = self
            .plan
            .get_or_try_init(|| async {
                query_result(hub.org_plan(self.org.id, &self.org.slug).await).map(|plan| plan.name.clone())
            })
            .await?;
        Ok(hub.plans().named_or_default(name))
    }
}

#[Object]
impl Organization {
    pub(crate) async fn id(&self) -> ID {
        ids::encode(Kind::Organization, self.org.id)
    }
    async fn slug(&self) -> &str {
        &self.org.slug
    }
    async fn name(&self) -> &str {
        &self.org.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.org.created_at
    }
    /// The caller's role here.
    async fn viewer_role(&self) -> GqlOrgRole {
        self.role.into()
    }
    /// The organisation's plan: the operator's for it (`org_plans`), else
    /// the one its subscription pays for (or the administrator assigned,
    /// where billing is off), else the plans file's first (`free`).
    async fn plan(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.plan_of(hub(ctx)?).await?.name.clone())
    }
    /// The plans its workspaces may use: its own plan and the smaller ones.
    async fn assignable_plans(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        let hub = hub(ctx)?;
        let plans = strata_hub::plans::assignable(hub.plans(), self.plan_of(hub).await?);
        Ok(plans.into_iter().map(|plan| plan.name.clone()).collect())
    }
    /// Whether members must log in through the organisation's identity
    /// provider (owners keep password access; API tokens keep working).
    async fn sso_required(&self) -> bool {
        self.org.sso_required
    }
    /// The OpenID Connect connection; for owners and admins.
    async fn sso_connection(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<super::sso::SsoConnection>> {
        super::sso::organization::connection(ctx, &self.org.slug).await
    }
    /// Claimed domains and their verification; for owners and admins.
    async fn domains(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::sso::Domain>> {
        super::sso::organization::domains(ctx, &self.org.slug).await
    }
    async fn teams(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::sso::Team>> {
        super::sso::organization::teams(ctx, &self.org.slug).await
    }
    /// What the identity provider's groups mean here; for owners and admins.
    async fn group_mappings(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::sso::GroupMapping>> {
        super::sso::organization::group_mappings(ctx, &self.org.slug).await
    }
    /// Its plan, and how much of its seats and workspaces it uses.
    async fn usage(&self, ctx: &Context<'_>) -> async_graphql::Result<super::plans::OrganizationUsage> {
        super::plans::usage(ctx, self).await
    }
    /// Its subscription and payment state; for its owners (`null` for
    /// other members).
    async fn billing(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<super::billing::OrganizationBilling>> {
        super::billing::of_org(ctx, &self.org).await
    }
    /// How many live workspaces its plan allows.
    async fn workspace_limit(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(self.plan_of(hub(ctx)?).await?.workspaces)
    }

    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Member>> {
        let members = query_result(hub(ctx)?.members(principal(ctx)?, &self.org.slug).await)?;
        paging::page(members.into_iter().map(Member).collect(), first, after)
    }

    /// Open invitations; for owners and admins.
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Invitation>> {
        let invitations = query_result(hub(ctx)?.invitations(principal(ctx)?, &self.org.slug).await)?;
        paging::page(invitations.into_iter().map(Invitation).collect(), first, after)
    }

    /// The workspaces the caller can see.
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Workspace>> {
        let workspaces = query_result(hub(ctx)?.workspaces(principal(ctx)?, &self.org.slug).await)?;
        let org_slug = self.org.slug.clone();
        paging::page(
            workspaces.into_iter().map(|ws| Workspace { ws, org_slug: org_slug.clone() }).collect(),
            first,
            after,
        )
    }

    async fn workspace(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<Workspace>> {
        let found = hub(ctx)?.workspace(principal(ctx)?, &self.org.slug, &slug).await;
        Ok(super::caller::optional(found)?.map(|ws| Workspace { ws, org_slug: self.org.slug.clone() }))
    }

    /// The caller's API tokens here; owners and admins see everyone's.
    async fn api_tokens(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<ApiToken>> {
        let tokens = query_result(hub(ctx)?.api_tokens(principal(ctx)?, &self.org.slug).await)?;
        paging::page(tokens.into_iter().map(ApiToken).collect(), first, after)
    }

    /// The audit log, newest first; for owners and admins. `action` keeps
    /// actions starting with it (e.g. `workspace.`).
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        action: Option<String>,
    ) -> async_graphql::Result<Connection<String, AuditEvent>> {
        let size = paging::page_size(first)?;
        let before = match after {
            Some(cursor) => Some(
                cursor.parse::<i64>().map_err(|_| async_graphql::Error::new("`after` is not a cursor of this list"))?,
            ),
            None => None,
        };
        let filter = AuditFilter { action_prefix: action, actor_user_id: None, before, limit: size as u64 + 1 };
        let mut events = query_result(hub(ctx)?.audit_events(principal(ctx)?, &self.org.slug, &filter).await)?;
        let has_next = events.len() > size;
        events.truncate(size);
        let mut page = Connection::new(before.is_some(), has_next);
        page.edges = events
            .into_iter()
            .map(|e| async_graphql::connection::Edge::new(e.seq.to_string(), AuditEvent(e)))
            .collect();
        Ok(page)
    }
}

/// A member of an organisation.
#[derive(Debug, Clone)]
pub(crate) struct Member(pub strata_hub::Member);

#[Object]
impl Member {
    /// The member's user id.
    async fn user_id(&self) -> ID {
        ids::encode(Kind::User, self.0.user_id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn role(&self) -> GqlOrgRole {
        self.0.role.into()
    }
    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.joined_at
    }
}

/// An invitation to join an organisation.
#[derive(Debug, Clone)]
pub(crate) struct Invitation(pub strata_hub::Invitation);

#[Object]
impl Invitation {
    pub(crate) async fn id(&self) -> ID {
        ids::encode(Kind::Invitation, self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> GqlOrgRole {
        self.0.role.into()
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A workspace: one isolated PFS + PPS instance.
#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    pub ws: strata_hub::Workspace,
    pub org_slug: String,
}

#[Object]
impl Workspace {
    pub(crate) async fn id(&self) -> ID {
        ids::encode(Kind::Workspace, self.ws.id)
    }
    async fn slug(&self) -> &str {
        &self.ws.slug
    }
    /// The slug of the organisation it belongs to.
    async fn organization_slug(&self) -> &str {
        &self.org_slug
    }
    async fn plan(&self) -> &str {
        &self.ws.plan
    }
    async fn region(&self) -> &str {
        &self.ws.region
    }
    async fn state(&self) -> GqlWorkspaceState {
        self.ws.state.into()
    }
    /// Why it is in its state, when that needs saying (e.g. FAILED).
    async fn status_message(&self) -> Option<&str> {
        self.ws.status_message.as_deref()
    }
    /// Where its server answers, once READY.
    async fn endpoint(&self) -> Option<&str> {
        self.ws.endpoint.as_deref()
    }
    /// Bumped by every change of desired state.
    async fn generation(&self) -> i64 {
        self.ws.generation
    }
    /// The generation the provisioner has carried out.
    async fn observed_generation(&self) -> i64 {
        self.ws.observed_generation
    }
    /// What the provisioner last found: `Ready`, `Progressing` and
    /// `Degraded`, each with a reason and a message.
    async fn conditions(&self) -> Vec<WorkspaceCondition> {
        self.ws.conditions.iter().map(WorkspaceCondition::from).collect()
    }
    /// The autoscaler's last decision for each pipeline.
    async fn workers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PipelineWorkers>> {
        // This object exists only for a caller allowed to see the workspace,
        // so its rows are read without looking the workspace up again.
        let found = hub(ctx)?.workers_of(self.ws.id).await;
        Ok(query_result(found)?.into_iter().map(PipelineWorkers::from).collect())
    }
    /// The caller's role here.
    async fn viewer_role(&self) -> GqlWorkspaceRole {
        self.ws.role.into()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.ws.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.ws.updated_at
    }

    /// Who has an explicit role here (org owners and admins have admin anyway).
    /// Batched: a page of workspaces costs the same few queries as one.
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::loaders::WorkspaceMember>> {
        let loader = ctx.data::<async_graphql::dataloader::DataLoader<super::loaders::BindingsLoader>>()?;
        let members = loader.load_one(self.ws.id).await.map_err(|error| super::caller::internal(&error))?;
        Ok(members.unwrap_or_default())
    }

    /// The roles teams hold here (people's are under `members`).
    async fn team_role_bindings(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::sso::TeamRoleBinding>> {
        super::sso::organization::team_bindings(ctx, self.ws.id).await
    }

    /// Its repos (answered by the workspace's server, as are the fields below).
    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn repos(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<data::Repo>> {
        let place = self.place();
        let repos = data::answer(place.client(ctx).await?.repo_list().await)?;
        Ok(repos.into_iter().map(|info| data::Repo { info, place: place.clone() }).collect())
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn repo(&self, ctx: &Context<'_>, name: String) -> async_graphql::Result<Option<data::Repo>> {
        let place = self.place();
        let found = place.client(ctx).await?.repo_inspect(&name).await;
        Ok(super::caller::optional(found)?.map(|info| data::Repo { info, place }))
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn pipelines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<data::Pipeline>> {
        let place = self.place();
        let pipelines = data::answer(place.client(ctx).await?.pipeline_list().await)?;
        Ok(pipelines.into_iter().map(|info| data::Pipeline { info, place: place.clone() }).collect())
    }

    /// The workspace's secrets for pipelines: names and key names, never values.
    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn secrets(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<data::Secret>> {
        let secrets = data::answer(self.place().client(ctx).await?.secret_list().await)?;
        Ok(secrets.into_iter().map(data::Secret::from).collect())
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn pipeline(&self, ctx: &Context<'_>, name: String) -> async_graphql::Result<Option<data::Pipeline>> {
        let place = self.place();
        let found = place.client(ctx).await?.pipeline_inspect(&name).await;
        Ok(super::caller::optional(found)?.map(|info| data::Pipeline { info, place }))
    }

    /// A job by pipeline and id (the commit set id).
    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn job(&self, ctx: &Context<'_>, pipeline: String, id: String) -> async_graphql::Result<Option<data::Job>> {
        let place = self.place();
        let found = place.client(ctx).await?.job_inspect(&pipeline, &id).await;
        Ok(super::caller::optional(found)?.map(|info| data::Job { info, place }))
    }

    /// Every commit of a commit set: the input commits and the outputs
    /// derived from them.
    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn commit_set(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Vec<data::Commit>> {
        let commits = data::answer(self.place().client(ctx).await?.commit_set(&id).await)?;
        Ok(commits.into_iter().map(data::Commit).collect())
    }

    /// What its pipelines used in `month` (`YYYY-MM`, UTC; this month when
    /// absent) at its plan's prices: "where did our bill come from".
    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn monthly_cost(&self, ctx: &Context<'_>, month: Option<String>) -> async_graphql::Result<data::MonthlyCost> {
        let (month, [from, to]) = query_result(data::month_span(month.as_deref()))?;
        let used = data::answer(self.place().client(ctx).await?.usage_by_pipeline(from, to).await)?;
        let plan = hub(ctx)?.plans().named_or_default(&self.ws.plan);
        Ok(data::MonthlyCost::of(month, &used, plan))
    }

    /// What the workspace stores (after deduplication and compression)
    /// against its plan's storage.
    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn storage(&self, ctx: &Context<'_>) -> async_graphql::Result<data::StorageUsage> {
        let client = self.place().client(ctx).await?;
        let total = data::answer(client.stored_total().await)?;
        Ok(data::StorageUsage { used_bytes: total.bytes, limit_bytes: client.storage_limit() })
    }

    /// The pipeline graph for the console.
    #[graphql(complexity = "2 * super::limits::ONE_CALL + child_complexity")]
    async fn dag(&self, ctx: &Context<'_>) -> async_graphql::Result<data::Dag> {
        let client = self.place().client(ctx).await?;
        let (repos, pipelines) = futures::join!(client.repo_list(), client.pipeline_list());
        Ok(data::dag(&data::answer(repos)?, &data::answer(pipelines)?))
    }
}

impl Workspace {
    fn place(&self) -> data::Place {
        data::Place { org: self.org_slug.clone(), workspace: self.ws.slug.clone() }
    }
}

/// An API token, without its secret (shown once, at creation).
#[derive(Debug, Clone)]
pub(crate) struct ApiToken(pub strata_hub::ApiToken);

#[Object]
impl ApiToken {
    pub(crate) async fn id(&self) -> ID {
        ids::encode(Kind::ApiToken, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The start of the secret, to recognise it (`stp_1a2b3c4d`).
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn role(&self) -> GqlWorkspaceRole {
        self.0.role.into()
    }
    /// The workspace it is limited to, if any.
    async fn workspace_id(&self) -> Option<ID> {
        self.0.workspace_id.map(|id| ids::encode(Kind::Workspace, id))
    }
    async fn owner_id(&self) -> ID {
        ids::encode(Kind::User, self.0.user_id)
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone)]
pub(crate) struct AuditEvent(pub strata_hub::AuditEvent);

#[Object]
impl AuditEvent {
    pub(crate) async fn id(&self) -> ID {
        ids::encode(Kind::AuditEvent, self.0.seq)
    }
    /// E.g. `workspace.create`, `token.revoke`, `member.role`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// E.g. `workspace:<uuid>`.
    async fn target(&self) -> &str {
        &self.0.target
    }
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_user_id.map(|id| ids::encode(Kind::User, id))
    }
    /// Set when the actor used an API token.
    async fn actor_token_id(&self) -> Option<ID> {
        self.0.actor_token_id.map(|id| ids::encode(Kind::ApiToken, id))
    }
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }
    async fn detail(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.detail.clone())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Access token returned by `logIn`.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct AccessToken {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// One status condition of a workspace.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct WorkspaceCondition {
    /// `Ready`, `Progressing` or `Degraded`.
    #[graphql(name = "type")]
    kind: String,
    status: bool,
    /// A CamelCase word for programs, e.g. `Provisioned` or `ServerStartFailed`.
    reason: String,
    message: String,
    last_transition_time: DateTime<Utc>,
}

impl From<&strata_hub::Condition> for WorkspaceCondition {
    fn from(c: &strata_hub::Condition) -> Self {
        WorkspaceCondition {
            kind: format!("{:?}", c.kind),
            status: c.status,
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_transition_time: c.last_transition_time,
        }
    }
}

/// How many workers a pipeline has and why.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct PipelineWorkers {
    pipeline: String,
    desired: u32,
    current: u32,
    /// Datums queued or in flight.
    outstanding: u64,
    /// The most it may have (its spec and the plan's quota).
    max_workers: u32,
    /// `scale_up`, `steady`, `cooldown`, `scale_down` or `idle`.
    reason: String,
    /// Anything to know, e.g. a quota that clamped the pipeline.
    message: Option<String>,
    updated_at: DateTime<Utc>,
}

impl From<strata_hub::PipelineWorkers> for PipelineWorkers {
    fn from(w: strata_hub::PipelineWorkers) -> Self {
        PipelineWorkers {
            pipeline: w.pipeline,
            desired: w.desired,
            current: w.current,
            outstanding: w.outstanding,
            max_workers: w.max_workers,
            reason: w.reason,
            message: w.message,
            updated_at: w.updated_at,
        }
    }
}
