//! Metering's bookkeeping (docs/billing.md, "Metering"): each workspace's
//! usage records are counted once into per-organisation, per-meter hourly
//! buckets, and each bucket is sent to the payment provider once.
//!
//! Exactly once, across crashes and replicas:
//! - counting moves a workspace's cursor (compare-and-set on the seq it
//!   started from) and adds to the buckets in one transaction, so a record
//!   is in a bucket if and only if the cursor is past it;
//! - a bucket is frozen (`open` → `sending`) before it is sent and its value
//!   never changes after; usage arriving later for that hour opens a new
//!   part. Its id is the meter event's identifier, so sending it again after
//!   a crash (before `sent` was written) is counted once by the provider.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use strata_core::id::{OrganizationId, WorkspaceId};

use crate::Hub;
use crate::entities::{meter_bucket, storage_sample, usage_cursor, workspace};
use crate::error::{HubError, Result};

/// Bucket states.
const OPEN: &str = "open";
const SENDING: &str = "sending";
const SENT: &str = "sent";
const UNBILLED: &str = "unbilled";

/// Usage of one meter in one hour, to add to an organisation's bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterAmount {
    pub meter: String,
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    pub value: u64,
}

/// A workspace's bytes stored in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageSample {
    pub bytes: u64,
    /// `false`: carried over from the last sample (the server was asleep).
    pub measured: bool,
}

fn sample_id(workspace: WorkspaceId, hour: DateTime<Utc>) -> String {
    format!("{workspace}-{}", hour.timestamp())
}

/// A frozen bucket, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueBucket {
    /// The meter event's identifier.
    pub id: String,
    pub org_id: OrganizationId,
    pub meter: String,
    pub hour: DateTime<Utc>,
    pub value: u64,
}

/// A workspace whose usage is metered.
#[derive(Debug, Clone)]
pub struct MeteredWorkspace {
    pub id: WorkspaceId,
    pub org_id: OrganizationId,
    pub slug: String,
    /// Its plan's worker memory, which datums hold while they run.
    pub worker_memory_mib: u64,
    /// Its server, while one runs elsewhere (a provisioned workspace that
    /// is ready); `None` for the one this server hosts, and while asleep
    /// (a sleeping server records nothing; what it recorded is read when
    /// it wakes).
    pub upstream: Option<crate::provisioning::Upstream>,
}

impl Hub {
    /// Every workspace that may hold usage not yet counted: all but those
    /// whose data is freed.
    pub async fn metered_workspaces(&self) -> Result<Vec<MeteredWorkspace>> {
        let rows = workspace::Entity::find().filter(workspace::Column::DataFreedAt.is_null()).all(&self.db).await?;
        let mut metered = Vec::with_capacity(rows.len());
        for row in rows {
            let ready = row.state == crate::WorkspaceState::Ready.as_str();
            let upstream = if ready { self.upstream_of(&row)? } else { None };
            metered.push(MeteredWorkspace {
                id: row.id,
                org_id: row.org_id,
                worker_memory_mib: self.plans().named_or_default(&row.plan).worker_memory_mib,
                slug: row.slug,
                upstream,
            });
        }
        Ok(metered)
    }

    /// The last usage record of `workspace` counted (0: none).
    pub async fn usage_cursor(&self, workspace: WorkspaceId) -> Result<i64> {
        let row = usage_cursor::Entity::find_by_id(workspace).one(&self.db).await?;
        Ok(row.map_or(0, |row| row.last_seq))
    }

