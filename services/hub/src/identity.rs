//! People and how they prove who they are: sign-up, email verification,
//! password login and reset, refresh sessions, and turning a bearer token
//! (an access JWT or an API token) into a [`Principal`].

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Argon2, Params};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use strata_core::id::{OrganizationId, UserId};
use uuid::Uuid;

use crate::entities::{api_token, email_token, session, user};
use strata_api_types::ErrorCode;

use crate::error::{HubError, Result, UserError};
use crate::mailer::Mail;
use crate::roles::{Credential, Principal};
use crate::secrets::{self, API_TOKEN_PREFIX, Purpose};
use crate::{Hub, validate};

/// API tokens record when they were last used, at most this often (a write
/// per request would cost more than the request).
const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

/// A person with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

/// What a sign-up form sends.
#[derive(Debug, Clone)]
pub struct SignUp {
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
}

/// What a login hands out: a short-lived access token and the refresh
/// token that gets the next one (the web keeps it in an HttpOnly cookie).
#[derive(Clone)]
pub struct Tokens {
    pub user: User,
    pub session_id: Uuid,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("user", &self.user.id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// A login session, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Argon2id with the OWASP-recommended minimum (19 MiB, 2 passes).
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HubError::Crypto(format!("cannot hash a password: {e}")))
}

/// [`hash_password`] on the blocking pool: argon2id takes 19 MiB and tens of
/// milliseconds, which would hold up every other request of this runtime
/// thread.
async fn hash_password_off_runtime(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| HubError::Crypto(format!("password hashing stopped: {e}")))?
}

/// Verified against when the email is unknown, so that a login for a
/// missing account takes as long as one with a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not a real password, only spent time").unwrap_or_default());

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| hasher().verify_password(password.as_bytes(), &parsed).is_ok())
}

fn user_from(row: user::Model) -> User {
    User {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        email_verified: row.email_verified_at.is_some(),
        created_at: row.created_at,
    }
}

fn bad_login() -> HubError {
    HubError::User(UserError::unauthenticated("wrong email or password"))
}

