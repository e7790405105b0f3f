//! What every `TaskQueue` does, whichever implementation is behind it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use strata_queue::{Depth, QueueError, Task, TaskQueue};
use tokio::time::{Instant, timeout};

use crate::helpers::{Kind, LEASE, NO_EXPIRY, PATIENCE, on_both_queues, task};

on_both_queues! {
    async fn tasks_are_delivered_in_the_order_they_were_pushed(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        for n in 0..5 {
            queue.push("pipeline", task(&format!("t{n}"))).await.unwrap();
        }
        for n in 0..5 {
            let delivery = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task is queued");
            assert_eq!(delivery.task, task(&format!("t{n}")));
            assert_eq!(delivery.queue, "pipeline");
            assert_eq!(delivery.attempt, 1);
            queue.ack(&delivery).await.unwrap();
        }
    }
}

on_both_queues! {
    async fn a_task_arrives_exactly_as_it_was_pushed(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        let binary = Task { id: "binary".to_owned(), datums: 42, payload: (0..=255).collect() };
        let empty = Task { id: "empty".to_owned(), datums: 0, payload: Vec::new() };
        queue.push("pipeline", binary.clone()).await.unwrap();
        queue.push("pipeline", empty.clone()).await.unwrap();

        let first = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");
        let second = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");

        assert_eq!(first.task, binary);
        assert_eq!(second.task, empty);
        assert_ne!(first.delivery_id, second.delivery_id);
    }
}

on_both_queues! {
    async fn pulling_an_empty_queue_waits_the_given_time_then_returns_none(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        let wait = Duration::from_millis(400);

        let started = Instant::now();
        let pulled = queue.pull("pipeline", "worker", wait).await.unwrap();

        assert_eq!(pulled, None);
        assert!(started.elapsed() >= wait, "returned after {:?}, before the wait of {wait:?}", started.elapsed());
        assert!(started.elapsed() < wait + PATIENCE);
    }
}

on_both_queues! {
    async fn pulling_with_no_wait_returns_at_once(kind: Kind) {
        let queue = kind.queue(LEASE).await;

        let started = Instant::now();
        assert_eq!(queue.pull("pipeline", "worker", Duration::ZERO).await.unwrap(), None);
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());

        queue.push("pipeline", task("t")).await.unwrap();
        let delivery = queue.pull("pipeline", "worker", Duration::ZERO).await.unwrap();
        assert_eq!(delivery.map(|delivery| delivery.task), Some(task("t")));
    }
}

on_both_queues! {
    async fn a_pushed_task_wakes_a_waiting_puller_at_once(kind: Kind) {
        // A long lease, so that on Redis a puller that noticed the task only
        // at the end of a blocking slice (half the lease, at most 5 s) would
        // fail the bound below.
        let queue = kind.queue(NO_EXPIRY).await;
        let waiting = Arc::clone(&queue.queue);
        let puller = tokio::spawn(async move { waiting.pull("pipeline", "worker", Duration::from_secs(30)).await });
        queue.until_a_pull_waits().await;

        let pushed = Instant::now();
        queue.push("pipeline", task("t")).await.unwrap();
        let delivery = timeout(PATIENCE, puller).await.expect("the puller wakes").unwrap().unwrap();

        assert_eq!(delivery.map(|delivery| delivery.task), Some(task("t")));
        assert!(pushed.elapsed() < Duration::from_secs(2), "woke {:?} after the push", pushed.elapsed());
    }
}

on_both_queues! {
    async fn an_acked_task_is_never_delivered_again(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        queue.push("pipeline", task("t")).await.unwrap();
        let delivery = queue.pull("pipeline", "first", PATIENCE).await.unwrap().expect("a task");
        queue.ack(&delivery).await.unwrap();

        let again = queue.pull("pipeline", "second", LEASE * 3).await.unwrap();

        assert_eq!(again, None);
        assert_eq!(queue.depth("pipeline").await.unwrap(), Depth::default());
    }
}

on_both_queues! {
    async fn acking_twice_is_harmless(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        queue.push("pipeline", task("t")).await.unwrap();
        let delivery = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");

        queue.ack(&delivery).await.unwrap();
        queue.ack(&delivery).await.unwrap();

        assert_eq!(queue.depth("pipeline").await.unwrap(), Depth::default());
    }
}

