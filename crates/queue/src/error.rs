//! The queue's one error type.

/// Why a queue operation failed.
///
/// Messages name the queue and the operation but never a secret: Redis URLs
/// appear with their password replaced by `***`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The Redis URL could not be used or the server did not answer.
    #[error("cannot connect to Redis at {url}")]
    Connect {
        /// The URL with any password redacted.
        url: String,
        #[source]
        source: redis::RedisError,
    },

    /// A Redis command failed (server down, timeout, unexpected reply). A
    /// missing stream or consumer group is not an error; it is recreated.
    #[error("Redis {operation} on queue {queue:?} failed")]
    Redis {
        /// What the queue was doing, e.g. `pull`.
        operation: &'static str,
        queue: String,
        #[source]
        source: redis::RedisError,
    },

    /// The consumer no longer holds the delivery: its lease ran out and the
    /// task went to another consumer, or the task was acked or purged.
    #[error("consumer {consumer:?} no longer holds delivery {delivery_id} of queue {queue:?}")]
    LeaseLost { queue: String, delivery_id: String, consumer: String },
}

impl QueueError {
    pub(crate) fn redis(operation: &'static str, queue: &str) -> impl FnOnce(redis::RedisError) -> Self {
        move |source| Self::Redis { operation, queue: queue.to_owned(), source }
    }
}

/// `url` fit for messages and logs: the password (in the userinfo or in a
/// `password`/`pass` query parameter) is replaced by `***`. Input that does not
/// parse as a URL is not shown at all, since we cannot tell where a secret
/// would be in it.
pub(crate) fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<unparsable URL>".to_owned();
    };
    if parsed.password().is_some() {
        // Fails only for URLs that cannot have credentials, which have none.
        let _ = parsed.set_password(Some("***"));
    }
    let has_secret_query = parsed.query_pairs().any(|(key, _)| is_secret_parameter(&key));
    if has_secret_query {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_secret_parameter(&key) { "***".to_owned() } else { value.into_owned() };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

fn is_secret_parameter(key: &str) -> bool {
    matches!(key.to_ascii_lowercase().as_str(), "password" | "pass")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_the_userinfo_are_redacted() {
        assert_eq!(redact_url("redis://:hunter2@cache:6379/0"), "redis://:***@cache:6379/0");
        assert_eq!(redact_url("rediss://app:hunter2@cache:6380"), "rediss://app:***@cache:6380");
    }

    #[test]
    fn passwords_in_the_query_are_redacted() {
        let redacted = redact_url("redis+unix:///run/redis.sock?db=1&pass=hunter2");
        assert!(!redacted.contains("hunter2"), "{redacted}");
        assert!(redacted.contains("db=1"), "{redacted}");
    }

    #[test]
    fn urls_without_secrets_are_shown_as_given() {
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[test]
    fn unparsable_urls_are_not_shown() {
        assert_eq!(redact_url("not a url :hunter2@"), "<unparsable URL>");
    }
}
