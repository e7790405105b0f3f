//! Errors of the provisioner.

/// Why a step of provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionerError {
    /// The control-plane database (through the hub) failed.
    #[error("control-plane database: {0}")]
    Hub(#[from] strata_hub::HubError),

    /// A backend could not bring a workspace to its desired state. `reason`
    /// is a CamelCase word for status conditions; `retryable` errors are
    /// tried again with backoff, the others mark the workspace FAILED.
    #[error("{message}")]
    Backend { reason: &'static str, message: String, retryable: bool },

    /// The provisioner's own configuration is unusable.
    #[error("{0}")]
    Config(String),
}

impl ProvisionerError {
    /// A failure worth retrying (a process that did not start, a server
    /// that did not answer).
    pub fn retryable(reason: &'static str, message: impl Into<String>) -> Self {
        ProvisionerError::Backend { reason, message: message.into(), retryable: true }
    }

    /// A failure retrying cannot fix (the configuration asks for something
    /// impossible).
    pub fn permanent(reason: &'static str, message: impl Into<String>) -> Self {
        ProvisionerError::Backend { reason, message: message.into(), retryable: false }
    }

    /// The CamelCase reason for status conditions.
    pub fn reason(&self) -> &'static str {
        match self {
            ProvisionerError::Hub(_) => "ControlPlaneError",
            ProvisionerError::Backend { reason, .. } => reason,
            ProvisionerError::Config(_) => "ConfigurationError",
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            ProvisionerError::Backend { retryable, .. } => *retryable,
            ProvisionerError::Hub(_) => true,
            ProvisionerError::Config(_) => false,
        }
    }
}

pub type Result<T, E = ProvisionerError> = std::result::Result<T, E>;
