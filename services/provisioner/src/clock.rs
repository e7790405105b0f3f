//! The reconciler's sense of time: backoffs, pauses between looks at a
//! workspace and resync intervals are measured on a [`Clock`], so that tests
//! move time on instead of sleeping through it.

use std::fmt::Debug;
use std::time::Instant;

/// Where "now" comes from.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> Instant;
}

/// The monotonic clock of the machine; what every deployment uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
