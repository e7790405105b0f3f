//! The hub's mutations. Each takes one `input` and returns a payload with
//! `userErrors` for expected failures (see docs/graphql.md).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::Duration;
use strata_hub::{HubError, NewWorkspace, SignUp, UserError};

use super::caller::{GqlUserError, acting, hub, payload};
use super::hub_types::{
    AccessToken, ApiToken, GqlOrgRole, GqlWorkspaceRole, Invitation, Member, Organization, User, Workspace,
};
use super::ids::{self, Kind};
use crate::rate_limit;
use crate::session_cookies::{self, RequestMeta};
use actix_web::web;

/// The hub's mutations.
#[derive(Debug, Default)]
pub struct HubMutation;

/// Which kind of client logs in: the web keeps its refresh token in an
/// HttpOnly cookie; the CLI receives it in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub(crate) enum ClientKind {
    #[default]
    Web,
    Cli,
}

#[derive(Debug, InputObject)]
pub(crate) struct SignUpInput {
    email: String,
    password: String,
    display_name: Option<String>,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct SignUpPayload {
    /// True when the form was accepted and a mail went to the address: a
    /// confirmation link, or, when the address has an account already, a
    /// note to its owner. The answer is the same in both cases, so it never
    /// tells whether an address has an account.
    ok: bool,
    /// Always null: see `ok`.
    #[graphql(deprecation = "always null, so that sign-up never tells whether an address has an account; use `ok`")]
    user: Option<User>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct VerifyEmailInput {
    /// The `token` of the link in the email.
    token: String,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct UserPayload {
    user: Option<User>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct LogInInput {
    email: String,
    password: String,
    #[graphql(default)]
    client: ClientKind,
}

#[derive(SimpleObject)]
pub(crate) struct LogInPayload {
    user: Option<User>,
    access_token: Option<AccessToken>,
    /// Only for `client: CLI`; the web gets it as an HttpOnly cookie.
    refresh_token: Option<String>,
    user_errors: Vec<GqlUserError>,
}

impl std::fmt::Debug for LogInPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogInPayload").field("user", &self.user).finish_non_exhaustive()
    }
}

#[derive(Debug, InputObject)]
pub(crate) struct RefreshSessionInput {
    /// The refresh token a CLI login returned.
    refresh_token: String,
}

#[derive(SimpleObject)]
pub(crate) struct RefreshSessionPayload {
    access_token: Option<AccessToken>,
    /// The next refresh token; the one sent stops working.
    refresh_token: Option<String>,
    user_errors: Vec<GqlUserError>,
}

impl std::fmt::Debug for RefreshSessionPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshSessionPayload").finish_non_exhaustive()
    }
}

