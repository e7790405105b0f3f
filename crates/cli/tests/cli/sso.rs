//! Single sign-on through the `strata` binary: an admin's settings (the
//! client secret goes in and never comes out), domains, and the device
//! login a headless CLI uses. The loopback login needs a real identity
//! provider and is tested with one elsewhere; its listener has unit tests.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use nix::sys::signal::Signal;
use serde_json::Value;
use strata_client::StrataClient;

use crate::support::{Sandbox, assert_user_error, json, mailed_token, ok, stderr, with_stdin_line};

#[test]
fn the_client_secret_goes_in_from_stdin_and_never_comes_out() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);
    let secret = "client-secret-that-stays-hidden-7";
    let configure = ["org", "sso", "configure", "--issuer", "https://idp.example.com", "--client-id", "strata"];
    assert_user_error(&sandbox.run(&configure), &["--client-secret-stdin", "--client-secret-file"]);
    let as_flag = sandbox.run(&["org", "sso", "configure", "--client-secret", secret]);
    assert_eq!(as_flag.status.code(), Some(2), "no flag takes the secret: {}", stderr(&as_flag));

    let mut with_secret = configure.to_vec();
    with_secret.extend(["--client-secret-stdin", "-o", "json"]);
    let configured = with_stdin_line(&sandbox, &with_secret, secret);
    assert_eq!(configured.status.code(), Some(0), "{}", stderr(&configured));
    let connection: Value = serde_json::from_slice(&configured.stdout).expect("json");
    assert!(connection["redirectUri"].as_str().expect("redirect URI").ends_with("/auth/sso/callback"));
    assert_eq!(connection["scopes"], serde_json::json!(["email", "profile", "groups"]));

    // One flag changes one thing: the client id, other claims and the secret stay.
    let changed = json(&sandbox, &["org", "sso", "configure", "--groups-claim", "roles"]);
    assert_eq!((changed["clientId"].as_str(), changed["groupsClaim"].as_str()), (Some("strata"), Some("roles")));
    assert_eq!(changed["emailClaim"], "email");

    ok(&sandbox, &["org", "sso", "map", "strata-admins", "--role", "admin"]);
    ok(&sandbox, &["org", "sso", "require", "on"]);
    let shown = json(&sandbox, &["org", "sso", "show"]);
    assert_eq!(shown["ssoRequired"], true);
    assert_eq!(shown["ssoConnection"]["issuer"], "https://idp.example.com");
    assert_eq!(shown["groupMappings"][0]["group"], "strata-admins");
    assert_eq!(shown["groupMappings"][0]["orgRole"], "ADMIN");
    let table = ok(&sandbox, &["org", "sso", "show"]);
    assert!(table.contains("sso required  on") && table.contains("strata-admins"), "{table}");
    let config = std::fs::read_to_string(sandbox.cli_config()).expect("CLI config");
    for (what, text) in [("JSON", shown.to_string()), ("table", table), ("CLI config", config)] {
        assert!(!text.contains(secret), "the secret shows in the {what}");
    }

    let scim = json(&sandbox, &["org", "sso", "scim-token"]);
    assert!(!scim["token"].as_str().expect("token").is_empty());
    assert!(scim["baseUrl"].as_str().expect("base URL").ends_with("/scim/v2/local"), "{scim}");

    ok(&sandbox, &["org", "sso", "require", "off"]);
    ok(&sandbox, &["org", "sso", "unmap", "strata-admins"]);
    ok(&sandbox, &["org", "sso", "remove"]);
    let gone = json(&sandbox, &["org", "sso", "show"]);
    assert_eq!((gone["ssoConnection"].clone(), gone["groupMappings"].clone()), (Value::Null, serde_json::json!([])));
    server.stop_with(Signal::SIGTERM);
    let log = std::fs::read_to_string(sandbox.dir.path().join("dev.log")).expect("server log");
    assert!(!log.contains(secret), "the secret shows in the server log");
}

