//! Single sign-on for organisations (docs/hub.md, "SSO"): an OpenID Connect
//! connection per organisation, logins through it ([`login`]), domains the
//! organisation proved it owns ([`domains`]), teams and the IdP groups that
//! fill them ([`teams`]), SCIM provisioning ([`scim`]), and handing a login
//! to the CLI ([`cli`]). The protocols are `strata_sso`'s; this module
//! stores, decides and audits.

pub(crate) mod cli;
pub(crate) mod domains;
pub(crate) mod login;
pub(crate) mod scim;
pub(crate) mod teams;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use strata_api_types::ErrorCode;
use strata_core::id::OrganizationId;
use strata_sso::oidc::{CachePolicy, ClaimMapping, Connection, ProviderSummary};

use crate::entities::{cli_login, membership, org, sso_connection, sso_login};
use crate::error::{HubError, Result, UserError};
use crate::roles::{Credential, OrgRole, Principal};
use crate::sealing::{Purpose, Sealed};
use crate::{Hub, validate};

pub use strata_sso::net::Reach;

/// How the hub reaches identity providers and DNS.
#[derive(Debug, Clone)]
pub struct SsoSettings {
    /// Whether issuers on private addresses are allowed (an IdP inside the
    /// company network, tests on loopback); public only by default.
    pub reach: Reach,
    /// The DNS server domain checks ask; the system's when `None`.
    pub dns_server: Option<std::net::SocketAddr>,
    pub cache: CachePolicy,
}

impl Default for SsoSettings {
    fn default() -> Self {
        SsoSettings { reach: Reach::PublicOnly, dns_server: None, cache: CachePolicy::default() }
    }
}

/// An organisation's SSO connection as admins see it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoConnection {
    pub org_id: OrganizationId,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub claims: ClaimMapping,
    pub updated_at: DateTime<Utc>,
}

/// What an admin sends to configure SSO. The secret may be left out when
/// changing other fields (it is write-only: kept, never shown).
#[derive(Clone, Default)]
pub struct SsoConnectionInput {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub claims: Option<ClaimMapping>,
}

impl std::fmt::Debug for SsoConnectionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoConnectionInput")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

const DEFAULT_SCOPES: [&str; 3] = ["email", "profile", "groups"];

/// How long an expired login in flight is kept, so that using it late
/// still says "took too long" rather than "unknown".
pub const EXPIRED_LOGINS_KEPT: chrono::Duration = chrono::Duration::hours(1);

fn connection_from(row: &sso_connection::Model) -> SsoConnection {
    SsoConnection {
        org_id: row.org_id,
        issuer: row.issuer.clone(),
        client_id: row.client_id.clone(),
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        claims: ClaimMapping {
            email: row.claim_email.clone(),
            name: row.claim_name.clone(),
            groups: row.claim_groups.clone(),
        },
        updated_at: row.updated_at,
    }
}

/// An issuer URL: https, or http on loopback (a provider on this machine).
/// Kept exactly as typed (but for spaces): `iss` must match it byte for
/// byte, trailing slash included (Auth0's has one).
fn issuer(raw: &str) -> std::result::Result<String, UserError> {
    let text = raw.trim();
    let invalid = |why: &str| UserError::invalid("issuer", format!("`{text}` is not an issuer URL: {why}"));
    let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(invalid("it must start with https://"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid("it has no query, fragment or user"));
    }
    Ok(text.to_owned())
}

/// A claim name of the mapping: letters, digits and `_-:./`.
fn claim(field: &str, raw: &str) -> std::result::Result<String, UserError> {
    let name = raw.trim();
    let ok =
        !name.is_empty() && name.len() <= 200 && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-:./".contains(c));
    if ok { Ok(name.to_owned()) } else { Err(UserError::invalid(field, format!("`{name}` is not a claim name"))) }
}

fn scopes(raw: &[String]) -> std::result::Result<String, UserError> {
    let mut kept: Vec<&str> = Vec::new();
    for scope in raw.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !scope.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') {
            return Err(UserError::invalid("scopes", format!("`{scope}` is not a scope")));
        }
        if !kept.contains(&scope) {
            kept.push(scope);
        }
    }
    Ok(kept.join(" "))
}

impl Hub {
    /// The organisation's SSO connection, for its admins.
    pub async fn sso_connection(&self, principal: &Principal, org_slug: &str) -> Result<Option<SsoConnection>> {
        let (org, _) = self.managed_org(principal, org_slug, "see single sign-on settings").await?;
        let row = sso_connection::Entity::find_by_id(org.id).one(&self.db).await?;
        Ok(row.as_ref().map(connection_from))
    }