impl Hub {
    /// Creates an account and mails the verification link; `None` when the
    /// email has an account already. Then its owner is mailed instead (a
    /// fresh verification link if it was never confirmed), so the caller's
    /// answer never says whether an address has an account. Both paths hash
    /// the password, so they take about as long.
    pub async fn sign_up(&self, form: SignUp) -> Result<Option<User>> {
        let email = validate::email(&form.email)?;
        validate::new_password(&form.password, &email)?;
        let display_name = match form.display_name.as_deref() {
            Some(name) if !name.trim().is_empty() => validate::name("displayName", name)?,
            _ => email.split('@').next().unwrap_or_default().to_owned(),
        };
        let password_hash = hash_password_off_runtime(&form.password).await?;
        if let Some(existing) = user::Entity::find().filter(user::Column::Email.eq(&email)).one(&self.db).await? {
            self.mail_existing_owner(user_from(existing)).await?;
            return Ok(None);
        }
        let now = Utc::now();
        let row = user::ActiveModel {
            id: Set(UserId::new()),
            email: Set(email.clone()),
            display_name: Set(display_name),
            password_hash: Set(Some(password_hash)),
            email_verified_at: Set(None),
            created_at: Set(now),
            deleted_at: Set(None),
        };
        let row = match user::Entity::insert(row).exec_with_returning(&self.db).await {
            Ok(row) => row,
            // Two sign-ups racing for one email: the unique index decides, and
            // the loser is answered like any sign-up with a taken email.
            Err(error) if is_unique_violation(&error) => {
                if let Some(existing) =
                    user::Entity::find().filter(user::Column::Email.eq(&email)).one(&self.db).await?
                {
                    self.mail_existing_owner(user_from(existing)).await?;
                }
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        let user = user_from(row);
        self.send_email_link(&user, "verify", "verify-email", "Confirm your email for Strata").await?;
        self.audit_anonymous("user.sign_up", &format!("user:{}", user.id), None).await?;
        Ok(Some(user))
    }

    /// Tells the owner of `user`'s address that someone signed up with it.
    async fn mail_existing_owner(&self, user: User) -> Result<()> {
        self.audit_anonymous("user.sign_up_existing", &format!("user:{}", user.id), None).await?;
        if !user.email_verified {
            return self.send_email_link(&user, "verify", "verify-email", "Confirm your email for Strata").await;
        }
        let base = self.settings.public_url.trim_end_matches('/');
        let body = format!(
            "Hello {},\n\nsomeone, perhaps you, tried to create a Strata account with this address. You have one \
             already: log in at {base}/login, or choose a new password at {base}/reset-password.\n\n\
             If it was not you, ignore this message; nothing was changed.\n",
            user.display_name
        );
        let subject = "You already have a Strata account".to_owned();
        self.mailer.send(Mail { to: user.email, subject, body, link: Some(format!("{base}/login")) }).await
    }

    /// Creates an account that is verified already: the local admin of
    /// `strata dev`, and operators' bootstrap scripts.
    pub async fn create_verified_user(&self, email: &str, password: &str) -> Result<User> {
        let email = validate::email(email)?;
        validate::new_password(password, &email)?;
        let password_hash = hash_password_off_runtime(password).await?;
        let now = Utc::now();
        let row = user::ActiveModel {
            id: Set(UserId::new()),
            email: Set(email.clone()),
            display_name: Set(email.split('@').next().unwrap_or_default().to_owned()),
            password_hash: Set(Some(password_hash)),
            email_verified_at: Set(Some(now)),
            created_at: Set(now),
            deleted_at: Set(None),
        };
        Ok(user_from(user::Entity::insert(row).exec_with_returning(&self.db).await?))
    }

    /// The account with this email, if any.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = validate::email(email)?;
        let row = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .filter(user::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?;
        Ok(row.map(user_from))
    }

    /// Stores a new single-use link for `user` and returns its URL.
    async fn new_link(&self, user: &User, purpose: &str, page: &str) -> Result<String> {
        let secret = secrets::random_secret();
        let now = Utc::now();
        email_token::Entity::insert(email_token::ActiveModel {
            token_hash: Set(secrets::hash(Purpose::EmailLink, &secret)),
            user_id: Set(user.id),
            purpose: Set(purpose.to_owned()),
            expires_at: Set(now + self.settings.email_link_ttl),
            used_at: Set(None),
            created_at: Set(now),
        })
        .exec(&self.db)
        .await?;
        Ok(self.link(page, &secret))
    }

    async fn send_email_link(&self, user: &User, purpose: &str, page: &str, subject: &str) -> Result<()> {
        let link = self.new_link(user, purpose, page).await?;
        let hours = self.settings.email_link_ttl.num_hours();
        let body = format!(
            "Hello {},\n\nopen this link within {hours} hours:\n\n{link}\n\nIf you did not ask for it, ignore this message.\n",
            user.display_name
        );
        self.mailer.send(Mail { to: user.email.clone(), subject: subject.to_owned(), body, link: Some(link) }).await
    }

    /// Spends a single-use email link; returns its user.
    async fn use_email_link(&self, purpose: &str, secret: &str) -> Result<UserId> {
        let hash = secrets::hash(Purpose::EmailLink, secret.trim());
        let now = Utc::now();
        let row = email_token::Entity::find_by_id(hash.clone()).one(&self.db).await?;
        let Some(row) = row.filter(|row| row.purpose == purpose) else {
            return Err(UserError::new(
                Some("token"),
                ErrorCode::NotFound,
                "this link is not valid; ask for a new one",
            )
            .into());
        };
        if row.used_at.is_some() || row.expires_at <= now {
            return Err(UserError::new(
                Some("token"),
                ErrorCode::Expired,
                "this link was used already or has expired; ask for a new one",
            )
            .into());
        }
        // Conditional update: of two concurrent uses, exactly one wins.
        let spent = email_token::Entity::update_many()
            .col_expr(email_token::Column::UsedAt, Expr::value(Some(now)))
            .filter(email_token::Column::TokenHash.eq(hash))
            .filter(email_token::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        if spent.rows_affected != 1 {
            return Err(UserError::new(
                Some("token"),
                ErrorCode::Expired,
                "this link was used already; ask for a new one",
            )
            .into());
        }
        Ok(row.user_id)
    }

    /// A single-use link that logs `user` in from a browser (`strata dev`
    /// prints one for its local administrator).
    pub async fn login_link_for(&self, user: &User) -> Result<String> {
        self.new_link(user, "login", "auth/link").await
    }

    /// Spends a login link and opens a session.
    pub async fn use_login_link(&self, token: &str) -> Result<Tokens> {
        let user_id = self.use_email_link("login", token).await?;
        let user = self.user(user_id).await?;
        let tokens = self.open_session(user).await?;
        self.audit_user("user.login_link", user_id, None, &format!("session:{}", tokens.session_id), None).await?;
        Ok(tokens)
    }

    /// Marks the email of the link's user as verified.
    pub async fn verify_email(&self, token: &str) -> Result<User> {
        let user_id = self.use_email_link("verify", token).await?;
        user::Entity::update_many()
            .col_expr(user::Column::EmailVerifiedAt, Expr::value(Some(Utc::now())))
            .filter(user::Column::Id.eq(user_id))
            .exec(&self.db)
            .await?;
        self.forget_user(user_id);
        let user = self.user(user_id).await?;
        self.audit_anonymous("user.verify_email", &format!("user:{}", user.id), None).await?;
        Ok(user)
    }

    /// Mails a reset link if the account exists; says the same either way,
    /// so the answer does not reveal who has an account.
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let Ok(email) = validate::email(email) else { return Ok(()) };
        if let Some(user) = self.user_by_email(&email).await? {
            self.send_email_link(&user, "reset", "reset-password", "Reset your Strata password").await?;
        }
        Ok(())
    }

    /// Sets a new password with a reset link and ends every session.
    pub async fn reset_password(&self, token: &str, password: &str) -> Result<User> {
        let user_id = self.use_email_link("reset", token).await?;
        let user = self.user(user_id).await?;
        validate::new_password(password, &user.email)?;
        let password_hash = hash_password_off_runtime(password).await?;
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(Some(password_hash)))
            // Reading the link proves the mailbox too.
            .col_expr(user::Column::EmailVerifiedAt, Expr::value(Some(Utc::now())))
            .filter(user::Column::Id.eq(user_id))
            .exec(&self.db)
            .await?;
        self.revoke_sessions_of(user_id).await?;
        self.audit_anonymous("user.reset_password", &format!("user:{user_id}"), None).await?;
        Ok(user)
    }

    /// Checks a password and opens a session.
    pub async fn log_in(&self, email: &str, password: &str, ip: Option<&str>) -> Result<Tokens> {
        validate::password_length(password)?;
        let row = match validate::email(email) {
            Ok(email) => {
                user::Entity::find()
                    .filter(user::Column::Email.eq(email))
                    .filter(user::Column::DeletedAt.is_null())
                    .one(&self.db)
                    .await?
            }
            Err(_) => None,
        };
        let stored = row.as_ref().and_then(|row| row.password_hash.clone());
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || match stored {
            Some(stored) => password_matches(&password, &stored),
            None => {
                let _ = password_matches(&password, &DUMMY_HASH);
                false
            }
        })
        .await
        .map_err(|e| HubError::Crypto(format!("password check stopped: {e}")))?;
        let Some(row) = row.filter(|_| matches) else {
            // What was typed, bounded: an attacker's megabyte "email" is not worth keeping.
            let typed: String = email.trim().to_lowercase().chars().take(254).collect();
            self.audit_anonymous("user.login_failed", &format!("email:{typed}"), ip).await?;
            return Err(bad_login());
        };
        let user = user_from(row);
        let tokens = self.open_session(user).await?;
        self.audit_user("user.login", tokens.user.id, None, &format!("session:{}", tokens.session_id), ip).await?;
        Ok(tokens)
    }

