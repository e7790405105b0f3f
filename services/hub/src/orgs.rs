//! Organisations, their members and invitations.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use strata_core::id::{OrganizationId, UserId};
use uuid::Uuid;

use crate::entities::{invitation, membership, org, user};
use strata_api_types::ErrorCode;

use crate::error::{Result, UserError};
use crate::identity::is_unique_violation;
use crate::mailer::Mail;
use crate::roles::{OrgRole, Principal};
use crate::secrets::{self, Purpose};
use crate::{Hub, validate};

/// An organisation: the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrganizationId,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Whether members must come through the organisation's identity provider.
    pub sso_required: bool,
}

/// A member of an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub org_id: OrganizationId,
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: OrgRole,
    pub joined_at: DateTime<Utc>,
}

/// An invitation to join an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub org_id: OrganizationId,
    pub email: String,
    pub role: OrgRole,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub(crate) fn org_from(row: org::Model) -> Org {
    Org { id: row.id, slug: row.slug, name: row.name, created_at: row.created_at, sso_required: row.sso_required }
}

fn invitation_from(row: invitation::Model) -> Result<Invitation> {
    Ok(Invitation {
        id: row.id,
        org_id: row.org_id,
        email: row.email,
        role: row.role.parse()?,
        expires_at: row.expires_at,
        accepted_at: row.accepted_at,
        created_at: row.created_at,
    })
}

fn must_be_verified(principal: &Principal) -> Result<()> {
    if principal.email_verified {
        Ok(())
    } else {
        Err(UserError::forbidden("confirm your email address first (open the link we sent you)").into())
    }
}

/// What an organisation holds against its plan's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgUsage {
    pub members: u64,
    /// Each holds a seat until it is accepted, revoked or expires.
    pub open_invitations: u64,
    pub live_workspaces: u64,
}

impl OrgUsage {
    /// Seats taken: members and open invitations.
    pub fn seats(&self) -> u64 {
        self.members + self.open_invitations
    }
}

