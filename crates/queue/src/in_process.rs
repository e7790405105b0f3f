//! The embedded queue of `strata dev`: plain memory guarded by a mutex.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

use crate::{Delivery, Depth, QueueError, Task, TaskQueue, lease_millis};

/// Task queues held in this process's memory, for `strata dev` and tests,
/// where the PPS master and its workers share one process and no Redis is
/// configured. Behaves like [`RedisQueue`](crate::RedisQueue) in every way
/// the [`TaskQueue`] contract describes; tasks do not survive the process.
#[derive(Debug)]
pub struct InProcessQueue {
    lease: Duration,
    // One lock for all queues keeps the code obvious; every critical section
    // is a few map operations and never spans an await, so contention is not
    // a concern at `strata dev` scale. tokio's mutex rather than std's so that
    // a panic elsewhere cannot poison the queue.
    inner: Mutex<Inner>,
    /// Pulls waiting for a task right now, over all queues.
    waiting: AtomicUsize,
}

/// Counts a pull as waiting for as long as it lives (a cancelled pull too).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn start(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Delivery ids are unique across all queues and never reused, so a
    /// stale delivery of a purged queue can never ack or heartbeat a task
    /// pushed after the purge.
    next_id: u64,
    queues: HashMap<String, QueueState>,
}

#[derive(Debug, Default)]
struct QueueState {
    /// Tasks never delivered, oldest first.
    ready: VecDeque<(u64, Task)>,
    /// Delivered and not acked, by id, so that the oldest expired delivery
    /// is redelivered first, as Redis's XAUTOCLAIM does.
    in_flight: BTreeMap<u64, InFlight>,
    /// Wakes pullers waiting on this queue when a task is pushed or the
    /// queue is purged.
    notify: Arc<Notify>,
}

#[derive(Debug)]
struct InFlight {
    task: Task,
    consumer: String,
    attempt: u32,
    lease_ends: Instant,
    /// Handed back by its consumer rather than lost.
    released: bool,
}

impl InProcessQueue {
    /// An empty set of queues whose deliveries are redelivered after `lease`
    /// without heartbeat or ack (rounded up to whole milliseconds, like on
    /// Redis).
    pub fn new(lease: Duration) -> Self {
        Self {
            lease: Duration::from_millis(lease_millis(lease)),
            inner: Mutex::default(),
            waiting: AtomicUsize::new(0),
        }
    }

