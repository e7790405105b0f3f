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
    crate::scim::verify_domain(&app, &dns, "acme.test").await;
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
    let wrong = sign_in(&world, "not the password").await.unwrap_err();
    assert!(wrong.contains("login refused"), "{wrong}");

    let token = sign_in(&world, "ada's idp password").await.unwrap();
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
