//! The api's section of the configuration, and [`AppConfig`]: every section
//! an api server reads (docs/configuration.md).
//!
//! Each section belongs to the crate that uses it; this module only puts
//! them side by side. Their keys are flat and must not overlap, which a
//! test checks.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use strata_core::config::{Layers, field_names, invalid};
// The sections an api server reads, re-exported so that whoever composes
// one (the CLI, the test kit) names them here.
pub use strata_billing::{BillingConfig, BillingSettings};
pub use strata_core::config::{ServerConfig, ServerSettings};
pub use strata_hub::config::{HubConfig, HubStartSettings};
pub use strata_pps::{PpsConfig, PpsSettings};
pub use strata_sandbox::config::{SandboxConfig, SandboxSettings};

/// The api's own keys as written by the user, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiConfig {
    /// Workers the server runs itself for each pipeline: `auto` (the
    /// pipeline's parallelism) or a number; `0` leaves the work to
    /// `strata worker` processes.
    pub workers: WorkersSetting,
    /// Requests per minute one credential (or, without one, one address)
    /// may make; 0 turns the limit off. Logins have their own, fixed limits.
    pub rate_limit_per_minute: u32,
    /// The built web console (`web/dist`); default: `web/dist` under the
    /// working directory, else `share/strata/web` beside the executable.
    pub web_dir: Option<PathBuf>,
    /// A second address that serves only `/metrics`, without credentials,
    /// for a scraper on a private network, e.g. `10.0.0.5:9464`.
    pub metrics_listen: Option<String>,
    /// A bearer token that lets a scraper read `/metrics` on the public
    /// address (at least 16 characters). Without it, and without
    /// `metrics_listen`, the public address does not serve metrics.
    pub metrics_token: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            workers: WorkersSetting::Word("auto".to_owned()),
            rate_limit_per_minute: 6000,
            web_dir: None,
            metrics_listen: None,
            metrics_token: None,
        }
    }
}

/// `workers` as written: a number (TOML, environment) or `auto`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WorkersSetting {
    Count(u32),
    Word(String),
}

/// [`ApiConfig`] validated.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Embedded workers per pipeline.
    pub workers: EmbeddedWorkers,
    /// Requests per minute per credential or address; `None`: unlimited.
    pub rate_limit_per_minute: Option<u32>,
    /// Where the built web console is, if set.
    pub web_dir: Option<PathBuf>,
    /// Where `/metrics` is served.
    pub metrics: MetricsSettings,
}

/// How many workers the server runs in-process per pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedWorkers {
    /// As many as the pipeline's parallelism.
    Auto,
    /// This many (0: none).
    Fixed(u32),
}

/// Where `/metrics` is served (docs/operations.md#metrics).
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// A listener of its own for metrics only, without credentials.
    pub listen: Option<SocketAddr>,
    /// The bearer token that reads metrics on the public listener.
    pub token: Option<MetricsToken>,
}

/// The metrics bearer token; `Debug` never shows it.
#[derive(Clone)]
pub struct MetricsToken(SecretString);

impl MetricsToken {
    /// A token given in code (`strata dev` makes one on first start).
    pub fn new(token: &str) -> Self {
        Self(SecretString::from(token.to_owned()))
    }

    /// The token, for comparing. Never log this.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(***)")
    }
}

impl ApiConfig {
    /// Validates every value, naming the key at fault.
    pub fn resolve(&self) -> strata_core::Result<ApiSettings> {
        Ok(ApiSettings {
            workers: self.embedded_workers()?,
            rate_limit_per_minute: (self.rate_limit_per_minute > 0).then_some(self.rate_limit_per_minute),
            web_dir: self.web_dir.clone(),
            metrics: self.metrics_settings()?,
        })
    }

    fn embedded_workers(&self) -> strata_core::Result<EmbeddedWorkers> {
        match &self.workers {
            WorkersSetting::Count(count) => Ok(EmbeddedWorkers::Fixed(*count)),
            WorkersSetting::Word(word) if word == "auto" => Ok(EmbeddedWorkers::Auto),
            WorkersSetting::Word(word) => word
                .parse()
                .map(EmbeddedWorkers::Fixed)
                .map_err(|_| invalid("workers", format!("`{word}` is neither `auto` nor a number of workers"))),
        }
    }

    fn metrics_settings(&self) -> strata_core::Result<MetricsSettings> {
        let listen = match &self.metrics_listen {
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                invalid("metrics_listen", format!("`{text}` is not an address such as 127.0.0.1:9464"))
            })?),
            None => None,
        };
        let token = match &self.metrics_token {
            Some(token) if token.trim().chars().count() < 16 => {
                return Err(invalid(
                    "metrics_token",
                    "is too short; use at least 16 random characters (e.g. `openssl rand -hex 24`)",
                ));
            }
            Some(token) => Some(MetricsToken::new(token.trim())),
            None => None,
        };
        Ok(MetricsSettings { listen, token })
    }
}