    /// Opens a session for an already authenticated user (password login,
    /// `strata dev`'s one-time link).
    pub async fn open_session(&self, user: User) -> Result<Tokens> {
        self.open_session_via(user, None).await
    }

    /// Opens a session; `sso_org` is the organisation whose identity
    /// provider authenticated the user, which organisations that require
    /// single sign-on look for.
    pub(crate) async fn open_session_via(&self, user: User, sso_org: Option<OrganizationId>) -> Result<Tokens> {
        let refresh = secrets::random_secret();
        let now = Utc::now();
        let id = Uuid::new_v4();
        let expires = now + self.settings.session_ttl;
        session::Entity::insert(session::ActiveModel {
            id: Set(id),
            user_id: Set(user.id),
            refresh_hash: Set(secrets::hash(Purpose::Refresh, &refresh)),
            previous_hash: Set(None),
            expires_at: Set(expires),
            revoked_at: Set(None),
            created_at: Set(now),
            last_used_at: Set(now),
            sso_org_id: Set(sso_org),
        })
        .exec(&self.db)
        .await?;
        let (access_token, access_expires_at) = self.keys.issue(user.id, id).await?;
        Ok(Tokens {
            user,
            session_id: id,
            access_token,
            access_expires_at,
            refresh_token: refresh,
            refresh_expires_at: expires,
        })
    }

