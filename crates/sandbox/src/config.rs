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
    /// What runs embedded workers' datums: `process` or `container`.
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
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            runner: "process".to_owned(),
            sandbox: "auto".to_owned(),
            sandbox_helper: None,
            container_engine: "podman".to_owned(),
            containers_conf: None,
            container_helper: None,
            insecure_registries: None,
        }
    }
}

/// [`SandboxConfig`] validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    pub isolation: IsolationMode,
    /// The helper binary; `None`: the running executable.
    pub helper: Option<PathBuf>,
    /// Where `runner = "container"`: how containers are run.
    pub containers: Option<ContainerSettings>,
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
        let containers = match self.runner.as_str() {
            "process" => None,
            "container" => Some(ContainerSettings {
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
            }),
            other => return Err(("runner", SandboxError::InvalidRunner { value: other.to_owned() })),
        };
        Ok(SandboxSettings { isolation, helper: self.sandbox_helper.clone(), containers })
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
        assert_eq!(SandboxConfig::default().resolve().expect("the defaults").containers, None);
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
        assert!(error.to_string().contains("process or container"), "{error}");
    }
}