    /// Counts `workspace`'s records after `from` up to `to` into `org_id`'s
    /// buckets: adds `amounts` and moves the cursor from `from` to `to` in
    /// one transaction. `false` (nothing changed) when the cursor is no
    /// longer at `from`: another replica counted them.
    pub async fn count_usage(
        &self,
        workspace: WorkspaceId,
        org_id: OrganizationId,
        (from, to): (i64, i64),
        amounts: &[MeterAmount],
    ) -> Result<bool> {
        let txn = self.db.begin().await?;
        let now = Utc::now();
        let moved = if from == 0 {
            let row =
                usage_cursor::ActiveModel { workspace_id: Set(workspace), last_seq: Set(to), updated_at: Set(now) };
            match usage_cursor::Entity::insert(row).exec_without_returning(&txn).await {
                Ok(_) => true,
                Err(error) if crate::identity::is_unique_violation(&error) => false,
                Err(error) => return Err(error.into()),
            }
        } else {
            let result = usage_cursor::Entity::update_many()
                .col_expr(usage_cursor::Column::LastSeq, Expr::value(to))
                .col_expr(usage_cursor::Column::UpdatedAt, Expr::value(now))
                .filter(usage_cursor::Column::WorkspaceId.eq(workspace))
                .filter(usage_cursor::Column::LastSeq.eq(from))
                .exec(&txn)
                .await?;
            result.rows_affected == 1
        };
        if !moved {
            return Ok(false);
        }
        for amount in amounts.iter().filter(|amount| amount.value > 0) {
            add_to_bucket(&txn, org_id, amount, now).await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Adds `amount` to `org_id`'s bucket: usage measured as it happens,
    /// such as bytes sent out through the gateway, by many requests at once.
    pub async fn count_amount(&self, org_id: OrganizationId, amount: &MeterAmount) -> Result<()> {
        if amount.value == 0 {
            return Ok(());
        }
        // Two first amounts of an hour may both open its bucket; the one
        // that loses finds it open when it tries again.
        let mut tries = 0;
        loop {
            tries += 1;
            let txn = self.db.begin().await?;
            match add_to_bucket(&txn, org_id, amount, Utc::now()).await {
                Ok(()) => return Ok(txn.commit().await?),
                Err(HubError::Database(error)) if tries < 3 && crate::identity::is_unique_violation(&error) => {
                    txn.rollback().await?;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Whether `workspace`'s storage was sampled in `hour` already.
    pub async fn storage_sampled(&self, workspace: WorkspaceId, hour: DateTime<Utc>) -> Result<bool> {
        Ok(storage_sample::Entity::find_by_id(sample_id(workspace, hour)).one(&self.db).await?.is_some())
    }

    /// The bytes of `workspace`'s latest storage sample.
    pub async fn last_storage_sample(&self, workspace: WorkspaceId) -> Result<Option<u64>> {
        let latest = storage_sample::Entity::find()
            .filter(storage_sample::Column::WorkspaceId.eq(workspace))
            .order_by_desc(storage_sample::Column::Hour)
            .one(&self.db)
            .await?;
        Ok(latest.and_then(|row| u64::try_from(row.bytes).ok()))
    }

    /// Records `sample` as `workspace`'s storage in its hour and adds it to
    /// the organisation's bucket of `meter` (as `amount` units), in one
    /// transaction. `false` (nothing changed) when the hour has its sample
    /// already: a second replica, or a retry, counts nothing twice.
    pub async fn record_storage_sample(
        &self,
        workspace: &MeteredWorkspace,
        sample: &StorageSample,
        amount: &MeterAmount,
    ) -> Result<bool> {
        let txn = self.db.begin().await?;
        let now = Utc::now();
        let row = storage_sample::ActiveModel {
            id: Set(sample_id(workspace.id, amount.hour)),
            workspace_id: Set(workspace.id),
            org_id: Set(workspace.org_id),
            hour: Set(amount.hour),
            bytes: Set(i64::try_from(sample.bytes).unwrap_or(i64::MAX)),
            measured: Set(sample.measured),
            sampled_at: Set(now),
        };
        match storage_sample::Entity::insert(row).exec_without_returning(&txn).await {
            Ok(_) => {}
            Err(error) if crate::identity::is_unique_violation(&error) => return Ok(false),
            Err(error) => return Err(error.into()),
        }
        if amount.value > 0 {
            add_to_bucket(&txn, workspace.org_id, amount, now).await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Freezes the open buckets of hours that ended at least `settle`
    /// before `now`, and returns every frozen bucket not yet sent.
    pub async fn due_meter_buckets(&self, now: DateTime<Utc>, settle: chrono::Duration) -> Result<Vec<DueBucket>> {
        let cutoff = now - chrono::Duration::hours(1) - settle;
        meter_bucket::Entity::update_many()
            .col_expr(meter_bucket::Column::State, Expr::value(SENDING))
            .col_expr(meter_bucket::Column::UpdatedAt, Expr::value(now))
            .filter(meter_bucket::Column::State.eq(OPEN))
            .filter(meter_bucket::Column::Hour.lte(cutoff))
            .exec(&self.db)
            .await?;
        let rows = meter_bucket::Entity::find()
            .filter(meter_bucket::Column::State.eq(SENDING))
            .order_by_asc(meter_bucket::Column::Hour)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| DueBucket {
                id: row.id,
                org_id: row.org_id,
                meter: row.meter,
                hour: row.hour,
                value: u64::try_from(row.value).unwrap_or(0),
            })
            .collect())
    }

    /// Notes a frozen bucket as sent (`billed`) or as not billable (the
    /// organisation has no payment customer).
    pub async fn mark_meter_bucket(&self, id: &str, billed: bool) -> Result<()> {
        meter_bucket::Entity::update_many()
            .col_expr(meter_bucket::Column::State, Expr::value(if billed { SENT } else { UNBILLED }))
            .col_expr(meter_bucket::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(meter_bucket::Column::Id.eq(id))
            .filter(meter_bucket::Column::State.eq(SENDING))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The total counted for each meter of `org_id` (all buckets, any state).
    pub async fn metered_totals(&self, org_id: OrganizationId) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = meter_bucket::Entity::find()
            .select_only()
            .column(meter_bucket::Column::Meter)
            .column_as(meter_bucket::Column::Value.sum().cast_as("BIGINT"), "total")
            .filter(meter_bucket::Column::OrgId.eq(org_id))
            .group_by(meter_bucket::Column::Meter)
            .order_by_asc(meter_bucket::Column::Meter)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|(meter, total)| (meter, u64::try_from(total).unwrap_or(0))).collect())
    }
}

/// Adds to the open bucket of the amount's hour, or opens the next part
/// when that hour's bucket is frozen (or none exists).
async fn add_to_bucket(
    txn: &impl ConnectionTrait,
    org_id: OrganizationId,
    amount: &MeterAmount,
    now: DateTime<Utc>,
) -> Result<()> {
    let value = i64::try_from(amount.value).unwrap_or(i64::MAX);
    let same_hour = || {
        sea_orm::Condition::all()
            .add(meter_bucket::Column::OrgId.eq(org_id))
            .add(meter_bucket::Column::Meter.eq(amount.meter.as_str()))
            .add(meter_bucket::Column::Hour.eq(amount.hour))
    };
    let added = meter_bucket::Entity::update_many()
        .col_expr(meter_bucket::Column::Value, Expr::col(meter_bucket::Column::Value).add(value))
        .col_expr(meter_bucket::Column::UpdatedAt, Expr::value(now))
        .filter(same_hour())
        .filter(meter_bucket::Column::State.eq(OPEN))
        .exec(txn)
        .await?;
    if added.rows_affected > 0 {
        return Ok(());
    }
    // The next part counts the frozen ones only: two writers that both find
    // no open bucket pick the same part, so one insert fails on its id
    // instead of both opening a part (amounts added to every open part of
    // the hour would then count twice).
    let frozen = meter_bucket::Entity::find().filter(same_hour()).filter(meter_bucket::Column::State.ne(OPEN));
    let part = frozen.all(txn).await?.iter().map(|bucket| bucket.part + 1).max().unwrap_or(0);
    let row = meter_bucket::ActiveModel {
        id: Set(format!("strata-{org_id}-{}-{}-{part}", amount.meter, amount.hour.timestamp())),
        org_id: Set(org_id),
        meter: Set(amount.meter.clone()),
        hour: Set(amount.hour),
        part: Set(part),
        value: Set(value),
        state: Set(OPEN.to_owned()),
        updated_at: Set(now),
    };
    meter_bucket::Entity::insert(row).exec_without_returning(txn).await?;
    Ok(())
}
