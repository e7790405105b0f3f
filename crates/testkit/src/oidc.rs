//! A real OpenID provider on loopback for the single sign-on tests, and a
//! headless "person in a browser" that signs in through its login pages.
//!
//! The provider is npm's `oidc-provider` (a certified implementation) run by
//! `node tests/oidc/provider.mjs`; `scripts/oidc.sh` installs its packages.
//! Its login form checks the accounts' passwords; consent is granted without
//! asking. PKCE (S256) is required; clients authenticate with
//! `client_secret_basic`; the id_token carries `email`, `email_verified`,
//! `name` and `groups` for the scopes `email profile groups`.
//!
//! ```ignore
//! let idp = OidcProvider::start(ProviderConfig {
//!     clients: vec![Client::new("strata", "secret", "http://127.0.0.1:8080/sso/callback")],
//!     accounts: vec![Account::new("ann", "ann@example.com", "pw").with_groups(&["eng"])],
//!     keys: None,
//! })
//! .await;
//! let browser = IdpBrowser::new();
//! let outcome = browser.sign_in(&authorize_url, "ann@example.com", "pw").await.unwrap();
//! let code = outcome.param("code").unwrap();
//! let idp = idp.rotate_key().await; // same issuer, new signing key, old key still published
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regex::Regex;
use reqwest::cookie::Jar;
use reqwest::redirect::Policy;
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;
use url::Url;

/// How long the provider may take to print that it listens (node starts in
/// well under a second; this only bounds a hung start).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What to run `scripts/oidc.sh` for.
const INSTALL_HINT: &str = "run scripts/oidc.sh (it installs Node.js if needed and tests/oidc's npm packages)";

/// The provider's relying parties (OAuth clients).
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    /// Exact redirect URIs; `http://127.0.0.1:<port>/...` is accepted.
    pub redirect_uris: Vec<String>,
}

impl Client {
    /// A client with one redirect URI.
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> Client {
        Client {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: vec![redirect_uri.to_owned()],
        }
    }
}

/// A person who can sign in at the provider.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// The subject identifier (`sub`); also accepted as the login name.
    pub sub: String,
    /// The login name typed in the form, and the `email` claim.
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    /// The `groups` claim (scope `groups`).
    pub groups: Vec<String>,
    /// What the login form must be given.
    pub password: String,
}

impl Account {
    /// A verified account named after its `sub`, in no group.
    pub fn new(sub: &str, email: &str, password: &str) -> Account {
        Account {
            sub: sub.to_owned(),
            email: email.to_owned(),
            email_verified: true,
            name: sub.to_owned(),
            groups: Vec::new(),
            password: password.to_owned(),
        }
    }

    /// The same account in these groups.
    pub fn with_groups(mut self, groups: &[&str]) -> Account {
        self.groups = groups.iter().map(|group| (*group).to_owned()).collect();
        self
    }
}

/// What the provider knows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProviderConfig {
    pub clients: Vec<Client>,
    pub accounts: Vec<Account>,
    /// Private RS256 JWKs, the first one signs; `None` makes the provider
    /// generate one (read it back with [`OidcProvider::keys`]).
    pub keys: Option<Vec<Value>>,
}

/// Less common settings of the provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderOptions {
    /// Lifetime of id_tokens in seconds (default one hour). Negative: each
    /// id_token has already expired that many seconds ago when issued. Zero
    /// means the default.
    pub id_token_ttl: Option<i64>,
}

/// The provider process on `127.0.0.1`; killed when dropped.
#[derive(Debug)]
pub struct OidcProvider {
    issuer: String,
    port: u16,
    keys: Vec<Value>,
    config: ProviderConfig,
    options: ProviderOptions,
    child: Child,
    /// The provider exits when this closes (if it outlives a SIGKILL'd parent).
    _stdin: ChildStdin,
    _config_file: tempfile::NamedTempFile,
}

/// The workspace root (the testkit crate is `crates/testkit`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `node`, or what `STRATA_NODE` names.
fn node_binary() -> String {
    std::env::var("STRATA_NODE").unwrap_or_else(|_| "node".to_owned())
}

/// Panics unless `node` and the provider's npm packages are installed, so a
/// test cannot pass without having run against the provider.
fn require_installed(root: &Path) {
    let package = root.join("tests/oidc/node_modules/oidc-provider/package.json");
    assert!(
        package.is_file(),
        "the test OpenID provider's npm packages are missing ({}): {INSTALL_HINT}",
        package.display()
    );
}

