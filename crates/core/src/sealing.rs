//! Encryption at rest of values Strata must read back (the hub's signing
//! keys and workspace service secrets, a workspace's pipeline secrets).
//!
//! Each value is sealed with AES-256-GCM under the first of a list of keys
//! ([`MasterKeys`]), with a fresh random nonce, and with what it is and the
//! row it belongs to as associated data, so a ciphertext copied into another
//! row (or another table) does not open. The id of the key that sealed it is
//! stored beside it, so keys can be rotated: any listed key opens what it
//! sealed, the first one seals.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::master_key::MasterKeys;

/// A sealed value as stored: `nonce || ciphertext || tag`, and the id of the
/// key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

/// Why a value could not be sealed or opened. Never holds a key or a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The keys cannot be used at all.
    #[error("{0}")]
    Keys(String),
    /// Encryption failed (no randomness).
    #[error("cannot encrypt: {0}")]
    Seal(String),
    /// The value does not open: a wrong or missing key, or a tampered row.
    #[error("{0}")]
    Open(String),
}

/// A list of keys, ready to seal and open.
pub struct Sealer {
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
    pub fn new(keys: &MasterKeys) -> Result<Sealer, SealError> {
        let keys_of = keys
            .expose()
            .map(|bytes| {
                let unbound = UnboundKey::new(&AES_256_GCM, bytes)
                    .map_err(|_| SealError::Keys("a key is not 32 bytes".into()))?;
                Ok((key_id(bytes), LessSafeKey::new(unbound)))
            })
            .collect::<Result<Vec<_>, SealError>>()?;
        if keys_of.is_empty() {
            return Err(SealError::Keys("no key is configured".into()));
        }
        Ok(Sealer { keys: keys_of, setting: keys.setting(), random: SystemRandom::new() })
    }

    /// The setting the keys come from, for errors that tell the operator what to fix.
    pub fn setting(&self) -> &'static str {
        self.setting
    }

    /// The id of the key that seals.
    pub fn sealing_key_id(&self) -> &str {
        &self.keys[0].0
    }

    fn aad(label: &str, row: &str, key_id: &str) -> Vec<u8> {
        format!("strata 2026 sealed\0{label}\0{row}\0{key_id}").into_bytes()
    }

    /// Encrypts `plaintext`, the value `label` (e.g. a table's column) of the row `row`.
    pub fn seal(&self, label: &str, row: &str, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let (key_id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| SealError::Seal("no randomness for a nonce".into()))?;
        let mut in_out = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(Self::aad(label, row, key_id)),
            &mut in_out,
        )
        .map_err(|_| SealError::Seal("AES-GCM refused".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&in_out);
        Ok(Sealed { key_id: key_id.clone(), bytes })
    }

    /// Decrypts what [`Sealer::seal`] made for the same label and row.
    pub fn open(&self, label: &str, row: &str, sealed: &Sealed) -> Result<Vec<u8>, SealError> {
        let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == sealed.key_id) else {
            let configured: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
            return Err(SealError::Open(format!(
                "it was encrypted with key {}, which is not configured (configured: {})",
                sealed.key_id,
                configured.join(", ")
            )));
        };
        let truncated = || SealError::Open("the stored value is truncated".into());
        if sealed.bytes.len() < NONCE_LEN {
            return Err(truncated());
        }
        let (nonce, ciphertext) = sealed.bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| truncated())?;
        let mut in_out = ciphertext.to_vec();
        let plaintext =
            key.open_in_place(nonce, Aad::from(Self::aad(label, row, &sealed.key_id)), &mut in_out).map_err(|_| {
                SealError::Open(format!(
                    "key {} does not open it (the value was altered or copied from another row)",
                    sealed.key_id
                ))
            })?;
        Ok(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_for_its_own_label_and_row_and_with_a_listed_key() {
        let keys = MasterKeys::generate();
        let sealer = Sealer::new(&keys).expect("keys");
        let sealed = sealer.seal("t.c", "row1", b"hunter2").expect("seal");
        assert!(!sealed.bytes.windows(7).any(|w| w == b"hunter2"), "not in clear");
        assert_eq!(sealer.open("t.c", "row1", &sealed).expect("open"), b"hunter2");
        assert!(matches!(sealer.open("t.c", "row2", &sealed), Err(SealError::Open(_))), "another row");
        assert!(matches!(sealer.open("t.d", "row1", &sealed), Err(SealError::Open(_))), "another column");
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.bytes.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(sealer.open("t.c", "row1", &tampered), Err(SealError::Open(_))));
        let other = Sealer::new(&MasterKeys::generate()).expect("keys");
        let error = other.open("t.c", "row1", &sealed).expect_err("another key");
        assert!(error.to_string().contains("not configured"), "{error}");
    }

    #[test]
    fn derived_keys_differ_per_context_and_follow_rotation() {
        let keys = MasterKeys::generate();
        let a = Sealer::new(&keys.derive("workspace a")).expect("keys");
        let b = Sealer::new(&keys.derive("workspace b")).expect("keys");
        let sealed = a.seal("t.c", "r", b"v").expect("seal");
        assert!(b.open("t.c", "r", &sealed).is_err(), "one workspace's key opens nothing of another's");
        assert_eq!(
            Sealer::new(&keys.derive("workspace a")).expect("keys").open("t.c", "r", &sealed).expect("open"),
            b"v"
        );
    }
}
