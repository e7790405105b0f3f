//! Domains an organisation claims and proves it owns, by publishing a DNS
//! TXT record. Only people of a verified domain join just in time, and only
//! then is an existing account of that email linked to an SSO identity.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use strata_api_types::ErrorCode;
use strata_core::id::OrganizationId;
use strata_sso::dns;
use uuid::Uuid;

use crate::Hub;
use crate::entities::domain;
use crate::error::{HubError, Result, UserError};
use crate::roles::Principal;

/// A claimed domain and what to publish to prove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: Uuid,
    pub org_id: OrganizationId,
    pub domain: String,
    /// The TXT record's name, e.g. `_strata-challenge.example.com`.
    pub record_name: String,
    /// The TXT record's value.
    pub record_value: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn domain_from(row: domain::Model) -> Domain {
    Domain {
        id: row.id,
        org_id: row.org_id,
        record_name: dns::challenge_name(&row.domain),
        record_value: dns::challenge_value(&row.token),
        domain: row.domain,
        verified_at: row.verified_at,
        created_at: row.created_at,
    }
}

fn normalised(raw: &str) -> std::result::Result<String, UserError> {
    dns::normalise_domain(raw).map_err(|e| UserError::invalid("domain", e.to_string()))
}

impl Hub {
    /// Claims a domain for the organisation; verify it by publishing the
    /// returned TXT record and calling [`Hub::verify_domain`].
    pub async fn claim_domain(&self, principal: &Principal, org_slug: &str, raw: &str) -> Result<Domain> {
        let (org, _) = self.managed_org(principal, org_slug, "manage domains").await?;
        let name = normalised(raw)?;
        if let Some(owner) = self.verified_owner_of(&name).await?
            && owner != org.id
        {
            return Err(UserError::new(
                Some("domain"),
                ErrorCode::AlreadyExists,
                format!("`{name}` is verified by another organisation"),
            )
            .into());
        }
        let row = domain::ActiveModel {
            id: Set(Uuid::new_v4()),
            org_id: Set(org.id),
            domain: Set(name.clone()),
            token: Set(crate::secrets::random_secret()[..32].to_owned()),
            verified_at: Set(None),
            created_at: Set(Utc::now()),
        };
        let row = match domain::Entity::insert(row).exec_with_returning(&self.db).await {
            Ok(row) => row,
            Err(error) if crate::identity::is_unique_violation(&error) => {
                return Err(UserError::new(
                    Some("domain"),
                    ErrorCode::AlreadyExists,
                    format!("`{name}` is claimed already"),
                )
                .into());
            }
            Err(error) => return Err(error.into()),
        };
        self.audit(principal, Some(org.id), "domain.claim", &format!("domain:{name}"), serde_json::Value::Null).await?;
        Ok(domain_from(row))
    }

    /// The organisation's domains with their verification status.
    pub async fn domains(&self, principal: &Principal, org_slug: &str) -> Result<Vec<Domain>> {
        let (org, _) = self.managed_org(principal, org_slug, "see domains").await?;
        let rows = domain::Entity::find()
            .filter(domain::Column::OrgId.eq(org.id))
            .order_by_asc(domain::Column::Domain)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(domain_from).collect())
    }

    async fn own_domain(&self, org_id: OrganizationId, name: &str) -> Result<domain::Model> {
        domain::Entity::find()
            .filter(domain::Column::OrgId.eq(org_id))
            .filter(domain::Column::Domain.eq(name))
            .one(&self.db)
            .await?
            .ok_or_else(|| HubError::User(UserError::not_found("domain")))
    }

    /// Looks up the domain's TXT record and marks it verified when it holds
    /// the organisation's token. Says what to publish when it does not.
    pub async fn verify_domain(&self, principal: &Principal, org_slug: &str, raw: &str) -> Result<Domain> {
        let (org, _) = self.managed_org(principal, org_slug, "manage domains").await?;
        let row = self.own_domain(org.id, &normalised(raw)?).await?;
        if row.verified_at.is_some() {
            return Ok(domain_from(row));
        }
        let Some(txt) = &self.txt else {
            return Err(UserError::new(
                Some("domain"),
                ErrorCode::WorkspaceUnavailable,
                "this server has no DNS resolver; its operator must set `sso_dns_server`",
            )
            .into());
        };
        let found = txt.has_challenge(&row.domain, &row.token).await.map_err(|e| {
            UserError::new(
                Some("domain"),
                ErrorCode::WorkspaceUnavailable,
                format!("cannot look up `{}`: {e}", row.domain),
            )
        })?;
        if !found {
            return Err(UserError::new(
                Some("domain"),
                ErrorCode::Conflict,
                format!(
                    "no TXT record `{}` with the value `{}` yet; publish it and try again (DNS changes can take minutes)",
                    dns::challenge_name(&row.domain),
                    dns::challenge_value(&row.token)
                ),
            )
            .into());
        }
        if let Some(owner) = self.verified_owner_of(&row.domain).await?
            && owner != org.id
        {
            return Err(UserError::new(
                Some("domain"),
                ErrorCode::AlreadyExists,
                "another organisation verified it first",
            )
            .into());
        }
        domain::Entity::update_many()
            .col_expr(domain::Column::VerifiedAt, Expr::value(Some(Utc::now())))
            .filter(domain::Column::Id.eq(row.id))
            .exec(&self.db)
            .await?;
        self.audit(
            principal,
            Some(org.id),
            "domain.verify",
            &format!("domain:{}", row.domain),
            serde_json::Value::Null,
        )
        .await?;
        Ok(domain_from(self.own_domain(org.id, &row.domain).await?))
    }

    /// Gives up a domain: its people no longer join just in time.
    pub async fn remove_domain(&self, principal: &Principal, org_slug: &str, raw: &str) -> Result<()> {
        let (org, _) = self.managed_org(principal, org_slug, "manage domains").await?;
        let row = self.own_domain(org.id, &normalised(raw)?).await?;
        domain::Entity::delete_by_id(row.id).exec(&self.db).await?;
        self.audit(principal, Some(org.id), "domain.remove", &format!("domain:{}", row.domain), serde_json::Value::Null)
            .await
    }
}
