//! Single sign-on in GraphQL: an organisation's connection (its secret
//! write-only), "SSO required", verified domains, teams and their role
//! bindings, IdP group mappings, the SCIM token, and approving a CLI's
//! device login. Each mutation takes one `input` and answers `userErrors`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use strata_hub::{HubError, SsoConnectionInput};
use strata_sso::oidc::ClaimMapping;

use super::caller::{GqlUserError, hub, payload, principal, query_result};
use super::hub_mutations::{OkPayload, user_id, with_ip};
use super::hub_types::{GqlOrgRole, GqlWorkspaceRole};
use super::ids::{self, Kind};

/// An organisation's OpenID Connect connection. The client secret is
/// write-only: no query returns it.
pub(crate) struct SsoConnection {
    pub(crate) connection: strata_hub::SsoConnection,
    pub(crate) redirect_uri: String,
}

#[Object]
impl SsoConnection {
    async fn issuer(&self) -> &str {
        &self.connection.issuer
    }
    async fn client_id(&self) -> &str {
        &self.connection.client_id
    }
    /// Asked for besides `openid`.
    async fn scopes(&self) -> &[String] {
        &self.connection.scopes
    }
    async fn email_claim(&self) -> &str {
        &self.connection.claims.email
    }
    async fn name_claim(&self) -> &str {
        &self.connection.claims.name
    }
    async fn groups_claim(&self) -> &str {
        &self.connection.claims.groups
    }
    /// Register this as the redirect (callback) URI at the identity provider.
    async fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.connection.updated_at
    }
}

/// A domain the organisation claimed, and the DNS record that proves it.
pub(crate) struct Domain(pub(crate) strata_hub::Domain);

#[Object]
impl Domain {
    async fn domain(&self) -> &str {
        &self.0.domain
    }
    /// Publish a TXT record with this name…
    async fn record_name(&self) -> &str {
        &self.0.record_name
    }
    /// …and this value, then verify.
    async fn record_value(&self) -> &str {
        &self.0.record_value
    }
    async fn verified(&self) -> bool {
        self.0.verified_at.is_some()
    }
    async fn verified_at(&self) -> Option<DateTime<Utc>> {
        self.0.verified_at
    }
}

/// A team: members of the organisation who share role bindings.
pub(crate) struct Team(pub(crate) strata_hub::Team);

#[Object]
impl Team {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// True when the organisation's SCIM client manages this team.
    async fn managed_by_scim(&self) -> bool {
        self.0.managed_by_scim
    }
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TeamMember>> {
        let org = org_slug(ctx, self.0.org_id).await?;
        let members = query_result(hub(ctx)?.team_members(principal(ctx)?, &org, &self.0.slug).await)?;
        Ok(members.into_iter().map(TeamMember).collect())
    }
}

async fn org_slug(ctx: &Context<'_>, org_id: strata_core::id::OrganizationId) -> async_graphql::Result<String> {
    let (org, _) = query_result(hub(ctx)?.org_by_id(principal(ctx)?, org_id).await)?;
    Ok(org.slug)
}

pub(crate) struct TeamMember(strata_hub::TeamMember);

