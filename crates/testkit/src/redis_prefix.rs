//! A private Redis key space per test.

use redis::AsyncCommands;

/// A Redis connection and a random key prefix; keys under the prefix are
/// deleted when this value is dropped.
pub struct TestRedis {
    /// e.g. `test:5f0c...:`; every key a test writes must start with it.
    pub prefix: String,
    /// The server URL.
    pub url: String,
    client: redis::Client,
}

impl std::fmt::Debug for TestRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRedis").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl TestRedis {
    /// Connects to the local Redis and picks a fresh prefix.
    pub async fn new() -> Self {
        let url = std::env::var("STRATA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let client = redis::Client::open(url.as_str()).expect("Redis URL is valid");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers on 127.0.0.1:6379 (run scripts/services.sh)");
        let _: String = redis::cmd("PING").query_async(&mut connection).await.expect("Redis answers PING");
        Self { prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()), url, client }
    }

    /// A connection for the test's own commands.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        self.client.get_multiplexed_async_connection().await.expect("connect to Redis")
    }

    /// `prefix` + `name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Every key currently under this test's prefix.
    pub async fn keys(&self) -> Vec<String> {
        let mut connection = self.connection().await;
        let mut iter = connection.scan_match::<_, String>(format!("{}*", self.prefix)).await.expect("SCAN");
        let mut keys = Vec::new();
        while let Some(key) = iter.next_item().await {
            keys.push(key.expect("a key name"));
        }
        drop(iter);
        keys.sort();
        keys
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let client = self.client.clone();
        let pattern = format!("{}*", self.prefix);
        let cleanup = std::thread::spawn(move || {
            let mut connection = client.get_connection().ok()?;
            let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut connection).ok()?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(&keys).exec(&mut connection).ok()?;
            }
            Some(())
        });
        // Leftover keys under a random prefix harm no one.
        let _ = cleanup.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_tests_never_see_each_others_keys() {
        let first = TestRedis::new().await;
        let second = TestRedis::new().await;
        let mut connection = first.connection().await;
        let () = connection.set(first.key("greeting"), "hello").await.expect("SET");
        assert_eq!(first.keys().await, vec![first.key("greeting")]);
        assert!(second.keys().await.is_empty());
    }

    #[tokio::test]
    async fn keys_are_removed_when_the_test_ends() {
        let redis = TestRedis::new().await;
        let key = redis.key("temporary");
        let mut connection = redis.connection().await;
        let () = connection.set(&key, 1).await.expect("SET");
        drop(redis);
        let exists: bool = connection.exists(&key).await.expect("EXISTS");
        assert!(!exists);
    }
}
