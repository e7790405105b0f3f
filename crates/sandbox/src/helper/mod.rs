//! The helper process: makes the namespaces once, then runs datums on request.
//!
//! Why a separate process: the worker runs tokio, and a namespace, a root and the
//! helper's own capability sets belong to a process, not to one of its threads. The
//! helper is single-threaded from its first instruction, lives as long as its
//! [`crate::Sandbox`], and runs thousands of datums, so the namespaces are paid for once.

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

/// The uid (and gid) user code runs as, set by [`crate::Sandbox::start`].
pub(crate) const UID_ENV: &str = "STRATA_SANDBOX_UID";

/// The worker's scratch directory, under which every datum root and log lies.
pub(crate) const WORK_DIR_ENV: &str = "STRATA_SANDBOX_WORK_DIR";

/// Set to `1` by the container runner (see [`crate::container`]): the helper is the
/// entrypoint of a pipeline's container, whose namespaces the container engine made.
pub(crate) const IN_CONTAINER_ENV: &str = "STRATA_SANDBOX_IN_CONTAINER";

/// Where the worker's scratch directory is, as the helper sees it: in its own
/// namespace, and in a container alike.
pub(crate) const WORK_DIR: &str = "/.strata/work";

/// What the helper was asked for, from its environment.
#[derive(Debug, Clone)]
pub(crate) struct HelperConfig {
    pub uid: u32,
    pub work_dir: std::path::PathBuf,
    /// In a container: the image's environment (what the engine gave the entrypoint,
    /// less the helper's own `STRATA_*` settings), under every datum's variables, so
    /// that the image's `PATH` and friends hold as they would for its own entrypoint.
    /// Empty in the helper's own namespace, where nothing of the host is passed on.
    pub image_env: Vec<(String, String)>,
    /// Whether the helper is a container's entrypoint (see [`IN_CONTAINER_ENV`]).
    pub in_container: bool,
}

impl HelperConfig {
    fn from_env() -> Result<HelperConfig, String> {
        let uid = std::env::var(UID_ENV)
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| format!("{UID_ENV} is missing or not a uid"))?;
        if uid == 0 {
            return Err(format!("{UID_ENV} is 0: user code never runs as root"));
        }
        let work_dir = std::env::var_os(WORK_DIR_ENV)
            .map(std::path::PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .ok_or_else(|| format!("{WORK_DIR_ENV} is missing or not an absolute path"))?;
        let in_container = std::env::var(IN_CONTAINER_ENV).is_ok_and(|v| v == "1");
        let image_env = if in_container {
            std::env::vars().filter(|(key, _)| !key.starts_with("STRATA_")).collect()
        } else {
            Vec::new()
        };
        Ok(HelperConfig { uid, work_dir, image_env, in_container })
    }
}

/// The helper's entry point; returns the process exit code.
///
/// Call it from `main` when the binary is started as the helper (`strata __sandbox`),
/// **before** starting any thread or runtime: a namespace cannot be made by a
/// multi-threaded process. It speaks this crate's line protocol (one JSON value per line)
/// on stdin/stdout and writes diagnostics to stderr.
pub fn helper_main() -> i32 {
    let forced = std::env::var(FORCE_FALLBACK_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    let entered = if forced {
        Err(format!("{FORCE_FALLBACK_ENV} is set"))
    } else {
        HelperConfig::from_env().and_then(|config| {
            let entered = if config.in_container { enter_container() } else { enter_namespace(&config) };
            entered.map(|()| config)
        })
    };
    let (hello, config) = match entered {
        Ok(config) => (Hello::Ready, Some(config)),
        Err(reason) => (Hello::Unavailable { reason }, None),
    };
    if let Err(e) = send(&hello) {
        return report(&format!("cannot write to the worker: {e}"));
    }
    match config {
        Some(config) => serve(&config),
        None => 0,
    }
}

#[cfg(target_os = "linux")]
fn enter_namespace(config: &HelperConfig) -> Result<(), String> {
    namespace::enter(config)
}

#[cfg(not(target_os = "linux"))]
fn enter_namespace(_: &HelperConfig) -> Result<(), String> {
    Err("confining user code needs Linux namespaces".to_owned())
}

#[cfg(target_os = "linux")]
fn enter_container() -> Result<(), String> {
    namespace::enter_container()
}

#[cfg(not(target_os = "linux"))]
fn enter_container() -> Result<(), String> {
    Err("containers need Linux".to_owned())
}

#[cfg(target_os = "linux")]
fn serve(config: &HelperConfig) -> i32 {
    match serve::serve(config) {
        Ok(()) => 0,
        Err(message) => report(&message),
    }
}

#[cfg(not(target_os = "linux"))]
fn serve(_: &HelperConfig) -> i32 {
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
