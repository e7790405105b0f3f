//! Single sign-on through a real OpenID provider (npm `oidc-provider`,
//! tests/oidc): an organisation admin configures and tests the connection,
//! verifies the domain over DNS and maps a group to a team; a new person
//! signs in through the provider's login page and lands in the team with
//! its workspace role; "SSO required" refuses a password session; SCIM
//! deprovisions the person and their next request is refused. On SQLite
//! and PostgreSQL.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use serde_json::{Value, json};
use strata_testkit::dns::TestDns;
use strata_testkit::oidc::{Account, Client, IdpBrowser, OidcProvider, ProviderConfig};
use strata_testkit::{Backend, TestApp, TestOptions, on_both_backends};

use crate::hub::{gql, mutate};

const SECRET: &str = "a client secret of the test provider";

struct World {
    app: TestApp,
    idp: OidcProvider,
    _dns: TestDns,
}

/// The local organisation with SSO through the provider, `acme.test`
/// verified, group `eng` → team `engineering`, a writer of workspace `default`.
async fn world(backend: Backend) -> World {
    let dns = TestDns::start().await;
    let options = TestOptions { private_issuers: true, dns_server: Some(dns.addr()), ..TestOptions::default() };
    let app = TestApp::spawn_with_options(backend, options).await;
    let callback = format!("{}/auth/sso/callback", app.address);
    let idp = OidcProvider::start(ProviderConfig {
        clients: vec![Client::new("strata", SECRET, &callback)],
        accounts: vec![Account::new("ada-1", "ada@acme.test", "ada's idp password").with_groups(&["eng"])],
        keys: None,
    })
    .await;
    let admin = Some(app.admin_token.as_str());
    let configured = mutate(
        &app,
        admin,
        "configureSso",
        json!({ "organization": "local", "issuer": idp.issuer(), "clientId": "strata", "clientSecret": SECRET }),
        "connection { issuer redirectUri }",
    )
    .await;
    assert_eq!(configured["connection"]["redirectUri"], callback.as_str());
    let tested = mutate(&app, admin, "testSso", json!({ "organization": "local" }), "ok signingKeys").await;
    assert_eq!(tested["ok"], true, "{tested}");
    app.verify_local_domain(&dns, "acme.test").await;
    mutate(&app, admin, "createTeam", json!({ "organization": "local", "slug": "engineering" }), "team { slug }").await;
    mutate(
        &app,
        admin,
        "setGroupMapping",
        json!({ "organization": "local", "group": "eng", "team": "engineering" }),
        "ok",
    )
    .await;
    let binding = json!({ "organization": "local", "workspace": "default", "team": "engineering", "role": "WRITER" });
    mutate(&app, admin, "setTeamRoleBinding", binding, "ok").await;
    World { app, idp, _dns: dns }
}

