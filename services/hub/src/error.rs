//! Errors of the hub. Expected failures (bad input, a taken slug, a missing
//! permission) are [`HubError::User`] and become GraphQL `userErrors`; the
//! rest are ours and are reported as internal errors without details.

use std::fmt;

use strata_api_types::ErrorCode;

/// An expected failure, about one input field (or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// The input field it concerns, e.g. `slug`; `None` for the whole request.
    pub field: Option<String>,
    /// Why, in the one vocabulary of codes every interface shares.
    pub code: ErrorCode,
    pub message: String,
}

impl UserError {
    pub fn new(field: Option<&str>, code: ErrorCode, message: impl Into<String>) -> Self {
        UserError { field: field.map(str::to_owned), code, message: message.into() }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        UserError::new(Some(field), ErrorCode::InvalidArgument, message)
    }

    /// The one answer for "does not exist" and "not yours to see".
    pub fn not_found(what: &str) -> Self {
        UserError::new(None, ErrorCode::NotFound, format!("no such {what}, or you do not have access to it"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        UserError::new(None, ErrorCode::Forbidden, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        UserError::new(None, ErrorCode::Unauthenticated, message)
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

    /// A failure of something the hub calls (the runtime, a task).
    #[error("{0}")]
    Internal(String),

    /// A workspace server's own failure, reached on a caller's behalf: its
    /// code and message are the server's answer, already safe to show
    /// (that server logged the cause under the request id in the message).
    #[error("workspace server: {message}")]
    Remote { code: ErrorCode, message: String },
}

impl HubError {
    /// True when the operator fixes it in the configuration (the master key).
    pub fn is_configuration_error(&self) -> bool {
        matches!(self, HubError::MasterKey { .. })
    }

    /// The code clients see for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            HubError::User(error) => error.code,
            HubError::Remote { code, .. } => *code,
            HubError::Corrupted { .. } => ErrorCode::DataCorrupted,
            _ => ErrorCode::Internal,
        }
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
