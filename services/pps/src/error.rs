//! The error type of PPS, with stable codes for the wire.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use strata_api_types::ErrorBody;
use strata_pfs::PfsError;
use strata_queue::QueueError;

use crate::spec::SpecError;

/// Everything a PPS operation can fail with. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum PpsError {
    /// The pipeline spec does not parse or is invalid; names the field.
    #[error("invalid pipeline spec: {0}")]
    Spec(#[from] SpecError),

    /// A pipeline, job, datum or task does not exist.
    #[error("{what} not found{hint}")]
    NotFound { what: String, hint: String },

    /// A parameter is malformed.
    #[error("invalid {field}: {message}")]
    InvalidArgument { field: &'static str, message: String },

    /// Creating something that exists.
    #[error("{what} already exists{hint}")]
    AlreadyExists { what: String, hint: String },

    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),

    /// A worker's task belongs to a job that is over.
    #[error("{0}")]
    Gone(String),

    /// A wait ran out of time; the thing waited for may still finish.
    #[error("{0}")]
    Timeout(String),

    /// The request is larger than the server accepts.
    #[error("{0}")]
    TooLarge(String),

    /// Too much of this kind of work is in progress; try again shortly.
    #[error("{0}")]
    Busy(String),

    /// The server is shutting down; a long wait ended early.
    #[error("the workspace server is stopping (deleted, suspended or restarting); try again shortly")]
    Stopping,

    /// The file system refused or failed.
    #[error(transparent)]
    Pfs(#[from] PfsError),

    /// The task queue failed.
    #[error("task queue unavailable: {0}")]
    Queue(#[from] QueueError),

    /// The object store failed.
    #[error("object store failed to {action} {key}")]
    ObjectStore {
        action: &'static str,
        key: String,
        #[source]
        source: object_store::Error,
    },

    /// A stored value does not read back: a damaged row, or one no version
    /// of Strata wrote. Nothing is decided on it (no default stands in for
    /// it); a person must look at the row the message names.
    #[error("the stored row {key} of {table} is corrupt: its `{column}` does not read back")]
    Corrupted {
        table: &'static str,
        key: String,
        column: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The metadata database failed.
    #[error("metadata database failed")]
    Database(#[from] sea_orm::DbErr),

    /// A bug or an impossible state.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PpsError {
    pub(crate) fn not_found(what: impl Into<String>, hint: impl std::fmt::Display) -> Self {
        let hint = hint.to_string();
        let hint = if hint.is_empty() { hint } else { format!("; {hint}") };
        Self::NotFound { what: what.into(), hint }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument { field, message: message.into() }
    }

    pub(crate) fn internal(message: impl std::fmt::Display) -> Self {
        Self::Internal(message.to_string())
    }

    /// The stable code clients match on (documented in docs/api-errors.md).
    pub fn code(&self) -> &'static str {
        match self {
            PpsError::Spec(_) => "INVALID_SPEC",
            PpsError::NotFound { .. } => "NOT_FOUND",
            PpsError::InvalidArgument { .. } => "INVALID_ARGUMENT",
            PpsError::AlreadyExists { .. } => "ALREADY_EXISTS",
            PpsError::Conflict(_) => "CONFLICT",
            PpsError::Gone(_) => "GONE",
            PpsError::Timeout(_) => "TIMEOUT",
            PpsError::TooLarge(_) => "PAYLOAD_TOO_LARGE",
            PpsError::Busy(_) => "BUSY",
            PpsError::Stopping => "SERVER_STOPPING",
            PpsError::Pfs(inner) => inner.code(),
            PpsError::Queue(_) | PpsError::ObjectStore { .. } => "STORAGE_UNAVAILABLE",
            PpsError::Corrupted { .. } => "DATA_CORRUPTED",
            PpsError::Database(_) | PpsError::Internal(_) => "INTERNAL",
        }
    }
}

impl ResponseError for PpsError {
    fn status_code(&self) -> StatusCode {
        match self {
            PpsError::Spec(_) | PpsError::InvalidArgument { .. } => StatusCode::BAD_REQUEST,
            PpsError::NotFound { .. } => StatusCode::NOT_FOUND,
            PpsError::AlreadyExists { .. } | PpsError::Conflict(_) => StatusCode::CONFLICT,
            PpsError::Gone(_) => StatusCode::GONE,
            PpsError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            PpsError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            PpsError::Pfs(inner) => inner.status_code(),
            PpsError::Stopping | PpsError::Busy(_) | PpsError::Queue(_) | PpsError::ObjectStore { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            PpsError::Corrupted { .. } | PpsError::Database(_) | PpsError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PpsError::Pfs(inner) = self {
            return inner.error_response();
        }
        let status = self.status_code();
        let message = if status.is_server_error() {
            tracing::error!(error = %strata_core::error::display_chain(self), "PPS request failed");
            match self {
                // Corruption is the user's data: say which row.
                PpsError::Queue(_) | PpsError::ObjectStore { .. } | PpsError::Busy(_) | PpsError::Corrupted { .. } => {
                    self.to_string()
                }
                _ => "internal error; the server log has details".to_owned(),
            }
        } else {
            self.to_string()
        };
        HttpResponse::build(status).json(ErrorBody { code: self.code().to_owned(), message })
    }
}
