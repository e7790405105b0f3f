//! The test harness: the real application on port 0 against a fresh,
//! private database (SQLite or PostgreSQL), plus Redis key prefixes.
//!
//! ```ignore
//! #[tokio::test]
//! async fn readiness_is_green() {
//!     let app = TestApp::spawn(Backend::Postgres).await;
//!     assert_eq!(app.client().readyz().await.unwrap().status, "ready");
//! }
//! ```
//!
//! PostgreSQL is reached at `STRATA_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), Redis at
//! `STRATA_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`);
//! `scripts/services.sh` starts both.

mod database;
pub mod dns;
pub mod oidc;
mod redis_prefix;
pub mod stripe;

use std::path::PathBuf;

use sea_orm::DatabaseConnection;
use strata_api::Application;
use strata_api::config::{
    ApiConfig, AppConfig, AppSettings, HubConfig, PpsConfig, SandboxConfig, ServerConfig, WorkersSetting,
};
use strata_client::StrataClient;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use database::{Backend, TestDatabase};
pub use redis_prefix::TestRedis;

/// Runs `$body` (an async block using the `backend` variable) once on
/// SQLite and once on PostgreSQL, as two separately named tests.
///
/// Also takes a list of `async fn name(backend: Backend)` defined beside it:
/// `on_both_backends!(a, b)` makes the tests `sqlite::a`, `postgres::a`, ….
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name($crate::Backend::Sqlite).await; })+
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::Backend::Postgres).await; })+
        }
    };
    ($(#[$meta:meta])* async fn $name:ident($backend:ident: Backend) $body:block) => {
        mod $name {
            use super::*;

            async fn check($backend: $crate::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                check($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                check($crate::Backend::Postgres).await
            }
        }
    };
}

/// Settings a test may change; the rest are the test defaults.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// Queue datum tasks in this Redis instead of in-process.
    pub redis_url: Option<String>,
    /// The binary embedded workers run as `<helper> __sandbox`.
    pub sandbox_helper: Option<PathBuf>,
    /// The whole sandbox section (e.g. the container runner's settings); with it,
    /// `sandbox_helper` is not used.
    pub sandbox: Option<SandboxConfig>,
    /// Embedded workers per pipeline (`auto` when `None`).
    pub workers: Option<String>,
    /// Task lease in seconds (30 when `None`).
    pub task_lease_secs: Option<u64>,
    /// Requests per minute per credential (the default when `None`).
    pub rate_limit_per_minute: Option<u32>,
    /// The built web console to serve.
    pub web_dir: Option<PathBuf>,
    /// Serve `/metrics` on a second address of its own (`metrics_listen`).
    pub metrics_listen: bool,
    /// The operator's `org_plans` setting (`ORG=PLAN,...`).
    pub org_plans: Option<String>,
    /// Allow identity providers on loopback (`sso_issuers = "any"`).
    pub private_issuers: bool,
    /// The DNS server domain verification asks (`sso_dns_server`).
    pub dns_server: Option<std::net::SocketAddr>,
    /// The plans file (`plans_file`); the built-in plans when `None`.
    pub plans_file: Option<PathBuf>,
    /// Billing's settings (e.g. [`stripe::StripeDouble::billing_config`]);
    /// billing is off when `None`.
    pub billing: Option<strata_api::config::BillingConfig>,
}

/// A running application with its own data directory and database.
/// Dropping it stops the server and deletes the database.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    /// Where the app keeps local files.
    pub data_dir: PathBuf,
    /// A direct connection to the app's database, for assertions.
    pub db: DatabaseConnection,
    /// The settings the app was started with.
    pub settings: AppSettings,
    /// An org-wide admin API token of the local administrator, which
    /// [`TestApp::client`] sends.
    pub admin_token: String,
    /// The bearer token that reads `/metrics` (`metrics_token`); empty
    /// with [`TestOptions::metrics_listen`].
    pub metrics_token: String,
    /// `http://127.0.0.1:<port>` of the `metrics_listen` address, if asked for.
    pub metrics_address: Option<String>,
    /// The app's own connection pool (the one requests use), for tests
    /// that need to exhaust it; `db` is a separate one.
    pub pool: DatabaseConnection,
    stop: CancellationToken,
    /// Stops the server when the app is dropped.
    _stop_on_drop: DropGuard,
    server: Option<JoinHandle<()>>,
    options: TestOptions,
    // Field order matters: the database outlives the server on drop.
    database: TestDatabase,
    _scratch: tempfile::TempDir,
}

