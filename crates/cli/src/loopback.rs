//! The CLI's side of a browser login (RFC 8252 §7.3 with RFC 7636 PKCE): a
//! verifier and its S256 challenge, a state value, opening the browser, and
//! a one-shot HTTP listener on 127.0.0.1 that takes the browser's redirect.
//!
//! The listener speaks just enough HTTP/1.1 for a browser's GET: it reads
//! the request head, looks at the request line only, and closes every
//! connection after one answer.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The path of the redirect URI the CLI registers for one login.
pub(crate) const CALLBACK_PATH: &str = "/callback";
/// How long a connection may take to send its request: browsers open spare
/// connections that never send one, and those must not hold the login up.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a request head read; a redirect's is far shorter.
const MAX_HEAD: usize = 16 * 1024;

/// A PKCE verifier and its S256 challenge. No `Debug`: the verifier is
/// what makes the code the browser carries worth anything.
pub(crate) struct Pkce {
    /// 43 base64url characters of 32 random bytes.
    pub(crate) verifier: String,
    pub(crate) challenge: String,
}

impl Pkce {
    pub(crate) fn new() -> Self {
        Self::from_verifier(random_token::<32>())
    }

    fn from_verifier(verifier: String) -> Self {
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_ref());
        Pkce { verifier, challenge }
    }
}

/// `N` random bytes (from a CSPRNG) as base64url, for states and verifiers.
pub(crate) fn random_token<const N: usize>() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; N]>())
}

/// Starts a browser on `url`: the program `$BROWSER` names, else the
/// desktop's opener. Callers print the URL as well, so a failure here only
/// means the person opens it themselves.
pub(crate) fn open_browser(url: &str) -> anyhow::Result<()> {
    let default = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let program = std::env::var_os("BROWSER").filter(|b| !b.is_empty()).unwrap_or_else(|| default.into());
    // tokio reaps the child when it exits; the login does not wait for it.
    tokio::process::Command::new(&program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start the browser `{}`", program.to_string_lossy()))?;
    Ok(())
}

/// The browser's redirect with its one-time code. The browser waits for an
/// answer until [`Callback::answer`], so that the page it shows says how
/// the login really ended.
#[derive(Debug)]
pub(crate) struct Callback {
    pub(crate) code: String,
    reply: TcpStream,
}

impl Callback {
    /// Shows the browser whether the login worked: `Ok(email)` or `Err(why)`.
    pub(crate) async fn answer(mut self, outcome: Result<&str, &str>) {
        let (status, body) = match outcome {
            Ok(email) => (200, success_page(email)),
            Err(why) => (400, error_page(why)),
        };
        respond(&mut self.reply, status, &body).await;
    }
}

/// What one request to the listener turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum Incoming {
    /// Not the redirect (a favicon, a stray visit): answer with this status.
    Other(u16),
    /// The redirect, but the login cannot go on.
    Refused(String),
    /// The redirect with its code.
    Code(String),
}

/// Waits on `listener` for the browser's redirect to [`CALLBACK_PATH`]
/// carrying `state`. Other requests get an error status and the wait goes
/// on; a redirect of another login, or one carrying an error, ends it.
/// Connections are read side by side, so an idle one blocks nothing.
pub(crate) async fn accept_redirect(listener: &TcpListener, state: &str) -> anyhow::Result<Callback> {
    let mut reading = FuturesUnordered::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted.context("cannot accept the browser's connection")?;
                reading.push(read_request_line(stream));
            }
            Some((mut stream, line)) = reading.next() => match classify(line.as_deref(), state) {
                Incoming::Other(status) => respond(&mut stream, status, &error_page("This is not a Strata login.")).await,
                Incoming::Refused(why) => {
                    respond(&mut stream, 400, &error_page(&why)).await;
                    bail!(why);
                }
                Incoming::Code(code) => return Ok(Callback { code, reply: stream }),
            },
        }
    }
}

/// Reads a request's head and answers its request line, or `None` when the
/// connection sent none in time.
async fn read_request_line(mut stream: TcpStream) -> (TcpStream, Option<String>) {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await;
    let line = match head {
        Ok(Ok(head)) => String::from_utf8_lossy(&head).lines().next().map(str::to_owned),
        Ok(Err(_)) | Err(_) => None,
    };
    (stream, line)
}

/// The bytes up to the blank line after the headers. Reading them all, not
/// just the request line, matters: closing a socket with unread bytes
/// resets the connection and the browser would show an error page instead
/// of the answer.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buffer = [0_u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(head)
}

