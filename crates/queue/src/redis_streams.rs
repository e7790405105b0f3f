//! The production queue: one Redis stream per queue, shared by the queue's
//! workers through one consumer group.
//!
//! Commands and where they are used:
//!
//! * push: `XADD {prefix}pps:queue:{name} * task <id> datums <n> payload <bytes>`.
//! * pull: `XAUTOCLAIM` with the lease as min-idle-time takes over the oldest
//!   delivery nobody heartbeated or acked within the lease (its worker died);
//!   `XPENDING` then reads the delivery count for [`Delivery::attempt`]. Failing
//!   that, `XREADGROUP ... >` hands out the oldest undelivered entry.
//! * heartbeat: `XCLAIM ... JUSTID` to the same consumer resets the entry's
//!   idle time without counting a delivery, inside a script that first checks
//!   the consumer still owns it, so a slow worker cannot take a task back from
//!   the worker it was redelivered to.
//! * release: inside a script that checks ownership like heartbeat, `XCLAIM
//!   ... IDLE <lease> RETRYCOUNT <count - 1> JUSTID` makes the entry look
//!   expired to the next `XAUTOCLAIM` without counting the release as a
//!   delivery (the reclaim counts the same attempt again).
//! * ack: `XACK` + `XDEL` in one `MULTI`, so the stream holds exactly the
//!   undelivered and the in-flight entries and does not grow without bound.
//! * depth: `XLEN` and the `XPENDING` summary in one script (atomic):
//!   in flight = pending, queued = length − pending. `XINFO GROUPS`' `lag` is
//!   not used because the `XDEL`s of acked entries leave tombstones that make
//!   Redis report it as unknown (nil).
//! * purge: `DEL`. A worker that still pulls from the purged queue creates an
//!   empty stream and group again, which cost a few bytes and hold no tasks.
//!
//! Consumers are created by Redis on their first read and stay listed in the
//! group after their worker is gone; they hold no tasks once their deliveries
//! have been taken over, so they are left alone rather than tracked.
//!
//! Redis here keeps nothing on disk, so a restart loses streams and groups.
//! Whenever a pull meets `NOGROUP` (no stream or no group) or `UNBLOCKED`
//! (the stream was deleted while we waited on it) the group is created again
//! with `MKSTREAM`, starting at id 0 so entries pushed since the restart are
//! delivered, and the pull goes on. The tasks lost in the restart are not the
//! queue's to recover: PPS re-enqueues unfinished datums from its database.
//!
//! Blocking reads: `XREADGROUP ... BLOCK` holds its connection until data
//! arrives, and on the multiplexed [`ConnectionManager`] that would stall every
//! other command of the process behind it (heartbeats and acks included). So
//! blocking reads run on dedicated connections from a small pool, one per
//! waiting pull, while everything else shares the manager. A block lasts at
//! most half a lease (capped at 5 s) so that a waiting puller also notices
//! expired deliveries. A reader connection is returned to the pool only after
//! a clean reply; if a pull is cancelled mid-block the connection is dropped,
//! and should Redis have handed it an entry in that instant, the entry is
//! redelivered after the lease like any other lost delivery. Polling instead
//! would have cost a round trip per idle worker every few milliseconds to be
//! as prompt.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Cmd, RedisError, RedisResult, Script};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::redact_url;
use crate::{Delivery, Depth, QueueError, Task, TaskQueue, lease_millis};

/// The one consumer group of every queue stream: all workers of a pipeline
/// share its tasks.
const GROUP: &str = "workers";

/// How long ordinary commands may take before they fail. Generous, because a
/// loaded CI machine is slow; every command here is O(1) or O(log n) except
/// XAUTOCLAIM, which is bounded by its COUNT.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Connecting gives up after this long per attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Reconnection attempts (with jittered exponential backoff from 100 ms) before
/// a command fails. Few, so that an outage surfaces within about a second:
/// our callers (worker loops, the PPS master) retry with their own backoff,
/// and a pull stuck for many seconds inside the library helps no one.
const CONNECT_RETRIES: usize = 3;

/// The longest single `XREADGROUP ... BLOCK`.
const MAX_BLOCK: Duration = Duration::from_secs(5);

