//! `strata dev`: the whole product in one process.

use anyhow::Context as _;
use strata_api::Application;
use strata_api::config::{AppSettings, MetricsToken};

use crate::cli::{DevArgs, ServeArgs};
use crate::context::{CliConfig, Context, config_path};
use crate::failure::{Failure, internal, user};
use crate::output::say;

/// The context `strata dev` writes and selects.
const DEV_CONTEXT: &str = "dev";
/// The workspace every CLI command uses by default against `strata dev`.
const DEFAULT_WORKSPACE: &str = "default";

/// Loads configuration, starts every service and serves until SIGINT/SIGTERM.
pub async fn run(args: DevArgs) -> Result<(), Failure> {
    let mut settings = crate::commands::provisioner::settings(&args.server, args.listen.as_deref())?;
    let metrics_token_file = dev_metrics_token(&mut settings.app)?;
    let server = settings.app.server.clone();
    let _logging = strata_core::telemetry::init_logging(&server.log, "strata-api")?;
    // Handle signals from here on: one sent as soon as the URL is printed
    // must stop the server gracefully, not kill it.
    let stop = strata_core::shutdown::on_signal().context("cannot listen for signals").map_err(internal)?;
    // First start: a master key of its own, in the data directory (0700 and
    // 0600, so only this user reads it), reused on every later start.
    strata_core::config::prepare_data_dir(&server.data_dir)?;
    let made_key = settings.app.hub.master_key.create_default_if_missing()?;
    let app = Application::build(&settings.app).await?;
    let provisioner = start_provisioner(&settings, &app, &stop)?;
    let url = server.local_url(app.port());
    tracing::info!(
        %url,
        database = %server.database.redacted(),
        object_store = %server.object_store.describe(),
        instance = %app.instance().id,
        "strata dev is ready"
    );
    if !args.no_context {
        write_dev_context(&app, &url).await?;
    }
    let login = app.hub().local_admin_login_link().await.map_err(internal)?;
    say(&format!("Strata is running at {url}"));
    say(&format!("  GraphQL:  {url}/graphql"));
    say(&format!("  Metrics:  {}", metrics_hint(&app, &url, metrics_token_file.as_deref())));
    say(&format!("  Log in to the console as the local admin (one-time link): {login}"));
    say("  Try `strata status` in another terminal; Ctrl-C stops the server.");
    if made_key && let strata_core::config::MasterKeySource::File { path, .. } = &settings.app.hub.master_key {
        say(&format!("  Made a master key for this data directory at {}; back it up apart from it.", path.display()));
    }
    serve_until_stopped(app, stop, provisioner).await
}

/// `strata serve`: the api server of an installation. Its keys and tokens
/// come from configuration, never made here, so every replica agrees.
pub async fn serve(args: ServeArgs) -> Result<(), Failure> {
    let settings = crate::commands::provisioner::settings(&args.server, args.listen.as_deref())?;
    let server = settings.app.server.clone();
    let _logging = strata_core::telemetry::init_logging(&server.log, "strata-api")?;
    let stop = strata_core::shutdown::on_signal().context("cannot listen for signals").map_err(internal)?;
    if server.needs_data_dir() {
        strata_core::config::prepare_data_dir(&server.data_dir)?;
    }
    let app = Application::build(&settings.app).await?;
    let provisioner = start_provisioner(&settings, &app, &stop)?;
    tracing::info!(
        listen = %server.listen,
        port = app.port(),
        database = %server.database.redacted(),
        object_store = %server.object_store.describe(),
        instance = %app.instance().id,
        "strata api is serving"
    );
    serve_until_stopped(app, stop, provisioner).await
}

/// The local provisioner, when the configuration has one in this process.
fn start_provisioner(
    settings: &crate::config::StrataSettings,
    app: &Application,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>, Failure> {
    match settings.provisioner.local {
        true => Ok(Some(crate::commands::provisioner::start_local(settings, app, stop.child_token())?)),
        false => Ok(None),
    }
}

/// Serves until a signal, then stops the provisioner and waits for it.
async fn serve_until_stopped(
    app: Application,
    stop: tokio_util::sync::CancellationToken,
    provisioner: Option<tokio::task::JoinHandle<()>>,
) -> Result<(), Failure> {
    app.run_until_stopped(stop.clone()).await?;
    stop.cancel();
    if let Some(provisioner) = provisioner {
        let _ = provisioner.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Where the metrics token of `strata dev` is kept, in the data directory.
const METRICS_TOKEN_FILE: &str = "metrics-token";

/// Without `metrics_token` or `metrics_listen`, `strata dev` still serves
/// metrics on its address, behind a token it makes on first start and keeps
/// in the data directory (readable by its owner only). Returns that file.
fn dev_metrics_token(settings: &mut AppSettings) -> Result<Option<std::path::PathBuf>, Failure> {
    let metrics = &mut settings.api.metrics;
    if metrics.token.is_some() || metrics.listen.is_some() {
        return Ok(None);
    }
    strata_core::config::prepare_data_dir(&settings.server.data_dir).map_err(user)?;
    let path = settings.server.data_dir.join(METRICS_TOKEN_FILE);
    let token = match std::fs::read_to_string(&path) {
        Ok(token) if token.trim().len() >= 16 => token.trim().to_owned(),
        _ => {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
            write_private(&path, &token)
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(internal)?;
            token
        }
    };
    metrics.token = Some(MetricsToken::new(&token));
    Ok(Some(path))
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

/// How to read metrics, for the start-up banner.
fn metrics_hint(app: &Application, url: &str, token_file: Option<&std::path::Path>) -> String {
    if let Some(port) = app.metrics_port() {
        return format!("http://127.0.0.1:{port}/metrics (metrics_listen)");
    }
    match token_file {
        Some(file) => format!("curl -H \"Authorization: Bearer $(cat {})\" {url}/metrics", file.display()),
        None => format!("curl -H \"Authorization: Bearer <metrics_token>\" {url}/metrics"),
    }
}

/// Creates or updates the `dev` context and makes it current. A login
/// session already in it (the local admin's from an earlier start, or one
/// of `strata auth login`) is renewed; otherwise the local admin gets a new
/// session, so the CLI works without signing up.
async fn write_dev_context(app: &Application, url: &str) -> Result<(), Failure> {
    let path = config_path().map_err(user)?;
    let mut config = CliConfig::load(&path).map_err(user)?;
    let old = config.contexts.get(DEV_CONTEXT).cloned();
    let renewed = match old.as_ref().and_then(|c| c.refresh_token.as_deref()) {
        Some(refresh) => app.hub().refresh(refresh).await.ok(),
        None => None,
    };
    let (tokens, organization) = match renewed {
        Some(tokens) => (tokens, old.and_then(|c| c.organization)),
        None => {
            let admin = app.hub().local_admin().await.map_err(internal)?;
            (app.hub().open_session(admin).await.map_err(internal)?, Some(strata_hub::LOCAL_ORG.to_owned()))
        }
    };
    let context = Context {
        endpoint: url.to_owned(),
        workspace: Some(DEFAULT_WORKSPACE.to_owned()),
        token: Some(tokens.access_token),
        organization,
        refresh_token: Some(tokens.refresh_token),
    };
    config.upsert_current(DEV_CONTEXT, context);
    config.save(&path).map_err(user)?;
    tracing::info!(path = %path.display(), "CLI context `dev` is now current");
    Ok(())
}
