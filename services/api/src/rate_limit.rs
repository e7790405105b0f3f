//! Rate limits: a sliding-window counter per subject (a credential, an
//! address, an email being logged into), in Redis when the server has one
//! (so every replica shares the count) and in memory otherwise.
//!
//! The window is approximated from two fixed windows: the count of the
//! previous window, weighted by how much of it still overlaps, plus the
//! current window's. That is O(1) per check and never lets more than the
//! limit through in any sliding window by more than a rounding error.
//!
//! Subjects are hashed before they become keys, so no email or token ever
//! appears in Redis. When Redis fails, the limiter fails open (and says so
//! in the log) for request limits, and falls back to memory for logins.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use redis::Script;
use redis::aio::ConnectionManager;
use strata_api_types::ErrorCode;

/// Counts `INCR`ed only while under the limit; answers 1 (allowed) or 0.
const WINDOW_SCRIPT: &str = r"
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if previous * tonumber(ARGV[2]) + current >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Entries kept in memory before old windows are swept.
const MEMORY_SWEEP_AT: usize = 100_000;

/// A named limit: at most `max` per `window`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub name: &'static str,
    pub max: u32,
    pub window: Duration,
}

/// Logins per address, whatever the account.
pub(crate) const LOGIN_PER_IP: Limit = Limit { name: "login-ip", max: 30, window: Duration::from_secs(60) };

/// Failed logins of one account from one address that cost nothing.
const FREE_FAILURES: u32 = 3;
/// The wait after the first failure beyond the free ones; it doubles with
/// every further failure, up to [`LONGEST_WAIT`].
const FIRST_WAIT: Duration = Duration::from_secs(1);
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten after this long without another one.
const FAILURES_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// Records a failed login: one more failure, at `ARGV[1]` ms, kept `ARGV[2]` ms.
const FAILURE_SCRIPT: &str = r"
redis.call('HINCRBY', KEYS[1], 'f', 1)
redis.call('HSET', KEYS[1], 't', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// Milliseconds since the Unix epoch. Tests substitute a clock they move.
pub(crate) type Clock = std::sync::Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_clock() -> Clock {
    std::sync::Arc::new(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
    })
}

/// How long to wait after `failures` failed logins (zero for the free ones).
fn wait_after(failures: u32) -> Duration {
    let Some(beyond) = failures.checked_sub(FREE_FAILURES) else { return Duration::ZERO };
    FIRST_WAIT.saturating_mul(1_u32.checked_shl(beyond).unwrap_or(u32::MAX)).min(LONGEST_WAIT)
}
/// Sign-ups and reset mails per address.
pub(crate) const MAIL_PER_IP: Limit = Limit { name: "mail-ip", max: 20, window: Duration::from_secs(60 * 60) };

/// Single sign-on and device logins started per address: each one keeps a
/// row until it is used or expires.
pub(crate) const SSO_START_PER_IP: Limit = Limit { name: "sso-start-ip", max: 30, window: Duration::from_secs(60) };

/// Anonymous SSO lookups per address: home-realm discovery, and the CLI's
/// code exchanges and device polls (one every 5 s per waiting CLI).
pub(crate) const SSO_LOOKUP_PER_IP: Limit = Limit { name: "sso-lookup-ip", max: 120, window: Duration::from_secs(60) };

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Allowed,
    /// Try again after this long.
    Limited(Duration),
}

#[derive(Debug, Default)]
struct Counter {
    window: u64,
    current: u32,
    previous: u32,
}

/// Failed logins of one (account, address): how many, the last one when.
#[derive(Debug, Default, Clone, Copy)]
struct Failures {
    count: u32,
    last_ms: u64,
}

/// Where counts live.
pub(crate) struct RateLimiter {
    redis: Option<(ConnectionManager, Script)>,
    memory: Mutex<HashMap<String, Counter>>,
    failures: Mutex<HashMap<String, Failures>>,
    prefix: String,
    clock: Clock,
    /// The general per-credential request limit, if any.
    pub requests: Option<Limit>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("redis", &self.redis.is_some()).field("requests", &self.requests).finish()
    }
}