    /// Creates or changes the organisation's SSO connection. The client
    /// secret is sealed with the master key; a new connection needs one.
    pub async fn configure_sso(
        &self,
        principal: &Principal,
        org_slug: &str,
        input: SsoConnectionInput,
    ) -> Result<SsoConnection> {
        let (org, _) = self.managed_org(principal, org_slug, "configure single sign-on").await?;
        let issuer = issuer(&input.issuer)?;
        let client_id = validate::name("clientId", &input.client_id)?;
        let existing = sso_connection::Entity::find_by_id(org.id).one(&self.db).await?;
        let sealed = match (input.client_secret.as_deref().map(str::trim), &existing) {
            (Some(secret), _) if !secret.is_empty() => {
                if secret.len() > 1024 {
                    return Err(
                        UserError::invalid("clientSecret", "a client secret has at most 1024 characters").into()
                    );
                }
                self.sealer.seal(Purpose::SsoClientSecret, &org.id.to_string(), secret.as_bytes())?
            }
            (_, Some(row)) => Sealed { key_id: row.client_secret_key.clone(), bytes: row.client_secret_sealed.clone() },
            (_, None) => {
                return Err(UserError::invalid("clientSecret", "enter the client secret your IdP issued").into());
            }
        };
        let claims = input
            .claims
            .unwrap_or_else(|| existing.as_ref().map_or_else(ClaimMapping::default, |row| connection_from(row).claims));
        let scope_list = input.scopes.unwrap_or_else(|| match &existing {
            Some(row) => connection_from(row).scopes,
            None => DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        });
        let now = Utc::now();
        let row = sso_connection::ActiveModel {
            org_id: Set(org.id),
            issuer: Set(issuer),
            client_id: Set(client_id),
            client_secret_sealed: Set(sealed.bytes),
            client_secret_key: Set(sealed.key_id),
            scopes: Set(scopes(&scope_list)?),
            claim_email: Set(claim("claims.email", &claims.email)?),
            claim_name: Set(claim("claims.name", &claims.name)?),
            claim_groups: Set(claim("claims.groups", &claims.groups)?),
            created_at: Set(existing.as_ref().map_or(now, |row| row.created_at)),
            updated_at: Set(now),
        };
        let saved = match existing {
            Some(_) => sso_connection::Entity::update(row).exec(&self.db).await?,
            None => sso_connection::Entity::insert(row).exec_with_returning(&self.db).await?,
        };
        let connection = connection_from(&saved);
        let detail = serde_json::json!({ "issuer": connection.issuer, "clientId": connection.client_id,
            "secretChanged": input.client_secret.is_some() });
        self.audit(principal, Some(org.id), "sso.configure", &format!("org:{}", org.id), detail).await?;
        Ok(connection)
    }

    /// Removes the organisation's SSO connection (and turns off "SSO
    /// required", which would otherwise lock every member out).
    pub async fn remove_sso(&self, principal: &Principal, org_slug: &str) -> Result<()> {
        let (org, _) = self.managed_org(principal, org_slug, "configure single sign-on").await?;
        sso_connection::Entity::delete_by_id(org.id).exec(&self.db).await?;
        self.write_sso_required(org.id, false).await?;
        self.audit(principal, Some(org.id), "sso.remove", &format!("org:{}", org.id), serde_json::Value::Null).await
    }

    /// Fetches the provider's discovery document and keys afresh ("test
    /// connection"); the answer says what is wrong when it fails.
    pub async fn test_sso(&self, principal: &Principal, org_slug: &str) -> Result<ProviderSummary> {
        let (org, _) = self.managed_org(principal, org_slug, "test single sign-on").await?;
        let connection = self.oidc_connection(org.id).await?;
        let summary = self
            .relying_party
            .test(&connection)
            .await
            .map_err(|e| UserError::new(Some("issuer"), ErrorCode::InvalidArgument, e.to_string()))?;
        if !summary.supports_pkce_s256 {
            return Err(UserError::invalid(
                "issuer",
                "the provider does not offer PKCE with S256, which Strata requires",
            )
            .into());
        }
        self.audit(principal, Some(org.id), "sso.test", &format!("org:{}", org.id), serde_json::Value::Null).await?;
        Ok(summary)
    }

    /// Turns "SSO required" on or off. On, password and email-link sessions
    /// of members (but owners, the break-glass accounts) no longer act in
    /// the organisation; API tokens keep working under their caps.
    pub async fn set_sso_required(&self, principal: &Principal, org_slug: &str, required: bool) -> Result<()> {
        let (org, _) = self.managed_org(principal, org_slug, "require single sign-on").await?;
        if required {
            sso_connection::Entity::find_by_id(org.id).one(&self.db).await?.ok_or_else(|| {
                UserError::new(Some("required"), ErrorCode::Conflict, "configure and test an SSO connection first")
            })?;
        }
        // Read on every request (see `sso_gate`): the next one sees it.
        self.write_sso_required(org.id, required).await?;
        let detail = serde_json::json!({ "required": required });
        self.audit(principal, Some(org.id), "sso.required", &format!("org:{}", org.id), detail).await
    }