#[Object]
impl TeamMember {
    async fn user_id(&self) -> ID {
        ids::encode(Kind::User, self.0.user_id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    /// Who added them: `manual`, `idp` (a group at login) or `scim`.
    async fn source(&self) -> &str {
        &self.0.source
    }
}

/// What an IdP group means in the organisation.
#[derive(SimpleObject)]
pub(crate) struct GroupMapping {
    group: String,
    /// The team its members join.
    team: Option<String>,
    /// The org role its members hold (the strongest of their groups').
    org_role: Option<GqlOrgRole>,
}

/// A team's role on a workspace or one repo of it.
#[derive(SimpleObject)]
pub(crate) struct TeamRoleBinding {
    team: String,
    repo: Option<String>,
    role: GqlWorkspaceRole,
}

impl From<strata_hub::TeamBinding> for TeamRoleBinding {
    fn from(binding: strata_hub::TeamBinding) -> Self {
        TeamRoleBinding {
            team: binding.team_slug,
            repo: (!binding.repo.is_empty()).then_some(binding.repo),
            role: binding.role.into(),
        }
    }
}

/// The Organization fields of this module (resolved there, listed here).
pub(crate) mod organization {
    use super::*;

    pub(crate) async fn connection(ctx: &Context<'_>, org: &str) -> async_graphql::Result<Option<SsoConnection>> {
        let hub = hub(ctx)?;
        let connection = query_result(hub.sso_connection(principal(ctx)?, org).await)?;
        Ok(connection.map(|connection| SsoConnection { connection, redirect_uri: hub.sso_redirect_uri() }))
    }

    pub(crate) async fn domains(ctx: &Context<'_>, org: &str) -> async_graphql::Result<Vec<Domain>> {
        Ok(query_result(hub(ctx)?.domains(principal(ctx)?, org).await)?.into_iter().map(Domain).collect())
    }

    pub(crate) async fn teams(ctx: &Context<'_>, org: &str) -> async_graphql::Result<Vec<Team>> {
        Ok(query_result(hub(ctx)?.teams(principal(ctx)?, org).await)?.into_iter().map(Team).collect())
    }

    pub(crate) async fn group_mappings(ctx: &Context<'_>, org: &str) -> async_graphql::Result<Vec<GroupMapping>> {
        let mappings = query_result(hub(ctx)?.group_mappings(principal(ctx)?, org).await)?;
        Ok(mappings
            .into_iter()
            .map(|m| GroupMapping { group: m.group, team: m.team_slug, org_role: m.org_role.map(Into::into) })
            .collect())
    }

    pub(crate) async fn team_bindings(
        ctx: &Context<'_>,
        workspace: strata_core::id::WorkspaceId,
    ) -> async_graphql::Result<Vec<TeamRoleBinding>> {
        let bindings = query_result(hub(ctx)?.team_bindings(&[workspace]).await)?;
        Ok(bindings.into_iter().map(Into::into).collect())
    }
}

#[derive(Debug, Default)]
pub struct SsoMutation;

#[derive(InputObject)]
pub(crate) struct ConfigureSsoInput {
    organization: String,
    /// The provider's issuer URL (its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`).
    issuer: String,
    client_id: String,
    /// Write-only; leave out to keep the stored one.
    client_secret: Option<String>,
    /// Besides `openid`; default `email profile groups`.
    scopes: Option<Vec<String>>,
    email_claim: Option<String>,
    name_claim: Option<String>,
    groups_claim: Option<String>,
}

impl std::fmt::Debug for ConfigureSsoInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigureSsoInput").field("organization", &self.organization).finish_non_exhaustive()
    }
}

#[derive(SimpleObject)]
pub(crate) struct SsoConnectionPayload {
    connection: Option<SsoConnection>,
    user_errors: Vec<GqlUserError>,
}

/// Inputs that name only an organisation, one type per mutation.
macro_rules! organization_inputs {
    ($($name:ident),+) => {$(
        #[derive(Debug, InputObject)]
        pub(crate) struct $name {
            organization: String,
        }
    )+};
}

organization_inputs!(RemoveSsoInput, TestSsoInput, IssueScimTokenInput);

