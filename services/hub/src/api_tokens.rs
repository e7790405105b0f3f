//! API tokens for CI systems and scripts: `stp_…`, shown once, stored as a
//! hash, limited to one organisation (optionally one workspace) and a role.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use strata_core::id::{ApiTokenId, OrganizationId, UserId, WorkspaceId};

use crate::entities::api_token;
use crate::error::{Result, UserError};
use crate::roles::{Principal, WorkspaceRole};
use crate::secrets::{self, API_TOKEN_PREFIX, Purpose};
use crate::{Hub, validate};

/// Characters of the secret kept in clear, to tell tokens apart in lists.
const SHOWN_PREFIX: usize = 8;
const MAX_LIFETIME: Duration = Duration::days(366);

/// A token as lists show it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub name: String,
    /// `stp_` and the first characters of the secret.
    pub prefix: String,
    pub user_id: UserId,
    pub org_id: OrganizationId,
    pub workspace_id: Option<WorkspaceId>,
    pub role: WorkspaceRole,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A token just made, with its secret, which is not stored anywhere.
#[derive(Clone)]
pub struct NewApiToken {
    pub token: ApiToken,
    pub secret: String,
}

impl std::fmt::Debug for NewApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiToken").field("token", &self.token).finish_non_exhaustive()
    }
}

fn token_from(row: api_token::Model) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        user_id: row.user_id,
        org_id: row.org_id,
        workspace_id: row.workspace_id,
        role: row.role.parse()?,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
        created_at: row.created_at,
    })
}

impl Hub {
    /// Makes a token acting for the caller in `org_slug` (and only in
    /// `workspace_slug` if given) with at most `role`. The caller must hold
    /// that role already: a token never grants more than its maker has.
    pub async fn create_api_token(
        &self,
        principal: &Principal,
        org_slug: &str,
        workspace_slug: Option<&str>,
        name: &str,
        role: WorkspaceRole,
        expires_in: Option<Duration>,
    ) -> Result<NewApiToken> {
        if principal.token_id().is_some() {
            return Err(UserError::forbidden("API tokens cannot make API tokens; log in as a person").into());
        }
        let name = validate::name("name", name)?;
        if let Some(lifetime) = expires_in
            && (lifetime <= Duration::zero() || lifetime > MAX_LIFETIME)
        {
            return Err(UserError::invalid(
                "expiresInDays",
                "a token lives between 1 and 366 days (or without expiry)",
            )
            .into());
        }
        let (org, org_role) = self.org_for(principal, org_slug).await?;
        let workspace_id = match workspace_slug {
            Some(slug) => {
                let workspace = self.workspace(principal, org_slug, slug).await?;
                if workspace.role < role {
                    return Err(UserError::forbidden(format!(
                        "you are {} of `{slug}`; a token cannot be {role}",
                        workspace.role
                    ))
                    .into());
                }
                Some(workspace.id)
            }
            None => {
                if role == WorkspaceRole::Admin && !org_role.manages_org() {
                    return Err(UserError::forbidden(
                        "only owners and admins of the organisation can make org-wide admin tokens",
                    )
                    .into());
                }
                None
            }
        };
        let secret = format!("{API_TOKEN_PREFIX}{}", secrets::random_secret());
        let now = Utc::now();
        let row = api_token::ActiveModel {
            id: Set(ApiTokenId::new()),
            name: Set(name),
            prefix: Set(secret.chars().take(API_TOKEN_PREFIX.len() + SHOWN_PREFIX).collect()),
            secret_hash: Set(secrets::hash(Purpose::ApiToken, &secret)),
            user_id: Set(principal.user_id),
            org_id: Set(org.id),
            workspace_id: Set(workspace_id),
            role: Set(role.as_str().to_owned()),
            expires_at: Set(expires_in.map(|lifetime| now + lifetime)),
            last_used_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(now),
        };
        let token = token_from(api_token::Entity::insert(row).exec_with_returning(&self.db).await?)?;
        let detail = serde_json::json!({ "name": token.name, "role": role.as_str(), "workspace": workspace_id });
        self.audit(principal, Some(org.id), "token.create", &format!("token:{}", token.id), detail).await?;
        Ok(NewApiToken { token, secret })
    }

    /// The caller's tokens in an organisation; its owners and admins see everyone's.
    pub async fn api_tokens(&self, principal: &Principal, org_slug: &str) -> Result<Vec<ApiToken>> {
        let (org, role) = self.org_for(principal, org_slug).await?;
        let mut query = api_token::Entity::find().filter(api_token::Column::OrgId.eq(org.id));
        if !role.manages_org() {
            query = query.filter(api_token::Column::UserId.eq(principal.user_id));
        }
        let rows = query.order_by_desc(api_token::Column::CreatedAt).all(&self.db).await?;
        rows.into_iter().map(token_from).collect()
    }

    /// A token its owner, or an owner or admin of its organisation, may see.
    async fn visible_token(&self, principal: &Principal, token_id: ApiTokenId) -> Result<api_token::Model> {
        let missing = || UserError::not_found("API token");
        let row = api_token::Entity::find_by_id(token_id).one(&self.db).await?.ok_or_else(missing)?;
        let manages = self.org_role(principal, row.org_id).await?.is_some_and(crate::OrgRole::manages_org);
        let owns =
            row.user_id == principal.user_id && principal.cap_org_role(row.org_id, crate::OrgRole::Member).is_some();
        if !manages && !owns {
            return Err(missing().into());
        }
        Ok(row)
    }

    /// A token by id, for its owner and the organisation's owners and admins.
    pub async fn api_token(&self, principal: &Principal, token_id: ApiTokenId) -> Result<ApiToken> {
        token_from(self.visible_token(principal, token_id).await?)
    }

    /// Revokes a token at once. Its owner, or an org owner or admin, may.
    pub async fn revoke_api_token(&self, principal: &Principal, token_id: ApiTokenId) -> Result<ApiToken> {
        let row = self.visible_token(principal, token_id).await?;
        let now = Utc::now();
        api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(Some(now)))
            .filter(api_token::Column::Id.eq(token_id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        // After the write, so a concurrent request cannot cache the old state again.
        self.principals.forget(|p| p.token_id() == Some(token_id));
        self.audit(principal, Some(row.org_id), "token.revoke", &format!("token:{token_id}"), serde_json::Value::Null)
            .await?;
        let mut token = token_from(row)?;
        token.revoked_at.get_or_insert(now);
        Ok(token)
    }
}
