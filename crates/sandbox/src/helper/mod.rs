//! The helper process: makes the namespace once, then runs datums on request.
//!
//! Why a separate process: `unshare(CLONE_NEWUSER)` refuses a multi-threaded caller, and
//! the worker runs tokio. The helper is single-threaded from its first instruction, lives
//! as long as its [`crate::Sandbox`], and runs thousands of datums, so the namespace is
//! paid for once.

#[cfg(target_os = "linux")]
mod namespace;
#[cfg(target_os = "linux")]
mod serve;

use std::io::{self, Write};

use crate::protocol::Hello;

/// Set to anything but `""` or `0` in the helper's environment to make it report that
/// namespaces are unavailable without trying, so `IsolationMode::Auto` falls back to
/// scratch mode. For tests, and for operators who want scratch mode without a config change.
pub const FORCE_FALLBACK_ENV: &str = "STRATA_SANDBOX_FORCE_FALLBACK";

/// The helper's entry point; returns the process exit code.
///
/// Call it from `main` when the binary is started as the helper (`strata __sandbox`),
/// **before** starting any thread or runtime: a namespace cannot be made by a
/// multi-threaded process. It speaks this crate's line protocol (one JSON value per line)
/// on stdin/stdout and writes diagnostics to stderr.
pub fn helper_main() -> i32 {
    let forced = std::env::var(FORCE_FALLBACK_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    let hello = if forced {
        Hello::Unavailable { reason: format!("{FORCE_FALLBACK_ENV} is set") }
    } else {
        match enter_namespace() {
            Ok(()) => Hello::Ready,
            Err(reason) => Hello::Unavailable { reason },
        }
    };
    let ready = matches!(hello, Hello::Ready);
    if let Err(e) = send(&hello) {
        return report(&format!("cannot write to the worker: {e}"));
    }
    if !ready {
        return 0;
    }
    serve()
}

#[cfg(target_os = "linux")]
fn enter_namespace() -> Result<(), String> {
    namespace::enter()
}

#[cfg(not(target_os = "linux"))]
fn enter_namespace() -> Result<(), String> {
    Err("mount namespaces exist only on Linux".to_owned())
}

#[cfg(target_os = "linux")]
fn serve() -> i32 {
    match serve::serve() {
        Ok(()) => 0,
        Err(message) => report(&message),
    }
}

#[cfg(not(target_os = "linux"))]
fn serve() -> i32 {
    0
}

/// Writes one protocol line to stdout.
pub(crate) fn send(value: &impl serde::Serialize) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut stdout = io::stdout().lock();
    stdout.write_all(&line)?;
    stdout.flush()
}

/// The helper has no logger: its stderr is the worker's, so diagnostics go there.
fn report(message: &str) -> i32 {
    let _stderr_gone = writeln!(io::stderr(), "strata sandbox helper: {message}");
    1
}
