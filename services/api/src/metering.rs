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

#[async_trait]
impl UsageSource for WorkspaceUsage {
    async fn usage_after(
        &self,
        workspace: &MeteredWorkspace,
        after: i64,
        limit: u64,
    ) -> strata_billing::Result<Option<Vec<UsageRecord>>> {
        match &self.embedded {
            Some((id, pps)) if *id == workspace.id => {
                let records = pps.usage_after(after, limit).await;
                records.map(Some).map_err(|error| strata_billing::BillingError::Usage(error.to_string()))
            }
            _ => self.servers.usage_after(workspace, after, limit).await,
        }
    }

    async fn stored_bytes(&self, workspace: &MeteredWorkspace) -> strata_billing::Result<Option<u64>> {
        match &self.embedded {
            Some((id, pps)) if *id == workspace.id => {
                let bytes = pps.pfs().stored_total().await;
                bytes.map(Some).map_err(|error| strata_billing::BillingError::Usage(error.to_string()))
            }
            _ => self.servers.stored_bytes(workspace).await,
        }
    }
}
