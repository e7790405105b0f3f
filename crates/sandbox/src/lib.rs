//! The process runner's sandbox (see DESIGN.md §4).
//!
//! Unmodified Pachyderm pipeline code reads its inputs at the literal paths
//! `/pfs/<input name>/<repo path>` and writes to `/pfs/out/`. This crate runs a datum's
//! command so that those paths exist for it, and so that tenant code reaches nothing of
//! the platform:
//!
//! - [`Isolation::Namespace`]: a long-lived helper process (see [`helper_main`]), started
//!   as root, makes private mount and network namespaces whose root is a fresh tmpfs
//!   holding only read-only binds of the system directories (`/usr`, `/bin`, `/lib*`,
//!   `/etc`, ...), a `/proc` that shows a process only its own, a minimal `/dev`, a
//!   private `/tmp`, a private home, and an empty `/pfs` (see `helper/namespace.rs`).
//!   The host's data directory, databases, home directories and other workspaces'
//!   scratch directories do not exist there; the network namespace has only a `lo` that
//!   is down, so no server of the platform (nor anything else) can be reached. For each
//!   datum it bind-mounts `<root>/<input>` on `/pfs/<input>` and `<root>/out` (owned by
//!   the workspace's uid) on `/pfs/out`, runs the command as the workspace's uid (see
//!   [`tenant_uid`]) with no capabilities in any set and `no_new_privs`, and unmounts them
//!   again. `$PFS` is `/pfs`.
//! - [`Isolation::Scratch`]: no namespace; the command runs directly, as the worker's
//!   user, and finds the same layout under `$PFS` = the datum's scratch root. Only for a
//!   laptop's `strata dev`: chosen explicitly, or by [`IsolationMode::Auto`]'s fallback
//!   where the namespace cannot be made (the reason is kept in
//!   [`Sandbox::fallback_reason`] for the job's log).
//!
//! - [`Isolation::Container`]: the same helper is the entrypoint of a long-lived OCI
//!   container made from the pipeline's image (see [`container`]); the container engine
//!   makes the namespaces, and `/pfs` is laid out the same way inside it.
//!
//! In both process modes the command's environment is built from an allow-list (`PATH`, `HOME`,
//! `LANG`, the caller's datum variables, `PFS`): nothing of the worker's environment,
//! where its credential lives, reaches user code. The helper itself is started with an
//! empty environment too.
//!
//! Code that uses `$PFS` works in both modes; code with `/pfs` hard-coded needs the first.
//!
//! The namespace takes its view of the worker's scratch directory when the helper starts:
//! files and directories created in it later are visible (same file system), but file
//! systems mounted there later are not, so datum roots must not be fresh mounts.
//!
//! `STRATA_SANDBOX_FORCE_FALLBACK=1` in the helper's environment (the worker's, or
//! [`HelperCommand::env`]) makes the helper report namespaces as unavailable, so that
//! [`IsolationMode::Auto`] falls back to scratch mode: a test hook, and an operator's switch.

pub mod config;
pub mod container;
mod error;
mod helper;
mod launch;
pub mod pod;
mod protocol;
mod remote;
mod scratch;
mod tenant;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

pub use container::{
    ContainerLimits, ContainerRuntime, ContainerSecrets, ContainerSpec, DEFAULT_CONTAINER_USER, container_uid_base,
};
pub use error::SandboxError;
pub use helper::{FORCE_FALLBACK_ENV, helper_main};
pub use tenant::{Confinement, FIRST_TENANT_UID, TENANT_UIDS, USER_PATH, tenant_uid};

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
    /// Confined: private mount and network namespaces, the workspace's uid, no
    /// capabilities; inputs at `/pfs/<input>`, output at `/pfs/out`.
    Namespace,
    /// No namespace: the same layout under `$PFS`, the datum's scratch root, as the
    /// worker's user. Only for a laptop's `strata dev`.
    Scratch,
    /// In an OCI container made from the pipeline's image (see [`container`]): inputs at
    /// `/pfs/<input>`, output at `/pfs/out`, the pipeline's user, no network.
    Container,
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Isolation::Namespace => "namespace",
            Isolation::Scratch => "scratch",
            Isolation::Container => "container",
        })
    }
}