impl RateLimiter {
    /// In Redis at `url` if given (keys under `prefix`), else in memory.
    pub(crate) async fn connect(
        url: Option<&str>,
        prefix: &str,
        per_minute: Option<u32>,
    ) -> Result<Self, redis::RedisError> {
        let redis = match url {
            Some(url) => {
                let client = redis::Client::open(url)?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_number_of_retries(2);
                Some((ConnectionManager::new_with_config(client, config).await?, Script::new(WINDOW_SCRIPT)))
            }
            None => None,
        };
        let requests = per_minute.map(|max| Limit { name: "requests", max, window: Duration::from_secs(60) });
        Ok(RateLimiter {
            redis,
            memory: Mutex::default(),
            failures: Mutex::default(),
            prefix: prefix.to_owned(),
            clock: system_clock(),
            requests,
        })
    }

    /// The same limiter reading time from `clock` (tests).
    #[cfg(test)]
    pub(crate) fn with_clock(self, clock: Clock) -> Self {
        RateLimiter { clock, ..self }
    }

    /// Counts one event of `subject` against `limit`.
    pub(crate) async fn check(&self, limit: Limit, subject: &str) -> Decision {
        let window_ms = u64::try_from(limit.window.as_millis()).unwrap_or(u64::MAX).max(1);
        let now_ms = (self.clock)();
        let index = now_ms / window_ms;
        let elapsed = now_ms % window_ms;
        // The share of the previous window still inside the sliding one.
        let weight = 1.0 - elapsed as f64 / window_ms as f64;
        let retry_after = Duration::from_millis(window_ms - elapsed);
        let subject = blake3::hash(subject.as_bytes()).to_hex();
        let key = format!("{}{}:{}", self.prefix, limit.name, &subject[..32]);
        if let Some((connection, script)) = &self.redis {
            let allowed: Result<i64, _> = script
                .key(format!("{key}:{index}"))
                .key(format!("{key}:{}", index.saturating_sub(1)))
                .arg(limit.max)
                .arg(weight)
                .arg(window_ms * 2)
                .invoke_async(&mut connection.clone())
                .await;
            match allowed {
                Ok(1) => return Decision::Allowed,
                Ok(_) => return Decision::Limited(retry_after),
                Err(error) => {
                    tracing::warn!(%error, limit = limit.name, "rate limit check failed in Redis; counting in memory");
                }
            }
        }
        self.check_in_memory(limit, key, index, weight, retry_after)
    }

    fn check_in_memory(&self, limit: Limit, key: String, index: u64, weight: f64, retry_after: Duration) -> Decision {
        let Ok(mut counters) = self.memory.lock() else { return Decision::Allowed };
        if counters.len() > MEMORY_SWEEP_AT {
            counters.retain(|_, counter| counter.window + 1 >= index);
        }
        let counter = counters.entry(key).or_default();
        if counter.window != index {
            counter.previous = if counter.window + 1 == index { counter.current } else { 0 };
            counter.current = 0;
            counter.window = index;
        }
        if f64::from(counter.previous) * weight + f64::from(counter.current) >= f64::from(limit.max) {
            return Decision::Limited(retry_after);
        }
        counter.current += 1;
        Decision::Allowed
    }
}

/// Failed logins are counted per account *and* client address, and each one
/// beyond the free few doubles the wait before that address may try that
/// account again. A stranger's wrong guesses thus slow down only the
/// stranger: the owner, from their own address, logs in as usual. There is
/// no per-account lock anyone could trigger on purpose.
impl RateLimiter {
    /// Whether `address` may try to log into `account` now.
    pub(crate) async fn login_allowed(&self, account: &str, address: &str) -> Decision {
        let key = self.failures_key(account, address);
        let failures = match self.redis_failures(&key).await {
            Some(failures) => failures,
            None => self.lock_failures().get(&key).copied().unwrap_or_default(),
        };
        let wait = u64::try_from(wait_after(failures.count).as_millis()).unwrap_or(u64::MAX);
        let free_at = failures.last_ms.saturating_add(wait);
        let now = (self.clock)();
        if now >= free_at { Decision::Allowed } else { Decision::Limited(Duration::from_millis(free_at - now)) }
    }

    /// Counts a wrong password (or unknown account) from `address`.
    pub(crate) async fn login_failed(&self, account: &str, address: &str) {
        let key = self.failures_key(account, address);
        let now = (self.clock)();
        if let Some((connection, _)) = &self.redis {
            let kept = u64::try_from(FAILURES_KEPT.as_millis()).unwrap_or(u64::MAX);
            let done: Result<i64, _> =
                Script::new(FAILURE_SCRIPT).key(&key).arg(now).arg(kept).invoke_async(&mut connection.clone()).await;
            match done {
                Ok(_) => return,
                Err(error) => tracing::warn!(%error, "cannot count a failed login in Redis; counting in memory"),
            }
        }
        let mut failures = self.lock_failures();
        let horizon = now.saturating_sub(u64::try_from(FAILURES_KEPT.as_millis()).unwrap_or(u64::MAX));
        if failures.len() > MEMORY_SWEEP_AT {
            failures.retain(|_, f| f.last_ms >= horizon);
        }
        let entry = failures.entry(key).or_default();
        if entry.last_ms < horizon {
            *entry = Failures::default();
        }
        *entry = Failures { count: entry.count.saturating_add(1), last_ms: now };
    }

