//! CLI contexts: named endpoints with credentials and a default workspace,
//! kept in `$STRATA_CONFIG` or `~/.config/strata/config.toml`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use serde::{Deserialize, Serialize};

/// The endpoint used when nothing else is configured.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";

/// The whole CLI config file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CliConfig {
    /// Name of the context commands use by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

/// One server and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub endpoint: String,
    /// Workspace that PFS/PPS commands act on unless told otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Bearer token; `STRATA_TOKEN` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Organisation that hub commands act on unless told otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// After `strata auth login`: renews `token` when it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Where the CLI config lives.
pub fn config_path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("STRATA_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow!("neither STRATA_CONFIG nor HOME is set; set STRATA_CONFIG to a file path"))?;
    Ok(PathBuf::from(home).join(".config/strata/config.toml"))
}

impl CliConfig {
    /// Reads the file; a missing file is an empty config.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("CLI config {} is not valid", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(error).with_context(|| format!("cannot read CLI config {}", path.display())),
        }
    }

    /// Writes the file atomically, readable only by its owner since it may
    /// hold tokens.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let text = toml::to_string_pretty(self).context("cannot encode the CLI config")?;
        let mut file =
            tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
        file.write_all(text.as_bytes()).context("cannot write the CLI config")?;
        set_owner_only(file.path())?;
        file.persist(path).with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    }

    /// Adds or replaces a context and makes it current.
    pub fn upsert_current(&mut self, name: &str, context: Context) {
        self.contexts.insert(name.to_owned(), context);
        self.current_context = Some(name.to_owned());
    }

    /// The named context, or the current one.
    pub fn select(&self, name: Option<&str>) -> anyhow::Result<Option<(&str, &Context)>> {
        let Some(name) = name.or(self.current_context.as_deref()) else { return Ok(None) };
        let (name, context) = self
            .contexts
            .get_key_value(name)
            .ok_or_else(|| anyhow!("no CLI context named `{name}`; known: {}", self.known_names()))?;
        Ok(Some((name.as_str(), context)))
    }

    fn known_names(&self) -> String {
        if self.contexts.is_empty() {
            "none (run `strata dev` to create one)".to_owned()
        } else {
            self.contexts.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }
}

fn set_owner_only(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict permissions of {}", path.display()))
}

/// The endpoint and credentials a command should use, after applying
/// `--endpoint`, `--context`, the config file and `STRATA_TOKEN`.
#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint: String,
    pub context_name: Option<String>,
    pub token: Option<String>,
    /// The workspace from the context, if any.
    pub workspace: Option<String>,
    /// The organisation from the context, if any.
    pub organization: Option<String>,
    /// The context's refresh token, unless `STRATA_TOKEN` overrides the token.
    pub refresh_token: Option<String>,
}

/// Resolves where a command talks to.
pub fn resolve_target(endpoint_flag: Option<&str>, context_flag: Option<&str>) -> anyhow::Result<Target> {
    let config = CliConfig::load(&config_path()?)?;
    let selected = config.select(context_flag)?;
    let env_token = std::env::var("STRATA_TOKEN").ok().filter(|t| !t.is_empty());
    let refresh_token = if env_token.is_some() { None } else { selected.and_then(|(_, c)| c.refresh_token.clone()) };
    let token = env_token.or_else(|| selected.and_then(|(_, c)| c.token.clone()));
    let endpoint = endpoint_flag
        .map(str::to_owned)
        .or_else(|| selected.map(|(_, c)| c.endpoint.clone()))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let workspace = selected.and_then(|(_, c)| c.workspace.clone());
    let organization = selected.and_then(|(_, c)| c.organization.clone());
    let context_name = selected.map(|(name, _)| name.to_owned());
    Ok(Target { endpoint, context_name, token, workspace, organization, refresh_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_context(port: u16) -> Context {
        Context {
            endpoint: format!("http://127.0.0.1:{port}"),
            workspace: Some("default".to_owned()),
            token: None,
            organization: None,
            refresh_token: None,
        }
    }

    #[test]
    fn saving_keeps_other_contexts_and_switches_the_current_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("strata/config.toml");
        let mut config = CliConfig::default();
        config.upsert_current(
            "prod",
            Context {
                endpoint: "https://strata.example".into(),
                workspace: None,
                token: None,
                organization: None,
                refresh_token: None,
            },
        );
        config.save(&path).expect("save");

        let mut config = CliConfig::load(&path).expect("load");
        config.upsert_current("dev", dev_context(8080));
        config.save(&path).expect("save");

        let config = CliConfig::load(&path).expect("load");
        assert_eq!(config.current_context.as_deref(), Some("dev"));
        assert_eq!(config.contexts.len(), 2);
        assert_eq!(config.select(None).expect("select"), Some(("dev", &dev_context(8080))));
    }

    #[test]
    fn the_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        CliConfig::default().save(&path).expect("save");
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_unknown_context_lists_the_known_ones() {
        let mut config = CliConfig::default();
        config.upsert_current("dev", dev_context(1));
        let error = config.select(Some("staging")).expect_err("unknown");
        assert_eq!(error.to_string(), "no CLI context named `staging`; known: dev");
    }

    #[test]
    fn a_missing_file_is_an_empty_config() {
        let config = CliConfig::load(Path::new("/nonexistent/strata.toml")).expect("load");
        assert!(config.contexts.is_empty());
        assert_eq!(config.select(None).expect("select"), None);
    }
}
