//! The library's end of the helper process (see [`crate::protocol`]).

use std::process::Stdio;
use std::time::Duration;

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};

use crate::helper::{FORCE_FALLBACK_ENV, UID_ENV, WORK_DIR_ENV};
use crate::protocol::{Hello, Request, Response};
use crate::{Confinement, HelperCommand, RunOutcome, SandboxError};

/// Making the namespace takes milliseconds; a helper that says nothing for this long is
/// not a helper (e.g. a wrong program path that waits on its stdin).
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a helper whose pipe closed gets to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A running helper whose namespace is ready.
///
/// Dropping it closes the helper's stdin: an idle helper then exits, and a busy one kills
/// its datum's process group first. It is not killed outright, because a SIGKILLed
/// helper would leave its datum running. A pod's helper, reached through its socket,
/// does the same when the connection closes, and then waits for the next one.
pub(crate) struct Helper {
    link: Link,
    writer: Box<dyn AsyncWrite + Send + Sync + Unpin>,
    reader: BufReader<Box<dyn AsyncRead + Send + Sync + Unpin>>,
    line: String,
}

/// How the worker reaches its helper.
#[derive(Debug)]
enum Link {
    /// A child process (or the container engine running it): its pipes.
    Process(Child),
    /// A worker pod's helper: a unix socket on the pod's shared volume.
    Socket(PathBuf),
}

impl std::fmt::Debug for Helper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Helper").field("link", &self.link).finish_non_exhaustive()
    }
}

impl Helper {
    /// Starts a helper and waits for its namespace.
    ///
    /// The helper gets an empty environment plus what it needs: the worker's holds the
    /// worker's credential, and nothing the helper's commands could inherit by mistake
    /// should carry it.
    pub async fn start(command: &HelperCommand, confinement: &Confinement) -> Result<Helper, SandboxError> {
        let mut child = Command::new(&command.program);
        child.env_clear();
        for name in [FORCE_FALLBACK_ENV, "LANG"] {
            if let Some(value) = std::env::var_os(name) {
                child.env(name, value);
            }
        }
        let work_dir = std::path::absolute(&confinement.work_dir)
            .map_err(|e| SandboxError::Prepare { path: confinement.work_dir.clone(), message: e.to_string() })?;
        if let Some(dir) = &command.current_dir {
            child.current_dir(dir);
        }
        let mut child = child
            .env(UID_ENV, confinement.uid.to_string())
            .env(WORK_DIR_ENV, work_dir)
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| SandboxError::HelperStart { program: command.program.clone(), source })?;
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward_diagnostics(stderr));
        }
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(SandboxError::Protocol { message: "the helper's pipes were not set up".to_owned() });
        };
        let helper = Helper {
            link: Link::Process(child),
            writer: Box::new(stdin),
            reader: BufReader::new(Box::new(stdout)),
            line: String::new(),
        };
        helper.greeted(&command.program).await
    }

    /// Connects to a worker pod's helper, listening on `socket`, and waits for its hello.
    pub async fn connect(socket: &Path) -> Result<Helper, SandboxError> {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|source| SandboxError::HelperStart { program: socket.to_path_buf(), source })?;
        let (reader, writer) = stream.into_split();
        let helper = Helper {
            link: Link::Socket(socket.to_path_buf()),
            writer: Box::new(writer),
            reader: BufReader::new(Box::new(reader)),
            line: String::new(),
        };
        helper.greeted(socket).await
    }

    /// Waits for the helper's first line and returns it ready, or why it is not.
    async fn greeted(mut self, program: &Path) -> Result<Helper, SandboxError> {
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, self.receive::<Hello>()).await {
            Ok(hello) => hello?,
            Err(_) => {
                return Err(SandboxError::Protocol {
                    message: format!("{} did not report ready within {HELLO_TIMEOUT:?}", program.display()),
                });
            }
        };
        match hello {
            Hello::Ready => Ok(self),
            Hello::Unavailable { reason } => {
                self.close().await;
                Err(SandboxError::NamespaceUnavailable { reason })
            }
        }
    }

    /// Runs one datum in the helper.
    pub async fn run(&mut self, request: &Request) -> Result<RunOutcome, SandboxError> {
        let mut line = serde_json::to_vec(request)
            .map_err(|e| SandboxError::Protocol { message: format!("cannot encode the request: {e}") })?;
        line.push(b'\n');
        if self.writer.write_all(&line).await.is_err() || self.writer.flush().await.is_err() {
            // A broken pipe says only that the helper is gone; its exit status says why.
            return Err(self.died().await);
        }
        match self.receive::<Response>().await? {
            Response::Finished { status, elapsed_us, cpu_us } => Ok(RunOutcome {
                status,
                elapsed: Duration::from_micros(elapsed_us),
                cpu: Duration::from_micros(cpu_us),
            }),
            Response::Failed(error) => Err(error.into()),
        }
    }

    /// Reads one line and decodes it; end of file means the helper died.
    async fn receive<T: DeserializeOwned>(&mut self) -> Result<T, SandboxError> {
        self.line.clear();
        match self.reader.read_line(&mut self.line).await {
            Ok(0) | Err(_) => return Err(self.died().await),
            Ok(_) => {}
        }
        serde_json::from_str(&self.line)
            .map_err(|e| SandboxError::Protocol { message: format!("unexpected line {:?}: {e}", self.line.trim_end()) })
    }

    /// Collects the exit status of a helper whose pipes closed.
    async fn died(&mut self) -> SandboxError {
        let child = match &mut self.link {
            Link::Process(child) => child,
            Link::Socket(socket) => {
                return SandboxError::HelperDied { status: format!("its connection at {} closed", socket.display()) };
            }
        };
        let status = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(e)) => format!("exit status unknown: {e}"),
            Err(_) => {
                let _already_gone = child.start_kill();
                "its output closed but it did not exit; killed".to_owned()
            }
        };
        SandboxError::HelperDied { status }
    }

    /// Closes the helper's stdin (or the pod's connection) and waits for a child
    /// helper to exit.
    pub async fn close(self) {
        let Helper { link, writer, .. } = self;
        drop(writer);
        if let Link::Process(mut child) = link
            && tokio::time::timeout(EXIT_GRACE, child.wait()).await.is_err()
        {
            let _already_gone = child.start_kill();
            let _reaped = child.wait().await;
        }
    }
}

/// Logs what the helper (or the container engine and its monitor) writes to
/// stderr. A pipe rather than the worker's own stderr: the engine's monitor
/// outlives `podman run` for a moment and must not hold the worker's output
/// open after it.
async fn forward_diagnostics(stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::warn!(target: "strata::sandbox", "{line}");
    }
}
