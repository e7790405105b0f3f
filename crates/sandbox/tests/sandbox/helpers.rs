use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use strata_sandbox::{Confinement, DatumRun, HelperCommand, IsolationMode, Sandbox};
use tempfile::TempDir;

pub fn helper() -> HelperCommand {
    HelperCommand::new(env!("CARGO_BIN_EXE_strata-sandbox-helper"))
}

/// The workspace these tests' user code belongs to.
pub const WORKSPACE: &str = "sandbox-tests";

/// Every [`Datum`] lives in a temporary directory, so that is the work dir.
pub fn confinement() -> Confinement {
    Confinement::for_workspace(WORKSPACE, std::env::temp_dir())
}

pub async fn sandbox(mode: IsolationMode) -> Sandbox {
    Sandbox::start(mode, helper(), &confinement()).await.unwrap()
}

/// A datum's scratch root with input files, an `out/` dir and a log path beside it.
pub struct Datum {
    _dir: TempDir,
    pub root: PathBuf,
    pub log: PathBuf,
    inputs: Vec<String>,
}

impl Datum {
    /// `files` are `(input, path inside the input, content)`.
    pub fn new(files: &[(&str, &str, &str)]) -> Datum {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("out")).unwrap();
        let mut inputs: Vec<String> = Vec::new();
        for (input, path, content) in files {
            let file = root.join(input).join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(&file, content).unwrap();
            if !inputs.iter().any(|i| i == input) {
                inputs.push((*input).to_owned());
            }
        }
        Datum { log: dir.path().join("datum.log"), root, _dir: dir, inputs }
    }

    /// A run of `sh -c script` over all of this datum's inputs.
    pub fn sh(&self, script: &str) -> DatumRun {
        DatumRun {
            root: self.root.clone(),
            inputs: self.inputs.clone(),
            cmd: vec!["sh".into(), "-c".into(), script.into()],
            log: self.log.clone(),
            timeout: Some(Duration::from_secs(30)),
            ..DatumRun::default()
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn out(&self, path: &str) -> String {
        fs::read_to_string(self.root.join("out").join(path)).unwrap()
    }
}

/// Whether a process is gone (or only a zombie waiting for its reaper).
pub fn process_is_dead(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesised command name.
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// Polls `check` for up to five seconds.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check() {
            return true;
        }
        // Poll interval of a wait-for-condition loop, not synchronisation.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

pub fn read_pid(path: &Path) -> u32 {
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

/// Runs a second datum beside `datum` in the same sandbox and checks that it
/// finds only its own input (and `out`) under `/pfs`.
pub async fn next_datum_sees_only_its_own_input(sandbox: &Sandbox, datum: &Datum) {
    let next = datum.root.parent().unwrap().join("root2");
    fs::create_dir_all(next.join("words")).unwrap();
    fs::write(next.join("words/w.txt"), "one two").unwrap();
    let mut run = datum.sh("ls /pfs > /pfs/out/listing");
    run.root = next.clone();
    run.inputs = vec!["words".to_owned()];
    assert!(sandbox.run(&run).await.unwrap().success(), "{}", datum.log_text());
    assert_eq!(fs::read_to_string(next.join("out/listing")).unwrap(), "out\nwords\n");
}
