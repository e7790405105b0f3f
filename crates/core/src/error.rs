//! The error type of `strata-core`.

use std::path::PathBuf;

/// Everything that can go wrong while setting up the shared foundations.
///
/// Variants separate *user* mistakes (bad configuration: exit code 1 in the
/// CLI) from failures of the environment (a database that does not answer).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is missing, unknown or invalid. `key` names it.
    #[error("invalid configuration: `{key}`: {message}")]
    Config { key: String, message: String },

    /// The data directory cannot be created or written.
    #[error("data directory {path} is not usable: {reason}; pass --data-dir with a writable directory")]
    DataDir { path: PathBuf, reason: String },

    /// The database could not be reached or migrated.
    #[error("database {url}: {message}")]
    Database {
        /// The URL with any password masked.
        url: String,
        message: String,
        #[source]
        source: Option<sea_orm::DbErr>,
    },

    /// The object store could not be opened.
    #[error("object store {url}: {message}")]
    ObjectStore {
        url: String,
        message: String,
        #[source]
        source: Option<object_store::Error>,
    },

    /// Telemetry (logs, traces, metrics) could not be set up.
    #[error("telemetry: {0}")]
    Telemetry(String),
}

impl Error {
    /// True when the error is the user's to fix (configuration, paths), as
    /// opposed to a failure of a service we depend on.
    pub fn is_user_error(&self) -> bool {
        matches!(self, Error::Config { .. } | Error::DataDir { .. })
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and all its sources, `: `-separated, for logs: the chain says
/// what failed and why in one line.
pub fn display_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
