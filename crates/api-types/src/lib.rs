//! What crosses Strata's wire, and nothing else: the JSON bodies of the
//! HTTP API, the error body, and the GraphQL envelope.
//!
//! Servers, the client, the CLI and the tests all take these types from
//! here, so a server never depends on the client to speak, and a field's
//! JSON name is decided in one place. Domain crates keep their own types
//! (a job's state in the database is PPS's, not this crate's) and convert
//! at their HTTP edge.

mod error;
pub mod pfs;
pub mod pps;

pub use error::{ErrorBody, ErrorCode};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The answer of `GET /readyz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// The server's release.
    pub version: String,
    /// One entry per dependency: `database`, `object_store`, ...
    pub checks: BTreeMap<String, Check>,
    /// How this server's own workers run user code; `None` where it runs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<RunnerInfo>,
}

/// How a server's workers run pipelines' code (`strata status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerInfo {
    /// `container` (in each pipeline's image) or `process` (on the host).
    pub runner: String,
    /// Why this is less than a container, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
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
