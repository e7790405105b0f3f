//! Deleting an organisation: its owners, once its workspaces are gone.
//!
//! Two steps, so that billing can cancel the subscription in between and
//! an organisation is never deleted while still paying, nor left paying
//! when the deletion is refused: [`Hub::org_to_delete`] checks everything
//! and says which subscription to cancel; [`Hub::delete_org`] then removes
//! the organisation, its members, invitations, API tokens, teams, identity
//! provider, domains and SCIM provisioning in one transaction, and ends the
//! sessions its identity provider vouched for. The audit log and the
//! billing account (meter buckets still to send go to the same customer)
//! stay; the slug is free again.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, TransactionTrait};
use strata_api_types::ErrorCode;
use strata_core::id::OrganizationId;

use crate::Hub;
use crate::entities::{
    api_token, cli_login, domain, group_mapping, invitation, membership, org, scim_token, scim_user, session,
    sso_connection, sso_login, team, team_binding, team_member, workspace,
};
use crate::error::{Result, UserError};
use crate::orgs::Org;
use crate::roles::{OrgRole, Principal};

/// An organisation its owner may delete now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgToDelete {
    pub org: Org,
    /// The subscription to cancel first, if it pays for one.
    pub subscription_id: Option<String>,
}

impl Hub {
    /// Checks that `principal` may delete `org_slug` now: an owner (not
    /// through a token), who typed the slug in `confirm`, of an
    /// organisation without live workspaces.
    pub async fn org_to_delete(&self, principal: &Principal, org_slug: &str, confirm: &str) -> Result<OrgToDelete> {
        let (org, role) = self.org_for(principal, org_slug).await?;
        if role != OrgRole::Owner || principal.token_id().is_some() {
            let message = format!("only owners of `{}` can delete it, logged in (not with an API token)", org.slug);
            return Err(UserError::forbidden(message).into());
        }
        if confirm.trim() != org.slug {
            let message = format!("type the organisation's slug `{}` to confirm", org.slug);
            return Err(UserError::new(Some("confirm"), ErrorCode::ConfirmationMismatch, message).into());
        }
        let live = workspace::Entity::find()
            .filter(workspace::Column::OrgId.eq(org.id))
            .filter(workspace::Column::LiveSlug.is_not_null())
            .count(&self.db)
            .await?;
        if live > 0 {
            let message = format!(
                "`{}` still has {live} workspace(s); delete them first (`strata workspace delete`), so no data goes by accident",
                org.slug
            );
            return Err(UserError::new(Some("organization"), ErrorCode::Conflict, message).into());
        }
        let subscription_id = self.billing_account(org.id).await?.subscription_id;
        Ok(OrgToDelete { org, subscription_id })
    }

    /// Deletes the organisation [`Self::org_to_delete`] allowed (checked
    /// again: a workspace made since is refused the same way).
    pub async fn delete_org(&self, principal: &Principal, org_slug: &str, confirm: &str) -> Result<Org> {
        let OrgToDelete { org, .. } = self.org_to_delete(principal, org_slug, confirm).await?;
        let tokens: Vec<strata_core::id::ApiTokenId> = api_token::Entity::find()
            .select_only()
            .column(api_token::Column::Id)
            .filter(api_token::Column::OrgId.eq(org.id))
            .into_tuple()
            .all(&self.db)
            .await?;
        let txn = self.db.begin().await?;
        remove_org_rows(&txn, org.id).await?;
        txn.commit().await?;
        for token in tokens {
            self.principals.forget(|p| p.token_id() == Some(token));
        }
        self.principals.forget(|p| p.sso_org_id == Some(org.id));
        let detail = serde_json::json!({ "slug": org.slug });
        self.audit(principal, Some(org.id), "org.delete", &format!("org:{}", org.id), detail).await?;
        Ok(org)
    }
}

/// Everything of `org_id` but its audit log, workspaces' history and
/// billing account.
async fn remove_org_rows(txn: &impl ConnectionTrait, org_id: OrganizationId) -> Result<()> {
    let teams: Vec<uuid::Uuid> = team::Entity::find()
        .select_only()
        .column(team::Column::Id)
        .filter(team::Column::OrgId.eq(org_id))
        .into_tuple()
        .all(txn)
        .await?;
    team_binding::Entity::delete_many().filter(team_binding::Column::TeamId.is_in(teams.clone())).exec(txn).await?;
    team_member::Entity::delete_many().filter(team_member::Column::TeamId.is_in(teams)).exec(txn).await?;
    team::Entity::delete_many().filter(team::Column::OrgId.eq(org_id)).exec(txn).await?;
    group_mapping::Entity::delete_many().filter(group_mapping::Column::OrgId.eq(org_id)).exec(txn).await?;
    domain::Entity::delete_many().filter(domain::Column::OrgId.eq(org_id)).exec(txn).await?;
    sso_connection::Entity::delete_many().filter(sso_connection::Column::OrgId.eq(org_id)).exec(txn).await?;
    sso_login::Entity::delete_many().filter(sso_login::Column::OrgId.eq(org_id)).exec(txn).await?;
    cli_login::Entity::delete_many().filter(cli_login::Column::SsoOrgId.eq(org_id)).exec(txn).await?;
    scim_token::Entity::delete_many().filter(scim_token::Column::OrgId.eq(org_id)).exec(txn).await?;
    scim_user::Entity::delete_many().filter(scim_user::Column::OrgId.eq(org_id)).exec(txn).await?;
    api_token::Entity::delete_many().filter(api_token::Column::OrgId.eq(org_id)).exec(txn).await?;
    invitation::Entity::delete_many().filter(invitation::Column::OrgId.eq(org_id)).exec(txn).await?;
    membership::Entity::delete_many().filter(membership::Column::OrgId.eq(org_id)).exec(txn).await?;
    // Sessions its identity provider opened end with it.
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(session::Column::SsoOrgId.eq(org_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    org::Entity::delete_by_id(org_id).exec(txn).await?;
    Ok(())
}
