//! `strata auth login`: with a password, through the organisation's
//! identity provider in a browser that comes back to a listener on
//! 127.0.0.1 (`--sso`), or with a code approved in a browser elsewhere
//! (`--device`). Every way ends alike: the session's access and refresh
//! tokens go into the CLI context, where `session::connect` renews them.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use strata_client::StrataClient;
use strata_client::hub::Viewer;
use strata_client::sso::{CliSession, DevicePoll, LoopbackReturn, SsoRealm};
use tokio::net::TcpListener;

use crate::cli::{GlobalArgs, LoginArgs};
use crate::context::{CliConfig, config_path, resolve_target};
use crate::failure::{Failure, internal, user};
use crate::loopback::{self, CALLBACK_PATH, Pkce};
use crate::output::{note, print_record};
use crate::session::save_tokens;

/// How long `--sso` waits for the browser unless told otherwise.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);
/// RFC 8628 §3.5: each `slow_down` adds five seconds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// A session just obtained, whichever way.
struct NewSession {
    access: String,
    refresh: String,
    /// Who it is, when the login said so already.
    user: Option<Viewer>,
}

pub async fn login(global: &GlobalArgs, args: LoginArgs) -> Result<(), Failure> {
    let target = resolve_target(global.endpoint.as_deref(), global.context.as_deref()).map_err(user)?;
    // Without the context's credentials: logging in needs none, and a
    // session that ended (whose renewal would fail) must not stand in the way.
    let client = StrataClient::new(&target.endpoint)?;
    let session = match (args.sso, args.device) {
        (_, true) => device_login(global, &client, args.timeout).await?,
        (true, false) => browser_login(global, &client, &args).await?,
        (false, false) => password_login(&client, &args).await?,
    };
    let context = target.context_name.clone().unwrap_or_else(|| "default".to_owned());
    store_login(&context, &target.endpoint, &session, args.org.as_deref()).map_err(user)?;
    let viewer = match session.user {
        Some(user) => user,
        None => client.with_token(session.access).viewer().await?,
    };
    print_record(global.output, &viewer, &[("logged in as", viewer.email.clone()), ("context", context)])
        .map_err(internal)
}

async fn password_login(client: &StrataClient, args: &LoginArgs) -> Result<NewSession, Failure> {
    // clap requires --email without --sso and --device.
    let email = args.email.as_deref().ok_or_else(|| user(anyhow!("pass --email ADDR to log in with a password")))?;
    let secret = super::hub::password(&args.password)?;
    let session = client.log_in(email, &secret).await?;
    Ok(NewSession { access: session.access_token, refresh: session.refresh_token, user: Some(session.user) })
}

impl From<CliSession> for NewSession {
    fn from(session: CliSession) -> Self {
        NewSession { access: session.access_token, refresh: session.refresh_token, user: None }
    }
}

/// The loopback login (RFC 8252): the browser signs in at the identity
/// provider and brings a one-time code back to a listener here, which only
/// this process can redeem, with its PKCE verifier.
async fn browser_login(global: &GlobalArgs, client: &StrataClient, args: &LoginArgs) -> Result<NewSession, Failure> {
    let realm = sso_realm(client, args).await?;
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("cannot listen on 127.0.0.1 for the browser's answer")
        .map_err(internal)?;
    let port = listener.local_addr().context("cannot read the listener's port").map_err(internal)?.port();
    let redirect = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");
    let (pkce, state) = (Pkce::new(), loopback::random_token::<16>());
    let back = LoopbackReturn { redirect: &redirect, challenge: &pkce.challenge, state: &state };
    let url = client.sso_start_url(&realm, back)?;
    // Printed whatever happens next: over SSH or without a desktop no
    // browser opens, and the person copies the URL instead.
    note(&format!("Open this URL to log in: {url}"));
    if let Err(error) = loopback::open_browser(url.as_str()) {
        note(&format!("({error:#}: open the URL yourself)"));
    }
    let limit = args.timeout.map_or(BROWSER_TIMEOUT, Duration::from_secs);
    let spinner = Spinner::start(global, "Waiting for the browser (if it shows an error, press Ctrl-C)");
    let callback = tokio::time::timeout(limit, loopback::accept_redirect(&listener, &state))
        .await
        .map_err(|_| {
            user(anyhow!(
                "no login came back from the browser within {} s; run `strata auth login --sso` again \
                 (--timeout SECS waits longer)",
                limit.as_secs()
            ))
        })?
        .map_err(user)?;
    drop(spinner);
    match client.redeem_loopback_code(&callback.code, &pkce.verifier).await {
        Ok(session) => {
            callback.answer(Ok(&session.email)).await;
            Ok(session.into())
        }
        Err(error) => {
            callback.answer(Err(&error.to_string())).await;
            Err(error.into())
        }
    }
}

