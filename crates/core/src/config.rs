//! Configuration machinery and the settings every server process shares.
//!
//! Each service owns the section of the configuration it reads (the hub its
//! mail and master key, the provisioner its Kubernetes settings, ...); this
//! module owns only what they all share ([`ServerConfig`]: address, storage,
//! logs) and how a section is loaded. The sections are flat: all their keys
//! live side by side at the top of one TOML file, and key `k` is also the
//! variable `STRATA_K` and, where the CLI has one, the flag `--k` (with
//! dashes). Layers override the ones before: built-in defaults (each
//! section's `Default`), an optional TOML file, `STRATA_*` variables, then
//! flags. [`Layers::load`] merges them; [`Layers::extract`] reads one section.
//!
//! The keys are never listed by hand: [`field_names`] reads them from a
//! section's `Deserialize` implementation, so a new field is a new key in
//! the file, in the environment and in the check for unknown keys at once.
//! Raw sections (`*Config`) are validated by their `resolve` into
//! `*Settings`, whose types cannot hold an invalid value. Every error names
//! the key at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};
pub use crate::master_key::{MASTER_KEY_ENV, MasterKeySource, MasterKeys};

/// The prefix of every configuration variable: key `listen` is `STRATA_LISTEN`.
pub const ENV_PREFIX: &str = "STRATA_";

/// The environment variable that sets `key`.
pub fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_uppercase())
}

/// A configuration error naming `key`, for the `resolve` of every section.
pub fn invalid(key: &str, message: impl Into<String>) -> Error {
    Error::Config { key: key.to_owned(), message: message.into() }
}

/// The keys of a configuration section: the field names its derived
/// `Deserialize` asks for. Empty for a type that is not a plain struct
/// (a `#[serde(flatten)]` field hides the names, so sections must not use one).
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut names = None;
    // The deserializer fails on purpose once it has seen the names, so the
    // result only says that it stopped.
    let _stopped = T::deserialize(FieldNames(&mut names));
    names.unwrap_or(&[])
}

/// A deserializer that records the field names a struct asks for and
/// deserializes nothing.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> std::result::Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("only a struct has field names"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(serde::de::Error::custom("field names recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// Writes a secret setting as `***` (or nothing when unset), so a
/// serialized configuration never carries it.
pub fn serialize_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match secret {
        Some(_) => serializer.serialize_some("***"),
        None => serializer.serialize_none(),
    }
}

/// The merged layers of configuration, from which each section is read.
#[derive(Debug, Clone)]
pub struct Layers {
    figment: Figment,
}

impl Layers {
    /// Merges `file` < `STRATA_<KEY>` variables < `flags` for the given keys
    /// (the union of the sections' [`field_names`]).
    ///
    /// A file given explicitly must exist and may only hold known keys.
    /// Other `STRATA_*` variables are ignored, because `STRATA_TOKEN` and
    /// friends belong to the CLI, not to the server. `flags` serializes to a
    /// map of keys; unset flags must be skipped, not written as null.
    pub fn load(file: Option<&Path>, keys: &[&str], flags: &impl Serialize) -> Result<Self> {
        Self::load_with_env(file, keys, Env::prefixed(ENV_PREFIX).only(keys), flags)
    }

    /// [`Layers::load`] with the environment provider given, so tests can
    /// leave the process environment out.
    pub fn load_with_env(file: Option<&Path>, keys: &[&str], env: Env, flags: &impl Serialize) -> Result<Self> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            check_file_keys(path, keys)?;
            figment = figment.merge(Toml::file_exact(path));
        }
        Ok(Self { figment: figment.merge(env).merge(Serialized::defaults(flags)) })
    }

    /// Reads one section; keys it does not have are left to the others,
    /// keys no layer sets keep the section's default.
    pub fn extract<T: DeserializeOwned>(&self) -> Result<T> {
        self.figment.extract().map_err(|error| figment_error(&error))
    }
}

/// Fails on a missing file and on a key in it that no section has, naming it.
fn check_file_keys(path: &Path, keys: &[&str]) -> Result<()> {
    if !path.is_file() {
        return Err(invalid("config", format!("file {} does not exist", path.display())));
    }
    let written: figment::value::Dict =
        Figment::from(Toml::file_exact(path)).extract().map_err(|error| figment_error(&error))?;
    match written.keys().find(|key| !keys.contains(&key.as_str())) {
        Some(unknown) => {
            let expected = keys.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(", ");
            Err(invalid(unknown, format!("unknown key (from {}); expected one of {expected}", path.display())))
        }
        None => Ok(()),
    }
}

/// Settings every server process shares: where it listens, where its data
/// lives and how it logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
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
        }
    }
}

