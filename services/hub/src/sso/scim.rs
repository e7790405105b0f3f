//! SCIM 2.0 provisioning, storage side: an organisation's identity
//! provider creates, updates, deactivates and deletes its people and
//! pushes its groups (as teams) with a bearer token of the organisation.
//!
//! A SCIM client manages only people of domains its organisation verified:
//! otherwise one organisation could make anyone a member, or end anyone's
//! sessions. Deactivating (or deleting) someone takes their membership,
//! teams and the organisation's API tokens away and ends their sessions at
//! once; reactivating gives back the role they held.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use strata_api_types::ErrorCode;
use strata_core::id::{OrganizationId, UserId};
use uuid::Uuid;

use crate::Hub;
use crate::entities::{api_token, membership, org, scim_token, scim_user, team, team_member, user};
use crate::error::{HubError, Result, UserError};
use crate::roles::{OrgRole, Principal};
use crate::secrets::{self, Purpose, SCIM_TOKEN_PREFIX};
use crate::sso::teams::{MemberSource, Team, TeamOrigin, team_from};

/// A person as the organisation's SCIM client sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimPerson {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a SCIM client sets on a person (POST, PUT, or PATCH with `None`
/// for what it leaves alone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimPersonChange {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<Option<String>>,
    pub active: Option<bool>,
}

/// How a SCIM list narrows people or groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimLookup {
    All,
    Email(String),
    ExternalId(String),
    Id(Uuid),
    /// A filter that can match nothing (e.g. two different ids).
    Nothing,
}

/// A change to a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    Add(Vec<UserId>),
    Remove(Vec<UserId>),
    RemoveAll,
    Replace(Vec<UserId>),
}

/// A team as the SCIM client sees it (a group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub team: Team,
    pub members: Vec<(UserId, String)>,
}

fn scim_error(code: ErrorCode, field: &str, message: impl Into<String>) -> HubError {
    HubError::User(UserError::new(Some(field), code, message))
}

impl Hub {
    /// The SCIM base URL of an organisation, for its identity provider.
    pub fn scim_base_url(&self, org_slug: &str) -> String {
        format!("{}/scim/v2/{}", self.settings.public_url.trim_end_matches('/'), org_slug.trim())
    }

