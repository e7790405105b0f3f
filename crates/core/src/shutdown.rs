//! Process shutdown on SIGINT (Ctrl-C) and SIGTERM.

use tokio_util::sync::CancellationToken;

/// A token cancelled when the process receives SIGINT or SIGTERM. Long
/// running tasks take a child of it and stop when it fires.
pub fn on_signal() -> std::io::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};
    let token = CancellationToken::new();
    // Install the handlers now, so a signal that arrives before the task is
    // first polled is not lost.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let trigger = token.clone();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "shutting down: finishing in-flight requests");
        trigger.cancel();
    });
    Ok(token)
}