impl ServerConfig {
    /// Validates every value and fills in the defaults that depend on the
    /// data directory. Does not touch the disk or the network.
    pub fn resolve(&self) -> Result<ServerSettings> {
        let listen = self
            .listen
            .parse::<SocketAddr>()
            .map_err(|_| invalid("listen", format!("`{}` is not an address such as 127.0.0.1:8080", self.listen)))?;
        let database = match &self.database_url {
            Some(url) => DatabaseUrl::parse(url)?,
            None => DatabaseUrl::Sqlite(self.data_dir.join("strata.db")),
        };
        let object_store = match &self.object_store_url {
            Some(url) => ObjectStoreUrl::parse(url)?,
            None => ObjectStoreUrl::Local(self.data_dir.join("objects")),
        };
        let redis = self.redis_url.as_deref().map(parse_redis_url).transpose()?;
        Ok(ServerSettings {
            listen,
            data_dir: self.data_dir.clone(),
            database,
            object_store,
            redis,
            log: self.log_settings()?,
            shutdown_timeout: std::time::Duration::from_secs(self.shutdown_timeout_secs),
        })
    }

    fn log_settings(&self) -> Result<LogSettings> {
        let format = match self.log_format.as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => return Err(invalid("log_format", format!("`{other}` is not one of: pretty, json"))),
        };
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|error| invalid("log_level", format!("`{}` is not a log filter ({error})", self.log_level)))?;
        Ok(LogSettings { format, filter: self.log_level.clone() })
    }
}

/// [`ServerConfig`] validated: every field is usable as it is.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub object_store: ObjectStoreUrl,
    pub redis: Option<SecretUrl>,
    pub log: LogSettings,
    pub shutdown_timeout: std::time::Duration,
}

impl ServerSettings {
    /// Whether anything lives in the data directory (the SQLite database or
    /// local objects), so it must exist and be writable before start.
    pub fn needs_data_dir(&self) -> bool {
        matches!(self.database, DatabaseUrl::Sqlite(_)) || matches!(self.object_store, ObjectStoreUrl::Local(_))
    }

