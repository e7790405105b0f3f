//! Encryption at rest of the secrets the hub must be able to read back:
//! its Ed25519 signing keys and the workspaces' service secrets (hashes
//! would not do: the hub signs with the one and forwards the other).
//!
//! Each value is sealed with AES-256-GCM under the master key from
//! configuration ([`strata_core::config::MasterKeys`]), with a fresh random
//! nonce, and with the row it belongs to as associated data, so a
//! ciphertext copied into another row (or another table) does not open. The
//! id of the master key that sealed it is stored beside it, so keys can be
//! rotated: any configured key opens what it sealed, the first one seals.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use strata_core::config::MasterKeys;

use crate::error::{HubError, Result};

/// What a sealed value is; part of its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `hub_signing_keys.private_sealed`, bound to the key's `kid`.
    SigningKey,
    /// `hub_workspaces.service_secret_sealed`, bound to the workspace id.
    ServiceSecret,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::SigningKey => "hub_signing_keys.private_sealed",
            Purpose::ServiceSecret => "hub_workspaces.service_secret_sealed",
        }
    }

    /// How errors name the value, e.g. "signing key k1a2b".
    fn describe(self, row: &str) -> String {
        match self {
            Purpose::SigningKey => format!("signing key {row}"),
            Purpose::ServiceSecret => format!("the service secret of workspace {row}"),
        }
    }
}

/// A sealed value as stored: `nonce || ciphertext || tag`, and the id of
/// the master key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

/// The configured master keys, ready to seal and open.
pub(crate) struct Sealer {
    /// `(id, key)`, the sealing key first.
    keys: Vec<(String, LessSafeKey)>,
    setting: &'static str,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Sealer").field("key_ids", &ids).finish_non_exhaustive()
    }
}

/// A key's id: a hash of the key under a fixed context, so the same key
/// always has the same id and the id tells nothing about the key.
fn key_id(key: &[u8]) -> String {
    let digest = blake3::derive_key("strata 2026 master key id", key);
    format!("mk_{}", hex::encode(&digest[..8]))
}

impl Sealer {
    pub fn new(master: &MasterKeys) -> Result<Sealer> {
        let keys = master
            .expose()
            .map(|bytes| {
                let unbound = UnboundKey::new(&AES_256_GCM, bytes)
                    .map_err(|_| HubError::Crypto("a master key is not 32 bytes".to_owned()))?;
                Ok((key_id(bytes), LessSafeKey::new(unbound)))
            })
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Err(HubError::Crypto("no master key is configured".to_owned()));
        }
        Ok(Sealer { keys, setting: master.setting(), random: SystemRandom::new() })
    }

    /// The id of the key that seals.
    pub fn sealing_key_id(&self) -> &str {
        &self.keys[0].0
    }

    fn aad(purpose: Purpose, row: &str, key_id: &str) -> Vec<u8> {
        format!("strata 2026 sealed\0{}\0{row}\0{key_id}", purpose.label()).into_bytes()
    }

    /// Encrypts `plaintext`, the value of `purpose` in the row `row`.
    pub fn seal(&self, purpose: Purpose, row: &str, plaintext: &[u8]) -> Result<Sealed> {
        let (key_id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| HubError::Crypto("no randomness for a nonce".to_owned()))?;
        let mut in_out = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(Self::aad(purpose, row, key_id)),
            &mut in_out,
        )
        .map_err(|_| HubError::Crypto(format!("cannot encrypt {}", purpose.describe(row))))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&in_out);
        Ok(Sealed { key_id: key_id.clone(), bytes })
    }

    /// Decrypts what [`Sealer::seal`] made for the same purpose and row.
    pub fn open(&self, purpose: Purpose, row: &str, sealed: &Sealed) -> Result<Vec<u8>> {
        let refuse =
            |reason: String| HubError::MasterKey { what: purpose.describe(row), setting: self.setting, reason };
        let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == sealed.key_id) else {
            let configured: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
            return Err(refuse(format!(
                "it was encrypted with master key {}, which is not configured (configured: {})",
                sealed.key_id,
                configured.join(", ")
            )));
        };
        if sealed.bytes.len() < NONCE_LEN {
            return Err(refuse("the stored value is truncated".to_owned()));
        }
        let (nonce, ciphertext) = sealed.bytes.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| refuse("the stored value is truncated".to_owned()))?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = key
            .open_in_place(nonce, Aad::from(Self::aad(purpose, row, &sealed.key_id)), &mut in_out)
            .map_err(|_| {
                refuse(format!(
                    "master key {} does not open it (the value was altered or copied from another row)",
                    sealed.key_id
                ))
            })?;
        Ok(plaintext.to_vec())
    }
}