/// What isolation is asked for, e.g. from the worker's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolationMode {
    /// Try the namespace and fall back to scratch mode (with a reason) if it cannot be
    /// made: for `strata dev` on a laptop, never for provisioned workspaces.
    #[default]
    Auto,
    /// The namespace or an error: what workers of provisioned workspaces use, so that
    /// user code never runs unconfined (see [`Sandbox::refusing`]).
    Namespace,
    /// Never start the helper; user code is not isolated.
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
    /// `None`: the worker's own working directory.
    current_dir: Option<PathBuf>,
}

impl HelperCommand {
    /// A helper started as `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        HelperCommand { program: program.into(), args: Vec::new(), env: Vec::new(), current_dir: None }
    }

    /// Starts the helper in `dir`.
    #[must_use]
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
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
    /// The datum's variables. The command's environment is `PATH`, `HOME`, `LANG`, then
    /// these (which may override the first three), then `PFS`; nothing of the worker's.
    pub env: Vec<(String, String)>,
    /// Kill the command's whole process group after this long.
    pub timeout: Option<Duration>,
    /// The datum's log: stdout and stderr are both appended to it, interleaved.
    pub log: PathBuf,
    /// The working directory, as the command sees it (in namespace mode a path inside the
    /// sandbox, e.g. `/pfs/in`). By default `$HOME` in namespace mode, the worker's own
    /// in scratch mode.
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
    /// The kernel killed it for using more memory than its container's limit.
    OutOfMemory,
}

/// The result of a command that was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// How it ended.
    pub status: ExitKind,
    /// Wall time from start to exit (or to the kill on timeout).
    pub elapsed: Duration,
    /// CPU time (user + system) of the command and everything it started,
    /// as the kernel accounted it to the sandbox helper's children. Without
    /// a sandbox (scratch mode) there is no per-datum account: the wall
    /// time stands in for it.
    pub cpu: Duration,
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
        Isolation::Namespace | Isolation::Container => PathBuf::from(NAMESPACE_PFS),
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
    /// (dropping the helper's stdin makes it kill that run and exit). The helper runs in
    /// a namespace of its own, as a container's entrypoint, or in a worker pod's user
    /// container (`site` says which, and how a datum's directories are handed over).
    Helper { source: HelperSource, confinement: Confinement, helper: Mutex<Option<Helper>>, site: Site },
    /// Confinement was required and cannot be had: every run fails with this reason.
    Refused(String),
}

impl Sandbox {
    /// Starts a sandbox whose user code runs as `confinement` says. In namespace mode (and
    /// `Auto`) this starts the helper and waits until its namespace is ready; `Auto` falls
    /// back to scratch mode if it cannot be made.
    pub async fn start(
        mode: IsolationMode,
        helper: HelperCommand,
        confinement: &Confinement,
    ) -> Result<Sandbox, SandboxError> {
        let fallback_reason = match mode {
            IsolationMode::Scratch => None,
            IsolationMode::Namespace => {
                let running = Helper::start(&helper, confinement).await?;
                return Ok(Self::namespace(helper, confinement, running));
            }
            IsolationMode::Auto => match Helper::start(&helper, confinement).await {
                Ok(running) => return Ok(Self::namespace(helper, confinement, running)),
                Err(error) => Some(error_chain(&error)),
            },
        };
        Ok(Sandbox { isolation: Isolation::Scratch, fallback_reason, runner: Runner::Scratch(Mutex::new(())) })
    }

    /// A sandbox that runs nothing: every [`Sandbox::run`] fails with
    /// [`SandboxError::Unconfined`] and `reason`. For a worker that must confine user
    /// code and cannot (namespace mode, helper unavailable): its jobs then fail with a
    /// reason that says what to do, instead of the worker exiting and being restarted for
    /// ever, or running tenant code unconfined.
    pub fn refusing(reason: String) -> Sandbox {
        Sandbox { isolation: Isolation::Namespace, fallback_reason: None, runner: Runner::Refused(reason) }
    }

