//! The workspace a server hosts itself (the embedded one of `strata dev`)
//! and its first administrator, plus the role check workspace endpoints use.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use strata_core::id::{OrganizationId, UserId, WorkspaceId};
use uuid::Uuid;

use crate::api_tokens::NewApiToken;
use crate::entities::{membership, org, role_binding, workspace};
use crate::error::Result;
use crate::provisioning::{Condition, MANAGED_BY_SERVER};
use crate::roles::{Credential, OrgRole, Principal, WorkspaceRole};
use crate::workspaces::WorkspaceState;
use crate::{Hub, User};

/// The organisation that owns a server's own workspace.
pub const LOCAL_ORG: &str = "local";
/// The local administrator `strata dev` creates.
pub const LOCAL_ADMIN_EMAIL: &str = "admin@strata.localhost";

impl Hub {
    /// Makes sure `org/slug` exists and is READY at `endpoint` (the server
    /// hosting it in-process). Returns the workspace id. Idempotent.
    pub async fn ensure_hosted_workspace(&self, org_slug: &str, slug: &str, endpoint: &str) -> Result<WorkspaceId> {
        let now = Utc::now();
        let org_id = match org::Entity::find().filter(org::Column::Slug.eq(org_slug)).one(&self.db).await? {
            Some(existing) => existing.id,
            None => {
                let row = org::ActiveModel {
                    id: Set(OrganizationId::new()),
                    slug: Set(org_slug.to_owned()),
                    name: Set("Local".to_owned()),
                    created_at: Set(now),
                    sso_required: Set(false),
                };
                org::Entity::insert(row).exec_with_returning(&self.db).await?.id
            }
        };
        let existing = workspace::Entity::find()
            .filter(workspace::Column::OrgId.eq(org_id))
            .filter(workspace::Column::LiveSlug.eq(slug))
            .one(&self.db)
            .await?;
        if let Some(existing) = existing {
            workspace::Entity::update_many()
                .col_expr(workspace::Column::Endpoint, sea_orm::sea_query::Expr::value(Some(endpoint.to_owned())))
                .col_expr(workspace::Column::State, sea_orm::sea_query::Expr::value(WorkspaceState::Ready.as_str()))
                .filter(workspace::Column::Id.eq(existing.id))
                .exec(&self.db)
                .await?;
            return Ok(existing.id);
        }
        let row = workspace::ActiveModel {
            id: Set(WorkspaceId::new()),
            org_id: Set(org_id),
            slug: Set(slug.to_owned()),
            live_slug: Set(Some(slug.to_owned())),
            plan: Set("free".to_owned()),
            region: Set("local".to_owned()),
            state: Set(WorkspaceState::Ready.as_str().to_owned()),
            status_message: Set(Some("served in-process by this server".to_owned())),
            endpoint: Set(Some(endpoint.to_owned())),
            generation: Set(1),
            observed_generation: Set(1),
            idempotency_key: Set(None),
            // Made by the server itself, not by a person.
            created_by: Set(UserId::from_uuid(Uuid::nil())),
            created_at: Set(now),
            updated_at: Set(now),
            conditions: Set(Condition::ready_in_process(now)),
            managed_by: Set(MANAGED_BY_SERVER.to_owned()),
            service_secret_sealed: Set(None),
            service_secret_key: Set(None),
            data_freed_at: Set(None),
            last_active_at: Set(None),
        };
        Ok(workspace::Entity::insert(row).exec_with_returning(&self.db).await?.id)
    }

    /// The local administrator, created (verified, owner of the local
    /// organisation, with a random password nobody knows) on first use.
    pub async fn local_admin(&self) -> Result<User> {
        let user = match self.user_by_email(LOCAL_ADMIN_EMAIL).await? {
            Some(user) => user,
            None => self.create_verified_user(LOCAL_ADMIN_EMAIL, &crate::secrets::random_secret()).await?,
        };
        let org = org::Entity::find().filter(org::Column::Slug.eq(LOCAL_ORG)).one(&self.db).await?;
        if let Some(org) = org {
            let owners = membership::Entity::find()
                .filter(membership::Column::OrgId.eq(org.id))
                .filter(membership::Column::UserId.eq(user.id))
                .count(&self.db)
                .await?;
            if owners == 0 {
                membership::Entity::insert(membership::ActiveModel {
                    org_id: Set(org.id),
                    user_id: Set(user.id),
                    role: Set(OrgRole::Owner.as_str().to_owned()),
                    created_at: Set(Utc::now()),
                })
                .exec(&self.db)
                .await?;
            }
        }
        Ok(user)
    }

