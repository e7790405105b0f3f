//! Usage metering (docs/billing.md, "Metering"): workspaces' usage records
//! (written with the datum results they measure) are counted into hourly
//! buckets per organisation and meter, and each bucket, once its hour is
//! over, is sent as one meter event whose identifier is the bucket's id.
//! The hub's bookkeeping makes each unit count once (see
//! `strata_hub::metering`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, Utc};
use strata_core::id::OrganizationId;
use strata_core::workspace_credentials::CredentialIssuer;
use strata_hub::Hub;
use strata_hub::metering::{MeterAmount, MeteredWorkspace, StorageSample};

use crate::error::Result;
use crate::provider::{BillingProvider, MeterEvent};

/// The meters, by their Stripe event names. Values are integers: Stripe
/// sums them per customer and billing period.
pub mod meters {
    /// CPU time of datums' commands, in milliseconds.
    pub const CPU_MS: &str = "strata_cpu_ms";
    /// Worker memory held while datums ran: MiB × milliseconds.
    pub const MEMORY_MIB_MS: &str = "strata_memory_mib_ms";
    /// Datums processed (run, whatever their outcome).
    pub const DATUMS: &str = "strata_datums";
    /// Bytes a workspace stores, sampled once an hour: MiB × hours.
    pub const STORAGE_MIB_HOURS: &str = "strata_storage_mib_hours";
    /// Bytes of answers sent out of a workspace through the gateway.
    pub const EGRESS_BYTES: &str = "strata_egress_bytes";
}

/// How long after an hour ends its buckets wait for late records before
/// they are frozen and sent (records that arrive later still count, in
/// the next part).
pub const SETTLE: chrono::Duration = chrono::Duration::minutes(5);

/// Records read per request to a workspace.
const PAGE: u64 = 1000;

/// How long a workspace server may take to answer one page of records.
const USAGE_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One usage record of a workspace (a row of its PPS outbox).
pub use strata_api_types::pps::UsageRecord;

/// Where workspaces' usage records are read.
#[async_trait]
pub trait UsageSource: Send + Sync {
    /// Records of `workspace` after `after`, oldest first, at most `limit`;
    /// `None` while the workspace cannot be asked (no server running).
    async fn usage_after(
        &self,
        workspace: &MeteredWorkspace,
        after: i64,
        limit: u64,
    ) -> Result<Option<Vec<UsageRecord>>>;

    /// The bytes `workspace` stores now; `None` while it cannot be asked.
    async fn stored_bytes(&self, workspace: &MeteredWorkspace) -> Result<Option<u64>>;
}

/// Usage read from each provisioned workspace's own server, with billing's
/// usage credential (good for the usage outbox and nothing else).
#[derive(Debug, Clone)]
pub struct WorkspaceServers {
    http: reqwest::Client,
}

impl WorkspaceServers {
    /// Calls go through `http` (pooled, shared with the gateway).
    pub fn new(http: reqwest::Client) -> Self {
        WorkspaceServers { http }
    }

    /// A client of `workspace`'s server with billing's usage credential;
    /// `None` while it has no server.
    fn client(&self, workspace: &MeteredWorkspace) -> Option<strata_client::Workspace> {
        let upstream = workspace.upstream.as_ref()?;
        let credential = CredentialIssuer::new(&upstream.secret, &workspace.slug).usage_reader();
        match strata_client::StrataClient::with_http_client(&upstream.endpoint, self.http.clone()) {
            Ok(client) => Some(client.with_token(credential).workspace(&workspace.slug)),
            Err(error) => {
                tracing::warn!(workspace = %workspace.id, error = %error, "usage not read; retried next round");
                None
            }
        }
    }
}

