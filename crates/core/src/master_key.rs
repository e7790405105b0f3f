//! The master key: what the hub encrypts its signing keys and the
//! workspaces' service secrets with before they reach the database
//! (docs/configuration.md#master-key).
//!
//! It comes from configuration only, never from the database: `master_key`
//! (in practice `STRATA_MASTER_KEY`) or `master_key_file`, default
//! `<data_dir>/keys/master.key`. Either holds one or more keys, each 32
//! random bytes in base64, separated by new lines or commas: the first
//! encrypts, the others only decrypt what they encrypted before (rotation).
//! The key bytes are never printed: `Debug` and every error leave them out.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use crate::error::{Error, Result};

/// Bytes of one key (AES-256).
pub const KEY_LEN: usize = 32;
/// The environment variable of `master_key`.
pub const MASTER_KEY_ENV: &str = "STRATA_MASTER_KEY";
/// The hint every error about the key's shape ends with.
const HOW_TO_MAKE: &str = "each key is 32 random bytes in base64, e.g. the output of `openssl rand -base64 32`";

/// Where the master key comes from.
#[derive(Clone)]
pub enum MasterKeySource {
    /// `master_key`: the keys themselves (usually from `STRATA_MASTER_KEY`).
    Value(SecretString),
    /// `master_key_file`: a file holding them. `explicit` is false for the
    /// default under the data directory, which `strata dev` may create.
    File { path: PathBuf, explicit: bool },
}

impl std::fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MasterKeySource::Value(_) => f.write_str("MasterKeySource::Value(***)"),
            MasterKeySource::File { path, explicit } => {
                f.debug_struct("MasterKeySource::File").field("path", path).field("explicit", explicit).finish()
            }
        }
    }
}

impl MasterKeySource {
    /// The configuration key that sets it, for errors.
    pub fn setting(&self) -> &'static str {
        match self {
            MasterKeySource::Value(_) => "master_key",
            MasterKeySource::File { .. } => "master_key_file",
        }
    }

    /// Reads and checks the keys. Errors name the setting (and the file),
    /// never a key.
    pub fn load(&self) -> Result<MasterKeys> {
        match self {
            MasterKeySource::Value(text) => MasterKeys::parse(text.expose_secret(), self.setting()),
            MasterKeySource::File { path, .. } => {
                let text = std::fs::read_to_string(path).map_err(|error| Error::Config {
                    key: self.setting().to_owned(),
                    message: format!(
                        "cannot read the master key file {} ({error}); {}, or set {MASTER_KEY_ENV}",
                        path.display(),
                        if error.kind() == std::io::ErrorKind::NotFound {
                            "create it with `openssl rand -base64 32 > FILE; chmod 600 FILE` (`strata dev` makes one on first start)"
                        } else {
                            "make it readable by the user running strata"
                        }
                    ),
                })?;
                warn_if_readable_by_others(path);
                MasterKeys::parse(&text, self.setting())
            }
        }
    }

    /// `strata dev`'s first start: makes the default key file when no key
    /// is configured and it does not exist yet. Returns whether it did.
    pub fn create_default_if_missing(&self) -> Result<bool> {
        match self {
            MasterKeySource::File { path, explicit: false } if !path.exists() => {
                create_key_file(path)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// A file's mode says whether other users of the machine could read it;
/// Kubernetes secret mounts are often 0644 inside the pod, so this warns
/// rather than refuses.
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", metadata.permissions().mode() & 0o777),
            "the master key file is readable by other users; `chmod 600` it"
        );
    }
}

/// Writes a fresh key to `path` (mode 0600) in a directory only its owner
/// may enter (0700). Fails if the file exists, so a key is never replaced.
pub fn create_key_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let unusable = |message: String| Error::Config { key: "master_key_file".to_owned(), message };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| unusable(format!("cannot create {} ({e})", dir.display())))?;
    }
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| unusable(format!("cannot create {} ({e})", path.display())))?;
    writeln!(file, "{}", STANDARD.encode(key))
        .and_then(|()| file.sync_all())
        .map_err(|e| unusable(format!("cannot write {} ({e})", path.display())))
}

/// The master keys, the one that encrypts first.
#[derive(Clone)]
pub struct MasterKeys {
    keys: Vec<SecretSlice<u8>>,
    setting: &'static str,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys").field("count", &self.keys.len()).field("setting", &self.setting).finish()
    }
}

