//! Server configuration.
//!
//! Loaded in layers, each overriding the one before: built-in defaults, an
//! optional TOML file, `STRATA_*` environment variables, then command-line
//! flags. [`ServerConfig::load`] merges the layers; [`ServerConfig::resolve`]
//! validates the result into [`Settings`], whose types cannot hold an invalid
//! value. Every error names the key at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};
pub use crate::master_key::{MASTER_KEY_ENV, MasterKeySource, MasterKeys};

/// The keys that may be set, in files and as `STRATA_<KEY>` variables.
pub const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "object_store_url",
    "redis_url",
    "log_format",
    "log_level",
    "shutdown_timeout_secs",
    "workers",
    "sandbox",
    "sandbox_helper",
    "task_lease_secs",
    "rate_limit_per_minute",
    "public_url",
    "smtp_url",
    "mail_from",
    "provisioner",
    "datums_per_worker",
    "scale_down_cooldown_secs",
    "deletion_grace_secs",
    "web_dir",
    "kubernetes_image",
    "kubernetes_hub_namespace",
    "kubernetes_egress",
    "kubernetes_placeholder_pods",
    "metrics_listen",
    "metrics_token",
    "org_plans",
    "master_key",
    "master_key_file",
];

/// The environment variable that sets `key`.
pub fn env_var(key: &str) -> String {
    format!("STRATA_{}", key.to_uppercase())
}

/// Raw configuration as written by the user, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the HTTP server binds, e.g. `127.0.0.1:8080`.
    pub listen: String,
    /// Directory for the embedded database, object store and logs.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; default: SQLite in the data dir.
    pub database_url: Option<String>,
    /// `file://DIR`, `memory://`, `s3://BUCKET/PREFIX`, `gs://...`, `az://...`;
    /// default: a directory in the data dir.
    pub object_store_url: Option<String>,
    /// `redis://HOST:PORT`; default: in-process queues and limits.
    pub redis_url: Option<String>,
    /// `pretty` (humans) or `json` (log collectors).
    pub log_format: String,
    /// A `tracing` filter such as `info` or `strata_api=debug,info`.
    pub log_level: String,
    /// How long in-flight requests may take to finish after a stop signal.
    pub shutdown_timeout_secs: u64,
    /// Workers the server runs itself for each pipeline: `auto` (the
    /// pipeline's parallelism) or a number; `0` leaves the work to
    /// `strata worker` processes.
    pub workers: WorkersSetting,
    /// How embedded workers isolate datums: `auto`, `namespace` or `scratch`.
    pub sandbox: String,
    /// The `strata` binary embedded workers run as `strata __sandbox`;
    /// default: this executable.
    pub sandbox_helper: Option<PathBuf>,
    /// How long a worker may hold a datum task without a heartbeat before
    /// another worker gets it.
    pub task_lease_secs: u64,
    /// Requests per minute one credential (or, without one, one address)
    /// may make; 0 turns the limit off. Logins have their own, fixed limits.
    pub rate_limit_per_minute: u32,
    /// The URL people reach the server at, for links in emails; default:
    /// `http://localhost:<port>` (or the listen address).
    pub public_url: Option<String>,
    /// `smtps://USER:PASSWORD@HOST:465` or `smtp://...?tls=required`; default:
    /// mail is written to `<data_dir>/outbox/` as JSON files.
    pub smtp_url: Option<String>,
    /// The sender of mail, e.g. `Strata <noreply@example.com>`.
    pub mail_from: String,
    /// Which provisioner `strata dev` runs for created workspaces: `local`
    /// (child processes) or `off` (they stay PENDING; run `strata
    /// provisioner run` separately).
    pub provisioner: String,
    /// Outstanding datums one autoscaled worker takes care of.
    pub datums_per_worker: u32,
    /// How long fewer workers must have been enough before some are stopped.
    pub scale_down_cooldown_secs: u64,
    /// How long a deleted workspace's data is kept before it is freed.
    pub deletion_grace_secs: u64,
    /// The built web console (`web/dist`); default: `web/dist` under the
    /// working directory, else `share/strata/web` beside the executable.
    pub web_dir: Option<PathBuf>,
    /// Kubernetes backend: the Strata image workspace servers run and
    /// worker pods copy the binary from.
    pub kubernetes_image: String,
    /// Kubernetes backend: the namespace of the hub (api, provisioner),
    /// the only one allowed to reach workspace servers.
    pub kubernetes_hub_namespace: String,
    /// Kubernetes backend: where workspace servers may connect, as
    /// `CIDR:PORT,PORT` entries separated by `;` (the database, Redis and
    /// the object store), e.g. `10.0.0.0/16:5432,6379;0.0.0.0/0:443`.
    pub kubernetes_egress: String,
    /// Kubernetes backend: low-priority placeholder pods kept so new
    /// workers find room at once (0: none).
    pub kubernetes_placeholder_pods: u32,
    /// A second address that serves only `/metrics`, without credentials,
    /// for a scraper on a private network, e.g. `10.0.0.5:9464`.
    pub metrics_listen: Option<String>,
    /// A bearer token that lets a scraper read `/metrics` on the public
    /// address (at least 16 characters). Without it, and without
    /// `metrics_listen`, the public address does not serve metrics.
    pub metrics_token: Option<String>,
    /// The plan each organisation may use, set by the operator until billing
    /// assigns plans: `ORG=PLAN` entries separated by `,`, e.g.
    /// `acme=team,bigco=enterprise`. Others get the `free` plan.
    pub org_plans: String,
    /// The master key(s) themselves, base64, the encrypting one first
    /// (`STRATA_MASTER_KEY`); never written back out.
    #[serde(skip_serializing)]
    pub master_key: Option<SecretString>,
    /// A file holding the master key(s); default
    /// `<data_dir>/keys/master.key`.
    pub master_key_file: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from(".strata"),
            database_url: None,
            object_store_url: None,
            redis_url: None,
            log_format: "pretty".to_owned(),
            log_level: "info".to_owned(),
            shutdown_timeout_secs: 30,
            workers: WorkersSetting::Word("auto".to_owned()),
            sandbox: "auto".to_owned(),
            sandbox_helper: None,
            task_lease_secs: 30,
            rate_limit_per_minute: 6000,
            public_url: None,
            smtp_url: None,
            mail_from: "Strata <noreply@strata.localhost>".to_owned(),
            provisioner: "local".to_owned(),
            datums_per_worker: 1,
            scale_down_cooldown_secs: 60,
            deletion_grace_secs: 3600,
            web_dir: None,
            kubernetes_image: format!("ghcr.io/strata-dev/strata:{}", env!("CARGO_PKG_VERSION")),
            kubernetes_hub_namespace: "strata".to_owned(),
            kubernetes_egress: String::new(),
            kubernetes_placeholder_pods: 1,
            metrics_listen: None,
            metrics_token: None,
            org_plans: String::new(),
            master_key: None,
            master_key_file: None,
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

