//! Request paths that mean one thing to the role check and another to the
//! server behind it (the penetration test's path traversal): sent byte for
//! byte over a raw connection, since HTTP clients normalise them away.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use serde_json::{Value, json};
use strata_testkit::{TestApp, on_both_backends};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::hub::{gql, mailed_token, mutate, person, person_admin_session};

/// Sends `method path` exactly as written and returns the status and body.
async fn raw(app: &TestApp, method: &str, path: &str, token: &str) -> (u16, Value) {
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{answer}"));
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    // Short answers come with Content-Length here; anything else is not JSON.
    (status, serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())))
}

/// A member of the local organisation bound `role` on the default
/// workspace, or on one repo of it.
async fn member(app: &TestApp, email: &str, role: &str, repo: Option<&str>) -> String {
    let token = person(app, email).await;
    let invite = json!({ "organization": strata_hub::LOCAL_ORG, "email": email, "role": "MEMBER" });
    mutate(app, Some(&app.admin_token), "inviteMember", invite, "invitation { id }").await;
    mutate(
        app,
        Some(&token),
        "acceptInvitation",
        json!({ "token": mailed_token(app, email) }),
        "organization { slug }",
    )
    .await;
    let id = gql(app, Some(&token), "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"].clone();
    let mut bind = json!({ "organization": strata_hub::LOCAL_ORG, "workspace": "default", "userId": id, "role": role });
    if let Some(repo) = repo {
        bind["repo"] = json!(repo);
    }
    mutate(app, Some(&app.admin_token), "setRoleBinding", bind, "ok").await;
    token
}

fn assert_invalid_path((status, body): (u16, Value), what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["code"], "INVALID_PATH", "{what}: {body}");
}

on_both_backends! {
    async fn dot_segments_never_reach_a_workspace_through_the_gateway_or_directly(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.client().workspace("default");
        for repo in ["victim", "public", "secrets"] {
            admin.repo_create(repo, "").await.expect("a repo");
        }
        admin.put("secrets", "master", "/plan.txt", false, false, reqwest::Body::from("the plan")).await.expect("a file");
        let gateway = "/v1/orgs/local/workspaces/default";
        let direct = "/v1/workspaces/default";

        // A workspace writer: deleting a repo and storage maintenance need admin.
        let writer = member(&app, "wendy@a.example", "WRITER", None).await;
        assert_eq!(raw(&app, "DELETE", &format!("{gateway}/repos/victim"), &writer).await.0, 403, "the plain form");
        for prefix in [gateway, direct] {
            assert_invalid_path(raw(&app, "DELETE", &format!("{prefix}/repos/x/../victim"), &writer).await, "../");
            assert_invalid_path(raw(&app, "DELETE", &format!("{prefix}/repos/x/%2e%2E/victim"), &writer).await, "%2e");
            assert_invalid_path(raw(&app, "DELETE", &format!("{prefix}/repos/x%2f..%2fvictim"), &writer).await, "%2f");
            assert_invalid_path(raw(&app, "DELETE", &format!("{prefix}/repos/x\\..\\victim"), &writer).await, "\\");
            assert_invalid_path(raw(&app, "DELETE", &format!("{prefix}/repos/x/%252e%252e/victim"), &writer).await, "%25");
            assert_invalid_path(raw(&app, "POST", &format!("{prefix}/x/%2e%2e/fsck"), &writer).await, "fsck");
        }

        // A writer of one repo only reaches no other repo and no pipeline.
        let narrow = member(&app, "rita@a.example", "WRITER", Some("public")).await;
        for prefix in [gateway, direct] {
            let read = format!("{prefix}/repos/public/../secrets/refs/master/files/plan.txt");
            assert_invalid_path(raw(&app, "GET", &read, &narrow).await, "read another repo");
            let create = format!("{prefix}/repos/public/../../pps/pipelines");
            assert_invalid_path(raw(&app, "POST", &create, &narrow).await, "create a pipeline");
        }
        let (status, _) = raw(&app, "GET", &format!("{gateway}/repos/public"), &narrow).await;
        assert_eq!(status, 200, "her own repo still works");

        // Nothing changed, and methods outside the API are refused, not guessed.
        assert_eq!(admin.repo_list().await.expect("list").len(), 3, "victim survived");
        assert!(admin.pipeline_list().await.expect("pipelines").is_empty());
        let (status, body) = raw(&app, "PROPFIND", &format!("{gateway}/repos"), &writer).await;
        assert_eq!((status, body["code"].as_str()), (405, Some("METHOD_NOT_ALLOWED")), "{body}");
    }
}

on_both_backends! {
    async fn odd_names_reach_the_workspace_unchanged_and_admin_deletes_are_audited(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.client().org_workspace(strata_hub::LOCAL_ORG, "default");
        admin.repo_create("victim", "").await.expect("a repo");
        let name = "/a b#50%=;,'~$&:|\"<>`.txt";
        admin.put("victim", "master", name, false, false, reqwest::Body::from("odd")).await.expect("an odd name");
        let direct = app.client().workspace("default");
        assert_eq!(direct.file_inspect("victim", "master", name).await.expect("the same name").size, 3);

        let (status, _) = raw(&app, "DELETE", "/v1/orgs/local/workspaces/default/repos/victim", &app.admin_token).await;
        assert_eq!(status, 200);
        let query = "{ organization(slug: \"local\") { auditEvents(first: 10, action: \"repo.\") { edges { node { action target } } } } }";
        let audit = gql(&app, Some(&person_admin_session(&app).await), query, json!({})).await;
        let events = &audit["data"]["organization"]["auditEvents"]["edges"];
        assert_eq!(events[0]["node"]["action"], "repo.delete", "{audit}");
        assert_eq!(events[0]["node"]["target"], "repo:victim", "{audit}");
    }
}

on_both_backends! {
    async fn a_repo_deleted_through_graphql_is_audited_and_a_refused_delete_is_not(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.client().workspace("default").repo_create("gone", "").await.expect("a repo");
        let delete = "mutation($name: String!) { deleteRepo(input: { target: { organization: \"local\", workspace: \"default\" }, name: $name }) { deleted userErrors { code } } }";
        let refused = gql(&app, Some(&app.admin_token), delete, json!({ "name": "ghost" })).await;
        assert_eq!(refused["data"]["deleteRepo"]["userErrors"][0]["code"], "NOT_FOUND", "{refused}");
        let deleted = gql(&app, Some(&app.admin_token), delete, json!({ "name": "gone" })).await;
        assert_eq!(deleted["data"]["deleteRepo"]["userErrors"], json!([]), "{deleted}");

        let query = "{ organization(slug: \"local\") { auditEvents(first: 10, action: \"repo.\") { edges { node { action target } } } } }";
        let audit = gql(&app, Some(&person_admin_session(&app).await), query, json!({})).await;
        let targets: Vec<&str> = audit["data"]["organization"]["auditEvents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["target"].as_str().unwrap())
            .collect();
        assert_eq!(targets, ["repo:gone"], "the delete that was refused is not recorded: {audit}");
    }
}