/// Decides what a request line means for the login waiting with `state`.
fn classify(line: Option<&str>, state: &str) -> Incoming {
    let Some(line) = line else { return Incoming::Other(400) };
    let mut parts = line.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else { return Incoming::Other(400) };
    if method != "GET" {
        return Incoming::Other(405);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != CALLBACK_PATH {
        return Incoming::Other(404);
    }
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if params.get("state").map(String::as_str) != Some(state) {
        // Someone else's redirect (or a forged one): its code must not be
        // redeemed as this login.
        return Incoming::Refused(
            "the browser came back from another login attempt (its state does not match); run `strata auth login --sso` again"
                .to_owned(),
        );
    }
    if let Some(error) = params.get("error") {
        let description = params.get("error_description").map_or("no description", String::as_str);
        return Incoming::Refused(format!("the sign-in failed ({error}: {description})"));
    }
    match params.get("code") {
        Some(code) if !code.is_empty() => Incoming::Code(code.clone()),
        _ => {
            Incoming::Refused("the browser came back without a login code; run `strata auth login --sso` again".into())
        }
    }
}

/// Writes a whole answer and closes the connection. Errors are ignored:
/// the browser's tab is all that would miss the page, and the terminal
/// says how the login ended.
async fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn success_page(email: &str) -> String {
    page(
        "You are logged in",
        &[&format!("Logged in as {email}."), "You can close this tab and go back to the terminal."],
    )
}

fn error_page(why: &str) -> String {
    page("Login failed", &[why, "The terminal says what to do next."])
}

fn page(title: &str, paragraphs: &[&str]) -> String {
    let text: String = paragraphs.iter().map(|p| format!("<p>{}</p>", escape(p))).collect();
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Strata: {title}</title></head>\
         <body style=\"font-family: system-ui, sans-serif; margin: 4em auto; max-width: 36em\">\
         <h1>{title}</h1>{text}</body></html>\n",
        title = escape(title)
    )
}

/// Text as HTML: what the identity provider put in an error must not
/// become markup in the page.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn listener() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        (listener, format!("http://127.0.0.1:{port}"))
    }

    #[test]
    fn the_challenge_is_the_s256_of_the_verifier_as_in_rfc_7636() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
        assert_eq!(pkce.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let fresh = Pkce::new();
        assert_eq!(fresh.verifier.len(), 43);
        assert!(fresh.verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(fresh.verifier, Pkce::new().verifier);
    }

    #[tokio::test]
    async fn the_redirect_gives_its_code_and_the_browser_hears_the_outcome() {
        let (listener, base) = listener().await;
        let waiting = tokio::spawn(async move {
            let callback = accept_redirect(&listener, "st-1").await.expect("the redirect");
            let code = callback.code.clone();
            callback.answer(Ok("ada@acme.example")).await;
            code
        });
        let http = reqwest::Client::new();
        let stray = http.get(format!("{base}/favicon.ico")).send().await.expect("favicon");
        assert_eq!(stray.status(), 404);
        let page = http.get(format!("{base}/callback?code=c0de&state=st-1")).send().await.expect("redirect");
        assert_eq!(page.status(), 200);
        let text = page.text().await.expect("page");
        assert!(text.contains("You are logged in") && text.contains("ada@acme.example"), "{text}");
        assert_eq!(waiting.await.expect("task"), "c0de");
    }

    #[tokio::test]
    async fn a_redirect_of_another_login_ends_the_wait_without_its_code() {
        let (listener, base) = listener().await;
        let waiting = tokio::spawn(async move { accept_redirect(&listener, "mine").await.map(|c| c.code) });
        let page = reqwest::get(format!("{base}/callback?code=stolen&state=theirs")).await.expect("redirect");
        assert_eq!(page.status(), 400);
        assert!(page.text().await.expect("page").contains("another login attempt"));
        let error = waiting.await.expect("task").expect_err("refused");
        assert!(error.to_string().contains("state does not match"), "{error}");
    }

    #[tokio::test]
    async fn an_idle_connection_does_not_hold_up_the_redirect() {
        let (listener, base) = listener().await;
        let waiting = tokio::spawn(async move {
            let callback = accept_redirect(&listener, "s").await.expect("the redirect");
            let code = callback.code.clone();
            callback.answer(Err("the server refused the code")).await;
            code
        });
        // Like a browser's spare connection: connected, never sending.
        let _idle = TcpStream::connect(base.trim_start_matches("http://")).await.expect("connect");
        let page = reqwest::get(format!("{base}/callback?state=s&code=k")).await.expect("redirect");
        assert_eq!(page.status(), 400);
        assert!(page.text().await.expect("page").contains("the server refused the code"));
        assert_eq!(waiting.await.expect("task"), "k");
    }

    #[test]
    fn requests_are_sorted_into_redirects_errors_and_strays() {
        assert_eq!(classify(Some("GET /callback?state=s&code=x%2By HTTP/1.1"), "s"), Incoming::Code("x+y".into()));
        assert_eq!(classify(Some("POST /callback?state=s&code=x HTTP/1.1"), "s"), Incoming::Other(405));
        assert_eq!(classify(Some("GET / HTTP/1.1"), "s"), Incoming::Other(404));
        assert_eq!(classify(None, "s"), Incoming::Other(400));
        let Incoming::Refused(why) = classify(Some("GET /callback?state=s&error=access_denied HTTP/1.1"), "s") else {
            panic!("an error ends the login");
        };
        assert!(why.contains("access_denied"), "{why}");
        assert!(matches!(classify(Some("GET /callback?state=s HTTP/1.1"), "s"), Incoming::Refused(_)));
    }

    #[test]
    fn error_text_cannot_become_markup() {
        let page = error_page("<script>alert('x')</script> & more");
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"), "{page}");
    }
}
