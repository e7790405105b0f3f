//! Teams: groups of members inside an organisation that hold role
//! bindings on workspaces and repos as people do. An IdP's groups fill
//! them at every login (through the organisation's group mappings), SCIM
//! groups fill them when the IdP pushes, admins fill them by hand.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use strata_api_types::ErrorCode;
use strata_core::id::{OrganizationId, UserId, WorkspaceId};
use uuid::Uuid;

use crate::entities::{group_mapping, membership, role_binding, team, team_binding, team_member, user};
use crate::error::{HubError, Result, UserError};
use crate::roles::{OrgRole, Principal, WorkspaceRole};
use crate::{Hub, validate};

/// Who put a person in a team; logins and SCIM only undo their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberSource {
    Manual,
    Idp,
    Scim,
}

impl MemberSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberSource::Manual => "manual",
            MemberSource::Idp => "idp",
            MemberSource::Scim => "scim",
        }
    }
}

/// A team of an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: Uuid,
    pub org_id: OrganizationId,
    pub slug: String,
    pub name: String,
    /// The SCIM client's id for the group, when it sent one.
    pub external_id: Option<String>,
    /// Made by the organisation's SCIM client, which manages its members.
    pub managed_by_scim: bool,
    pub created_at: DateTime<Utc>,
}

/// Who makes a team: an admin (console, CLI, GraphQL) or the organisation's
/// SCIM client, with its own id for the group if it sends one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TeamOrigin<'a> {
    Admin,
    Scim { external_id: Option<&'a str> },
}

/// One member of a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub source: String,
}

/// A team's role on a workspace (`repo` empty) or on one repo of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamBinding {
    pub workspace_id: WorkspaceId,
    pub team_id: Uuid,
    pub team_slug: String,
    pub repo: String,
    pub role: WorkspaceRole,
}

/// An IdP group's meaning in the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    pub group: String,
    pub team_slug: Option<String>,
    pub org_role: Option<OrgRole>,
}

pub(crate) fn team_from(row: team::Model) -> Team {
    Team {
        id: row.id,
        org_id: row.org_id,
        slug: row.slug,
        name: row.name,
        external_id: row.external_id,
        managed_by_scim: row.scim_managed,
        created_at: row.created_at,
    }
}

/// An IdP group name as admins type it and IdPs send it (kept as is, bounded).
fn group_name(raw: &str) -> std::result::Result<String, UserError> {
    let name = raw.trim();
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(UserError::invalid("group", "a group name has 1 to 256 printable characters"));
    }
    Ok(name.to_owned())
}

impl Hub {
    /// Creates a team; org admins may.
    pub async fn create_team(
        &self,
        principal: &Principal,
        org_slug: &str,
        slug: &str,
        name: Option<&str>,
    ) -> Result<Team> {
        let (org, _) = self.managed_org(principal, org_slug, "manage teams").await?;
        let slug = validate::slug("slug", slug)?;
        let name = match name {
            Some(name) if !name.trim().is_empty() => validate::name("name", name)?,
            _ => slug.clone(),
        };
        let team = self.insert_team(org.id, &slug, &name, TeamOrigin::Admin).await?;
        self.audit(
            principal,
            Some(org.id),
            "team.create",
            &format!("team:{}", team.id),
            serde_json::json!({ "slug": slug }),
        )
        .await?;
        Ok(team)
    }

    pub(crate) async fn insert_team(
        &self,
        org_id: OrganizationId,
        slug: &str,
        name: &str,
        origin: TeamOrigin<'_>,
    ) -> Result<Team> {
        let (external_id, scim_managed) = match origin {
            TeamOrigin::Admin => (None, false),
            TeamOrigin::Scim { external_id } => (external_id.map(str::to_owned), true),
        };
        let row = team::ActiveModel {
            id: Set(Uuid::new_v4()),
            org_id: Set(org_id),
            slug: Set(slug.to_owned()),
            name: Set(name.to_owned()),
            external_id: Set(external_id),
            created_at: Set(Utc::now()),
            scim_managed: Set(scim_managed),
        };
        match team::Entity::insert(row).exec_with_returning(&self.db).await {
            Ok(row) => Ok(team_from(row)),
            Err(error) if crate::identity::is_unique_violation(&error) => Err(UserError::new(
                Some("slug"),
                ErrorCode::AlreadyExists,
                format!("the organisation has a team `{slug}` already"),
            )
            .into()),
            Err(error) => Err(error.into()),
        }
    }