/// Whose identity provider `--sso` uses: `--org`, else the organisation
/// that verified the domain of `--email` (asked for when missing).
async fn sso_realm(client: &StrataClient, args: &LoginArgs) -> Result<SsoRealm, Failure> {
    if let Some(org) = &args.org {
        return Ok(SsoRealm::Org(org.clone()));
    }
    let email = match &args.email {
        Some(email) => email.clone(),
        None => ask_email()?,
    };
    if !client.sso_discover(&email).await? {
        return Err(user(anyhow!(
            "no organisation signs `{email}` in with single sign-on (none verified its domain for SSO); \
             pass --org SLUG, or log in with a password: `strata auth login --email {email}`"
        )));
    }
    Ok(SsoRealm::Email(email))
}

/// Asks for the email on a terminal; elsewhere says which flag is missing.
fn ask_email() -> Result<String, Failure> {
    let missing = || user(anyhow!("whose single sign-on? pass --email ADDR (or --org SLUG)"));
    if !std::io::stdin().is_terminal() {
        return Err(missing());
    }
    let mut stderr = std::io::stderr();
    write!(stderr, "Email: ").and_then(|()| stderr.flush()).map_err(|_| missing())?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the email").map_err(user)?;
    let email = line.trim();
    if email.is_empty() { Err(missing()) } else { Ok(email.to_owned()) }
}

/// The device login (RFC 8628): a code for a person to approve in any
/// browser where they are logged in, polled for until approved.
async fn device_login(global: &GlobalArgs, client: &StrataClient, timeout: Option<u64>) -> Result<NewSession, Failure> {
    let started = client.start_device_login().await?;
    note(&format!("Open {} and enter the code {}", started.verification_uri, started.user_code));
    if let Some(complete) = &started.verification_uri_complete {
        note(&format!("(or open {complete}, which has the code filled in)"));
    }
    let limit = Duration::from_secs(timeout.unwrap_or(started.expires_in));
    let deadline = Instant::now() + limit;
    let mut interval = Duration::from_secs(started.interval.max(1));
    let _spinner = Spinner::start(global, "Waiting for the code to be approved (Ctrl-C to give up)");
    loop {
        if Instant::now() + interval > deadline {
            return Err(user(anyhow!(
                "nobody approved the code within {} s; run `strata auth login --device` again",
                limit.as_secs()
            )));
        }
        // The RFC's polling interval, not synchronisation: the server
        // answers `slow_down` to faster polls.
        tokio::time::sleep(interval).await;
        match client.poll_device_login(&started.device_code).await? {
            DevicePoll::Pending => {}
            DevicePoll::SlowDown => interval += SLOW_DOWN_STEP,
            DevicePoll::Approved(session) => return Ok((*session).into()),
            DevicePoll::Expired(why) => return Err(user(anyhow!("{why}"))),
            DevicePoll::Denied(why) => return Err(user(anyhow!("the login was refused: {why}"))),
        }
    }
}

/// A spinner on stderr while a person acts in the browser, when stderr is
/// a terminal; it disappears when dropped, whatever the outcome.
struct Spinner(indicatif::ProgressBar);

impl Spinner {
    fn start(global: &GlobalArgs, message: &str) -> Self {
        if global.quiet || !std::io::stderr().is_terminal() {
            return Spinner(indicatif::ProgressBar::hidden());
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner(bar)
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// Saves a login in `context` (creating it for `endpoint` if needed) and
/// makes it current; `organization`, when given, becomes its default.
fn store_login(context: &str, endpoint: &str, session: &NewSession, organization: Option<&str>) -> anyhow::Result<()> {
    let path = config_path()?;
    let mut config = CliConfig::load(&path)?;
    let mut entry = config.contexts.get(context).cloned().unwrap_or(crate::context::Context {
        endpoint: endpoint.to_owned(),
        workspace: None,
        token: None,
        organization: None,
        refresh_token: None,
    });
    entry.endpoint = endpoint.to_owned();
    if let Some(org) = organization {
        entry.organization = Some(org.to_owned());
    }
    config.upsert_current(context, entry);
    config.save(&path)?;
    save_tokens(Some(context), &session.access, &session.refresh)
}
