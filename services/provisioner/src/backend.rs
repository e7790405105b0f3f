//! What a backend does for the reconciler. Every call must be idempotent:
//! the reconciler may repeat any of them after a crash, a timeout or a
//! conflict, and the result must be the same as doing it once.

use strata_hub::DesiredWorkspace;

use crate::error::Result;

/// A workspace brought to its running state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Where the gateway reaches the workspace server.
    pub endpoint: String,
    /// Anything the workspace's admins should read (a clamped quota…).
    pub notes: Vec<String>,
    /// Set while what was applied is not running yet (pods starting): the
    /// workspace stays PROVISIONING with this as the reason, and the next
    /// pass looks again.
    pub waiting: Option<String>,
}

impl Applied {
    /// Running at `endpoint`, nothing to report.
    pub fn running(endpoint: String) -> Applied {
        Applied { endpoint, notes: Vec::new(), waiting: None }
    }
}

/// Where a teardown stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Teardown {
    /// Nothing runs any more.
    Done,
    /// Asked to stop; still going (a namespace terminating). The next pass
    /// asks again.
    Waiting(String),
}

/// Runs workspaces somewhere: local processes, or Kubernetes namespaces.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// `local` or `kubernetes`, for logs and metrics.
    fn name(&self) -> &'static str;

    /// Makes the workspace run as desired (server, workers, policies) with
    /// `secret` as its service secret.
    async fn apply(&self, workspace: &DesiredWorkspace, secret: &str) -> Result<Applied>;

    /// Stops everything the workspace runs, in order (workers, then the
    /// server, then what isolates it). Its data stays.
    async fn teardown(&self, workspace: &DesiredWorkspace) -> Result<Teardown>;

    /// Stops the workspace's server and workers after a quiet spell, keeping
    /// everything it needs to wake quickly (its data, and on Kubernetes its
    /// namespace). By default the same as a teardown.
    async fn sleep(&self, workspace: &DesiredWorkspace) -> Result<Teardown> {
        self.teardown(workspace).await
    }

    /// Deletes the workspace's data (metadata, objects) for good.
    async fn free_data(&self, workspace: &DesiredWorkspace) -> Result<()>;

    /// Stops what this process runs itself (local children) when the
    /// provisioner shuts down; remote workspaces keep running.
    async fn shutdown(&self) {}

    /// Woken when something the backend runs changed on its own (a server
    /// process exited), so the reconciler looks again at once.
    fn changes(&self) -> std::sync::Arc<tokio::sync::Notify>;
}
