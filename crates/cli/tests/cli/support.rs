//! Running the real `strata` binary in a private environment.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private home for one test: CLI config and data directory.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn cli_config(&self) -> PathBuf {
        self.dir.path().join("cli/config.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `strata ARGS` with this sandbox's CLI config and no inherited
    /// `STRATA_*` settings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
        command.args(args).env("STRATA_CONFIG", self.cli_config()).env("HOME", self.dir.path());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("STRATA_") {
                command.env_remove(key);
            }
        }
        command.env("STRATA_CONFIG", self.cli_config());
        // Processes, whatever this machine has installed, and hub workspaces
        // allowed to run them (a test of the refusal unsets it).
        command.env("STRATA_RUNNER", "process").env("STRATA_INSECURE_WORKSPACES_WITHOUT_CONTAINERS", "true");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run strata")
    }

    /// Starts `strata dev` on a free port and waits for its URL line.
    pub fn start_dev(&self, extra: &[&str]) -> DevServer {
        self.start_dev_with_env(extra, &[])
    }

    /// Starts `strata dev` with server settings given as `STRATA_*`
    /// variables, e.g. `("STRATA_WORKERS", "0")`.
    pub fn start_dev_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> DevServer {
        let data_dir = self.data_dir();
        let mut args = vec!["dev", "--listen", "127.0.0.1:0", "--data-dir", data_dir.to_str().expect("utf-8")];
        args.extend_from_slice(extra);
        let log = std::fs::File::create(self.dir.path().join("dev.log")).expect("log file");
        let mut command = self.command(&args);
        command.envs(env.iter().copied());
        let mut child = command.stdout(Stdio::piped()).stderr(log).spawn().expect("spawn strata dev");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read the URL line");
        // Keep reading so the server never writes into a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = first
            .trim()
            .strip_prefix("Strata is running at ")
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
            .to_owned();
        DevServer { child, url }
    }
}

pub struct DevServer {
    pub child: Child,
    pub url: String,
}

impl DevServer {
    /// Sends `signal` and waits for the exit status.
    pub fn stop_with(mut self, signal: nix::sys::signal::Signal) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        nix::sys::signal::kill(pid, signal).expect("signal");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "strata dev did not stop within 20 s");
            // Poll interval of a wait-for-condition loop, not synchronisation.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts a user error: exit code 1 and exactly one line on stderr that
/// contains every `needle`.
pub fn assert_user_error(output: &Output, needles: &[&str]) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "exit code; stderr: {text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    for needle in needles {
        assert!(lines[0].contains(needle), "`{needle}` missing in: {text}");
    }
}

/// Runs `strata ARGS`, asserts exit code 0 and returns stdout.
pub fn ok(sandbox: &Sandbox, args: &[&str]) -> String {
    let output = sandbox.run(args);
    assert_eq!(output.status.code(), Some(0), "strata {args:?}: {}", stderr(&output));
    stdout(&output)
}

/// Runs `strata ARGS -o json` and parses its output.
pub fn json(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut with_json = args.to_vec();
    with_json.extend(["-o", "json"]);
    serde_json::from_str(&ok(sandbox, &with_json)).expect("json output")
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Writes a pipeline spec (or any text) named `name` into the sandbox and
/// answers its path.
pub fn write_spec(sandbox: &Sandbox, name: &str, text: &str) -> String {
    let path = sandbox.dir.path().join(name);
    std::fs::write(&path, text).expect("write spec");
    path_str(&path).to_owned()
}

/// `strata put file TARGET` of `content`.
pub fn put(sandbox: &Sandbox, target: &str, content: &str) {
    let file = sandbox.dir.path().join("upload.txt");
    std::fs::write(&file, content).expect("write");
    ok(sandbox, &["put", "file", target, "-f", path_str(&file)]);
}

/// `strata ARGS` with `line` and a newline on stdin: how passwords and
/// other secrets reach the CLI.
pub fn with_stdin_line(sandbox: &Sandbox, args: &[&str], line: &str) -> Output {
    let mut child = sandbox
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(format!("{line}\n").as_bytes()).expect("write");
    child.wait_with_output().expect("wait")
}

/// The token of the newest mail to `to` in the dev outbox.
pub fn mailed_token(sandbox: &Sandbox, to: &str) -> String {
    let outbox = strata_hub::OutboxMailer::new(sandbox.data_dir().join("outbox"));
    let link = outbox.messages_to(to).pop().expect("a mail").link.expect("a link");
    link.split("token=").nth(1).expect("token").to_owned()
}

/// True while something accepts connections at `http://HOST:PORT`.
pub fn answers(endpoint: &str) -> bool {
    let address = endpoint.trim_start_matches("http://");
    std::net::TcpStream::connect_timeout(&address.parse().expect("socket address"), Duration::from_millis(200)).is_ok()
}

pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within {timeout:?}");
        // Poll interval of a wait-for-condition loop, not synchronisation.
        std::thread::sleep(Duration::from_millis(100));
    }
}