/// Collects what a stream prints, for the error message of a failed start.
/// The task ends at end of file, i.e. once the process is gone.
fn drain_lines(stream: impl AsyncRead + Unpin + Send + 'static) -> (Arc<Mutex<Vec<String>>>, JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let collected = lines.clone();
    let task = tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let mut lines = collected.lock().expect("the provider's output lines");
            // The start-up warnings and the last errors are what matter.
            if lines.len() >= 200 {
                lines.remove(0);
            }
            lines.push(line);
        }
    });
    (lines, task)
}

impl OidcProvider {
    /// Starts the provider on a free port and waits until it listens.
    ///
    /// Panics (saying to run `scripts/oidc.sh`) when `node` or the npm
    /// packages are missing.
    pub async fn start(config: ProviderConfig) -> OidcProvider {
        Self::start_with_options(config, ProviderOptions::default()).await
    }

    /// [`OidcProvider::start`] with some less common settings.
    pub async fn start_with_options(config: ProviderConfig, options: ProviderOptions) -> OidcProvider {
        Self::spawn(config, options, 0).await
    }

    async fn spawn(config: ProviderConfig, options: ProviderOptions, port: u16) -> OidcProvider {
        let root = workspace_root();
        require_installed(&root);

        let mut json = serde_json::to_value(&config).expect("serialize the OpenID provider's configuration");
        if let Some(ttl) = options.id_token_ttl {
            json["id_token_ttl"] = ttl.into();
        }
        let mut config_file = tempfile::Builder::new()
            .prefix("strata-oidc-")
            .suffix(".json")
            .tempfile()
            .expect("create the OpenID provider's configuration file");
        serde_json::to_writer(&mut config_file, &json).expect("write the OpenID provider's configuration file");

        let node = node_binary();
        let mut child = Command::new(&node)
            .arg(root.join("tests/oidc/provider.mjs"))
            .arg(config_file.path())
            .arg(port.to_string())
            .current_dir(root.join("tests/oidc"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run `{node}` for the test OpenID provider ({err}): {INSTALL_HINT}"));
        let stdin = child.stdin.take().expect("the provider's stdin is piped");
        let stdout = child.stdout.take().expect("the provider's stdout is piped");
        let (stderr, stderr_task) = drain_lines(child.stderr.take().expect("the provider's stderr is piped"));

        // The provider prints one JSON line once it listens: wait for it.
        let mut stdout = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(START_TIMEOUT, stdout.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            outcome => {
                let status = match outcome {
                    Err(_) => format!("did not say it listens within {START_TIMEOUT:?}"),
                    _ => match child.wait().await {
                        Ok(status) => format!("exited ({status})"),
                        Err(err) => format!("stopped ({err})"),
                    },
                };
                let _ = child.kill().await;
                let _ = stderr_task.await;
                let output = stderr.lock().expect("the provider's output lines").join("\n");
                panic!(
                    "the test OpenID provider {status}; its stderr:\n{output}\n(if packages are missing: {INSTALL_HINT})"
                );
            }
        };
        // Nothing else is printed, but never let a full pipe block it.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });

        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|err| panic!("the test OpenID provider printed {line:?}, not its JSON ready line: {err}"));
        let issuer = ready["issuer"].as_str().expect("the ready line has the issuer").to_owned();
        let port =
            ready["port"].as_u64().and_then(|port| u16::try_from(port).ok()).expect("the ready line has the port");
        let keys = ready["keys"].as_array().expect("the ready line has the keys").clone();
        OidcProvider { issuer, port, keys, config, options, child, _stdin: stdin, _config_file: config_file }
    }

    /// `http://127.0.0.1:<port>` (no trailing slash), the `iss` of its tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The private JWKs it signs with, the first one in use; pass them (with
    /// a new key in front) to [`OidcProvider::restart_with_keys`] to rotate.
    pub fn keys(&self) -> &[Value] {
        &self.keys
    }

    /// The `kid` of the key that signs new tokens.
    pub fn signing_kid(&self) -> &str {
        self.keys[0]["kid"].as_str().expect("the provider's keys have a kid")
    }

    /// The configuration it was started with (`keys` as given).
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// How many discovery, JWKS and token requests it has served since it
    /// (re)started: what relying parties really fetched.
    pub async fn requests(&self) -> ProviderRequests {
        let url = format!("{}/_test/requests", self.issuer);
        let answer = reqwest::get(&url).await.unwrap_or_else(|err| panic!("GET {url}: {err}"));
        answer.json().await.unwrap_or_else(|err| panic!("the provider's request counts: {err}"))
    }

    /// `<issuer>/.well-known/openid-configuration`
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Stops the provider and starts it again on the same port (so with the
    /// same issuer), signing with `keys[0]` and publishing all of `keys`.
    /// Everything it held in memory (sessions, codes, grants) is gone, as is
    /// every sign-in session in an [`IdpBrowser`] (its cookies no longer
    /// verify). Panics if another process took the port meanwhile.
    pub async fn restart_with_keys(mut self, keys: Vec<Value>) -> OidcProvider {
        // Wait for the exit, which frees the port, before binding it again.
        self.child.kill().await.expect("stop the test OpenID provider");
        let mut config = self.config.clone();
        config.keys = Some(keys);
        Self::spawn(config, self.options, self.port).await
    }

    /// Key rotation: restarts with a new signing key, still publishing the
    /// keys used so far (the new key's `kid` is [`OidcProvider::signing_kid`]).
    pub async fn rotate_key(self) -> OidcProvider {
        let mut keys = vec![Self::generate_key().await];
        keys.extend(self.keys.iter().cloned());
        self.restart_with_keys(keys).await
    }

    /// A new private RS256 JWK (with a random `kid`), made by node.
    pub async fn generate_key() -> Value {
        let root = workspace_root();
        require_installed(&root);
        let node = node_binary();
        let output = Command::new(&node)
            .arg(root.join("tests/oidc/provider.mjs"))
            .arg("--generate-key")
            .current_dir(root.join("tests/oidc"))
            .output()
            .await
            .unwrap_or_else(|err| panic!("cannot run `{node}` to make a key ({err}): {INSTALL_HINT}"));
        assert!(output.status.success(), "making a key failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("provider.mjs --generate-key prints a JWK")
    }
}

/// Requests the provider served, by kind ([`OidcProvider::requests`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct ProviderRequests {
    /// `GET /.well-known/openid-configuration`
    pub discovery: u64,
    /// `GET /jwks`
    pub jwks: u64,
    /// `POST /token` (one per sign-in)
    pub token: u64,
}

/// Where [`IdpBrowser::sign_in`] left the provider: the first redirect to
/// another origin, normally the relying party's callback with `code` and
/// `state` (or `error` and `error_description`).
#[derive(Debug, Clone)]
pub struct SignInOutcome {
    pub redirect: Url,
}

impl SignInOutcome {
    /// A query parameter of the redirect (`code`, `state`, `iss`, `error`...).
    pub fn param(&self, name: &str) -> Option<String> {
        self.redirect.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    }
}

/// A headless stand-in for a person in a browser: cookies are kept, and
/// redirects are not followed automatically so each hop is visible.
///
/// [`IdpBrowser::client`] (and [`IdpBrowser::jar`]) share the cookie jar,
/// so a test can carry on at the relying party as the same "browser", e.g.
/// GET the callback URL of a [`SignInOutcome`] with the RP's state cookie.
#[derive(Debug, Clone)]
pub struct IdpBrowser {
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Default for IdpBrowser {
    fn default() -> Self {
        Self::new()
    }
}

/// How many redirects and form posts a sign-in may take.
const MAX_HOPS: usize = 20;

impl IdpBrowser {
    /// A browser with an empty cookie jar.
    pub fn new() -> IdpBrowser {
        Self::with_jar(Arc::new(Jar::default()))
    }

    /// A browser using `jar` (shared with whatever else holds it).
    pub fn with_jar(jar: Arc<Jar>) -> IdpBrowser {
        Self::build(jar, None)
    }

    /// A browser with an empty cookie jar whose requests come from
    /// `address` (a loopback one such as 127.1.0.7): another person's
    /// machine, as per-address rate limits see it.
    pub fn from_address(address: std::net::IpAddr) -> IdpBrowser {
        Self::build(Arc::new(Jar::default()), Some(address))
    }

    fn build(jar: Arc<Jar>, address: Option<std::net::IpAddr>) -> IdpBrowser {
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .local_address(address)
            .build()
            .expect("build the browser's HTTP client");
        IdpBrowser { client, jar }
    }

    /// The HTTP client: shares the cookie jar, never follows redirects.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The cookie jar.
    pub fn jar(&self) -> &Arc<Jar> {
        &self.jar
    }

    /// Opens `authorize_url` (at the provider) and signs in as a person
    /// would: follows the provider's redirects, fills the login form with
    /// `login` and `password`, submits any consent form, and stops at the
    /// first redirect that leaves the provider's origin.
    ///
    /// A refused login is `Err("login refused: ...")`; any other page that
    /// is neither a redirect nor a form is an `Err` with its status and text.
    /// If the browser is still signed in at the provider, no form is shown
    /// and the password is not checked again.
    pub async fn sign_in(&self, authorize_url: &str, login: &str, password: &str) -> Result<SignInOutcome, String> {
        let start = Url::parse(authorize_url).map_err(|err| format!("bad authorize URL {authorize_url:?}: {err}"))?;
        let origin = start.origin();
        self.walk(start, &origin, true, login, password).await
    }

    /// [`IdpBrowser::sign_in`] starting at the relying party (e.g. its
    /// "sign in with SSO" URL): redirects are followed until they reach
    /// `issuer`, then as in `sign_in`.
    pub async fn sign_in_via(
        &self,
        start_url: &str,
        issuer: &str,
        login: &str,
        password: &str,
    ) -> Result<SignInOutcome, String> {
        let start = Url::parse(start_url).map_err(|err| format!("bad start URL {start_url:?}: {err}"))?;
        let issuer = Url::parse(issuer).map_err(|err| format!("bad issuer {issuer:?}: {err}"))?;
        let at_provider = start.origin() == issuer.origin();
        self.walk(start, &issuer.origin(), at_provider, login, password).await
    }

    async fn walk(
        &self,
        start: Url,
        provider: &url::Origin,
        mut at_provider: bool,
        login: &str,
        password: &str,
    ) -> Result<SignInOutcome, String> {
        let mut url = start;
        let mut request = self.client.get(url.clone());
        let mut posted_password = false;
        for _ in 0..MAX_HOPS {
            let response = request.send().await.map_err(|err| format!("request to {url} failed: {err}"))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .ok_or_else(|| format!("{status} without a Location at {url}"))?;
                let target = url.join(location).map_err(|err| format!("bad Location {location:?} at {url}: {err}"))?;
                if target.origin() == *provider {
                    at_provider = true;
                } else if at_provider {
                    return Ok(SignInOutcome { redirect: target });
                }
                url = target;
                request = self.client.get(url.clone());
                continue;
            }
            let body = response.text().await.map_err(|err| format!("reading {url} failed: {err}"))?;
            let Some(form) = Form::find(&body) else {
                return Err(format!("{status} at {url}, not a redirect nor a form: {}", page_text(&body)));
            };
            if form.has_password() && posted_password {
                return Err(format!("login refused: {}", error_text(&body).unwrap_or_else(|| status.to_string())));
            }
            if !status.is_success() && !form.has_password() {
                return Err(format!("{status} at {url}: {}", page_text(&body)));
            }
            posted_password |= form.has_password();
            let (target, fields) = form.fill(&url, login, password)?;
            url = target;
            let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
            request = if form.method_is_post() {
                self.client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(encoded)
            } else {
                url.set_query(Some(&encoded));
                self.client.get(url.clone())
            };
        }
        Err(format!("no redirect out of the provider after {MAX_HOPS} hops (last at {url})"))
    }
}

/// The first HTML form of a page, as far as signing in needs it.
#[derive(Debug)]
struct Form {
    action: Option<String>,
    method: String,
    /// `(name, type, value)` of the inputs and named buttons, in order.
    fields: Vec<(String, String, String)>,
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid regular expression")
}

/// The attributes of one start tag, names lower-cased, values unescaped.
fn attributes(tag: &str) -> Vec<(String, String)> {
    regex(r#"([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"#)
        .captures_iter(tag.trim_start_matches(|c: char| c == '<' || c.is_alphanumeric()))
        .map(|caps| {
            let value = caps.get(2).or_else(|| caps.get(3)).or_else(|| caps.get(4)).map_or("", |m| m.as_str());
            (caps[1].to_ascii_lowercase(), unescape(value))
        })
        .collect()
}

fn attribute<'a>(attributes: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

fn unescape(text: &str) -> String {
    regex(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let entity = &caps[1];
            let code = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if entity.starts_with("#x") => u32::from_str_radix(&entity[2..], 16).ok().and_then(char::from_u32),
                _ => entity[1..].parse().ok().and_then(char::from_u32),
            };
            code.map_or_else(|| caps[0].to_owned(), String::from)
        })
        .into_owned()
}

/// A page's text without tags, shortened, for error messages.
fn page_text(html: &str) -> String {
    let text = regex(r"(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>").replace_all(html, " ");
    let text = unescape(&regex(r"\s+").replace_all(&text, " "));
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The text of the page's error message (`class="error"` or `role="alert"`).
fn error_text(html: &str) -> Option<String> {
    let caps =
        regex(r#"(?s)<(\w+)[^>]*(?:class="[^"]*\berror\b[^"]*"|role="alert")[^>]*>(.*?)</(\w+)>"#).captures(html)?;
    Some(page_text(&caps[2])).filter(|text| !text.is_empty())
}

impl Form {
    fn find(html: &str) -> Option<Form> {
        let caps = regex(r"(?is)<form\b([^>]*)>(.*?)</form>").captures(html)?;
        let form = attributes(&caps[1]);
        let mut fields = Vec::new();
        let mut seen_submit = false;
        for tag in regex(r"(?i)<(input|button)\b[^>]*>").find_iter(&caps[2]) {
            let attrs = attributes(tag.as_str());
            let is_button = tag.as_str()[1..].to_ascii_lowercase().starts_with("button");
            let kind =
                attribute(&attrs, "type").unwrap_or(if is_button { "submit" } else { "text" }).to_ascii_lowercase();
            // Like a browser: only the button clicked (the first) is sent.
            if kind == "submit" {
                if seen_submit {
                    continue;
                }
                seen_submit = true;
            }
            let Some(name) = attribute(&attrs, "name") else { continue };
            fields.push((name.to_owned(), kind, attribute(&attrs, "value").unwrap_or("").to_owned()));
        }
        Some(Form {
            action: attribute(&form, "action").map(str::to_owned),
            method: attribute(&form, "method").unwrap_or("get").to_ascii_lowercase(),
            fields,
        })
    }

    fn has_password(&self) -> bool {
        self.fields.iter().any(|(_, kind, _)| kind == "password")
    }

    fn method_is_post(&self) -> bool {
        self.method == "post"
    }

    /// The URL to send the form to and its fields: `login` goes in the first
    /// text or email input, `password` in the password input, the rest as is.
    fn fill(&self, page: &Url, login: &str, password: &str) -> Result<(Url, Vec<(String, String)>), String> {
        let target = match self.action.as_deref() {
            None | Some("") => page.clone(),
            Some(action) => page.join(action).map_err(|err| format!("bad form action {action:?} at {page}: {err}"))?,
        };
        let mut login_filled = false;
        let fields = self
            .fields
            .iter()
            .filter(|(_, kind, _)| !matches!(kind.as_str(), "checkbox" | "radio" | "reset" | "button" | "image"))
            .map(|(name, kind, value)| {
                let value = match kind.as_str() {
                    "password" => password.to_owned(),
                    "text" | "email" if !login_filled && self.has_password() => {
                        login_filled = true;
                        login.to_owned()
                    }
                    _ => value.clone(),
                };
                (name.clone(), value)
            })
            .collect();
        Ok((target, fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_login_form() {
        let html = r#"<p class="error" role="alert">Invalid &amp; wrong.</p>
            <form method="post" action="/interaction/abc/login">
            <input type="hidden" name="csrf" value="a&amp;b"><input type="text" name="login" autofocus>
            <input type="password" name="password"><button type="submit">Go</button>
            <button type="submit" name="other" value="x">No</button></form>"#;
        let form = Form::find(html).expect("a form");
        assert!(form.has_password() && form.method_is_post());
        let page = Url::parse("http://127.0.0.1:1/interaction/abc").expect("a URL");
        let (target, fields) = form.fill(&page, "ann@example.com", "pw").expect("filled");
        assert_eq!(target.as_str(), "http://127.0.0.1:1/interaction/abc/login");
        let expected = [("csrf", "a&b"), ("login", "ann@example.com"), ("password", "pw")];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        assert_eq!(fields, expected);
        assert_eq!(error_text(html).as_deref(), Some("Invalid & wrong."));
    }
}