/// Values given on the command line; `None` leaves the lower layers alone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_store_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
}

impl ServerConfig {
    /// Merges defaults < `file` < `STRATA_*` environment < `overrides`.
    ///
    /// A file given explicitly must exist. Environment variables other than
    /// the known [`KEYS`] are ignored, because `STRATA_TOKEN` and friends
    /// belong to the CLI, not to the server.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self> {
        Self::load_from(file, Env::prefixed("STRATA_").only(KEYS), overrides)
    }

    fn load_from(file: Option<&Path>, env: Env, overrides: &Overrides) -> Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(ServerConfig::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(Error::Config {
                    key: "config".to_owned(),
                    message: format!("file {} does not exist", path.display()),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment.merge(env).merge(Serialized::defaults(overrides)).extract().map_err(|error| figment_error(&error))
    }

    fn pps_settings(&self) -> Result<PpsConfig> {
        let workers = match &self.workers {
            WorkersSetting::Count(count) => EmbeddedWorkers::Fixed(*count),
            WorkersSetting::Word(word) if word == "auto" => EmbeddedWorkers::Auto,
            WorkersSetting::Word(word) => EmbeddedWorkers::Fixed(word.parse().map_err(|_| Error::Config {
                key: "workers".to_owned(),
                message: format!("`{word}` is neither `auto` nor a number of workers"),
            })?),
        };
        if !["auto", "namespace", "scratch"].contains(&self.sandbox.as_str()) {
            return Err(Error::Config {
                key: "sandbox".to_owned(),
                message: format!("`{}` is not one of: auto, namespace, scratch", self.sandbox),
            });
        }
        if self.task_lease_secs == 0 {
            return Err(Error::Config {
                key: "task_lease_secs".to_owned(),
                message: "a task lease needs at least 1 second".to_owned(),
            });
        }
        Ok(PpsConfig {
            workers,
            sandbox: self.sandbox.clone(),
            sandbox_helper: self.sandbox_helper.clone(),
            task_lease: std::time::Duration::from_secs(self.task_lease_secs),
        })
    }

    fn provisioner_settings(&self) -> Result<ProvisionerSettings> {
        let local = match self.provisioner.as_str() {
            "local" => true,
            "off" => false,
            other => {
                return Err(Error::Config {
                    key: "provisioner".to_owned(),
                    message: format!("`{other}` is not one of: local, off"),
                });
            }
        };
        if self.datums_per_worker == 0 {
            return Err(Error::Config {
                key: "datums_per_worker".to_owned(),
                message: "a worker takes at least 1 datum".to_owned(),
            });
        }
        Ok(ProvisionerSettings {
            local,
            datums_per_worker: self.datums_per_worker,
            scale_down_cooldown: std::time::Duration::from_secs(self.scale_down_cooldown_secs),
            deletion_grace: std::time::Duration::from_secs(self.deletion_grace_secs),
            kubernetes: KubernetesSettings {
                image: self.kubernetes_image.clone(),
                hub_namespace: self.kubernetes_hub_namespace.clone(),
                egress: parse_egress(&self.kubernetes_egress)?,
                placeholder_pods: self.kubernetes_placeholder_pods,
            },
        })
    }

    fn mail_settings(&self) -> Result<MailSettings> {
        let public_url = match &self.public_url {
            Some(text) => {
                let url =
                    Url::parse(text).ok().filter(|u| matches!(u.scheme(), "http" | "https")).ok_or_else(|| {
                        Error::Config {
                            key: "public_url".to_owned(),
                            message: format!("`{text}` is not an http(s) URL such as https://strata.example.com"),
                        }
                    })?;
                Some(url)
            }
            None => None,
        };
        let smtp = match &self.smtp_url {
            Some(text) => {
                let ok = Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "smtp" | "smtps"));
                if !ok {
                    return Err(Error::Config {
                        key: "smtp_url".to_owned(),
                        message: format!(
                            "`{}` is not an SMTP URL; use smtps://USER:PASSWORD@HOST:465 or smtp://HOST:587?tls=required",
                            redact_url(text)
                        ),
                    });
                }
                Some(SecretUrl::new(text))
            }
            None => None,
        };
        if !self.mail_from.contains('@') {
            return Err(Error::Config {
                key: "mail_from".to_owned(),
                message: format!("`{}` is not a sender such as `Strata <noreply@example.com>`", self.mail_from),
            });
        }
        Ok(MailSettings { public_url, smtp, from: self.mail_from.clone() })
    }

    fn metrics_settings(&self) -> Result<MetricsSettings> {
        let listen = match &self.metrics_listen {
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| Error::Config {
                key: "metrics_listen".to_owned(),
                message: format!("`{text}` is not an address such as 127.0.0.1:9464"),
            })?),
            None => None,
        };
        let token = match &self.metrics_token {
            Some(token) if token.trim().chars().count() < 16 => {
                return Err(Error::Config {
                    key: "metrics_token".to_owned(),
                    message: "is too short; use at least 16 random characters (e.g. `openssl rand -hex 24`)".to_owned(),
                });
            }
            Some(token) => Some(MetricsToken(SecretString::from(token.trim().to_owned()))),
            None => None,
        };
        Ok(MetricsSettings { listen, token })
    }

    /// `master_key` or `master_key_file` (one of them), else the default file.
    fn master_key_source(&self) -> Result<MasterKeySource> {
        match (&self.master_key, &self.master_key_file) {
            (Some(_), Some(_)) => Err(Error::Config {
                key: "master_key".to_owned(),
                message: format!("set either `master_key` ({MASTER_KEY_ENV}) or `master_key_file`, not both"),
            }),
            (Some(value), None) => Ok(MasterKeySource::Value(value.clone())),
            (None, Some(path)) => Ok(MasterKeySource::File { path: path.clone(), explicit: true }),
            (None, None) => {
                Ok(MasterKeySource::File { path: self.data_dir.join("keys").join("master.key"), explicit: false })
            }
        }
    }

    /// Validates every value and fills in the defaults that depend on the
    /// data directory. Does not touch the disk or the network.
    pub fn resolve(&self) -> Result<Settings> {
        let listen = self.listen.parse::<SocketAddr>().map_err(|_| Error::Config {
            key: "listen".to_owned(),
            message: format!("`{}` is not an address such as 127.0.0.1:8080", self.listen),
        })?;
        let database = match &self.database_url {
            Some(url) => DatabaseUrl::parse(url)?,
            None => DatabaseUrl::Sqlite(self.data_dir.join("strata.db")),
        };
        let object_store = match &self.object_store_url {
            Some(url) => ObjectStoreUrl::parse(url)?,
            None => ObjectStoreUrl::Local(self.data_dir.join("objects")),
        };
        let redis = self.redis_url.as_deref().map(parse_redis_url).transpose()?;
        let log_format = match self.log_format.as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(Error::Config {
                    key: "log_format".to_owned(),
                    message: format!("`{other}` is not one of: pretty, json"),
                });
            }
        };
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|error| Error::Config {
            key: "log_level".to_owned(),
            message: format!("`{}` is not a log filter ({error})", self.log_level),
        })?;
        let pps = self.pps_settings()?;
        let mail = self.mail_settings()?;
        let provisioner = self.provisioner_settings()?;
        let metrics = self.metrics_settings()?;
        let org_plans = parse_org_plans(&self.org_plans)?;
        let master_key = self.master_key_source()?;
        Ok(Settings {
            metrics,
            org_plans,
            master_key,
            pps,
            mail,
            provisioner,
            web_dir: self.web_dir.clone(),
            rate_limit_per_minute: (self.rate_limit_per_minute > 0).then_some(self.rate_limit_per_minute),
            listen,
            data_dir: self.data_dir.clone(),
            database,
            object_store,
            redis,
            log: LogSettings { format: log_format, filter: self.log_level.clone() },
            shutdown_timeout: std::time::Duration::from_secs(self.shutdown_timeout_secs),
        })
    }
}

