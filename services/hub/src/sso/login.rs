//! A login through an organisation's identity provider, from the console's
//! "Log in with SSO" (or the CLI's browser) to a Strata session.
//!
//! `start` stores the attempt under a hash of its `state`, bound to a
//! random cookie of the browser that started it; `finish` spends it once,
//! has the relying party verify the provider's answer, finds or creates
//! the person (only for domains the organisation verified), applies the
//! group mappings and opens a session that remembers the organisation.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use strata_api_types::ErrorCode;
use strata_core::id::{OrganizationId, UserId};
use strata_sso::oidc::Identity;
use uuid::Uuid;

use crate::entities::{domain, identity, membership, org, scim_user, sso_connection, sso_login, user};
use crate::error::{HubError, Result, UserError};
use crate::identity::{Tokens, User};
use crate::roles::OrgRole;
use crate::sealing::{Purpose as Sealing, Sealed};
use crate::secrets::{self, Purpose};
use crate::{Hub, validate};

/// How long a person has to come back from their identity provider.
const LOGIN_TTL: Duration = Duration::minutes(10);

/// Whose identity provider to use.
#[derive(Debug, Clone)]
pub enum Realm {
    /// The organisation with this slug.
    Org(String),
    /// Whichever organisation verified this email's domain (home realm discovery).
    Email(String),
}

/// Where the browser goes once signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ReturnTo {
    /// A page of the console (a path on this server).
    Console { path: String },
    /// The CLI's loopback listener (RFC 8252), with the CLI's PKCE challenge
    /// and its own state, which it checks when the browser arrives.
    Cli { redirect: String, challenge: String, state: String },
}

impl ReturnTo {
    /// A console path: relative to this server, never `//elsewhere`.
    pub fn console(path: Option<&str>) -> ReturnTo {
        let path = path.unwrap_or("/").trim();
        let safe = path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && path.len() <= 2000;
        ReturnTo::Console { path: if safe { path.to_owned() } else { "/".to_owned() } }
    }

    /// The CLI's loopback redirect: `http://127.0.0.1:<port>/…` or
    /// `http://[::1]:<port>/…` only, so a code never leaves the machine.
    pub fn cli(redirect: &str, challenge: &str, state: &str) -> std::result::Result<ReturnTo, UserError> {
        let url = url::Url::parse(redirect.trim())
            .map_err(|_| UserError::invalid("redirect", "the CLI's redirect is not a URL"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]"));
        if url.scheme() != "http" || !loopback || url.port().is_none() || url.query().is_some() {
            return Err(UserError::invalid("redirect", "the CLI's redirect must be http://127.0.0.1:<port>/<path>"));
        }
        let challenge_ok = (43..=128).contains(&challenge.len())
            && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !challenge_ok {
            return Err(UserError::invalid("challenge", "the CLI's PKCE challenge must be S256, base64url"));
        }
        if state.is_empty()
            || state.len() > 200
            || !state.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(UserError::invalid("state", "the CLI's state must be 1–200 base64url characters"));
        }
        Ok(ReturnTo::Cli { redirect: url.to_string(), challenge: challenge.to_owned(), state: state.to_owned() })
    }
}

/// A started login: send the browser to `authorize_url` with the cookie
/// `browser_binding` set (HttpOnly, for the callback path only).
#[derive(Clone)]
pub struct SsoStarted {
    pub authorize_url: String,
    pub browser_binding: String,
}

impl std::fmt::Debug for SsoStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoStarted").field("authorize_url", &self.authorize_url).finish_non_exhaustive()
    }
}

/// What the provider sent back to the callback.
#[derive(Debug, Clone, Default)]
pub struct SsoCallback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The binding cookie the browser sent along.
    pub browser_binding: Option<String>,
    pub ip: Option<String>,
}

/// A finished login.
#[derive(Debug)]
pub enum SsoFinished {
    /// A console session, and the page to open.
    Console { tokens: Box<Tokens>, path: String },
    /// A redirect to the CLI's loopback listener with a one-time code.
    Cli { redirect: String },
}

fn refused(message: impl Into<String>) -> HubError {
    HubError::User(UserError::unauthenticated(message))
}