#[test]
fn claiming_a_domain_prints_the_txt_record_to_publish() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);
    let printed = ok(&sandbox, &["org", "sso", "domain", "add", "Acme.Example"]);
    let shown = json(&sandbox, &["org", "sso", "show"]);
    let domain = &shown["domains"][0];
    assert_eq!((domain["domain"].as_str(), domain["verified"].as_bool()), (Some("acme.example"), Some(false)));
    for field in ["recordName", "recordValue"] {
        let value = domain[field].as_str().expect(field);
        assert!(!value.is_empty() && printed.contains(value), "{field} `{value}` missing in:\n{printed}");
    }
    assert!(printed.contains("txt name") && printed.contains("strata org sso domain verify acme.example"), "{printed}");
    assert_user_error(&sandbox.run(&["org", "sso", "domain", "add", "acme.example"]), &["claimed already"]);
    ok(&sandbox, &["org", "sso", "domain", "remove", "acme.example"]);
    assert_eq!(json(&sandbox, &["org", "sso", "show"])["domains"], serde_json::json!([]));
    server.stop_with(Signal::SIGTERM);
}

#[test]
fn browser_logins_refuse_password_flags_and_say_what_they_need() {
    let sandbox = Sandbox::new();
    for args in [
        &["auth", "login", "--sso", "--org", "acme", "--password-stdin"][..],
        &["auth", "login", "--device", "--email", "ada@example.com"],
        &["auth", "login", "--org", "acme"],
        &["auth", "login"],
    ] {
        let refused = sandbox.run(args);
        assert_eq!(refused.status.code(), Some(2), "{args:?} is a usage error: {}", stderr(&refused));
    }
    // Stdin is no terminal here, so nothing prompts: the error names the flag.
    assert_user_error(&sandbox.run(&["auth", "login", "--sso"]), &["--email ADDR", "--org SLUG"]);

    let server = sandbox.start_dev(&[]);
    let unknown = sandbox.run(&["auth", "login", "--sso", "--email", "ada@nobody.example"]);
    assert_user_error(&unknown, &["no organisation", "--org SLUG", "strata auth login --email ada@nobody.example"]);
    server.stop_with(Signal::SIGTERM);
}

#[test]
fn a_device_login_approved_in_a_browser_session_logs_the_cli_in() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);
    let (email, password) = ("dora@example.com", "a long passphrase 42");
    let signed = with_stdin_line(&sandbox, &["auth", "signup", "--email", email, "--password-stdin"], password);
    assert_eq!(signed.status.code(), Some(0), "{}", stderr(&signed));
    ok(&sandbox, &["auth", "verify", &mailed_token(&sandbox, email)]);

    let mut cli = sandbox
        .command(&["auth", "login", "--device", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strata auth login --device");
    let mut notes = BufReader::new(cli.stderr.take().expect("stderr"));
    let mut shown = String::new();
    let code = loop {
        let mut line = String::new();
        assert_ne!(notes.read_line(&mut line).expect("read stderr"), 0, "no code before exit: {shown}");
        shown.push_str(&line);
        if line.contains("enter the code") {
            break line.split_whitespace().last().expect("the code").to_owned();
        }
    };
    assert!(shown.contains("/device"), "the verification URI: {shown}");
    // Read the rest while the CLI polls, so it never blocks on a full pipe.
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = notes.read_to_string(&mut text);
        text
    });

    // The person, logged in elsewhere with a browser session, approves.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let session = StrataClient::new(&server.url).expect("client").log_in(email, password).await.expect("log in");
        let browser = StrataClient::new(&server.url).expect("client").with_token(session.access_token);
        browser.approve_device_login(&code).await.expect("approve");
        let again = browser.approve_device_login(&code).await.expect_err("a code is approved once");
        assert!(again.to_string().contains("no login waits for this code"), "{again}");
    });

    let output = cli.wait_with_output().expect("wait for the CLI");
    let rest = rest.join().expect("stderr reader");
    assert_eq!(output.status.code(), Some(0), "stderr: {shown}{rest}");
    let printed: Value = serde_json::from_slice(&output.stdout).expect("stdout is the JSON result only");
    assert_eq!(printed["email"], email);
    assert_eq!(json(&sandbox, &["auth", "whoami"])["email"], email);
    server.stop_with(Signal::SIGTERM);
}