/// The defaults, changed where tests need it: port 0, the test database
/// and data directory, a short shutdown, and the options.
fn test_config(database: &TestDatabase, data_dir: &std::path::Path, options: &TestOptions) -> AppConfig {
    let server = ServerConfig {
        listen: "127.0.0.1:0".to_owned(),
        data_dir: data_dir.to_path_buf(),
        database_url: Some(database.url()),
        shutdown_timeout_secs: 5,
        redis_url: options.redis_url.clone(),
        ..ServerConfig::default()
    };
    let defaults = ApiConfig::default();
    let api = ApiConfig {
        workers: options.workers.clone().map(WorkersSetting::Word).unwrap_or(defaults.workers.clone()),
        rate_limit_per_minute: options.rate_limit_per_minute.unwrap_or(defaults.rate_limit_per_minute),
        web_dir: options.web_dir.clone(),
        // With a metrics address of its own the public one serves no metrics.
        metrics_token: (!options.metrics_listen).then(|| format!("metrics-{}", uuid::Uuid::new_v4().simple())),
        metrics_listen: options.metrics_listen.then(|| "127.0.0.1:0".to_owned()),
    };
    let pps = PpsConfig {
        task_lease_secs: options.task_lease_secs.unwrap_or(PpsConfig::default().task_lease_secs),
        ..PpsConfig::default()
    };
    AppConfig {
        server,
        hub: HubConfig {
            org_plans: options.org_plans.clone().unwrap_or_default(),
            plans_file: options.plans_file.clone(),
            sso_issuers: if options.private_issuers { "any" } else { "public" }.to_owned(),
            sso_dns_server: options.dns_server.map(|addr| addr.to_string()),
            ..HubConfig::default()
        },
        billing: options.billing.clone().unwrap_or_default(),
        api,
        pps,
        // The process runner unless a test asks for containers: what a test
        // exercises must not depend on what the machine has installed.
        sandbox: options.sandbox.clone().unwrap_or_else(|| SandboxConfig {
            runner: "process".to_owned(),
            sandbox_helper: options.sandbox_helper.clone(),
            ..SandboxConfig::default()
        }),
    }
}

impl TestApp {
    /// Starts the app on a fresh database of the given backend.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with_options(backend, TestOptions::default()).await
    }

    /// Starts the app with some settings changed.
    pub async fn spawn_with_options(backend: Backend, options: TestOptions) -> Self {
        let scratch = tempfile::tempdir().expect("create a scratch directory");
        let data_dir = scratch.path().join("data");
        let database = TestDatabase::create(backend, &data_dir).await;
        Self::spawn_with(database, data_dir, scratch, options).await
    }

    /// Starts the app again on the same database and data directory, as a
    /// restart of `strata dev` would. The current server is stopped first.
    pub async fn restart(mut self) -> Self {
        self.stop_server().await;
        let Self { database, data_dir, _scratch, options, .. } = self;
        Self::spawn_with(database, data_dir, _scratch, options).await
    }

    async fn spawn_with(
        database: TestDatabase,
        data_dir: PathBuf,
        scratch: tempfile::TempDir,
        options: TestOptions,
    ) -> Self {
        strata_core::telemetry::init_for_tests();
        let config = test_config(&database, &data_dir, &options);
        let settings = config.resolve().expect("test settings are valid");
        // As `strata dev` does: a master key in the data directory, kept across restarts.
        settings.hub.master_key.create_default_if_missing().expect("a master key for the test");
        let app = Application::build(&settings).await.expect("the app starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let admin_token = app.hub().local_admin_token("tests").await.expect("a local admin token").secret;
        let metrics_token = config.api.metrics_token.clone().unwrap_or_default();
        let metrics_address = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
        let pool = app.database().clone();
        let db = strata_core::db::connect(&settings.server.database).await.expect("connect to the test database");
        let stop = CancellationToken::new();
        let server_stop = stop.clone();
        let server = tokio::spawn(async move {
            app.run_until_stopped(server_stop).await.expect("the server runs");
        });
        let _stop_on_drop = stop.clone().drop_guard();
        Self {
            address,
            data_dir,
            db,
            settings,
            admin_token,
            metrics_token,
            metrics_address,
            pool,
            stop,
            _stop_on_drop,
            server: Some(server),
            options,
            database,
            _scratch: scratch,
        }
    }

    /// A client for this app, as the local administrator.
    pub fn client(&self) -> StrataClient {
        self.anonymous_client().with_token(self.admin_token.clone())
    }

    /// A client for this app without credentials.
    pub fn anonymous_client(&self) -> StrataClient {
        StrataClient::new(&self.address).expect("the test address is a URL")
    }

    /// Which database backend the app runs on.
    pub fn backend(&self) -> Backend {
        self.database.backend()
    }

    /// Stops the server and waits until it has let go of the port.
    pub async fn stop_server(&mut self) {
        self.stop.cancel();
        if let Some(server) = self.server.take() {
            server.await.expect("the server task ends cleanly");
        }
    }
}

