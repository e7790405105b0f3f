//! JSON bodies exchanged with the server, shared by server and clients.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every HTTP error answers with this body. `code` is stable and documented
/// in `docs/api-errors.md`; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