on_both_queues! {
    async fn a_task_not_acked_within_the_lease_goes_to_the_next_consumer(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        queue.push("pipeline", task("t")).await.unwrap();
        let before_first_pull = Instant::now();
        // The first worker takes the task and dies (kill -9): no heartbeat, no ack.
        let first = queue.pull("pipeline", "doomed", PATIENCE).await.unwrap().expect("a task");

        let second = queue.pull("pipeline", "survivor", PATIENCE).await.unwrap().expect("the task is redelivered");

        assert!(before_first_pull.elapsed() >= LEASE, "redelivered after {:?}", before_first_pull.elapsed());
        assert_eq!(second.task, first.task);
        assert_eq!(second.delivery_id, first.delivery_id);
        assert_eq!(second.attempt, 2);

        let third = queue.pull("pipeline", "third", PATIENCE).await.unwrap().expect("redelivered again");
        assert_eq!(third.attempt, 3);
    }
}

on_both_queues! {
    async fn a_consumer_whose_lease_passed_to_another_can_no_longer_heartbeat(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        queue.push("pipeline", task("t")).await.unwrap();
        let first = queue.pull("pipeline", "slow", PATIENCE).await.unwrap().expect("a task");
        let second = queue.pull("pipeline", "fast", PATIENCE).await.unwrap().expect("redelivered");

        let error = queue.heartbeat(&first, "slow").await.expect_err("the slow worker lost its lease");

        assert!(matches!(error, QueueError::LeaseLost { .. }), "{error:?}");
        queue.heartbeat(&second, "fast").await.unwrap();
        // The failed heartbeat did not take the task back either.
        let error = queue.heartbeat(&second, "slow").await.expect_err("still held by the fast worker");
        assert!(matches!(error, QueueError::LeaseLost { .. }), "{error:?}");
    }
}

on_both_queues! {
    async fn a_released_task_goes_to_the_next_puller_at_once_without_counting_an_attempt(kind: Kind) {
        // No lease runs out during the test: only the release hands the task on.
        let queue = kind.queue(NO_EXPIRY).await;
        queue.push("pipeline", task("t")).await.unwrap();
        let first = queue.pull("pipeline", "stopping", PATIENCE).await.unwrap().expect("a task");

        queue.release(&first, "stopping").await.unwrap();
        let released = Instant::now();
        let second = queue.pull("pipeline", "next", PATIENCE).await.unwrap().expect("the released task");

        assert!(released.elapsed() < Duration::from_secs(2), "handed on after {:?}", released.elapsed());
        assert_eq!(second.task, first.task);
        assert_eq!(second.delivery_id, first.delivery_id);
        assert_eq!(second.attempt, 1, "a release is not a lost delivery");
        assert_eq!(queue.busy_consumers("pipeline").await.unwrap(), ["next"]);
        let error = queue.heartbeat(&first, "stopping").await.expect_err("released means no longer held");
        assert!(matches!(error, QueueError::LeaseLost { .. }), "{error:?}");
    }
}

on_both_queues! {
    async fn releasing_a_task_held_by_another_consumer_changes_nothing(kind: Kind) {
        let queue = kind.queue(NO_EXPIRY).await;
        queue.push("pipeline", task("t")).await.unwrap();
        let held = queue.pull("pipeline", "owner", PATIENCE).await.unwrap().expect("a task");

        queue.release(&held, "someone-else").await.unwrap();

        assert_eq!(queue.pull("pipeline", "someone-else", Duration::from_millis(300)).await.unwrap(), None);
        queue.heartbeat(&held, "owner").await.unwrap();
        queue.ack(&held).await.unwrap();
        queue.release(&held, "owner").await.unwrap();
        assert_eq!(queue.depth("pipeline").await.unwrap(), Depth::default());
    }
}

on_both_queues! {
    async fn a_late_ack_from_the_first_consumer_completes_the_task(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        queue.push("pipeline", task("t")).await.unwrap();
        let first = queue.pull("pipeline", "slow", PATIENCE).await.unwrap().expect("a task");
        let _second = queue.pull("pipeline", "fast", PATIENCE).await.unwrap().expect("redelivered");

        queue.ack(&first).await.unwrap();

        assert_eq!(queue.depth("pipeline").await.unwrap(), Depth::default());
        assert_eq!(queue.pull("pipeline", "third", LEASE * 3).await.unwrap(), None);
    }
}