    fn namespace(command: HelperCommand, confinement: &Confinement, helper: Helper) -> Sandbox {
        Self::with_helper(HelperSource::Spawn(command), confinement, helper, Site::Namespace)
    }

    /// A sandbox whose datums go to `helper`, started again from `source` if it dies.
    fn with_helper(source: HelperSource, confinement: &Confinement, helper: Helper, site: Site) -> Sandbox {
        let isolation = match site {
            Site::Namespace => Isolation::Namespace,
            Site::Container(_) | Site::Pod => Isolation::Container,
        };
        Sandbox {
            isolation,
            fallback_reason: None,
            runner: Runner::Helper { source, confinement: confinement.clone(), helper: Mutex::new(Some(helper)), site },
        }
    }

    /// Starts a pipeline's container (see [`container`]) and waits until its helper is
    /// ready. `confinement.work_dir` is given to the container's root (its host uid),
    /// private, so that only the helper reaches it.
    pub async fn start_container(spec: &ContainerSpec, confinement: &Confinement) -> Result<Sandbox, SandboxError> {
        let owners = spec.owners()?;
        container::check_secret_paths(&spec.secrets)?;
        container::pull(spec, &confinement.work_dir).await?;
        container::give_work_dir(&confinement.work_dir, owners)?;
        container::stage_secrets(&spec.secrets, &confinement.work_dir, owners)?;
        let command = spec.helper_command(confinement);
        let helper = Helper::start(&command, confinement).await?;
        Ok(Self::with_helper(HelperSource::Spawn(command), confinement, helper, Site::Container(owners)))
    }

    /// Connects to the helper of a worker pod's user container (see [`pod`]), which
    /// listens on `socket` and sees `confinement.work_dir` at the same path.
    pub async fn connect_pod(socket: &Path, confinement: &Confinement) -> Result<Sandbox, SandboxError> {
        let helper = Helper::connect(socket).await?;
        Ok(Self::with_helper(HelperSource::Socket(socket.to_path_buf()), confinement, helper, Site::Pod))
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
            Runner::Refused(reason) => Err(SandboxError::Unconfined { reason: reason.clone() }),
            Runner::Helper { source, confinement, helper, site } => {
                match site {
                    Site::Namespace => {}
                    Site::Container(owners) => container::give_datum_root(&request.root, &request.log, *owners)?,
                    Site::Pod => pod::share_datum_root(&request.root, &request.log)?,
                }
                let mut slot = helper.lock().await;
                // Taken out for the duration of the call: if this future is dropped
                // halfway, the helper is dropped with it rather than reused out of step.
                let mut running = match slot.take() {
                    Some(running) => running,
                    None => source.start(confinement).await?,
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
        if let Runner::Helper { helper, confinement, site, .. } = self.runner {
            if let Some(running) = helper.into_inner() {
                running.close().await;
            }
            if matches!(site, Site::Container(_)) {
                container::remove_secrets(&confinement.work_dir);
            }
        }
    }
}

/// Where a sandbox's helper comes from, again after it died.
#[derive(Debug)]
enum HelperSource {
    /// A process this sandbox starts: the helper itself, or the container engine.
    Spawn(HelperCommand),
    /// A worker pod's helper, listening on this socket.
    Socket(PathBuf),
}

impl HelperSource {
    async fn start(&self, confinement: &Confinement) -> Result<Helper, SandboxError> {
        match self {
            HelperSource::Spawn(command) => {
                tracing::info!(helper = %command.program.display(), "starting a new sandbox helper");
                Helper::start(command, confinement).await
            }
            HelperSource::Socket(socket) => {
                tracing::info!(socket = %socket.display(), "connecting to the pod's sandbox helper again");
                Helper::connect(socket).await
            }
        }
    }
}

/// Where the helper runs, for handing it each datum's directories.
#[derive(Debug, Clone, Copy)]
enum Site {
    /// Its own namespaces, as root: it reaches everything.
    Namespace,
    /// A container whose root and user are these host uids.
    Container(container::Owners),
    /// A worker pod's user container, which shares only the pod's group with the worker.
    Pod,
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