/// `strata auth login --sso` end to end against a real OpenID provider:
/// the CLI prints the URL, a browser (here the test's stand-in) signs in
/// at the provider's login page, the server hands the login to the CLI's
/// loopback listener, and the CLI is logged in as the new person.
#[test]
fn auth_login_sso_signs_in_through_the_provider_by_loopback() {
    use strata_testkit::oidc::{Account, Client, IdpBrowser, OidcProvider, ProviderConfig};
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dns = runtime.block_on(strata_testkit::dns::TestDns::start());
    let sandbox = Sandbox::new();
    let dns_server = dns.addr().to_string();
    let env = [("STRATA_SSO_ISSUERS", "any"), ("STRATA_SSO_DNS_SERVER", dns_server.as_str())];
    let server = sandbox.start_dev_with_env(&[], &env);
    let secret = "the provider's secret for strata";
    let idp = runtime.block_on(OidcProvider::start(ProviderConfig {
        clients: vec![Client::new("strata", secret, &format!("{}/auth/sso/callback", server.url))],
        accounts: vec![Account::new("ada-1", "ada@acme.test", "ada's password")],
        keys: None,
    }));
    let configure =
        ["org", "sso", "configure", "--issuer", idp.issuer(), "--client-id", "strata", "--client-secret-stdin"];
    let configured = with_stdin_line(&sandbox, &configure, secret);
    assert_eq!(configured.status.code(), Some(0), "{}", stderr(&configured));
    let domain = json(&sandbox, &["org", "sso", "domain", "add", "acme.test"]);
    let (name, value) = (domain["recordName"].as_str().expect("name"), domain["recordValue"].as_str().expect("value"));
    dns.set_txt(name, vec![value.to_owned()]);
    ok(&sandbox, &["org", "sso", "domain", "verify", "acme.test"]);

    let mut cli = sandbox
        .command(&["auth", "login", "--sso", "--email", "ada@acme.test", "-o", "json"])
        .env("BROWSER", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strata auth login --sso");
    let mut notes = BufReader::new(cli.stderr.take().expect("stderr"));
    let url = loop {
        let mut line = String::new();
        assert_ne!(notes.read_line(&mut line).expect("read stderr"), 0, "the CLI ended without a URL");
        if let Some(url) = line.trim().strip_prefix("Open this URL to log in: ") {
            break url.to_owned();
        }
    };
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = notes.read_to_string(&mut rest);
        rest
    });
    runtime.block_on(async {
        let browser = IdpBrowser::new();
        let outcome =
            browser.sign_in_via(&url, idp.issuer(), "ada@acme.test", "ada's password").await.expect("sign in");
        let back = browser.client().get(outcome.redirect.clone()).send().await.expect("the callback");
        let loopback = back.headers()["location"].to_str().expect("a redirect").to_owned();
        assert!(loopback.starts_with("http://127.0.0.1:"), "to the CLI's listener: {loopback}");
        let page = browser.client().get(&loopback).send().await.expect("the CLI's page").text().await.expect("text");
        assert!(page.contains("logged in"), "{page}");
    });
    let output = cli.wait_with_output().expect("wait for the CLI");
    let rest = rest.join().expect("stderr reader");
    assert_eq!(output.status.code(), Some(0), "stderr: {rest}");
    let me = json(&sandbox, &["auth", "whoami"]);
    assert!(me.to_string().contains("ada@acme.test"), "{me}");
}