/// A read from a workspace server, bounded in time: the shared client has
/// no overall timeout (uploads take long), and one server that hangs or is
/// away must not hold up the others' metering; what it holds waits for the
/// next round.
async fn bounded<T>(
    workspace: &MeteredWorkspace,
    read: impl std::future::Future<Output = std::result::Result<T, strata_client::ClientError>>,
) -> Option<T> {
    match tokio::time::timeout(USAGE_READ_TIMEOUT, read).await {
        Ok(Ok(answer)) => Some(answer),
        Err(_) => {
            tracing::warn!(workspace = %workspace.id, "usage read timed out; retried next round");
            None
        }
        Ok(Err(error)) => {
            tracing::warn!(workspace = %workspace.id, error = %error, "usage not read; retried next round");
            None
        }
    }
}

#[async_trait]
impl UsageSource for WorkspaceServers {
    async fn usage_after(
        &self,
        workspace: &MeteredWorkspace,
        after: i64,
        limit: u64,
    ) -> Result<Option<Vec<UsageRecord>>> {
        let Some(client) = self.client(workspace) else { return Ok(None) };
        Ok(bounded(workspace, client.usage_records(after, limit)).await)
    }

    async fn stored_bytes(&self, workspace: &MeteredWorkspace) -> Result<Option<u64>> {
        let Some(client) = self.client(workspace) else { return Ok(None) };
        Ok(bounded(workspace, client.stored_total()).await.map(|total| total.bytes))
    }
}

/// What a round of metering did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Usage records counted into buckets.
    pub counted: u64,
    /// Buckets sent as meter events.
    pub sent: u64,
    /// Workspaces whose storage was sampled for the hour.
    pub sampled: u64,
}

/// A crash point for the crash tests: the process aborts there when
/// `STRATA_BILLING_CRASH_AT` names it.
fn crash_point(name: &str) {
    if std::env::var("STRATA_BILLING_CRASH_AT").is_ok_and(|at| at == name) {
        tracing::error!(point = name, "crashing on purpose (STRATA_BILLING_CRASH_AT)");
        std::process::abort();
    }
}

/// Counts every workspace's new usage records into buckets.
pub async fn count(hub: &Hub, source: &dyn UsageSource) -> Result<u64> {
    let mut counted = 0;
    for workspace in hub.metered_workspaces().await? {
        counted += count_workspace(hub, source, &workspace).await?;
    }
    Ok(counted)
}

async fn count_workspace(hub: &Hub, source: &dyn UsageSource, workspace: &MeteredWorkspace) -> Result<u64> {
    let mut counted = 0;
    loop {
        let from = hub.usage_cursor(workspace.id).await?;
        let Some(records) = source.usage_after(workspace, from, PAGE).await? else { return Ok(counted) };
        let Some(last) = records.last().map(|record| record.seq) else { return Ok(counted) };
        let amounts = amounts(&records, workspace.worker_memory_mib);
        crash_point("before_count");
        if !hub.count_usage(workspace.id, workspace.org_id, (from, last), &amounts).await? {
            // Another replica counted these; read on from where it left.
            continue;
        }
        counted += records.len() as u64;
        if (records.len() as u64) < PAGE {
            return Ok(counted);
        }
    }
}

/// Samples each workspace's storage once in the hour of `now` and counts
/// it into its organisation's storage bucket. A workspace that cannot be
/// asked (asleep, say) is charged its last sample, as its data has not
/// changed without a server; one never sampled waits for its server.
pub async fn sample_storage(hub: &Hub, source: &dyn UsageSource, now: DateTime<Utc>) -> Result<u64> {
    let hour = hour_of(now);
    let mut sampled = 0;
    for workspace in hub.metered_workspaces().await? {
        if hub.storage_sampled(workspace.id, hour).await? {
            continue;
        }
        let sample = match source.stored_bytes(&workspace).await? {
            Some(bytes) => StorageSample { bytes, measured: true },
            None => match hub.last_storage_sample(workspace.id).await? {
                Some(bytes) => StorageSample { bytes, measured: false },
                None => continue,
            },
        };
        let amount = MeterAmount { meter: meters::STORAGE_MIB_HOURS.to_owned(), hour, value: mib_hours(sample.bytes) };
        if hub.record_storage_sample(&workspace, &sample, &amount).await? {
            sampled += 1;
        }
    }
    Ok(sampled)
}

