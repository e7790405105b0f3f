//! The sandbox's section of the server configuration (docs/configuration.md):
//! how embedded workers isolate datums.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{IsolationMode, SandboxError};

/// The sandbox's keys as written by the user, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// How embedded workers isolate datums: `auto`, `namespace` or `scratch`.
    pub sandbox: String,
    /// The `strata` binary embedded workers run as `strata __sandbox`;
    /// default: this executable.
    pub sandbox_helper: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self { sandbox: "auto".to_owned(), sandbox_helper: None }
    }
}

/// [`SandboxConfig`] validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    pub isolation: IsolationMode,
    /// The helper binary; `None`: the running executable.
    pub helper: Option<PathBuf>,
}

impl SandboxConfig {
    /// Checks the isolation mode (the error is about key `sandbox`).
    pub fn resolve(&self) -> Result<SandboxSettings, SandboxError> {
        Ok(SandboxSettings { isolation: self.sandbox.parse()?, helper: self.sandbox_helper.clone() })
    }
}

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
        let error = docker.resolve().expect_err("not a mode").to_string();
        assert!(error.contains("docker") && error.contains("auto, namespace or scratch"), "{error}");
    }
}
