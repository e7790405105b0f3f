//! The hub over GraphQL: sign-up to API token, payload conventions, and a
//! cross-tenant suite in which org B's people and tokens try to reach org A.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use serde_json::{Value, json};
use strata_testkit::{TestApp, on_both_backends};

const PASSWORD: &str = "a long passphrase 42";

/// Posts a GraphQL request and returns the whole response body.
pub(crate) async fn gql(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("POST /graphql");
    assert_eq!(response.status(), 200, "GraphQL answers 200 even for errors");
    response.json().await.expect("JSON body")
}

/// Runs a mutation, asserts no errors of any kind, returns its payload.
pub(crate) async fn mutate(app: &TestApp, token: Option<&str>, name: &str, input: Value, selection: &str) -> Value {
    let query = format!(
        "mutation($input: {}Input!) {{ {name}(input: $input) {{ {selection} userErrors {{ field message code }} }} }}",
        upper_first(name)
    );
    let body = gql(app, token, &query, json!({ "input": input })).await;
    assert!(body["errors"].is_null(), "{name}: {body}");
    let payload = body["data"][name].clone();
    assert_eq!(payload["userErrors"], json!([]), "{name}: {payload}");
    payload
}

/// Runs a mutation that must fail with exactly one user error; returns it.
async fn refused(app: &TestApp, token: Option<&str>, name: &str, input: Value) -> Value {
    let query = format!(
        "mutation($input: {}Input!) {{ {name}(input: $input) {{ userErrors {{ field message code }} }} }}",
        upper_first(name)
    );
    let body = gql(app, token, &query, json!({ "input": input })).await;
    assert!(body["errors"].is_null(), "{name}: expected a user error, got top-level errors: {body}");
    let errors = body["data"][name]["userErrors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{name}: {body}");
    errors[0].clone()
}

fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The token in the newest mail to `to` (from the dev outbox).
pub(crate) fn mailed_token(app: &TestApp, to: &str) -> String {
    let outbox = strata_hub::OutboxMailer::new(app.data_dir.join("outbox"));
    let mail = outbox.messages_to(to).pop().unwrap_or_else(|| panic!("no mail to {to}"));
    mail.link.expect("a link").split("token=").nth(1).expect("a token").to_owned()
}

/// Signs up, verifies, logs in; returns the access token.
pub(crate) async fn person(app: &TestApp, email: &str) -> String {
    mutate(app, None, "signUp", json!({ "email": email, "password": PASSWORD }), "ok").await;
    mutate(app, None, "verifyEmail", json!({ "token": mailed_token(app, email) }), "user { emailVerified }").await;
    let login = mutate(
        app,
        None,
        "logIn",
        json!({ "email": email, "password": PASSWORD, "client": "CLI" }),
        "accessToken { token }",
    )
    .await;
    login["accessToken"]["token"].as_str().expect("an access token").to_owned()
}

on_both_backends! {
    async fn sign_up_to_api_token_over_graphql(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let signed = mutate(&app, None, "signUp", json!({ "email": "Ada@Example.com", "password": PASSWORD, "displayName": "Ada" }), "ok user { id }").await;
        assert_eq!((&signed["ok"], &signed["user"]), (&json!(true), &Value::Null), "the answer names no account");
        mutate(&app, None, "verifyEmail", json!({ "token": mailed_token(&app, "ada@example.com") }), "user { id }").await;

        // A web login sets the refresh cookie (HttpOnly, Secure, SameSite) and no refresh token in the body.
        let response = reqwest::Client::new()
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": "mutation($i: LogInInput!) { logIn(input: $i) { accessToken { token } refreshToken userErrors { code } } }",
                           "variables": { "i": { "email": "ada@example.com", "password": PASSWORD } } }))
            .send().await.unwrap();
        let cookies: Vec<String> = response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        let body: Value = response.json().await.unwrap();
        assert!(body["data"]["logIn"]["refreshToken"].is_null(), "{body}");
        let refresh = cookies.iter().find(|c| c.starts_with("strata_refresh=")).expect("refresh cookie");
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/auth"] {
            assert!(refresh.contains(attribute), "{attribute} in {refresh}");
        }
        let token = body["data"]["logIn"]["accessToken"]["token"].as_str().unwrap().to_owned();

        let viewer = gql(&app, Some(&token), "{ viewer { email displayName emailVerified } }", json!({})).await;
        assert_eq!(viewer["data"]["viewer"], json!({ "email": "ada@example.com", "displayName": "Ada", "emailVerified": true }));

        let org = mutate(&app, Some(&token), "createOrganization", json!({ "slug": "acme", "name": "Acme" }), "organization { slug viewerRole }").await;
        assert_eq!(org["organization"], json!({ "slug": "acme", "viewerRole": "OWNER" }));
        let ws = mutate(&app, Some(&token), "createWorkspace", json!({ "organization": "acme", "slug": "ci", "idempotencyKey": "k1" }), "workspace { id slug state generation observedGeneration }").await;
        assert_eq!(ws["workspace"]["state"], "PENDING");
        let again = mutate(&app, Some(&token), "createWorkspace", json!({ "organization": "acme", "slug": "ci", "idempotencyKey": "k1" }), "workspace { id }").await;
        assert_eq!(again["workspace"]["id"], ws["workspace"]["id"], "an idempotent retry");

        let made = mutate(&app, Some(&token), "createApiToken", json!({ "organization": "acme", "name": "ci", "role": "WRITER", "expiresInDays": 30 }), "token apiToken { id prefix role }").await;
        let secret = made["token"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("stp_"));
        assert!(secret.starts_with(made["apiToken"]["prefix"].as_str().unwrap()));

        // The token works like its maker, capped at its role.
        let listed = gql(&app, Some(&secret), "{ organization(slug: \"acme\") { workspaces(first: 10) { totalCount edges { node { slug viewerRole } } } } }", json!({})).await;
        assert_eq!(listed["data"]["organization"]["workspaces"]["edges"][0]["node"], json!({ "slug": "ci", "viewerRole": "WRITER" }));
        let listed = gql(&app, Some(&token), "{ organization(slug: \"acme\") { apiTokens { edges { node { name lastUsedAt } } } } }", json!({})).await;
        assert!(!listed.to_string().contains(&secret), "lists never show a secret");
        assert!(listed["data"]["organization"]["apiTokens"]["edges"][0]["node"]["lastUsedAt"].is_string(), "{listed}");

        mutate(&app, Some(&token), "revokeApiToken", json!({ "id": made["apiToken"]["id"] }), "apiToken { revokedAt }").await;
        let after = gql(&app, Some(&secret), "{ viewer { email } }", json!({})).await;
        assert_eq!(after["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{after}");

        let audit = gql(&app, Some(&token), "{ organization(slug: \"acme\") { auditEvents(first: 50) { edges { node { action ip } } } } }", json!({})).await;
        let actions: Vec<&str> = audit["data"]["organization"]["auditEvents"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["action"].as_str().unwrap()).collect();
        for expected in ["org.create", "workspace.create", "token.create", "token.revoke"] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }
        assert_eq!(audit["data"]["organization"]["auditEvents"]["edges"][0]["node"]["ip"], "127.0.0.1");
    }
}