    /// Trades a refresh token for new tokens; the old refresh token stops
    /// working. Presenting an already rotated one means it was copied: the
    /// whole session is revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let hash = secrets::hash(Purpose::Refresh, refresh_token.trim());
        let now = Utc::now();
        let expired = || HubError::User(UserError::unauthenticated("this session has ended; log in again"));
        let Some(row) = session::Entity::find().filter(session::Column::RefreshHash.eq(&hash)).one(&self.db).await?
        else {
            if let Some(stolen) =
                session::Entity::find().filter(session::Column::PreviousHash.eq(&hash)).one(&self.db).await?
            {
                tracing::warn!(session = %stolen.id, "a rotated refresh token was reused; revoking the session");
                self.revoke_session(stolen.id).await?;
                self.audit_user(
                    "session.reuse_detected",
                    stolen.user_id,
                    None,
                    &format!("session:{}", stolen.id),
                    None,
                )
                .await?;
            }
            return Err(expired());
        };
        if row.revoked_at.is_some() || row.expires_at <= now {
            return Err(expired());
        }
        let next = secrets::random_secret();
        let rotated = session::Entity::update_many()
            .col_expr(session::Column::PreviousHash, Expr::value(Some(hash.clone())))
            .col_expr(session::Column::RefreshHash, Expr::value(secrets::hash(Purpose::Refresh, &next)))
            .col_expr(session::Column::LastUsedAt, Expr::value(now))
            .filter(session::Column::Id.eq(row.id))
            .filter(session::Column::RefreshHash.eq(hash))
            .exec(&self.db)
            .await?;
        if rotated.rows_affected != 1 {
            return Err(expired());
        }
        let user = self.user(row.user_id).await?;
        let (access_token, access_expires_at) = self.keys.issue(user.id, row.id).await?;
        Ok(Tokens {
            user,
            session_id: row.id,
            access_token,
            access_expires_at,
            refresh_token: next,
            refresh_expires_at: row.expires_at,
        })
    }

    /// Ends a session: its refresh token and access tokens stop working.
    pub async fn revoke_session(&self, session_id: Uuid) -> Result<()> {
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Some(Utc::now())))
            .filter(session::Column::Id.eq(session_id))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        // After the write, so a concurrent request cannot cache the old state again.
        self.principals.forget(|p| p.credential == Credential::Session { session_id });
        Ok(())
    }

    /// Logs the caller out (their current session).
    pub async fn log_out(&self, principal: &Principal) -> Result<()> {
        if let Credential::Session { session_id } = principal.credential {
            self.revoke_session(session_id).await?;
            self.audit_user("user.logout", principal.user_id, None, &format!("session:{session_id}"), None).await?;
        }
        Ok(())
    }

    pub(crate) async fn revoke_sessions_of(&self, user_id: UserId) -> Result<()> {
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Some(Utc::now())))
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        self.forget_user(user_id);
        Ok(())
    }

    /// A user by id (deleted ones are not found).
    pub async fn user(&self, id: UserId) -> Result<User> {
        if let Some(user) = self.users.get(&id) {
            return Ok(user);
        }
        let user = user::Entity::find_by_id(id)
            .filter(user::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .map(user_from)
            .ok_or_else(|| HubError::User(UserError::not_found("user")))?;
        self.users.put(id, user.clone());
        Ok(user)
    }

    /// Deletes an account: it can no longer log in, and its sessions and
    /// API tokens stop working at once.
    pub async fn delete_user(&self, principal: &Principal) -> Result<()> {
        user::Entity::update_many()
            .col_expr(user::Column::DeletedAt, Expr::value(Some(Utc::now())))
            .filter(user::Column::Id.eq(principal.user_id))
            .exec(&self.db)
            .await?;
        self.revoke_sessions_of(principal.user_id).await?;
        self.audit_user("user.delete", principal.user_id, None, &format!("user:{}", principal.user_id), None).await
    }

    /// Turns a bearer token into the principal it stands for.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        let bearer = bearer.trim();
        let key = blake3::hash(bearer.as_bytes()).to_hex().to_string();
        if let Some(principal) = self.principals.get(&key) {
            return Ok(principal);
        }
        let principal = if bearer.starts_with(API_TOKEN_PREFIX) {
            self.authenticate_api_token(bearer).await?
        } else {
            self.authenticate_session(bearer).await?
        };
        self.principals.put(key, principal.clone());
        Ok(principal)
    }

    async fn authenticate_session(&self, bearer: &str) -> Result<Principal> {
        let claims = self.keys.verify(bearer).await?;
        let denied = || HubError::User(UserError::unauthenticated("access token is no longer valid; log in again"));
        let user_id: UserId = claims.sub.parse().map_err(|_| denied())?;
        let session_id = Uuid::parse_str(&claims.sid).map_err(|_| denied())?;
        let live = session::Entity::find_by_id(session_id)
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?;
        let Some(live) = live else { return Err(denied()) };
        let user = self.user(user_id).await.map_err(|_| denied())?;
        Ok(Principal {
            user_id,
            email: user.email,
            email_verified: user.email_verified,
            credential: Credential::Session { session_id },
            sso_org_id: live.sso_org_id,
            ip: None,
        })
    }

    async fn authenticate_api_token(&self, secret: &str) -> Result<Principal> {
        let denied =
            || HubError::User(UserError::unauthenticated("API token is not valid (revoked, expired or mistyped)"));
        let hash = secrets::hash(Purpose::ApiToken, secret);
        let now = Utc::now();
        let token = api_token::Entity::find()
            .filter(api_token::Column::SecretHash.eq(hash))
            .one(&self.db)
            .await?
            .filter(|token| token.revoked_at.is_none() && token.expires_at.is_none_or(|at| at > now))
            .ok_or_else(denied)?;
        let user = self.user(token.user_id).await.map_err(|_| denied())?;
        if token.last_used_at.is_none_or(|at| now - at > LAST_USED_GRANULARITY) {
            api_token::Entity::update_many()
                .col_expr(api_token::Column::LastUsedAt, Expr::value(Some(now)))
                .filter(api_token::Column::Id.eq(token.id))
                .exec(&self.db)
                .await?;
        }
        let role = token.role.parse().map_err(|_| denied())?;
        Ok(Principal {
            user_id: user.id,
            email: user.email,
            email_verified: user.email_verified,
            credential: Credential::ApiToken {
                token_id: token.id,
                org_id: token.org_id,
                workspace_id: token.workspace_id,
                role,
            },
            sso_org_id: None,
            ip: None,
        })
    }
}