on_both_queues! {
    async fn heartbeats_keep_a_task_from_being_redelivered(kind: Kind) {
        // A longer lease than elsewhere, so that heartbeats every tenth of it
        // never miss it on a loaded machine.
        let lease = Duration::from_secs(1);
        let queue = kind.queue(lease).await;
        queue.push("pipeline", task("t")).await.unwrap();
        let delivery = queue.pull("pipeline", "busy", PATIENCE).await.unwrap().expect("a task");
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let beating = Arc::clone(&queue.queue);
        let held = delivery.clone();
        let heartbeats = tokio::spawn(async move {
            loop {
                beating.heartbeat(&held, "busy").await.expect("the busy worker keeps its lease");
                tokio::select! {
                    _ = &mut stopped => return,
                    // A worker's heartbeat period, not synchronisation.
                    () = tokio::time::sleep(lease / 10) => {}
                }
            }
        });

        let while_beating = queue.pull("pipeline", "idle", lease * 3).await.unwrap();
        assert_eq!(while_beating, None);

        stop.send(()).unwrap();
        heartbeats.await.unwrap();
        let after = queue.pull("pipeline", "idle", PATIENCE).await.unwrap().expect("redelivered once heartbeats stop");
        assert_eq!(after.delivery_id, delivery.delivery_id);
        assert_eq!(after.attempt, 2);
    }
}

on_both_queues! {
    async fn an_expired_task_is_found_behind_many_live_ones(kind: Kind) {
        // Redis's XAUTOCLAIM looks at ten pending entries per call; the queue
        // must keep looking past them.
        let lease = Duration::from_secs(1);
        let queue = kind.queue(lease).await;
        for n in 0..30 {
            queue.push("pipeline", task(&format!("t{n:02}"))).await.unwrap();
        }
        let mut live = Vec::new();
        for _ in 0..29 {
            live.push(queue.pull("pipeline", "alive", PATIENCE).await.unwrap().expect("a task"));
        }
        let abandoned = queue.pull("pipeline", "dead", PATIENCE).await.unwrap().expect("a task");
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let beating = Arc::clone(&queue.queue);
        let heartbeats = tokio::spawn(async move {
            loop {
                for delivery in &live {
                    beating.heartbeat(delivery, "alive").await.expect("the live worker keeps its leases");
                }
                tokio::select! {
                    _ = &mut stopped => return,
                    // A worker's heartbeat period, not synchronisation.
                    () = tokio::time::sleep(lease / 10) => {}
                }
            }
        });

        let taken_over = queue.pull("pipeline", "rescuer", PATIENCE).await.unwrap().expect("the abandoned task");

        stop.send(()).unwrap();
        heartbeats.await.unwrap();
        assert_eq!(taken_over.task, abandoned.task);
        assert_eq!(taken_over.attempt, 2);
    }
}

on_both_queues! {
    async fn depth_counts_queued_and_in_flight_tasks(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        let depth = |queued, in_flight| Depth { queued, in_flight };
        assert_eq!(queue.depth("pipeline").await.unwrap(), depth(0, 0));

        for n in 0..3 {
            queue.push("pipeline", task(&format!("t{n}"))).await.unwrap();
        }
        assert_eq!(queue.depth("pipeline").await.unwrap(), depth(3, 0));

        let first = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");
        assert_eq!(queue.depth("pipeline").await.unwrap(), depth(2, 1));

        queue.ack(&first).await.unwrap();
        assert_eq!(queue.depth("pipeline").await.unwrap(), depth(2, 0));

        let second = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");
        let third = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");
        assert_eq!(queue.depth("pipeline").await.unwrap(), depth(0, 2));

        // A redelivery moves nothing between the counts.
        let again = queue.pull("pipeline", "other", PATIENCE).await.unwrap().expect("redelivered");
        assert_eq!(again.attempt, 2);
        assert_eq!(queue.depth("pipeline").await.unwrap(), depth(0, 2));

        queue.ack(&second).await.unwrap();
        queue.ack(&third).await.unwrap();
        assert_eq!(queue.depth("pipeline").await.unwrap(), depth(0, 0));
    }
}

on_both_queues! {
    async fn busy_consumers_are_those_holding_a_delivery(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        assert_eq!(queue.busy_consumers("pipeline").await.unwrap(), Vec::<String>::new(), "never used");
        for n in 0..3 {
            queue.push("pipeline", task(&format!("t{n}"))).await.unwrap();
        }
        let first = queue.pull("pipeline", "worker-b", PATIENCE).await.unwrap().expect("a task");
        queue.pull("pipeline", "worker-a", PATIENCE).await.unwrap().expect("a task");
        queue.pull("pipeline", "worker-a", PATIENCE).await.unwrap().expect("a task");
        assert_eq!(queue.busy_consumers("pipeline").await.unwrap(), ["worker-a", "worker-b"]);
        queue.ack(&first).await.unwrap();
        assert_eq!(queue.busy_consumers("pipeline").await.unwrap(), ["worker-a"]);
        assert_eq!(queue.busy_consumers("other").await.unwrap(), Vec::<String>::new());
    }
}

