//! A small time-bounded cache for authentication: a request's bearer token
//! is checked against the database at most once per [`TTL`] per server, and
//! the changes that must take effect at once (revoking a token, logging out,
//! deleting a user, resetting a password) drop the entries they affect.
//! Another replica's cache may keep a revoked credential for up to `TTL`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an entry is trusted.
pub(crate) const TTL: Duration = Duration::from_secs(2);
/// Entries beyond this are swept of stale ones (and cleared if all are fresh).
const CAPACITY: usize = 50_000;

#[derive(Debug)]
pub(crate) struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries.get(key).filter(|(_, at)| at.elapsed() < TTL).map(|(value, _)| value.clone())
    }

    pub(crate) fn put(&self, key: K, value: V) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Drops every entry whose value matches.
    pub(crate) fn forget(&self, matches: impl Fn(&V) -> bool) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (value, _)| !matches(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = TtlCache::default();
        cache.put("a", 1);
        cache.put("b", 2);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.forget(|v| *v == 1);
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"b"), Some(2));
    }
}
