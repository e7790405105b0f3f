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
    /// What its plan allows when it starts; each request the gateway
    /// forwards carries the limits as of that request, which replace these.
    #[serde(default)]
    pub limits: Option<PlanLimits>,
}

/// What a workspace's plan allows it, as its own server enforces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    pub storage: StorageLimit,
    /// How long job and datum logs are kept.
    pub log_retention_days: u64,
}

impl PlanLimits {
    pub fn log_retention(&self) -> Duration {
        Duration::from_secs(self.log_retention_days.saturating_mul(24 * 60 * 60))
    }
}

/// How much a workspace may store, under which plan, and the smallest plan
/// that allows more (`None`: no plan does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageLimit {
    pub bytes: u64,
    pub plan: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_by: Option<String>,
}

impl StorageLimit {
    /// The refusal of a write that would bring the workspace to `needed`
    /// bytes stored, in words that name the limit and what lifts it.
    pub fn refusal(&self, needed: u64) -> String {
        let lift = match &self.lifted_by {
            Some(plan) => format!("the {plan} plan lifts it, or delete data the workspace no longer needs"),
            None => "no plan allows more: delete data the workspace no longer needs, or ask the operator".to_owned(),
        };
        format!(
            "workspace storage is full: the {} plan allows {} and this write would bring it to {}; {lift}",
            self.plan,
            in_gib(self.bytes),
            in_gib(needed)
        )
    }
}

/// Bytes as GiB for people, rounded up so that a need just over a limit
/// never reads as the limit itself.
fn in_gib(bytes: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let gib = bytes as f64 / GIB;
    if gib.fract() == 0.0 || gib >= 10.0 {
        format!("{} GiB", gib.ceil())
    } else {
        format!("{:.2} GiB", (gib * 100.0).ceil() / 100.0)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_refusal_names_the_limit_the_need_and_the_plan_that_lifts_it() {
        const GIB: u64 = 1 << 30;
        let free = StorageLimit { bytes: GIB, plan: "free".into(), lifted_by: Some("team".into()) };
        assert_eq!(
            free.refusal(GIB + 1),
            "workspace storage is full: the free plan allows 1 GiB and this write would bring it to 1.01 GiB; \
             the team plan lifts it, or delete data the workspace no longer needs"
        );
        let top = StorageLimit { bytes: 500 * GIB, plan: "enterprise".into(), lifted_by: None };
        let refusal = top.refusal(500 * GIB + GIB / 2);
        assert!(refusal.contains("allows 500 GiB and this write would bring it to 501 GiB; no plan"), "{refusal}");
    }
}