/// The shortest block worth a dedicated connection; below it we read
/// without blocking.
const MIN_BLOCK: Duration = Duration::from_millis(10);

/// Reader connections kept for reuse; more concurrent pulls than this open
/// connections that are closed afterwards.
const MAX_IDLE_READERS: usize = 16;

/// The start of the scripts that act on a delivery only while its consumer
/// owns it: `owned` is the delivery's pending entry
/// `[id, consumer, idle ms, times delivered]` for entry ARGV[3], consumer
/// ARGV[2] and group ARGV[1]; the script returns 0 when there is none
/// (redelivered, acked, or the stream or group is gone).
const IF_OWNED: &str = r"
local ok, owned = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if not ok then
  local message = tostring(owned.err or owned)
  if string.find(message, 'NOGROUP', 1, true) then return 0 end
  return redis.error_reply(message)
end
if #owned == 0 then return 0 end
";

/// After [`IF_OWNED`]: restart the lease. Returns 1.
const HEARTBEAT: &str = r"
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
";

/// After [`IF_OWNED`]: make the entry idle for ARGV[4] ms (one lease, so
/// `XAUTOCLAIM` takes it at once) and take back the delivery it counted.
/// Returns 1.
const RELEASE: &str = r"
local delivered = tonumber(owned[1][4])
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4], 'RETRYCOUNT', math.max(delivered - 1, 0), 'JUSTID')
return 1
";

/// Atomically: the stream's length and the group's pending count, so that
/// `queued = length - pending` is never computed from two different moments.
const DEPTH_SCRIPT: &str = r"
local length = redis.call('XLEN', KEYS[1])
local ok, summary = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if not ok then
  local message = tostring(summary.err or summary)
  if string.find(message, 'NOGROUP', 1, true) then return {length, 0} end
  return redis.error_reply(message)
end
return {length, summary[1]}
";

