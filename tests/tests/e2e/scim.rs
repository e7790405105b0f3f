//! SCIM 2.0 over HTTP as Okta and Microsoft Entra speak it: provisioning a
//! person of a verified domain, finding them by filter, deactivating them
//! with Entra's string booleans, groups as teams, and the errors SCIM
//! clients read (`scimType`, status as a string), on both backends.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use serde_json::{Value, json};
use strata_testkit::dns::TestDns;
use strata_testkit::{Backend, TestApp, TestOptions, on_both_backends};

use crate::hub::mutate;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Scim {
    app: TestApp,
    _dns: TestDns,
    base: String,
    token: String,
    http: reqwest::Client,
}

/// The local organisation with `acme.test` verified and a SCIM token.
async fn provisioned(backend: Backend) -> Scim {
    let dns = TestDns::start().await;
    let options = TestOptions { dns_server: Some(dns.addr()), ..TestOptions::default() };
    let app = TestApp::spawn_with_options(backend, options).await;
    let admin = Some(app.admin_token.as_str());
    app.verify_local_domain(&dns, "acme.test").await;
    let issued = mutate(&app, admin, "issueScimToken", json!({ "organization": "local" }), "token baseUrl").await;
    let token = issued["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sts_"));
    let base = format!("{}/scim/v2/local", app.address);
    Scim { app, _dns: dns, base, token, http: reqwest::Client::new() }
}

impl Scim {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header("content-type", "application/scim+json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if status != 204 {
            assert_eq!(response.headers()["content-type"], "application/scim+json", "{path}");
        }
        let text = response.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }
}

/// A user as Okta creates one.
fn okta_user(email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": { "givenName": "Ada", "familyName": "Lovelace" },
        "emails": [{ "primary": true, "value": email, "type": "work" }],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": "00u1okta",
        "active": true
    })
}

on_both_backends!(
    people_are_provisioned_found_deactivated_and_deleted,
    groups_are_teams_with_members_patched_as_idps_send
);

async fn people_are_provisioned_found_deactivated_and_deleted(backend: Backend) {
    use reqwest::Method;
    let scim = provisioned(backend).await;
    let (status, config) = scim.call(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(status, 200);
    assert_eq!(config["patch"]["supported"], true);

    let (status, ada) = scim.call(Method::POST, "/Users", Some(okta_user("Ada@Acme.test"))).await;
    assert_eq!(status, 201, "{ada}");
    assert_eq!(ada["userName"], "ada@acme.test");
    assert_eq!(ada["externalId"], "00u1okta");
    let id = ada["id"].as_str().unwrap().to_owned();

    let (status, again) = scim.call(Method::POST, "/Users", Some(okta_user("ada@acme.test"))).await;
    assert_eq!((status, again["scimType"].as_str()), (409, Some("uniqueness")), "{again}");
    let (status, outsider) = scim.call(Method::POST, "/Users", Some(okta_user("eve@elsewhere.test"))).await;
    assert_eq!(status, 400, "only verified domains: {outsider}");
    assert_eq!(outsider["status"], "400", "SCIM errors carry the status as a string");

    let (status, found) = scim.call(Method::GET, "/Users?filter=userName%20eq%20%22ADA%40acme.test%22", None).await;
    assert_eq!((status, found["totalResults"].as_u64()), (200, Some(1)), "{found}");
    assert_eq!(found["Resources"][0]["id"], id.as_str());
    let (_, none) = scim.call(Method::GET, "/Users?filter=externalId%20eq%20%22nobody%22", None).await;
    assert_eq!(none["totalResults"], 0);
    let (status, bad) = scim.call(Method::GET, "/Users?filter=title%20co%20%22x%22", None).await;
    assert_eq!((status, bad["scimType"].as_str()), (400, Some("invalidFilter")), "{bad}");

    // Entra deactivates with a path and a string boolean.
    let deactivate =
        json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] });
    let (status, off) = scim.call(Method::PATCH, &format!("/Users/{id}"), Some(deactivate)).await;
    assert_eq!((status, off["active"].as_bool()), (200, Some(false)), "{off}");
    let members = crate::hub::gql(
        &scim.app,
        Some(&scim.app.admin_token),
        "{ organization(slug: \"local\") { members { nodes { email } } } }",
        json!({}),
    )
    .await;
    assert!(!members.to_string().contains("ada@acme.test"), "a deactivated person is no member: {members}");
    // Okta reactivates with a value object.
    let reactivate = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "value": { "active": true } }] });
    let (_, on) = scim.call(Method::PATCH, &format!("/Users/{id}"), Some(reactivate)).await;
    assert_eq!(on["active"], true);

    let (status, _) = scim.call(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, gone) = scim.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((status, gone["status"].as_str()), (404, Some("404")));
}

