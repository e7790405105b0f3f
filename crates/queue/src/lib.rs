//! Task queues for PPS datum work (see DESIGN.md §4).
//!
//! The PPS master pushes one [`Task`] per batch of datums onto the queue of
//! its pipeline; workers [`pull`](TaskQueue::pull) tasks, keep them alive with
//! [`heartbeat`](TaskQueue::heartbeat) while they run, and
//! [`ack`](TaskQueue::ack) them once the datums' results are durable, or
//! [`release`](TaskQueue::release) them unrun when they stop. The
//! queue's [`depth`](TaskQueue::depth) (queued + in flight) is the autoscaling
//! signal.
//!
//! Two implementations sit behind the one [`TaskQueue`] trait and pass the
//! same test suite (`tests/queue/contract.rs`):
//!
//! * [`InProcessQueue`]: the embedded default of `strata dev`, where the master
//!   and its workers share one process. Nothing survives a restart, which is
//!   fine because PPS re-enqueues unfinished datums from its database.
//! * [`RedisQueue`]: production, on Redis Streams with one consumer group per
//!   queue, so that several worker processes share the work and a worker that
//!   dies (`kill -9`) has its task taken over by another.
//!
//! Delivery is *at least once*: a task whose lease ran out (no heartbeat and no
//! ack for the lease duration) is handed to the next puller, even if its first
//! worker was merely slow. Workers must therefore write results idempotently,
//! which PPS does by keying outputs on the datum hash.
//!
//! Invariant: a delivery is held by at most one consumer at a time; a consumer
//! whose lease passed to another learns it from
//! [`QueueError::LeaseLost`] on its next heartbeat.
//!
//! Use [`from_url`] to pick the implementation from configuration.

mod error;
mod in_process;
mod redis_streams;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use error::QueueError;
pub use in_process::InProcessQueue;
pub use redis_streams::{RedisQueue, reader_name};

/// One unit of work: a batch of datums of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The producer's id for the task (PPS uses job id + batch number). The
    /// queue does not deduplicate on it; it is carried for logs and for the
    /// worker.
    pub id: String,
    /// How many datums the task holds, so queue metrics can be weighed in
    /// datums rather than tasks.
    pub datums: u32,
    /// Opaque to the queue; PPS puts a small JSON document here.
    pub payload: Vec<u8>,
}

/// A task handed to one consumer, with what is needed to heartbeat and ack it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue the task came from.
    pub queue: String,
    /// Identifies this task within its queue (the stream entry id on Redis).
    /// It stays the same when the task is redelivered.
    pub delivery_id: String,
    /// The task itself.
    pub task: Task,
    /// How many times the task has been delivered, this delivery included: 1
    /// on first delivery, more after leases ran out. PPS compares it with
    /// `datum_tries`.
    pub attempt: u32,
}

/// How much work a queue holds, counted in tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    /// Tasks pushed and not yet delivered to any consumer.
    pub queued: u64,
    /// Tasks delivered and not yet acked, including ones whose lease ran out
    /// and that wait for redelivery.
    pub in_flight: u64,
}

/// Per-pipeline task queues for PPS; see the crate documentation.
///
/// Queues are named by the caller (PPS uses the pipeline's id) and come into
/// being on first use; there is nothing to create.
#[async_trait]
pub trait TaskQueue: Send + Sync + std::fmt::Debug {
    /// Appends `task` to the end of `queue`.
    async fn push(&self, queue: &str, task: Task) -> Result<(), QueueError>;

    /// Hands the next task of `queue` to `consumer`: first a delivery whose
    /// lease ran out (the oldest), else the oldest task not yet delivered.
    /// Waits up to `wait` for one to appear; `Ok(None)` when none did.
    ///
    /// `consumer` names the worker (its pod or process); it must be unique
    /// among the queue's live workers and stay the same between pulls and
    /// heartbeats of one worker.
    async fn pull(&self, queue: &str, consumer: &str, wait: Duration) -> Result<Option<Delivery>, QueueError>;

    /// Restarts the lease of `delivery`, which `consumer` must still hold.
    /// Call it well within the lease (a third of it is a good period).
    ///
    /// Fails with [`QueueError::LeaseLost`] when the task was redelivered to
    /// another consumer, acked or purged; the worker should then stop work on
    /// it.
    async fn heartbeat(&self, delivery: &Delivery, consumer: &str) -> Result<(), QueueError>;

    /// Marks the task done and removes it from the queue. Acking a task that
    /// is already gone (acked, purged) succeeds, so a worker can retry an ack.
    /// A late ack from a worker whose lease passed to another also completes
    /// the task, since its results are as good as anyone's.
    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError>;

    /// Hands a delivery that `consumer` holds back without running it (its
    /// worker is stopping): the next pull gets it at once, and the delivery
    /// does not count as an attempt. A delivery the consumer no longer holds
    /// (redelivered, acked, purged) is left alone. The consumer must not
    /// heartbeat the delivery afterwards.
    async fn release(&self, delivery: &Delivery, consumer: &str) -> Result<(), QueueError>;

    /// How many tasks `queue` holds; zero for a queue never used.
    async fn depth(&self, queue: &str) -> Result<Depth, QueueError>;

    /// The consumers that hold a delivery of `queue` now, sorted: the
    /// autoscaler keeps these workers when it scales down.
    async fn busy_consumers(&self, queue: &str) -> Result<Vec<String>, QueueError>;

    /// Drops every task of `queue`, delivered or not (the pipeline was
    /// deleted). Later acks of its deliveries are no-ops.
    async fn purge(&self, queue: &str) -> Result<(), QueueError>;
}

/// The queue the configuration asks for: [`RedisQueue`] when a Redis URL is
/// set, else an [`InProcessQueue`] (the `strata dev` default).
///
/// `prefix` starts every Redis key, so that several deployments or tests can
/// share one Redis; the in-process queue has no use for it. `lease` is how
/// long a delivery may go without heartbeat or ack before another consumer
/// gets it.
pub async fn from_url(
    redis_url: Option<&str>,
    prefix: &str,
    lease: Duration,
) -> Result<Arc<dyn TaskQueue>, QueueError> {
    match redis_url {
        Some(url) => Ok(Arc::new(RedisQueue::connect(url, prefix, lease).await?)),
        None => Ok(Arc::new(InProcessQueue::new(lease))),
    }
}

/// Leases are handled in whole milliseconds (Redis counts idle time in ms);
/// a zero lease would hand every delivery straight to the next puller, so
/// the shortest lease is one millisecond.
fn lease_millis(lease: Duration) -> u64 {
    let millis = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
    let rounded_up = if lease > Duration::from_millis(millis) { millis.saturating_add(1) } else { millis };
    rounded_up.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_rounded_up_to_whole_milliseconds() {
        assert_eq!(lease_millis(Duration::ZERO), 1);
        assert_eq!(lease_millis(Duration::from_micros(1500)), 2);
        assert_eq!(lease_millis(Duration::from_millis(300)), 300);
    }
}
