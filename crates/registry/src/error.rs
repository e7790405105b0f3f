/// Why an image could not be pinned. No variant ever holds a credential.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{reference:?} is not an image reference: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("registry credentials: {reason}")]
    InvalidCredentials { reason: String },
    #[error("image {image} does not exist (no such repository or tag)")]
    NotFound { image: String },
    #[error("registry {registry} refused access{}", if *had_credentials { " with the credentials given" } else { "; name a pull secret in `image_pull_secrets`" })]
    Unauthorized { registry: String, had_credentials: bool },
    #[error("registry {registry} cannot be reached: {message}")]
    Unreachable { registry: String, message: String },
    #[error("registry {registry} gave an answer that is not the distribution API's: {message}")]
    Protocol { registry: String, message: String },
    #[error("cannot make an HTTP client: {0}")]
    Client(String),
}

impl RegistryError {
    /// Whether asking again later may succeed (the registry was down or
    /// busy), as opposed to an answer that will stay the same.
    pub fn is_transient(&self) -> bool {
        matches!(self, RegistryError::Unreachable { .. })
    }
}