/// Counts `bytes` sent out of a workspace of `org` at `at` into the
/// organisation's egress bucket.
pub async fn count_egress(hub: &Hub, org: OrganizationId, bytes: u64, at: DateTime<Utc>) -> Result<()> {
    let amount = MeterAmount { meter: meters::EGRESS_BYTES.to_owned(), hour: hour_of(at), value: bytes };
    Ok(hub.count_amount(org, &amount).await?)
}

/// The start of the hour `at` falls in: a bucket's hour.
fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::Duration::hours(1)).unwrap_or(at)
}

/// An hour of `bytes` in the storage meter's unit, rounded up.
fn mib_hours(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

/// The records' usage per meter and hour.
fn amounts(records: &[UsageRecord], worker_memory_mib: u64) -> Vec<MeterAmount> {
    let mut sums: BTreeMap<(&'static str, DateTime<Utc>), u64> = BTreeMap::new();
    for record in records {
        let hour = hour_of(record.recorded_at);
        *sums.entry((meters::CPU_MS, hour)).or_default() += record.cpu_ms;
        *sums.entry((meters::MEMORY_MIB_MS, hour)).or_default() += record.process_ms.saturating_mul(worker_memory_mib);
        *sums.entry((meters::DATUMS, hour)).or_default() += record.datums;
    }
    sums.into_iter().map(|((meter, hour), value)| MeterAmount { meter: meter.to_owned(), hour, value }).collect()
}

/// Freezes the buckets of hours over (by [`SETTLE`]) at `now` and sends
/// each frozen bucket as a meter event; returns how many were sent.
pub async fn send(hub: &Hub, provider: &dyn BillingProvider, now: DateTime<Utc>) -> Result<u64> {
    let mut sent = 0;
    for bucket in hub.due_meter_buckets(now, SETTLE).await? {
        crash_point("after_freeze");
        let Some(customer) = hub.billing_account(bucket.org_id).await?.customer_id else {
            hub.mark_meter_bucket(&bucket.id, false).await?;
            continue;
        };
        let event = MeterEvent {
            event_name: bucket.meter.clone(),
            customer,
            value: bucket.value,
            identifier: bucket.id.clone(),
            timestamp: bucket.hour.timestamp(),
        };
        provider.send_meter_event(&event).await?;
        crash_point("after_send");
        hub.mark_meter_bucket(&bucket.id, true).await?;
        sent += 1;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_add_up_per_meter_and_hour() {
        let at =
            |h: u32, m: u32| DateTime::parse_from_rfc3339(&format!("2026-12-04T{h:02}:{m:02}:00Z")).unwrap().to_utc();
        let record = |seq, cpu_ms, process_ms, recorded_at| UsageRecord {
            seq,
            pipeline: "edges".to_owned(),
            job: "j1".to_owned(),
            datums: 2,
            cpu_ms,
            process_ms,
            bytes_in: 0,
            bytes_out: 0,
            recorded_at,
        };
        let records = [record(1, 100, 1000, at(10, 5)), record(2, 50, 500, at(10, 59)), record(3, 7, 70, at(11, 0))];
        let amounts = amounts(&records, 1024);
        let find = |meter: &str, hour| amounts.iter().find(|a| a.meter == meter && a.hour == hour).unwrap().value;
        assert_eq!(find(meters::CPU_MS, at(10, 0)), 150);
        assert_eq!(find(meters::MEMORY_MIB_MS, at(10, 0)), 1500 * 1024);
        assert_eq!(find(meters::DATUMS, at(10, 0)), 4);
        assert_eq!(find(meters::CPU_MS, at(11, 0)), 7);
        assert_eq!(amounts.len(), 6);
    }
}