/// Creates the data directory if needed and proves it is writable, so a
/// bad `--data-dir` fails at start with its path rather than on first write.
pub fn prepare_data_dir(path: &Path) -> Result<()> {
    let unusable = |reason: String| Error::DataDir { path: path.to_path_buf(), reason };
    std::fs::create_dir_all(path).map_err(|e| unusable(format!("cannot create it ({e})")))?;
    let probe = path.join(format!(".write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| unusable(format!("cannot write to it ({e})")))?;
    std::fs::remove_file(&probe).map_err(|e| unusable(format!("cannot delete from it ({e})")))?;
    Ok(())
}

/// Turns figment's error into ours, keeping the key and where it came from.
fn figment_error(error: &figment::Error) -> Error {
    let key = if error.path.is_empty() {
        match &error.kind {
            figment::error::Kind::UnknownField(field, _) => field.clone(),
            _ => "config".to_owned(),
        }
    } else {
        error.path.join(".")
    };
    let origin = error
        .metadata
        .as_ref()
        .map(|metadata| match &metadata.source {
            Some(source) => format!(" (from {source})"),
            // Name the exact variable rather than figment's generic "`STRATA_` environment variable(s)".
            None if metadata.name.contains("environment") => format!(" (from ${})", env_var(&key)),
            None => format!(" (from {})", metadata.name),
        })
        .unwrap_or_default();
    Error::Config { key, message: format!("{}{origin}", error.kind) }
}

/// `ORG=PLAN,ORG=PLAN`; the plan names are checked by the hub, which
/// knows them.
fn parse_org_plans(text: &str) -> Result<Vec<(String, String)>> {
    text.split([',', ';'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let pair = entry.split_once('=').map(|(org, plan)| (org.trim(), plan.trim()));
            match pair {
                Some((org, plan)) if !org.is_empty() && !plan.is_empty() => Ok((org.to_owned(), plan.to_owned())),
                _ => Err(Error::Config {
                    key: "org_plans".to_owned(),
                    message: format!("`{entry}` is not ORG=PLAN, e.g. acme=team"),
                }),
            }
        })
        .collect()
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

/// Validated configuration: every field is usable as it is.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where `/metrics` is served.
    pub metrics: MetricsSettings,
    /// The plan each listed organisation may use (others: `free`).
    pub org_plans: Vec<(String, String)>,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub object_store: ObjectStoreUrl,
    pub redis: Option<SecretUrl>,
    pub log: LogSettings,
    pub shutdown_timeout: std::time::Duration,
    pub pps: PpsConfig,
    /// Requests per minute per credential or address; `None`: unlimited.
    pub rate_limit_per_minute: Option<u32>,
    pub mail: MailSettings,
    pub provisioner: ProvisionerSettings,
    /// Where the built web console is, if set.
    pub web_dir: Option<PathBuf>,
    /// What the hub encrypts its signing keys and service secrets with.
    pub master_key: MasterKeySource,
}

impl Settings {
    /// Whether anything lives in the data directory (the SQLite database or
    /// local objects), so it must exist and be writable before start.
    pub fn needs_data_dir(&self) -> bool {
        matches!(self.database, DatabaseUrl::Sqlite(_)) || matches!(self.object_store, ObjectStoreUrl::Local(_))
    }
}

/// How workspaces other than the embedded one are run and scaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionerSettings {
    /// Run the local provisioner inside `strata dev`.
    pub local: bool,
    pub datums_per_worker: u32,
    pub scale_down_cooldown: std::time::Duration,
    pub deletion_grace: std::time::Duration,
    pub kubernetes: KubernetesSettings,
}

/// What `strata provisioner run --backend kubernetes` needs besides a
/// cluster (docs/provisioning.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesSettings {
    pub image: String,
    pub hub_namespace: String,
    pub egress: Vec<EgressRule>,
    pub placeholder_pods: u32,
}

