//! The crate graph is a design decision, written down in
//! `docs/crate-graph.toml`: these tests hold Cargo's graph, and the table in
//! `docs/architecture.md`, to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BEGIN: &str = "<!-- crate-graph: rendered from docs/crate-graph.toml; STRATA_UPDATE_DOCS=1 regenerates it -->";
const END: &str = "<!-- /crate-graph -->";

/// What one crate may depend on among the workspace's crates.
#[derive(Debug, Default, PartialEq, Eq)]
struct Allowed {
    path: String,
    about: String,
    uses: BTreeSet<String>,
    tests: BTreeSet<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate sits in the workspace root").to_owned()
}

fn declared() -> BTreeMap<String, Allowed> {
    let text = std::fs::read_to_string(root().join("docs/crate-graph.toml")).expect("docs/crate-graph.toml");
    let file: toml::Table = toml::from_str(&text).expect("docs/crate-graph.toml parses");
    let crates = file["crates"].as_table().expect("a [crates] table");
    let names = |value: Option<&toml::Value>| -> BTreeSet<String> {
        value
            .and_then(toml::Value::as_array)
            .map(|list| list.iter().map(|n| n.as_str().expect("crate names are strings").to_owned()).collect())
            .unwrap_or_default()
    };
    crates
        .iter()
        .map(|(name, entry)| {
            let text = |key: &str| entry.get(key).and_then(toml::Value::as_str).unwrap_or_default().to_owned();
            let allowed = Allowed {
                path: text("path"),
                about: text("about"),
                uses: names(entry.get("uses")),
                tests: names(entry.get("tests")),
            };
            (name.clone(), allowed)
        })
        .collect()
}

/// Cargo's view: each workspace crate's dependencies on the others, normal
/// and dev-only, with the crate's directory relative to the workspace root.
fn actual() -> BTreeMap<String, Allowed> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let members: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let root = root();
    packages
        .iter()
        .map(|package| {
            let on_members = |kinds: &[Value]| -> BTreeSet<String> {
                package["dependencies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|d| kinds.contains(&d["kind"]))
                    .filter_map(|d| d["name"].as_str())
                    .filter(|name| members.contains(name))
                    .map(str::to_owned)
                    .collect()
            };
            let uses = on_members(&[Value::Null, Value::from("build")]);
            let tests = on_members(&[Value::from("dev")]).difference(&uses).cloned().collect();
            let manifest = Path::new(package["manifest_path"].as_str().expect("manifest_path"));
            let dir = manifest.parent().and_then(|d| d.strip_prefix(&root).ok()).expect("a crate inside the workspace");
            let name = package["name"].as_str().expect("name").to_owned();
            (name, Allowed { path: dir.to_string_lossy().into_owned(), about: String::new(), uses, tests })
        })
        .collect()
}

#[test]
fn every_crate_depends_on_exactly_what_the_declared_graph_allows() {
    let declared = declared();
    let actual = actual();
    let mut problems = Vec::new();
    for name in actual.keys().filter(|n| !declared.contains_key(*n)) {
        problems.push(format!("{name} is not declared in docs/crate-graph.toml"));
    }
    for name in declared.keys().filter(|n| !actual.contains_key(*n)) {
        problems.push(format!("{name} is declared but is not a workspace crate"));
    }
    for (name, real) in &actual {
        let Some(rule) = declared.get(name) else { continue };
        if rule.path != real.path {
            problems.push(format!("{name} lives in {}, declared at {}", real.path, rule.path));
        }
        for (kind, have, may) in [("depends on", &real.uses, &rule.uses), ("tests use", &real.tests, &rule.tests)] {
            for extra in have.difference(may) {
                problems.push(format!("{name} {kind} {extra}, which the declared graph does not allow"));
            }
            for missing in may.difference(have) {
                problems.push(format!("{name}: the declared graph lets it {kind} {missing}, which it no longer does"));
            }
        }
    }
    assert!(problems.is_empty(), "the crate graph differs from docs/crate-graph.toml:\n  {}", problems.join("\n  "));
}

#[test]
fn domain_crates_never_reach_the_client_nor_each_other_backwards() {
    // The rules behind the table, stated once more so that editing the
    // TOML cannot quietly drop them.
    let declared = declared();
    for server_only in ["strata-pfs", "strata-pps", "strata-hub", "strata-core", "strata-api-types"] {
        let rule = &declared[server_only];
        assert!(!rule.uses.contains("strata-client"), "{server_only} must not depend on the client");
    }
    assert!(declared["strata-api-types"].uses.is_empty(), "api-types depends on no crate of ours");
    assert!(declared["strata-core"].uses.is_empty(), "core knows no service");
    assert!(!declared["strata-pfs"].uses.contains("strata-pps"), "PFS does not know PPS");
}

fn rendered(declared: &BTreeMap<String, Allowed>) -> String {
    let list = |names: &BTreeSet<String>| -> String {
        if names.is_empty() {
            "—".to_owned()
        } else {
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        }
    };
    let mut table =
        String::from("| crate | what it is | depends on | its tests also use |\n| --- | --- | --- | --- |\n");
    for (name, rule) in declared {
        table.push_str(&format!(
            "| `{name}` (`{}`) | {} | {} | {} |\n",
            rule.path,
            rule.about,
            list(&rule.uses),
            list(&rule.tests)
        ));
    }
    table
}

#[test]
fn the_architecture_doc_shows_the_declared_graph() {
    let doc_path = root().join("docs/architecture.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/architecture.md");
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/architecture.md must hold the crate table between `{BEGIN}` and `{END}`");
    };
    let expected = format!("{BEGIN}\n{}{END}", rendered(&declared()));
    let current = &doc[start..end + END.len()];
    if current == expected {
        return;
    }
    if std::env::var_os("STRATA_UPDATE_DOCS").is_some() {
        let updated = format!("{}{expected}{}", &doc[..start], &doc[end + END.len()..]);
        std::fs::write(&doc_path, updated).expect("write docs/architecture.md");
        return;
    }
    panic!("docs/architecture.md's crate table is stale; run with STRATA_UPDATE_DOCS=1 to regenerate it");
}
