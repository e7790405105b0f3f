//! Queues for tests, and the macro that runs one behaviour on both.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use strata_queue::{InProcessQueue, RedisQueue, Task, TaskQueue};
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
            Self::InProcess => TestQueue { queue: Arc::new(InProcessQueue::new(lease)), redis: None },
            Self::Redis => {
                let redis = TestRedis::new().await;
                let queue =
                    RedisQueue::connect(&redis.url, &redis.prefix, lease).await.expect("connect to the test Redis");
                TestQueue { queue: Arc::new(queue), redis: Some(redis) }
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
