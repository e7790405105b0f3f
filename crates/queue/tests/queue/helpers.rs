//! Queues for tests, and the macro that runs one behaviour on both.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use strata_queue::{InProcessQueue, RedisQueue, Task, TaskQueue, reader_name};
use strata_testkit::TestRedis;

/// Short, so redelivery tests are fast, yet long enough that a loaded
/// machine finishes a pull and an ack well within it.
pub const LEASE: Duration = Duration::from_millis(300);

/// A lease no test outlives: nothing is redelivered during the test.
pub const NO_EXPIRY: Duration = Duration::from_secs(60);

/// How long a test waits for something that must happen; only reached when
/// the behaviour is broken.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Which implementation a behaviour runs on.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    InProcess,
    Redis,
}

impl Kind {
    /// A fresh, empty queue set of this kind with the given lease.
    pub async fn queue(self, lease: Duration) -> TestQueue {
        match self {
            Self::InProcess => {
                let queue = Arc::new(InProcessQueue::new(lease));
                TestQueue { queue: queue.clone(), redis: None, in_process: Some(queue) }
            }
            Self::Redis => {
                let redis = TestRedis::new().await;
                let queue =
                    RedisQueue::connect(&redis.url, &redis.prefix, lease).await.expect("connect to the test Redis");
                TestQueue { queue: Arc::new(queue), redis: Some(redis), in_process: None }
            }
        }
    }
}

/// A queue under test; derefs to the trait so tests read like callers' code.
#[derive(Debug)]
pub struct TestQueue {
    pub queue: Arc<dyn TaskQueue>,
    /// The key space of a Redis queue, deleted when the test ends.
    pub redis: Option<TestRedis>,
    /// The same queue as `queue` when it is the in-process one.
    in_process: Option<Arc<InProcessQueue>>,
}

impl TestQueue {
    /// Waits until a pull is waiting for a task, so that what the test does
    /// next (a push, a purge, Redis losing its data) meets a waiting puller:
    /// on Redis one of this queue's reader connections blocked in
    /// `XREADGROUP`, in process a pull registered for wake-ups.
    pub async fn until_a_pull_waits(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !self.a_pull_waits().await {
            assert!(tokio::time::Instant::now() < deadline, "no pull started waiting within {PATIENCE:?}");
            // Poll interval of a wait-for-condition loop, not synchronisation.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn a_pull_waits(&self) -> bool {
        if let Some(queue) = &self.in_process {
            return queue.waiting_pulls() > 0;
        }
        let redis = self.redis.as_ref().expect("a queue is in process or on Redis");
        let clients: String =
            redis::cmd("CLIENT").arg("LIST").query_async(&mut redis.connection().await).await.expect("CLIENT LIST");
        let name = format!("name={}", reader_name(&redis.prefix));
        clients.lines().any(|client| {
            let fields: Vec<&str> = client.split(' ').collect();
            let blocked = fields.iter().any(|f| f.strip_prefix("flags=").is_some_and(|flags| flags.contains('b')));
            fields.contains(&name.as_str()) && blocked
        })
    }
}

impl Deref for TestQueue {
    type Target = dyn TaskQueue;

    fn deref(&self) -> &Self::Target {
        &*self.queue
    }
}

/// A task whose payload and weight derive from its id.
pub fn task(id: &str) -> Task {
    Task { id: id.to_owned(), datums: 1, payload: format!("{{\"datums\":[\"{id}\"]}}").into_bytes() }
}

/// Every message in an error's source chain, for checking what a user sees.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

/// Runs an async behaviour `fn name(kind: Kind)` once per implementation, as
/// two tests `name::in_process` and `name::redis`.
macro_rules! on_both_queues {
    ($(#[$meta:meta])* async fn $name:ident($kind:ident: Kind) $body:block) => {
        $(#[$meta])*
        mod $name {
            use super::*;

            async fn check($kind: Kind) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_process() {
                check(Kind::InProcess).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                check(Kind::Redis).await;
            }
        }
    };
}

pub(crate) use on_both_queues;
