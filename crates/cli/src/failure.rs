//! How a failed command ends: one clear line on stderr and an exit code.

use std::process::ExitCode;

/// A failed command. The variant decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Something the user can fix: bad flags, configuration, input. Exit 1.
    User(anyhow::Error),
    /// The server or the environment failed. Exit 2.
    Internal(anyhow::Error),
}

impl Failure {
    /// Prints `error: <message chain>` to stderr and returns the exit code.
    #[allow(clippy::print_stderr, reason = "reporting the failure to the user is the point")]
    pub fn report(&self) -> ExitCode {
        let (error, code) = match self {
            Failure::User(error) => (error, 1),
            Failure::Internal(error) => (error, 2),
        };
        eprintln!("error: {error:#}");
        ExitCode::from(code)
    }
}

impl From<strata_api::Error> for Failure {
    fn from(error: strata_api::Error) -> Self {
        if error.is_user_error() { Failure::User(error.into()) } else { Failure::Internal(error.into()) }
    }
}

impl From<strata_core::Error> for Failure {
    fn from(error: strata_core::Error) -> Self {
        if error.is_user_error() { Failure::User(error.into()) } else { Failure::Internal(error.into()) }
    }
}

impl From<strata_client::ClientError> for Failure {
    fn from(error: strata_client::ClientError) -> Self {
        if error.is_user_error() { Failure::User(error.into()) } else { Failure::Internal(error.into()) }
    }
}

/// Marks an error as the user's to fix.
pub(crate) fn user(error: impl Into<anyhow::Error>) -> Failure {
    Failure::User(error.into())
}

/// Marks an error as ours or the environment's.
pub(crate) fn internal(error: impl Into<anyhow::Error>) -> Failure {
    Failure::Internal(error.into())
}