/// Task queues on Redis Streams; see the module documentation for the
/// commands and the handling of Redis restarts. Cheap to share behind an
/// `Arc`; all methods take `&self`.
pub struct RedisQueue {
    /// Shared, auto-reconnecting connection for every non-blocking command.
    commands: ConnectionManager,
    /// Opens dedicated connections for blocking reads.
    client: redis::Client,
    reader_config: AsyncConnectionConfig,
    idle_readers: Mutex<Vec<MultiplexedConnection>>,
    /// The client name of the blocking-read connections, see [`reader_name`].
    reader_name: String,
    prefix: String,
    lease_ms: u64,
    block_slice: Duration,
    heartbeat_script: Script,
    release_script: Script,
    depth_script: Script,
    /// For `Debug` only, with the password redacted.
    redacted_url: String,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("url", &self.redacted_url)
            .field("prefix", &self.prefix)
            .field("lease_ms", &self.lease_ms)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`).
    /// Every key the queue writes starts with `prefix`. A delivery is handed to
    /// another consumer after `lease` without heartbeat or ack (rounded up to
    /// whole milliseconds).
    ///
    /// Fails with [`QueueError::Connect`] when the URL is invalid or the
    /// server does not answer after a few retries (about a second).
    pub async fn connect(url: &str, prefix: &str, lease: Duration) -> Result<Self, QueueError> {
        let redacted_url = redact_url(url);
        let connect_error = |source| QueueError::Connect { url: redacted_url.clone(), source };
        let client = redis::Client::open(url).map_err(connect_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(CONNECT_RETRIES)
            .set_max_delay(Duration::from_secs(1));
        let commands = ConnectionManager::new_with_config(client.clone(), config).await.map_err(connect_error)?;
        let lease_ms = lease_millis(lease);
        let block_slice = (Duration::from_millis(lease_ms) / 2).clamp(MIN_BLOCK, MAX_BLOCK);
        let reader_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(MAX_BLOCK + COMMAND_TIMEOUT));
        Ok(Self {
            commands,
            client,
            reader_config,
            idle_readers: Mutex::default(),
            reader_name: reader_name(prefix),
            prefix: prefix.to_owned(),
            lease_ms,
            block_slice,
            heartbeat_script: Script::new(&format!("{IF_OWNED}{HEARTBEAT}")),
            release_script: Script::new(&format!("{IF_OWNED}{RELEASE}")),
            depth_script: Script::new(DEPTH_SCRIPT),
            redacted_url,
        })
    }

    /// The stream that holds `queue`.
    fn key(&self, queue: &str) -> String {
        format!("{}pps:queue:{queue}", self.prefix)
    }

    /// Creates the consumer group (and the stream if missing) at id 0, so
    /// that entries already in the stream are delivered. Another puller
    /// creating it at the same time is fine.
    async fn create_group(&self, key: &str, queue: &str) -> Result<(), QueueError> {
        let mut commands = self.commands.clone();
        let created: RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(key)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut commands)
            .await;
        match created {
            Ok(()) => {
                tracing::info!(queue, "created the consumer group (first use of the queue, or Redis lost its data)");
                Ok(())
            }
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
            Err(error) => Err(QueueError::redis("create consumer group", queue)(error)),
        }
    }

    /// One attempt at a delivery: an expired one, else a new one, waiting at
    /// most one block slice (and not past `deadline`) for a new one.
    async fn pull_once(
        &self,
        key: &str,
        queue: &str,
        consumer: &str,
        deadline: Instant,
    ) -> RedisResult<Option<Delivery>> {
        if let Some(delivery) = self.claim_expired(key, queue, consumer).await? {
            return Ok(Some(delivery));
        }
        let block = deadline.saturating_duration_since(Instant::now()).min(self.block_slice);
        let reply = if block < MIN_BLOCK {
            xreadgroup(key, consumer, None).query_async(&mut self.commands.clone()).await?
        } else {
            self.read_blocking(&xreadgroup(key, consumer, Some(block))).await?
        };
        let Some(entry) =
            reply.and_then(|reply| reply.keys.into_iter().next()).and_then(|key| key.ids.into_iter().next())
        else {
            return Ok(None);
        };
        // A new entry (read with `>`) is on its first delivery by definition.
        self.delivery_of(key, queue, entry, 1).await
    }

    /// Takes over the oldest delivery idle for longer than the lease, if any.
    async fn claim_expired(&self, key: &str, queue: &str, consumer: &str) -> RedisResult<Option<Delivery>> {
        let mut commands = self.commands.clone();
        // XAUTOCLAIM examines at most ten pending entries per COUNT, so with
        // many fresh deliveries ahead of an expired one we follow the cursor.
        let mut cursor = "0-0".to_owned();
        loop {
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(key)
                .arg(GROUP)
                .arg(consumer)
                .arg(self.lease_ms)
                .arg(&cursor)
                .arg("COUNT")
                .arg(1)
                .query_async(&mut commands)
                .await?;
            if let Some(entry) = reply.claimed.into_iter().next() {
                let pending: StreamPendingCountReply = redis::cmd("XPENDING")
                    .arg(key)
                    .arg(GROUP)
                    .arg(&entry.id)
                    .arg(&entry.id)
                    .arg(1)
                    .query_async(&mut commands)
                    .await?;
                // Not pending any more: its first worker acked it just now,
                // so the task is done and there is nothing to redeliver.
                if let Some(count) = pending.ids.first().map(|pending| pending.times_delivered) {
                    let attempt = u32::try_from(count).unwrap_or(u32::MAX);
                    let delivery = self.delivery_of(key, queue, entry, attempt).await?;
                    if let Some(delivery) = &delivery {
                        tracing::warn!(queue, task = %delivery.task.id, attempt, consumer, "lease ran out; redelivering task");
                    }
                    return Ok(delivery);
                }
            }
            if reply.next_stream_id == "0-0" {
                return Ok(None);
            }
            cursor = reply.next_stream_id;
        }
    }

    /// Turns a stream entry into a delivery. An entry we cannot read was not
    /// written by [`TaskQueue::push`]; it is dropped so it cannot block the
    /// queue, and logged since someone must find out who wrote it.
    async fn delivery_of(
        &self,
        key: &str,
        queue: &str,
        entry: StreamId,
        attempt: u32,
    ) -> RedisResult<Option<Delivery>> {
        let task =
            (|| Some(Task { id: entry.get("task")?, datums: entry.get("datums")?, payload: entry.get("payload")? }))();
        let Some(task) = task else {
            tracing::error!(queue, entry = %entry.id, "dropping a stream entry that is not a task");
            ack_command(key, &entry.id).query_async::<()>(&mut self.commands.clone()).await?;
            return Ok(None);
        };
        Ok(Some(Delivery { queue: queue.to_owned(), delivery_id: entry.id, task, attempt }))
    }

    /// Runs a blocking read on a dedicated connection: a pooled one if
    /// available, else a fresh one. A pooled connection may have died with a
    /// Redis restart; then the read is tried once more on a fresh connection.
    async fn read_blocking(&self, command: &Cmd) -> RedisResult<Option<StreamReadReply>> {
        let pooled = self.idle_readers.lock().await.pop();
        if let Some(connection) = pooled {
            match self.read_on(connection, command).await {
                Err(error) if is_connection_error(&error) => {
                    tracing::debug!(error = %error, "pooled reader connection failed; reading on a fresh one");
                }
                result => return result,
            }
        }
        let mut connection = self.client.get_multiplexed_async_connection_with_config(&self.reader_config).await?;
        let named: RedisResult<()> =
            redis::cmd("CLIENT").arg("SETNAME").arg(&self.reader_name).query_async(&mut connection).await;
        if let Err(error) = named {
            // Only a label for `CLIENT LIST`; the read works without it.
            tracing::debug!(error = %error, name = %self.reader_name, "cannot name a reader connection");
        }
        self.read_on(connection, command).await
    }

    /// Reads on `connection` and pools it again only if it answered cleanly.
    /// If this future is dropped mid-read, the connection is dropped with it
    /// and never reused while Redis may still be blocking on it.
    async fn read_on(
        &self,
        mut connection: MultiplexedConnection,
        command: &Cmd,
    ) -> RedisResult<Option<StreamReadReply>> {
        let result = command.query_async(&mut connection).await;
        let reusable = match &result {
            Ok(_) => true,
            Err(error) => !is_connection_error(error),
        };
        if reusable {
            let mut idle = self.idle_readers.lock().await;
            if idle.len() < MAX_IDLE_READERS {
                idle.push(connection);
            }
        }
        result
    }
}

/// The client name of a queue's blocking-read connections, so that `CLIENT
/// LIST` shows whose connections wait in `XREADGROUP` (`flags=b`) on a
/// shared Redis; tests wait for it before pushing.
pub fn reader_name(prefix: &str) -> String {
    format!("strata-queue-reader:{prefix}")
}

/// `XREADGROUP` for one new entry, blocking for `block` if given.
fn xreadgroup(key: &str, consumer: &str, block: Option<Duration>) -> Cmd {
    let mut command = redis::cmd("XREADGROUP");
    command.arg("GROUP").arg(GROUP).arg(consumer).arg("COUNT").arg(1);
    if let Some(block) = block {
        // BLOCK 0 would mean forever; callers pass at least MIN_BLOCK.
        let millis = u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1);
        command.arg("BLOCK").arg(millis);
    }
    command.arg("STREAMS").arg(key).arg(">");
    command
}