on_both_backends! {
    async fn expected_failures_are_typed_user_errors(backend: Backend) {
        let options = strata_testkit::TestOptions { org_plans: Some("acme=team".into()), ..Default::default() };
        let app = TestApp::spawn_with_options(backend, options).await;
        let token = person(&app, "grace@example.com").await;
        mutate(&app, Some(&token), "createOrganization", json!({ "slug": "acme" }), "organization { id }").await;
        for (name, input, field, code) in [
            ("signUp", json!({ "email": "nope", "password": PASSWORD }), "email", "INVALID_ARGUMENT"),
            ("signUp", json!({ "email": "x@example.com", "password": "short" }), "password", "WEAK_PASSWORD"),
            ("createOrganization", json!({ "slug": "acme" }), "slug", "ALREADY_EXISTS"),
            ("createOrganization", json!({ "slug": "x".repeat(5000) }), "slug", "INVALID_ARGUMENT"),
            ("createWorkspace", json!({ "organization": "acme", "slug": "Not A Slug" }), "slug", "INVALID_ARGUMENT"),
            ("createWorkspace", json!({ "organization": "acme", "slug": "ok", "plan": "gold" }), "plan", "INVALID_ARGUMENT"),
            ("inviteMember", json!({ "organization": "acme", "email": "bad email" }), "email", "INVALID_ARGUMENT"),
            ("acceptInvitation", json!({ "token": "0".repeat(64) }), "token", "NOT_FOUND"),
        ] {
            let error = refused(&app, Some(&token), name, input).await;
            assert_eq!((error["field"].as_str(), error["code"].as_str()), (Some(field), Some(code)), "{name}: {error}");
            assert!(error["message"].as_str().unwrap().len() < 400, "{name}: short message");
        }
        let error = refused(&app, Some(&token), "removeMember", json!({ "organization": "acme", "userId": gql(&app, Some(&token), "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"] })).await;
        assert_eq!(error["code"], "LAST_OWNER");
        mutate(&app, Some(&token), "createWorkspace", json!({ "organization": "acme", "slug": "prod" }), "workspace { id }").await;
        let error = refused(&app, Some(&token), "deleteWorkspace", json!({ "organization": "acme", "slug": "prod", "confirm": "prd" })).await;
        assert_eq!((error["field"].as_str(), error["code"].as_str()), (Some("confirm"), Some("CONFIRMATION_MISMATCH")));
        let error = refused(&app, Some(&token), "setWorkspacePlan", json!({ "organization": "acme", "slug": "prod", "plan": "gold" })).await;
        assert_eq!((error["field"].as_str(), error["code"].as_str()), (Some("plan"), Some("INVALID_ARGUMENT")));
        let moved = mutate(&app, Some(&token), "setWorkspacePlan", json!({ "organization": "acme", "slug": "prod", "plan": "team" }), "workspace { plan generation }").await;
        assert_eq!(moved["workspace"], json!({ "plan": "team", "generation": 2 }));
        let error = refused(&app, Some(&token), "setWorkspacePlan", json!({ "organization": "acme", "slug": "prod", "plan": "enterprise" })).await;
        assert_eq!((error["field"].as_str(), error["code"].as_str()), (Some("plan"), Some("FORBIDDEN")), "the operator gave acme team: {error}");
        let plans = gql(&app, Some(&token), "{ organization(slug: \"acme\") { plan assignablePlans workspaceLimit } }", json!({})).await;
        assert_eq!(plans["data"]["organization"], json!({ "plan": "team", "assignablePlans": ["free", "team"], "workspaceLimit": 25 }));
        mutate(&app, Some(&token), "createOrganization", json!({ "slug": "selfserve" }), "organization { id }").await;
        for slug in ["ws-a", "ws-b", "ws-c"] {
            mutate(&app, Some(&token), "createWorkspace", json!({ "organization": "selfserve", "slug": slug }), "workspace { id }").await;
        }
        let error = refused(&app, Some(&token), "createWorkspace", json!({ "organization": "selfserve", "slug": "ws-d" })).await;
        assert_eq!(error["code"], "QUOTA_EXCEEDED", "{error}");
        assert!(error["message"].as_str().unwrap().contains("the free plan allows 3 workspaces"), "names the plan and the limit: {error}");
        // Usage against the plan, for the console and scripts; the plans themselves need no login.
        let usage = "{ organization(slug: \"selfserve\") { usage { plan { name seats } seats { used limit } workspaces { used limit } } } }";
        let usage = gql(&app, Some(&token), usage, json!({})).await;
        let expected = json!({ "plan": { "name": "free", "seats": 5 }, "seats": { "used": 1, "limit": 5 }, "workspaces": { "used": 3, "limit": 3 } });
        assert_eq!(usage["data"]["organization"]["usage"], expected, "{usage}");
        let plans = gql(&app, None, "{ plans { name workers sleepAfterMinutes } }", json!({})).await;
        assert_eq!(plans["data"]["plans"][2], json!({ "name": "enterprise", "workers": 256, "sleepAfterMinutes": null }), "{plans}");

        // No credentials: mutations say so in userErrors, queries in errors.
        let error = refused(&app, None, "createOrganization", json!({ "slug": "anon" })).await;
        assert_eq!(error["code"], "UNAUTHENTICATED");
        let body = gql(&app, None, "{ viewer { id } }", json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        let body = gql(&app, Some("not-a-token"), "{ viewer { id } }", json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(!body.to_string().contains("not-a-token"), "credentials are not echoed");

        // Limits: page size, query size.
        let body = gql(&app, Some(&token), "{ viewer { organizations(first: 1000) { totalCount } } }", json!({})).await;
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("between 1 and 100"), "{body}");
        let response = reqwest::Client::new()
            .post(format!("{}/graphql", app.address))
            .header("content-type", "application/json")
            .body(format!("{{\"query\": \"{{ viewer {{ id }} }}\", \"variables\": {{\"x\": \"{}\"}}}}", "y".repeat(2 << 20)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
        let refusal: Value = response.json().await.unwrap();
        assert!(refusal["message"].as_str().unwrap().contains("at most"), "{refusal}");
        let garbage = reqwest::Client::new().post(format!("{}/graphql", app.address)).body("not json").send().await.unwrap();
        assert_eq!(garbage.status(), 400);
        let huge = format!("{{ viewer {{ id }} }} # {}", "x".repeat(40_000));
        let body = gql(&app, Some(&token), &huge, json!({})).await;
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("limit"), "{body}");
    }
}

on_both_backends! {
    async fn another_tenant_cannot_read_list_guess_or_change_anything(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let alice = person(&app, "alice@a.example").await;
        let bob = person(&app, "bob@b.example").await;
        mutate(&app, Some(&alice), "createOrganization", json!({ "slug": "org-a" }), "organization { id }").await;
        mutate(&app, Some(&bob), "createOrganization", json!({ "slug": "org-b" }), "organization { id }").await;
        let ws = mutate(&app, Some(&alice), "createWorkspace", json!({ "organization": "org-a", "slug": "secret-ws" }), "workspace { id }").await;
        let token_a = mutate(&app, Some(&alice), "createApiToken", json!({ "organization": "org-a", "name": "a", "role": "ADMIN" }), "apiToken { id } token").await;
        let bob_token = mutate(&app, Some(&bob), "createApiToken", json!({ "organization": "org-b", "name": "b", "role": "ADMIN" }), "token").await;
        let bob_token = bob_token["token"].as_str().unwrap().to_owned();

        for credential in [bob.as_str(), bob_token.as_str()] {
            // Reads: exactly the answer for something that does not exist.
            for (existing, missing) in [
                ("{ organization(slug: \"org-a\") { slug members { totalCount } auditEvents { edges { node { action } } } } }",
                 "{ organization(slug: \"org-zz\") { slug members { totalCount } auditEvents { edges { node { action } } } } }"),
                ("{ workspace(organization: \"org-a\", slug: \"secret-ws\") { slug } }",
                 "{ workspace(organization: \"org-a\", slug: \"nothing\") { slug } }"),
                ("{ a: workspace(organization: \"org-a\", slug: \"secret-ws\") { slug } b: organization(slug: \"org-a\") { slug } }",
                 "{ a: workspace(organization: \"org-zz\", slug: \"secret-ws\") { slug } b: organization(slug: \"org-zz\") { slug } }"),
            ] {
                let seen = gql(&app, Some(credential), existing, json!({})).await;
                let control = gql(&app, Some(credential), missing, json!({})).await;
                assert_eq!(seen, control, "{existing}");
                assert!(!seen.to_string().contains("secret-ws"));
            }
            // By global id: another tenant's objects are as null as made-up ones.
            let org_id = gql(&app, Some(&alice), "{ organization(slug: \"org-a\") { id } }", json!({})).await["data"]["organization"]["id"].clone();
            for id in [&org_id, &ws["workspace"]["id"], &token_a["apiToken"]["id"]] {
                let seen = gql(&app, Some(credential), "query($id: ID!) { node(id: $id) { id ... on Workspace { slug } ... on Organization { slug } } }", json!({ "id": id })).await;
                assert_eq!(seen, json!({ "data": { "node": null } }), "{id}");
            }
            let made_up = gql(&app, Some(credential), "query($id: ID!) { node(id: $id) { id } }", json!({ "id": "V29ya3NwYWNlOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA" })).await;
            assert_eq!(made_up, json!({ "data": { "node": null } }));
            let listed = gql(&app, Some(credential), "{ viewer { organizations { edges { node { slug workspaces { edges { node { slug } } } } } } } }", json!({})).await;
            assert!(!listed.to_string().contains("org-a"), "{listed}");

            // Changes: the same NOT_FOUND as for a missing target.
            for (name, input, control) in [
                ("createWorkspace", json!({ "organization": "org-a", "slug": "mine" }), json!({ "organization": "org-zz", "slug": "mine" })),
                ("deleteWorkspace", json!({ "organization": "org-a", "slug": "secret-ws", "confirm": "secret-ws" }), json!({ "organization": "org-a", "slug": "nothing", "confirm": "nothing" })),
                ("setWorkspacePlan", json!({ "organization": "org-a", "slug": "secret-ws", "plan": "free" }), json!({ "organization": "org-zz", "slug": "secret-ws", "plan": "free" })),
                ("inviteMember", json!({ "organization": "org-a", "email": "bob@b.example", "role": "OWNER" }), json!({ "organization": "org-zz", "email": "bob@b.example", "role": "OWNER" })),
                ("revokeApiToken", json!({ "id": token_a["apiToken"]["id"] }), json!({ "id": "QXBpVG9rZW46MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw" })),
            ] {
                let error = refused(&app, Some(credential), name, input).await;
                let control = refused(&app, Some(credential), name, control).await;
                assert_eq!(error, control, "{name}");
                assert_eq!(error["code"], "NOT_FOUND");
            }
        }
        // Alice reaches her own objects by global id.
        let own = gql(&app, Some(&alice), "query($id: ID!) { node(id: $id) { ... on Workspace { slug state } } }", json!({ "id": ws["workspace"]["id"] })).await;
        assert_eq!(own["data"]["node"], json!({ "slug": "secret-ws", "state": "PENDING" }));
        // Nothing changed in org A.
        let seen = gql(&app, Some(&alice), "{ organization(slug: \"org-a\") { members { totalCount } workspaces { edges { node { id state } } } } }", json!({})).await;
        assert_eq!(seen["data"]["organization"]["members"]["totalCount"], 1);
        assert_eq!(seen["data"]["organization"]["workspaces"]["edges"][0]["node"], json!({ "id": ws["workspace"]["id"], "state": "PENDING" }));
        assert!(gql(&app, Some(token_a["token"].as_str().unwrap()), "{ viewer { id } }", json!({})).await["errors"].is_null());
    }
}

on_both_backends! {
    async fn web_sessions_refresh_only_with_the_csrf_header(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let _ = person(&app, "web@example.com").await;
        let client = reqwest::Client::new();
        let response = client
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": "mutation($i: LogInInput!) { logIn(input: $i) { userErrors { code } } }",
                           "variables": { "i": { "email": "web@example.com", "password": PASSWORD } } }))
            .send().await.unwrap();
        let cookie = |name: &str| -> String {
            response.headers().get_all("set-cookie").iter()
                .map(|v| v.to_str().unwrap())
                .find(|c| c.starts_with(&format!("{name}=")))
                .map(|c| c.split(';').next().unwrap().split_once('=').unwrap().1.to_owned())
                .unwrap_or_else(|| panic!("cookie {name}"))
        };
        let (refresh, csrf) = (cookie("strata_refresh"), cookie("strata_csrf"));
        let cookies = format!("strata_refresh={refresh}; strata_csrf={csrf}");
        let url = format!("{}/auth/refresh", app.address);

        let forged = client.post(&url).header("cookie", &cookies).send().await.unwrap();
        assert_eq!(forged.status(), 403, "no CSRF header");
        let forged = client.post(&url).header("cookie", &cookies).header("x-csrf-token", "guess").send().await.unwrap();
        assert_eq!(forged.status(), 403, "wrong CSRF header");
        let foreign = client.post(&url).header("cookie", &cookies).header("x-csrf-token", &csrf).header("origin", "https://evil.example").send().await.unwrap();
        assert_eq!(foreign.status(), 403, "foreign origin");
        let body: Value = foreign.json().await.unwrap();
        assert!(body["message"].is_string() && body["code"].is_string());

        let ok = client.post(&url).header("cookie", &cookies).header("x-csrf-token", &csrf).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        let body: Value = ok.json().await.unwrap();
        let token = body["accessToken"].as_str().unwrap();
        assert!(gql(&app, Some(token), "{ viewer { email } }", json!({})).await["errors"].is_null());
        // The old refresh cookie was rotated: replaying it ends the session.
        let replay = client.post(&url).header("cookie", &cookies).header("x-csrf-token", &csrf).send().await.unwrap();
        assert_eq!(replay.status(), 401);

        let jwks: Value = client.get(format!("{}/.well-known/jwks.json", app.address)).send().await.unwrap().json().await.unwrap();
        assert_eq!(jwks["keys"][0]["kty"], "OKP");
        assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
        assert!(jwks["keys"][0]["d"].is_null(), "no private part");
    }
}