    /// How many pulls wait for a task right now, registered to be woken by
    /// the next push: what tests wait for before pushing.
    pub fn waiting_pulls(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

impl QueueState {
    /// The next delivery for `consumer`, if any task is available now.
    fn take(&mut self, queue: &str, consumer: &str, now: Instant, lease: Duration) -> Option<Delivery> {
        let expired = self.in_flight.iter_mut().find(|(_, delivery)| delivery.lease_ends <= now);
        if let Some((&id, delivery)) = expired {
            if delivery.released {
                tracing::debug!(queue, task = %delivery.task.id, from = %delivery.consumer, to = consumer, "redelivering a released task");
            } else {
                tracing::warn!(queue, task = %delivery.task.id, from = %delivery.consumer, to = consumer, "lease ran out; redelivering task");
            }
            delivery.released = false;
            delivery.consumer = consumer.to_owned();
            delivery.attempt = delivery.attempt.saturating_add(1);
            delivery.lease_ends = now + lease;
            return Some(delivery_of(queue, id, &delivery.task, delivery.attempt));
        }
        let (id, task) = self.ready.pop_front()?;
        let delivery = delivery_of(queue, id, &task, 1);
        self.in_flight.insert(
            id,
            InFlight { task, consumer: consumer.to_owned(), attempt: 1, lease_ends: now + lease, released: false },
        );
        Some(delivery)
    }

    /// When the earliest lease runs out, so a waiting puller can wake then.
    fn next_expiry(&self) -> Option<Instant> {
        self.in_flight.values().map(|delivery| delivery.lease_ends).min()
    }
}

fn delivery_of(queue: &str, id: u64, task: &Task, attempt: u32) -> Delivery {
    Delivery { queue: queue.to_owned(), delivery_id: id.to_string(), task: task.clone(), attempt }
}

#[async_trait]
impl TaskQueue for InProcessQueue {
    async fn push(&self, queue: &str, task: Task) -> Result<(), QueueError> {
        let mut inner = self.inner.lock().await;
        let id = inner.next_id;
        inner.next_id += 1;
        let state = inner.queues.entry(queue.to_owned()).or_default();
        state.ready.push_back((id, task));
        // Every waiter re-checks; in one process a few spurious wake-ups cost
        // less than reasoning about which waiter a single permit reached.
        state.notify.notify_waiters();
        Ok(())
    }

    async fn pull(&self, queue: &str, consumer: &str, wait: Duration) -> Result<Option<Delivery>, QueueError> {
        let deadline = Instant::now() + wait;
        loop {
            let mut inner = self.inner.lock().await;
            let state = inner.queues.entry(queue.to_owned()).or_default();
            let now = Instant::now();
            if let Some(delivery) = state.take(queue, consumer, now, self.lease) {
                return Ok(Some(delivery));
            }
            if now >= deadline {
                return Ok(None);
            }
            let wake_at = state.next_expiry().map_or(deadline, |expiry| expiry.min(deadline));
            let notify = Arc::clone(&state.notify);
            // Register for the notification before letting go of the lock, so
            // a push between unlocking and waiting is not missed.
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            drop(inner);
            let _waiting = Waiting::start(&self.waiting);
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    async fn heartbeat(&self, delivery: &Delivery, consumer: &str) -> Result<(), QueueError> {
        let lost = || QueueError::LeaseLost {
            queue: delivery.queue.clone(),
            delivery_id: delivery.delivery_id.clone(),
            consumer: consumer.to_owned(),
        };
        let id: u64 = delivery.delivery_id.parse().map_err(|_| lost())?;
        let mut inner = self.inner.lock().await;
        let held = inner
            .queues
            .get_mut(&delivery.queue)
            .and_then(|state| state.in_flight.get_mut(&id))
            .filter(|held| held.consumer == consumer)
            .ok_or_else(lost)?;
        held.lease_ends = Instant::now() + self.lease;
        Ok(())
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        // An id we did not hand out cannot be in flight, so there is nothing
        // to remove.
        let Ok(id) = delivery.delivery_id.parse::<u64>() else {
            return Ok(());
        };
        let mut inner = self.inner.lock().await;
        if let Some(state) = inner.queues.get_mut(&delivery.queue) {
            state.in_flight.remove(&id);
        }
        Ok(())
    }

    async fn release(&self, delivery: &Delivery, consumer: &str) -> Result<(), QueueError> {
        let Ok(id) = delivery.delivery_id.parse::<u64>() else {
            return Ok(());
        };
        let mut inner = self.inner.lock().await;
        let Some(state) = inner.queues.get_mut(&delivery.queue) else {
            return Ok(());
        };
        if let Some(held) = state.in_flight.get_mut(&id).filter(|held| held.consumer == consumer) {
            // Expired now, one attempt fewer: the next `take` redelivers it
            // and counts the same attempt again.
            held.lease_ends = Instant::now();
            held.attempt = held.attempt.saturating_sub(1);
            held.released = true;
            state.notify.notify_waiters();
        }
        Ok(())
    }

    async fn depth(&self, queue: &str) -> Result<Depth, QueueError> {
        let inner = self.inner.lock().await;
        let Some(state) = inner.queues.get(queue) else {
            return Ok(Depth::default());
        };
        Ok(Depth { queued: state.ready.len() as u64, in_flight: state.in_flight.len() as u64 })
    }

    async fn busy_consumers(&self, queue: &str) -> Result<Vec<String>, QueueError> {
        let inner = self.inner.lock().await;
        let mut busy: Vec<String> = inner
            .queues
            .get(queue)
            .map(|state| state.in_flight.values().map(|delivery| delivery.consumer.clone()).collect())
            .unwrap_or_default();
        busy.sort();
        busy.dedup();
        Ok(busy)
    }

    async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        let removed = self.inner.lock().await.queues.remove(queue);
        // Pullers waiting on the removed state must look again, or they would
        // sleep through pushes to the queue's fresh state until their timeout.
        if let Some(state) = removed {
            state.notify.notify_waiters();
        }
        Ok(())
    }
}
