//! What crosses Strata's wire, and nothing else: the JSON bodies of the
//! HTTP API, the error body, and the GraphQL envelope.
//!
//! Servers, the client, the CLI and the tests all take these types from
//! here, so a server never depends on the client to speak, and a field's
//! JSON name is decided in one place. Domain crates keep their own types
//! (a job's state in the database is PPS's, not this crate's) and convert
//! at their HTTP edge.

pub mod pfs;
pub mod pps;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every HTTP error answers with this body. `code` is stable and documented
/// in `docs/api-errors.md`; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// The answer of `GET /readyz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// The server's release.
    pub version: String,
    /// One entry per dependency: `database`, `object_store`, ...
    pub checks: BTreeMap<String, Check>,
}

/// The outcome of one readiness check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub ok: bool,
    pub latency_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One error of a GraphQL response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphQlError {
    pub message: String,
    #[serde(default)]
    pub extensions: Option<serde_json::Value>,
}

/// The envelope of a GraphQL response.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphQlResponse<T> {
    pub data: Option<T>,
    #[serde(default)]
    pub errors: Vec<GraphQlError>,
}

/// `query { version { server api } }`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerVersion {
    pub server: String,
    pub api: i32,
}
