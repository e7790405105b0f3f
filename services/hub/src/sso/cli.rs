//! Handing a browser login to the CLI, two ways:
//!
//! - **Loopback** (RFC 8252): the CLI listens on 127.0.0.1, the browser
//!   signs in and is sent there with a one-time code, and the CLI trades the
//!   code and its PKCE verifier for tokens. The code alone is useless.
//! - **Device code** (RFC 8628), for machines without a browser: the CLI
//!   shows a short user code, the person approves it in any browser where
//!   they are logged in, and the CLI's polling then receives tokens.
//!
//! Either way the CLI's session remembers the organisation whose identity
//! provider the browser session came from.

use aws_lc_rs::digest;
use base64::Engine;
use chrono::{Duration, Utc};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use strata_api_types::ErrorCode;
use strata_core::id::{OrganizationId, UserId};

use crate::Hub;
use crate::entities::cli_login;
use crate::error::{HubError, Result, UserError};
use crate::identity::Tokens;
use crate::roles::{Credential, Principal};
use crate::secrets::{self, Purpose};

const LOOPBACK_TTL: Duration = Duration::minutes(2);
const DEVICE_TTL: Duration = Duration::minutes(10);
/// Letters people read and type without mistakes (no vowels: no words).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// What the CLI shows for a device login (RFC 8628 §3.2).
#[derive(Clone)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// `XXXX-XXXX`, as people type it.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization").field("user_code", &self.user_code).finish_non_exhaustive()
    }
}

/// The answer to one poll of a device login.
#[derive(Debug)]
pub enum DevicePoll {
    /// Not approved yet; poll again after the interval.
    Pending,
    /// Polled faster than the interval; wait longer.
    SlowDown,
    Approved(Box<Tokens>),
}

/// `XXXXXXXX` from whatever people type (case, dashes, spaces).
fn normalise_user_code(typed: &str) -> String {
    typed.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

fn new_user_code() -> String {
    let mut rng = rand::rng();
    (0..8).map(|_| char::from(USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())])).collect()
}

/// The S256 challenge of a PKCE verifier.
fn s256(verifier: &str) -> String {
    let hash = digest::digest(&digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_ref())
}

fn expired(message: &str) -> HubError {
    HubError::User(UserError::new(None, ErrorCode::Expired, message))
}

impl Hub {
    /// A one-time code for the CLI's loopback listener, bound to its PKCE challenge.
    pub(crate) async fn new_loopback_code(
        &self,
        user_id: UserId,
        sso_org: OrganizationId,
        challenge: &str,
    ) -> Result<String> {
        let code = secrets::random_secret();
        let now = Utc::now();
        self.sweep_expired_logins().await?;
        cli_login::Entity::insert(cli_login::ActiveModel {
            code_hash: Set(secrets::hash(Purpose::CliLogin, &code)),
            kind: Set("loopback".to_owned()),
            user_code: Set(None),
            challenge: Set(Some(challenge.to_owned())),
            user_id: Set(Some(user_id)),
            sso_org_id: Set(Some(sso_org)),
            expires_at: Set(now + LOOPBACK_TTL),
            approved_at: Set(Some(now)),
            used_at: Set(None),
            last_polled_at: Set(None),
            created_at: Set(now),
        })
        .exec(&self.db)
        .await?;
        Ok(code)
    }

    /// Trades a loopback code and the CLI's PKCE verifier for a session.
    pub async fn redeem_loopback_code(&self, code: &str, verifier: &str) -> Result<Tokens> {
        let hash = secrets::hash(Purpose::CliLogin, code.trim());
        let invalid = || {
            HubError::User(UserError::unauthenticated(
                "this login code is not valid; run `strata auth login --sso` again",
            ))
        };
        let row = cli_login::Entity::find_by_id(hash.clone())
            .one(&self.db)
            .await?
            .filter(|r| r.kind == "loopback")
            .ok_or_else(invalid)?;
        if row.challenge.as_deref() != Some(s256(verifier.trim()).as_str()) {
            return Err(invalid());
        }
        self.spend_cli_login(&hash, row.expires_at).await?;
        self.cli_session(&row).await
    }

