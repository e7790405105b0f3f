//! Encryption at rest of the secrets the hub must be able to read back:
//! its Ed25519 signing keys and the workspaces' service secrets (hashes
//! would not do: the hub signs with the one and forwards the other). The
//! cipher and key rotation are [`strata_core::sealing`]'s; this names what
//! is sealed and turns failures into hub errors.

use strata_core::master_key::MasterKeys;
use strata_core::sealing::{SealError, Sealer as CoreSealer};

use crate::error::{HubError, Result};

pub(crate) use strata_core::sealing::Sealed;

/// What a sealed value is; part of its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `hub_signing_keys.private_sealed`, bound to the key's `kid`.
    SigningKey,
    /// `hub_workspaces.service_secret_sealed`, bound to the workspace id.
    ServiceSecret,
    /// `hub_sso_connections.client_secret_sealed`, bound to the org id.
    SsoClientSecret,
    /// `hub_sso_logins.pkce_sealed`, bound to the login's state hash.
    SsoPkce,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::SigningKey => "hub_signing_keys.private_sealed",
            Purpose::ServiceSecret => "hub_workspaces.service_secret_sealed",
            Purpose::SsoClientSecret => "hub_sso_connections.client_secret_sealed",
            Purpose::SsoPkce => "hub_sso_logins.pkce_sealed",
        }
    }

    /// How errors name the value, e.g. "signing key k1a2b".
    fn describe(self, row: &str) -> String {
        match self {
            Purpose::SigningKey => format!("signing key {row}"),
            Purpose::ServiceSecret => format!("the service secret of workspace {row}"),
            Purpose::SsoClientSecret => format!("the SSO client secret of organisation {row}"),
            Purpose::SsoPkce => format!("the PKCE verifier of SSO login {row}"),
        }
    }
}

/// The configured master keys, ready to seal and open.
#[derive(Debug)]
pub(crate) struct Sealer(CoreSealer);

impl Sealer {
    pub fn new(master: &MasterKeys) -> Result<Sealer> {
        CoreSealer::new(master).map(Sealer).map_err(|e| HubError::Crypto(format!("master keys: {e}")))
    }

    /// The id of the key that seals.
    pub fn sealing_key_id(&self) -> &str {
        self.0.sealing_key_id()
    }

    /// Encrypts `plaintext`, the value of `purpose` in the row `row`.
    pub fn seal(&self, purpose: Purpose, row: &str, plaintext: &[u8]) -> Result<Sealed> {
        self.0
            .seal(purpose.label(), row, plaintext)
            .map_err(|e| HubError::Crypto(format!("{} for {}", e, purpose.describe(row))))
    }

    /// Decrypts what [`Sealer::seal`] made for the same purpose and row.
    pub fn open(&self, purpose: Purpose, row: &str, sealed: &Sealed) -> Result<Vec<u8>> {
        self.0.open(purpose.label(), row, sealed).map_err(|error| match error {
            SealError::Open(reason) => {
                HubError::MasterKey { what: purpose.describe(row), setting: self.0.setting(), reason }
            }
            other => HubError::Crypto(other.to_string()),
        })
    }
}
