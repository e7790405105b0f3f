//! `/graphql` over HTTP: which methods may do what, and the limits of its
//! arguments (issue 15, findings 11 and 12).

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use serde_json::{Value, json};
use strata_testkit::{Backend, TestApp};

fn get(app: &TestApp, query: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .get(format!("{}/graphql", app.address))
        .query(&[("query", query)])
        .bearer_auth(&app.admin_token)
}

async fn repo_names(app: &TestApp) -> Vec<String> {
    let repos = app.client().workspace("default").repo_list().await.unwrap();
    repos.into_iter().map(|repo| repo.name).collect()
}

#[tokio::test]
async fn a_mutation_sent_by_get_is_refused_and_changes_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let target = format!("{{ organization: \"{}\", workspace: \"default\" }}", strata_hub::LOCAL_ORG);
    let mutation =
        format!("mutation {{ createRepo(input: {{ target: {target}, name: \"viaget\" }}) {{ repo {{ name }} }} }}");

    let response = get(&app, &mutation).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "METHOD_NOT_ALLOWED", "{body}");
    assert!(body["message"].as_str().unwrap().contains("POST"), "{body}");
    // Named operations and HEAD are no way around it.
    let named = format!("query Q {{ version {{ api }} }} {}", mutation.replacen("mutation", "mutation M", 1));
    for operation in [Some("M"), None] {
        let mut query = vec![("query", named.as_str())];
        query.extend(operation.map(|name| ("operationName", name)));
        let response = reqwest::Client::new()
            .get(format!("{}/graphql", app.address))
            .query(&query)
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "operation {operation:?}");
    }
    let head = reqwest::Client::new()
        .head(format!("{}/graphql", app.address))
        .query(&[("query", mutation.as_str())])
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 405);
    assert!(!repo_names(&app).await.contains(&"viaget".to_owned()), "nothing was created");

    // The same mutation by POST works (so the GET above would have changed something),
    // and queries by GET still work.
    let posted: Value = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.admin_token)
        .json(&json!({ "query": mutation }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["data"]["createRepo"]["repo"]["name"], "viaget", "{posted}");
    let queried: Value = get(&app, "{ version { api } }").send().await.unwrap().json().await.unwrap();
    assert_eq!(queried["data"]["version"]["api"], 1, "{queried}");
}

#[tokio::test]
async fn head_is_answered_where_get_is() {
    let web = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>Strata</title>").unwrap();
    std::fs::write(web.path().join("assets/app-3f2a9c.js"), "console.log(1)").unwrap();
    let options = strata_testkit::TestOptions { web_dir: Some(web.path().to_path_buf()), ..Default::default() };
    let app = TestApp::spawn_with_options(Backend::Sqlite, options).await;
    let client = reqwest::Client::new();
    let head = |path: &str, accept: &str| {
        client.head(format!("{}{path}", app.address)).header("accept", accept.to_owned()).send()
    };

    let asset = head("/assets/app-3f2a9c.js", "*/*").await.unwrap();
    assert_eq!(asset.status(), 200);
    assert!(asset.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(asset.bytes().await.unwrap().is_empty(), "HEAD has no body");

    let explorer = head("/graphql", "text/html").await.unwrap();
    assert_eq!(explorer.status(), 200);
    assert!(explorer.headers().contains_key("content-security-policy"));
    let query = client.head(format!("{}/graphql?query=%7Bversion%7Bapi%7D%7D", app.address)).send().await.unwrap();
    assert_eq!(query.status(), 200);
    assert_eq!(head("/", "text/html").await.unwrap().status(), 200);
    assert_eq!(head("/assets/nope.js", "*/*").await.unwrap().status(), 404);
}

#[tokio::test]
async fn page_sizes_outside_the_documented_range_are_a_typed_error() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = app.client().workspace("default");
    ws.repo_create("words", "").await.unwrap();
    for n in 0..3 {
        ws.put("words", "master", &format!("/{n}.txt"), false, false, reqwest::Body::from("x")).await.unwrap();
    }
    let commits = |first: i64| {
        format!(
            "{{ workspace(organization: \"{}\", slug: \"default\") {{ repos {{ commits(first: {first}) {{ id }} }} }} }}",
            strata_hub::LOCAL_ORG
        )
    };
    let run = |query: String| {
        let app = &app;
        async move {
            reqwest::Client::new()
                .post(format!("{}/graphql", app.address))
                .bearer_auth(&app.admin_token)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    for first in [0, 101, 2_147_483_647] {
        let body = run(commits(first)).await;
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "INVALID_ARGUMENT", "first: {first}: {body}");
        assert!(error["message"].as_str().unwrap().contains("between 1 and 100"), "{body}");
    }
    let body = run(commits(2)).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["workspace"]["repos"][0]["commits"].as_array().unwrap().len(), 2, "{body}");

    let orgs = |first: i64| format!("{{ viewer {{ organizations(first: {first}) {{ totalCount }} }} }}");
    for first in [0, 2_147_483_647] {
        let body = run(orgs(first)).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_ARGUMENT", "first: {first}: {body}");
    }
}