    /// Issues the organisation's SCIM token, replacing any earlier one.
    /// Shown once; only its hash is kept.
    pub async fn issue_scim_token(&self, principal: &Principal, org_slug: &str) -> Result<String> {
        let (org, _) = self.managed_org(principal, org_slug, "set up SCIM provisioning").await?;
        let secret = format!("{SCIM_TOKEN_PREFIX}{}", secrets::random_secret());
        let txn = self.db.begin().await?;
        scim_token::Entity::delete_by_id(org.id).exec(&txn).await?;
        scim_token::Entity::insert(scim_token::ActiveModel {
            org_id: Set(org.id),
            token_hash: Set(secrets::hash(Purpose::ScimToken, &secret)),
            prefix: Set(secret.chars().take(SCIM_TOKEN_PREFIX.len() + 6).collect()),
            created_by: Set(principal.user_id),
            created_at: Set(Utc::now()),
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        self.audit(principal, Some(org.id), "scim.token_issue", &format!("org:{}", org.id), serde_json::Value::Null)
            .await?;
        Ok(secret)
    }

    /// The organisation a SCIM request may act on: its token must be that
    /// organisation's. Another organisation's token is answered as for a
    /// missing organisation; an unknown token is unauthenticated.
    pub async fn scim_org(&self, org_slug: &str, bearer: &str) -> Result<OrganizationId> {
        let hash = secrets::hash(Purpose::ScimToken, bearer.trim());
        let token =
            scim_token::Entity::find().filter(scim_token::Column::TokenHash.eq(hash)).one(&self.db).await?.ok_or_else(
                || HubError::User(UserError::unauthenticated("the SCIM token is not valid; issue a new one")),
            )?;
        let org = org::Entity::find().filter(org::Column::Slug.eq(org_slug.trim())).one(&self.db).await?;
        match org {
            Some(org) if org.id == token.org_id => Ok(org.id),
            _ => Err(UserError::not_found("organisation").into()),
        }
    }

    /// Creates (or adopts, if already a member) a person.
    pub async fn scim_create_person(&self, org_id: OrganizationId, change: ScimPersonChange) -> Result<ScimPerson> {
        let email = crate::validate::email(change.email.as_deref().unwrap_or_default())
            .map_err(|e| scim_error(ErrorCode::InvalidArgument, "userName", e.message))?;
        let domain_name = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
        if self.verified_owner_of(&domain_name).await? != Some(org_id) {
            return Err(scim_error(
                ErrorCode::InvalidArgument,
                "userName",
                format!("`{domain_name}` is not a verified domain of this organisation"),
            ));
        }
        let existing = self.user_by_email(&email).await?;
        let member = match &existing {
            Some(person) => membership::Entity::find_by_id((org_id, person.id)).one(&self.db).await?,
            None => None,
        };
        let active = change.active.unwrap_or(true);
        // Before anything is written: a person who would not fit leaves no trace.
        if member.is_none() && active {
            self.check_seats(org_id, "userName", false).await?;
        }
        let person = match existing {
            Some(existing) => existing,
            None => self.create_provisioned_user(&email, change.display_name.as_deref()).await?,
        };
        if scim_user::Entity::find_by_id((org_id, person.id)).one(&self.db).await?.is_some() {
            return Err(scim_error(ErrorCode::AlreadyExists, "userName", format!("`{email}` is provisioned already")));
        }
        let now = Utc::now();
        let role = member.map_or_else(|| OrgRole::Member.as_str().to_owned(), |member| member.role);
        scim_user::Entity::insert(scim_user::ActiveModel {
            org_id: Set(org_id),
            user_id: Set(person.id),
            external_id: Set(change.external_id.clone().flatten()),
            active: Set(true),
            role: Set(role),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(&self.db)
        .await?;
        if active {
            self.ensure_member(org_id, person.id, OrgRole::Member).await?;
        }
        self.audit_org(
            org_id,
            Some(person.id),
            "scim.user_create",
            &format!("user:{}", person.id),
            serde_json::Value::Null,
        )
        .await?;
        if !active {
            self.set_scim_active(org_id, person.id, false).await?;
        }
        self.scim_person(org_id, person.id).await
    }

    /// Makes the person a member with `role` unless they are one already.
    pub(crate) async fn ensure_member(&self, org_id: OrganizationId, user_id: UserId, role: OrgRole) -> Result<()> {
        if membership::Entity::find_by_id((org_id, user_id)).one(&self.db).await?.is_some() {
            return Ok(());
        }
        self.check_seats(org_id, "userName", false).await?;
        let row = membership::ActiveModel {
            org_id: Set(org_id),
            user_id: Set(user_id),
            role: Set(role.as_str().to_owned()),
            created_at: Set(Utc::now()),
        };
        crate::identity::insert_unless_present(&self.db, row).await
    }

    /// One provisioned person (or a member not provisioned yet, as active).
    pub async fn scim_person(&self, org_id: OrganizationId, user_id: UserId) -> Result<ScimPerson> {
        let missing = || HubError::User(UserError::not_found("user"));
        let person = user::Entity::find_by_id(user_id)
            .filter(user::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(missing)?;
        let row = scim_user::Entity::find_by_id((org_id, user_id)).one(&self.db).await?;
        let member = membership::Entity::find_by_id((org_id, user_id)).one(&self.db).await?;
        match (row, member) {
            (Some(row), _) => Ok(person_from(&person, Some(&row), row.active)),
            (None, Some(member)) => {
                Ok(ScimPerson { created_at: member.created_at, ..person_from(&person, None, true) })
            }
            (None, None) => Err(missing()),
        }
    }

    /// The people of the organisation a lookup selects, in a stable order
    /// (the SCIM layer filters further, then pages).
    pub async fn scim_people(&self, org_id: OrganizationId, lookup: &ScimLookup) -> Result<Vec<ScimPerson>> {
        let mut people = Vec::new();
        for id in self.scim_person_ids(org_id, lookup).await? {
            people.push(self.scim_person(org_id, id).await?);
        }
        Ok(people)
    }

    async fn scim_person_ids(&self, org_id: OrganizationId, lookup: &ScimLookup) -> Result<Vec<UserId>> {
        let candidates: Vec<UserId> = match lookup {
            ScimLookup::Nothing => return Ok(Vec::new()),
            ScimLookup::Id(id) => vec![UserId::from_uuid(*id)],
            ScimLookup::Email(email) => {
                let email = email.trim().to_lowercase();
                user::Entity::find()
                    .filter(user::Column::Email.eq(email))
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(|u| u.id)
                    .collect()
            }
            ScimLookup::ExternalId(external) => scim_user::Entity::find()
                .filter(scim_user::Column::OrgId.eq(org_id))
                .filter(scim_user::Column::ExternalId.eq(external.clone()))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|r| r.user_id)
                .collect(),
            ScimLookup::All => {
                let mut ids: Vec<UserId> = scim_user::Entity::find()
                    .filter(scim_user::Column::OrgId.eq(org_id))
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(|r| r.user_id)
                    .collect();
                let members =
                    membership::Entity::find().filter(membership::Column::OrgId.eq(org_id)).all(&self.db).await?;
                ids.extend(members.into_iter().map(|m| m.user_id));
                ids
            }
        };
        let mut known = Vec::new();
        for id in candidates {
            if !known.contains(&id) && self.scim_person(org_id, id).await.is_ok() {
                known.push(id);
            }
        }
        known.sort_by_key(ToString::to_string);
        Ok(known)
    }

    /// Applies a PUT or PATCH to a person.
    pub async fn scim_change_person(
        &self,
        org_id: OrganizationId,
        user_id: UserId,
        change: ScimPersonChange,
    ) -> Result<ScimPerson> {
        let current = self.scim_person(org_id, user_id).await?;
        if scim_user::Entity::find_by_id((org_id, user_id)).one(&self.db).await?.is_none() {
            let role = membership::Entity::find_by_id((org_id, user_id)).one(&self.db).await?.map(|m| m.role);
            let now = Utc::now();
            scim_user::Entity::insert(scim_user::ActiveModel {
                org_id: Set(org_id),
                user_id: Set(user_id),
                external_id: Set(None),
                active: Set(true),
                role: Set(role.unwrap_or_else(|| OrgRole::Member.as_str().to_owned())),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec(&self.db)
            .await?;
        }
        if let Some(email) = &change.email
            && crate::validate::email(email).ok().as_deref() != Some(current.email.as_str())
        {
            return Err(scim_error(
                ErrorCode::InvalidArgument,
                "userName",
                "a person's userName (their email) cannot change here",
            ));
        }
        if let Some(name) = change.display_name.as_deref().filter(|n| !n.trim().is_empty()) {
            let name = crate::validate::name("displayName", name)?;
            user::Entity::update_many()
                .col_expr(user::Column::DisplayName, Expr::value(name))
                .filter(user::Column::Id.eq(user_id))
                .exec(&self.db)
                .await?;
            self.forget_user(user_id);
        }
        let mut update =
            scim_user::Entity::update_many().col_expr(scim_user::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(external) = change.external_id.clone() {
            update = update.col_expr(scim_user::Column::ExternalId, Expr::value(external));
        }
        update
            .filter(scim_user::Column::OrgId.eq(org_id))
            .filter(scim_user::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await?;
        if let Some(active) = change.active
            && active != current.active
        {
            self.set_scim_active(org_id, user_id, active).await?;
        }
        self.audit_org(
            org_id,
            Some(user_id),
            "scim.user_update",
            &format!("user:{user_id}"),
            serde_json::json!({ "active": change.active }),
        )
        .await?;
        self.scim_person(org_id, user_id).await
    }

    /// Deactivates or reactivates a person in the organisation.
    async fn set_scim_active(&self, org_id: OrganizationId, user_id: UserId, active: bool) -> Result<()> {
        let row = scim_user::Entity::find_by_id((org_id, user_id))
            .one(&self.db)
            .await?
            .ok_or_else(|| UserError::not_found("user"))?;
        if active {
            let role: OrgRole = row.role.parse().unwrap_or(OrgRole::Member);
            self.ensure_member(org_id, user_id, role).await?;
        } else {
            let held = membership::Entity::find_by_id((org_id, user_id)).one(&self.db).await?.map(|m| m.role);
            self.cut_off(org_id, user_id).await?;
            if let Some(held) = held {
                scim_user::Entity::update_many()
                    .col_expr(scim_user::Column::Role, Expr::value(held))
                    .filter(scim_user::Column::OrgId.eq(org_id))
                    .filter(scim_user::Column::UserId.eq(user_id))
                    .exec(&self.db)
                    .await?;
            }
        }
        scim_user::Entity::update_many()
            .col_expr(scim_user::Column::Active, Expr::value(active))
            .col_expr(scim_user::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(scim_user::Column::OrgId.eq(org_id))
            .filter(scim_user::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await?;
        let action = if active { "scim.user_reactivate" } else { "scim.user_deactivate" };
        self.audit_org(org_id, Some(user_id), action, &format!("user:{user_id}"), serde_json::Value::Null).await
    }

    /// Takes the person's membership, teams and the organisation's API
    /// tokens away, and ends their sessions, in that order: the caches are
    /// dropped after the writes so no request sees the old state again.
    async fn cut_off(&self, org_id: OrganizationId, user_id: UserId) -> Result<()> {
        let teams: Vec<Uuid> = team::Entity::find()
            .filter(team::Column::OrgId.eq(org_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let txn = self.db.begin().await?;
        membership::Entity::delete_by_id((org_id, user_id)).exec(&txn).await?;
        team_member::Entity::delete_many()
            .filter(team_member::Column::UserId.eq(user_id))
            .filter(team_member::Column::TeamId.is_in(teams))
            .exec(&txn)
            .await?;
        api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(Some(Utc::now())))
            .filter(api_token::Column::UserId.eq(user_id))
            .filter(api_token::Column::OrgId.eq(org_id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.revoke_sessions_of(user_id).await?;
        self.principals.forget(|p| p.user_id == user_id);
        Ok(())
    }

    /// Deletes a person from the organisation (their account stays: it may
    /// belong to other organisations).
    pub async fn scim_delete_person(&self, org_id: OrganizationId, user_id: UserId) -> Result<()> {
        self.scim_person(org_id, user_id).await?;
        self.cut_off(org_id, user_id).await?;
        scim_user::Entity::delete_by_id((org_id, user_id)).exec(&self.db).await?;
        self.audit_org(org_id, Some(user_id), "scim.user_delete", &format!("user:{user_id}"), serde_json::Value::Null)
            .await
    }

    /// Creates a group as a team (its slug made from the display name).
    pub async fn scim_create_group(
        &self,
        org_id: OrganizationId,
        display_name: &str,
        external_id: Option<&str>,
        members: Vec<UserId>,
    ) -> Result<ScimGroup> {
        let name = crate::validate::name("displayName", display_name)?;
        let taken = team::Entity::find()
            .filter(team::Column::OrgId.eq(org_id))
            .filter(team::Column::Name.eq(name.clone()))
            .one(&self.db)
            .await?;
        if taken.is_some() {
            return Err(scim_error(
                ErrorCode::AlreadyExists,
                "displayName",
                format!("a group `{name}` exists already"),
            ));
        }
        let slug = self.free_team_slug(org_id, &name).await?;
        let created = self.insert_team(org_id, &slug, &name, TeamOrigin::Scim { external_id }).await?;
        self.change_group_members(org_id, created.id, MemberChange::Add(members)).await?;
        self.audit_org(
            org_id,
            None,
            "scim.group_create",
            &format!("team:{}", created.id),
            serde_json::json!({ "name": name }),
        )
        .await?;
        self.scim_group(org_id, created.id).await
    }

    async fn free_team_slug(&self, org_id: OrganizationId, name: &str) -> Result<String> {
        let mut base: String = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        base.truncate(32);
        let base = base.trim_end_matches('-').to_owned();
        let base = if base.len() < 2 { "group".to_owned() } else { base };
        for n in 0..1000 {
            let slug = if n == 0 { base.clone() } else { format!("{base}-{n}") };
            let taken = team::Entity::find()
                .filter(team::Column::OrgId.eq(org_id))
                .filter(team::Column::Slug.eq(slug.clone()))
                .one(&self.db)
                .await?;
            if taken.is_none() {
                return Ok(slug);
            }
        }
        Err(scim_error(ErrorCode::Conflict, "displayName", "too many teams with this name"))
    }

    /// One group of the organisation.
    pub async fn scim_group(&self, org_id: OrganizationId, team_id: Uuid) -> Result<ScimGroup> {
        let row = team::Entity::find_by_id(team_id)
            .filter(team::Column::OrgId.eq(org_id))
            .one(&self.db)
            .await?
            .ok_or_else(|| HubError::User(UserError::not_found("group")))?;
        let members = self.members_of_team(team_id).await?.into_iter().map(|m| (m.user_id, m.email)).collect();
        Ok(ScimGroup { team: team_from(row), members })
    }

    /// The groups a lookup selects, by slug (the SCIM layer filters
    /// further, then pages).
    pub async fn scim_groups(&self, org_id: OrganizationId, lookup: &ScimLookup) -> Result<Vec<ScimGroup>> {
        let mut query = team::Entity::find().filter(team::Column::OrgId.eq(org_id));
        query = match lookup {
            ScimLookup::All => query,
            ScimLookup::ExternalId(external) => query.filter(team::Column::ExternalId.eq(external.clone())),
            ScimLookup::Id(id) => query.filter(team::Column::Id.eq(*id)),
            ScimLookup::Email(_) | ScimLookup::Nothing => return Ok(Vec::new()),
        };
        let mut groups = Vec::new();
        for row in query.order_by_asc(team::Column::Slug).all(&self.db).await? {
            groups.push(self.scim_group(org_id, row.id).await?);
        }
        Ok(groups)
    }

    /// Renames a group and/or changes its members.
    pub async fn scim_change_group(
        &self,
        org_id: OrganizationId,
        team_id: Uuid,
        display_name: Option<&str>,
        external_id: Option<Option<String>>,
        changes: Vec<MemberChange>,
    ) -> Result<ScimGroup> {
        self.scim_group(org_id, team_id).await?;
        if let Some(name) = display_name {
            let name = crate::validate::name("displayName", name)?;
            team::Entity::update_many()
                .col_expr(team::Column::Name, Expr::value(name))
                .filter(team::Column::Id.eq(team_id))
                .exec(&self.db)
                .await?;
        }
        if let Some(external) = external_id {
            team::Entity::update_many()
                .col_expr(team::Column::ExternalId, Expr::value(external))
                .filter(team::Column::Id.eq(team_id))
                .exec(&self.db)
                .await?;
        }
        for change in changes {
            self.change_group_members(org_id, team_id, change).await?;
        }
        self.audit_org(org_id, None, "scim.group_update", &format!("team:{team_id}"), serde_json::Value::Null).await?;
        self.scim_group(org_id, team_id).await
    }

    async fn change_group_members(&self, org_id: OrganizationId, team_id: Uuid, change: MemberChange) -> Result<()> {
        let current: Vec<UserId> = self.members_of_team(team_id).await?.into_iter().map(|m| m.user_id).collect();
        let (add, remove): (Vec<UserId>, Vec<UserId>) = match change {
            MemberChange::Add(ids) => (ids, Vec::new()),
            MemberChange::Remove(ids) => (Vec::new(), ids),
            MemberChange::RemoveAll => (Vec::new(), current),
            MemberChange::Replace(ids) => {
                let gone = current.iter().filter(|id| !ids.contains(id)).copied().collect();
                (ids, gone)
            }
        };
        for user_id in add {
            // Only the organisation's members join its teams.
            if membership::Entity::find_by_id((org_id, user_id)).one(&self.db).await?.is_none() {
                return Err(scim_error(
                    ErrorCode::InvalidArgument,
                    "members",
                    format!("`{user_id}` is not a member of this organisation"),
                ));
            }
            self.add_to_team(team_id, user_id, MemberSource::Scim).await?;
        }
        for user_id in remove {
            self.remove_from_team(team_id, user_id).await?;
        }
        Ok(())
    }

    /// Deletes a group (the team, its members and bindings).
    pub async fn scim_delete_group(&self, org_id: OrganizationId, team_id: Uuid) -> Result<()> {
        self.scim_group(org_id, team_id).await?;
        self.remove_team(team_id).await?;
        self.audit_org(org_id, None, "scim.group_delete", &format!("team:{team_id}"), serde_json::Value::Null).await
    }
}

fn person_from(person: &user::Model, row: Option<&scim_user::Model>, active: bool) -> ScimPerson {
    ScimPerson {
        user_id: person.id,
        email: person.email.clone(),
        display_name: person.display_name.clone(),
        external_id: row.and_then(|r| r.external_id.clone()),
        active,
        created_at: row.map_or(person.created_at, |r| r.created_at),
        updated_at: row.map_or(person.created_at, |r| r.updated_at),
    }
}