    /// Forgets the failures of `address` on `account` after a good login.
    pub(crate) async fn login_succeeded(&self, account: &str, address: &str) {
        let key = self.failures_key(account, address);
        if let Some((connection, _)) = &self.redis {
            let deleted: Result<i64, _> = redis::cmd("DEL").arg(&key).query_async(&mut connection.clone()).await;
            if let Err(error) = deleted {
                tracing::warn!(%error, "cannot clear failed logins in Redis");
            }
        }
        self.lock_failures().remove(&key);
    }

    /// The failures stored in Redis, or `None` without Redis or when it fails
    /// (the memory count is used then).
    async fn redis_failures(&self, key: &str) -> Option<Failures> {
        let (connection, _) = self.redis.as_ref()?;
        let fields: Result<(Option<u32>, Option<u64>), _> =
            redis::cmd("HMGET").arg(key).arg("f").arg("t").query_async(&mut connection.clone()).await;
        match fields {
            Ok((count, last_ms)) => Some(Failures { count: count.unwrap_or(0), last_ms: last_ms.unwrap_or(0) }),
            Err(error) => {
                tracing::warn!(%error, "cannot read failed logins from Redis; using the memory count");
                None
            }
        }
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hashed, so no email or address is ever a key in Redis.
    fn failures_key(&self, account: &str, address: &str) -> String {
        let subject = blake3::hash(format!("{}\n{address}", account.trim().to_lowercase()).as_bytes()).to_hex();
        format!("{}login-fail:{}", self.prefix, &subject[..32])
    }
}

/// `429 Too Many Requests` with `Retry-After` (whole seconds, rounded up).
pub(crate) fn too_many(retry_after: Duration) -> HttpResponse {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    retry_after_secs(
        strata_http::reject(ErrorCode::RateLimited, format!("too many requests; try again in {secs} s")),
        secs,
    )
}

/// `429` for a call that waited too long behind its organisation's other
/// calls to workspace servers (`upstream_limit`).
pub(crate) fn too_many_calls(org: &str) -> HttpResponse {
    let message = format!("too many calls to the workspaces of `{org}` at once; try again in 1 s");
    retry_after_secs(strata_http::reject(ErrorCode::RateLimited, message), 1)
}

fn retry_after_secs(mut response: HttpResponse, secs: u64) -> HttpResponse {
    response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    response
}

/// The general limit, per bearer token (hashed) or, without one, per address.
pub(crate) async fn limit_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let probe = matches!(request.path(), "/healthz" | "/readyz" | "/metrics" | "/.well-known/jwks.json");
    let limiter = request.app_data::<web::Data<RateLimiter>>().cloned().filter(|_| !probe);
    if let Some(limit) = limiter.as_ref().and_then(|l| l.requests)
        && let Some(limiter) = limiter
    {
        let guard = request.app_data::<web::Data<crate::workspace_auth::WorkspaceGuard>>();
        let subject = match request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            // This process's own workers are not limited.
            Some(credential) if guard.is_some_and(|g| g.is_internal(credential)) => {
                return Ok(next.call(request).await?.map_into_boxed_body());
            }
            Some(credential) => format!("credential:{credential}"),
            None => format!("ip:{}", request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()),
        };
        if let Decision::Limited(retry_after) = limiter.check(limit, &subject).await {
            return Ok(request.into_response(too_many(retry_after)));
        }
    }
    Ok(next.call(request).await?.map_into_boxed_body())
}

/// `limit` per client address on the routes it wraps (the general limit
/// still applies on top).
async fn limit_per_address(
    limit: Limit,
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(limiter) = request.app_data::<web::Data<RateLimiter>>() {
        let address = request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
        if let Decision::Limited(retry_after) = limiter.check(limit, &address).await {
            return Ok(request.into_response(too_many(retry_after)));
        }
    }
    Ok(next.call(request).await?.map_into_boxed_body())
}

