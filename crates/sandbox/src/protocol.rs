//! The line protocol between [`crate::Sandbox`] and the helper process: one JSON value per
//! line each way. The helper first sends a [`Hello`]; then every [`Request`] line gets one
//! [`Response`] line. Both halves are in this crate, so the format needs no versioning: the
//! worker and its helper are always the same binary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{DatumRun, ExitKind, Isolation, SandboxError, pfs_root_for};

/// The helper's first line: whether its namespace is ready.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Hello {
    Ready,
    Unavailable { reason: String },
}

/// One datum to run. Paths are absolute: the helper's working directory is not the
/// worker's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Request {
    pub root: PathBuf,
    pub inputs: Vec<String>,
    pub cmd: Vec<String>,
    pub stdin: Option<String>,
    /// The command's whole environment (see [`crate::tenant`]).
    pub env: Vec<(String, String)>,
    pub timeout_us: Option<u64>,
    pub log: PathBuf,
    pub workdir: Option<PathBuf>,
}

impl Request {
    pub fn new(run: &DatumRun, isolation: Isolation) -> Result<Request, SandboxError> {
        let root = absolute(&run.root)?;
        let pfs = pfs_root_for(isolation, &root);
        let lang = std::env::var("LANG").ok();
        let env = crate::tenant::datum_env(isolation, &root, lang, &run.env, &pfs);
        Ok(Request {
            inputs: run.inputs.clone(),
            cmd: run.cmd.clone(),
            stdin: run.stdin.clone(),
            env,
            timeout_us: run.timeout.map(|t| u64::try_from(t.as_micros()).unwrap_or(u64::MAX)),
            log: absolute(&run.log)?,
            workdir: run.workdir.as_deref().map(absolute).transpose()?,
            root,
        })
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_us.map(Duration::from_micros)
    }

    /// The program, for error messages.
    pub fn program(&self) -> &str {
        self.cmd.first().map_or("", String::as_str)
    }
}

fn absolute(path: &Path) -> Result<PathBuf, SandboxError> {
    std::path::absolute(path).map_err(|e| SandboxError::Prepare { path: path.to_path_buf(), message: e.to_string() })
}

/// The helper's answer to one [`Request`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Response {
    /// `cpu_us`: user and system CPU time of the command and every process
    /// it started, from the kernel's accounting of the helper's children.
    Finished {
        status: ExitKind,
        elapsed_us: u64,
        #[serde(default)]
        cpu_us: u64,
    },
    Failed(WireError),
}

/// The errors the helper reports for a datum; each maps onto one [`SandboxError`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireError {
    InvalidInputName { name: String },
    EmptyCommand,
    MissingInput { name: String, path: PathBuf },
    CommandNotFound { program: String },
    Spawn { program: String, message: String },
    Workdir { path: PathBuf, message: String },
    Log { path: PathBuf, message: String },
    Prepare { path: PathBuf, message: String },
    Mount { target: PathBuf, message: String },
    Internal { message: String },
}

impl From<WireError> for SandboxError {
    fn from(error: WireError) -> Self {
        match error {
            // The library validates names before sending, so the helper's own check
            // only fires on a bug; its reason need not travel.
            WireError::InvalidInputName { name } => {
                SandboxError::InvalidInputName { name, reason: "rejected by the sandbox helper" }
            }
            WireError::EmptyCommand => SandboxError::EmptyCommand,
            WireError::MissingInput { name, path } => SandboxError::MissingInput { name, path },
            WireError::CommandNotFound { program } => SandboxError::CommandNotFound { program },
            WireError::Spawn { program, message } => SandboxError::Spawn { program, message },
            WireError::Workdir { path, message } => SandboxError::Workdir { path, message },
            WireError::Log { path, message } => SandboxError::Log { path, message },
            WireError::Prepare { path, message } => SandboxError::Prepare { path, message },
            WireError::Mount { target, message } => SandboxError::Mount { target, message },
            WireError::Internal { message } => SandboxError::Protocol { message },
        }
    }
}