pub(crate) fn api_error(result: Result<impl std::fmt::Debug, strata_client::ClientError>) -> (u16, String, String) {
    match result {
        Err(strata_client::ClientError::Api { status, code, message }) => (status, code, message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

on_both_backends! {
    async fn workspace_endpoints_need_a_role_on_the_workspace(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.client().workspace("default");
        admin.repo_create("images", "").await.expect("the local admin creates a repo");

        // No credentials, bad credentials.
        let (status, code, _) = api_error(app.anonymous_client().workspace("default").repo_list().await);
        assert_eq!((status, code.as_str()), (401, "UNAUTHENTICATED"));
        let forged = app.anonymous_client().with_token("stp_forged").workspace("default");
        assert_eq!(api_error(forged.repo_list().await).0, 401);

        // A person of another organisation: the same 404 as for a workspace that does not exist.
        let bob = person(&app, "bob@b.example").await;
        let as_bob = app.anonymous_client().with_token(bob.clone());
        let (status, code, message) = api_error(as_bob.workspace("default").repo_inspect("images").await);
        let missing = api_error(app.client().workspace("nothing").repo_inspect("images").await);
        assert_eq!((status, code.as_str()), (404, "NOT_FOUND"));
        assert_eq!((missing.0, missing.1.as_str()), (404, "NOT_FOUND"));
        assert_eq!(message.replace("`default`", "`X`"), missing.2.replace("`nothing`", "`X`"));
        assert!(!message.contains("images"));

        // Invited as a member and bound as reader: reads work, writes are refused.
        let invite = json!({ "organization": strata_hub::LOCAL_ORG, "email": "bob@b.example", "role": "MEMBER" });
        mutate(&app, Some(&app.admin_token), "inviteMember", invite, "invitation { id }").await;
        mutate(&app, Some(&bob), "acceptInvitation", json!({ "token": mailed_token(&app, "bob@b.example") }), "organization { slug }").await;
        assert_eq!(api_error(as_bob.workspace("default").repo_list().await).0, 404, "membership alone gives no workspace role");
        let bob_id = gql(&app, Some(&bob), "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"].clone();
        let bind = json!({ "organization": strata_hub::LOCAL_ORG, "workspace": "default", "userId": bob_id, "role": "READER" });
        mutate(&app, Some(&app.admin_token), "setRoleBinding", bind, "ok").await;
        let repos = as_bob.workspace("default").repo_list().await.expect("a reader lists repos");
        assert_eq!(repos.len(), 1);
        let (status, code, message) = api_error(as_bob.workspace("default").repo_create("mine", "").await);
        assert_eq!((status, code.as_str()), (403, "FORBIDDEN"));
        assert!(message.contains("writer") && message.contains("reader"), "{message}");
        assert_eq!(api_error(as_bob.workspace("default").repo_delete("images", false).await).0, 403);
        // GraphQL calls this workspace in-process, with the same decision.
        let target = json!({ "organization": strata_hub::LOCAL_ORG, "workspace": "default" });
        let listed = gql(&app, Some(&bob), "{ workspace(organization: \"local\", slug: \"default\") { repos { name } } }", json!({})).await;
        assert_eq!(listed["data"]["workspace"]["repos"], json!([{ "name": "images" }]), "{listed}");
        let error = refused(&app, Some(&bob), "createRepo", json!({ "target": target, "name": "mine" })).await;
        assert_eq!(error["code"], "FORBIDDEN", "{error}");
        assert!(error["message"].as_str().unwrap().contains("writer"), "{error}");
        let error = refused(&app, Some(&bob), "deleteRepo", json!({ "target": target, "name": "images" })).await;
        assert_eq!(error["code"], "FORBIDDEN", "{error}");
        assert_eq!(admin.repo_list().await.expect("list").len(), 1, "nothing changed");

        // A writer of one repo only: that repo's data, nothing else of the workspace.
        let carol = person(&app, "carol@b.example").await;
        mutate(&app, Some(&app.admin_token), "inviteMember", json!({ "organization": strata_hub::LOCAL_ORG, "email": "carol@b.example" }), "invitation { id }").await;
        mutate(&app, Some(&carol), "acceptInvitation", json!({ "token": mailed_token(&app, "carol@b.example") }), "organization { slug }").await;
        let carol_id = gql(&app, Some(&carol), "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"].clone();
        admin.repo_create("secrets", "").await.expect("another repo");
        let bind = json!({ "organization": strata_hub::LOCAL_ORG, "workspace": "default", "userId": carol_id, "repo": "images", "role": "WRITER" });
        mutate(&app, Some(&app.admin_token), "setRoleBinding", bind, "ok").await;
        let as_carol = app.anonymous_client().with_token(carol.clone()).workspace("default");
        as_carol.put("images", "master", "/c.txt", false, false, reqwest::Body::from("carol")).await.expect("a repo writer writes");
        assert_eq!(as_carol.repo_inspect("images").await.expect("and reads").name, "images");
        assert_eq!(api_error(as_carol.repo_inspect("secrets").await).0, 404, "other repos are not hers");
        assert_eq!(api_error(as_carol.repo_list().await).0, 404, "nor the workspace's list");
        assert_eq!(api_error(as_carol.repo_delete("images", false).await).0, 403, "deleting needs admin");
        // A reader API token of the admin is capped at reader too; revoking it is immediate.
        let made = mutate(&app, Some(&person_admin_session(&app).await), "createApiToken",
            json!({ "organization": strata_hub::LOCAL_ORG, "workspace": "default", "name": "ro", "role": "READER" }), "token apiToken { id }").await;
        let ro = app.anonymous_client().with_token(made["token"].as_str().unwrap()).workspace("default");
        assert!(ro.repo_list().await.is_ok());
        assert_eq!(api_error(ro.repo_create("x", "").await).0, 403);
        mutate(&app, Some(&app.admin_token), "revokeApiToken", json!({ "id": made["apiToken"]["id"] }), "apiToken { id }").await;
        assert_eq!(api_error(ro.repo_list().await).0, 401);
    }
}

/// A login session of the local administrator, through its one-time link
/// (API tokens cannot make API tokens).
pub(crate) async fn person_admin_session(app: &TestApp) -> String {
    let hub = strata_hub_for(app).await;
    let link = hub.local_admin_login_link().await.expect("a login link");
    let token = link.split("token=").nth(1).unwrap();
    hub.use_login_link(token).await.expect("the link logs in").access_token
}

/// A second handle on the app's hub (same database, same keys).
pub(crate) async fn strata_hub_for(app: &TestApp) -> strata_hub::Hub {
    let outbox = strata_hub::OutboxMailer::new(app.data_dir.join("outbox"));
    let master_keys = app.settings.hub.master_key.load().expect("the app's master key");
    strata_hub::Hub::open(app.db.clone(), std::sync::Arc::new(outbox), strata_hub::HubSettings::new(master_keys))
        .await
        .expect("open the hub")
}

on_both_backends! {
    async fn workspace_data_and_changes_through_graphql(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let target = json!({ "organization": strata_hub::LOCAL_ORG, "workspace": "default" });
        mutate(&app, Some(&admin), "createRepo", json!({ "target": target, "name": "words" }), "repo { name kind }").await;
        let taken = refused(&app, Some(&admin), "createRepo", json!({ "target": target, "name": "words" })).await;
        assert_eq!(taken["code"], "ALREADY_EXISTS");

        let ws = app.client().workspace("default");
        ws.put("words", "master", "/a.txt", false, false, reqwest::Body::from("one two")).await.expect("put");
        let spec = r#"{"pipeline": {"name": "count"}, "input": {"pfs": {"repo": "words", "glob": "/*"}},
                      "transform": {"cmd": ["sh", "-c", "wc -w < $PFS/words/a.txt > $PFS/out/n"]}}"#;
        let made = mutate(&app, Some(&admin), "createPipeline", json!({ "target": target, "spec": spec }), "pipelines { name outputRepo }").await;
        assert_eq!(made["pipelines"], json!([{ "name": "count", "outputRepo": "count" }]));
        let bad = refused(&app, Some(&admin), "createPipeline", json!({ "target": target, "spec": "{\"pipeline\": {\"name\": \"x\"}, \"transfrom\": {}}" })).await;
        assert_eq!(bad["code"], "INVALID_SPEC", "the workspace server's own code: {bad}");
        assert!(bad["message"].as_str().unwrap().contains("transfrom"), "{bad}");

        let job = ws.job_wait("count", "latest", 60).await.expect("the job finishes");
        assert_eq!(job.state, strata_api_types::pps::JobState::Success);

        let query = r#"{ workspace(organization: "local", slug: "default") {
            repos { name kind branches { name } commits(first: 5) { id finishedAt } files { path type sizeBytes } }
            pipelines { name lastJobState jobs(first: 5) { id state datums { total processed skipped failed } datumList { state } } }
            dag { nodes { id kind state } edges { from to } } } }"#;
        let body = gql(&app, Some(&admin), query, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        let ws_data = &body["data"]["workspace"];
        let words = ws_data["repos"].as_array().unwrap().iter().find(|r| r["name"] == "words").expect("words");
        assert_eq!(words["files"], json!([{ "path": "/a.txt", "type": "FILE", "sizeBytes": 7 }]));
        assert_eq!(ws_data["pipelines"][0]["lastJobState"], "SUCCESS");
        assert_eq!(ws_data["pipelines"][0]["jobs"][0]["datums"], json!({ "total": 1, "processed": 1, "skipped": 0, "failed": 0 }));
        let edges = &ws_data["dag"]["edges"];
        assert_eq!(edges, &json!([{ "from": "pipeline:count", "to": "repo:count" }, { "from": "repo:words", "to": "pipeline:count" }]));
        assert!(ws_data["dag"]["nodes"].as_array().unwrap().iter().any(|n| n == &json!({ "id": "pipeline:count", "kind": "PIPELINE", "state": "SUCCESS" })));

        // Pipeline changes are in the organisation's audit log, with the token that made them.
        let audit = gql(&app, Some(&person_admin_session(&app).await), "{ organization(slug: \"local\") { auditEvents(first: 20, action: \"pipeline.\") { edges { node { action actorTokenId } } } } }", json!({})).await;
        let events = audit["data"]["organization"]["auditEvents"]["edges"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{audit}");
        assert_eq!(events[0]["node"]["action"], "pipeline.create");
        assert!(events[0]["node"]["actorTokenId"].is_string());

        // Another tenant sees no workspace; a reader cannot change one.
        let bob = person(&app, "bob@b.example").await;
        let body = gql(&app, Some(&bob), query, json!({})).await;
        assert_eq!(body["data"]["workspace"], Value::Null, "{body}");
        let error = refused(&app, Some(&bob), "createRepo", json!({ "target": target, "name": "mine" })).await;
        assert_eq!(error["code"], "NOT_FOUND");
    }
}

/// One login attempt from `source` (a loopback address): the user error
/// code, if any, and the Retry-After header.
async fn log_in_from(app: &TestApp, source: [u8; 4], email: &str, password: &str) -> (Option<String>, Option<String>) {
    let client = reqwest::Client::builder().local_address(std::net::IpAddr::from(source)).build().unwrap();
    let body = json!({ "query": "mutation($i: LogInInput!) { logIn(input: $i) { accessToken { token } userErrors { code message } } }",
                       "variables": { "i": { "email": email, "password": password, "client": "CLI" } } });
    let response = client.post(format!("{}/graphql", app.address)).json(&body).send().await.unwrap();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    (body["data"]["logIn"]["userErrors"][0]["code"].as_str().map(str::to_owned), retry_after)
}

/// Wrong passwords from one address: after three, that address waits (with
/// Retry-After), even with the right password; the owner, from another
/// address, logs in as usual. Nobody can lock an account for everyone.
async fn logins_are_throttled(app: &TestApp) {
    let _ = person(app, "target@example.com").await;
    let stranger = [127, 0, 0, 1];
    let owner = [127, 0, 0, 2];
    for _ in 0..3 {
        let (code, _) = log_in_from(app, stranger, "target@example.com", "wrong password 123").await;
        assert_eq!(code.as_deref(), Some("UNAUTHENTICATED"));
    }
    for password in ["wrong password 123", PASSWORD] {
        let (code, retry_after) = log_in_from(app, stranger, "target@example.com", password).await;
        assert_eq!(code.as_deref(), Some("RATE_LIMITED"));
        let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=2).contains(&secs), "the first wait is short: {secs}");
    }
    let (code, _) = log_in_from(app, owner, "target@example.com", PASSWORD).await;
    assert_eq!(code, None, "the owner at another address is not locked out");
}