/// XACK and XDEL of one entry in one transaction. Neither fails on a missing
/// stream, group or entry, which makes acks idempotent.
fn ack_command(key: &str, entry_id: &str) -> redis::Pipeline {
    let mut pipeline = redis::pipe();
    pipeline
        .atomic()
        .cmd("XACK")
        .arg(key)
        .arg(GROUP)
        .arg(entry_id)
        .ignore()
        .cmd("XDEL")
        .arg(key)
        .arg(entry_id)
        .ignore();
    pipeline
}

/// The stream or its group is gone (first use, Redis restart, purge while
/// blocked): recreate and retry rather than fail.
fn stream_missing(error: &RedisError) -> bool {
    matches!(error.code(), Some("NOGROUP" | "UNBLOCKED"))
}

/// The connection itself is unusable (as opposed to the server refusing one
/// command), so it must not be reused.
fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
}

#[async_trait]
impl TaskQueue for RedisQueue {
    async fn push(&self, queue: &str, task: Task) -> Result<(), QueueError> {
        let _: String = redis::cmd("XADD")
            .arg(self.key(queue))
            .arg("*")
            .arg("task")
            .arg(&task.id)
            .arg("datums")
            .arg(task.datums)
            .arg("payload")
            .arg(&task.payload)
            .query_async(&mut self.commands.clone())
            .await
            .map_err(QueueError::redis("push", queue))?;
        Ok(())
    }