impl Hub {
    /// The URL identity providers send people back to.
    pub fn sso_redirect_uri(&self) -> String {
        format!("{}/auth/sso/callback", self.settings.public_url.trim_end_matches('/'))
    }

    /// Starts a login through the identity provider of `realm`.
    pub async fn start_sso(&self, realm: Realm, return_to: ReturnTo) -> Result<SsoStarted> {
        let (org_id, hint) = self.realm_org(&realm).await?;
        let connection = self.oidc_connection(org_id).await?;
        let started =
            self.relying_party.start(&connection, &self.sso_redirect_uri(), hint.as_deref()).await.map_err(|e| {
                UserError::new(None, ErrorCode::WorkspaceUnavailable, format!("single sign-on is unavailable: {e}"))
            })?;
        let binding = secrets::random_secret();
        let state_hash = secrets::hash(Purpose::SsoState, &started.state);
        let pkce = self.sealer.seal(Sealing::SsoPkce, &state_hash, started.pkce_verifier.as_bytes())?;
        let now = Utc::now();
        let return_to = serde_json::to_string(&return_to).map_err(|e| HubError::Crypto(e.to_string()))?;
        self.sweep_expired_logins().await?;
        sso_login::Entity::insert(sso_login::ActiveModel {
            state_hash: Set(state_hash),
            org_id: Set(org_id),
            browser_hash: Set(secrets::hash(Purpose::SsoBrowser, &binding)),
            nonce: Set(started.nonce),
            pkce_sealed: Set(pkce.bytes),
            pkce_key: Set(pkce.key_id),
            return_to: Set(return_to),
            expires_at: Set(now + LOGIN_TTL),
            used_at: Set(None),
            created_at: Set(now),
        })
        .exec(&self.db)
        .await?;
        Ok(SsoStarted { authorize_url: started.authorize_url.to_string(), browser_binding: binding })
    }

    /// Whether a realm signs in with SSO (the console's login page asks
    /// before it sends the browser off).
    pub async fn sso_realm_exists(&self, realm: &Realm) -> bool {
        self.realm_org(realm).await.is_ok()
    }

    /// The organisation of a realm, and the login hint to pass on. A missing
    /// organisation and one without SSO answer alike.
    async fn realm_org(&self, realm: &Realm) -> Result<(OrganizationId, Option<String>)> {
        match realm {
            Realm::Org(slug) => {
                let none = || {
                    UserError::new(Some("org"), ErrorCode::NotFound, format!("`{}` has no single sign-on", slug.trim()))
                };
                let org = org::Entity::find()
                    .filter(org::Column::Slug.eq(slug.trim()))
                    .one(&self.db)
                    .await?
                    .ok_or_else(none)?;
                sso_connection::Entity::find_by_id(org.id).one(&self.db).await?.ok_or_else(none)?;
                Ok((org.id, None))
            }
            Realm::Email(email) => {
                let email = validate::email(email)?;
                let domain_name = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
                let none = || {
                    UserError::new(
                        Some("email"),
                        ErrorCode::NotFound,
                        format!(
                            "no organisation signs in `{domain_name}` addresses with SSO; log in with your password"
                        ),
                    )
                };
                let org_id = self.verified_owner_of(&domain_name).await?.ok_or_else(none)?;
                sso_connection::Entity::find_by_id(org_id).one(&self.db).await?.ok_or_else(none)?;
                Ok((org_id, Some(email)))
            }
        }
    }

    /// The organisation that verified `domain`, if one did.
    pub(crate) async fn verified_owner_of(&self, domain_name: &str) -> Result<Option<OrganizationId>> {
        let row = domain::Entity::find()
            .filter(domain::Column::Domain.eq(domain_name))
            .filter(domain::Column::VerifiedAt.is_not_null())
            .one(&self.db)
            .await?;
        Ok(row.map(|row| row.org_id))
    }

    /// Completes a login at the callback. Every refusal is audited with
    /// its reason and answered with a message that says what to do.
    pub async fn finish_sso(&self, callback: SsoCallback) -> Result<SsoFinished> {
        let login = self.spend_login(&callback).await?;
        let outcome = self.sign_in_with(&login, &callback).await;
        if let Err(error) = &outcome {
            let detail = serde_json::json!({ "reason": error.to_string() });
            self.audit_org(login.org_id, None, "sso.login_failed", &format!("org:{}", login.org_id), detail).await?;
        }
        outcome
    }

