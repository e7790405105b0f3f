//! Errors of the hub. Expected failures (bad input, a taken slug, a missing
//! permission) are [`HubError::User`] and become GraphQL `userErrors`; the
//! rest are ours and are reported as internal errors without details.

use std::fmt;

/// The machine-readable kind of an expected failure, stable for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserErrorCode {
    /// The value is malformed or out of range.
    Invalid,
    /// Another object already has this unique value (a slug, an email).
    Taken,
    /// Nothing of that name exists, or the caller may not know that it does.
    /// Denials on other tenants' objects use this code too, so that nothing
    /// can be inferred from the answer.
    NotFound,
    /// The caller can see the object but may not do this to it.
    Forbidden,
    /// Credentials are missing, wrong, expired or revoked.
    Unauthenticated,
    /// A link or invitation is past its expiry or already used.
    Expired,
    /// The organisation would be left without an owner.
    LastOwner,
    /// The password is too weak or too common.
    WeakPassword,
    /// The confirmation typed back does not match.
    ConfirmationMismatch,
    /// Too many attempts; try again later.
    RateLimited,
    /// The organisation's plan allows no more (the message names the limit
    /// and the plan).
    QuotaExceeded,
}

impl UserErrorCode {
    /// The code as clients see it, e.g. `TAKEN`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserErrorCode::Invalid => "INVALID",
            UserErrorCode::Taken => "TAKEN",
            UserErrorCode::NotFound => "NOT_FOUND",
            UserErrorCode::Forbidden => "FORBIDDEN",
            UserErrorCode::Unauthenticated => "UNAUTHENTICATED",
            UserErrorCode::Expired => "EXPIRED",
            UserErrorCode::LastOwner => "LAST_OWNER",
            UserErrorCode::WeakPassword => "WEAK_PASSWORD",
            UserErrorCode::ConfirmationMismatch => "CONFIRMATION_MISMATCH",
            UserErrorCode::RateLimited => "RATE_LIMITED",
            UserErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
        }
    }
}

impl fmt::Display for UserErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An expected failure, about one input field (or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// The input field it concerns, e.g. `slug`; `None` for the whole request.
    pub field: Option<String>,
    pub code: UserErrorCode,
    pub message: String,
}

impl UserError {
    pub fn new(field: Option<&str>, code: UserErrorCode, message: impl Into<String>) -> Self {
        UserError { field: field.map(str::to_owned), code, message: message.into() }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        UserError::new(Some(field), UserErrorCode::Invalid, message)
    }

    /// The one answer for "does not exist" and "not yours to see".
    pub fn not_found(what: &str) -> Self {
        UserError::new(None, UserErrorCode::NotFound, format!("no such {what}, or you do not have access to it"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        UserError::new(None, UserErrorCode::Forbidden, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        UserError::new(None, UserErrorCode::Unauthenticated, message)
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Everything the hub can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The caller can fix it; safe to show.
    #[error("{0}")]
    User(UserError),

    #[error("database query failed")]
    Database(#[from] sea_orm::DbErr),

    #[error("cryptography failed: {0}")]
    Crypto(String),

    /// A value encrypted at rest does not open with the configured master
    /// keys: a wrong or missing key, or a tampered row. The operator fixes
    /// it in the configuration, so the message names the setting (never a key).
    #[error("{what} cannot be decrypted: {reason}; check `{setting}` (the master key)")]
    MasterKey { what: String, setting: &'static str, reason: String },

    /// A stored value does not read back: a damaged row, or one no version
    /// of Strata wrote. No default stands in for it; a person must look at
    /// the row the message names.
    #[error("the stored row {key} of {table} is corrupt: its `{column}` does not read back")]
    Corrupted {
        table: &'static str,
        key: String,
        column: &'static str,
        #[source]
        source: serde_json::Error,
    },

    #[error("cannot deliver an email: {0}")]
    Mail(String),

    /// A setting the hub was opened with is wrong; the message names it.
    #[error("configuration: {0}")]
    Config(String),

    /// A failure of something the hub calls (a workspace server, the runtime).
    #[error("{0}")]
    Internal(String),
}

impl HubError {
    /// True when the operator fixes it in the configuration (the master key).
    pub fn is_configuration_error(&self) -> bool {
        matches!(self, HubError::MasterKey { .. })
    }

    /// The user error inside, if this is one.
    pub fn user_error(&self) -> Option<&UserError> {
        match self {
            HubError::User(error) => Some(error),
            _ => None,
        }
    }
}

impl From<UserError> for HubError {
    fn from(error: UserError) -> Self {
        HubError::User(error)
    }
}

pub type Result<T, E = HubError> = std::result::Result<T, E>;