    async fn write_sso_required(&self, org_id: OrganizationId, required: bool) -> Result<()> {
        use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
        org::Entity::update_many()
            .col_expr(org::Column::SsoRequired, Expr::value(required))
            .filter(org::Column::Id.eq(org_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes the logins in flight (browser, loopback and device) that
    /// expired more than [`EXPIRED_LOGINS_KEPT`] ago. Every new login calls
    /// it, so the tables hold no more than the logins of that last stretch
    /// (which the anonymous endpoints' rate limits bound), with no
    /// background task to forget.
    pub(crate) async fn sweep_expired_logins(&self) -> Result<()> {
        use sea_orm::{ColumnTrait, QueryFilter};
        let horizon = Utc::now() - EXPIRED_LOGINS_KEPT;
        sso_login::Entity::delete_many().filter(sso_login::Column::ExpiresAt.lt(horizon)).exec(&self.db).await?;
        cli_login::Entity::delete_many().filter(cli_login::Column::ExpiresAt.lt(horizon)).exec(&self.db).await?;
        Ok(())
    }

    /// Seals again, with the current master key, the SSO client secrets an
    /// older master key sealed, so that key can leave the configuration.
    /// Logins in flight keep their PKCE verifier under the key that sealed
    /// it; they expire within ten minutes.
    pub(crate) async fn reseal_sso_client_secrets(&self) -> Result<()> {
        use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
        let stale = sso_connection::Entity::find()
            .filter(sso_connection::Column::ClientSecretKey.ne(self.sealer.sealing_key_id()))
            .all(&self.db)
            .await?;
        for row in stale {
            let org = row.org_id.to_string();
            let sealed = Sealed { key_id: row.client_secret_key.clone(), bytes: row.client_secret_sealed.clone() };
            let secret = self.sealer.open(Purpose::SsoClientSecret, &org, &sealed)?;
            let fresh = self.sealer.seal(Purpose::SsoClientSecret, &org, &secret)?;
            // Conditional: a replica that resealed it meanwhile wins, which is as good.
            sso_connection::Entity::update_many()
                .col_expr(sso_connection::Column::ClientSecretSealed, Expr::value(fresh.bytes))
                .col_expr(sso_connection::Column::ClientSecretKey, Expr::value(fresh.key_id))
                .filter(sso_connection::Column::OrgId.eq(row.org_id))
                .filter(sso_connection::Column::ClientSecretKey.eq(row.client_secret_key.clone()))
                .exec(&self.db)
                .await?;
            tracing::info!(org = %row.org_id, "SSO client secret sealed again with the current master key");
        }
        Ok(())
    }

    /// What the relying party fetched from identity providers so far.
    pub fn sso_fetch_counts(&self) -> strata_sso::oidc::FetchCounts {
        self.relying_party.fetch_counts()
    }

    /// The organisation's connection with its secret opened, for a login.
    pub(crate) async fn oidc_connection(&self, org_id: OrganizationId) -> Result<Connection> {
        let row = sso_connection::Entity::find_by_id(org_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| UserError::new(None, ErrorCode::NotFound, "this organisation has no SSO connection"))?;
        let sealed = Sealed { key_id: row.client_secret_key.clone(), bytes: row.client_secret_sealed.clone() };
        let secret = self.sealer.open(Purpose::SsoClientSecret, &org_id.to_string(), &sealed)?;
        let secret =
            String::from_utf8(secret).map_err(|_| HubError::Crypto("the SSO client secret is not text".into()))?;
        let public = connection_from(&row);
        Ok(Connection {
            issuer: public.issuer,
            client_id: public.client_id,
            client_secret: secret,
            scopes: public.scopes,
            claims: public.claims,
        })
    }

    /// The caller's own role in the organisation (uncapped), or `None`
    /// when they are not a member; `SSO_REQUIRED` when the organisation
    /// requires single sign-on and the caller's session did not come from it.
    /// Both statements run whether or not the caller is a member (or the
    /// organisation exists), so that the time taken tells nothing.
    pub(crate) async fn member_role(&self, principal: &Principal, org_id: OrganizationId) -> Result<Option<OrgRole>> {
        let member = membership::Entity::find_by_id((org_id, principal.user_id)).one(&self.db).await?;
        let org = org::Entity::find_by_id(org_id).one(&self.db).await?;
        let Some(member) = member else { return Ok(None) };
        let role: OrgRole = member.role.parse()?;
        if let Some(org) = org {
            sso_gate(principal, &org, role)?;
        }
        Ok(Some(role))
    }
}

/// Refuses a member's session that the organisation's SSO requirement
/// does not accept. Owners pass (break-glass: an IdP outage must not lock
/// the organisation out; their logins are in the audit log), and so do API
/// tokens, which are capped and revocable on their own.
pub(crate) fn sso_gate(principal: &Principal, org: &org::Model, role: OrgRole) -> Result<()> {
    if !org.sso_required || role == OrgRole::Owner {
        return Ok(());
    }
    match principal.credential {
        Credential::ApiToken { .. } => Ok(()),
        Credential::Session { .. } if principal.sso_org_id == Some(org.id) => Ok(()),
        Credential::Session { .. } => Err(UserError::new(
            None,
            ErrorCode::SsoRequired,
            format!(
                "organisation `{}` requires single sign-on: log in with your identity provider \
                 (`strata auth login --sso`, or \"Log in with SSO\" in the console)",
                org.slug
            ),
        )
        .into()),
    }
}