on_both_backends! {
    async fn logins_are_throttled_in_memory(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        logins_are_throttled(&app).await;
    }
}

on_both_backends! {
    async fn logins_are_throttled_in_redis_and_requests_per_credential(backend: Backend) {
        let redis = strata_testkit::TestRedis::new().await;
        let options = strata_testkit::TestOptions { redis_url: Some(redis.url.clone()), rate_limit_per_minute: Some(20), ..Default::default() };
        let app = TestApp::spawn_with_options(backend, options).await;
        logins_are_throttled(&app).await;
        let mut connection = redis.connection().await;
        let keys: Vec<String> = redis::cmd("KEYS").arg("strata:*:rl:login-fail:*").query_async(&mut connection).await.unwrap();
        assert!(!keys.is_empty(), "the counts are in Redis");
        assert!(keys.iter().all(|k| !k.contains("target@")), "subjects are hashed: {keys:?}");

        // 20 requests a minute per credential: the 21st gets 429 with Retry-After; another credential is unaffected.
        let ws = app.client().workspace("default");
        let mut limited = None;
        for _ in 0..25 {
            if let Err(strata_client::ClientError::Api { status: 429, code, .. }) = ws.repo_list().await {
                limited = Some(code);
                break;
            }
        }
        assert_eq!(limited.as_deref(), Some("RATE_LIMITED"));
        let health = reqwest::get(format!("{}/healthz", app.address)).await.unwrap();
        assert_eq!(health.status(), 200, "probes are never limited");
    }
}