#[derive(Debug, SimpleObject)]
pub(crate) struct OkPayload {
    pub(crate) ok: bool,
    pub(crate) user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct RequestPasswordResetInput {
    email: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct ResetPasswordInput {
    token: String,
    password: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct CreateOrganizationInput {
    /// 2–40 lower-case letters, digits and hyphens; unique.
    slug: String,
    name: Option<String>,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct OrganizationPayload {
    organization: Option<Organization>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct InviteMemberInput {
    /// The organisation's slug.
    organization: String,
    email: String,
    #[graphql(default_with = "GqlOrgRole::Member")]
    role: GqlOrgRole,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct InviteMemberPayload {
    invitation: Option<Invitation>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct AcceptInvitationInput {
    token: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct UpdateMemberRoleInput {
    organization: String,
    user_id: ID,
    role: GqlOrgRole,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct MemberPayload {
    member: Option<Member>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct RemoveMemberInput {
    organization: String,
    user_id: ID,
}

#[derive(Debug, InputObject)]
pub(crate) struct CreateWorkspaceInput {
    organization: String,
    slug: String,
    /// `free` (default), `team` or `enterprise`.
    plan: Option<String>,
    /// `local` (default), `eu-west` or `us-east`.
    region: Option<String>,
    /// Retrying with the same key returns the first workspace instead of failing.
    idempotency_key: Option<String>,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct WorkspacePayload {
    workspace: Option<Workspace>,
    user_errors: Vec<GqlUserError>,
}

impl WorkspacePayload {
    /// The payload of a mutation on a workspace of organisation `org_slug`.
    fn of(result: Result<strata_hub::Workspace, HubError>, org_slug: String) -> async_graphql::Result<Self> {
        let (ws, user_errors) = payload(result)?;
        Ok(WorkspacePayload { workspace: ws.map(|ws| Workspace { ws, org_slug }), user_errors })
    }
}

#[derive(Debug, InputObject)]
pub(crate) struct DeleteWorkspaceInput {
    organization: String,
    slug: String,
    /// The workspace's slug again, to confirm.
    confirm: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct SetWorkspacePlanInput {
    organization: String,
    slug: String,
    /// `free`, `team` or `enterprise`.
    plan: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct CreateApiTokenInput {
    organization: String,
    /// Limit the token to this workspace (slug); otherwise it works in
    /// every workspace of the organisation the maker can reach.
    workspace: Option<String>,
    name: String,
    #[graphql(default_with = "GqlWorkspaceRole::Reader")]
    role: GqlWorkspaceRole,
    /// 1–366; no expiry when absent.
    expires_in_days: Option<i32>,
}

#[derive(SimpleObject)]
pub(crate) struct CreateApiTokenPayload {
    api_token: Option<ApiToken>,
    /// The secret (`stp_…`): shown this once, never again.
    token: Option<String>,
    user_errors: Vec<GqlUserError>,
}

impl std::fmt::Debug for CreateApiTokenPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateApiTokenPayload").field("api_token", &self.api_token).finish_non_exhaustive()
    }
}

#[derive(Debug, InputObject)]
pub(crate) struct RevokeApiTokenInput {
    id: ID,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct ApiTokenPayload {
    api_token: Option<ApiToken>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct SetRoleBindingInput {
    organization: String,
    workspace: String,
    user_id: ID,
    /// A repo of the workspace; the whole workspace when absent.
    repo: Option<String>,
    /// The role to grant; absent removes the binding.
    role: Option<GqlWorkspaceRole>,
}

pub(crate) fn user_id(id: &ID, field: &str) -> Result<strata_core::id::UserId, HubError> {
    ids::decode_id(id, Kind::User).ok_or_else(|| HubError::User(UserError::invalid(field, "not a user id")))
}

/// Counts an attempt against `limits` (each with its subject); the first
/// exceeded one refuses it with `RATE_LIMITED` and a `Retry-After` header.
async fn throttle(ctx: &Context<'_>, limits: &[(rate_limit::Limit, &str)]) -> Result<(), HubError> {
    let Ok(limiter) = ctx.data::<web::Data<rate_limit::RateLimiter>>() else { return Ok(()) };
    for (limit, subject) in limits {
        if let rate_limit::Decision::Limited(after) = limiter.check(*limit, subject).await {
            return Err(refused_for(ctx, after));
        }
    }
    Ok(())
}

/// Logs in unless this address failed too often on this account lately
/// (`RATE_LIMITED` with `Retry-After` then), and counts the outcome.
async fn log_in_unless_throttled(
    ctx: &Context<'_>,
    email: &str,
    password: &str,
    address: &str,
) -> Result<strata_hub::Tokens, HubError> {
    let hub = hub(ctx).map_err(|e| HubError::Internal(e.message))?;
    let audit_ip = ip(ctx);
    let Ok(limiter) = ctx.data::<web::Data<rate_limit::RateLimiter>>() else {
        return hub.log_in(email, password, audit_ip.as_deref()).await;
    };
    if let rate_limit::Decision::Limited(after) = limiter.login_allowed(email, address).await {
        return Err(refused_for(ctx, after));
    }
    let result = hub.log_in(email, password, audit_ip.as_deref()).await;
    match &result {
        Ok(_) => limiter.login_succeeded(email, address).await,
        Err(error) if error.user_error().is_some_and(|e| e.code == strata_api_types::ErrorCode::Unauthenticated) => {
            limiter.login_failed(email, address).await;
        }
        Err(_) => {}
    }
    result
}

/// `RATE_LIMITED`, with a `Retry-After` header of whole seconds.
fn refused_for(ctx: &Context<'_>, after: std::time::Duration) -> HubError {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    ctx.insert_http_header("Retry-After", secs.to_string());
    HubError::User(UserError::new(
        None,
        strata_api_types::ErrorCode::RateLimited,
        format!("too many attempts; try again in {secs} s"),
    ))
}

fn ip(ctx: &Context<'_>) -> Option<String> {
    ctx.data::<RequestMeta>().ok().and_then(|meta| meta.ip.clone())
}

/// The principal with the request's address, for the audit log.
pub(crate) fn with_ip(ctx: &Context<'_>) -> async_graphql::Result<Result<strata_hub::Principal, HubError>> {
    Ok(acting(ctx)?.map(|principal| strata_hub::Principal { ip: ip(ctx), ..principal.clone() }))
}

#[Object]
impl HubMutation {
    /// Creates an account and emails a confirmation link. An address that
    /// has an account gets a note instead, and the answer is the same.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> async_graphql::Result<SignUpPayload> {
        let form = SignUp { email: input.email, password: input.password, display_name: input.display_name };
        let address = ip(ctx).unwrap_or_default();
        let result = match throttle(ctx, &[(rate_limit::MAIL_PER_IP, &address)]).await {
            Ok(()) => hub(ctx)?.sign_up(form).await.map(drop),
            Err(error) => Err(error),
        };
        let (done, user_errors) = payload(result)?;
        Ok(SignUpPayload { ok: done.is_some(), user: None, user_errors })
    }

    /// Confirms an email address with the link's token.
    async fn verify_email(&self, ctx: &Context<'_>, input: VerifyEmailInput) -> async_graphql::Result<UserPayload> {
        let (user, user_errors) = payload(hub(ctx)?.verify_email(&input.token).await)?;
        Ok(UserPayload { user: user.map(User), user_errors })
    }

    /// Logs in with email and password.
    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> async_graphql::Result<LogInPayload> {
        let address = ip(ctx).unwrap_or_default();
        let result = match throttle(ctx, &[(rate_limit::LOGIN_PER_IP, address.as_str())]).await {
            Ok(()) => log_in_unless_throttled(ctx, &input.email, &input.password, &address).await,
            Err(error) => Err(error),
        };
        let (tokens, user_errors) = payload(result)?;
        let Some(tokens) = tokens else {
            return Ok(LogInPayload { user: None, access_token: None, refresh_token: None, user_errors });
        };
        let refresh_token = match input.client {
            ClientKind::Cli => Some(tokens.refresh_token.clone()),
            ClientKind::Web => {
                for cookie in session_cookies::issue(&tokens) {
                    ctx.append_http_header("Set-Cookie", cookie);
                }
                None
            }
        };
        Ok(LogInPayload {
            user: Some(User(tokens.user.clone())),
            access_token: Some(AccessToken { token: tokens.access_token, expires_at: tokens.access_expires_at }),
            refresh_token,
            user_errors,
        })
    }

    /// For CLI sessions: a new access token for a refresh token (the web
    /// uses `POST /auth/refresh` with its cookie instead).
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        input: RefreshSessionInput,
    ) -> async_graphql::Result<RefreshSessionPayload> {
        let (tokens, user_errors) = payload(hub(ctx)?.refresh(&input.refresh_token).await)?;
        Ok(match tokens {
            Some(tokens) => RefreshSessionPayload {
                access_token: Some(AccessToken { token: tokens.access_token, expires_at: tokens.access_expires_at }),
                refresh_token: Some(tokens.refresh_token),
                user_errors,
            },
            None => RefreshSessionPayload { access_token: None, refresh_token: None, user_errors },
        })
    }

    /// Ends the caller's session (and clears the web's cookies).
    async fn log_out(&self, ctx: &Context<'_>) -> async_graphql::Result<OkPayload> {
        let result = match acting(ctx)? {
            Ok(principal) => hub(ctx)?.log_out(principal).await,
            Err(error) => Err(error),
        };
        for cookie in session_cookies::clear() {
            ctx.append_http_header("Set-Cookie", cookie);
        }
        let (ok, user_errors) = payload(result)?;
        Ok(OkPayload { ok: ok.is_some(), user_errors })
    }

    /// Emails a password reset link if the account exists (the answer is
    /// the same either way).
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        input: RequestPasswordResetInput,
    ) -> async_graphql::Result<OkPayload> {
        let address = ip(ctx).unwrap_or_default();
        let result = match throttle(ctx, &[(rate_limit::MAIL_PER_IP, &address)]).await {
            Ok(()) => hub(ctx)?.request_password_reset(&input.email).await,
            Err(error) => Err(error),
        };
        let (ok, user_errors) = payload(result)?;
        Ok(OkPayload { ok: ok.is_some(), user_errors })
    }

    /// Sets a new password with a reset link's token; every session ends.
    async fn reset_password(&self, ctx: &Context<'_>, input: ResetPasswordInput) -> async_graphql::Result<UserPayload> {
        let (user, user_errors) = payload(hub(ctx)?.reset_password(&input.token, &input.password).await)?;
        Ok(UserPayload { user: user.map(User), user_errors })
    }

    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> async_graphql::Result<OrganizationPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.create_organization(&principal, &input.slug, input.name.as_deref()).await,
            Err(error) => Err(error),
        };
        let (org, user_errors) = payload(result)?;
        Ok(OrganizationPayload {
            organization: org.map(|org| Organization::new(org, strata_hub::OrgRole::Owner)),
            user_errors,
        })
    }

    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        input: InviteMemberInput,
    ) -> async_graphql::Result<InviteMemberPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => {
                hub(ctx)?.invite_member(&principal, &input.organization, &input.email, input.role.into()).await
            }
            Err(error) => Err(error),
        };
        let (invitation, user_errors) = payload(result)?;
        Ok(InviteMemberPayload { invitation: invitation.map(Invitation), user_errors })
    }

    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        input: AcceptInvitationInput,
    ) -> async_graphql::Result<OrganizationPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.accept_invitation(&principal, &input.token).await,
            Err(error) => Err(error),
        };
        let (joined, user_errors) = payload(result)?;
        Ok(OrganizationPayload { organization: joined.map(|(org, role)| Organization::new(org, role)), user_errors })
    }

    async fn update_member_role(
        &self,
        ctx: &Context<'_>,
        input: UpdateMemberRoleInput,
    ) -> async_graphql::Result<MemberPayload> {
        let result = match (with_ip(ctx)?, user_id(&input.user_id, "userId")) {
            (Ok(principal), Ok(user)) => {
                hub(ctx)?.update_member_role(&principal, &input.organization, user, input.role.into()).await
            }
            (Err(error), _) | (_, Err(error)) => Err(error),
        };
        let (member, user_errors) = payload(result)?;
        Ok(MemberPayload { member: member.map(Member), user_errors })
    }

    /// Removes a member, or lets the caller leave; never the last owner.
    async fn remove_member(&self, ctx: &Context<'_>, input: RemoveMemberInput) -> async_graphql::Result<OkPayload> {
        let result = match (with_ip(ctx)?, user_id(&input.user_id, "userId")) {
            (Ok(principal), Ok(user)) => hub(ctx)?.remove_member(&principal, &input.organization, user).await,
            (Err(error), _) | (_, Err(error)) => Err(error),
        };
        let (ok, user_errors) = payload(result)?;
        Ok(OkPayload { ok: ok.is_some(), user_errors })
    }

    /// Asks for a workspace; it is PENDING until the provisioner makes it READY.
    async fn create_workspace(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkspaceInput,
    ) -> async_graphql::Result<WorkspacePayload> {
        let new = NewWorkspace {
            org_slug: input.organization.clone(),
            slug: input.slug,
            plan: input.plan,
            region: input.region,
            idempotency_key: input.idempotency_key,
        };
        let result = match with_ip(ctx)? {
            Ok(principal) => hub(ctx)?.create_workspace(&principal, &new).await,
            Err(error) => Err(error),
        };
        WorkspacePayload::of(result, input.organization)
    }

    /// Starts deleting a workspace; `confirm` repeats its slug.
    async fn delete_workspace(
        &self,
        ctx: &Context<'_>,
        input: DeleteWorkspaceInput,
    ) -> async_graphql::Result<WorkspacePayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => {
                hub(ctx)?.delete_workspace(&principal, &input.organization, &input.slug, &input.confirm).await
            }
            Err(error) => Err(error),
        };
        WorkspacePayload::of(result, input.organization)
    }

