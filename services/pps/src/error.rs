//! The error type of PPS. Each failure names its [`ErrorCode`]; the HTTP
//! edge (`http.rs`, through `strata_http`) turns that into an answer.

use strata_api_types::ErrorCode;
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
    pub fn code(&self) -> ErrorCode {
        match self {
            PpsError::Spec(_) => ErrorCode::InvalidSpec,
            PpsError::NotFound { .. } => ErrorCode::NotFound,
            PpsError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            PpsError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            PpsError::Conflict(_) => ErrorCode::Conflict,
            PpsError::Gone(_) => ErrorCode::Gone,
            PpsError::Timeout(_) => ErrorCode::Timeout,
            PpsError::TooLarge(_) => ErrorCode::PayloadTooLarge,
            PpsError::Busy(_) => ErrorCode::Busy,
            PpsError::Stopping => ErrorCode::ServerStopping,
            PpsError::Pfs(inner) => inner.code(),
            PpsError::Queue(_) | PpsError::ObjectStore { .. } => ErrorCode::StorageUnavailable,
            PpsError::Corrupted { .. } => ErrorCode::DataCorrupted,
            PpsError::Database(_) | PpsError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Whether the message is safe to show in full even for a server
    /// failure: it says what is unavailable, not how the server is built.
    pub fn message_is_public(&self) -> bool {
        match self {
            PpsError::Pfs(inner) => inner.message_is_public(),
            // Corruption is the user's data: say which row.
            PpsError::Queue(_)
            | PpsError::ObjectStore { .. }
            | PpsError::Busy(_)
            | PpsError::Stopping
            | PpsError::Corrupted { .. } => true,
            other => !other.code().is_server_error(),
        }
    }
}