impl Hub {
    /// Creates an organisation owned by the caller.
    pub async fn create_organization(&self, principal: &Principal, slug: &str, name: Option<&str>) -> Result<Org> {
        if principal.token_id().is_some() {
            return Err(UserError::forbidden("API tokens cannot create organisations; log in as a person").into());
        }
        must_be_verified(principal)?;
        let slug = validate::slug("slug", slug)?;
        let name = match name {
            Some(name) => validate::name("name", name)?,
            None => slug.clone(),
        };
        let now = Utc::now();
        let row = org::ActiveModel {
            id: Set(OrganizationId::new()),
            slug: Set(slug.clone()),
            name: Set(name),
            created_at: Set(now),
            sso_required: Set(false),
        };
        let txn = self.db.begin().await?;
        let created = match org::Entity::insert(row).exec_with_returning(&txn).await {
            Ok(created) => created,
            Err(error) if is_unique_violation(&error) => {
                return Err(UserError::new(
                    Some("slug"),
                    ErrorCode::AlreadyExists,
                    format!("the slug `{slug}` is taken; choose another"),
                )
                .into());
            }
            Err(error) => return Err(error.into()),
        };
        membership::Entity::insert(membership::ActiveModel {
            org_id: Set(created.id),
            user_id: Set(principal.user_id),
            role: Set(OrgRole::Owner.as_str().to_owned()),
            created_at: Set(now),
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        let org = org_from(created);
        self.audit(principal, Some(org.id), "org.create", &format!("org:{}", org.slug), serde_json::Value::Null)
            .await?;
        Ok(org)
    }

    /// The organisations the caller belongs to (an API token sees only its own).
    pub async fn organizations(&self, principal: &Principal) -> Result<Vec<(Org, OrgRole)>> {
        let memberships =
            membership::Entity::find().filter(membership::Column::UserId.eq(principal.user_id)).all(&self.db).await?;
        let ids: Vec<OrganizationId> = memberships.iter().map(|m| m.org_id).collect();
        let orgs = org::Entity::find()
            .filter(org::Column::Id.is_in(ids))
            .order_by_asc(org::Column::Slug)
            .all(&self.db)
            .await?;
        let mut result = Vec::with_capacity(orgs.len());
        for row in orgs {
            let Some(membership) = memberships.iter().find(|m| m.org_id == row.id) else { continue };
            let Some(role) = principal.cap_org_role(row.id, membership.role.parse()?) else { continue };
            result.push((org_from(row), role));
        }
        Ok(result)
    }

    /// The organisation with this slug and the caller's role in it; one that
    /// exists but is not the caller's is reported exactly as a missing one.
    pub async fn org_for(&self, principal: &Principal, slug: &str) -> Result<(Org, OrgRole)> {
        let (org, role, _) = self.org_with_roles(principal, slug).await?;
        Ok((org, role))
    }

    /// The organisation, the caller's role in it capped by their credential,
    /// and their own role as a member (uncapped: a reader token of an org
    /// admin still reads every workspace), from one membership read.
    pub(crate) async fn org_with_roles(&self, principal: &Principal, slug: &str) -> Result<(Org, OrgRole, OrgRole)> {
        let missing = || UserError::not_found("organisation");
        let Some(row) = org::Entity::find().filter(org::Column::Slug.eq(slug.trim())).one(&self.db).await? else {
            return Err(missing().into());
        };
        let membership = membership::Entity::find_by_id((row.id, principal.user_id)).one(&self.db).await?;
        let own: OrgRole = membership.ok_or_else(missing)?.role.parse()?;
        crate::sso::sso_gate(principal, &row, own)?;
        let capped = principal.cap_org_role(row.id, own).ok_or_else(missing)?;
        Ok((org_from(row), capped, own))
    }

    /// The organisation with this id and the caller's role in it (for global ids).
    pub async fn org_by_id(&self, principal: &Principal, id: OrganizationId) -> Result<(Org, OrgRole)> {
        let row =
            org::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(|| UserError::not_found("organisation"))?;
        self.org_for(principal, &row.slug).await
    }

    /// The caller's role in an organisation, capped by their credential.
    pub(crate) async fn org_role(&self, principal: &Principal, org_id: OrganizationId) -> Result<Option<OrgRole>> {
        let Some(own) = self.member_role(principal, org_id).await? else { return Ok(None) };
        Ok(principal.cap_org_role(org_id, own))
    }

    /// The members of an organisation, for any of its members.
    pub async fn members(&self, principal: &Principal, org_slug: &str) -> Result<Vec<Member>> {
        let (org, _) = self.org_for(principal, org_slug).await?;
        let rows = membership::Entity::find().filter(membership::Column::OrgId.eq(org.id)).all(&self.db).await?;
        let users = user::Entity::find()
            .filter(user::Column::Id.is_in(rows.iter().map(|m| m.user_id).collect::<Vec<_>>()))
            .filter(user::Column::DeletedAt.is_null())
            .all(&self.db)
            .await?;
        let mut members = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(user) = users.iter().find(|u| u.id == row.user_id) else { continue };
            members.push(Member {
                org_id: org.id,
                user_id: user.id,
                email: user.email.clone(),
                display_name: user.display_name.clone(),
                role: row.role.parse()?,
                joined_at: row.created_at,
            });
        }
        members.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(members)
    }

    pub(crate) async fn managed_org(
        &self,
        principal: &Principal,
        org_slug: &str,
        what: &str,
    ) -> Result<(Org, OrgRole)> {
        let (org, role) = self.org_for(principal, org_slug).await?;
        if !role.manages_org() {
            return Err(UserError::forbidden(format!("only owners and admins of `{}` can {what}", org.slug)).into());
        }
        Ok((org, role))
    }

    /// Refuses one more member of `org_id` beyond the seats of its plan
    /// (`QUOTA_EXCEEDED` on `field`, naming the plan that has more). Open
    /// invitations hold a seat each when `invitations_hold_seats`: they are
    /// counted when inviting, not again when one is accepted.
    pub(crate) async fn check_seats(
        &self,
        org_id: OrganizationId,
        field: &str,
        invitations_hold_seats: bool,
    ) -> Result<()> {
        let org =
            org::Entity::find_by_id(org_id).one(&self.db).await?.ok_or_else(|| UserError::not_found("organisation"))?;
        let members = self.count_members(org_id).await?;
        let invited = match invitations_hold_seats {
            true => self.count_open_invitations(org_id).await?,
            false => 0,
        };
        let plan = self.org_plan(org.id, &org.slug).await?;
        self.plans()
            .check_limit(plan, crate::plans::Limit::Seats, members + invited + 1)
            .map_err(|exceeded| crate::plans::quota_exceeded(field, &org.slug, &exceeded).into())
    }

    pub(crate) async fn count_members(&self, org_id: OrganizationId) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(membership::Entity::find().filter(membership::Column::OrgId.eq(org_id)).count(&self.db).await?)
    }