on_both_queues! {
    async fn queues_are_independent(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        queue.push("edges", task("e1")).await.unwrap();
        queue.push("edges", task("e2")).await.unwrap();
        queue.push("montage", task("m1")).await.unwrap();

        let montage = queue.pull("montage", "worker", PATIENCE).await.unwrap().expect("a task");
        assert_eq!(montage.task, task("m1"));
        assert_eq!(queue.pull("montage", "worker", Duration::from_millis(100)).await.unwrap(), None);
        assert_eq!(queue.pull("unused", "worker", Duration::from_millis(100)).await.unwrap(), None);

        assert_eq!(queue.depth("edges").await.unwrap(), Depth { queued: 2, in_flight: 0 });
        assert_eq!(queue.depth("montage").await.unwrap(), Depth { queued: 0, in_flight: 1 });
        assert_eq!(queue.depth("unused").await.unwrap(), Depth::default());
        let edges = queue.pull("edges", "worker", PATIENCE).await.unwrap().expect("a task");
        assert_eq!(edges.task, task("e1"));
    }
}

on_both_queues! {
    async fn purging_drops_queued_and_in_flight_tasks(kind: Kind) {
        let queue = kind.queue(LEASE).await;
        for n in 0..3 {
            queue.push("pipeline", task(&format!("t{n}"))).await.unwrap();
        }
        queue.push("other", task("kept")).await.unwrap();
        let in_flight = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");

        queue.purge("pipeline").await.unwrap();

        assert_eq!(queue.depth("pipeline").await.unwrap(), Depth::default());
        // Not even the in-flight task comes back once its lease is over.
        assert_eq!(queue.pull("pipeline", "worker", LEASE * 3).await.unwrap(), None);
        // Its worker finds out on the next heartbeat, and may still ack.
        let error = queue.heartbeat(&in_flight, "worker").await.expect_err("the task is gone");
        assert!(matches!(error, QueueError::LeaseLost { .. }), "{error:?}");
        queue.ack(&in_flight).await.unwrap();
        assert_eq!(queue.depth("other").await.unwrap(), Depth { queued: 1, in_flight: 0 });

        // The queue can be used again afterwards.
        queue.push("pipeline", task("fresh")).await.unwrap();
        let fresh = queue.pull("pipeline", "worker", PATIENCE).await.unwrap().expect("a task");
        assert_eq!(fresh.task, task("fresh"));
        assert_eq!(fresh.attempt, 1);
    }
}

on_both_queues! {
    async fn a_puller_waiting_on_a_purged_queue_still_gets_later_tasks(kind: Kind) {
        let queue = kind.queue(NO_EXPIRY).await;
        let waiting = Arc::clone(&queue.queue);
        let puller = tokio::spawn(async move { waiting.pull("pipeline", "worker", Duration::from_secs(30)).await });
        queue.until_a_pull_waits().await;

        queue.purge("pipeline").await.unwrap();
        queue.push("pipeline", task("after purge")).await.unwrap();

        let delivery = timeout(PATIENCE, puller).await.expect("the puller wakes").unwrap().unwrap();
        assert_eq!(delivery.map(|delivery| delivery.task), Some(task("after purge")));
    }
}

on_both_queues! {
    async fn concurrent_pullers_each_get_different_tasks(kind: Kind) {
        // Nothing expires during the test, so any task seen twice was
        // delivered twice within its lease.
        let queue = kind.queue(NO_EXPIRY).await;
        let count = 40;
        for n in 0..count {
            queue.push("pipeline", task(&format!("t{n:02}"))).await.unwrap();
        }

        let mut pullers = Vec::new();
        for worker in 0..5 {
            let queue: Arc<dyn TaskQueue> = Arc::clone(&queue.queue);
            pullers.push(tokio::spawn(async move {
                let consumer = format!("worker-{worker}");
                let mut seen = Vec::new();
                while let Some(delivery) = queue.pull("pipeline", &consumer, Duration::from_millis(300)).await.unwrap() {
                    seen.push(delivery.task.id);
                }
                seen
            }));
        }
        let mut all = Vec::new();
        for puller in pullers {
            all.extend(timeout(PATIENCE, puller).await.expect("pullers finish").unwrap());
        }

        let distinct: BTreeSet<_> = all.iter().cloned().collect();
        assert_eq!(all.len(), count, "some task was delivered twice: {all:?}");
        assert_eq!(distinct, (0..count).map(|n| format!("t{n:02}")).collect());
        assert_eq!(queue.depth("pipeline").await.unwrap(), Depth { queued: 0, in_flight: count as u64 });
    }
}
