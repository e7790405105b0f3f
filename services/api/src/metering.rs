//! Where billing reads usage: the workspace this server hosts, from its PPS
//! directly; provisioned workspaces, from their own servers.

use async_trait::async_trait;
use strata_billing::metering::{UsageRecord, UsageSource, WorkspaceServers};
use strata_core::id::WorkspaceId;
use strata_hub::metering::MeteredWorkspace;
use strata_pps::Pps;

/// Every workspace's usage outbox, wherever it is.
pub(crate) struct WorkspaceUsage {
    /// The workspace served in-process, if any.
    pub embedded: Option<(WorkspaceId, Pps)>,
    pub servers: WorkspaceServers,
}

impl WorkspaceUsage {
    /// The PPS of `workspace` when it is the one served in-process.
    fn embedded(&self, workspace: &MeteredWorkspace) -> Option<&Pps> {
        self.embedded.as_ref().filter(|(id, _)| *id == workspace.id).map(|(_, pps)| pps)
    }
}

/// A read of the workspace served in-process, as billing's result.
fn read<T, E: std::fmt::Display>(result: Result<T, E>) -> strata_billing::Result<Option<T>> {
    result.map(Some).map_err(|error| strata_billing::BillingError::Usage(error.to_string()))
}

#[async_trait]
impl UsageSource for WorkspaceUsage {
    async fn usage_after(
        &self,
        workspace: &MeteredWorkspace,
        after: i64,
        limit: u64,
    ) -> strata_billing::Result<Option<Vec<UsageRecord>>> {
        match self.embedded(workspace) {
            Some(pps) => read(pps.usage_after(after, limit).await),
            None => self.servers.usage_after(workspace, after, limit).await,
        }
    }

    async fn stored_bytes(&self, workspace: &MeteredWorkspace) -> strata_billing::Result<Option<u64>> {
        match self.embedded(workspace) {
            Some(pps) => read(pps.pfs().stored_total().await),
            None => self.servers.stored_bytes(workspace).await,
        }
    }
}