/// SQL statements the server has sent so far to answer requests
/// (`strata_db_queries_total`). Background work is left out: the pipeline
/// master and the embedded workers poll the database every second, and a
/// slow request on a loaded machine would count their statements as its own.
async fn queries_so_far(app: &TestApp) -> u64 {
    crate::limits::metric(app, "strata_db_queries_total", "origin=\"request\"").await as u64
}

/// The fewest statements one run of `query` took over three runs, each
/// right after a cheap query with the same token, so that the token's
/// check (cached for a couple of seconds) is not counted however slowly a
/// loaded machine runs the page.
async fn statements_for(app: &TestApp, token: &str, query: &str) -> u64 {
    let mut fewest = u64::MAX;
    for _ in 0..3 {
        gql(app, Some(token), "{ viewer { id } }", json!({})).await;
        let before = queries_so_far(app).await;
        let body = gql(app, Some(token), query, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        fewest = fewest.min(queries_so_far(app).await - before);
    }
    fewest
}

on_both_backends! {
    async fn a_page_of_workspaces_with_members_costs_the_same_queries_as_a_few(backend: Backend) {
        // 100 workspaces in one organisation take the operator's say-so.
        let options = strata_testkit::TestOptions { org_plans: Some("big=enterprise".into()), ..Default::default() };
        let app = TestApp::spawn_with_options(backend, options).await;
        let owner = person(&app, "owner@example.com").await;
        let member = person(&app, "member@example.com").await;
        mutate(&app, Some(&owner), "createOrganization", json!({ "slug": "big" }), "organization { id }").await;
        mutate(&app, Some(&owner), "inviteMember", json!({ "organization": "big", "email": "member@example.com" }), "invitation { id }").await;
        mutate(&app, Some(&member), "acceptInvitation", json!({ "token": mailed_token(&app, "member@example.com") }), "organization { id }").await;
        let member_id = gql(&app, Some(&member), "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"].clone();
        let add = |n: usize| {
            let (app, owner, member_id) = (&app, owner.clone(), member_id.clone());
            async move {
                let slug = format!("ws-{n:03}");
                mutate(app, Some(&owner), "createWorkspace", json!({ "organization": "big", "slug": slug }), "workspace { id }").await;
                let bind = json!({ "organization": "big", "workspace": slug, "userId": member_id, "role": "READER" });
                mutate(app, Some(&owner), "setRoleBinding", bind, "ok").await;
            }
        };
        let page = "{ organization(slug: \"big\") { workspaces(first: 100) { totalCount edges { node { slug state members { email role } } } } } }";
        for n in 0..5 {
            add(n).await;
        }
        let few = statements_for(&app, &owner, page).await;
        for n in 5..100 {
            add(n).await;
        }
        let many = statements_for(&app, &owner, page).await;
        let body = gql(&app, Some(&owner), page, json!({})).await;
        let edges = body["data"]["organization"]["workspaces"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 100);
        assert_eq!(edges[99]["node"]["members"], json!([{ "email": "member@example.com", "role": "READER" }]));
        assert!(many <= few + 2, "5 workspaces took {few} statements, 100 took {many}");
        assert!(few <= 12, "{few} statements for one page");
    }
}

on_both_backends! {
    async fn from_sign_up_to_a_ci_script_that_runs_a_pipeline(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        // A team lead signs up, makes an organisation, invites a colleague and asks for a workspace.
        let lead = person(&app, "lead@team.example").await;
        mutate(&app, Some(&lead), "createOrganization", json!({ "slug": "team" }), "organization { id }").await;
        let colleague = person(&app, "dev@team.example").await;
        mutate(&app, Some(&lead), "inviteMember", json!({ "organization": "team", "email": "dev@team.example", "role": "ADMIN" }), "invitation { id }").await;
        let joined = mutate(&app, Some(&colleague), "acceptInvitation", json!({ "token": mailed_token(&app, "dev@team.example") }), "organization { slug viewerRole }").await;
        assert_eq!(joined["organization"], json!({ "slug": "team", "viewerRole": "ADMIN" }));
        let ws = mutate(&app, Some(&lead), "createWorkspace", json!({ "organization": "team", "slug": "ci" }), "workspace { state }").await;
        assert_eq!(ws["workspace"]["state"], "PENDING", "the provisioner takes it from here");

        // This in-process test app runs no provisioner (the CLI suite runs the same script against
        // a provisioned workspace: `provisioner::a_created_workspace_runs_on_its_own_server…`), so
        // the job runs in the server's own workspace: the local admin lets the lead in, and the
        // lead makes a CI token for it.
        mutate(&app, Some(&app.admin_token), "inviteMember", json!({ "organization": "local", "email": "lead@team.example", "role": "ADMIN" }), "invitation { id }").await;
        mutate(&app, Some(&lead), "acceptInvitation", json!({ "token": mailed_token(&app, "lead@team.example") }), "organization { slug }").await;
        let made = mutate(&app, Some(&lead), "createApiToken",
            json!({ "organization": "local", "workspace": "default", "name": "github-actions", "role": "WRITER", "expiresInDays": 90 }), "token").await;

        let dir = app.data_dir.join("ci-job");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("words.txt"), "the quick brown fox\n").unwrap();
        std::fs::write(dir.join("count.json"), r#"{"pipeline": {"name": "count"}, "input": {"pfs": {"repo": "docs", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "wc -w < $PFS/docs/words.txt > $PFS/out/words"]}}"#).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/ci/strata-ci.sh");
        let output = tokio::process::Command::new("bash")
            .arg(script)
            .args(["docs", dir.join("words.txt").to_str().unwrap(), dir.join("count.json").to_str().unwrap()])
            .env("STRATA_ENDPOINT", &app.address)
            .env("STRATA_TOKEN", made["token"].as_str().unwrap())
            .env("STRATA_ORG", "local")
            .env("STRATA_WORKSPACE", "default")
            .output()
            .await
            .expect("run the CI script");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("SUCCESS {\"total\":1,\"processed\":1,\"skipped\":0,\"failed\":0}"), "{stdout}");
        let words = app.client().workspace("default").file_inspect("count", "master", "/words").await.expect("the output");
        assert_eq!(words.size, 2, "`4\\n`");
        // Running the same job again is idempotent: the repo exists (ALREADY_EXISTS is fine), the pipeline is updated.
        let again = tokio::process::Command::new("bash").arg(script)
            .args(["docs", dir.join("words.txt").to_str().unwrap(), dir.join("count.json").to_str().unwrap()])
            .env("STRATA_ENDPOINT", &app.address).env("STRATA_TOKEN", made["token"].as_str().unwrap())
            .env("STRATA_ORG", "local").env("STRATA_WORKSPACE", "default")
            .output().await.unwrap();
        assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    }
}

