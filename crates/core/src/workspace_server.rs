//! How the provisioner's local backend tells a workspace server process what
//! to serve. The provisioner writes this as one JSON line on the child's
//! standard input (never in its arguments or environment, where other local
//! users could read the secrets) and keeps the pipe open: the child exits
//! when it closes, so a provisioner killed with SIGKILL leaves no servers
//! behind.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything one workspace server needs.
#[derive(Clone, Serialize, Deserialize)]
pub struct WorkspaceServerConfig {
    /// The slug in request paths (`/v1/workspaces/{slug}/…`).
    pub slug: String,
    /// The workspace's own metadata database: a SQLite file, or PostgreSQL
    /// with `options[search_path]` naming its schema.
    pub database_url: String,
    /// The workspace's own part of the installation's object store (a
    /// directory, or a bucket and prefix): nothing in the configuration names
    /// another workspace's objects.
    pub object_store_url: String,
    /// Redis for the task queue (`None`: the in-process queue).
    pub redis_url: Option<String>,
    pub queue_prefix: String,
    pub listen: SocketAddr,
    /// The bearer token the gateway and the workers send.
    pub service_secret: String,
    #[serde(with = "millis")]
    pub task_lease: Duration,
    /// Whether jobs pin their image to its digest (when the workspace's
    /// workers run containers), and which registries speak plain HTTP.
    #[serde(default)]
    pub pin_images: Option<PinImages>,
    /// The keys its secrets are sealed with, as `MasterKeys::parse` reads
    /// them (derived for this workspace from the installation's master keys).
    #[serde(default)]
    pub secrets_keys: Option<String>,
}

/// What a workspace's secrets keys are derived under (see
/// `MasterKeys::derive`): one workspace's key opens nothing of another's.
pub fn secrets_context(installation: &str, workspace: &str) -> String {
    format!("strata workspace secrets {installation}/{workspace}")
}

/// Image pinning for a workspace whose workers run containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinImages {
    /// Registries (`host:port`) asked over plain HTTP; every other over HTTPS.
    pub plain_http_registries: Vec<String>,
}

impl std::fmt::Debug for WorkspaceServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceServerConfig")
            .field("slug", &self.slug)
            .field("database_url", &crate::config::redact_url(&self.database_url))
            .field("object_store_url", &self.object_store_url)
            .field("queue_prefix", &self.queue_prefix)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

/// The line a workspace server prints on standard output once it listens.
pub const LISTENING_PREFIX: &str = "strata workspace server listening on ";

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(deserializer)?))
    }
}
