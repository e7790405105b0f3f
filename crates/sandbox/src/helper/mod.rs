//! The helper process: makes the namespaces once, then runs datums on request.
//!
//! Why a separate process: the worker runs tokio, and a namespace, a root and the
//! helper's own capability sets belong to a process, not to one of its threads. The
//! helper is single-threaded from its first instruction, lives as long as its
//! [`crate::Sandbox`], and runs thousands of datums, so the namespaces are paid for once.

#[cfg(target_os = "linux")]
mod namespace;
#[cfg(target_os = "linux")]
mod pod;
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

/// Set by a worker pod's user container (see [`crate::pod`]): the helper listens on this
/// unix socket instead of speaking on stdin and stdout, and runs datums as its own user.
pub(crate) const LISTEN_ENV: &str = "STRATA_SANDBOX_LISTEN";

/// Where the worker's scratch directory is, as the helper sees it: in its own
/// namespace, in a container and in a worker pod alike.
pub(crate) const WORK_DIR: &str = "/.strata/work";

/// Where the helper runs, which decides how it lays out `/pfs` and who runs the datum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Namespaces the helper made itself, as root.
    Namespace,
    /// The entrypoint of a container the worker started (see [`IN_CONTAINER_ENV`]).
    Container,
    /// The entrypoint of a worker pod's user container, listening on this socket.
    Pod(std::path::PathBuf),
}

/// What the helper was asked for, from its environment.
#[derive(Debug, Clone)]
pub(crate) struct HelperConfig {
    /// The uid datums switch to; `None` in a pod, where the helper already is that user.
    pub uid: Option<u32>,
    pub work_dir: std::path::PathBuf,
    /// In a container or pod: the image's environment (what the engine gave the
    /// entrypoint, less the helper's own `STRATA_*` settings), under every datum's
    /// variables, so that the image's `PATH` and friends hold as they would for its own
    /// entrypoint. Empty in the helper's own namespace, where nothing of the host is
    /// passed on.
    pub image_env: Vec<(String, String)>,
    pub placement: Placement,
}

impl HelperConfig {
    fn from_env() -> Result<HelperConfig, String> {
        let work_dir = std::env::var_os(WORK_DIR_ENV)
            .map(std::path::PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .ok_or_else(|| format!("{WORK_DIR_ENV} is missing or not an absolute path"))?;
        let placement = match std::env::var_os(LISTEN_ENV) {
            Some(socket) => Placement::Pod(socket.into()),
            None if std::env::var(IN_CONTAINER_ENV).is_ok_and(|v| v == "1") => Placement::Container,
            None => Placement::Namespace,
        };
        let uid = match placement {
            Placement::Pod(_) => None,
            Placement::Namespace | Placement::Container => Some(uid_from_env()?),
        };
        let image_env = if placement == Placement::Namespace {
            Vec::new()
        } else {
            std::env::vars().filter(|(key, _)| !key.starts_with("STRATA_")).collect()
        };
        Ok(HelperConfig { uid, work_dir, image_env, placement })
    }

    /// Whether the helper is the first process of a container, whose memory cgroup is
    /// the datum's.
    pub fn in_container(&self) -> bool {
        self.placement != Placement::Namespace
    }
}

fn uid_from_env() -> Result<u32, String> {
    let uid = std::env::var(UID_ENV)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| format!("{UID_ENV} is missing or not a uid"))?;
    if uid == 0 {
        return Err(format!("{UID_ENV} is 0: user code never runs as root"));
    }
    Ok(uid)
}

/// The helper's entry point; returns the process exit code.
///
/// Call it from `main` when the binary is started as the helper (`strata __sandbox`),
/// **before** starting any thread or runtime: a namespace cannot be made by a
/// multi-threaded process. It speaks this crate's line protocol (one JSON value per line)
/// on stdin/stdout, or in a worker pod on the unix socket [`LISTEN_ENV`] names, and
/// writes diagnostics to stderr.
pub fn helper_main() -> i32 {
    let forced = std::env::var(FORCE_FALLBACK_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    let config = if forced { Err(format!("{FORCE_FALLBACK_ENV} is set")) } else { HelperConfig::from_env() };
    if let Ok(config @ HelperConfig { placement: Placement::Pod(_), .. }) = &config {
        // In a pod there is no worker on stdin to tell: each connection gets its hello.
        return serve_pod(config);
    }
    let entered = config.and_then(|config| {
        let entered = match config.placement {
            Placement::Container => enter_container(),
            _ => enter_namespace(&config),
        };
        entered.map(|()| config)
    });
    let (hello, config) = match entered {
        Ok(config) => (Hello::Ready, Some(config)),
        Err(reason) => (Hello::Unavailable { reason }, None),
    };
    if let Err(e) = send(&mut io::stdout(), &hello) {
        return report(&format!("cannot write to the worker: {e}"));
    }
    match config {
        Some(config) => serve(&config),
        None => 0,
    }
}

#[cfg(target_os = "linux")]
fn serve_pod(config: &HelperConfig) -> i32 {
    match pod::serve(config) {
        Ok(()) => 0,
        Err(message) => report(&message),
    }
}

#[cfg(not(target_os = "linux"))]
fn serve_pod(_: &HelperConfig) -> i32 {
    report("worker pods need Linux")
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

/// Writes one protocol line: to stdout, or to a pod's worker connection.
pub(crate) fn send(to: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    to.write_all(&line)?;
    to.flush()
}

/// The helper has no logger: its stderr is the worker's, so diagnostics go there.
fn report(message: &str) -> i32 {
    let _stderr_gone = writeln!(io::stderr(), "strata sandbox helper: {message}");
    1
}
