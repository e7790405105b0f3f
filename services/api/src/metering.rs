//! Where billing reads usage: the workspace this server hosts in-process
//! (its PPS outbox, directly).

use async_trait::async_trait;
use strata_billing::metering::{UsageRecord, UsageSource};
use strata_core::id::WorkspaceId;
use strata_pps::Pps;

/// The embedded workspace's usage; other workspaces are not reachable here.
pub(crate) struct EmbeddedUsage {
    pub workspace: WorkspaceId,
    pub pps: Pps,
}

#[async_trait]
impl UsageSource for EmbeddedUsage {
    async fn usage_after(
        &self,
        workspace: WorkspaceId,
        after: i64,
        limit: u64,
    ) -> strata_billing::Result<Option<Vec<UsageRecord>>> {
        if workspace != self.workspace {
            return Ok(None);
        }
        let records = self
            .pps
            .usage_after(after, limit)
            .await
            .map_err(|error| strata_billing::BillingError::Usage(error.to_string()))?;
        Ok(Some(
            records
                .into_iter()
                .map(|record| UsageRecord {
                    seq: record.seq,
                    datums: record.datums,
                    cpu_ms: record.cpu_ms,
                    process_ms: record.process_ms,
                    recorded_at: record.recorded_at,
                })
                .collect(),
        ))
    }
}
