use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in this crate.
///
/// Errors that come back from the helper process carry their cause as text (`message`),
/// because it crossed a process boundary; the same variants are used in scratch mode so
/// that callers see one set of errors whatever the isolation.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// An isolation mode that is not `auto`, `namespace` or `scratch`.
    #[error("unknown isolation mode {value:?} (expected auto, namespace or scratch)")]
    InvalidMode { value: String },

    /// The pipeline's image cannot be pulled.
    #[error("cannot pull the image `{image}`: {reason}")]
    ImagePull { image: String, reason: String },

    /// A secret file the container cannot be given at that path.
    #[error("cannot mount a secret at {path:?}: {reason}")]
    SecretPath { path: String, reason: String },

    /// A `runner` setting that is not one of the runners.
    #[error("invalid runner {value:?}: use process, container or auto")]
    InvalidRunner { value: String },

    /// A pipeline user a container cannot run user code as.
    #[error("cannot run user code as uid {uid}: {reason}")]
    InvalidUser { uid: u32, reason: String },

    /// An input name that cannot be a directory directly under `/pfs`.
    #[error("invalid input name {name:?}: {reason}")]
    InvalidInputName { name: String, reason: &'static str },

    /// The datum's command has no program.
    #[error("the datum's command is empty")]
    EmptyCommand,

    /// The datum's root has no directory for an input.
    #[error("input {name:?} has no directory at {}", path.display())]
    MissingInput { name: String, path: PathBuf },

    /// The program does not exist (or is not in `PATH`).
    #[error("command not found: {program}")]
    CommandNotFound { program: String },

    /// The program exists but could not be started (e.g. permission denied).
    #[error("cannot start {program}: {message}")]
    Spawn { program: String, message: String },

    /// The requested working directory cannot be used.
    #[error("cannot use working directory {}: {message}", path.display())]
    Workdir { path: PathBuf, message: String },

    /// The datum's log file cannot be opened for appending.
    #[error("cannot open the datum log {}: {message}", path.display())]
    Log { path: PathBuf, message: String },

    /// A datum path (its root, `out/`) is not usable.
    #[error("cannot prepare {}: {message}", path.display())]
    Prepare { path: PathBuf, message: String },

    /// Mounting or unmounting under `/pfs` failed in the helper.
    #[error("cannot mount {}: {message}", target.display())]
    Mount { target: PathBuf, message: String },

    /// The helper started but could not make its namespace.
    #[error("mount namespaces are unavailable: {reason}")]
    NamespaceUnavailable { reason: String },

    /// User code must run confined and this sandbox cannot confine it (see
    /// [`crate::Sandbox::refusing`]).
    #[error(
        "refusing to run user code unconfined: {reason}. Workers of provisioned workspaces run user code \
         only as an unprivileged uid in private mount and network namespaces: run the worker as root on Linux \
         with namespaces available (`strata worker --isolation namespace`)"
    )]
    Unconfined { reason: String },

    /// The helper program could not be started at all.
    #[error("cannot start the sandbox helper {}", program.display())]
    HelperStart {
        program: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The helper exited; the next run starts a new one.
    #[error("the sandbox helper exited ({status}); the next run starts a new one")]
    HelperDied { status: String },

    /// The helper answered something this crate does not understand, or failed inside.
    #[error("the sandbox helper failed: {message}")]
    Protocol { message: String },

    /// Waiting for or talking to a process failed.
    #[error("{what}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

impl SandboxError {
    /// Whether the datum's command or the pipeline's spec is at fault (log it into the
    /// datum's log and fail the datum) rather than the sandbox or the worker (retry the
    /// datum, report the worker).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            SandboxError::InvalidInputName { .. }
                | SandboxError::InvalidUser { .. }
                | SandboxError::SecretPath { .. }
                | SandboxError::EmptyCommand
                | SandboxError::CommandNotFound { .. }
                | SandboxError::Spawn { .. }
                | SandboxError::Workdir { .. }
        )
    }
}