/// True for a unique-index violation on either backend.
pub(crate) fn is_unique_violation(error: &sea_orm::DbErr) -> bool {
    matches!(error.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// Inserts `row` unless one with the same key (primary or unique) exists:
/// for rows two requests may add at once (two first logins, a login and a
/// SCIM call), where the other one's insert is the same outcome.
pub(crate) async fn insert_unless_present<A>(db: &sea_orm::DatabaseConnection, row: A) -> crate::Result<()>
where
    A: sea_orm::ActiveModelTrait,
{
    match A::Entity::insert(row).exec_without_returning(db).await {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("correct horse batterY", &hash));
        assert!(!password_matches("anything", "not a hash"));
    }

    /// On a one-thread runtime, other tasks run while a password is hashed:
    /// hashing inline would let the ticker run only after it finished.
    #[tokio::test(flavor = "current_thread")]
    async fn hashing_a_password_leaves_the_runtime_free() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let ticks = Arc::new(AtomicUsize::new(0));
        let counted = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        });
        let hash = hash_password_off_runtime("correct horse battery").await.unwrap();
        let during = ticks.load(Ordering::SeqCst);
        ticker.abort();
        assert!(during > 0, "the runtime did nothing else while the password was hashed");
        assert!(password_matches("correct horse battery", &hash));
    }
}