    /// Finds the attempt the callback's `state` names and spends it: only
    /// from the browser that started it, once, before it expires.
    async fn spend_login(&self, callback: &SsoCallback) -> Result<sso_login::Model> {
        let Some(state) = callback.state.as_deref().filter(|s| !s.is_empty()) else {
            return Err(refused("the identity provider's answer has no state; start the sign-in again"));
        };
        let state_hash = secrets::hash(Purpose::SsoState, state);
        let Some(login) = sso_login::Entity::find_by_id(state_hash.clone()).one(&self.db).await? else {
            return Err(refused("this sign-in is unknown or has expired; start it again"));
        };
        let browser = callback.browser_binding.as_deref().map(|b| secrets::hash(Purpose::SsoBrowser, b));
        if browser.as_deref() != Some(login.browser_hash.as_str()) {
            return Err(refused("this sign-in was started in another browser (or its cookie is gone); start it again"));
        }
        let now = Utc::now();
        let spent = sso_login::Entity::update_many()
            .col_expr(sso_login::Column::UsedAt, Expr::value(Some(now)))
            .filter(sso_login::Column::StateHash.eq(state_hash))
            .filter(sso_login::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        if spent.rows_affected != 1 {
            return Err(HubError::User(UserError::new(
                None,
                ErrorCode::Expired,
                "this sign-in was used already; start it again",
            )));
        }
        if login.expires_at <= now {
            return Err(HubError::User(UserError::new(
                None,
                ErrorCode::Expired,
                "this sign-in took too long; start it again",
            )));
        }
        Ok(login)
    }

    async fn sign_in_with(&self, login: &sso_login::Model, callback: &SsoCallback) -> Result<SsoFinished> {
        if let Some(error) = &callback.error {
            let description = callback.error_description.as_deref().unwrap_or("no description");
            let error: String = error.chars().take(100).collect();
            let description: String = description.chars().take(300).collect();
            return Err(refused(format!("your identity provider refused the sign-in ({error}: {description})")));
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| refused("the identity provider sent no code"))?;
        let connection = self.oidc_connection(login.org_id).await?;
        let sealed = Sealed { key_id: login.pkce_key.clone(), bytes: login.pkce_sealed.clone() };
        let verifier = String::from_utf8(self.sealer.open(Sealing::SsoPkce, &login.state_hash, &sealed)?)
            .map_err(|_| HubError::Crypto("a PKCE verifier is not text".into()))?;
        let identity = self
            .relying_party
            .finish(&connection, &self.sso_redirect_uri(), code, &login.nonce, &verifier)
            .await
            .map_err(|e| refused(format!("single sign-on failed: {e}")))?;
        let user = self.person_for(login.org_id, &identity).await?;
        self.join_by_sso(login.org_id, &user, &identity).await?;
        let return_to: ReturnTo =
            serde_json::from_str(&login.return_to).map_err(|e| HubError::Crypto(e.to_string()))?;
        let detail = serde_json::json!({ "subject": identity.subject, "groups": identity.groups });
        self.audit_org(login.org_id, Some(user.id), "sso.login", &format!("user:{}", user.id), detail).await?;
        match return_to {
            ReturnTo::Console { path } => {
                let tokens = self.open_session_via(user, Some(login.org_id)).await?;
                Ok(SsoFinished::Console { tokens: Box::new(tokens), path })
            }
            ReturnTo::Cli { redirect, challenge, state } => {
                let code = self.new_loopback_code(user.id, login.org_id, &challenge).await?;
                let mut url = url::Url::parse(&redirect).map_err(|e| HubError::Crypto(e.to_string()))?;
                url.query_pairs_mut().append_pair("code", &code).append_pair("state", &state);
                Ok(SsoFinished::Cli { redirect: url.to_string() })
            }
        }
    }

    /// The person an identity stands for: linked before, or an account of
    /// the same email linked now, or a new account (just in time). Linking
    /// and creating need the provider to vouch for the email and the
    /// organisation to have verified its domain.
    async fn person_for(&self, org_id: OrganizationId, identity: &Identity) -> Result<User> {
        let linked = identity::Entity::find()
            .filter(identity::Column::Provider.eq(&identity.issuer))
            .filter(identity::Column::Subject.eq(&identity.subject))
            .one(&self.db)
            .await?;
        if let Some(linked) = linked {
            return self.user(linked.user_id).await.map_err(|_| refused("this account was deleted"));
        }
        let email = identity
            .email
            .as_deref()
            .ok_or_else(|| refused("your identity provider sent no email; ask your admin to map the email claim"))
            .and_then(|e| validate::email(e).map_err(HubError::User))?;
        if !identity.email_verified && !self.provisioned_by_scim(org_id, &email).await? {
            return Err(refused(format!(
                "your identity provider does not vouch for `{email}` (email_verified is false)"
            )));
        }
        let domain_name = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        if self.verified_owner_of(domain_name).await? != Some(org_id) {
            return Err(refused(format!(
                "`{domain_name}` is not a verified domain of this organisation; an admin must verify it first"
            )));
        }
        let user = match self.user_by_email(&email).await? {
            Some(existing) => existing,
            None => {
                // A newcomer joins just in time: no account unless a seat is free.
                self.check_seats(org_id, "email", false).await?;
                self.create_provisioned_user(&email, identity.name.as_deref()).await?
            }
        };
        self.link_identity(user.id, identity).await?;
        Ok(user)
    }

    /// Whether the organisation's SCIM client provisioned this address (and
    /// keeps it active): the same IdP vouched for it then, which is how
    /// providers that send no `email_verified` (Entra) link their people.
    async fn provisioned_by_scim(&self, org_id: OrganizationId, email: &str) -> Result<bool> {
        let Some(person) = self.user_by_email(email).await? else { return Ok(false) };
        let row = scim_user::Entity::find_by_id((org_id, person.id)).one(&self.db).await?;
        Ok(row.is_some_and(|row| row.active))
    }

    /// An account without a password whose address the organisation's IdP
    /// vouches for (a first SSO sign-in, or SCIM).
    pub(crate) async fn create_provisioned_user(&self, email: &str, name: Option<&str>) -> Result<User> {
        let display_name = name
            .and_then(|n| validate::name("displayName", n).ok())
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
        let now = Utc::now();
        let row = user::ActiveModel {
            id: Set(UserId::new()),
            email: Set(email.to_owned()),
            display_name: Set(display_name),
            password_hash: Set(None),
            email_verified_at: Set(Some(now)),
            created_at: Set(now),
            deleted_at: Set(None),
        };
        // Two first logins at once: the other one may have made the account.
        crate::identity::insert_unless_present(&self.db, row).await?;
        self.user_by_email(email).await?.ok_or_else(|| refused("this account was deleted"))
    }

    async fn link_identity(&self, user_id: UserId, identity: &Identity) -> Result<()> {
        let row = identity::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user_id),
            provider: Set(identity.issuer.clone()),
            subject: Set(identity.subject.clone()),
            created_at: Set(Utc::now()),
        };
        crate::identity::insert_unless_present(&self.db, row).await
    }

    /// Makes the person a member (just in time) unless SCIM deactivated
    /// them, then applies the group mappings.
    async fn join_by_sso(&self, org_id: OrganizationId, user: &User, identity: &Identity) -> Result<()> {
        let scim = scim_user::Entity::find_by_id((org_id, user.id)).one(&self.db).await?;
        if scim.is_some_and(|row| !row.active) {
            return Err(refused("your account in this organisation is deactivated; ask its admins"));
        }
        if membership::Entity::find_by_id((org_id, user.id)).one(&self.db).await?.is_none() {
            let domain_name = user.email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
            if self.verified_owner_of(domain_name).await? != Some(org_id) {
                return Err(refused("you are not a member of this organisation; ask its admins for an invitation"));
            }
            self.ensure_member(org_id, user.id, OrgRole::Member).await?;
            self.audit_org(org_id, Some(user.id), "sso.join", &format!("user:{}", user.id), serde_json::Value::Null)
                .await?;
        }
        self.apply_groups(org_id, user.id, &identity.groups).await
    }
}
