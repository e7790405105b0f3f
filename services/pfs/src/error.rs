//! The error type of PFS. Each failure names its [`ErrorCode`]; the HTTP
//! edge (`http.rs`, through `strata_http`) turns that into an answer.

use strata_api_types::ErrorCode;

/// Everything a PFS operation can fail with. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum PfsError {
    /// A repo, branch, commit or file does not exist.
    #[error("{what} not found{hint}")]
    NotFound { what: String, hint: String },

    /// A name, path, reference or parameter is malformed.
    #[error("invalid {field}: {message}")]
    InvalidArgument { field: &'static str, message: String },

    /// Creating something that exists.
    #[error("{what} already exists")]
    AlreadyExists { what: String },

    /// The operation lost a race or conflicts with the current state
    /// (an open commit, a finished commit, dependants).
    #[error("{0}")]
    Conflict(String),

    /// A wait ran out of time; what was awaited may still happen.
    #[error("{0}")]
    Timeout(String),

    /// Stored data does not match its hash, or is missing.
    #[error("data corrupted: {object}: {reason}; run `strata fsck`")]
    Corrupted { object: String, reason: String },

    /// The object store failed.
    #[error("object store failed to {action} an object")]
    ObjectStore {
        action: &'static str,
        #[source]
        source: object_store::Error,
    },

    /// The metadata database failed.
    #[error("metadata database failed")]
    Database(#[from] sea_orm::DbErr),

    /// A request body was cut off or unreadable.
    #[error("upload interrupted: {0}; nothing was committed, retry the upload")]
    Upload(String),

    /// A write would take the workspace past its plan's storage.
    #[error("{0}")]
    QuotaExceeded(String),

    /// A bug or an impossible state.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PfsError {
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into(), hint: String::new() }
    }

    pub(crate) fn not_found_hint(what: impl Into<String>, hint: impl std::fmt::Display) -> Self {
        Self::NotFound { what: what.into(), hint: format!("; {hint}") }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument { field, message: message.into() }
    }

    /// The stable code clients match on (documented in docs/api-errors.md).
    pub fn code(&self) -> ErrorCode {
        match self {
            PfsError::NotFound { .. } => ErrorCode::NotFound,
            PfsError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            PfsError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            PfsError::Conflict(_) => ErrorCode::Conflict,
            PfsError::Timeout(_) => ErrorCode::Timeout,
            PfsError::Corrupted { .. } => ErrorCode::DataCorrupted,
            PfsError::ObjectStore { .. } => ErrorCode::StorageUnavailable,
            PfsError::Upload(_) => ErrorCode::UploadInterrupted,
            PfsError::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            PfsError::Database(_) | PfsError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Whether the message is safe to show in full even for a server
    /// failure: corruption and storage failures name the user's object.
    pub fn message_is_public(&self) -> bool {
        !self.code().is_server_error() || matches!(self, PfsError::Corrupted { .. } | PfsError::ObjectStore { .. })
    }
}