on_both_backends! {
    async fn the_gateway_checks_roles_like_the_workspace_endpoints(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let local = strata_hub::LOCAL_ORG;
        let admin = app.client().org_workspace(local, "default");
        admin.repo_create("images", "").await.expect("the admin creates a repo through the gateway");
        assert_eq!(app.client().workspace("default").repo_list().await.expect("list").len(), 1, "same workspace");

        let (status, code, _) = api_error(app.anonymous_client().org_workspace(local, "default").repo_list().await);
        assert_eq!((status, code.as_str()), (401, "UNAUTHENTICATED"));

        // Another organisation's person: the same answer as for nothing at all.
        let bob = person(&app, "bob@b.example").await;
        let as_bob = app.anonymous_client().with_token(bob.clone());
        let foreign = api_error(as_bob.org_workspace(local, "default").repo_inspect("images").await);
        let missing = api_error(as_bob.org_workspace("no-such-org", "nothing").repo_inspect("images").await);
        assert_eq!((foreign.0, foreign.1.as_str()), (404, "NOT_FOUND"));
        assert_eq!(foreign.2.replace("`default` in `local`", "X"), missing.2.replace("`nothing` in `no-such-org`", "X"));

        // Bound as reader: reads pass through, writes stop at the gateway.
        let invite = json!({ "organization": local, "email": "bob@b.example", "role": "MEMBER" });
        mutate(&app, Some(&app.admin_token), "inviteMember", invite, "invitation { id }").await;
        mutate(&app, Some(&bob), "acceptInvitation", json!({ "token": mailed_token(&app, "bob@b.example") }), "organization { slug }").await;
        let bob_id = gql(&app, Some(&bob), "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"].clone();
        let bind = json!({ "organization": local, "workspace": "default", "userId": bob_id, "role": "READER" });
        mutate(&app, Some(&app.admin_token), "setRoleBinding", bind, "ok").await;
        let reader = as_bob.org_workspace(local, "default");
        assert_eq!(reader.repo_list().await.expect("a reader lists").len(), 1);
        let (status, code, _) = api_error(reader.repo_create("mine", "").await);
        assert_eq!((status, code.as_str()), (403, "FORBIDDEN"));
        let body = reader.put("images", "master", "/x.txt", false, false, reqwest::Body::from("x")).await;
        assert_eq!(api_error(body).0, 403, "uploads are checked before any byte is forwarded");

        // Bytes stream both ways through the gateway.
        let payload = vec![7u8; 3 * 1024 * 1024];
        admin.put("images", "master", "/big.bin", false, false, reqwest::Body::from(payload.clone())).await.expect("upload");
        let download = admin.get_file("images", "master", "/big.bin", None, None).await.expect("download");
        assert_eq!(download.bytes().await.expect("bytes").as_ref(), payload.as_slice());
        // Names with characters that URLs escape arrive unchanged.
        admin.put("images", "master", "/a b#50%.txt", false, false, reqwest::Body::from("odd")).await.expect("odd name");
        let direct = app.client().workspace("default");
        assert_eq!(direct.file_inspect("images", "master", "/a b#50%.txt").await.expect("same name").size, 3);

        // A workspace without a server yet (no provisioner in this test app).
        mutate(&app, Some(&app.admin_token), "createWorkspace", json!({ "organization": local, "slug": "later" }), "workspace { state }").await;
        let (status, code, message) = api_error(app.client().org_workspace(local, "later").repo_list().await);
        assert_eq!((status, code.as_str()), (409, "WORKSPACE_NOT_READY"), "{message}");
        assert!(message.contains("PENDING"), "{message}");
    }
}

