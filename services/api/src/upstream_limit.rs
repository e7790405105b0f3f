//! A bound on the calls one tenant has in flight to its workspaces.
//!
//! Every call the gateway forwards, and every call a GraphQL workspace
//! field makes (in-process or to a workspace server), holds a permit of its
//! organisation's semaphore until the workspace has answered (over HTTP:
//! with its status and headers). A tenant that fans out therefore
//! queues behind itself instead of taking every connection, database
//! statement and thread that other tenants need. Calls that wait longer
//! than [`QUEUE_TIMEOUT`] are refused with 429.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::metrics::UpDownCounter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Calls one organisation may have in flight to its workspace servers.
pub(crate) const CALLS_PER_ORG: usize = 16;
/// How long a call may wait for a permit before it is refused.
pub(crate) const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// The semaphores, one per organisation that has called lately.
pub(crate) struct UpstreamLimit {
    per_org: Mutex<HashMap<String, Arc<Semaphore>>>,
    bound: usize,
    /// Calls waiting for a permit (`strata_gateway_upstream_waiting`; no
    /// tenant label, since metrics must not name tenants).
    waiting: UpDownCounter<i64>,
}

impl std::fmt::Debug for UpstreamLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamLimit").field("bound", &self.bound).finish_non_exhaustive()
    }
}

/// A call that waited too long for its organisation's turn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Busy;

impl UpstreamLimit {
    pub(crate) fn new(bound: usize, metrics: &strata_core::telemetry::Metrics) -> Self {
        let waiting = metrics
            .meter("strata-api")
            .i64_up_down_counter("strata_gateway_upstream_waiting")
            .with_description("Calls to workspace servers waiting for their organisation's turn")
            .build();
        UpstreamLimit { per_org: Mutex::default(), bound: bound.max(1), waiting }
    }

    /// Waits for a permit of `org` (at most [`QUEUE_TIMEOUT`]); the call
    /// may go upstream while the permit lives.
    pub(crate) async fn acquire(&self, org: &str) -> Result<OwnedSemaphorePermit, Busy> {
        let semaphore = self.semaphore(org);
        if let Ok(permit) = semaphore.clone().try_acquire_owned() {
            return Ok(permit);
        }
        self.waiting.add(1, &[]);
        let permit = tokio::time::timeout(QUEUE_TIMEOUT, semaphore.acquire_owned()).await;
        self.waiting.add(-1, &[]);
        match permit {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a timeout is the only refusal.
            _ => Err(Busy),
        }
    }

    fn semaphore(&self, org: &str) -> Arc<Semaphore> {
        let mut map = self.per_org.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Idle organisations (no permit taken) are forgotten, so the map
        // stays as small as the set of tenants calling right now.
        if map.len() > 1024 {
            let bound = self.bound;
            map.retain(|_, semaphore| semaphore.available_permits() < bound);
        }
        map.entry(org.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(self.bound))).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_gets_its_bound_and_others_are_not_held_up() {
        let metrics = strata_core::telemetry::Metrics::new().unwrap();
        let limit = UpstreamLimit::new(2, &metrics);
        let first = limit.acquire("a").await.unwrap();
        let _second = limit.acquire("a").await.unwrap();
        assert!(limit.semaphore("a").try_acquire_owned().is_err(), "a third call of `a` must wait");
        let _other = limit.acquire("b").await.unwrap();
        drop(first);
        let _third = limit.acquire("a").await.unwrap();
    }
}
