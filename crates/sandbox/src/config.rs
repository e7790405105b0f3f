//! The sandbox's section of the server configuration (docs/configuration.md):
//! how embedded workers isolate datums.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{ContainerRuntime, IsolationMode, SandboxError};

/// The sandbox's keys as written by the user, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// What runs embedded workers' datums: `process`, `container`, or `auto`
    /// (containers where the engine and the static helper are found, else
    /// processes, with a warning in the log and in `strata status`).
    pub runner: String,
    /// How the process runner isolates datums: `auto`, `namespace` or `scratch`.
    pub sandbox: String,
    /// The `strata` binary embedded workers run as `strata __sandbox`;
    /// default: this executable.
    pub sandbox_helper: Option<PathBuf>,
    /// The container engine the container runner starts containers with.
    pub container_engine: String,
    /// The engine's configuration file (podman's `CONTAINERS_CONF`).
    pub containers_conf: Option<PathBuf>,
    /// The statically linked helper containers start with; default:
    /// `strata-sandbox-helper` beside this executable.
    pub container_helper: Option<PathBuf>,
    /// Registries (`host:port`, separated by `,`) images are pulled from over
    /// plain HTTP, e.g. one on loopback.
    pub insecure_registries: Option<String>,
    /// Let workspaces made through the hub run their pipelines' code as
    /// processes (namespace isolation) where there is no container runner.
    /// Off: their datums fail with a reason saying what to install. Tenant
    /// code outside a container shares the machine's kernel and programs.
    pub insecure_workspaces_without_containers: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            runner: "auto".to_owned(),
            sandbox: "auto".to_owned(),
            sandbox_helper: None,
            container_engine: "podman".to_owned(),
            containers_conf: None,
            container_helper: None,
            insecure_registries: None,
            insecure_workspaces_without_containers: false,
        }
    }
}

/// [`SandboxConfig`] validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    pub isolation: IsolationMode,
    /// The helper binary; `None`: the running executable.
    pub helper: Option<PathBuf>,
    /// Where `runner = "container"` (or `auto` found the parts): how
    /// containers are run.
    pub containers: Option<ContainerSettings>,
    /// Why `runner = "auto"` fell back to processes.
    pub runner_fallback: Option<String>,
    /// See [`SandboxConfig::insecure_workspaces_without_containers`].
    pub insecure_workspaces_without_containers: bool,
}

/// How the container runner runs containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSettings {
    pub engine: PathBuf,
    pub conf: Option<PathBuf>,
    /// `None`: `strata-sandbox-helper` beside the running executable.
    pub helper: Option<PathBuf>,
    pub insecure_registries: Vec<String>,
}

impl SandboxConfig {
    /// Checks the runner and the isolation mode; the error names the key.
    pub fn resolve(&self) -> Result<SandboxSettings, (&'static str, SandboxError)> {
        let isolation = self.sandbox.parse().map_err(|error| ("sandbox", error))?;
        let (containers, runner_fallback) = match self.runner.as_str() {
            "process" => (None, None),
            "container" => (Some(self.container_settings()), None),
            "auto" => {
                let settings = self.container_settings();
                match settings.missing_part(std::env::current_exe().ok().as_deref()) {
                    None => (Some(settings), None),
                    Some(missing) => (None, Some(missing)),
                }
            }
            other => return Err(("runner", SandboxError::InvalidRunner { value: other.to_owned() })),
        };
        Ok(SandboxSettings {
            isolation,
            helper: self.sandbox_helper.clone(),
            containers,
            runner_fallback,
            insecure_workspaces_without_containers: self.insecure_workspaces_without_containers,
        })
    }

