//! Datums: the units of work of a job.
//!
//! Each leaf input (a `pfs` or `cron` input) contributes the files and
//! directories its glob matches at one commit ([`LeafSet`]); [`combine`]
//! forms the job's datums from them along the input tree.

mod combine;

use crate::state::DatumInput;
use serde::{Deserialize, Serialize};

pub use combine::{combine, datum_id};

/// One glob match of a leaf input: a file or a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafMatch {
    /// Absolute path of the match (no trailing `/`).
    pub path: String,
    /// Content hash (hex BLAKE3): a file's hash, or a directory's hash over
    /// its files, as PFS reports them.
    pub hash: String,
    /// Bytes below the match.
    pub size: u64,
}

/// Everything one leaf input matched at one commit, in path order.
#[derive(Debug, Clone, Copy)]
pub struct LeafSet<'a> {
    /// The commit the matches were read from.
    pub commit: &'a str,
    pub matches: &'a [LeafMatch],
}

/// One datum: the inputs it sees, its identity and its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datum {
    /// Hex BLAKE3 over the inputs' names, repos and paths: the same files
    /// in the next job give the same id.
    pub id: String,
    /// Hex BLAKE3 over the id, the inputs' content hashes and the pipeline
    /// salt: equal hashes mean the datum's output would be the same.
    pub hash: String,
    pub inputs: Vec<DatumInput>,
}
