//! Logs are kept as long as the workspace's plan says (`log_retention_days`,
//! docs/billing.md "Quotas"): the master forgets older log lines and the
//! captured output of older datums, at most once an hour. Jobs, datums and
//! their figures stay; only the text goes. The retention comes from the hub
//! like the storage limit: in the server's configuration, then with every
//! request the gateway forwards.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::error::PpsError;
use crate::meta::ForgottenLogs;
use crate::service::Pps;

/// How often the master looks for logs past their retention.
const EVERY: Duration = Duration::from_secs(60 * 60);

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct LogRetention {
    /// `None`: logs are kept.
    keep: Mutex<Option<Duration>>,
    last_pass: Mutex<Option<Instant>>,
}

impl Pps {
    /// Sets how long logs are kept (`None`: for ever).
    pub fn set_log_retention(&self, keep: Option<Duration>) {
        let mut current = self.inner.retention.keep.lock();
        if *current != keep {
            tracing::info!(?keep, "log retention set");
            *current = keep;
        }
    }

    /// Forgets the logs older than the retention as of `now`.
    pub async fn forget_old_logs(&self, now: DateTime<Utc>) -> Result<ForgottenLogs, PpsError> {
        let Some(keep) = *self.inner.retention.keep.lock() else { return Ok(ForgottenLogs::default()) };
        // A retention too long to subtract keeps everything.
        let before = chrono::Duration::from_std(keep).ok().and_then(|keep| now.checked_sub_signed(keep));
        let Some(before) = before else { return Ok(ForgottenLogs::default()) };
        let forgotten = self.inner.meta.logs_forget_before(before).await?;
        if forgotten != ForgottenLogs::default() {
            tracing::info!(lines = forgotten.lines, datum_logs = forgotten.datum_logs, %before, "logs past their retention forgotten");
        }
        Ok(forgotten)
    }

    /// [`Self::forget_old_logs`] when an hour has passed since the last pass.
    pub(crate) async fn forget_old_logs_when_due(&self) -> Result<(), PpsError> {
        {
            let mut last = self.inner.retention.last_pass.lock();
            if last.is_some_and(|at| at.elapsed() < EVERY) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        self.forget_old_logs(Utc::now()).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use std::sync::Arc;

    use super::*;
    use crate::meta::{LogFilter, LogRow};

    async fn pps(dir: &std::path::Path) -> Pps {
        use strata_core::config::{DatabaseUrl, ObjectStoreUrl};
        let db = strata_core::db::connect(&DatabaseUrl::Sqlite(dir.join("strata.db"))).await.unwrap();
        let store = strata_core::store::open(&ObjectStoreUrl::Memory).unwrap();
        let pfs = strata_pfs::Pfs::open(db.clone(), store.clone()).await.unwrap();
        let queue = Arc::new(strata_queue::InProcessQueue::new(Duration::from_secs(30)));
        Pps::open(pfs, db, store, queue, crate::PpsSettings::default(), None).await.unwrap()
    }

    fn line(at: DateTime<Utc>, message: &str) -> LogRow {
        LogRow { cursor: 0, ts: at, pipeline: "p".into(), job: None, datum: None, user: false, message: message.into() }
    }

    #[tokio::test]
    async fn logs_are_kept_for_ever_until_a_retention_is_set_then_for_that_long() {
        let dir = tempfile::tempdir().unwrap();
        let pps = pps(dir.path()).await;
        let now = Utc::now();
        let lines = vec![line(now - chrono::Duration::days(10), "old"), line(now, "new")];
        pps.inner.meta.log_append(lines).await.unwrap();
        assert_eq!(pps.forget_old_logs(now).await.unwrap(), ForgottenLogs::default(), "no retention: kept");

        pps.set_log_retention(Some(Duration::from_secs(7 * 24 * 3600)));
        assert_eq!(pps.forget_old_logs(now).await.unwrap().lines, 1);
        let filter = LogFilter { pipeline: "p".into(), limit: 10, ..LogFilter::default() };
        let kept: Vec<String> =
            pps.inner.meta.log_query(&filter).await.unwrap().into_iter().map(|l| l.message).collect();
        assert_eq!(kept, ["new"]);

        pps.set_log_retention(Some(Duration::MAX));
        assert_eq!(pps.forget_old_logs(now).await.unwrap(), ForgottenLogs::default(), "too long to subtract");
    }
}