    fn container_settings(&self) -> ContainerSettings {
        ContainerSettings {
            engine: PathBuf::from(&self.container_engine),
            conf: self.containers_conf.clone(),
            helper: self.container_helper.clone(),
            insecure_registries: self
                .insecure_registries
                .iter()
                .flat_map(|list| list.split(','))
                .map(str::trim)
                .filter(|registry| !registry.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

impl ContainerSettings {
    /// The runtime for a worker started by `current_exe`.
    pub fn runtime(&self, current_exe: Option<&Path>) -> ContainerRuntime {
        let helper = self.helper.clone().unwrap_or_else(|| {
            current_exe.and_then(Path::parent).map_or_else(|| PathBuf::from(HELPER_NAME), |dir| dir.join(HELPER_NAME))
        });
        let mut engine_env = vec![(OsString::from("PATH"), OsString::from(ENGINE_PATH))];
        if let Some(conf) = &self.conf {
            engine_env.push((OsString::from("CONTAINERS_CONF"), conf.clone().into_os_string()));
        }
        ContainerRuntime {
            engine: self.engine.clone(),
            engine_env,
            insecure_registries: self.insecure_registries.clone(),
            helper,
        }
    }

    /// What of the container runner is not on this machine, in a sentence;
    /// `None` when the engine is on the `PATH` (or at its path) and the
    /// static helper exists.
    pub fn missing_part(&self, current_exe: Option<&Path>) -> Option<String> {
        let engine_found = if self.engine.components().count() > 1 {
            self.engine.is_file()
        } else {
            std::env::split_paths(&std::ffi::OsString::from(ENGINE_PATH)).any(|dir| dir.join(&self.engine).is_file())
        };
        if !engine_found {
            return Some(format!("no container engine `{}` on this machine", self.engine.display()));
        }
        let helper = self.runtime(current_exe).helper;
        if !helper.is_file() {
            return Some(format!("no static sandbox helper at {}", helper.display()));
        }
        if !is_static_executable(&helper) {
            return Some(format!(
                "{} is not statically linked, so it cannot run in every image (scripts/containers.sh builds one that is)",
                helper.display()
            ));
        }
        None
    }
}

/// Whether `path` is an ELF executable that names no program interpreter
/// (a dynamically linked one does, in a `PT_INTERP` program header).
fn is_static_executable(path: &Path) -> bool {
    use std::io::Read;
    const PT_INTERP: u32 = 3;
    // The program headers follow the ELF header at the start of the file; a binary
    // whose headers lie further in counts as not static (the check fails closed).
    const HEADERS: u64 = 64 * 1024;
    let mut bytes = Vec::new();
    let read_start = std::fs::File::open(path).and_then(|file| file.take(HEADERS).read_to_end(&mut bytes));
    if read_start.is_err() {
        return false;
    }
    let read = |at: usize, len: usize| bytes.get(at..at + len);
    let (Some(magic), Some(&[class, endian])) = (read(0, 4), read(4, 2)) else { return false };
    // 64-bit little-endian: the only kind of machine this runner supports.
    if magic != b"\x7fELF" || class != 2 || endian != 1 {
        return false;
    }
    let number = |at: usize, len: usize| {
        read(at, len).map(|b| b.iter().rev().fold(0usize, |n, byte| (n << 8) | usize::from(*byte)))
    };
    let (Some(offset), Some(size), Some(count)) = (number(0x20, 8), number(0x36, 2), number(0x38, 2)) else {
        return false;
    };
    (0..count).all(|i| number(offset + i * size, 4).is_some_and(|kind| kind != PT_INTERP as usize))
}

/// The static helper's file name.
const HELPER_NAME: &str = "strata-sandbox-helper";

/// The engine's `PATH`: it finds its runtime (runc) and helpers there, and gets
/// nothing else of the worker's environment.
const ENGINE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_isolation_mode_is_one_of_three_words() {
        for (word, mode) in [
            ("auto", IsolationMode::Auto),
            ("namespace", IsolationMode::Namespace),
            ("scratch", IsolationMode::Scratch),
        ] {
            let config = SandboxConfig { sandbox: word.to_owned(), ..SandboxConfig::default() };
            assert_eq!(config.resolve().expect(word).isolation, mode);
        }
        let docker = SandboxConfig { sandbox: "docker".to_owned(), ..SandboxConfig::default() };
        let (key, error) = docker.resolve().expect_err("not a mode");
        assert_eq!(key, "sandbox");
        let error = error.to_string();
        assert!(error.contains("docker") && error.contains("auto, namespace or scratch"), "{error}");
    }

    #[test]
    fn the_runner_is_process_or_container_with_its_settings() {
        let process = SandboxConfig { runner: "process".to_owned(), ..SandboxConfig::default() };
        assert_eq!(process.resolve().expect("process").containers, None);
        let config = SandboxConfig {
            runner: "container".to_owned(),
            containers_conf: Some("/etc/strata/containers.conf".into()),
            insecure_registries: Some(" 127.0.0.1:5055, ,registry.local:5000".to_owned()),
            ..SandboxConfig::default()
        };
        let settings = config.resolve().expect("a container runner").containers.expect("containers");
        assert_eq!(settings.insecure_registries, ["127.0.0.1:5055", "registry.local:5000"]);
        let runtime = settings.runtime(Some(Path::new("/opt/strata/bin/strata")));
        assert_eq!(runtime.helper, Path::new("/opt/strata/bin/strata-sandbox-helper"));
        assert!(runtime.engine_env.contains(&("CONTAINERS_CONF".into(), "/etc/strata/containers.conf".into())));
        let docker = SandboxConfig { runner: "docker".to_owned(), ..SandboxConfig::default() };
        let (key, error) = docker.resolve().expect_err("not a runner");
        assert_eq!(key, "runner");
        assert!(error.to_string().contains("process, container or auto"), "{error}");
    }

    #[test]
    fn auto_falls_back_to_processes_and_says_which_part_is_missing() {
        let no_engine = SandboxConfig { container_engine: "no-such-engine-here".into(), ..SandboxConfig::default() };
        let settings = no_engine.resolve().expect("auto");
        assert_eq!(settings.containers, None);
        let reason = settings.runner_fallback.expect("a reason");
        assert!(reason.contains("no-such-engine-here"), "{reason}");

        let dir = tempfile::tempdir().expect("dir");
        let engine = dir.path().join("podman");
        std::fs::write(&engine, "").expect("engine");
        let no_helper = SandboxConfig {
            container_engine: engine.display().to_string(),
            container_helper: Some(dir.path().join("missing-helper")),
            ..SandboxConfig::default()
        };
        let reason = no_helper.resolve().expect("auto").runner_fallback.expect("a reason");
        assert!(reason.contains("missing-helper"), "{reason}");

        // This very test binary names its loader: not a helper for every image.
        let dynamic = std::env::current_exe().expect("the test binary");
        let linked = SandboxConfig { container_helper: Some(dynamic), ..no_helper.clone() };
        let reason = linked.resolve().expect("auto").runner_fallback.expect("a reason");
        assert!(reason.contains("not statically linked"), "{reason}");

        let helper = dir.path().join("helper");
        std::fs::write(&helper, static_elf()).expect("helper");
        let complete = SandboxConfig { container_helper: Some(helper), ..no_helper };
        let settings = complete.resolve().expect("auto");
        assert!(settings.containers.is_some() && settings.runner_fallback.is_none(), "{settings:?}");
    }

    /// The headers of a 64-bit little-endian executable with one `PT_LOAD`
    /// program header and no interpreter.
    fn static_elf() -> Vec<u8> {
        let mut bytes = vec![0u8; 0x40 + 0x38];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2;
        bytes[5] = 1;
        bytes[0x20] = 0x40; // program headers right after the ELF header
        bytes[0x36] = 0x38; // of the standard size
        bytes[0x38] = 1; // one
        bytes[0x40] = 1; // PT_LOAD
        bytes
    }
}
