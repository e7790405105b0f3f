//! `strata dev`: the whole product in one process.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::Context as _;
use strata_api::Application;

use crate::cli::DevArgs;
use crate::context::{CliConfig, Context, config_path};
use crate::failure::{Failure, internal, user};
use crate::output::say;

/// The context `strata dev` writes and selects.
const DEV_CONTEXT: &str = "dev";
/// The workspace every CLI command uses by default against `strata dev`.
const DEFAULT_WORKSPACE: &str = "default";

/// Loads configuration, starts every service and serves until SIGINT/SIGTERM.
pub async fn run(args: DevArgs) -> Result<(), Failure> {
    let settings = crate::commands::provisioner::settings(&args.server, args.listen.clone())?;
    let _logging = strata_core::telemetry::init_logging(&settings.log)?;
    // Handle signals from here on: one sent as soon as the URL is printed
    // must stop the server gracefully, not kill it.
    let stop = strata_core::shutdown::on_signal().context("cannot listen for signals").map_err(internal)?;
    // First start: a master key of its own, in the data directory (0700 and
    // 0600, so only this user reads it), reused on every later start.
    strata_core::config::prepare_data_dir(&settings.data_dir)?;
    let made_key = settings.master_key.create_default_if_missing()?;
    let app = Application::build(&settings).await?;
    let provisioner = match settings.provisioner.local {
        true => Some(crate::commands::provisioner::start_local(&settings, &app, stop.child_token())?),
        false => None,
    };
    let url = local_url(settings.listen, app.port());
    tracing::info!(
        %url,
        database = %settings.database.redacted(),
        object_store = %settings.object_store.describe(),
        instance = %app.instance().id,
        "strata dev is ready"
    );
    if !args.no_context {
        write_dev_context(&app, &url).await?;
    }
    let login = app.hub().local_admin_login_link().await.map_err(internal)?;
    say(&format!("Strata is running at {url}"));
    say(&format!("  GraphQL:  {url}/graphql    metrics: {url}/metrics"));
    say(&format!("  Log in to the console as the local admin (one-time link): {login}"));
    say("  Try `strata status` in another terminal; Ctrl-C stops the server.");
    if made_key && let strata_core::config::MasterKeySource::File { path, .. } = &settings.master_key {
        say(&format!("  Made a master key for this data directory at {}; back it up apart from it.", path.display()));
    }
    app.run_until_stopped(stop.clone()).await?;
    stop.cancel();
    if let Some(provisioner) = provisioner {
        let _ = provisioner.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The URL clients on this machine should use: a wildcard listen address is
/// reached through loopback.
fn local_url(listen: SocketAddr, port: u16) -> String {
    let host = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(host, port))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listen_address_is_reached_through_loopback() {
        let any: SocketAddr = "0.0.0.0:0".parse().expect("addr");
        assert_eq!(local_url(any, 8080), "http://127.0.0.1:8080");
        let loopback6: SocketAddr = "[::1]:0".parse().expect("addr");
        assert_eq!(local_url(loopback6, 9), "http://[::1]:9");
    }
}