/// Destinations outside the cluster as a CIDR and TCP ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRule {
    pub cidr: String,
    pub ports: Vec<u16>,
}

/// `CIDR:PORT,PORT;CIDR:PORT`.
fn parse_egress(text: &str) -> Result<Vec<EgressRule>> {
    let invalid = |entry: &str, why: &str| Error::Config {
        key: "kubernetes_egress".to_owned(),
        message: format!(
            "`{entry}` {why}; write CIDR:PORT,PORT entries separated by `;`, e.g. 10.0.0.0/16:5432,6379;0.0.0.0/0:443"
        ),
    };
    text.split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (cidr, ports) = entry.rsplit_once(':').ok_or_else(|| invalid(entry, "has no ports"))?;
            let (address, prefix) = cidr.split_once('/').ok_or_else(|| invalid(entry, "is not a CIDR"))?;
            let address: std::net::IpAddr = address.parse().map_err(|_| invalid(entry, "has no valid address"))?;
            let longest = if address.is_ipv4() { 32 } else { 128 };
            if !prefix.parse::<u8>().is_ok_and(|p| p <= longest) {
                return Err(invalid(entry, "has no valid prefix length"));
            }
            let ports = ports
                .split(',')
                .map(|port| port.trim().parse::<u16>().ok().filter(|p| *p > 0))
                .collect::<Option<Vec<u16>>>()
                .ok_or_else(|| invalid(entry, "has a port that is not 1-65535"))?;
            Ok(EgressRule { cidr: cidr.to_owned(), ports })
        })
        .collect()
}