    async fn pull(&self, queue: &str, consumer: &str, wait: Duration) -> Result<Option<Delivery>, QueueError> {
        let key = self.key(queue);
        let deadline = Instant::now() + wait;
        let mut recreated_group = false;
        loop {
            match self.pull_once(&key, queue, consumer, deadline).await {
                Ok(Some(delivery)) => return Ok(Some(delivery)),
                Ok(None) if Instant::now() >= deadline => return Ok(None),
                Ok(None) => {}
                Err(error) if stream_missing(&error) => {
                    // After a recreation the next attempt normally succeeds;
                    // only someone deleting the stream again and again could
                    // bring us here twice, and then the deadline still holds.
                    if recreated_group && Instant::now() >= deadline {
                        return Ok(None);
                    }
                    self.create_group(&key, queue).await?;
                    recreated_group = true;
                }
                Err(error) => return Err(QueueError::redis("pull", queue)(error)),
            }
        }
    }

    async fn heartbeat(&self, delivery: &Delivery, consumer: &str) -> Result<(), QueueError> {
        let extended: i64 = self
            .heartbeat_script
            .key(self.key(&delivery.queue))
            .arg(GROUP)
            .arg(consumer)
            .arg(&delivery.delivery_id)
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(QueueError::redis("heartbeat", &delivery.queue))?;
        if extended == 0 {
            return Err(QueueError::LeaseLost {
                queue: delivery.queue.clone(),
                delivery_id: delivery.delivery_id.clone(),
                consumer: consumer.to_owned(),
            });
        }
        Ok(())
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        ack_command(&self.key(&delivery.queue), &delivery.delivery_id)
            .query_async::<()>(&mut self.commands.clone())
            .await
            .map_err(QueueError::redis("ack", &delivery.queue))
    }

    async fn release(&self, delivery: &Delivery, consumer: &str) -> Result<(), QueueError> {
        let _released: i64 = self
            .release_script
            .key(self.key(&delivery.queue))
            .arg(GROUP)
            .arg(consumer)
            .arg(&delivery.delivery_id)
            .arg(self.lease_ms)
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(QueueError::redis("release", &delivery.queue))?;
        Ok(())
    }

    async fn depth(&self, queue: &str) -> Result<Depth, QueueError> {
        let (length, pending): (u64, u64) = self
            .depth_script
            .key(self.key(queue))
            .arg(GROUP)
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(QueueError::redis("depth", queue))?;
        Ok(Depth { queued: length.saturating_sub(pending), in_flight: pending })
    }

    async fn busy_consumers(&self, queue: &str) -> Result<Vec<String>, QueueError> {
        // The XPENDING summary: [count, first id, last id, [[consumer, n]…]].
        let summary: redis::RedisResult<redis::Value> =
            redis::cmd("XPENDING").arg(self.key(queue)).arg(GROUP).query_async(&mut self.commands.clone()).await;
        let summary = match summary {
            Ok(summary) => summary,
            Err(error) if error.code() == Some("NOGROUP") => return Ok(Vec::new()),
            Err(error) => return Err(QueueError::redis("busy consumers", queue)(error)),
        };
        let mut busy: Vec<String> = match summary {
            redis::Value::Array(fields) => match fields.get(3) {
                Some(redis::Value::Array(consumers)) => consumers
                    .iter()
                    .filter_map(|pair| match pair {
                        redis::Value::Array(pair) => pair.first().and_then(|c| redis::from_redis_value_ref(c).ok()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        busy.sort();
        Ok(busy)
    }

    async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        let _: u64 = redis::cmd("DEL")
            .arg(self.key(queue))
            .query_async(&mut self.commands.clone())
            .await
            .map_err(QueueError::redis("purge", queue))?;
        Ok(())
    }
}
