//! Backoff between retries of calls to the server.

use std::time::Duration;

use strata_client::ClientError;
use tokio_util::sync::CancellationToken;

const FIRST: Duration = Duration::from_millis(200);
const LONGEST: Duration = Duration::from_secs(10);

/// Exponential backoff from 200 ms up to 10 s.
#[derive(Debug, Clone)]
pub(super) struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: FIRST }
    }
}

impl Backoff {
    pub fn reset(&mut self) {
        self.next = FIRST;
    }

    /// Sleeps the current delay and doubles it; false when `stop` came first.
    pub async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let delay = self.next;
        self.next = (self.next * 2).min(LONGEST);
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = stop.cancelled() => false,
        }
    }
}

/// Worth retrying: the server is unreachable, overloaded or failed, or the
/// answer was garbled. A 4xx answer will not change by asking again.
pub(super) fn is_transient(error: &ClientError) -> bool {
    match error {
        ClientError::Unreachable { .. } | ClientError::Protocol { .. } => true,
        ClientError::Api { status, .. } => *status >= 500 || *status == 408 || *status == 429,
        ClientError::GraphQl(_) | ClientError::Refused(_) | ClientError::InvalidEndpoint(_) => false,
    }
}

/// The server says the task is over (410): abandon it.
pub(super) fn is_gone(error: &ClientError) -> bool {
    matches!(error, ClientError::Api { status: 410, .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> ClientError {
        ClientError::Api { status, code: "X".into(), message: "m".into() }
    }

    #[test]
    fn server_failures_are_retried_and_refusals_are_not() {
        assert!(is_transient(&api(503)));
        assert!(is_transient(&api(500)));
        assert!(!is_transient(&api(404)));
        assert!(!is_transient(&api(410)));
        assert!(is_gone(&api(410)));
    }

    #[tokio::test]
    async fn the_delay_doubles_up_to_a_ceiling_and_stop_interrupts_it() {
        let mut backoff = Backoff { next: Duration::from_millis(1) };
        assert!(backoff.wait(&CancellationToken::new()).await);
        assert_eq!(backoff.next, Duration::from_millis(2));
        backoff.next = LONGEST;
        let stop = CancellationToken::new();
        stop.cancel();
        assert!(!backoff.wait(&stop).await);
        assert_eq!(backoff.next, LONGEST);
    }
}