/// Signs in through the provider's login page as a browser would, and
/// returns the access token the console then gets from its cookies.
async fn sign_in(world: &World, password: &str) -> Result<String, String> {
    let browser = IdpBrowser::new();
    let start = format!("{}/auth/sso/start?email=ada%40acme.test&return_to=%2Forgs%2Flocal", world.app.address);
    let outcome = browser.sign_in_via(&start, world.idp.issuer(), "ada@acme.test", password).await?;
    let back = browser.client().get(outcome.redirect.clone()).send().await.map_err(|e| e.to_string())?;
    assert_eq!(back.status(), 303);
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    if location != "/orgs/local" {
        return Err(location);
    }
    let refresh = back
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| c.starts_with("strata_refresh=") || c.starts_with("strata_csrf="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(refresh.len(), 2, "the session cookies: {refresh:?}");
    let csrf = refresh.iter().find_map(|c| c.strip_prefix("strata_csrf=")).unwrap().to_owned();
    let refreshed: Value = reqwest::Client::new()
        .post(format!("{}/auth/refresh", world.app.address))
        .header("cookie", refresh.join("; "))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Ok(refreshed["accessToken"].as_str().unwrap_or_else(|| panic!("{refreshed}")).to_owned())
}

async fn role_on_default(app: &TestApp, token: &str) -> Value {
    let body = gql(
        app,
        Some(token),
        "{ organization(slug: \"local\") { workspace(slug: \"default\") { viewerRole } } }",
        json!({}),
    )
    .await;
    body["data"]["organization"]["workspace"]["viewerRole"].clone()
}

on_both_backends!(a_person_signs_in_through_the_provider_joins_the_team_and_is_deprovisioned_by_scim);

async fn a_person_signs_in_through_the_provider_joins_the_team_and_is_deprovisioned_by_scim(backend: Backend) {
    let world = world(backend).await;
    // "Test connection" fetched discovery and keys afresh; logins reuse them.
    let tested = world.idp.requests().await;
    let wrong = sign_in(&world, "not the password").await.unwrap_err();
    assert!(wrong.contains("login refused"), "{wrong}");

    let token = sign_in(&world, "ada's idp password").await.unwrap();
    let fetched = world.idp.requests().await;
    assert_eq!((fetched.discovery, fetched.jwks), (tested.discovery, tested.jwks), "cached: {fetched:?}");
    assert_eq!(fetched.token, tested.token + 1, "one code redeemed");
    assert_eq!(role_on_default(&world.app, &token).await, "WRITER", "through the team its group maps to");
    let admin = Some(world.app.admin_token.as_str());
    mutate(&world.app, admin, "setSsoRequired", json!({ "organization": "local", "required": true }), "ok").await;
    assert_eq!(role_on_default(&world.app, &token).await, "WRITER", "an SSO session passes the requirement");

    let issued = mutate(&world.app, admin, "issueScimToken", json!({ "organization": "local" }), "token baseUrl").await;
    let base = issued["baseUrl"].as_str().unwrap().to_owned();
    let scim = issued["token"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let found: Value = http
        .get(format!("{base}/Users?filter=userName%20eq%20%22ada%40acme.test%22"))
        .bearer_auth(&scim)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = found["Resources"][0]["id"].as_str().unwrap_or_else(|| panic!("{found}")).to_owned();
    let deactivate = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "value": { "active": false } }] });
    let answer = http.patch(format!("{base}/Users/{id}")).bearer_auth(&scim).json(&deactivate).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let after = gql(&world.app, Some(&token), "{ viewer { email } }", json!({})).await;
    assert_eq!(after["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "the next request is refused: {after}");
    let again = sign_in(&world, "ada's idp password").await.unwrap_err();
    assert!(again.contains("deactivated"), "{again}");
}

/// Sends `count` requests from `source` (a loopback address) and returns
/// how many were answered before the first 429, with that 429's
/// Retry-After and body.
async fn until_limited(
    source: [u8; 4],
    count: usize,
    request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
) -> (usize, Option<(String, Value)>) {
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(source))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for answered in 0..count {
        let response = request(&client).send().await.unwrap();
        if response.status() == 429 {
            let retry_after = response.headers()["retry-after"].to_str().unwrap().to_owned();
            return (answered, Some((retry_after, response.json().await.unwrap())));
        }
    }
    (count, None)
}

/// The endpoints anyone may call are limited per address: 30 logins
/// started a minute (each keeps a row until it expires), 120 lookups
/// (discovery, code exchanges, device polls). Other addresses are not
/// affected.
#[tokio::test]
async fn anonymous_sso_endpoints_are_limited_per_address() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let device = |client: &reqwest::Client| client.post(format!("{}/auth/device", app.address));
    let (started, refused) = until_limited([127, 0, 0, 3], 40, device).await;
    assert_eq!(started, 30, "logins started before the limit");
    let (retry_after, body) = refused.unwrap();
    assert!((1..=60).contains(&retry_after.parse::<u64>().unwrap()), "Retry-After: {retry_after}");
    assert_eq!(body["code"], "RATE_LIMITED", "{body}");
    let start = |client: &reqwest::Client| client.get(format!("{}/auth/sso/start?org=local", app.address));
    assert_eq!(until_limited([127, 0, 0, 3], 1, start).await.0, 0, "SSO starts share the count");
    assert_eq!(until_limited([127, 0, 0, 4], 1, device).await, (1, None), "another address is not limited");

    let discover =
        |client: &reqwest::Client| client.get(format!("{}/auth/sso/discover?email=a%40acme.test", app.address));
    let (looked_up, refused) = until_limited([127, 0, 0, 5], 130, discover).await;
    assert_eq!(looked_up, 120, "lookups before the limit");
    assert_eq!(refused.unwrap().1["code"], "RATE_LIMITED");
    let poll = |client: &reqwest::Client| {
        client.post(format!("{}/auth/device/token", app.address)).json(&json!({ "device_code": "unknown" }))
    };
    assert_eq!(until_limited([127, 0, 0, 5], 1, poll).await.0, 0, "device polls share the lookups' count");
}