#[derive(Debug, SimpleObject)]
pub(crate) struct TestSsoPayload {
    ok: bool,
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    signing_keys: Option<i32>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct SetSsoRequiredInput {
    organization: String,
    required: bool,
}

/// Inputs that name an organisation's domain, one type per mutation.
macro_rules! domain_inputs {
    ($($name:ident),+) => {$(
        #[derive(Debug, InputObject)]
        pub(crate) struct $name {
            organization: String,
            domain: String,
        }
    )+};
}

domain_inputs!(ClaimDomainInput, VerifyDomainInput, RemoveDomainInput);

#[derive(SimpleObject)]
pub(crate) struct DomainPayload {
    domain: Option<Domain>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct CreateTeamInput {
    organization: String,
    slug: String,
    name: Option<String>,
}

#[derive(SimpleObject)]
pub(crate) struct TeamPayload {
    team: Option<Team>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct DeleteTeamInput {
    organization: String,
    team: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct SetTeamMemberInput {
    organization: String,
    team: String,
    user_id: ID,
    /// True adds, false removes.
    member: bool,
}

#[derive(Debug, InputObject)]
pub(crate) struct SetTeamRoleBindingInput {
    organization: String,
    workspace: String,
    team: String,
    /// A repo of the workspace; the whole workspace when left out.
    repo: Option<String>,
    /// No role removes the binding.
    role: Option<GqlWorkspaceRole>,
}

#[derive(Debug, InputObject)]
pub(crate) struct SetGroupMappingInput {
    organization: String,
    /// The group's name as the provider sends it in the groups claim.
    group: String,
    team: Option<String>,
    org_role: Option<GqlOrgRole>,
}

#[derive(SimpleObject)]
pub(crate) struct ScimTokenPayload {
    /// Shown once: give it to the identity provider's SCIM app.
    token: Option<String>,
    /// The SCIM base URL for this organisation.
    base_url: Option<String>,
    user_errors: Vec<GqlUserError>,
}

impl std::fmt::Debug for ScimTokenPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimTokenPayload").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

#[derive(Debug, InputObject)]
pub(crate) struct ApproveDeviceLoginInput {
    /// The code the CLI shows, e.g. `BCDF-GHJK`.
    user_code: String,
}

fn ok(result: Result<(), HubError>) -> async_graphql::Result<OkPayload> {
    let (done, user_errors) = payload(result)?;
    Ok(OkPayload { ok: done.is_some(), user_errors })
}

#[Object]
impl SsoMutation {
    /// Creates or changes the organisation's SSO connection; org admins may.
    async fn configure_sso(
        &self,
        ctx: &Context<'_>,
        input: ConfigureSsoInput,
    ) -> async_graphql::Result<SsoConnectionPayload> {
        let defaults = ClaimMapping::default();
        let claims =
            (input.email_claim.is_some() || input.name_claim.is_some() || input.groups_claim.is_some()).then(|| {
                ClaimMapping {
                    email: input.email_claim.unwrap_or(defaults.email),
                    name: input.name_claim.unwrap_or(defaults.name),
                    groups: input.groups_claim.unwrap_or(defaults.groups),
                }
            });
        let change = SsoConnectionInput {
            issuer: input.issuer,
            client_id: input.client_id,
            client_secret: input.client_secret,
            scopes: input.scopes,
            claims,
        };
        let hub = hub(ctx)?;
        let result = match with_ip(ctx)? {
            Ok(principal) => hub.configure_sso(&principal, &input.organization, change).await,
            Err(error) => Err(error),
        };
        let (connection, user_errors) = payload(result)?;
        let redirect_uri = hub.sso_redirect_uri();
        Ok(SsoConnectionPayload {
            connection: connection.map(|connection| SsoConnection { connection, redirect_uri }),
            user_errors,
        })
    }

    /// Removes the SSO connection (and turns "SSO required" off).
    async fn remove_sso(&self, ctx: &Context<'_>, input: RemoveSsoInput) -> async_graphql::Result<OkPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.remove_sso(&principal, &input.organization).await,
            Err(error) => Err(error),
        };
        ok(result)
    }

    /// Fetches the provider's discovery document and keys afresh.
    async fn test_sso(&self, ctx: &Context<'_>, input: TestSsoInput) -> async_graphql::Result<TestSsoPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.test_sso(&principal, &input.organization).await,
            Err(error) => Err(error),
        };
        let (summary, user_errors) = payload(result)?;
        Ok(TestSsoPayload {
            ok: summary.is_some(),
            issuer: summary.as_ref().map(|s| s.issuer.clone()),
            authorization_endpoint: summary.as_ref().map(|s| s.authorization_endpoint.clone()),
            token_endpoint: summary.as_ref().and_then(|s| s.token_endpoint.clone()),
            signing_keys: summary.map(|s| i32::try_from(s.signing_keys).unwrap_or(i32::MAX)),
            user_errors,
        })
    }

    /// Requires members to log in through the organisation's identity
    /// provider; owners keep password access (break-glass), API tokens work.
    async fn set_sso_required(
        &self,
        ctx: &Context<'_>,
        input: SetSsoRequiredInput,
    ) -> async_graphql::Result<OkPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.set_sso_required(&principal, &input.organization, input.required).await,
            Err(error) => Err(error),
        };
        ok(result)
    }