async fn groups_are_teams_with_members_patched_as_idps_send(backend: Backend) {
    use reqwest::Method;
    let scim = provisioned(backend).await;
    let admin = Some(scim.app.admin_token.as_str());
    crate::hub::mutate(
        &scim.app,
        admin,
        "createTeam",
        json!({ "organization": "local", "slug": "by-hand" }),
        "team { slug }",
    )
    .await;
    let (_, ada) = scim.call(Method::POST, "/Users", Some(okta_user("ada@acme.test"))).await;
    let id = ada["id"].as_str().unwrap().to_owned();
    // No externalId (Okta sends none): still the SCIM client's team.
    let group = json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Data Engineering", "members": [{ "value": id }] });
    let (status, made) = scim.call(Method::POST, "/Groups", Some(group)).await;
    assert_eq!(status, 201, "{made}");
    let group_id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["members"][0]["value"], id.as_str());
    let teams = crate::hub::gql(
        &scim.app,
        Some(&scim.app.admin_token),
        "{ organization(slug: \"local\") { teams { slug managedByScim } } }",
        json!({}),
    )
    .await;
    let expected =
        json!([{ "slug": "by-hand", "managedByScim": false }, { "slug": "data-engineering", "managedByScim": true }]);
    assert_eq!(teams["data"]["organization"]["teams"], expected);

    // Okta removes one member by a filtered path, and renames with a value object.
    let remove = json!({ "schemas": [PATCH_OP], "Operations": [
        { "op": "remove", "path": format!("members[value eq \"{id}\"]") },
        { "op": "replace", "value": { "id": group_id, "displayName": "Data Platform" } }
    ] });
    let (status, changed) = scim.call(Method::PATCH, &format!("/Groups/{group_id}"), Some(remove)).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["displayName"], "Data Platform");
    assert!(changed["members"].as_array().is_none_or(Vec::is_empty), "{changed}");
    // Entra adds members with a value list.
    let add = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "Add", "path": "members", "value": [{ "value": id }] }] });
    let (_, added) = scim.call(Method::PATCH, &format!("/Groups/{group_id}"), Some(add)).await;
    assert_eq!(added["members"][0]["value"], id.as_str());
    let (_, by_name) = scim.call(Method::GET, "/Groups?filter=displayName%20eq%20%22data%20platform%22", None).await;
    assert_eq!(by_name["totalResults"], 1, "{by_name}");

    let (status, _) = scim.call(Method::DELETE, &format!("/Groups/{group_id}"), None).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_another_organisation_is_not_found() {
    let scim = provisioned(Backend::Sqlite).await;
    let wrong = scim.http.get(format!("{}/Users", scim.base)).bearer_auth("sts_not-a-token").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let elsewhere = scim
        .http
        .get(format!("{}/scim/v2/nowhere/Users", scim.app.address))
        .bearer_auth(&scim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);
    let none = scim.http.get(format!("{}/Users", scim.base)).send().await.unwrap();
    assert_eq!(none.status(), 401);
}