    /// Invitations neither accepted, revoked nor expired.
    async fn count_open_invitations(&self, org_id: OrganizationId) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        let open = invitation::Entity::find()
            .filter(invitation::Column::OrgId.eq(org_id))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
            .count(&self.db)
            .await?;
        Ok(open)
    }

    /// What an organisation holds against its plan's limits; for its members.
    pub async fn org_usage(&self, principal: &Principal, org_slug: &str) -> Result<OrgUsage> {
        let (org, _) = self.org_for(principal, org_slug).await?;
        Ok(OrgUsage {
            members: self.count_members(org.id).await?,
            open_invitations: self.count_open_invitations(org.id).await?,
            live_workspaces: self.count_live_workspaces(org.id).await?,
        })
    }

    /// Invites someone by email; the link in the message accepts it.
    pub async fn invite_member(
        &self,
        principal: &Principal,
        org_slug: &str,
        email: &str,
        role: OrgRole,
    ) -> Result<Invitation> {
        let (org, my_role) = self.managed_org(principal, org_slug, "invite members").await?;
        if role > my_role {
            return Err(
                UserError::forbidden(format!("you cannot invite someone as {role}, a higher role than yours")).into()
            );
        }
        let email = validate::email(email)?;
        if self.members(principal, org_slug).await?.iter().any(|m| m.email == email) {
            return Err(UserError::new(
                Some("email"),
                ErrorCode::AlreadyExists,
                format!("{email} is already a member"),
            )
            .into());
        }
        self.check_seats(org.id, "email", true).await?;
        let secret = secrets::random_secret();
        let now = Utc::now();
        let row = invitation::ActiveModel {
            id: Set(Uuid::new_v4()),
            org_id: Set(org.id),
            email: Set(email.clone()),
            role: Set(role.as_str().to_owned()),
            token_hash: Set(secrets::hash(Purpose::Invitation, &secret)),
            invited_by: Set(principal.user_id),
            expires_at: Set(now + self.settings.invitation_ttl),
            accepted_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(now),
        };
        let invitation = invitation_from(invitation::Entity::insert(row).exec_with_returning(&self.db).await?)?;
        let link = self.link("accept-invitation", &secret);
        let body = format!(
            "{} invited you to join {} on Strata as {role}.\n\nAccept within {} days:\n\n{link}\n",
            principal.email,
            org.name,
            self.settings.invitation_ttl.num_days()
        );
        self.mailer
            .send(Mail { to: email.clone(), subject: format!("Join {} on Strata", org.name), body, link: Some(link) })
            .await?;
        let detail = serde_json::json!({ "email": email, "role": role.as_str() });
        self.audit(principal, Some(org.id), "member.invite", &format!("invitation:{}", invitation.id), detail).await?;
        Ok(invitation)
    }

    /// The invitations of an organisation that are still open.
    pub async fn invitations(&self, principal: &Principal, org_slug: &str) -> Result<Vec<Invitation>> {
        let (org, _) = self.managed_org(principal, org_slug, "see invitations").await?;
        let rows = invitation::Entity::find()
            .filter(invitation::Column::OrgId.eq(org.id))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .order_by_desc(invitation::Column::CreatedAt)
            .all(&self.db)
            .await?;
        rows.into_iter().map(invitation_from).collect()
    }

    /// Accepts an invitation: the caller, who must own the invited address,
    /// becomes a member. An invitation works once.
    pub async fn accept_invitation(&self, principal: &Principal, token: &str) -> Result<(Org, OrgRole)> {
        if principal.token_id().is_some() {
            return Err(UserError::forbidden("accept invitations logged in as a person, not with an API token").into());
        }
        must_be_verified(principal)?;
        let hash = secrets::hash(Purpose::Invitation, token.trim());
        let invalid = || UserError::new(Some("token"), ErrorCode::NotFound, "this invitation is not valid");
        let row = invitation::Entity::find().filter(invitation::Column::TokenHash.eq(&hash)).one(&self.db).await?;
        let row = row.filter(|row| row.revoked_at.is_none()).ok_or_else(invalid)?;
        if row.email != principal.email {
            // Same answer as a wrong token: an invitation does not reveal whom it is for.
            return Err(invalid().into());
        }
        if row.accepted_at.is_some() || row.expires_at <= Utc::now() {
            return Err(UserError::new(
                Some("token"),
                ErrorCode::Expired,
                "this invitation was used already or has expired; ask for a new one",
            )
            .into());
        }
        let role: OrgRole = row.role.parse()?;
        // Its seat was counted when it was sent; a plan made smaller since
        // may have no room left.
        self.check_seats(row.org_id, "token", false).await?;
        let txn = self.db.begin().await?;
        let spent = invitation::Entity::update_many()
            .col_expr(invitation::Column::AcceptedAt, Expr::value(Some(Utc::now())))
            .filter(invitation::Column::Id.eq(row.id))
            .filter(invitation::Column::AcceptedAt.is_null())
            .exec(&txn)
            .await?;
        if spent.rows_affected != 1 {
            return Err(UserError::new(Some("token"), ErrorCode::Expired, "this invitation was used already").into());
        }
        let joined = membership::Entity::insert(membership::ActiveModel {
            org_id: Set(row.org_id),
            user_id: Set(principal.user_id),
            role: Set(role.as_str().to_owned()),
            created_at: Set(Utc::now()),
        })
        .exec(&txn)
        .await;
        match joined {
            Ok(_) => {}
            Err(error) if is_unique_violation(&error) => {
                return Err(UserError::new(Some("token"), ErrorCode::AlreadyExists, "you are a member already").into());
            }
            Err(error) => return Err(error.into()),
        }
        txn.commit().await?;
        let org = org::Entity::find_by_id(row.org_id).one(&self.db).await?.map(org_from).ok_or_else(invalid)?;
        self.audit(
            principal,
            Some(org.id),
            "member.join",
            &format!("user:{}", principal.user_id),
            serde_json::Value::Null,
        )
        .await?;
        Ok((org, role))
    }

    /// Changes a member's role. Admins manage members and admins; only
    /// owners make or unmake owners; there is always an owner left.
    pub async fn update_member_role(
        &self,
        principal: &Principal,
        org_slug: &str,
        user_id: UserId,
        role: OrgRole,
    ) -> Result<Member> {
        let (org, my_role) = self.managed_org(principal, org_slug, "change roles").await?;
        let current = self.member(org.id, user_id).await?;
        if (role == OrgRole::Owner || current.role == OrgRole::Owner) && my_role != OrgRole::Owner {
            return Err(UserError::forbidden("only owners can make or unmake owners").into());
        }
        let txn = self.db.begin().await?;
        membership::Entity::update_many()
            .col_expr(membership::Column::Role, Expr::value(role.as_str()))
            .filter(membership::Column::OrgId.eq(org.id))
            .filter(membership::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        ensure_an_owner(&txn, org.id).await?;
        txn.commit().await?;
        let detail = serde_json::json!({ "from": current.role.as_str(), "to": role.as_str() });
        self.audit(principal, Some(org.id), "member.role", &format!("user:{user_id}"), detail).await?;
        Ok(Member { role, ..current })
    }

    /// Removes a member (or lets a member leave); never the last owner.
    pub async fn remove_member(&self, principal: &Principal, org_slug: &str, user_id: UserId) -> Result<()> {
        let (org, my_role) = if user_id == principal.user_id {
            self.org_for(principal, org_slug).await?
        } else {
            self.managed_org(principal, org_slug, "remove members").await?
        };
        let current = self.member(org.id, user_id).await?;
        if current.role == OrgRole::Owner && my_role != OrgRole::Owner {
            return Err(UserError::forbidden("only owners can remove an owner").into());
        }
        let txn = self.db.begin().await?;
        membership::Entity::delete_by_id((org.id, user_id)).exec(&txn).await?;
        ensure_an_owner(&txn, org.id).await?;
        txn.commit().await?;
        self.audit(principal, Some(org.id), "member.remove", &format!("user:{user_id}"), serde_json::Value::Null).await
    }

    async fn member(&self, org_id: OrganizationId, user_id: UserId) -> Result<Member> {
        let row = membership::Entity::find_by_id((org_id, user_id)).one(&self.db).await?;
        let row = row.ok_or_else(|| UserError::not_found("member"))?;
        let user = self.user(user_id).await?;
        Ok(Member {
            org_id,
            user_id,
            email: user.email,
            display_name: user.display_name,
            role: row.role.parse()?,
            joined_at: row.created_at,
        })
    }
}

/// Fails (rolling the transaction back) when a change left no owner.
async fn ensure_an_owner(txn: &sea_orm::DatabaseTransaction, org_id: OrganizationId) -> Result<()> {
    use sea_orm::PaginatorTrait;
    let owners = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(org_id))
        .filter(membership::Column::Role.eq(OrgRole::Owner.as_str()))
        .count(txn)
        .await?;
    if owners == 0 {
        return Err(UserError::new(
            None,
            ErrorCode::LastOwner,
            "an organisation needs an owner; make someone else owner first",
        )
        .into());
    }
    Ok(())
}
