//! The audit log: who did what to what, from where, and when.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use strata_core::id::{ApiTokenId, OrganizationId, UserId};

use crate::Hub;
use crate::entities::audit_event;
use crate::error::{Result, UserError};
use crate::roles::Principal;

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub seq: i64,
    pub org_id: Option<OrganizationId>,
    pub actor_user_id: Option<UserId>,
    pub actor_token_id: Option<ApiTokenId>,
    /// E.g. `workspace.create`, `token.revoke`, `user.login_failed`.
    pub action: String,
    /// E.g. `workspace:<id>`.
    pub target: String,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Which events to read: newest first, before a cursor.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only actions starting with this, e.g. `workspace.`.
    pub action_prefix: Option<String>,
    pub actor_user_id: Option<UserId>,
    /// Events with a smaller `seq` than this.
    pub before: Option<i64>,
    pub limit: u64,
}

struct Record<'a> {
    org_id: Option<OrganizationId>,
    user: Option<UserId>,
    token: Option<ApiTokenId>,
    action: &'a str,
    target: &'a str,
    ip: Option<&'a str>,
    detail: serde_json::Value,
}

impl<'a> Record<'a> {
    /// An action without details or token.
    fn plain(
        org_id: Option<OrganizationId>,
        user: Option<UserId>,
        action: &'a str,
        target: &'a str,
        ip: Option<&'a str>,
    ) -> Self {
        Record { org_id, user, token: None, action, target, ip, detail: serde_json::Value::Null }
    }
}

impl Hub {
    async fn record(&self, record: Record<'_>) -> Result<()> {
        audit_event::Entity::insert(audit_event::ActiveModel {
            seq: sea_orm::ActiveValue::NotSet,
            org_id: Set(record.org_id),
            actor_user_id: Set(record.user),
            actor_token_id: Set(record.token),
            action: Set(record.action.to_owned()),
            target: Set(record.target.to_owned()),
            ip: Set(record.ip.map(str::to_owned)),
            detail: Set(record.detail.to_string()),
            created_at: Set(Utc::now()),
        })
        .exec(&self.db)
        .await?;
        Ok(())
    }

    /// Records an action taken by `principal`.
    pub(crate) async fn audit(
        &self,
        principal: &Principal,
        org_id: Option<OrganizationId>,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.record(Record {
            org_id,
            user: Some(principal.user_id),
            token: principal.token_id(),
            action,
            target,
            ip: principal.ip.as_deref(),
            detail,
        })
        .await
    }

    /// Records an action of a known user outside a request principal (login).
    pub(crate) async fn audit_user(
        &self,
        action: &str,
        user: UserId,
        org_id: Option<OrganizationId>,
        target: &str,
        ip: Option<&str>,
    ) -> Result<()> {
        self.record(Record::plain(org_id, Some(user), action, target, ip)).await
    }

    /// Records what happened in an organisation without a request principal
    /// (an SSO login, a SCIM client's change).
    pub(crate) async fn audit_org(
        &self,
        org_id: OrganizationId,
        user: Option<UserId>,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut record = Record::plain(Some(org_id), user, action, target, None);
        record.detail = detail;
        self.record(record).await
    }

    /// Records an action by nobody known yet (sign-up, failed login).
    pub(crate) async fn audit_anonymous(&self, action: &str, target: &str, ip: Option<&str>) -> Result<()> {
        self.record(Record::plain(None, None, action, target, ip)).await
    }

    /// The organisation's audit log, for its owners and admins.
    pub async fn audit_events(
        &self,
        principal: &Principal,
        org_slug: &str,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>> {
        let (org, role) = self.org_for(principal, org_slug).await?;
        if !role.manages_org() {
            return Err(
                UserError::forbidden("only owners and admins of the organisation can read its audit log").into()
            );
        }
        let mut query = audit_event::Entity::find().filter(audit_event::Column::OrgId.eq(org.id));
        if let Some(prefix) = &filter.action_prefix {
            query = query.filter(audit_event::Column::Action.starts_with(prefix));
        }
        if let Some(actor) = filter.actor_user_id {
            query = query.filter(audit_event::Column::ActorUserId.eq(actor));
        }
        if let Some(before) = filter.before {
            query = query.filter(audit_event::Column::Seq.lt(before));
        }
        let rows =
            query.order_by_desc(audit_event::Column::Seq).limit(filter.limit.clamp(1, 101)).all(&self.db).await?;
        Ok(rows
            .into_iter()
            .map(|row| AuditEvent {
                seq: row.seq,
                org_id: row.org_id,
                actor_user_id: row.actor_user_id,
                actor_token_id: row.actor_token_id,
                action: row.action,
                target: row.target,
                ip: row.ip,
                detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
                created_at: row.created_at,
            })
            .collect())
    }
}