/// The raw answer (status and body bytes) to a sign-up for `email`.
async fn sign_up_raw(app: &TestApp, email: &str) -> (u16, Vec<u8>) {
    let query =
        "mutation($i: SignUpInput!) { signUp(input: $i) { ok user { id email } userErrors { field message code } } }";
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query, "variables": { "i": { "email": email, "password": "yet another passphrase 9" } } }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

on_both_backends! {
    async fn sign_up_answers_a_taken_address_byte_for_byte_like_a_new_one(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let _ = person(&app, "carol@example.com").await;
        let fresh = sign_up_raw(&app, "dave@example.com").await;
        let taken = sign_up_raw(&app, "carol@example.com").await;
        assert_eq!(fresh, taken, "{} vs {}", String::from_utf8_lossy(&fresh.1), String::from_utf8_lossy(&taken.1));
        let outbox = strata_hub::OutboxMailer::new(app.data_dir.join("outbox"));
        let note = outbox.messages_to("carol@example.com").pop().expect("a mail to carol");
        assert_eq!(note.subject, "You already have a Strata account");
        assert!(note.link.is_some_and(|link| link.ends_with("/login")));
        let verify = outbox.messages_to("dave@example.com").pop().expect("a mail to dave");
        assert!(verify.link.is_some_and(|link| link.contains("/verify-email?token=")));
    }
}