    async fn spend_cli_login(&self, hash: &str, expires_at: chrono::DateTime<Utc>) -> Result<()> {
        let now = Utc::now();
        if expires_at <= now {
            return Err(expired("this login took too long; run `strata auth login` again"));
        }
        let spent = cli_login::Entity::update_many()
            .col_expr(cli_login::Column::UsedAt, Expr::value(Some(now)))
            .filter(cli_login::Column::CodeHash.eq(hash))
            .filter(cli_login::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        if spent.rows_affected != 1 {
            return Err(expired("this login code was used already; run `strata auth login` again"));
        }
        Ok(())
    }

    async fn cli_session(&self, row: &cli_login::Model) -> Result<Tokens> {
        let user_id = row.user_id.ok_or_else(|| expired("this login was not approved"))?;
        let user = self.user(user_id).await?;
        let tokens = self.open_session_via(user, row.sso_org_id).await?;
        self.audit_user("user.login_cli", user_id, row.sso_org_id, &format!("session:{}", tokens.session_id), None)
            .await?;
        Ok(tokens)
    }

    /// Starts a device login (RFC 8628).
    pub async fn start_device_login(&self) -> Result<DeviceAuthorization> {
        let device_code = secrets::random_secret();
        let user_code = new_user_code();
        let now = Utc::now();
        self.sweep_expired_logins().await?;
        cli_login::Entity::insert(cli_login::ActiveModel {
            code_hash: Set(secrets::hash(Purpose::CliLogin, &device_code)),
            kind: Set("device".to_owned()),
            user_code: Set(Some(user_code.clone())),
            challenge: Set(None),
            user_id: Set(None),
            sso_org_id: Set(None),
            expires_at: Set(now + DEVICE_TTL),
            approved_at: Set(None),
            used_at: Set(None),
            last_polled_at: Set(None),
            created_at: Set(now),
        })
        .exec(&self.db)
        .await?;
        let base = self.settings.public_url.trim_end_matches('/');
        let shown = format!("{}-{}", &user_code[..4], &user_code[4..]);
        Ok(DeviceAuthorization {
            device_code,
            verification_uri: format!("{base}/device"),
            verification_uri_complete: format!("{base}/device?code={shown}"),
            user_code: shown,
            expires_in: DEVICE_TTL.num_seconds(),
            interval: self.settings.device_poll_interval.num_seconds().max(1),
        })
    }

    /// Approves a device login for the caller's own (browser) session; the
    /// CLI gets a session of the same person, from the same identity provider.
    pub async fn approve_device_login(&self, principal: &Principal, typed: &str) -> Result<()> {
        if !matches!(principal.credential, Credential::Session { .. }) {
            return Err(
                UserError::forbidden("approve device logins from a browser session, not with an API token").into()
            );
        }
        let code = normalise_user_code(typed);
        let unknown = || {
            HubError::User(UserError::new(
                Some("userCode"),
                ErrorCode::NotFound,
                "no login waits for this code; check it and try again",
            ))
        };
        let row = cli_login::Entity::find()
            .filter(cli_login::Column::UserCode.eq(code))
            .filter(cli_login::Column::Kind.eq("device"))
            .one(&self.db)
            .await?
            .ok_or_else(unknown)?;
        if row.expires_at <= Utc::now() || row.approved_at.is_some() {
            return Err(unknown());
        }
        let approved = cli_login::Entity::update_many()
            .col_expr(cli_login::Column::UserId, Expr::value(Some(principal.user_id)))
            .col_expr(cli_login::Column::SsoOrgId, Expr::value(principal.sso_org_id))
            .col_expr(cli_login::Column::ApprovedAt, Expr::value(Some(Utc::now())))
            .filter(cli_login::Column::CodeHash.eq(row.code_hash.clone()))
            .filter(cli_login::Column::ApprovedAt.is_null())
            .exec(&self.db)
            .await?;
        if approved.rows_affected != 1 {
            return Err(unknown());
        }
        self.audit(
            principal,
            principal.sso_org_id,
            "user.device_approved",
            &format!("user:{}", principal.user_id),
            serde_json::Value::Null,
        )
        .await
    }

    /// One poll of a device login by the CLI.
    pub async fn poll_device_login(&self, device_code: &str) -> Result<DevicePoll> {
        let hash = secrets::hash(Purpose::CliLogin, device_code.trim());
        let row = cli_login::Entity::find_by_id(hash.clone())
            .one(&self.db)
            .await?
            .filter(|r| r.kind == "device")
            .ok_or_else(|| {
                HubError::User(UserError::unauthenticated(
                    "unknown device code; run `strata auth login --device` again",
                ))
            })?;
        let now = Utc::now();
        if row.expires_at <= now {
            return Err(expired("the code expired before it was approved; run `strata auth login --device` again"));
        }
        let too_soon = row.last_polled_at.is_some_and(|at| now - at < self.settings.device_poll_interval);
        cli_login::Entity::update_many()
            .col_expr(cli_login::Column::LastPolledAt, Expr::value(Some(now)))
            .filter(cli_login::Column::CodeHash.eq(hash.clone()))
            .exec(&self.db)
            .await?;
        if row.approved_at.is_none() {
            return Ok(if too_soon { DevicePoll::SlowDown } else { DevicePoll::Pending });
        }
        self.spend_cli_login(&hash, row.expires_at).await?;
        Ok(DevicePoll::Approved(Box::new(self.cli_session(&row).await?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_readable_and_typed_forms_normalise() {
        let code = new_user_code();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
        assert_eq!(normalise_user_code(" bcdf-ghjk "), "BCDFGHJK");
    }

    #[test]
    fn the_s256_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
