//! Random secrets handed to people (API tokens, refresh tokens, email links)
//! and the hashes the hub keeps instead of them.
//!
//! The secrets carry 256 random bits, so a fast keyed hash is enough: there
//! is nothing to brute-force, unlike a password. The key is fixed per
//! purpose so that a hash from one table cannot be replayed in another.

use rand::RngCore;

/// What a secret is for; part of the hash key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    ApiToken,
    Refresh,
    EmailLink,
    Invitation,
    /// The `state` of a login sent to an identity provider.
    SsoState,
    /// The cookie that binds such a login to the browser that started it.
    SsoBrowser,
    /// A one-time code handing a login to the CLI (loopback or device).
    CliLogin,
    ScimToken,
}

impl Purpose {
    fn context(self) -> &'static str {
        match self {
            Purpose::ApiToken => "strata 2026 api token",
            Purpose::Refresh => "strata 2026 refresh token",
            Purpose::EmailLink => "strata 2026 email link",
            Purpose::Invitation => "strata 2026 invitation",
            Purpose::SsoState => "strata 2026 sso state",
            Purpose::SsoBrowser => "strata 2026 sso browser binding",
            Purpose::CliLogin => "strata 2026 cli login code",
            Purpose::ScimToken => "strata 2026 scim token",
        }
    }
}

/// Prefix of API tokens, so that secret scanners (and people) recognise them.
pub const API_TOKEN_PREFIX: &str = "stp_";

/// Prefix of SCIM tokens (one per organisation, for its identity provider).
pub const SCIM_TOKEN_PREFIX: &str = "sts_";

/// 32 random bytes as 64 lower-case hex characters.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The stored form of a secret.
pub(crate) fn hash(purpose: Purpose, secret: &str) -> String {
    let mut hasher = blake3::Hasher::new_derive_key(purpose.context());
    hasher.update(secret.as_bytes());
    hasher.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed_per_purpose() {
        let a = random_secret();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_secret());
        assert_ne!(hash(Purpose::ApiToken, &a), hash(Purpose::Refresh, &a));
        assert_eq!(hash(Purpose::ApiToken, &a), hash(Purpose::ApiToken, &a));
        assert!(!hash(Purpose::ApiToken, &a).contains(&a));
    }
}