    /// Claims a domain; the payload says which TXT record proves it.
    async fn claim_domain(&self, ctx: &Context<'_>, input: ClaimDomainInput) -> async_graphql::Result<DomainPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.claim_domain(&principal, &input.organization, &input.domain).await,
            Err(error) => Err(error),
        };
        let (domain, user_errors) = payload(result)?;
        Ok(DomainPayload { domain: domain.map(Domain), user_errors })
    }

    /// Looks the TXT record up and marks the domain verified when it is there.
    async fn verify_domain(&self, ctx: &Context<'_>, input: VerifyDomainInput) -> async_graphql::Result<DomainPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.verify_domain(&principal, &input.organization, &input.domain).await,
            Err(error) => Err(error),
        };
        let (domain, user_errors) = payload(result)?;
        Ok(DomainPayload { domain: domain.map(Domain), user_errors })
    }

    async fn remove_domain(&self, ctx: &Context<'_>, input: RemoveDomainInput) -> async_graphql::Result<OkPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.remove_domain(&principal, &input.organization, &input.domain).await,
            Err(error) => Err(error),
        };
        ok(result)
    }

    async fn create_team(&self, ctx: &Context<'_>, input: CreateTeamInput) -> async_graphql::Result<TeamPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => {
                hub(ctx)?.create_team(&principal, &input.organization, &input.slug, input.name.as_deref()).await
            }
            Err(error) => Err(error),
        };
        let (team, user_errors) = payload(result)?;
        Ok(TeamPayload { team: team.map(Team), user_errors })
    }

    async fn delete_team(&self, ctx: &Context<'_>, input: DeleteTeamInput) -> async_graphql::Result<OkPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.delete_team(&principal, &input.organization, &input.team).await,
            Err(error) => Err(error),
        };
        ok(result)
    }

    async fn set_team_member(&self, ctx: &Context<'_>, input: SetTeamMemberInput) -> async_graphql::Result<OkPayload> {
        let result = match (with_ip(ctx)?, user_id(&input.user_id, "userId")) {
            (Ok(principal), Ok(user)) => {
                hub(ctx)?.set_team_member(&principal, &input.organization, &input.team, user, input.member).await
            }
            (Err(error), _) | (_, Err(error)) => Err(error),
        };
        ok(result)
    }

    /// Grants a team a role on a workspace or one of its repos (or, with
    /// no role, takes it away); workspace admins may.
    async fn set_team_role_binding(
        &self,
        ctx: &Context<'_>,
        input: SetTeamRoleBindingInput,
    ) -> async_graphql::Result<OkPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => {
                hub(ctx)?
                    .set_team_binding(
                        &principal,
                        &input.organization,
                        &input.workspace,
                        &input.team,
                        input.repo.as_deref(),
                        input.role.map(Into::into),
                    )
                    .await
            }
            Err(error) => Err(error),
        };
        ok(result)
    }

    /// Maps an IdP group to a team and/or an org role; neither removes it.
    async fn set_group_mapping(
        &self,
        ctx: &Context<'_>,
        input: SetGroupMappingInput,
    ) -> async_graphql::Result<OkPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => {
                hub(ctx)?
                    .set_group_mapping(
                        &principal,
                        &input.organization,
                        &input.group,
                        input.team.as_deref(),
                        input.org_role.map(Into::into),
                    )
                    .await
            }
            Err(error) => Err(error),
        };
        ok(result)
    }

    /// Issues the organisation's SCIM token (replacing the previous one).
    async fn issue_scim_token(
        &self,
        ctx: &Context<'_>,
        input: IssueScimTokenInput,
    ) -> async_graphql::Result<ScimTokenPayload> {
        let hub = hub(ctx)?;
        let result = match with_ip(ctx)? {
            Ok(principal) => hub.issue_scim_token(&principal, &input.organization).await,
            Err(error) => Err(error),
        };
        let (token, user_errors) = payload(result)?;
        let base_url = token.as_ref().map(|_| hub.scim_base_url(&input.organization));
        Ok(ScimTokenPayload { token, base_url, user_errors })
    }

    /// Lets a CLI waiting on a device login (`strata auth login --device`)
    /// in as the caller.
    async fn approve_device_login(
        &self,
        ctx: &Context<'_>,
        input: ApproveDeviceLoginInput,
    ) -> async_graphql::Result<OkPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.approve_device_login(&principal, &input.user_code).await,
            Err(error) => Err(error),
        };
        ok(result)
    }
}
