//! What only the Redis queue faces: Redis losing its data, key naming,
//! connection errors.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use strata_queue::{Depth, QueueError, RedisQueue, from_url};
use strata_testkit::TestRedis;
use tokio::time::timeout;

use crate::helpers::{Kind, LEASE, NO_EXPIRY, PATIENCE, TestQueue, error_chain, task};

fn test_redis(queue: &TestQueue) -> &TestRedis {
    queue.redis.as_ref().expect("a Redis queue")
}

/// What a Redis restart without persistence does to us: every key we own
/// is gone. Only our prefix is wiped; other tests share this Redis.
async fn forget_everything(redis: &TestRedis) {
    let keys = redis.keys().await;
    if !keys.is_empty() {
        let _: u64 = redis.connection().await.del(keys).await.unwrap();
    }
}

#[tokio::test]
async fn every_key_starts_with_the_configured_prefix() {
    let queue = Kind::Redis.queue(LEASE).await;
    let redis = test_redis(&queue);

    queue.push("edges", task("t")).await.unwrap();
    let delivery = queue.pull("edges", "worker", PATIENCE).await.unwrap().expect("a task");
    queue.heartbeat(&delivery, "worker").await.unwrap();
    queue.ack(&delivery).await.unwrap();

    assert_eq!(redis.keys().await, vec![redis.key("pps:queue:edges")]);
}

#[tokio::test]
async fn a_stream_deleted_behind_our_back_is_recreated() {
    let queue = Kind::Redis.queue(LEASE).await;
    let redis = test_redis(&queue);
    queue.push("pipeline", task("before")).await.unwrap();
    let before = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");
    queue.ack(&before).await.unwrap();

    let _: u64 = redis.connection().await.del(redis.key("pps:queue:pipeline")).await.unwrap();

    assert_eq!(queue.depth("pipeline").await.unwrap(), Depth::default());
    queue.push("pipeline", task("after")).await.unwrap();
    assert_eq!(queue.depth("pipeline").await.unwrap(), Depth { queued: 1, in_flight: 0 });
    let after = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("the task pushed after the loss");
    assert_eq!(after.task, task("after"));
    assert_eq!(after.attempt, 1);
    assert_eq!(queue.depth("pipeline").await.unwrap(), Depth { queued: 0, in_flight: 1 });
    queue.ack(&after).await.unwrap();
    assert_eq!(queue.depth("pipeline").await.unwrap(), Depth::default());
}

#[tokio::test]
async fn a_pull_on_a_lost_stream_finds_nothing_and_fails_nothing() {
    let queue = Kind::Redis.queue(LEASE).await;
    let redis = test_redis(&queue);
    queue.push("pipeline", task("lost")).await.unwrap();
    let _ = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");

    forget_everything(redis).await;

    assert_eq!(queue.pull("pipeline", "worker", Duration::ZERO).await.unwrap(), None);
    assert_eq!(queue.pull("pipeline", "worker", Duration::from_millis(200)).await.unwrap(), None);
}

#[tokio::test]
async fn deliveries_lost_with_the_data_fail_heartbeat_and_ack_quietly() {
    let queue = Kind::Redis.queue(LEASE).await;
    queue.push("pipeline", task("t")).await.unwrap();
    let delivery = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");

    forget_everything(test_redis(&queue)).await;

    let error = queue.heartbeat(&delivery, "worker").await.expect_err("the delivery is gone");
    assert!(matches!(error, QueueError::LeaseLost { .. }), "{error:?}");
    queue.ack(&delivery).await.unwrap();
    assert_eq!(queue.depth("pipeline").await.unwrap(), Depth::default());
}

#[tokio::test]
async fn a_puller_blocked_while_redis_loses_its_data_gets_the_next_task() {
    let queue = Kind::Redis.queue(NO_EXPIRY).await;
    // Make sure the stream and group exist, so the puller really blocks on
    // them and is then unblocked by their deletion.
    queue.push("pipeline", task("before")).await.unwrap();
    let before = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");
    queue.ack(&before).await.unwrap();
    let waiting = Arc::clone(&queue.queue);
    let puller = tokio::spawn(async move { waiting.pull("pipeline", "worker", Duration::from_secs(30)).await });
    queue.until_a_pull_waits().await;

    forget_everything(test_redis(&queue)).await;
    // Unblocked by the loss, the puller recreates the group and waits again.
    queue.until_a_pull_waits().await;
    queue.push("pipeline", task("after")).await.unwrap();

    let delivery = timeout(PATIENCE, puller).await.expect("the puller is not stuck").unwrap().unwrap();
    assert_eq!(delivery.map(|delivery| delivery.task), Some(task("after")));
}

#[tokio::test]
async fn a_task_pushed_before_any_pull_survives_group_creation() {
    // Streams created by XADD have no group; the group must start at the
    // beginning of the stream, not at its end, or this task is skipped.
    let queue = Kind::Redis.queue(LEASE).await;
    forget_everything(test_redis(&queue)).await;

    queue.push("new", task("first")).await.unwrap();

    let delivery = queue.pull("new", "worker", PATIENCE).await.unwrap().expect("the first task");
    assert_eq!(delivery.task, task("first"));
}

#[tokio::test]
async fn connection_errors_never_show_the_password() {
    // Port 1 refuses connections, so the password is never even sent.
    let url = "redis://:hunter2@127.0.0.1:1/0";

    let error = RedisQueue::connect(url, "test:", LEASE).await.expect_err("nothing listens on port 1");

    let shown = format!("{} / {error:?}", error_chain(&error));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("127.0.0.1:1"), "names the server: {shown}");
    let from_config = from_url(Some(url), "test:", LEASE).await.expect_err("same failure");
    assert!(!error_chain(&from_config).contains("hunter2"));
}

#[tokio::test]
async fn the_configuration_picks_redis_only_when_a_url_is_set() {
    let redis = TestRedis::new().await;

    let embedded = from_url(None, &redis.prefix, LEASE).await.unwrap();
    let production = from_url(Some(&redis.url), &redis.prefix, LEASE).await.unwrap();

    assert!(format!("{embedded:?}").starts_with("InProcessQueue"), "{embedded:?}");
    assert!(format!("{production:?}").starts_with("RedisQueue"), "{production:?}");
    production.push("pipeline", task("t")).await.unwrap();
    assert_eq!(redis.keys().await, vec![redis.key("pps:queue:pipeline")]);
}