    /// The URL clients on this machine use to reach the server bound to
    /// `port`: a wildcard listen address is reached through IPv4 loopback.
    /// Printed by `strata dev` and, without `public_url`, the start of every
    /// link and redirect, so a browser keeps its cookies on one host.
    pub fn local_url(&self, port: u16) -> String {
        let host = match self.listen.ip() {
            ip if ip.is_unspecified() => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(host, port))
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
    /// Wraps a URL that may hold a password.
    pub fn new(url: &str) -> Self {
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

    /// The store below `prefix` of this one, as a store of its own: what a workspace
    /// server is given, so that its configuration names no object of another
    /// workspace. `prefix` is made by the platform (never by a tenant), one or more
    /// plain path segments.
    pub fn below(&self, prefix: &str) -> ObjectStoreUrl {
        let prefix = prefix.trim_matches('/');
        match self {
            Self::Local(dir) => Self::Local(dir.join(prefix)),
            // A memory store lives in one process: whoever opens it sees only its own.
            Self::Memory => Self::Memory,
            Self::Cloud(url) => {
                let mut below = url.clone();
                below.set_path(&format!("{}/{prefix}", url.path().trim_end_matches('/')));
                Self::Cloud(below)
            }
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

    /// No flags set.
    #[derive(Serialize)]
    struct NoFlags {}

    fn keys() -> &'static [&'static str] {
        field_names::<ServerConfig>()
    }

    fn no_env() -> Env {
        Env::prefixed("STRATA_TEST_NEVER_SET_").only(keys())
    }

    fn server_config(file: Option<&Path>, env: Env, flags: &impl Serialize) -> Result<ServerConfig> {
        Layers::load_with_env(file, keys(), env, flags)?.extract()
    }

    fn from_environment() -> Result<ServerConfig> {
        Layers::load(None, keys(), &NoFlags {})?.extract()
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("strata.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    #[test]
    fn the_keys_of_a_section_are_its_field_names() {
        assert_eq!(
            keys(),
            [
                "listen",
                "data_dir",
                "database_url",
                "object_store_url",
                "redis_url",
                "log_format",
                "log_level",
                "shutdown_timeout_secs"
            ]
        );
        assert!(field_names::<String>().is_empty(), "not a struct: no keys");
    }

    #[test]
    fn secrets_serialize_as_stars() {
        #[derive(Serialize)]
        struct Section {
            #[serde(serialize_with = "serialize_secret")]
            key: Option<SecretString>,
        }
        let text = serde_json::to_string(&Section { key: Some(SecretString::from("hunter2")) }).expect("json");
        assert_eq!(text, r#"{"key":"***"}"#);
        assert_eq!(serde_json::to_string(&Section { key: None }).expect("json"), r#"{"key":null}"#);
    }

    #[test]
    fn defaults_give_embedded_sqlite_and_local_objects_under_the_data_dir() {
        let settings =
            server_config(None, no_env(), &NoFlags {}).and_then(|config| config.resolve()).expect("defaults are valid");
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert!(matches!(settings.database, DatabaseUrl::Sqlite(ref p) if p == Path::new(".strata/strata.db")));
        assert!(matches!(settings.object_store, ObjectStoreUrl::Local(ref p) if p == Path::new(".strata/objects")));
        assert!(settings.redis.is_none());
    }

    #[test]
    fn the_local_url_reaches_a_wildcard_address_through_loopback() {
        let at = |listen: &str| ServerConfig { listen: listen.into(), ..ServerConfig::default() }.resolve();
        assert_eq!(at("0.0.0.0:0").expect("valid").local_url(8080), "http://127.0.0.1:8080");
        assert_eq!(at("[::]:0").expect("valid").local_url(8080), "http://127.0.0.1:8080");
        assert_eq!(at("[::1]:0").expect("valid").local_url(9), "http://[::1]:9");
        assert_eq!(at("10.1.2.3:80").expect("valid").local_url(80), "http://10.1.2.3:80");
    }

    #[test]
    fn layers_override_in_order_file_then_env_then_flags() {
        #[derive(Serialize)]
        struct Flags {
            listen: &'static str,
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(&dir, "listen = \"127.0.0.1:1\"\nlog_level = \"debug\"\nlog_format = \"json\"\n");
        figment::Jail::expect_with(|jail| {
            jail.set_env("STRATA_LISTEN", "127.0.0.1:2");
            jail.set_env("STRATA_LOG_LEVEL", "warn");
            let env = Env::prefixed(ENV_PREFIX).only(keys());
            let config = server_config(Some(&file), env, &Flags { listen: "127.0.0.1:3" }).expect("load");
            assert_eq!(config.listen, "127.0.0.1:3", "flags beat env");
            assert_eq!(config.log_level, "warn", "env beats file");
            assert_eq!(config.log_format, "json", "file beats defaults");
            Ok(())
        });
    }

    #[test]
    fn unrelated_strata_variables_are_not_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STRATA_TOKEN", "stp_secret");
            jail.set_env("STRATA_WORKSPACE", "default");
            from_environment().expect("ignored");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_the_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(&dir, "listen = \"127.0.0.1:1\"\nlisten_port = 9\n");
        let error = server_config(Some(&file), no_env(), &NoFlags {}).expect_err("unknown key");
        let text = error.to_string();
        assert!(text.contains("`listen_port`"), "{text}");
        assert!(text.contains("expected one of `listen`, `data_dir`"), "the keys are listed: {text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_key_and_source() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STRATA_SHUTDOWN_TIMEOUT_SECS", "soon");
            let error = from_environment().expect_err("bad type");
            let text = error.to_string();
            assert!(text.contains("`shutdown_timeout_secs`"), "{text}");
            assert!(text.contains("STRATA_SHUTDOWN_TIMEOUT_SECS"), "{text}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let error = server_config(Some(Path::new("/nonexistent/strata.toml")), no_env(), &NoFlags {})
            .expect_err("missing file");
        assert!(error.to_string().contains("does not exist"));
    }

    #[test]
    fn invalid_values_are_rejected_with_their_key() {
        let cases: [(&str, ServerConfig); 6] = [
            ("listen", ServerConfig { listen: "localhost".into(), ..ServerConfig::default() }),
            ("database_url", ServerConfig { database_url: Some("mysql://x".into()), ..ServerConfig::default() }),
            ("database_url", ServerConfig { database_url: Some("postgres://".into()), ..ServerConfig::default() }),
            (
                "object_store_url",
                ServerConfig { object_store_url: Some("ftp://x/y".into()), ..ServerConfig::default() },
            ),
            ("redis_url", ServerConfig { redis_url: Some("http://x".into()), ..ServerConfig::default() }),
            ("log_format", ServerConfig { log_format: "xml".into(), ..ServerConfig::default() }),
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
        let redis = ServerConfig { redis_url: Some("redis://:hunter2@cache:6379".into()), ..ServerConfig::default() }
            .resolve()
            .expect("valid");
        assert!(!format!("{redis:?}").contains("hunter2"));
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

    #[test]
    fn a_store_below_a_prefix_is_a_store_of_its_own() {
        let below = |url: &str, prefix: &str| ObjectStoreUrl::parse(url).expect("url").below(prefix).describe();
        assert_eq!(below("s3://bucket", "ws/ws-1"), "s3://bucket/ws/ws-1");
        assert_eq!(below("s3://bucket/strata/", "/ws/ws-1/"), "s3://bucket/strata/ws/ws-1");
        assert_eq!(below("gs://bucket/a", "workspaces/2"), "gs://bucket/a/workspaces/2");
        assert_eq!(below("file:///data/objects", "workspaces/2"), "file:///data/objects/workspaces/2");
        assert_eq!(below("memory://", "workspaces/2"), "memory://");
    }
}