    /// The organisation's teams, for any member.
    pub async fn teams(&self, principal: &Principal, org_slug: &str) -> Result<Vec<Team>> {
        let (org, _) = self.org_for(principal, org_slug).await?;
        let rows = team::Entity::find()
            .filter(team::Column::OrgId.eq(org.id))
            .order_by_asc(team::Column::Slug)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(team_from).collect())
    }

    /// One team by slug; another organisation's teams are not found.
    pub(crate) async fn team_in(&self, org_id: OrganizationId, slug: &str) -> Result<team::Model> {
        team::Entity::find()
            .filter(team::Column::OrgId.eq(org_id))
            .filter(team::Column::Slug.eq(slug.trim()))
            .one(&self.db)
            .await?
            .ok_or_else(|| HubError::User(UserError::not_found("team")))
    }

    /// The members of a team, for any member of the organisation.
    pub async fn team_members(
        &self,
        principal: &Principal,
        org_slug: &str,
        team_slug: &str,
    ) -> Result<Vec<TeamMember>> {
        let (org, _) = self.org_for(principal, org_slug).await?;
        let team = self.team_in(org.id, team_slug).await?;
        self.members_of_team(team.id).await
    }

    pub(crate) async fn members_of_team(&self, team_id: Uuid) -> Result<Vec<TeamMember>> {
        let rows = team_member::Entity::find().filter(team_member::Column::TeamId.eq(team_id)).all(&self.db).await?;
        let users = user::Entity::find()
            .filter(user::Column::Id.is_in(rows.iter().map(|r| r.user_id).collect::<Vec<_>>()))
            .filter(user::Column::DeletedAt.is_null())
            .all(&self.db)
            .await?;
        let mut members: Vec<TeamMember> = rows
            .into_iter()
            .filter_map(|row| {
                let person = users.iter().find(|u| u.id == row.user_id)?;
                Some(TeamMember {
                    user_id: person.id,
                    email: person.email.clone(),
                    display_name: person.display_name.clone(),
                    source: row.source,
                })
            })
            .collect();
        members.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(members)
    }

    /// Adds (`add`) or removes a member of the organisation to a team by hand.
    pub async fn set_team_member(
        &self,
        principal: &Principal,
        org_slug: &str,
        team_slug: &str,
        user_id: UserId,
        add: bool,
    ) -> Result<()> {
        let (org, _) = self.managed_org(principal, org_slug, "manage teams").await?;
        let team = self.team_in(org.id, team_slug).await?;
        if add {
            if membership::Entity::find_by_id((org.id, user_id)).one(&self.db).await?.is_none() {
                return Err(UserError::new(
                    Some("userId"),
                    ErrorCode::NotFound,
                    "that user is not a member of the organisation",
                )
                .into());
            }
            self.add_to_team(team.id, user_id, MemberSource::Manual).await?;
        } else {
            self.remove_from_team(team.id, user_id).await?;
        }
        let detail = serde_json::json!({ "user": user_id, "member": add });
        self.audit(principal, Some(org.id), "team.member", &format!("team:{}", team.id), detail).await
    }

    /// Adds a member unless they are in the team already (their source kept).
    pub(crate) async fn add_to_team(&self, team_id: Uuid, user_id: UserId, source: MemberSource) -> Result<()> {
        if team_member::Entity::find_by_id((team_id, user_id)).one(&self.db).await?.is_some() {
            return Ok(());
        }
        let row = team_member::ActiveModel {
            team_id: Set(team_id),
            user_id: Set(user_id),
            source: Set(source.as_str().to_owned()),
            created_at: Set(Utc::now()),
        };
        crate::identity::insert_unless_present(&self.db, row).await?;
        self.principals.forget(|p| p.user_id == user_id);
        Ok(())
    }

    pub(crate) async fn remove_from_team(&self, team_id: Uuid, user_id: UserId) -> Result<()> {
        team_member::Entity::delete_by_id((team_id, user_id)).exec(&self.db).await?;
        self.principals.forget(|p| p.user_id == user_id);
        Ok(())
    }

    /// Deletes a team with its members and bindings.
    pub async fn delete_team(&self, principal: &Principal, org_slug: &str, team_slug: &str) -> Result<()> {
        let (org, _) = self.managed_org(principal, org_slug, "manage teams").await?;
        let team = self.team_in(org.id, team_slug).await?;
        self.remove_team(team.id).await?;
        self.audit(principal, Some(org.id), "team.delete", &format!("team:{}", team.id), serde_json::Value::Null).await
    }

    pub(crate) async fn remove_team(&self, team_id: Uuid) -> Result<()> {
        let txn = self.db.begin().await?;
        team_member::Entity::delete_many().filter(team_member::Column::TeamId.eq(team_id)).exec(&txn).await?;
        team_binding::Entity::delete_many().filter(team_binding::Column::TeamId.eq(team_id)).exec(&txn).await?;
        group_mapping::Entity::update_many()
            .col_expr(group_mapping::Column::TeamId, Expr::value(Option::<Uuid>::None))
            .filter(group_mapping::Column::TeamId.eq(team_id))
            .exec(&txn)
            .await?;
        team::Entity::delete_by_id(team_id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Grants (or with `None` removes) a team's role on a workspace or one
    /// repo of it; workspace admins may.
    pub async fn set_team_binding(
        &self,
        principal: &Principal,
        org_slug: &str,
        workspace_slug: &str,
        team_slug: &str,
        repo: Option<&str>,
        role: Option<WorkspaceRole>,
    ) -> Result<()> {
        let workspace = self.workspace(principal, org_slug, workspace_slug).await?;
        if workspace.role != WorkspaceRole::Admin {
            return Err(UserError::forbidden("only workspace admins can change its roles").into());
        }
        let team = self.team_in(workspace.org_id, team_slug).await?;
        let repo = repo.map(str::trim).unwrap_or_default().to_owned();
        team_binding::Entity::delete_many()
            .filter(team_binding::Column::WorkspaceId.eq(workspace.id))
            .filter(team_binding::Column::Repo.eq(repo.clone()))
            .filter(team_binding::Column::TeamId.eq(team.id))
            .exec(&self.db)
            .await?;
        if let Some(role) = role {
            team_binding::Entity::insert(team_binding::ActiveModel {
                id: Set(Uuid::new_v4()),
                workspace_id: Set(workspace.id),
                repo: Set(repo.clone()),
                team_id: Set(team.id),
                role: Set(role.as_str().to_owned()),
                created_at: Set(Utc::now()),
            })
            .exec(&self.db)
            .await?;
        }
        self.principals.forget(|_| true);
        let detail = serde_json::json!({ "team": team.slug, "repo": repo, "role": role.map(WorkspaceRole::as_str) });
        self.audit(principal, Some(workspace.org_id), "role.bind_team", &format!("workspace:{}", workspace.id), detail)
            .await
    }

    /// The team bindings of workspaces the caller may already see.
    pub async fn team_bindings(&self, workspace_ids: &[WorkspaceId]) -> Result<Vec<TeamBinding>> {
        let rows = team_binding::Entity::find()
            .filter(team_binding::Column::WorkspaceId.is_in(workspace_ids.to_vec()))
            .order_by_asc(team_binding::Column::CreatedAt)
            .all(&self.db)
            .await?;
        let teams = team::Entity::find()
            .filter(team::Column::Id.is_in(rows.iter().map(|r| r.team_id).collect::<Vec<_>>()))
            .all(&self.db)
            .await?;
        rows.into_iter()
            .filter_map(|row| {
                let team = teams.iter().find(|t| t.id == row.team_id)?;
                Some(row.role.parse().map_err(HubError::from).map(|role| TeamBinding {
                    workspace_id: row.workspace_id,
                    team_id: team.id,
                    team_slug: team.slug.clone(),
                    repo: row.repo,
                    role,
                }))
            })
            .collect()
    }

    /// A user's bindings on `workspaces` (on the repos `repos` and the
    /// whole workspace, or on everything when `None`): their own and their
    /// teams', in the shape of their own so role resolution treats both alike.
    pub(crate) async fn user_bindings(
        &self,
        user_id: UserId,
        workspaces: Vec<WorkspaceId>,
        repos: Option<Vec<String>>,
    ) -> Result<Vec<role_binding::Model>> {
        let mut own = role_binding::Entity::find()
            .filter(role_binding::Column::UserId.eq(user_id))
            .filter(role_binding::Column::WorkspaceId.is_in(workspaces.clone()));
        if let Some(repos) = &repos {
            own = own.filter(role_binding::Column::Repo.is_in(repos.clone()));
        }
        let mut bindings = own.all(&self.db).await?;
        let teams: Vec<Uuid> = team_member::Entity::find()
            .filter(team_member::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| m.team_id)
            .collect();
        // Sent even without teams: the statements must not tell who has any.
        let mut via_teams = team_binding::Entity::find()
            .filter(team_binding::Column::TeamId.is_in(teams))
            .filter(team_binding::Column::WorkspaceId.is_in(workspaces));
        if let Some(repos) = repos {
            via_teams = via_teams.filter(team_binding::Column::Repo.is_in(repos));
        }
        bindings.extend(via_teams.all(&self.db).await?.into_iter().map(|b| role_binding::Model {
            id: b.id,
            workspace_id: b.workspace_id,
            repo: b.repo,
            user_id,
            role: b.role,
            created_at: b.created_at,
        }));
        Ok(bindings)
    }

    /// Maps an IdP group to a team and/or an org role (`None` for both
    /// removes the mapping). Applied at every SSO login.
    pub async fn set_group_mapping(
        &self,
        principal: &Principal,
        org_slug: &str,
        group: &str,
        team_slug: Option<&str>,
        org_role: Option<OrgRole>,
    ) -> Result<()> {
        let (org, _) = self.managed_org(principal, org_slug, "map identity provider groups").await?;
        let group = group_name(group)?;
        if org_role == Some(OrgRole::Owner) {
            return Err(UserError::invalid("orgRole", "ownership is granted by hand, not by a group").into());
        }
        let team = match team_slug {
            Some(slug) => Some(self.team_in(org.id, slug).await?),
            None => None,
        };
        group_mapping::Entity::delete_many()
            .filter(group_mapping::Column::OrgId.eq(org.id))
            .filter(group_mapping::Column::GroupName.eq(group.clone()))
            .exec(&self.db)
            .await?;
        if team.is_some() || org_role.is_some() {
            group_mapping::Entity::insert(group_mapping::ActiveModel {
                id: Set(Uuid::new_v4()),
                org_id: Set(org.id),
                group_name: Set(group.clone()),
                team_id: Set(team.as_ref().map(|t| t.id)),
                org_role: Set(org_role.map(|r| r.as_str().to_owned())),
                created_at: Set(Utc::now()),
            })
            .exec(&self.db)
            .await?;
        }
        let detail = serde_json::json!({ "group": group, "team": team.map(|t| t.slug), "orgRole": org_role.map(OrgRole::as_str) });
        self.audit(principal, Some(org.id), "sso.group_mapping", &format!("org:{}", org.id), detail).await
    }

    /// The organisation's group mappings, for its admins.
    pub async fn group_mappings(&self, principal: &Principal, org_slug: &str) -> Result<Vec<GroupMapping>> {
        let (org, _) = self.managed_org(principal, org_slug, "see group mappings").await?;
        let rows = group_mapping::Entity::find()
            .filter(group_mapping::Column::OrgId.eq(org.id))
            .order_by_asc(group_mapping::Column::GroupName)
            .all(&self.db)
            .await?;
        let teams = team::Entity::find().filter(team::Column::OrgId.eq(org.id)).all(&self.db).await?;
        rows.into_iter()
            .map(|row| {
                Ok(GroupMapping {
                    group: row.group_name,
                    team_slug: row.team_id.and_then(|id| teams.iter().find(|t| t.id == id)).map(|t| t.slug.clone()),
                    org_role: row.org_role.map(|r| r.parse()).transpose()?,
                })
            })
            .collect()
    }

    /// Applies the IdP's `groups` to a member at login: joins the mapped
    /// teams, leaves the teams a login added and the groups no longer
    /// name, and takes the strongest mapped org role (owners keep theirs).
    pub(crate) async fn apply_groups(&self, org_id: OrganizationId, user_id: UserId, groups: &[String]) -> Result<()> {
        let mappings =
            group_mapping::Entity::find().filter(group_mapping::Column::OrgId.eq(org_id)).all(&self.db).await?;
        let matched: Vec<&group_mapping::Model> = mappings.iter().filter(|m| groups.contains(&m.group_name)).collect();
        let wanted: Vec<Uuid> = matched.iter().filter_map(|m| m.team_id).collect();
        for team_id in &wanted {
            self.add_to_team(*team_id, user_id, MemberSource::Idp).await?;
        }
        let org_teams: Vec<Uuid> = team::Entity::find()
            .filter(team::Column::OrgId.eq(org_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let stale = team_member::Entity::find()
            .filter(team_member::Column::UserId.eq(user_id))
            .filter(team_member::Column::Source.eq(MemberSource::Idp.as_str()))
            .filter(team_member::Column::TeamId.is_in(org_teams))
            .all(&self.db)
            .await?;
        for member in stale.into_iter().filter(|m| !wanted.contains(&m.team_id)) {
            self.remove_from_team(member.team_id, user_id).await?;
        }
        let mapped_role = matched.iter().filter_map(|m| m.org_role.as_deref()?.parse::<OrgRole>().ok()).max();
        if let Some(role) = mapped_role {
            membership::Entity::update_many()
                .col_expr(membership::Column::Role, Expr::value(role.as_str()))
                .filter(membership::Column::OrgId.eq(org_id))
                .filter(membership::Column::UserId.eq(user_id))
                .filter(membership::Column::Role.ne(OrgRole::Owner.as_str()))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }
}