    /// Moves a workspace to another plan. A smaller plan deletes nothing:
    /// workers above its quota finish their datums and are not replaced,
    /// and the workspace's conditions say so until usage fits.
    async fn set_workspace_plan(
        &self,
        ctx: &Context<'_>,
        input: SetWorkspacePlanInput,
    ) -> async_graphql::Result<WorkspacePayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => {
                hub(ctx)?.set_workspace_plan(&principal, &input.organization, &input.slug, &input.plan).await
            }
            Err(error) => Err(error),
        };
        WorkspacePayload::of(result, input.organization)
    }

    /// Makes an API token; its secret is in this payload only.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> async_graphql::Result<CreateApiTokenPayload> {
        let expires = input.expires_in_days.map(|days| Duration::days(i64::from(days)));
        let result = match with_ip(ctx)? {
            Ok(principal) => {
                hub(ctx)?
                    .create_api_token(
                        &principal,
                        &input.organization,
                        input.workspace.as_deref(),
                        &input.name,
                        input.role.into(),
                        expires,
                    )
                    .await
            }
            Err(error) => Err(error),
        };
        let (made, user_errors) = payload(result)?;
        let (api_token, token) = match made {
            Some(made) => (Some(ApiToken(made.token)), Some(made.secret)),
            None => (None, None),
        };
        Ok(CreateApiTokenPayload { api_token, token, user_errors })
    }

    async fn revoke_api_token(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiTokenInput,
    ) -> async_graphql::Result<ApiTokenPayload> {
        let id = ids::decode_id::<strata_core::id::ApiTokenId>(&input.id, Kind::ApiToken)
            .ok_or_else(|| HubError::User(UserError::not_found("API token")));
        let result = match (with_ip(ctx)?, id) {
            (Ok(principal), Ok(id)) => hub(ctx)?.revoke_api_token(&principal, id).await,
            (Err(error), _) | (_, Err(error)) => Err(error),
        };
        let (token, user_errors) = payload(result)?;
        Ok(ApiTokenPayload { api_token: token.map(ApiToken), user_errors })
    }

    /// Grants a member a role on a workspace or one of its repos (or, with
    /// no role, takes it away).
    async fn set_role_binding(
        &self,
        ctx: &Context<'_>,
        input: SetRoleBindingInput,
    ) -> async_graphql::Result<OkPayload> {
        let result = match (with_ip(ctx)?, user_id(&input.user_id, "userId")) {
            (Ok(principal), Ok(user)) => {
                hub(ctx)?
                    .set_role_binding(
                        &principal,
                        &input.organization,
                        &input.workspace,
                        user,
                        input.repo.as_deref(),
                        input.role.map(Into::into),
                    )
                    .await
            }
            (Err(error), _) | (_, Err(error)) => Err(error),
        };
        let (ok, user_errors) = payload(result)?;
        Ok(OkPayload { ok: ok.is_some(), user_errors })
    }
}
