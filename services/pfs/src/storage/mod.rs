//! The storage engine: content-defined chunks and sorted file-set indexes,
//! both content-addressed in the object store.
//!
//! Layout in the object store (below the workspace's prefix):
//! * `chunks/<2 hex>/<64 hex>`: one chunk, named by the BLAKE3 hash of its
//!   plaintext, stored zstd-compressed (or raw when that is smaller).
//! * `index/<2 hex>/<64 hex>`: one page of a file-set index or one root,
//!   named by the BLAKE3 hash of its encoded bytes.
//!
//! Objects are immutable and written before any metadata refers to them, so
//! a crash leaves at most unreferenced objects, which GC removes.

pub mod chunks;
pub mod fileset;
pub mod writer;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A BLAKE3 hash: names chunks and index objects, and hashes file contents.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl From<blake3::Hash> for Hash {
    fn from(hash: blake3::Hash) -> Self {
        Self(*hash.as_bytes())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..12])
    }
}

/// The object path of a content-addressed object in `area`.
fn object_path(area: &str, hash: &Hash) -> object_store::path::Path {
    let hex = hash.to_hex();
    object_store::path::Path::from(format!("{area}/{}/{hex}", &hex[..2]))
}
