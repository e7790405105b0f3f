//! Roles and the principal a request acts as.

use std::fmt;
use std::str::FromStr;

use strata_core::id::{ApiTokenId, OrganizationId, UserId, WorkspaceId};
use uuid::Uuid;

use crate::error::UserError;

/// A member's role in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgRole {
    Member,
    Admin,
    Owner,
}

/// A role on a workspace (or one repo of it): Pachyderm's repoReader,
/// repoWriter and repoOwner. Ordered: each includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkspaceRole {
    Reader,
    Writer,
    Admin,
}

macro_rules! role_names {
    ($type:ty, $what:literal, $($variant:ident => $name:literal),+) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $type {
            type Err = UserError;
            fn from_str(s: &str) -> Result<Self, UserError> {
                match s.to_ascii_lowercase().as_str() {
                    $($name => Ok(Self::$variant),)+
                    other => Err(UserError::invalid(
                        "role",
                        format!(concat!("`{}` is not ", $what, "; use one of: {}"), other, [$($name),+].join(", ")),
                    )),
                }
            }
        }
    };
}

role_names!(OrgRole, "an organisation role", Member => "member", Admin => "admin", Owner => "owner");
role_names!(WorkspaceRole, "a workspace role", Reader => "reader", Writer => "writer", Admin => "admin");

impl OrgRole {
    /// Owners and admins manage members, invitations and workspaces.
    pub fn manages_org(self) -> bool {
        self >= OrgRole::Admin
    }

    /// Org owners and admins are admins of every workspace of the org.
    pub fn implied_workspace_role(self) -> Option<WorkspaceRole> {
        self.manages_org().then_some(WorkspaceRole::Admin)
    }
}

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token of a login session (web or CLI).
    Session { session_id: Uuid },
    /// An API token: limited to one organisation (and maybe one workspace)
    /// and to at most `role`, whatever more its owner may do.
    ApiToken { token_id: ApiTokenId, org_id: OrganizationId, workspace_id: Option<WorkspaceId>, role: WorkspaceRole },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub email: String,
    pub email_verified: bool,
    pub credential: Credential,
    /// For a session opened by single sign-on: the organisation whose
    /// identity provider vouched for the user.
    pub sso_org_id: Option<OrganizationId>,
    /// The client's address, for the audit log (set by the transport).
    pub ip: Option<String>,
}

impl Principal {
    /// The API token's id, for audit records.
    pub fn token_id(&self) -> Option<ApiTokenId> {
        match self.credential {
            Credential::ApiToken { token_id, .. } => Some(token_id),
            Credential::Session { .. } => None,
        }
    }

    /// Caps an org role by what the credential allows: a token limited to
    /// another org has none, a workspace token acts as a plain member, and
    /// only admin tokens may manage the org.
    pub fn cap_org_role(&self, org_id: OrganizationId, role: OrgRole) -> Option<OrgRole> {
        match &self.credential {
            Credential::Session { .. } => Some(role),
            Credential::ApiToken { org_id: scope, .. } if *scope != org_id => None,
            Credential::ApiToken { workspace_id: Some(_), .. } => Some(OrgRole::Member),
            Credential::ApiToken { role: token_role, .. } => {
                Some(if *token_role == WorkspaceRole::Admin { role } else { role.min(OrgRole::Member) })
            }
        }
    }

    /// Caps a workspace role by the credential's scope and role.
    pub fn cap_workspace_role(
        &self,
        org_id: OrganizationId,
        workspace_id: WorkspaceId,
        role: WorkspaceRole,
    ) -> Option<WorkspaceRole> {
        match &self.credential {
            Credential::Session { .. } => Some(role),
            Credential::ApiToken { org_id: scope, .. } if *scope != org_id => None,
            Credential::ApiToken { workspace_id: Some(scope), .. } if *scope != workspace_id => None,
            Credential::ApiToken { role: token_role, .. } => Some(role.min(*token_role)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(org: OrganizationId, workspace: Option<WorkspaceId>, role: WorkspaceRole) -> Principal {
        Principal {
            user_id: UserId::new(),
            email: "ci@example.com".into(),
            email_verified: true,
            credential: Credential::ApiToken {
                token_id: ApiTokenId::new(),
                org_id: org,
                workspace_id: workspace,
                role,
            },
            sso_org_id: None,
            ip: None,
        }
    }

    #[test]
    fn roles_parse_case_insensitively_and_say_what_is_allowed() {
        assert_eq!("Writer".parse::<WorkspaceRole>().unwrap(), WorkspaceRole::Writer);
        let error = "boss".parse::<OrgRole>().unwrap_err();
        assert!(error.message.contains("member, admin, owner"), "{}", error.message);
        assert!(WorkspaceRole::Admin > WorkspaceRole::Writer && WorkspaceRole::Writer > WorkspaceRole::Reader);
    }

    #[test]
    fn a_token_never_grants_more_than_its_role_or_outside_its_scope() {
        let (org, other_org, ws, other_ws) =
            (OrganizationId::new(), OrganizationId::new(), WorkspaceId::new(), WorkspaceId::new());
        let reader = token(org, None, WorkspaceRole::Reader);
        assert_eq!(reader.cap_workspace_role(org, ws, WorkspaceRole::Admin), Some(WorkspaceRole::Reader));
        assert_eq!(reader.cap_workspace_role(other_org, ws, WorkspaceRole::Admin), None);
        assert_eq!(reader.cap_org_role(org, OrgRole::Owner), Some(OrgRole::Member));
        let scoped = token(org, Some(ws), WorkspaceRole::Admin);
        assert_eq!(scoped.cap_workspace_role(org, other_ws, WorkspaceRole::Admin), None);
        assert_eq!(scoped.cap_workspace_role(org, ws, WorkspaceRole::Writer), Some(WorkspaceRole::Writer));
        assert_eq!(scoped.cap_org_role(org, OrgRole::Owner), Some(OrgRole::Member));
        assert_eq!(token(org, None, WorkspaceRole::Admin).cap_org_role(org, OrgRole::Owner), Some(OrgRole::Owner));
    }
}
