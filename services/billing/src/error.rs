//! The billing crate's errors.

use strata_api_types::ErrorCode;
use strata_hub::{HubError, UserError};

/// What can go wrong in billing.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The hub refused or failed.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The payment provider failed or answered something unusable; the
    /// message never holds a key.
    #[error("the payment provider failed: {0}")]
    Provider(String),
    /// A workspace's usage records could not be read.
    #[error("usage could not be read: {0}")]
    Usage(String),
    /// A webhook request that is not a verified event from the provider.
    #[error("webhook refused: {0}")]
    Webhook(String),
}

impl BillingError {
    /// A refusal the caller can act on, as a user error.
    pub(crate) fn user(field: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        BillingError::Hub(HubError::User(UserError::new(Some(field), code, message.into())))
    }
}

pub type Result<T, E = BillingError> = std::result::Result<T, E>;
