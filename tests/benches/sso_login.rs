//! Single sign-on login latency, as a person sees it: from "Continue with
//! single sign-on" to a Strata session, through the test OpenID provider
//! (npm `oidc-provider`, tests/oidc) and its login page, against the real
//! application on PostgreSQL. Logins run one at a time, each in a fresh
//! browser (no provider session), so each one shows the provider's login
//! page and posts the password; each person signs in from a loopback
//! address of their own (127.1.x.y), as people on their own machines do. `LOGINS` people sign in for the first time
//! (their account is made, they join the organisation and the team their
//! group maps to), then each signs in again.
//!
//! Each login is split into Strata's share (`GET /auth/sso/start`, then the
//! callback: code redeemed at the provider's token endpoint, id_token
//! verified, groups applied, session issued) and the provider's (its
//! authorize endpoint, login page, password check and consent). The floor
//! is one request to each on the same machine (`GET /healthz`, the
//! provider's discovery document).
//!
//! Exits non-zero when a login fails, ends anywhere but a session, or the
//! relying party fetched discovery or keys more than once.
//!
//!   cargo bench -p strata-e2e --bench sso_login            # LOGINS=100
//!   LOGINS=20 cargo bench -p strata-e2e --bench sso_login

#![allow(clippy::print_stdout, reason = "a benchmark's report is its output")]

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use strata_testkit::dns::TestDns;
use strata_testkit::oidc::{Account, Client, IdpBrowser, OidcProvider, ProviderConfig};
use strata_testkit::{Backend, TestApp, TestOptions};
use support::{env, quantile_ms};

const SECRET: &str = "the provider's secret for strata";
const PASSWORD: &str = "a person's password at the provider";

/// One login's time, split by who spent it.
struct Login {
    strata: Duration,
    provider: Duration,
    total: Duration,
}

fn email(n: usize) -> String {
    format!("person{n}@bench.test")
}

/// SSO for the local organisation through `idp`, `bench.test` verified, the
/// group `eng` mapped to a team that is a writer of workspace `default`.
async fn set_up(app: &TestApp, dns: &TestDns, idp: &OidcProvider) {
    let configure = "mutation($input: ConfigureSsoInput!) { configureSso(input: $input) { connection { issuer } } }";
    let connection =
        json!({ "organization": "local", "issuer": idp.issuer(), "clientId": "strata", "clientSecret": SECRET });
    app.admin_graphql(configure, connection).await;
    app.verify_local_domain(dns, "bench.test").await;
    let team = "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { slug } } }";
    app.admin_graphql(team, json!({ "organization": "local", "slug": "engineering" })).await;
    let map = "mutation($input: SetGroupMappingInput!) { setGroupMapping(input: $input) { ok } }";
    app.admin_graphql(map, json!({ "organization": "local", "group": "eng", "team": "engineering" })).await;
    let bind = "mutation($input: SetTeamRoleBindingInput!) { setTeamRoleBinding(input: $input) { ok } }";
    let binding = json!({ "organization": "local", "workspace": "default", "team": "engineering", "role": "WRITER" });
    app.admin_graphql(bind, binding).await;
}

/// The loopback address person `n` signs in from: each person is on a
/// machine of their own, as the per-address limits on starting a login
/// (30 a minute) expect of real people.
fn machine_of(n: usize) -> std::net::IpAddr {
    let [_, _, high, low] = u32::try_from(n + 1).expect("fewer people than addresses").to_be_bytes();
    std::net::IpAddr::from([127, 1, high, low])
}

