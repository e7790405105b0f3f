//! The process runner's sandbox (see DESIGN.md §4).
//!
//! Unmodified Pachyderm pipeline code reads its inputs at the literal paths
//! `/pfs/<input name>/<repo path>` and writes to `/pfs/out/`. This crate runs a datum's
//! command so that those paths exist for it and for nobody else:
//!
//! - [`Isolation::Namespace`]: a long-lived helper process (see [`helper_main`]) lives in a
//!   private mount namespace whose root is a copy of the host's `/` plus an empty `/pfs`.
//!   For each datum it bind-mounts `<root>/<input>` on `/pfs/<input>` and `<root>/out` on
//!   `/pfs/out`, runs the command, and unmounts them again. The host's `/pfs` is never
//!   created; host paths (scratch dirs, the log file, the working dir) stay visible at the
//!   same path inside. `$PFS` is `/pfs`.
//! - [`Isolation::Scratch`]: no namespace; the command runs directly and finds the same
//!   layout under `$PFS` = the datum's scratch root. Used where namespaces cannot be made
//!   (the reason is kept in [`Sandbox::fallback_reason`]) or when asked for.
//!
//! Code that uses `$PFS` works in both modes; code with `/pfs` hard-coded needs the first.
//!
//! This isolates paths, not privileges: the command runs as the worker's user and sees the
//! worker's files. The namespace takes a copy of the host's mounts when the helper starts;
//! files and directories created later are visible (same file systems), but file systems
//! mounted on the host later are not, so datum roots must not be fresh mounts.
//!
//! `STRATA_SANDBOX_FORCE_FALLBACK=1` in the helper's environment (the worker's, or
//! [`HelperCommand::env`]) makes the helper report namespaces as unavailable, so that
//! [`IsolationMode::Auto`] falls back to scratch mode: a test hook, and an operator's switch.

mod error;
mod helper;
mod launch;
mod protocol;
mod remote;
mod scratch;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

pub use error::SandboxError;
pub use helper::{FORCE_FALLBACK_ENV, helper_main};

use protocol::Request;
use remote::Helper;

/// Where `/pfs` lives for user code in namespace mode.
const NAMESPACE_PFS: &str = "/pfs";

/// The directory under a datum's root (and under `/pfs`) that receives its output.
const OUT_DIR: &str = "out";

/// What isolation a [`Sandbox`] actually gives its commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// A private mount namespace: inputs at `/pfs/<input>`, output at `/pfs/out`.
    Namespace,
    /// No namespace: the same layout under `$PFS`, the datum's scratch root.
    Scratch,
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Isolation::Namespace => "namespace",
            Isolation::Scratch => "scratch",
        })
    }
}

/// What isolation is asked for, e.g. from the worker's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolationMode {
    /// Try a namespace and fall back to scratch mode (with a reason) if it cannot be made.
    #[default]
    Auto,
    /// A namespace or an error: for deployments whose pipelines hard-code `/pfs`.
    Namespace,
    /// Never start the helper.
    Scratch,
}

impl FromStr for IsolationMode {
    type Err = SandboxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(IsolationMode::Auto),
            "namespace" => Ok(IsolationMode::Namespace),
            "scratch" => Ok(IsolationMode::Scratch),
            other => Err(SandboxError::InvalidMode { value: other.to_owned() }),
        }
    }
}

/// How to start the helper process: a program, its leading arguments and extra
/// environment, e.g. `HelperCommand::new(current_exe).arg("__sandbox")`.
#[derive(Debug, Clone)]
pub struct HelperCommand {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl HelperCommand {
    /// A helper started as `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        HelperCommand { program: program.into(), args: Vec::new(), env: Vec::new() }
    }

    /// Appends an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable for the helper (and so for every command it runs).
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The program that is started.
    pub fn program(&self) -> &Path {
        &self.program
    }
}

/// One run of a datum's command.
#[derive(Debug, Clone, Default)]
pub struct DatumRun {
    /// The datum's scratch root: holds a directory per input and `out/` (created if missing).
    pub root: PathBuf,
    /// The inputs to expose at `/pfs/<name>`; each must be a directory under `root`.
    pub inputs: Vec<String>,
    /// The program and its arguments, run without a shell; the program is looked up in `PATH`.
    pub cmd: Vec<String>,
    /// Text written to the program's stdin, which is then closed; `None` gives it `/dev/null`.
    pub stdin: Option<String>,
    /// Variables added to the worker's environment (`PFS` is added after these).
    pub env: Vec<(String, String)>,
    /// Kill the command's whole process group after this long.
    pub timeout: Option<Duration>,
    /// The datum's log: stdout and stderr are both appended to it, interleaved.
    pub log: PathBuf,
    /// The working directory; the worker's own by default.
    pub workdir: Option<PathBuf>,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitKind {
    /// It exited with this code.
    Exited(i32),
    /// A signal (this number) killed it.
    Signalled(i32),
    /// It ran past its timeout and its process group was killed.
    TimedOut,
}

/// The result of a command that was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// How it ended.
    pub status: ExitKind,
    /// Wall time from start to exit (or to the kill on timeout).
    pub elapsed: Duration,
}

impl RunOutcome {
    /// Whether the datum succeeded: exit code 0.
    pub fn success(&self) -> bool {
        self.status == ExitKind::Exited(0)
    }
}

