//! How datums are formed from leaf matches, one behaviour per test.

use serde_json::{Value, json};

use super::*;
use crate::spec::parse_spec;

/// The input tree of a valid spec whose `input` is `value`.
fn input(value: &Value) -> Input {
    let spec = json!({"pipeline": {"name": "p"}, "transform": {"cmd": ["true"]}, "input": value});
    match parse_spec(&spec.to_string()) {
        Ok(spec) => spec.input,
        Err(error) => panic!("the test spec should be valid: {error}"),
    }
}

/// Matches at `paths`, with a content hash derived from the path.
fn files(paths: &[&str]) -> Vec<LeafMatch> {
    paths
        .iter()
        .map(|path| LeafMatch { path: (*path).to_owned(), hash: format!("content of {path}"), size: 1 })
        .collect()
}

fn at<'a>(commit: &'a str, matches: &'a [LeafMatch]) -> LeafSet<'a> {
    LeafSet { commit, matches }
}

/// Each datum as `name:path` items, so expectations read like the mounts.
fn shapes(datums: &[Datum]) -> Vec<Vec<String>> {
    datums.iter().map(|d| d.inputs.iter().map(|i| format!("{}:{}", i.name, i.path)).collect()).collect()
}

fn shape(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[test]
fn a_pfs_input_gives_one_datum_per_match_in_path_order() {
    let tree = input(&json!({"pfs": {"repo": "images", "name": "pics", "glob": "/*"}}));
    let matches = files(&["/a.png", "/b.png"]);
    let datums = combine(&tree, &[at("c1", &matches)], "salt");
    assert_eq!(shapes(&datums), vec![shape(&["pics:/a.png"]), shape(&["pics:/b.png"])]);
    assert_eq!(
        datums[0].inputs[0],
        DatumInput {
            name: "pics".into(),
            repo: "images".into(),
            commit: "c1".into(),
            path: "/a.png".into(),
            key: None
        }
    );
}

#[test]
fn a_cron_input_gives_one_datum_per_tick_file() {
    let tree = input(&json!({"cron": {"name": "tick", "spec": "@every 60s"}}));
    let matches = files(&["/2024-01-01T00:00:00Z", "/2024-01-01T00:01:00Z"]);
    let datums = combine(&tree, &[at("c", &matches)], "");
    assert_eq!(datums.len(), 2);
    assert_eq!((datums[1].inputs[0].name.as_str(), datums[1].inputs[0].repo.as_str()), ("tick", "p_tick"));
}

#[test]
fn a_leaf_without_matches_gives_no_datums() {
    let tree = input(&json!({"pfs": {"repo": "a", "glob": "/*"}}));
    assert!(combine(&tree, &[at("c", &[])], "").is_empty());
    assert!(combine(&tree, &[], "").is_empty(), "a missing leaf set counts as no matches");
}

#[test]
fn a_cross_holds_one_datum_of_each_child_with_the_first_varying_slowest() {
    let tree = input(&json!({"cross": [{"pfs": {"repo": "a", "glob": "/*"}}, {"pfs": {"repo": "b", "glob": "/*"}}]}));
    let (a, b) = (files(&["/1", "/2"]), files(&["/x", "/y", "/z"]));
    let datums = combine(&tree, &[at("ca", &a), at("cb", &b)], "");
    assert_eq!(datums.len(), 2 * 3);
    assert_eq!(shapes(&datums)[0], shape(&["a:/1", "b:/x"]));
    assert_eq!(shapes(&datums)[2], shape(&["a:/1", "b:/z"]));
    assert_eq!(shapes(&datums)[3], shape(&["a:/2", "b:/x"]));
    assert_eq!(datums[4].inputs[1].commit, "cb", "each input keeps its own commit");
}

#[test]
fn a_cross_with_an_empty_child_has_no_datums() {
    let tree = input(&json!({"cross": [{"pfs": {"repo": "a", "glob": "/*"}}, {"pfs": {"repo": "b", "glob": "/*"}}]}));
    let a = files(&["/1", "/2"]);
    assert!(combine(&tree, &[at("ca", &a), at("cb", &[])], "").is_empty());
}

#[test]
fn a_union_concatenates_its_children_in_order() {
    let tree = input(&json!({"union": [{"pfs": {"repo": "a", "glob": "/*"}}, {"pfs": {"repo": "b", "glob": "/*"}}]}));
    let (a, b) = (files(&["/2", "/1"]), files(&["/x"]));
    let datums = combine(&tree, &[at("ca", &a), at("cb", &b)], "");
    assert_eq!(shapes(&datums), vec![shape(&["a:/2"]), shape(&["a:/1"]), shape(&["b:/x"])]);
}

#[test]
fn a_union_keeps_one_datum_per_id() {
    // Two children may share a name; the same repo path through both is one datum.
    let tree = input(&json!({"union": [
        {"pfs": {"repo": "a", "name": "in", "glob": "/*"}},
        {"pfs": {"repo": "a", "name": "in", "glob": "/x*"}}
    ]}));
    let (all, some) = (files(&["/x1", "/y1"]), files(&["/x1"]));
    let datums = combine(&tree, &[at("c", &all), at("c", &some)], "");
    assert_eq!(shapes(&datums), vec![shape(&["in:/x1"]), shape(&["in:/y1"])]);
}

fn join_of(a_outer: bool, b_outer: bool) -> Input {
    input(&json!({"join": [
        {"pfs": {"repo": "a", "glob": "/*/(*).txt", "join_on": "$1", "outer_join": a_outer}},
        {"pfs": {"repo": "b", "glob": "/(*).json", "join_on": "$1", "outer_join": b_outer}}
    ]}))
}

#[test]
fn an_inner_join_crosses_the_entries_that_share_a_key() {
    let a = files(&["/x/1.txt", "/x/2.txt", "/y/1.txt"]);
    let b = files(&["/1.json", "/3.json"]);
    let datums = combine(&join_of(false, false), &[at("ca", &a), at("cb", &b)], "");
    // Key 1 is in both (twice in `a`, so two datums); keys 2 and 3 are one-sided.
    assert_eq!(shapes(&datums), vec![shape(&["a:/x/1.txt", "b:/1.json"]), shape(&["a:/y/1.txt", "b:/1.json"])]);
}

#[test]
fn join_keys_are_exposed_and_datums_come_in_key_order() {
    let a = files(&["/x/b.txt", "/x/a.txt"]);
    let b = files(&["/a.json", "/b.json"]);
    let datums = combine(&join_of(false, false), &[at("ca", &a), at("cb", &b)], "");
    let keys: Vec<_> = datums.iter().map(|d| [d.inputs[0].key.as_deref(), d.inputs[1].key.as_deref()]).collect();
    assert_eq!(keys, vec![[Some("a"), Some("a")], [Some("b"), Some("b")]]);
}

#[test]
fn a_left_outer_join_keeps_unmatched_outer_entries_alone() {
    let a = files(&["/x/1.txt", "/x/2.txt"]);
    let b = files(&["/1.json", "/3.json"]);
    let datums = combine(&join_of(true, false), &[at("ca", &a), at("cb", &b)], "");
    assert_eq!(shapes(&datums), vec![shape(&["a:/x/1.txt", "b:/1.json"]), shape(&["a:/x/2.txt"])]);
}

#[test]
fn a_full_outer_join_keeps_unmatched_entries_of_both_sides() {
    let a = files(&["/x/1.txt", "/x/2.txt"]);
    let b = files(&["/1.json", "/3.json"]);
    let datums = combine(&join_of(true, true), &[at("ca", &a), at("cb", &b)], "");
    assert_eq!(
        shapes(&datums),
        vec![shape(&["a:/x/1.txt", "b:/1.json"]), shape(&["a:/x/2.txt"]), shape(&["b:/3.json"])]
    );
}

#[test]
fn an_incomplete_join_key_yields_each_outer_datum_once() {
    // `c` has the key but `b` does not: only the outer `a` entries remain,
    // and not once per `c` entry.
    let tree = input(&json!({"join": [
        {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1", "outer_join": true}},
        {"pfs": {"repo": "b", "glob": "/(*)", "join_on": "$1"}},
        {"pfs": {"repo": "c", "glob": "/(*)-*", "join_on": "$1"}}
    ]}));
    let (a, c) = (files(&["/k"]), files(&["/k-1", "/k-2"]));
    let datums = combine(&tree, &[at("ca", &a), at("cb", &[]), at("cc", &c)], "");
    assert_eq!(shapes(&datums), vec![shape(&["a:/k"])]);
}

#[test]
fn a_join_without_common_keys_has_no_datums() {
    let (a, b) = (files(&["/x/1.txt"]), files(&["/2.json"]));
    assert!(combine(&join_of(false, false), &[at("ca", &a), at("cb", &b)], "").is_empty());
}

#[test]
fn a_group_holds_every_entry_with_the_key_across_inputs() {
    let tree = input(&json!({"group": [
        {"pfs": {"repo": "sales", "glob": "/(*)-*.csv", "group_by": "$1"}},
        {"pfs": {"repo": "stores", "glob": "/STORE(*).txt", "group_by": "$1"}}
    ]}));
    let sales = files(&["/1-jan.csv", "/1-feb.csv", "/2-jan.csv"]);
    let stores = files(&["/STORE1.txt", "/STORE3.txt"]);
    let datums = combine(&tree, &[at("c1", &sales), at("c2", &stores)], "");
    assert_eq!(
        shapes(&datums),
        vec![
            shape(&["sales:/1-jan.csv", "sales:/1-feb.csv", "stores:/STORE1.txt"]),
            shape(&["sales:/2-jan.csv"]),
            shape(&["stores:/STORE3.txt"]),
        ]
    );
    assert!(datums[0].inputs.iter().all(|i| i.key.as_deref() == Some("1")));
}

#[test]
fn a_join_inside_a_group_is_grouped_by_each_entry_s_own_key() {
    let tree = input(&json!({"group": [
        {"join": [
            {"pfs": {"repo": "a", "glob": "/(*)_(*)", "join_on": "$1", "group_by": "$2"}},
            {"pfs": {"repo": "b", "glob": "/(*)_(*)", "join_on": "$1", "group_by": "$2"}}
        ]},
        {"pfs": {"repo": "c", "glob": "/(*)", "group_by": "$1"}}
    ]}));
    // Join key 1 pairs a:/1_g with both b files; a:/1_g appears once in its group.
    let (a, b, c) = (files(&["/1_g", "/2_h"]), files(&["/1_g", "/1_h"]), files(&["/g"]));
    let datums = combine(&tree, &[at("ca", &a), at("cb", &b), at("cc", &c)], "");
    assert_eq!(shapes(&datums), vec![shape(&["a:/1_g", "b:/1_g", "c:/g"]), shape(&["b:/1_h"])]);
    assert_eq!(datums[1].inputs[0].key.as_deref(), Some("h"), "the group key is shown");
}

#[test]
fn a_union_of_crosses_hands_each_child_its_own_leaves() {
    let tree = input(&json!({"union": [
        {"cross": [{"pfs": {"repo": "a", "glob": "/*"}}, {"pfs": {"repo": "b", "glob": "/*"}}]},
        {"cross": [{"pfs": {"repo": "c", "glob": "/*"}}, {"pfs": {"repo": "d", "glob": "/*"}}]}
    ]}));
    let (a, b, c, d) = (files(&["/a1", "/a2"]), files(&["/b1"]), files(&["/c1"]), files(&["/d1", "/d2"]));
    let datums = combine(&tree, &[at("1", &a), at("2", &b), at("3", &c), at("4", &d)], "");
    assert_eq!(
        shapes(&datums),
        vec![
            shape(&["a:/a1", "b:/b1"]),
            shape(&["a:/a2", "b:/b1"]),
            shape(&["c:/c1", "d:/d1"]),
            shape(&["c:/c1", "d:/d2"]),
        ]
    );
}

#[test]
fn a_cross_of_a_join_and_a_pfs_input_extends_each_joined_datum() {
    let tree = input(&json!({"cross": [
        {"join": [
            {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}},
            {"pfs": {"repo": "b", "glob": "/(*)", "join_on": "$1"}}
        ]},
        {"pfs": {"repo": "model", "glob": "/"}}
    ]}));
    let (a, b, model) = (files(&["/1", "/2"]), files(&["/1", "/2"]), files(&["/"]));
    let datums = combine(&tree, &[at("ca", &a), at("cb", &b), at("cm", &model)], "");
    assert_eq!(shapes(&datums), vec![shape(&["a:/1", "b:/1", "model:/"]), shape(&["a:/2", "b:/2", "model:/"])]);
    assert_eq!(datums[0].inputs[2].key, None);
}

#[test]
fn a_join_leaf_whose_glob_does_not_compile_matches_nothing() {
    let mut tree = join_of(false, false);
    if let Input::Join(children) = &mut tree
        && let Some(Input::Pfs(pfs)) = children.first_mut()
    {
        pfs.glob = "/[".into();
    }
    let (a, b) = (files(&["/x/1.txt"]), files(&["/1.json"]));
    assert!(combine(&tree, &[at("ca", &a), at("cb", &b)], "").is_empty());
}

#[test]
fn ids_are_stable_and_ignore_content_while_hashes_follow_content_and_salt() {
    let tree = input(&json!({"pfs": {"repo": "a", "glob": "/*"}}));
    let before = files(&["/f"]);
    let mut after = files(&["/f"]);
    after[0].hash = "new content".into();
    let first = combine(&tree, &[at("c1", &before)], "s");
    assert_eq!(first, combine(&tree, &[at("c1", &before)], "s"), "the same matches give the same datums");
    let changed = combine(&tree, &[at("c2", &after)], "s");
    assert_eq!(first[0].id, changed[0].id, "content and commit leave the id alone");
    assert_ne!(first[0].hash, changed[0].hash, "content changes the hash");
    let resalted = combine(&tree, &[at("c1", &before)], "t");
    assert_eq!(first[0].id, resalted[0].id);
    assert_ne!(first[0].hash, resalted[0].hash, "a new salt reprocesses everything");
    assert_eq!(first[0].id.len(), 64);
}

#[test]
fn ids_differ_with_the_input_name_repo_and_path() {
    let id = |name: &str, repo: &str, path: &str| {
        datum_id(&[DatumInput {
            name: name.into(),
            repo: repo.into(),
            commit: "c".into(),
            path: path.into(),
            key: None,
        }])
    };
    let base = id("in", "repo", "/f");
    assert_ne!(base, id("other", "repo", "/f"));
    assert_ne!(base, id("in", "other", "/f"));
    assert_ne!(base, id("in", "repo", "/g"));
    assert_ne!(id("ab", "c", "/f"), id("a", "bc", "/f"), "fields are length-prefixed");
}

#[test]
fn an_id_is_blake3_over_length_prefixed_names_repos_and_paths() {
    let tree = input(
        &json!({"cross": [{"pfs": {"repo": "a", "glob": "/*"}}, {"pfs": {"repo": "b", "name": "bee", "glob": "/*"}}]}),
    );
    let (a, b) = (files(&["/1"]), files(&["/2"]));
    let datums = combine(&tree, &[at("ca", &a), at("cb", &b)], "salt");
    let mut hasher = blake3::Hasher::new();
    for text in ["a", "a", "/1", "bee", "b", "/2"] {
        hasher.update(&(text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    let id = hasher.finalize().to_hex().to_string();
    assert_eq!(datums[0].id, id);
    assert_eq!(datum_id(&datums[0].inputs), id, "datum_id agrees with combine");

    let mut hasher = blake3::Hasher::new();
    hasher.update(id.as_bytes());
    for text in ["content of /1", "content of /2", "salt"] {
        hasher.update(&(text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    assert_eq!(datums[0].hash, hasher.finalize().to_hex().to_string());
}

/// `cargo test -p strata-pps --release --lib datums -- --ignored --nocapture`
#[test]
#[ignore = "timing: meaningful only in release mode"]
#[allow(clippy::print_stderr, reason = "the timing is the point of running it")]
fn two_hundred_thousand_files_combine_quickly() {
    let tree = input(&json!({"pfs": {"repo": "a", "glob": "/*"}}));
    let matches: Vec<LeafMatch> = (0..200_000)
        .map(|i| LeafMatch { path: format!("/file-{i:08}"), hash: blake3::hash(&[0; 8]).to_hex().to_string(), size: 1 })
        .collect();
    let started = std::time::Instant::now();
    let datums = combine(&tree, &[at("c", &matches)], "salt");
    let elapsed = started.elapsed();
    assert_eq!(datums.len(), 200_000);
    eprintln!("200k datums in {elapsed:?}");
}

#[test]
fn a_large_input_keeps_path_order_and_ids_when_spread_over_threads() {
    let tree = input(&json!({"pfs": {"repo": "a", "glob": "/*"}}));
    let count = 2 * PARALLEL_ABOVE + 7;
    let matches: Vec<LeafMatch> =
        (0..count).map(|i| LeafMatch { path: format!("/f{i:06}"), hash: format!("h{i}"), size: 1 }).collect();
    let datums = combine(&tree, &[at("c", &matches)], "salt");
    assert_eq!(datums.len(), count);
    for (datum, file) in datums.iter().zip(&matches) {
        assert_eq!(datum.inputs[0].path, file.path);
        assert_eq!(datum.id, datum_id(&datum.inputs));
    }
}
