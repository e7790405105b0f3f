//! Teams through the `strata` binary: an admin creates one, fills it by
//! email, grants it roles on a workspace and deletes it again.

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::support::{Sandbox, assert_user_error, json, ok};

/// The dev server's own administrator, a member of its organisation.
const ADMIN: &str = "admin@strata.localhost";

fn slugs(list: &Value) -> Vec<&str> {
    list.as_array().expect("a list").iter().map(|t| t["slug"].as_str().expect("slug")).collect()
}

#[test]
fn a_team_is_created_filled_granted_roles_and_deleted() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);
    let made = json(&sandbox, &["team", "create", "data-eng", "--name", "Data engineering"]);
    assert_eq!((made["slug"].as_str(), made["name"].as_str()), (Some("data-eng"), Some("Data engineering")));
    assert_eq!(made["managedByScim"], false);
    assert_user_error(&sandbox.run(&["team", "create", "data-eng"]), &["data-eng", "already"]);
    let nowhere = sandbox.run(&["team", "grant", "nope", "--workspace", "default", "--role", "reader"]);
    assert_user_error(&nowhere, &["no such team", "strata team list"]);
    assert_eq!(slugs(&json(&sandbox, &["team", "list"])), ["data-eng"]);

    assert_user_error(&sandbox.run(&["team", "add", "data-eng", "nobody@example.com"]), &["not a member", "invite"]);
    ok(&sandbox, &["team", "add", "data-eng", "Admin@Strata.Localhost"]);
    let members = json(&sandbox, &["team", "members", "data-eng"]);
    assert_eq!(members[0]["email"], ADMIN);
    assert_eq!(members[0]["source"], "manual");
    assert!(ok(&sandbox, &["team", "list"]).contains("data-eng  Data engineering  1"), "member count in the table");

    let granted = json(&sandbox, &["team", "grant", "data-eng", "--workspace", "default", "--role", "writer"]);
    assert_eq!(granted[0]["role"], "WRITER");
    assert_eq!(granted[0]["repo"], Value::Null);
    let both =
        json(&sandbox, &["team", "grant", "data-eng", "--workspace", "default", "--repo", "raw", "--role", "reader"]);
    assert_eq!(both.as_array().expect("roles").len(), 2);
    let left = json(&sandbox, &["team", "revoke", "data-eng", "--workspace", "default"]);
    assert_eq!(left.as_array().expect("roles").len(), 1);
    assert_eq!((left[0]["repo"].as_str(), left[0]["role"].as_str()), (Some("raw"), Some("READER")));
    let table = ok(&sandbox, &["team", "revoke", "data-eng", "--workspace", "default", "--repo", "raw"]);
    assert_eq!(table.trim(), "TEAM  ON  ROLE", "no roles left");

    ok(&sandbox, &["team", "remove", "data-eng", ADMIN]);
    assert_eq!(json(&sandbox, &["team", "members", "data-eng"]), serde_json::json!([]));
    assert_user_error(&sandbox.run(&["team", "remove", "data-eng", ADMIN]), &["not in team", "strata team members"]);
    assert_eq!(json(&sandbox, &["team", "delete", "data-eng"])["deleted"], true);
    assert!(slugs(&json(&sandbox, &["team", "list"])).is_empty());
    assert_user_error(&sandbox.run(&["team", "members", "data-eng"]), &["no team `data-eng`", "strata team list"]);
    server.stop_with(Signal::SIGTERM);
}