/// A standalone workspace server, as a provisioner runs one: SQLite and a file
/// store under `dir`, no Redis, a free loopback port. Stopped when dropped.
#[derive(Debug)]
pub struct TestWorkspaceServer {
    pub port: u16,
    _stop: DropGuard,
}

impl TestWorkspaceServer {
    /// Starts the server of workspace `slug` with its service secret and, to
    /// keep pipeline secrets, its sealing keys.
    pub async fn start(
        dir: &std::path::Path,
        slug: &str,
        service_secret: &str,
        secrets_keys: Option<String>,
    ) -> TestWorkspaceServer {
        let config = strata_core::workspace_server::WorkspaceServerConfig {
            slug: slug.into(),
            database_url: format!("sqlite://{}", dir.join("ws.db").display()),
            object_store_url: format!("file://{}", dir.join("objects").display()),
            redis_url: None,
            queue_prefix: "q:".into(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            service_secret: service_secret.into(),
            task_lease: std::time::Duration::from_secs(30),
            pin_images: None,
            secrets_keys,
            limits: None,
        };
        let server =
            strata_api::workspace_server::WorkspaceServer::build(&config).await.expect("the workspace server starts");
        let port = server.port();
        let stop = CancellationToken::new();
        tokio::spawn(server.run_until_stopped(stop.clone()));
        TestWorkspaceServer { port, _stop: stop.drop_guard() }
    }
}

impl TestApp {
    /// Claims `domain` for the local organisation, publishes its TXT record
    /// on `dns` (the server's `sso_dns_server`) and verifies it, as an admin
    /// does over GraphQL. Panics if any step does not answer as it should.
    pub async fn verify_local_domain(&self, dns: &dns::TestDns, domain: &str) {
        let input = serde_json::json!({ "organization": "local", "domain": domain });
        let claim = "mutation($input: ClaimDomainInput!) { claimDomain(input: $input) { domain { recordName recordValue verified } } }";
        let claimed = self.admin_graphql(claim, input.clone()).await;
        let record = &claimed["data"]["claimDomain"]["domain"];
        assert_eq!(record["verified"], false, "{claimed}");
        let name = record["recordName"].as_str().unwrap_or_else(|| panic!("no TXT record name: {claimed}"));
        let value = record["recordValue"].as_str().unwrap_or_else(|| panic!("no TXT record value: {claimed}"));
        dns.set_txt(name, vec![value.to_owned()]);
        let verify = "mutation($input: VerifyDomainInput!) { verifyDomain(input: $input) { domain { verified } } }";
        let verified = self.admin_graphql(verify, input).await;
        assert_eq!(verified["data"]["verifyDomain"]["domain"]["verified"], true, "{verified}");
    }

    /// One GraphQL operation with `input` as `$input`, as the local
    /// administrator; panics on a transport error or top-level `errors`.
    pub async fn admin_graphql(&self, query: &str, input: serde_json::Value) -> serde_json::Value {
        let body = serde_json::json!({ "query": query, "variables": { "input": input } });
        let response = reqwest::Client::new()
            .post(format!("{}/graphql", self.address))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /graphql: {e}"));
        let answer: serde_json::Value = response.json().await.unwrap_or_else(|e| panic!("a JSON answer: {e}"));
        assert!(answer.get("errors").is_none(), "{query}: {answer}");
        answer
    }
}