impl MasterKeys {
    /// Parses keys separated by new lines, commas or spaces; lines starting
    /// with `#` are comments.
    pub fn parse(text: &str, setting: &'static str) -> Result<MasterKeys> {
        let invalid = |message: String| Error::Config { key: setting.to_owned(), message };
        let keys = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(|line| line.split([',', ' ', '\t']))
            .filter(|word| !word.is_empty())
            .enumerate()
            .map(|(index, word)| match STANDARD.decode(word) {
                Ok(bytes) if bytes.len() == KEY_LEN => Ok(SecretSlice::from(bytes)),
                _ => Err(invalid(format!("key {} of the list is not a valid master key; {HOW_TO_MAKE}", index + 1))),
            })
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Err(invalid(format!("holds no master key; {HOW_TO_MAKE}")));
        }
        Ok(MasterKeys { keys, setting })
    }

    /// One fresh random key (tests, and hubs that keep nothing encrypted).
    pub fn generate() -> MasterKeys {
        let mut key = vec![0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        MasterKeys { keys: vec![SecretSlice::from(key)], setting: "master_key" }
    }

    /// The keys, the one that encrypts first. Never log them.
    pub fn expose(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().map(ExposeSecret::expose_secret)
    }

    /// The setting they came from (`master_key` or `master_key_file`).
    pub fn setting(&self) -> &'static str {
        self.setting
    }

    /// Keys for one use, derived from each of these (BLAKE3's key
    /// derivation under `context`), in the same order: rotating the master
    /// keys rotates the derived ones, and no derived key reveals a master key
    /// or another context's key.
    pub fn derive(&self, context: &str) -> MasterKeys {
        let keys = self
            .expose()
            .map(|key| {
                let mut hasher = blake3::Hasher::new_derive_key("strata 2026 derived key");
                hasher.update(context.as_bytes());
                hasher.update(&[0]);
                hasher.update(key);
                SecretSlice::from(hasher.finalize().as_bytes().to_vec())
            })
            .collect();
        MasterKeys { keys, setting: self.setting }
    }

    /// The keys as a list `MasterKeys::parse` reads (to hand derived keys to
    /// a workspace server). Never log it.
    pub fn to_list(&self) -> String {
        self.expose().map(|key| STANDARD.encode(key)).collect::<Vec<_>>().join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_keys_puts_the_encrypting_one_first() {
        let (a, b) = (STANDARD.encode([1u8; 32]), STANDARD.encode([2u8; 32]));
        let keys = MasterKeys::parse(&format!("# current first\n{a}\n{b}\n"), "master_key_file").expect("valid");
        assert_eq!(keys.expose().collect::<Vec<_>>(), vec![&[1u8; 32][..], &[2u8; 32][..]]);
        assert_eq!(MasterKeys::parse(&format!("{a},{b}"), "master_key").expect("valid").expose().count(), 2);
    }

    #[test]
    fn a_bad_key_is_named_by_its_setting_and_never_shown() {
        let short = STANDARD.encode([7u8; 16]);
        for (text, expected) in [(short.as_str(), "key 1"), ("", "holds no master key"), ("not base64!", "key 1")] {
            let error = MasterKeys::parse(text, "master_key").expect_err(text).to_string();
            assert!(error.contains("`master_key`") && error.contains(expected), "{error}");
            assert!(text.is_empty() || !error.contains(text), "the value is not echoed: {error}");
        }
        let source = MasterKeySource::Value(SecretString::from(short.clone()));
        assert!(!format!("{source:?}").contains(&short));
    }

    #[test]
    fn the_default_key_file_is_made_once_and_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/master.key");
        let source = MasterKeySource::File { path: path.clone(), explicit: false };
        assert!(source.create_default_if_missing().expect("made"));
        let first = source.load().expect("loads");
        assert!(!source.create_default_if_missing().expect("kept"), "an existing key is reused");
        assert_eq!(source.load().expect("loads").expose().next(), first.expose().next());
        assert_eq!(std::fs::metadata(&path).expect("file").permissions().mode() & 0o777, 0o600);
        let parent = path.parent().expect("dir");
        assert_eq!(std::fs::metadata(parent).expect("dir").permissions().mode() & 0o777, 0o700);
        let explicit = MasterKeySource::File { path: dir.path().join("elsewhere.key"), explicit: true };
        assert!(!explicit.create_default_if_missing().expect("not made"), "a configured path is never invented");
        let error = explicit.load().expect_err("missing").to_string();
        assert!(error.contains("`master_key_file`") && error.contains("elsewhere.key"), "{error}");
    }
}