/// The directory that stands for `/pfs` in a datum's environment: user code finds input
/// `<name>` at `<this>/<name>`. Callers build `<name>=<this>/<name>/<path>` variables from it.
pub fn pfs_root_for(isolation: Isolation, root: &Path) -> PathBuf {
    match isolation {
        Isolation::Namespace => PathBuf::from(NAMESPACE_PFS),
        Isolation::Scratch => root.to_path_buf(),
    }
}

/// Runs datum commands with `/pfs` (or `$PFS`) laid out for them, one at a time; use one
/// `Sandbox` per parallel slot.
#[derive(Debug)]
pub struct Sandbox {
    isolation: Isolation,
    fallback_reason: Option<String>,
    runner: Runner,
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "one per worker slot, made once and never moved in a hot path")]
enum Runner {
    /// The mutex only serialises runs, so that both modes behave the same to callers.
    Scratch(Mutex<()>),
    /// `None` while no helper is running: before a restart, or after a run was cancelled
    /// (dropping the helper's stdin makes it kill that run and exit).
    Namespace { command: HelperCommand, helper: Mutex<Option<Helper>> },
}

impl Sandbox {
    /// Starts a sandbox. In namespace mode (and `Auto`) this starts the helper and waits
    /// until its namespace is ready; `Auto` falls back to scratch mode if it cannot be made.
    pub async fn start(mode: IsolationMode, helper: HelperCommand) -> Result<Sandbox, SandboxError> {
        let fallback_reason = match mode {
            IsolationMode::Scratch => None,
            IsolationMode::Namespace => {
                let running = Helper::start(&helper).await?;
                return Ok(Self::namespace(helper, running));
            }
            IsolationMode::Auto => match Helper::start(&helper).await {
                Ok(running) => return Ok(Self::namespace(helper, running)),
                Err(error) => Some(error_chain(&error)),
            },
        };
        Ok(Sandbox { isolation: Isolation::Scratch, fallback_reason, runner: Runner::Scratch(Mutex::new(())) })
    }

    fn namespace(command: HelperCommand, helper: Helper) -> Sandbox {
        Sandbox {
            isolation: Isolation::Namespace,
            fallback_reason: None,
            runner: Runner::Namespace { command, helper: Mutex::new(Some(helper)) },
        }
    }

    /// The isolation in effect.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// Why `Auto` fell back to scratch mode, for the job's log; `None` if it did not.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The directory that stands for `/pfs` for a datum rooted at `root`.
    pub fn pfs_root(&self, root: &Path) -> PathBuf {
        pfs_root_for(self.isolation, root)
    }

    /// Runs one datum's command and waits for it. Concurrent calls on one `Sandbox` wait
    /// for each other.
    ///
    /// The command runs in its own process group. When it exits (or times out), whatever
    /// it left running in that group is killed, so nothing keeps writing to the datum's
    /// output after the run; a process that made its own group or session escapes this.
    ///
    /// A command that cannot be started (e.g. [`SandboxError::CommandNotFound`]) is an
    /// error for which [`SandboxError::is_user_error`] holds. If the helper dies, this
    /// returns [`SandboxError::HelperDied`] and the next call starts a new helper.
    /// Dropping the future kills the command's process group.
    pub async fn run(&self, run: &DatumRun) -> Result<RunOutcome, SandboxError> {
        validate(run)?;
        let request = Request::new(run, self.isolation)?;
        match &self.runner {
            Runner::Scratch(lock) => {
                let _one_at_a_time = lock.lock().await;
                scratch::run(&request).await
            }
            Runner::Namespace { command, helper } => {
                let mut slot = helper.lock().await;
                // Taken out for the duration of the call: if this future is dropped
                // halfway, the helper is dropped with it rather than reused out of step.
                let mut running = match slot.take() {
                    Some(running) => running,
                    None => {
                        tracing::info!(helper = %command.program.display(), "starting a new sandbox helper");
                        Helper::start(command).await?
                    }
                };
                let outcome = running.run(&request).await;
                if !matches!(outcome, Err(SandboxError::HelperDied { .. } | SandboxError::Protocol { .. })) {
                    *slot = Some(running);
                }
                outcome
            }
        }
    }

    /// Stops the helper (if any) and waits for it to exit, so that its namespace is gone.
    pub async fn close(self) {
        if let Runner::Namespace { helper, .. } = self.runner
            && let Some(running) = helper.into_inner()
        {
            running.close().await;
        }
    }
}

/// Checks what the caller controls before anything is started.
fn validate(run: &DatumRun) -> Result<(), SandboxError> {
    if run.cmd.first().is_none_or(String::is_empty) {
        return Err(SandboxError::EmptyCommand);
    }
    for (i, name) in run.inputs.iter().enumerate() {
        check_input_name(name)?;
        if run.inputs[..i].contains(name) {
            return Err(SandboxError::InvalidInputName { name: name.clone(), reason: "it is given twice" });
        }
    }
    Ok(())
}

/// An input name becomes a single path component under `/pfs`, next to `out`.
pub(crate) fn check_input_name(name: &str) -> Result<(), SandboxError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name == "." || name == ".." {
        "it is not a directory name"
    } else if name == OUT_DIR {
        "`out` is the output directory"
    } else if name.contains('/') {
        "it contains `/`"
    } else if name.contains('\0') {
        "it contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(SandboxError::InvalidInputName { name: name.to_owned(), reason })
}

/// An error and its sources on one line, for a reason string that is logged as is.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