/// Every section an api server reads, as written by the user.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    pub server: ServerConfig,
    pub hub: HubConfig,
    pub billing: BillingConfig,
    pub api: ApiConfig,
    pub pps: PpsConfig,
    pub sandbox: SandboxConfig,
}

/// [`AppConfig`] validated: what [`crate::Application::build`] takes.
#[derive(Debug, Clone)]
pub struct AppSettings {
    pub server: ServerSettings,
    pub hub: HubStartSettings,
    pub billing: BillingSettings,
    pub api: ApiSettings,
    pub pps: PpsSettings,
    pub sandbox: SandboxSettings,
}

impl AppSettings {
    /// What the embedded workers need: how many, and their sandbox.
    pub(crate) fn embedded_workers(&self) -> crate::workers::EmbeddedWorkerSettings {
        crate::workers::EmbeddedWorkerSettings { workers: self.api.workers, sandbox: self.sandbox.clone() }
    }
}

impl AppConfig {
    /// The keys of every section, each once: the TOML keys, and with
    /// [`strata_core::config::env_var`] the variables.
    pub fn keys() -> Vec<&'static str> {
        [
            field_names::<ServerConfig>(),
            field_names::<HubConfig>(),
            field_names::<BillingConfig>(),
            field_names::<ApiConfig>(),
            field_names::<PpsConfig>(),
            field_names::<SandboxConfig>(),
        ]
        .concat()
    }

    /// Reads every section from the merged layers.
    pub fn from_layers(layers: &Layers) -> strata_core::Result<Self> {
        Ok(Self {
            server: layers.extract()?,
            hub: layers.extract()?,
            billing: layers.extract()?,
            api: layers.extract()?,
            pps: layers.extract()?,
            sandbox: layers.extract()?,
        })
    }

    /// Validates every section. Does not touch the disk or the network.
    pub fn resolve(&self) -> strata_core::Result<AppSettings> {
        let server = self.server.resolve()?;
        let sandbox = self.sandbox.resolve().map_err(|(key, error)| invalid(key, error.to_string()))?;
        let insecure = sandbox.containers.as_ref().map(|c| c.insecure_registries.as_slice());
        let hub = self.hub.resolve(&server.data_dir)?;
        Ok(AppSettings {
            billing: self.billing.resolve(&hub.plans)?,
            hub,
            api: self.api.resolve()?,
            pps: self.pps.resolve(insecure)?,
            sandbox,
            server,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_sections_share_a_key() {
        let keys = AppConfig::keys();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
    }

    #[test]
    fn workers_are_auto_or_a_number() {
        let workers = |workers| ApiConfig { workers, ..ApiConfig::default() }.resolve().map(|s| s.workers);
        assert_eq!(workers(WorkersSetting::Count(0)).expect("a count"), EmbeddedWorkers::Fixed(0));
        assert_eq!(workers(WorkersSetting::Word("3".into())).expect("a number"), EmbeddedWorkers::Fixed(3));
        assert_eq!(workers(WorkersSetting::Word("auto".into())).expect("auto"), EmbeddedWorkers::Auto);
        let error = workers(WorkersSetting::Word("many".into())).expect_err("a word");
        assert!(error.to_string().contains("`workers`") && error.to_string().contains("`many`"), "{error}");
    }

    #[test]
    fn metrics_need_an_address_and_a_long_token() {
        let short = ApiConfig { metrics_token: Some("short".into()), ..ApiConfig::default() };
        assert!(short.resolve().expect_err("too short").to_string().contains("`metrics_token`"));
        let listen = ApiConfig { metrics_listen: Some("anywhere".into()), ..ApiConfig::default() };
        assert!(listen.resolve().expect_err("no address").to_string().contains("`metrics_listen`"));
        let token = ApiConfig { metrics_token: Some("0123456789abcdef0".into()), ..ApiConfig::default() };
        let settings = token.resolve().expect("valid");
        assert!(!format!("{settings:?}").contains("0123456789abcdef0"), "the token is not in Debug output");
    }

    #[test]
    fn an_invalid_sandbox_is_named() {
        let config = AppConfig {
            sandbox: SandboxConfig { sandbox: "docker".into(), ..SandboxConfig::default() },
            ..AppConfig::default()
        };
        let error = config.resolve().expect_err("not a mode").to_string();
        assert!(error.contains("`sandbox`") && error.contains("auto, namespace or scratch"), "{error}");
    }
}