/// Where links point and how mail leaves.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Base of links in emails; `None`: derived from the listen address.
    pub public_url: Option<Url>,
    /// `None`: the data directory's outbox.
    pub smtp: Option<SecretUrl>,
    pub from: String,
}

/// How the server runs pipelines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PpsConfig {
    /// Embedded workers per pipeline.
    pub workers: EmbeddedWorkers,
    /// `auto`, `namespace` or `scratch`.
    pub sandbox: String,
    pub sandbox_helper: Option<PathBuf>,
    pub task_lease: std::time::Duration,
}

/// How many workers the server runs in-process per pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedWorkers {
    /// As many as the pipeline's parallelism.
    Auto,
    /// This many (0: none).
    Fixed(u32),
}

/// How logs are written.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A valid `tracing_subscriber::EnvFilter` directive.
    pub filter: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A URL that may carry a password: `Debug` and [`SecretUrl::redacted`] hide it.
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    fn new(url: &str) -> Self {
        Self(SecretString::from(url.to_owned()))
    }

    /// The full URL, for connecting. Never log this.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `***`, safe for logs and errors.
    pub fn redacted(&self) -> String {
        redact_url(self.expose())
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of a URL, if any, with `***`.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one,
            // and this one has one.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Where metadata lives.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    /// An embedded SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL server.
    Postgres(SecretUrl),
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH`, `sqlite::memory:` or `postgres(ql)://...`.
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |message: String| Error::Config { key: "database_url".to_owned(), message };
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(invalid("`sqlite://` needs a file path, e.g. sqlite://./strata.db".to_owned()));
            }
            let path = path.split('?').next().unwrap_or(path);
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed =
                Url::parse(url).map_err(|error| invalid(format!("`{}` is not a URL: {error}", redact_url(url))))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(invalid(
                    "a postgres URL needs a host, e.g. postgres://user@127.0.0.1:5432/strata".to_owned(),
                ));
            }
            return Ok(Self::Postgres(SecretUrl::new(url)));
        }
        Err(invalid(format!(
            "`{}` is not supported; use sqlite://PATH or postgres://USER@HOST:PORT/DB",
            redact_url(url)
        )))
    }

    /// A description safe for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => url.redacted(),
        }
    }
}