/// The fewest SQL statements one gateway request took over three runs.
async fn gateway_statements(app: &TestApp, token: &str, path: &str) -> (u16, u64) {
    let mut fewest = (0, u64::MAX);
    for _ in 0..3 {
        let before = queries_so_far(app).await;
        let response =
            reqwest::Client::new().get(format!("{}{path}", app.address)).bearer_auth(token).send().await.unwrap();
        let status = response.status().as_u16();
        let _ = response.bytes().await.unwrap();
        let spent = queries_so_far(app).await - before;
        if spent < fewest.1 {
            fewest = (status, spent);
        }
    }
    fewest
}

on_both_backends! {
    async fn the_gateway_does_the_same_work_whether_a_workspace_exists_or_not(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let alice = person(&app, "alice@a.example").await;
        let bob = person(&app, "bob@b.example").await;
        mutate(&app, Some(&alice), "createOrganization", json!({ "slug": "org-a" }), "organization { id }").await;
        mutate(&app, Some(&bob), "createOrganization", json!({ "slug": "org-b" }), "organization { id }").await;
        mutate(&app, Some(&alice), "createWorkspace", json!({ "organization": "org-a", "slug": "wa" }), "workspace { id }").await;
        let mut seen = Vec::new();
        for (who, path) in [
            (&alice, "/v1/orgs/org-a/workspaces/wa/repos"),
            (&bob, "/v1/orgs/org-a/workspaces/wa/repos"),
            (&bob, "/v1/orgs/org-a/workspaces/nothing/repos"),
            (&bob, "/v1/orgs/no-such-org/workspaces/wa/repos"),
            (&bob, "/v1/orgs/org-b/workspaces/nothing/repos/x/branches"),
        ] {
            seen.push((path, gateway_statements(&app, who, path).await));
        }
        assert_eq!(seen[0].1.0, 409, "alice's workspace exists but has no server yet: {seen:?}");
        assert!(seen[1..].iter().all(|(_, (status, _))| *status == 404), "{seen:?}");
        assert!(seen.iter().all(|(_, (_, n))| *n == seen[0].1.1), "the same statements on every path: {seen:?}");
    }
}

on_both_backends! {
    /// Secrets over GraphQL: writers put them, readers see names and keys,
    /// nobody sees a value, and each change is audited by name only.
    async fn secrets_are_write_only_over_graphql_readers_see_keys_and_changes_are_audited(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let target = json!({ "organization": strata_hub::LOCAL_ORG, "workspace": "default" });
        let put = json!({ "target": target, "name": "db", "data": [{ "key": "password", "value": "hunter2" }] });
        let made = mutate(&app, Some(&app.admin_token), "putSecret", put.clone(), "secret { name keys }").await;
        assert_eq!(made["secret"], json!({ "name": "db", "keys": ["password"] }));
        let again = refused(&app, Some(&app.admin_token), "putSecret", put.clone()).await;
        assert_eq!(again["code"], "ALREADY_EXISTS", "{again}");

        let bob = person(&app, "bob@b.example").await;
        let invite = json!({ "organization": strata_hub::LOCAL_ORG, "email": "bob@b.example", "role": "MEMBER" });
        mutate(&app, Some(&app.admin_token), "inviteMember", invite, "invitation { id }").await;
        mutate(&app, Some(&bob), "acceptInvitation", json!({ "token": mailed_token(&app, "bob@b.example") }), "organization { slug }").await;
        let bob_id = gql(&app, Some(&bob), "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"].clone();
        let bind = json!({ "organization": strata_hub::LOCAL_ORG, "workspace": "default", "userId": bob_id, "role": "READER" });
        mutate(&app, Some(&app.admin_token), "setRoleBinding", bind, "ok").await;
        let listed = gql(&app, Some(&bob), "{ workspace(organization: \"local\", slug: \"default\") { secrets { name keys } } }", json!({})).await;
        assert_eq!(listed["data"]["workspace"]["secrets"], json!([{ "name": "db", "keys": ["password"] }]), "{listed}");
        assert!(!listed.to_string().contains("hunter2"));
        let overwrite = json!({ "target": target, "name": "db", "overwrite": true, "data": [{ "key": "password", "value": "x" }] });
        let error = refused(&app, Some(&bob), "putSecret", overwrite).await;
        assert_eq!(error["code"], "FORBIDDEN", "{error}");
        let error = refused(&app, Some(&bob), "deleteSecret", json!({ "target": target, "name": "db" })).await;
        assert_eq!(error["code"], "FORBIDDEN", "{error}");

        mutate(&app, Some(&app.admin_token), "deleteSecret", json!({ "target": target, "name": "db" }), "deleted").await;
        let audit = gql(&app, Some(&person_admin_session(&app).await), "{ organization(slug: \"local\") { auditEvents(first: 20, action: \"secret.\") { edges { node { action target } } } } }", json!({})).await;
        let events = audit["data"]["organization"]["auditEvents"]["edges"].as_array().cloned().unwrap_or_default();
        let actions: Vec<(String, String)> = events.iter().map(|e| (e["node"]["action"].as_str().unwrap_or_default().to_owned(), e["node"]["target"].as_str().unwrap_or_default().to_owned())).collect();
        assert!(actions.contains(&("secret.put".to_owned(), "secret:db".to_owned())), "{audit}");
        assert!(actions.contains(&("secret.delete".to_owned(), "secret:db".to_owned())), "{audit}");
        assert!(!audit.to_string().contains("hunter2"));
    }
}