/// One login of person `n` in a fresh browser; panics unless it ends in a session.
async fn log_in(app: &TestApp, n: usize) -> Login {
    let person = &email(n);
    let browser = IdpBrowser::from_address(machine_of(n));
    let http = browser.client();
    let start = format!("{}/auth/sso/start?email={}&return_to=%2F", app.address, person.replace('@', "%40"));
    let began = Instant::now();
    let started = http.get(&start).send().await.expect("GET /auth/sso/start");
    assert_eq!(started.status(), 303, "the start redirects to the provider");
    let authorize = started.headers()["location"].to_str().expect("a Location").to_owned();
    let at_provider = Instant::now();
    let outcome = browser.sign_in(&authorize, person, PASSWORD).await.unwrap_or_else(|e| panic!("{person}: {e}"));
    let back_at_strata = Instant::now();
    let callback = http.get(outcome.redirect.clone()).send().await.expect("GET the callback");
    let ended = Instant::now();
    let location = callback.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!((callback.status().as_u16(), location), (303, "/"), "{person} lands on the console");
    let session = callback.headers().get_all("set-cookie").iter().any(|c| c.as_bytes().starts_with(b"strata_refresh="));
    assert!(session, "{person} gets a session");
    Login {
        strata: (at_provider - began) + (ended - back_at_strata),
        provider: back_at_strata - at_provider,
        total: ended - began,
    }
}

/// The time of `count` sequential requests to `url`, one each.
async fn floor(url: &str, count: usize) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let began = Instant::now();
        let answer = http.get(url).send().await.expect("GET");
        assert!(answer.status().is_success(), "GET {url}: {}", answer.status());
        answer.bytes().await.expect("a body");
        times.push(began.elapsed());
    }
    times
}

fn report(label: &str, logins: &[Login]) {
    let line = |what: &str, times: Vec<Duration>| {
        println!(
            "  {label:<10} {what:<9} p50 {:>7.1} ms   p95 {:>7.1} ms",
            quantile_ms(&times, 0.5),
            quantile_ms(&times, 0.95)
        );
    };
    line("total", logins.iter().map(|l| l.total).collect());
    line("Strata", logins.iter().map(|l| l.strata).collect());
    line("provider", logins.iter().map(|l| l.provider).collect());
}

#[tokio::main]
async fn main() {
    let count = env("LOGINS", 100);
    let dns = TestDns::start().await;
    // The enterprise plan's seats hold every person the bench signs in.
    let org_plans = Some("local=enterprise".to_owned());
    let options =
        TestOptions { private_issuers: true, dns_server: Some(dns.addr()), org_plans, ..TestOptions::default() };
    let app = TestApp::spawn_with_options(Backend::Postgres, options).await;
    let accounts =
        (0..count).map(|n| Account::new(&format!("person-{n}"), &email(n), PASSWORD).with_groups(&["eng"])).collect();
    let callback = format!("{}/auth/sso/callback", app.address);
    let clients = vec![Client::new("strata", SECRET, &callback)];
    let idp = OidcProvider::start(ProviderConfig { clients, accounts, keys: None }).await;
    set_up(&app, &dns, &idp).await;

    let healthz = floor(&format!("{}/healthz", app.address), 50).await;
    let discovery = floor(&idp.discovery_url(), 50).await;
    let mut first = Vec::with_capacity(count);
    for n in 0..count {
        first.push(log_in(&app, n).await);
    }
    let mut again = Vec::with_capacity(count);
    for n in 0..count {
        again.push(log_in(&app, n).await);
    }
    let fetched = idp.requests().await;
    let discovery_fetches = fetched.discovery - 50;

    println!("SSO login on PostgreSQL, {count} people, one login at a time, a fresh browser each");
    println!(
        "  floor      GET /healthz p50 {:>7.1} ms   provider discovery p50 {:.1} ms",
        quantile_ms(&healthz, 0.5),
        quantile_ms(&discovery, 0.5)
    );
    report("first", &first);
    report("returning", &again);
    println!(
        "  the relying party fetched discovery {discovery_fetches}×, keys {}× and redeemed {} codes for {} logins",
        fetched.jwks,
        fetched.token,
        2 * count
    );
    assert!(discovery_fetches <= 1 && fetched.jwks <= 1, "discovery and keys are cached: {fetched:?}");
    assert_eq!(fetched.token, 2 * count as u64, "one code redeemed per login");
}