/// Where file contents live.
#[derive(Debug, Clone)]
pub enum ObjectStoreUrl {
    /// A directory on the local disk (created if missing).
    Local(PathBuf),
    /// Process memory; gone on exit. For tests.
    Memory,
    /// A cloud bucket (`s3://`, `gs://`, `az://`) with an optional prefix.
    /// Credentials come from the provider's usual environment variables.
    Cloud(Url),
}

impl ObjectStoreUrl {
    /// Parses `file://DIR`, `memory://`, `s3://`, `gs://` or `az://` URLs.
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |message: String| Error::Config { key: "object_store_url".to_owned(), message };
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err(invalid("`file://` needs a directory, e.g. file://./objects".to_owned()));
            }
            return Ok(Self::Local(PathBuf::from(path)));
        }
        if url == "memory://" || url == "memory:" {
            return Ok(Self::Memory);
        }
        let parsed = Url::parse(url).map_err(|error| invalid(format!("`{url}` is not a URL: {error}")))?;
        match parsed.scheme() {
            "s3" | "gs" | "az" | "abfs" | "abfss" if parsed.host_str().is_some_and(|h| !h.is_empty()) => {
                Ok(Self::Cloud(parsed))
            }
            "s3" | "gs" | "az" | "abfs" | "abfss" => {
                Err(invalid(format!("`{url}` names no bucket, e.g. s3://my-bucket/strata")))
            }
            other => Err(invalid(format!(
                "scheme `{other}` is not supported; use file://, memory://, s3://, gs:// or az://"
            ))),
        }
    }

    /// A description for logs and errors.
    pub fn describe(&self) -> String {
        match self {
            Self::Local(path) => format!("file://{}", path.display()),
            Self::Memory => "memory://".to_owned(),
            Self::Cloud(url) => url.to_string(),
        }
    }
}

fn parse_redis_url(url: &str) -> Result<SecretUrl> {
    let parsed = Url::parse(url).map_err(|error| Error::Config {
        key: "redis_url".to_owned(),
        message: format!("`{}` is not a URL: {error}", redact_url(url)),
    })?;
    if !matches!(parsed.scheme(), "redis" | "rediss" | "redis+unix") {
        return Err(Error::Config {
            key: "redis_url".to_owned(),
            message: format!("scheme `{}` is not supported; use redis://HOST:PORT", parsed.scheme()),
        });
    }
    Ok(SecretUrl::new(url))
}

#[cfg(test)]
#[allow(clippy::result_large_err, reason = "figment's Jail fixes the closures' error type")]
mod tests {
    use super::*;

    fn no_env() -> Env {
        Env::prefixed("STRATA_TEST_NEVER_SET_").only(KEYS)
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("strata.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    #[test]
    fn kubernetes_egress_is_a_list_of_cidrs_with_ports() {
        let rules = parse_egress("10.0.0.0/16:5432,6379; 0.0.0.0/0:443;fd00::/8:443").expect("valid");
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0], EgressRule { cidr: "10.0.0.0/16".into(), ports: vec![5432, 6379] });
        assert_eq!(rules[2].cidr, "fd00::/8");
        assert!(parse_egress("").expect("empty").is_empty());
        for bad in ["10.0.0.0/16", "10.0.0.0:443", "10.0.0.0/33:443", "db:443", "10.0.0.0/8:0", "10.0.0.0/8:https"] {
            let error = parse_egress(bad).expect_err(bad).to_string();
            assert!(error.contains("kubernetes_egress") && error.contains("e.g."), "{bad}: {error}");
        }
    }