    /// An org-wide admin API token of the local administrator, for the CLI
    /// context `strata dev` writes (and for tests).
    pub async fn local_admin_token(&self, name: &str) -> Result<NewApiToken> {
        let admin = self.local_admin().await?;
        let principal = Principal {
            user_id: admin.id,
            email: admin.email,
            email_verified: true,
            credential: Credential::Session { session_id: Uuid::nil() },
            sso_org_id: None,
            ip: None,
        };
        self.create_api_token(&principal, LOCAL_ORG, None, name, WorkspaceRole::Admin, None).await
    }

    /// A one-time browser login for the local administrator: the returned
    /// token opens a session at `/auth/link?token=…` within the email-link
    /// lifetime.
    pub async fn local_admin_login_link(&self) -> Result<String> {
        let admin = self.local_admin().await?;
        self.login_link_for(&admin).await
    }

    /// Records an action on a workspace's data (pipeline created, repo
    /// deleted) in its organisation's audit log.
    pub async fn record_workspace_action(
        &self,
        principal: &Principal,
        workspace_id: WorkspaceId,
        action: &str,
        target: &str,
    ) -> Result<()> {
        let org_id = workspace::Entity::find_by_id(workspace_id).one(&self.db).await?.map(|row| row.org_id);
        let detail = serde_json::json!({ "workspace": workspace_id });
        self.audit(principal, org_id, action, target, detail).await
    }

    /// The caller's role on a workspace given by id (and, for a request about
    /// one repo, on that repo: a binding on the repo adds to the workspace's),
    /// or `None` when they have none (or it does not exist).
    pub async fn workspace_role(
        &self,
        principal: &Principal,
        workspace_id: WorkspaceId,
        repo: Option<&str>,
    ) -> Result<Option<WorkspaceRole>> {
        let Some(row) = workspace::Entity::find_by_id(workspace_id).one(&self.db).await? else {
            return Ok(None);
        };
        self.role_on(principal, &row, repo).await
    }

    /// [`Self::workspace_role`] for a workspace row already read.
    pub(crate) async fn role_on(
        &self,
        principal: &Principal,
        row: &workspace::Model,
        repo: Option<&str>,
    ) -> Result<Option<WorkspaceRole>> {
        let workspace_id = row.id;
        let Some(org_role) = self.member_role(principal, row.org_id).await? else { return Ok(None) };
        let bindings = self.caller_bindings(principal, workspace_id, repo).await?;
        crate::workspaces::effective_role(principal, row.org_id, workspace_id, org_role, bindings.iter())
    }

    /// The caller's roles on the workspace and on each repo in it they
    /// hold a binding for; `None` without any role there. Always sends
    /// both statements, even for a missing workspace (a nil id) or a caller
    /// outside the organisation, so that its duration does not tell what
    /// exists.
    pub(crate) async fn roles_on_workspace(
        &self,
        principal: &Principal,
        org_id: OrganizationId,
        workspace_id: WorkspaceId,
    ) -> Result<Option<crate::provisioning::WorkspaceRoles>> {
        let member = self.member_role(principal, org_id).await;
        let bindings = self.user_bindings(principal.user_id, vec![workspace_id], None).await?;
        let Some(org_role) = member? else { return Ok(None) };
        let role_with = |scope: &str| {
            let relevant = bindings.iter().filter(|b| b.repo.is_empty() || b.repo == scope);
            crate::workspaces::effective_role(principal, org_id, workspace_id, org_role, relevant)
        };
        let workspace = role_with("")?;
        let mut repos = std::collections::BTreeMap::new();
        for binding in bindings.iter().filter(|b| !b.repo.is_empty()) {
            if let Some(role) = role_with(&binding.repo)? {
                repos.insert(binding.repo.clone(), role);
            }
        }
        if workspace.is_none() && repos.is_empty() {
            return Ok(None);
        }
        Ok(Some(crate::provisioning::WorkspaceRoles::new(workspace, repos)))
    }

    /// The caller's bindings on the workspace and on `repo` in it.
    async fn caller_bindings(
        &self,
        principal: &Principal,
        workspace_id: WorkspaceId,
        repo: Option<&str>,
    ) -> Result<Vec<role_binding::Model>> {
        let scopes: Vec<String> = std::iter::once("").chain(repo).map(str::to_owned).collect();
        self.user_bindings(principal.user_id, vec![workspace_id], Some(scopes)).await
    }
}