/// [`SSO_START_PER_IP`] as route middleware.
pub(crate) async fn limit_sso_starts(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    limit_per_address(SSO_START_PER_IP, request, next).await
}

/// [`SSO_LOOKUP_PER_IP`] as route middleware.
pub(crate) async fn limit_sso_lookups(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    limit_per_address(SSO_LOOKUP_PER_IP, request, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_subject_gets_its_limit_and_then_a_retry_time() {
        let limiter = RateLimiter::connect(None, "t:", None).await.unwrap();
        let limit = Limit { name: "x", max: 3, window: Duration::from_secs(60) };
        for _ in 0..3 {
            assert_eq!(limiter.check(limit, "a").await, Decision::Allowed);
        }
        let Decision::Limited(after) = limiter.check(limit, "a").await else { panic!("the fourth is limited") };
        assert!(after <= Duration::from_secs(60));
        assert_eq!(limiter.check(limit, "b").await, Decision::Allowed, "subjects are counted apart");
    }

    /// A clock the test moves by hand, and the handle that moves it.
    fn manual_clock() -> (Clock, std::sync::Arc<std::sync::atomic::AtomicU64>) {
        let now = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1_700_000_000_000));
        let read = now.clone();
        (std::sync::Arc::new(move || read.load(std::sync::atomic::Ordering::SeqCst)), now)
    }

    /// Wrong passwords from X: free at first, then waits of 1, 2, 4 s; the
    /// owner at Y is never held up; a good login from X starts X afresh.
    async fn failures_grow_per_address(limiter: RateLimiter, now: &std::sync::atomic::AtomicU64) {
        use std::sync::atomic::Ordering::SeqCst;
        let (account, x, y) = ("carol@example.com", "198.51.100.7", "203.0.113.9");
        for _ in 0..FREE_FAILURES {
            assert_eq!(limiter.login_allowed(account, x).await, Decision::Allowed);
            limiter.login_failed(account, x).await;
        }
        for wait in [1, 2, 4] {
            let refused = limiter.login_allowed(account, x).await;
            assert_eq!(refused, Decision::Limited(Duration::from_secs(wait)), "after a failure, wait {wait} s");
            assert_eq!(limiter.login_allowed("CAROL@example.com ", y).await, Decision::Allowed, "other addresses");
            now.fetch_add(wait * 1000 - 1, SeqCst);
            assert!(matches!(limiter.login_allowed(account, x).await, Decision::Limited(_)), "not a moment early");
            now.fetch_add(1, SeqCst);
            assert_eq!(limiter.login_allowed(account, x).await, Decision::Allowed);
            limiter.login_failed(account, x).await;
        }
        assert_eq!(limiter.login_allowed(account, x).await, Decision::Limited(Duration::from_secs(8)));
        now.fetch_add(8000, SeqCst);
        limiter.login_succeeded(account, x).await;
        limiter.login_failed(account, x).await;
        assert_eq!(limiter.login_allowed(account, x).await, Decision::Allowed, "a good login forgets the failures");
        assert_eq!(wait_after(100), LONGEST_WAIT, "waits stop growing");
    }

    #[tokio::test]
    async fn failed_logins_get_growing_waits_per_account_and_address_in_memory() {
        let (clock, now) = manual_clock();
        let limiter = RateLimiter::connect(None, "t:", None).await.unwrap().with_clock(clock);
        failures_grow_per_address(limiter, &now).await;
    }

    #[tokio::test]
    async fn failed_logins_get_growing_waits_per_account_and_address_in_redis() {
        let url = std::env::var("STRATA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
        let (clock, now) = manual_clock();
        let limiter = match RateLimiter::connect(Some(&url), &prefix, None).await {
            Ok(limiter) => limiter.with_clock(clock),
            Err(error) => {
                #[allow(clippy::print_stdout, reason = "a skipped test says so in its output")]
                {
                    println!("SKIPPED: no Redis at {url} ({error}); scripts/services.sh starts one");
                }
                return;
            }
        };
        let mut connection =
            redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
        failures_grow_per_address(limiter, &now).await;
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut connection).await.unwrap();
        assert!(keys.iter().any(|k| k.contains("login-fail:")), "the counts are in Redis: {keys:?}");
        assert!(keys.iter().all(|k| !k.contains("carol") && !k.contains("198.51")), "hashed: {keys:?}");
        let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut connection).await.unwrap();
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let response = too_many(Duration::from_millis(1500));
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "2");
    }
}