    #[test]
    fn defaults_give_embedded_sqlite_and_local_objects_under_the_data_dir() {
        let settings = ServerConfig::load_from(None, no_env(), &Overrides::default())
            .and_then(|config| config.resolve())
            .expect("defaults are valid");
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert!(matches!(settings.database, DatabaseUrl::Sqlite(ref p) if p == Path::new(".strata/strata.db")));
        assert!(matches!(settings.object_store, ObjectStoreUrl::Local(ref p) if p == Path::new(".strata/objects")));
        assert!(settings.redis.is_none());
    }

    #[test]
    fn layers_override_in_order_file_then_env_then_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(&dir, "listen = \"127.0.0.1:1\"\nlog_level = \"debug\"\nlog_format = \"json\"\n");
        figment::Jail::expect_with(|jail| {
            jail.set_env("STRATA_LISTEN", "127.0.0.1:2");
            jail.set_env("STRATA_LOG_LEVEL", "warn");
            let overrides = Overrides { listen: Some("127.0.0.1:3".to_owned()), ..Overrides::default() };
            let config = ServerConfig::load(Some(&file), &overrides).expect("load");
            assert_eq!(config.listen, "127.0.0.1:3", "flags beat env");
            assert_eq!(config.log_level, "warn", "env beats file");
            assert_eq!(config.log_format, "json", "file beats defaults");
            Ok(())
        });
    }

    #[test]
    fn workers_are_auto_or_a_number_from_the_environment_or_a_file() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STRATA_WORKERS", "0");
            jail.set_env("STRATA_TASK_LEASE_SECS", "2");
            let settings = ServerConfig::load(None, &Overrides::default()).expect("load").resolve().expect("valid");
            assert_eq!(settings.pps.workers, EmbeddedWorkers::Fixed(0));
            assert_eq!(settings.pps.task_lease, std::time::Duration::from_secs(2));
            jail.set_env("STRATA_WORKERS", "auto");
            let settings = ServerConfig::load(None, &Overrides::default()).expect("load").resolve().expect("valid");
            assert_eq!(settings.pps.workers, EmbeddedWorkers::Auto);
            jail.set_env("STRATA_WORKERS", "many");
            let error = ServerConfig::load(None, &Overrides::default()).expect("load").resolve().expect_err("bad");
            assert!(error.to_string().contains("`many`"), "{error}");
            jail.set_env("STRATA_WORKERS", "1");
            jail.set_env("STRATA_SANDBOX", "docker");
            let error = ServerConfig::load(None, &Overrides::default()).expect("load").resolve().expect_err("bad");
            assert!(error.to_string().contains("auto, namespace, scratch"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn unrelated_strata_variables_are_not_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STRATA_TOKEN", "stp_secret");
            jail.set_env("STRATA_WORKSPACE", "default");
            ServerConfig::load(None, &Overrides::default()).expect("ignored");
            Ok(())
        });
    }

    #[test]
    fn the_master_key_comes_from_the_environment_or_a_file_never_both() {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        figment::Jail::expect_with(|jail| {
            let settings = ServerConfig::load(None, &Overrides::default()).expect("load").resolve().expect("valid");
            assert!(matches!(
                settings.master_key,
                MasterKeySource::File { ref path, explicit: false } if path == Path::new(".strata/keys/master.key")
            ));
            jail.set_env("STRATA_MASTER_KEY", key);
            let settings = ServerConfig::load(None, &Overrides::default()).expect("load").resolve().expect("valid");
            assert_eq!(settings.master_key.load().expect("a key").expose().count(), 1);
            assert!(!format!("{settings:?}").contains(key), "the key is not in Debug output");
            jail.set_env("STRATA_MASTER_KEY_FILE", "/run/secrets/strata-master-key");
            let error = ServerConfig::load(None, &Overrides::default()).expect("load").resolve().expect_err("both");
            assert!(error.to_string().contains("`master_key_file`") && !error.to_string().contains(key), "{error}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_the_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(&dir, "listen = \"127.0.0.1:1\"\nlisten_port = 9\n");
        let error = ServerConfig::load_from(Some(&file), no_env(), &Overrides::default()).expect_err("unknown key");
        let text = error.to_string();
        assert!(text.contains("`listen_port`"), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_key_and_source() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STRATA_SHUTDOWN_TIMEOUT_SECS", "soon");
            let error = ServerConfig::load(None, &Overrides::default()).expect_err("bad type");
            let text = error.to_string();
            assert!(text.contains("`shutdown_timeout_secs`"), "{text}");
            assert!(text.contains("STRATA_SHUTDOWN_TIMEOUT_SECS"), "{text}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let error =
            ServerConfig::load_from(Some(Path::new("/nonexistent/strata.toml")), no_env(), &Overrides::default())
                .expect_err("missing file");
        assert!(error.to_string().contains("does not exist"));
    }

    #[test]
    fn invalid_values_are_rejected_with_their_key() {
        let cases: [(&str, ServerConfig); 9] = [
            ("listen", ServerConfig { listen: "localhost".into(), ..ServerConfig::default() }),
            ("database_url", ServerConfig { database_url: Some("mysql://x".into()), ..ServerConfig::default() }),
            ("database_url", ServerConfig { database_url: Some("postgres://".into()), ..ServerConfig::default() }),
            (
                "object_store_url",
                ServerConfig { object_store_url: Some("ftp://x/y".into()), ..ServerConfig::default() },
            ),
            ("redis_url", ServerConfig { redis_url: Some("http://x".into()), ..ServerConfig::default() }),
            ("log_format", ServerConfig { log_format: "xml".into(), ..ServerConfig::default() }),
            ("public_url", ServerConfig { public_url: Some("strata.example.com".into()), ..ServerConfig::default() }),
            (
                "smtp_url",
                ServerConfig { smtp_url: Some("https://user:hunter2@mail".into()), ..ServerConfig::default() },
            ),
            ("mail_from", ServerConfig { mail_from: "nobody".into(), ..ServerConfig::default() }),
        ];
        for (key, config) in cases {
            let error = config.resolve().expect_err(key);
            assert!(error.is_user_error());
            assert!(error.to_string().contains(&format!("`{key}`")), "{key}: {error}");
        }
    }

    #[test]
    fn passwords_never_appear_in_errors_or_debug_output() {
        let url = "postgres://strata:hunter2@db.internal:5432/strata";
        let database = DatabaseUrl::parse(url).expect("valid");
        assert!(!format!("{database:?}").contains("hunter2"));
        assert!(!database.redacted().contains("hunter2"));
        let error = DatabaseUrl::parse("mysql://root:hunter2@db/x").expect_err("unsupported");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let smtp =
            ServerConfig { smtp_url: Some("https://mailer:hunter2@mail.internal".into()), ..ServerConfig::default() };
        let error = smtp.resolve().expect_err("not SMTP");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let settings = ServerConfig {
            smtp_url: Some("smtps://mailer:hunter2@mail.internal:465".into()),
            ..ServerConfig::default()
        }
        .resolve()
        .expect("valid");
        assert!(!format!("{:?}", settings.mail).contains("hunter2"));
    }

    #[test]
    fn a_data_dir_below_a_file_is_unusable_and_named() {
        let file = tempfile::NamedTempFile::new().expect("file");
        let path = file.path().join("data");
        let error = prepare_data_dir(&path).expect_err("not creatable");
        assert!(error.is_user_error());
        assert!(error.to_string().contains(&path.display().to_string()), "{error}");
    }

    #[test]
    fn a_data_dir_is_created_with_its_parents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/c");
        prepare_data_dir(&path).expect("created");
        assert!(path.is_dir());
        assert_eq!(std::fs::read_dir(&path).expect("read").count(), 0, "no probe left behind");
    }

    #[test]
    fn cloud_object_stores_need_a_bucket() {
        assert!(matches!(ObjectStoreUrl::parse("s3://bucket/prefix"), Ok(ObjectStoreUrl::Cloud(_))));
        assert!(matches!(ObjectStoreUrl::parse("gs://bucket"), Ok(ObjectStoreUrl::Cloud(_))));
        assert!(matches!(ObjectStoreUrl::parse("az://container/p"), Ok(ObjectStoreUrl::Cloud(_))));
        assert!(ObjectStoreUrl::parse("s3://").is_err());
    }
}
