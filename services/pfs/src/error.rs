//! The error type of PFS, with stable codes for the wire.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use strata_api_types::ErrorBody;

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
    pub fn code(&self) -> &'static str {
        match self {
            PfsError::NotFound { .. } => "NOT_FOUND",
            PfsError::InvalidArgument { .. } => "INVALID_ARGUMENT",
            PfsError::AlreadyExists { .. } => "ALREADY_EXISTS",
            PfsError::Conflict(_) => "CONFLICT",
            PfsError::Corrupted { .. } => "DATA_CORRUPTED",
            PfsError::ObjectStore { .. } => "STORAGE_UNAVAILABLE",
            PfsError::Upload(_) => "UPLOAD_INTERRUPTED",
            PfsError::Database(_) | PfsError::Internal(_) => "INTERNAL",
        }
    }
}

impl ResponseError for PfsError {
    fn status_code(&self) -> StatusCode {
        match self {
            PfsError::NotFound { .. } => StatusCode::NOT_FOUND,
            PfsError::InvalidArgument { .. } | PfsError::Upload(_) => StatusCode::BAD_REQUEST,
            PfsError::AlreadyExists { .. } | PfsError::Conflict(_) => StatusCode::CONFLICT,
            PfsError::ObjectStore { .. } => StatusCode::SERVICE_UNAVAILABLE,
            PfsError::Corrupted { .. } | PfsError::Database(_) | PfsError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = if status.is_server_error() {
            tracing::error!(error = %strata_core::error::display_chain(self), "PFS request failed");
            match self {
                // Corruption is the user's data: say which object.
                PfsError::Corrupted { .. } | PfsError::ObjectStore { .. } => self.to_string(),
                _ => "internal error; the server log has details".to_owned(),
            }
        } else {
            self.to_string()
        };
        HttpResponse::build(status).json(ErrorBody { code: self.code().to_owned(), message })
    }
}
