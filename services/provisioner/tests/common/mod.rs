//! What both provisioner test binaries share.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use strata_provisioner::Clock;

/// A clock that stands still until the test moves it on, so backoffs and
/// pauses pass in an instant and never by accident.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl ManualClock {
    pub fn new() -> Self {
        ManualClock { now: Mutex::new(Instant::now()) }
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap()
    }
}
