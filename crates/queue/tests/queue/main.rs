//! The queue's specification, run against both implementations.
//!
//! `contract` holds the behaviour every [`strata_queue::TaskQueue`] must
//! show, each test instantiated for the in-process and the Redis queue;
//! `redis_only` holds what only Redis can do to us (losing its data, bad URLs).
//! Redis tests use the server at `STRATA_TEST_REDIS_URL` (default
//! 127.0.0.1:6379) under a random key prefix.

// The behaviours are plain async fns run by generated #[test]s, which
// clippy's allow-unwrap-in-tests does not reach.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod contract;
mod helpers;
mod redis_only;
