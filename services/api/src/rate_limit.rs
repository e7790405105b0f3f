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
use strata_client::wire::ErrorBody;

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

/// Logins per address, and per account being logged into (guessing one
/// password from many addresses hits the second).
pub(crate) const LOGIN_PER_IP: Limit = Limit { name: "login-ip", max: 30, window: Duration::from_secs(60) };
pub(crate) const LOGIN_PER_EMAIL: Limit = Limit { name: "login-email", max: 10, window: Duration::from_secs(15 * 60) };
/// Sign-ups and reset mails per address.
pub(crate) const MAIL_PER_IP: Limit = Limit { name: "mail-ip", max: 20, window: Duration::from_secs(60 * 60) };

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

/// Where counts live.
pub(crate) struct RateLimiter {
    redis: Option<(ConnectionManager, Script)>,
    memory: Mutex<HashMap<String, Counter>>,
    prefix: String,
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
        Ok(RateLimiter { redis, memory: Mutex::default(), prefix: prefix.to_owned(), requests })
    }

    /// Counts one event of `subject` against `limit`.
    pub(crate) async fn check(&self, limit: Limit, subject: &str) -> Decision {
        let window_ms = u64::try_from(limit.window.as_millis()).unwrap_or(u64::MAX).max(1);
        let now_ms =
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
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

/// `429 Too Many Requests` with `Retry-After` (whole seconds, rounded up).
pub(crate) fn too_many(retry_after: Duration) -> HttpResponse {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    HttpResponse::TooManyRequests().insert_header((header::RETRY_AFTER, secs.to_string())).json(ErrorBody {
        code: "RATE_LIMITED".to_owned(),
        message: format!("too many requests; try again in {secs} s"),
    })
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

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let response = too_many(Duration::from_millis(1500));
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "2");
    }
}
