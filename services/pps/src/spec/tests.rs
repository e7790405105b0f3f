//! Behaviour of spec parsing and validation, from Pachyderm's own examples
//! to one test per validation rule.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;

fn parse_one(text: &str) -> PipelineSpec {
    match parse_spec(text) {
        Ok(spec) => spec,
        Err(error) => panic!("spec should parse: {error}\n{text}"),
    }
}

fn parse_json(value: &serde_json::Value) -> PipelineSpec {
    parse_one(&value.to_string())
}

/// Asserts that `value` is rejected at `path` with a message containing `message`.
#[track_caller]
fn rejects(value: &serde_json::Value, path: &str, message: &str) -> SpecError {
    let error = match parse_specs(&value.to_string()) {
        Ok(specs) => panic!("expected an error at {path}, but it parsed: {specs:?}"),
        Err(error) => error,
    };
    assert_eq!(error.path, path, "wrong path for {error}");
    assert!(error.message.contains(message), "message of {error:?} should contain {message:?}");
    error
}

/// A valid spec with `input` replaced.
fn with_input(input: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({"pipeline": {"name": "p"}, "transform": {"cmd": ["true"]}});
    spec["input"] = input;
    spec
}

/// A valid spec with one top-level field added or replaced.
fn with(field: &str, value: serde_json::Value) -> serde_json::Value {
    let mut spec = with_input(json!({"pfs": {"repo": "images", "glob": "/*"}}));
    spec[field] = value;
    spec
}

fn pfs(repo: &str, glob: &str) -> serde_json::Value {
    json!({"pfs": {"repo": repo, "glob": glob}})
}

fn assert_round_trips(spec: &PipelineSpec) {
    let again = parse_one(&spec.to_json().to_string());
    assert_eq!(&again, spec, "to_json must parse back to the same spec");
    let pretty = serde_json::to_string_pretty(&spec.to_json()).expect("serializes");
    assert_eq!(&parse_one(&pretty), spec);
}

const EDGES: &str = r#"{
  "pipeline": {"name": "edges"},
  "description": "A pipeline that performs image edge detection by using the OpenCV library.",
  "transform": {"cmd": ["python3", "/edges.py"], "image": "pachyderm/opencv:1.0"},
  "input": {"pfs": {"repo": "images", "glob": "/*"}}
}"#;

const MONTAGE: &str = r#"{
  "pipeline": {"name": "montage"},
  "description": "A pipeline that combines images from the `images` and `edges` repositories into a montage.",
  "input": {
    "cross": [
      {"pfs": {"glob": "/", "repo": "images"}},
      {"pfs": {"glob": "/", "repo": "edges"}}
    ]
  },
  "transform": {
    "cmd": ["sh"],
    "image": "dpokidov/imagemagick:7.1.0-23",
    "stdin": ["montage -shadow -background SkyBlue -geometry 300x300+2+2 $(find -L /pfs/images /pfs/edges -type f | sort) /pfs/out/montage.png"]
  }
}"#;

// ---- Pachyderm's examples ---------------------------------------------------

#[test]
fn the_opencv_edges_example_parses_with_defaults_filled_in() {
    let spec = parse_one(EDGES);
    assert_eq!(spec.name, "edges");
    assert!(spec.description.starts_with("A pipeline that performs"));
    assert_eq!(spec.transform.image, "pachyderm/opencv:1.0");
    assert_eq!(spec.transform.cmd, ["python3", "/edges.py"]);
    let Input::Pfs(input) = &spec.input else { panic!("pfs input expected: {:?}", spec.input) };
    assert_eq!(input.repo, "images");
    assert_eq!(input.name, "images", "the name defaults to the repo");
    assert_eq!(input.branch, "master");
    assert_eq!(input.glob, "/*");
    assert_eq!(spec.parallelism, 1);
    assert_eq!(spec.datum_tries, 3);
    assert_eq!(spec.output_branch, "master");
    assert_eq!(spec.reprocess, Reprocess::UntilSuccess);
    assert!(!spec.autoscaling);
    assert_eq!(spec.datum_timeout, None);
    assert_eq!(spec.input_repos(), [("images".to_owned(), "master".to_owned())]);
    assert_round_trips(&spec);
}

#[test]
fn the_montage_example_crosses_two_repos() {
    let spec = parse_one(MONTAGE);
    let Input::Cross(children) = &spec.input else { panic!("cross expected") };
    let names: Vec<&str> = spec.input.leaves().iter().map(Leaf::name).collect();
    assert_eq!(names, ["images", "edges"]);
    assert_eq!(children.len(), 2);
    assert_eq!(spec.transform.stdin.len(), 1);
    assert_eq!(
        spec.input_repos(),
        [("images".to_owned(), "master".to_owned()), ("edges".to_owned(), "master".to_owned())]
    );
    assert_round_trips(&spec);
}

#[test]
fn a_join_with_capture_groups_and_an_outer_input_parses() {
    let spec = parse_json(&json!({
        "pipeline": {"name": "joins"},
        "input": {"join": [
            {"pfs": {"repo": "readings", "branch": "master", "glob": "/*/(*).txt", "join_on": "$1", "outer_join": true}},
            {"pfs": {"repo": "parameters", "glob": "/(*)/(*).json", "join_on": "${2}", "lazy": true}}
        ]},
        "transform": {"cmd": ["python3", "/join.py"], "image": "python:3.12"}
    }));
    let Input::Join(children) = &spec.input else { panic!("join expected") };
    let [Input::Pfs(readings), Input::Pfs(parameters)] = children.as_slice() else { panic!("two pfs children") };
    assert!(readings.outer_join);
    assert!(!parameters.outer_join);
    assert!(parameters.lazy);
    let key = readings.join_on.as_ref().expect("join_on");
    assert_eq!(key.render(&["5".to_owned()]), "5");
    assert_eq!(parameters.join_on.as_ref().map(KeyTemplate::highest_group), Some(2));
    assert_round_trips(&spec);
}

#[test]
fn a_group_by_capture_group_parses() {
    let spec = parse_json(&json!({
        "pipeline": {"name": "by_store"},
        "input": {"group": [
            {"pfs": {"repo": "sales", "glob": "/(*)-*.csv", "group_by": "$1"}},
            {"pfs": {"repo": "stores", "glob": "/STOREID(*).txt", "group_by": "$1", "empty_files": true}}
        ]},
        "transform": {"cmd": ["bash"], "stdin": ["cat /pfs/sales/* > /pfs/out/total"]}
    }));
    let leaves = spec.input.leaves();
    assert_eq!(leaves.len(), 2);
    assert!(matches!(leaves[1], Leaf::Pfs(p) if p.empty_files));
    assert_eq!(spec.transform.image, DEFAULT_IMAGE);
    assert_round_trips(&spec);
}

#[test]
fn a_join_inside_a_group_needs_both_keys() {
    let spec = parse_json(&with_input(json!({"group": [
        {"join": [
            {"pfs": {"repo": "a", "glob": "/(*)_(*)", "join_on": "$1", "group_by": "$2"}},
            {"pfs": {"repo": "b", "glob": "/(*)_(*)", "join_on": "$1", "group_by": "$2"}}
        ]},
        {"pfs": {"repo": "c", "glob": "/(*)", "group_by": "$1"}}
    ]})));
    assert_eq!(spec.input.leaves().len(), 3);
    assert_round_trips(&spec);
    rejects(
        &with_input(json!({"group": [
            {"join": [
                {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}},
                {"pfs": {"repo": "b", "glob": "/(*)", "join_on": "$1", "group_by": "$1"}}
            ]}
        ]})),
        "input.group[0].join[0].pfs.group_by",
        "every input of a `group` needs `group_by`",
    );
}

#[test]
fn a_cron_input_with_every_parses_and_names_its_repo() {
    let spec = parse_json(&json!({
        "pipeline": {"name": "clock"},
        "input": {"cron": {"name": "tick", "spec": "@every 10s", "overwrite": true}},
        "transform": {"cmd": ["sh"], "stdin": ["date > /pfs/out/time"]}
    }));
    let Input::Cron(cron) = &spec.input else { panic!("cron expected") };
    assert_eq!(cron.repo, "clock_tick", "Pachyderm names the repo <pipeline>_<cron name>");
    assert!(cron.overwrite);
    assert_eq!(cron.spec.interval(), Some(Duration::from_secs(10)));
    let t0: DateTime<Utc> = "2024-05-01T12:00:00Z".parse().expect("time");
    let t1: DateTime<Utc> = "2024-05-01T12:00:10Z".parse().expect("time");
    assert_eq!(cron.spec.next_after(t0), Some(t1));
    assert_eq!(spec.input_repos(), [("clock_tick".to_owned(), "master".to_owned())]);
    let leaf = spec.input.leaves()[0];
    assert_eq!((leaf.glob(), leaf.branch()), ("/*", "master"));
    assert_round_trips(&spec);
}

#[test]
fn a_cron_input_keeps_an_explicit_repo_and_start() {
    let spec = parse_json(&with_input(json!({"cross": [
        {"cron": {"name": "nightly", "spec": "0 3 * * *", "repo": "ticks", "start": "2024-01-01T00:00:00+01:00"}},
        pfs("images", "/*")
    ]})));
    let Leaf::Cron(cron) = spec.input.leaves()[0] else { panic!("cron first") };
    assert_eq!(cron.repo, "ticks");
    assert_eq!(cron.start, Some("2023-12-31T23:00:00Z".parse().expect("time")));
    assert_round_trips(&spec);
}

#[test]
fn camel_case_field_names_are_accepted() {
    let spec = parse_json(&json!({
        "pipeline": {"name": "camel", "project": {"name": "default"}},
        "transform": {"cmd": ["run"], "errCmd": ["recover"], "errStdin": ["x"]},
        "input": {"join": [
            {"pfs": {"project": "default", "repo": "a", "glob": "/(*)", "joinOn": "$1", "outerJoin": true, "emptyFiles": true}},
            {"pfs": {"repo": "b", "glob": "/(*)", "joinOn": "$1"}}
        ]},
        "parallelismSpec": {"constant": 4},
        "datumTries": 5,
        "datumTimeout": "30s",
        "jobTimeout": "1h30m",
        "resourceRequests": {"cpu": 0.5, "memory": "64M"},
        "resourceLimits": {"memory": "1Gi", "gpu": {"type": "nvidia.com/gpu", "number": 1}},
        "outputBranch": "results",
        "reprocessSpec": "every_job",
        "autoscaling": true
    }));
    assert_eq!(spec.parallelism, 4);
    assert_eq!(spec.datum_tries, 5);
    assert_eq!(spec.datum_timeout, Some(Duration::from_secs(30)));
    assert_eq!(spec.job_timeout, Some(Duration::from_secs(5400)));
    assert_eq!(spec.transform.err_cmd, ["recover"]);
    assert_eq!(spec.output_branch, "results");
    assert_eq!(spec.reprocess, Reprocess::EveryJob);
    let requests = spec.resource_requests.as_ref().expect("requests");
    assert_eq!(requests.cpu, Some(0.5));
    assert_eq!(requests.memory.as_ref().map(Quantity::bytes), Some(64_000_000));
    let limits = spec.resource_limits.as_ref().expect("limits");
    assert_eq!(limits.memory.as_ref().map(Quantity::bytes), Some(1 << 30));
    assert_eq!(limits.gpu, Some(Gpu { kind: "nvidia.com/gpu".to_owned(), number: 1 }));
    assert_round_trips(&spec);
}

#[test]
fn the_same_field_in_both_spellings_is_rejected() {
    // Raw text, so that the keys keep their order (json! sorts them).
    let text = r#"{"pipeline": {"name": "p"}, "transform": {"cmd": ["x"]},
        "input": {"pfs": {"repo": "a", "glob": "/*", "empty_files": true, "emptyFiles": false}}}"#;
    let error = parse_spec(text).expect_err("both spellings");
    assert_eq!(error.path, "input.pfs.empty_files");
    assert_eq!(error.message, "`emptyFiles` and `empty_files` are the same field, given twice");
}

#[test]
fn a_yaml_spec_parses_like_its_json() {
    let yaml = r#"
pipeline:
  name: edges
description: "A pipeline that performs image edge detection by using the OpenCV library."
transform:
  cmd: [python3, /edges.py]
  image: pachyderm/opencv:1.0
  env:
    MODE: "fast"
input:
  pfs:
    repo: images
    glob: "/*"
metadata:
  labels:
    team: vision
datum_timeout: 5m
"#;
    let spec = parse_one(yaml);
    assert_eq!(spec.name, "edges");
    assert_eq!(spec.transform.env.get("MODE").map(String::as_str), Some("fast"));
    assert_eq!(spec.metadata.labels.get("team").map(String::as_str), Some("vision"));
    assert_eq!(spec.datum_timeout, Some(Duration::from_secs(300)));
    let json = parse_one(EDGES);
    assert_eq!(spec.transform.cmd, json.transform.cmd);
    assert_eq!(spec.input, json.input);
    assert_round_trips(&spec);
}

#[test]
fn yaml_yes_and_on_are_strings_not_booleans() {
    let error =
        parse_spec("pipeline: {name: p}\ntransform: {cmd: [x]}\ninput: {pfs: {repo: a, glob: /*, lazy: yes}}\n")
            .expect_err("`yes` is a string in YAML 1.2");
    assert_eq!(error.path, "input.pfs.lazy");
    assert!(error.message.contains("expected true or false, found the string \"yes\""), "{error}");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("without quotes")), "{error:?}");
    // A repo literally named `on` stays a string.
    let spec = parse_one("pipeline: {name: p}\ntransform: {cmd: [x]}\ninput: {pfs: {repo: on, glob: /*}}\n");
    assert_eq!(spec.input_repos()[0].0, "on");
}

#[test]
fn yaml_numbers_where_strings_belong_are_errors_with_a_hint() {
    let error = parse_spec(
        "pipeline: {name: p}\ntransform: {cmd: [x], env: {RETRIES: 3}}\ninput: {pfs: {repo: a, glob: /*}}\n",
    )
    .expect_err("3 is a number");
    assert_eq!(error.path, "transform.env.RETRIES");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("quotes")), "{error:?}");
}

#[test]
fn several_specs_in_one_file_are_all_returned() {
    let concatenated = format!("{EDGES}\n{MONTAGE}\n");
    let names = |specs: Vec<PipelineSpec>| specs.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(names(parse_specs(&concatenated).expect("concatenated")), ["edges", "montage"]);
    let array = format!("[{EDGES}, {MONTAGE}]");
    assert_eq!(names(parse_specs(&array).expect("array")), ["edges", "montage"]);
    let yaml = "pipeline: {name: a}\ntransform: {cmd: [x]}\ninput: {pfs: {repo: r, glob: /*}}\n---\npipeline: {name: b}\ntransform: {cmd: [x]}\ninput: {pfs: {repo: a, glob: /*}}\n";
    assert_eq!(names(parse_specs(yaml).expect("yaml stream")), ["a", "b"]);
}

#[test]
fn an_error_in_a_multi_spec_file_says_which_spec() {
    let text = format!("{EDGES}\n{}", with_input(json!({"pfs": {"repo": "a"}})));
    let error = parse_specs(&text).expect_err("second spec lacks a glob");
    assert_eq!(error.spec_index, Some(1));
    assert_eq!(error.path, "input.pfs.glob");
    assert!(error.to_string().starts_with("spec #2: input.pfs.glob: missing"), "{error}");
}

#[test]
fn a_file_defining_a_pipeline_twice_is_rejected() {
    let error = parse_specs(&format!("[{EDGES}, {EDGES}]")).expect_err("duplicate");
    assert_eq!((error.path.as_str(), error.spec_index), ("pipeline.name", Some(1)));
    assert!(error.message.contains("defined twice"), "{error}");
}

#[test]
fn empty_text_and_syntax_errors_are_reported() {
    assert!(parse_specs("  \n").expect_err("empty").message.contains("no pipeline spec"));
    let error = parse_specs("{\"pipeline\": ").expect_err("truncated JSON");
    assert!(error.message.starts_with("invalid JSON"), "{error}");
    let error = parse_specs("pipeline: [unclosed").expect_err("bad YAML");
    assert!(error.message.starts_with("invalid YAML"), "{error}");
    assert!(parse_spec(&format!("[{EDGES}, {MONTAGE}]")).expect_err("two").message.contains("expected one"));
}

#[test]
fn a_spec_arrives_as_a_json_value_too() {
    let value: serde_json::Value = serde_json::from_str(EDGES).expect("json");
    assert_eq!(PipelineSpec::from_json_value(&value).expect("valid"), parse_one(EDGES));
}

// ---- Round trips, durations, fingerprints -------------------------------------

#[test]
fn the_effective_spec_is_canonical_snake_case_with_defaults() {
    let effective = parse_one(EDGES).to_json();
    assert_eq!(
        effective,
        json!({
            "pipeline": {"name": "edges"},
            "description": "A pipeline that performs image edge detection by using the OpenCV library.",
            "transform": {"image": "pachyderm/opencv:1.0", "cmd": ["python3", "/edges.py"]},
            "input": {"pfs": {"name": "images", "repo": "images", "branch": "master", "glob": "/*", "empty_files": false, "lazy": false}},
            "parallelism_spec": {"constant": 1},
            "datum_tries": 3,
            "output_branch": "master",
            "autoscaling": false,
            "reprocess_spec": "until_success"
        })
    );
}

#[test]
fn a_spec_using_every_field_round_trips() {
    let spec = parse_json(&json!({
        "pipeline": {"name": "everything"},
        "description": "all of it",
        "metadata": {"annotations": {"example.com/owner": "data team"}, "labels": {"tier": "gold"}},
        "transform": {
            "image": "python:3.12", "cmd": ["python3", "-"], "stdin": ["print(1)"],
            "env": {"A": "1", "B": "two"}, "err_cmd": ["true"], "err_stdin": ["echo recovered"]
        },
        "input": {"cross": [
            {"union": [
                {"pfs": {"repo": "a", "name": "in", "glob": "/**.csv", "branch": "dev"}},
                {"pfs": {"repo": "b", "name": "in", "glob": "/"}}
            ]},
            {"join": [
                {"pfs": {"repo": "c", "glob": "/(*)", "join_on": "$1", "outer_join": true}},
                {"pfs": {"repo": "d", "glob": "/(*)", "join_on": "$1"}}
            ]},
            {"cron": {"name": "tick", "spec": "*/10 * * * * *", "start": "2024-02-03T04:05:06.5Z"}}
        ]},
        "parallelism_spec": {"constant": 8},
        "datum_tries": 1,
        "datum_timeout": "90s",
        "job_timeout": "1.5h",
        "resource_requests": {"cpu": "250m", "memory": "1.5Gi", "disk": "10G"},
        "resource_limits": {"cpu": 2, "memory": "2Gi", "disk": 20000000000u64, "gpu": {"type": "nvidia.com/gpu", "number": 2}},
        "output_branch": "out-branch",
        "autoscaling": true,
        "reprocess_spec": "every_job"
    }));
    assert_eq!(spec.datum_timeout, Some(Duration::from_secs(90)));
    assert_eq!(spec.resource_requests.as_ref().and_then(|r| r.cpu), Some(0.25));
    assert_round_trips(&spec);
    assert_eq!(spec.to_json()["datum_timeout"], "1m30s");
}

#[test]
fn durations_use_go_syntax() {
    for (text, expected) in [
        ("1h30m", Duration::from_secs(90 * 60)),
        ("500ms", Duration::from_millis(500)),
        ("30s", Duration::from_secs(30)),
    ] {
        let spec = parse_json(&with("datum_timeout", json!(text)));
        assert_eq!(spec.datum_timeout, Some(expected), "{text}");
        assert_eq!(parse_duration(text), Ok(expected));
    }
}

#[test]
fn the_transform_fingerprint_tracks_the_transform_only() {
    let spec = parse_one(EDGES);
    let fingerprint = spec.transform_fingerprint();
    // Pinned: a change here changes every pipeline's salt, and so makes every
    // existing pipeline reprocess all its datums after an upgrade.
    assert_eq!(fingerprint, "977dd0b8cc002fbdf306ef3bd749ed769fa56e8623c5036fba2843028b208a5c");
    let mut other = spec.clone();
    other.parallelism = 7;
    other.description = "changed".to_owned();
    assert_eq!(other.transform_fingerprint(), fingerprint, "non-transform fields don't matter");
    for change in [
        |t: &mut Transform| t.image.push('x'),
        |t: &mut Transform| t.cmd.push("--fast".to_owned()),
        |t: &mut Transform| t.stdin.push(String::new()),
        |t: &mut Transform| drop(t.env.insert("A".to_owned(), String::new())),
        |t: &mut Transform| t.err_cmd.push("true".to_owned()),
        |t: &mut Transform| t.err_stdin.push("x".to_owned()),
        |t: &mut Transform| t.user = Some(1001),
        |t: &mut Transform| t.working_dir = Some("/app".to_owned()),
    ] {
        let mut changed = spec.clone();
        change(&mut changed.transform);
        assert_ne!(changed.transform_fingerprint(), fingerprint, "{:?}", changed.transform);
    }
    // Moving an argument between lists is a different transform.
    let mut a = spec.clone();
    a.transform.cmd = vec!["sh".to_owned()];
    a.transform.stdin = vec!["x".to_owned()];
    let mut b = spec.clone();
    b.transform.cmd = vec!["sh".to_owned(), "x".to_owned()];
    b.transform.stdin = Vec::new();
    assert_ne!(a.transform_fingerprint(), b.transform_fingerprint());
}

#[test]
fn an_omitted_image_and_the_default_image_fingerprint_alike() {
    let implicit =
        parse_json(&json!({"pipeline": {"name": "p"}, "transform": {"cmd": ["x"]}, "input": pfs("a", "/*")}));
    let explicit = parse_json(
        &json!({"pipeline": {"name": "p"}, "transform": {"cmd": ["x"], "image": "ubuntu:20.04"}, "input": pfs("a", "/*")}),
    );
    assert_eq!(implicit.transform_fingerprint(), explicit.transform_fingerprint());
}

#[test]
fn input_repos_lists_each_repo_branch_once() {
    let spec = parse_json(&with_input(json!({"union": [
        {"pfs": {"repo": "a", "name": "x", "glob": "/*"}},
        {"pfs": {"repo": "a", "name": "x", "glob": "/*/*"}},
        {"pfs": {"repo": "a", "name": "x", "glob": "/*", "branch": "dev"}}
    ]})));
    assert_eq!(spec.input_repos(), [("a".to_owned(), "master".to_owned()), ("a".to_owned(), "dev".to_owned())]);
}

// ---- Field errors -------------------------------------------------------------

#[test]
fn unknown_fields_suggest_the_closest_known_one() {
    let error = rejects(
        &with_input(json!({"join": [
            {"pfs": {"repo": "a", "glob": "/(*)", "joinon": "$1"}},
            {"pfs": {"repo": "b", "glob": "/(*)", "join_on": "$1"}}
        ]})),
        "input.join[0].pfs.joinon",
        "unknown field `joinon`",
    );
    assert_eq!(error.hint.as_deref(), Some("did you mean `join_on`?"));
    let error = rejects(&with("datumTrys", json!(2)), "datumTrys", "unknown field");
    assert_eq!(error.hint.as_deref(), Some("did you mean `datumTries`?"), "suggested in the file's spelling");
    let error = rejects(&with("flavour", json!("x")), "flavour", "unknown field `flavour`");
    assert!(error.hint.as_deref().is_some_and(|h| h.starts_with("known fields here: pipeline")), "{error:?}");
}

#[test]
fn unsupported_pachyderm_fields_say_so() {
    let error = rejects(
        &with("egress", json!({"URL": "s3://bucket"})),
        "egress",
        "Pachyderm field that Strata does not support",
    );
    assert!(error.hint.is_some());
    rejects(
        &json!({"pipeline": {"name": "p"}, "transform": {"cmd": ["x"], "debug": true}, "input": pfs("a", "/*")}),
        "transform.debug",
        "does not support",
    );
    rejects(
        &with_input(json!({"pfs": {"repo": "a", "glob": "/*", "commit": "abc"}})),
        "input.pfs.commit",
        "does not support",
    );
}

#[test]
fn misplaced_fields_point_to_where_they_belong() {
    let error = rejects(&with_input(json!({"glob": "/*", "repo": "a"})), "input.glob", "unknown field `glob` here");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("`pfs`")), "{error:?}");
    let error = rejects(&with("cmd", json!(["x"])), "cmd", "unknown field");
    assert_eq!(error.hint.as_deref(), Some("`cmd` belongs in `transform`"));
}

#[test]
fn wrong_types_name_what_was_expected() {
    rejects(&with("datum_tries", json!("3")), "datum_tries", "expected a whole number, found the string \"3\"");
    rejects(&with("autoscaling", json!("true")), "autoscaling", "expected true or false");
    let error = rejects(
        &json!({"pipeline": {"name": "p"}, "transform": {"cmd": "python3 /edges.py"}, "input": pfs("a", "/*")}),
        "transform.cmd",
        "expected a list of strings",
    );
    assert_eq!(error.hint.as_deref(), Some("write a list, one argument per item: [\"python3\", \"/edges.py\"]"));
    rejects(&with_input(json!({"cross": {"pfs": {}}})), "input.cross", "expected a list of inputs");
    rejects(&json!("edges"), "", "expected an object");
}

#[test]
fn null_fields_count_as_absent() {
    let spec = parse_json(&json!({
        "pipeline": {"name": "p"}, "transform": {"cmd": ["x"], "image": null}, "input": pfs("a", "/*"),
        "description": null, "datum_tries": null
    }));
    assert_eq!((spec.transform.image.as_str(), spec.datum_tries), (DEFAULT_IMAGE, 3));
}

#[test]
fn required_fields_are_named_when_missing() {
    rejects(&json!({"transform": {"cmd": ["x"]}, "input": pfs("a", "/*")}), "pipeline", "missing");
    rejects(&json!({"pipeline": {}, "transform": {"cmd": ["x"]}, "input": pfs("a", "/*")}), "pipeline.name", "missing");
    rejects(&json!({"pipeline": {"name": "p"}, "input": pfs("a", "/*")}), "transform", "missing");
    rejects(&json!({"pipeline": {"name": "p"}, "transform": {"cmd": ["x"]}}), "input", "missing");
    rejects(&with_input(json!({"pfs": {"glob": "/*"}})), "input.pfs.repo", "missing");
    rejects(&with_input(json!({"pfs": {"repo": "a"}})), "input.pfs.glob", "missing");
    rejects(&with_input(json!({"cron": {"spec": "@daily"}})), "input.cron.name", "missing");
    rejects(&with_input(json!({"cron": {"name": "tick"}})), "input.cron.spec", "missing");
}

// ---- Pipeline-level rules -------------------------------------------------------

#[test]
fn pipeline_names_must_be_valid_repo_names() {
    let named = |name: &str| json!({"pipeline": {"name": name}, "transform": {"cmd": ["x"]}, "input": pfs("a", "/*")});
    rejects(&named("my pipeline"), "pipeline.name", "contains ' '");
    rejects(&named(""), "pipeline.name", "empty");
    rejects(&named(&"a".repeat(101)), "pipeline.name", "longer than 100");
    rejects(&named("edges.spec"), "pipeline.name", "ends in `.spec`");
    rejects(&named("edges.meta"), "pipeline.name", "ends in `.meta`");
}

#[test]
fn only_the_default_project_is_accepted() {
    let spec = parse_json(
        &json!({"pipeline": {"name": "p", "project": "default"}, "transform": {"cmd": ["x"]}, "input": pfs("a", "/*")}),
    );
    assert_eq!(spec.name, "p");
    let error = rejects(
        &json!({"pipeline": {"name": "p", "project": {"name": "research"}}, "transform": {"cmd": ["x"]}, "input": pfs("a", "/*")}),
        "pipeline.project",
        "project `research` is not supported",
    );
    assert!(error.hint.is_some());
    rejects(
        &with_input(json!({"pfs": {"repo": "a", "glob": "/*", "project": "research"}})),
        "input.pfs.project",
        "not supported",
    );
}

#[test]
fn transform_cmd_must_name_a_program() {
    let transform = |t: serde_json::Value| json!({"pipeline": {"name": "p"}, "transform": t, "input": pfs("a", "/*")});
    rejects(&transform(json!({"image": "x"})), "transform.cmd", "missing");
    rejects(&transform(json!({"cmd": []})), "transform.cmd", "the command is empty");
    rejects(&transform(json!({"cmd": [""]})), "transform.cmd[0]", "the program name is empty");
    rejects(&transform(json!({"cmd": ["x", 3]})), "transform.cmd[1]", "expected a string");
    rejects(&transform(json!({"cmd": ["x"], "err_cmd": [" "]})), "transform.err_cmd[0]", "the program name is empty");
    rejects(&transform(json!({"cmd": ["x"], "err_stdin": ["y"]})), "transform.err_stdin", "without `err_cmd`");
    rejects(
        &transform(json!({"cmd": ["x"], "env": {"1BAD": "v"}})),
        "transform.env.1BAD",
        "not a valid environment variable name",
    );
}

#[test]
fn parallelism_and_datum_tries_must_be_at_least_one() {
    rejects(&with("parallelism_spec", json!({"constant": 0})), "parallelism_spec.constant", "at least 1");
    rejects(&with("parallelism_spec", json!({"constant": -2})), "parallelism_spec.constant", "out of range");
    rejects(&with("datum_tries", json!(0)), "datum_tries", "at least 1");
    assert_eq!(parse_json(&with("parallelism_spec", json!({}))).parallelism, 1);
}

#[test]
fn zero_negative_and_unitless_durations_are_rejected() {
    rejects(&with("datum_timeout", json!("0s")), "datum_timeout", "zero");
    rejects(&with("job_timeout", json!("0")), "job_timeout", "zero");
    rejects(&with("job_timeout", json!("-5m")), "job_timeout", "negative");
    let error = rejects(&with("datum_timeout", json!(30)), "datum_timeout", "expected a duration string");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("no unit")), "{error:?}");
    rejects(&with("datum_timeout", json!("30")), "datum_timeout", "has no unit");
    rejects(&with("datum_timeout", json!("2 days")), "datum_timeout", "unknown unit");
}

#[test]
fn output_branch_and_reprocess_spec_are_checked() {
    rejects(&with("output_branch", json!("a/b")), "output_branch", "contains '/'");
    rejects(&with("reprocess_spec", json!("always")), "reprocess_spec", "unknown value \"always\"");
}

#[test]
fn resources_are_checked() {
    rejects(&with("resource_requests", json!({"memory": "1GB"})), "resource_requests.memory", "unknown suffix `GB`");
    let error = rejects(&with("resource_limits", json!({"memory": "500m"})), "resource_limits.memory", "milli");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("`M`")), "{error:?}");
    rejects(&with("resource_requests", json!({"cpu": -1})), "resource_requests.cpu", "not a number of cores");
    rejects(&with("resource_requests", json!({"cpu": true})), "resource_requests.cpu", "expected a number of cores");
    rejects(
        &with("resource_limits", json!({"gpu": {"type": "nvidia.com/gpu", "number": 0}})),
        "resource_limits.gpu.number",
        "at least 1",
    );
    rejects(&with("resource_limits", json!({"gpu": {"number": 1}})), "resource_limits.gpu.type", "missing");
    let mut spec = with("resource_requests", json!({"memory": "2Gi", "cpu": 1}));
    spec["resource_limits"] = json!({"memory": "1Gi", "cpu": 2});
    rejects(&spec, "resource_requests.memory", "exceeds the limit 1Gi");
}

#[test]
fn metadata_keys_and_label_values_are_kubernetes_names() {
    rejects(
        &with("metadata", json!({"labels": {"team": "data science"}})),
        "metadata.labels.team",
        "not a valid Kubernetes label value",
    );
    rejects(
        &with("metadata", json!({"annotations": {"Bad.Prefix/x": "v"}})),
        "metadata.annotations.Bad.Prefix/x",
        "prefix",
    );
    rejects(&with("metadata", json!({"owner": "me"})), "metadata.owner", "unknown field");
}

// ---- Input rules -------------------------------------------------------------------

#[test]
fn an_input_holds_exactly_one_kind() {
    rejects(&with_input(json!({})), "input", "needs one of `pfs`, `cross`");
    // Raw text: the error names the second kind in document order.
    let text = r#"{"pipeline": {"name": "p"}, "transform": {"cmd": ["x"]},
        "input": {"pfs": {"repo": "a", "glob": "/*"}, "cron": {"name": "t", "spec": "@daily"}}}"#;
    let error = parse_spec(text).expect_err("two kinds");
    assert_eq!(error.path, "input.cron");
    assert!(error.message.contains("already has `pfs`"), "{error}");
    assert!(error.hint.is_some());
}

#[test]
fn empty_combinations_are_rejected() {
    for kind in ["cross", "union", "join", "group"] {
        rejects(&with_input(json!({kind: []})), &format!("input.{kind}"), &format!("`{kind}` has no inputs"));
    }
}

#[test]
fn globs_are_validated_with_their_path() {
    rejects(
        &with_input(json!({"cross": [pfs("a", "/*"), pfs("b", "/[abc")]})),
        "input.cross[1].pfs.glob",
        "`[` without `]`",
    );
    rejects(&with_input(pfs("a", "/@(x)")), "input.pfs.glob", "extended glob");
}

#[test]
fn repo_and_branch_names_are_validated() {
    rejects(&with_input(pfs("bad repo", "/*")), "input.pfs.repo", "contains ' '");
    rejects(
        &with_input(json!({"pfs": {"repo": "a", "glob": "/*", "branch": "a b"}})),
        "input.pfs.branch",
        "contains ' '",
    );
    rejects(
        &with_input(json!({"cron": {"name": "t", "spec": "@daily", "repo": "x.y"}})),
        "input.cron.repo",
        "contains '.'",
    );
}

#[test]
fn input_names_must_be_unique_in_a_cross() {
    let error = rejects(
        &with_input(json!({"cross": [pfs("images", "/*"), pfs("images", "/*/*")]})),
        "input.cross[1].pfs.name",
        "the input name `images` is already used by input.cross[0].pfs",
    );
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("defaults to the repo")), "{error:?}");
    rejects(
        &with_input(json!({"join": [
            {"pfs": {"repo": "a", "name": "x", "glob": "/(*)", "join_on": "$1"}},
            {"pfs": {"repo": "b", "name": "x", "glob": "/(*)", "join_on": "$1"}}
        ]})),
        "input.join[1].pfs.name",
        "already used",
    );
    rejects(
        &with_input(json!({"group": [
            {"pfs": {"repo": "a", "glob": "/(*)", "group_by": "$1"}},
            {"pfs": {"repo": "a", "glob": "/(*)/*", "group_by": "$1"}}
        ]})),
        "input.group[1].pfs.name",
        "already used",
    );
}

#[test]
fn union_children_may_share_a_name_but_not_with_their_neighbours() {
    let spec =
        parse_json(&with_input(json!({"union": [pfs("a", "/*"), {"pfs": {"repo": "b", "name": "a", "glob": "/*"}}]})));
    assert_eq!(spec.input.leaves().len(), 2);
    rejects(
        &with_input(json!({"cross": [
            {"union": [pfs("a", "/*"), pfs("b", "/*")]},
            pfs("b", "/*")
        ]})),
        "input.cross[1].pfs.name",
        "already used by input.cross[0].union[1].pfs",
    );
    rejects(
        &with_input(json!({"cross": [
            pfs("b", "/*"),
            {"union": [pfs("a", "/*"), pfs("b", "/*")]}
        ]})),
        "input.cross[1].union[1].pfs.name",
        "already used by input.cross[0].pfs",
    );
}

#[test]
fn the_out_repo_needs_a_different_input_name() {
    let error = rejects(&with_input(pfs("out", "/*")), "input.pfs.name", "the repo `out` needs an explicit input name");
    assert!(error.hint.is_some());
    rejects(
        &with_input(json!({"pfs": {"repo": "out", "name": "out", "glob": "/*"}})),
        "input.pfs.name",
        "`out` is reserved",
    );
    let spec = parse_json(&with_input(json!({"pfs": {"repo": "out", "name": "previous", "glob": "/*"}})));
    assert_eq!(spec.input.leaves()[0].name(), "previous");
}

#[test]
fn input_names_are_single_path_elements() {
    rejects(&with_input(json!({"pfs": {"repo": "a", "name": "x/y", "glob": "/*"}})), "input.pfs.name", "contains `/`");
    rejects(&with_input(json!({"pfs": {"repo": "a", "name": "x y", "glob": "/*"}})), "input.pfs.name", "contains ' '");
    rejects(&with_input(json!({"cron": {"name": "out", "spec": "@daily"}})), "input.cron.name", "`out` is reserved");
}

#[test]
fn join_children_need_join_on() {
    rejects(
        &with_input(json!({"join": [
            {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}},
            {"pfs": {"repo": "b", "glob": "/(*)"}}
        ]})),
        "input.join[1].pfs.join_on",
        "every input of a `join` needs `join_on`",
    );
}

#[test]
fn join_children_must_be_pfs_inputs() {
    rejects(
        &with_input(json!({"join": [
            {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}},
            {"cross": [pfs("b", "/*")]}
        ]})),
        "input.join[1]",
        "a join combines `pfs` inputs, not `cross`",
    );
}

#[test]
fn group_children_need_group_by() {
    rejects(
        &with_input(json!({"group": [{"pfs": {"repo": "a", "glob": "/(*)"}}]})),
        "input.group[0].pfs.group_by",
        "every input of a `group` needs `group_by`",
    );
    rejects(&with_input(json!({"group": [{"cron": {"name": "t", "spec": "@daily"}}]})), "input.group[0]", "not `cron`");
}

#[test]
fn keys_may_only_refer_to_existing_capture_groups() {
    let join = |glob: &str, key: &str| {
        with_input(json!({"join": [
            {"pfs": {"repo": "a", "glob": glob, "join_on": key}},
            {"pfs": {"repo": "b", "glob": "/(*)", "join_on": "$1"}}
        ]}))
    };
    rejects(
        &join("/(*)", "$2"),
        "input.join[0].pfs.join_on",
        "refers to capture group 2, but the glob `/(*)` has 1 group",
    );
    rejects(&join("/*", "$1"), "input.join[0].pfs.join_on", "has no capture groups");
    rejects(&join("/(*)", "name"), "input.join[0].pfs.join_on", "refers to no capture group");
    let error = rejects(&join("/(*)", "$1_x"), "input.join[0].pfs.join_on", "group named `1_x`");
    assert_eq!(error.hint.as_deref(), Some("write `${1}_x` to put text right after group 1"));
    parse_json(&join("/(*)/(*)", "${1}_$2"));
    rejects(
        &with_input(json!({"group": [{"pfs": {"repo": "a", "glob": "/(*)", "group_by": "$3"}}]})),
        "input.group[0].pfs.group_by",
        "refers to capture group 3",
    );
}

#[test]
fn keys_and_outer_join_outside_their_combination_are_rejected() {
    rejects(
        &with_input(json!({"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}})),
        "input.pfs.join_on",
        "only applies to an input of a `join`",
    );
    rejects(
        &with_input(json!({"cross": [{"pfs": {"repo": "a", "glob": "/(*)", "group_by": "$1"}}]})),
        "input.cross[0].pfs.group_by",
        "only applies to an input of a `group`",
    );
    rejects(
        &with_input(json!({"pfs": {"repo": "a", "glob": "/*", "outer_join": true}})),
        "input.pfs.outer_join",
        "only applies to an input directly inside a `join`",
    );
    rejects(
        &with_input(json!({"group": [{"pfs": {"repo": "a", "glob": "/(*)", "group_by": "$1", "outer_join": true}}]})),
        "input.group[0].pfs.outer_join",
        "directly inside a `join`",
    );
}

#[test]
fn cron_schedules_are_validated() {
    rejects(&with_input(json!({"cron": {"name": "t", "spec": "every day"}})), "input.cron.spec", "has 2 fields");
    rejects(
        &with_input(json!({"cron": {"name": "t", "spec": "@every 100ms"}})),
        "input.cron.spec",
        "whole number of seconds",
    );
    rejects(
        &with_input(json!({"cron": {"name": "t", "spec": "@daily", "start": "yesterday"}})),
        "input.cron.start",
        "RFC 3339",
    );
    for spec in ["*/5 * * * *", "0 */5 * * * *", "@hourly", "@daily", "@every 1h30m", "never"] {
        parse_json(&with_input(json!({"cron": {"name": "t", "spec": spec}})));
    }
}

#[test]
fn at_most_one_cron_per_name_even_across_a_union() {
    rejects(
        &with_input(json!({"union": [
            {"cron": {"name": "tick", "spec": "@daily"}},
            {"cron": {"name": "tick", "spec": "@hourly"}}
        ]})),
        "input.union[1].cron.name",
        "already a cron input named `tick`",
    );
    rejects(
        &with_input(json!({"cross": [
            {"cron": {"name": "a", "spec": "@daily", "repo": "ticks"}},
            {"cron": {"name": "b", "spec": "@hourly", "repo": "ticks"}}
        ]})),
        "input.cross[1].cron.repo",
        "already ticks into repo `ticks`",
    );
}

#[test]
fn a_too_long_default_cron_repo_is_reported_on_the_name() {
    let long = "n".repeat(60);
    let spec = json!({"pipeline": {"name": long}, "transform": {"cmd": ["x"]}, "input": {"cron": {"name": "t".repeat(60), "spec": "@daily"}}});
    rejects(&spec, "input.cron.name", "the cron repo defaults to");
}

#[test]
fn a_pipeline_may_not_read_its_own_output() {
    let spec = json!({"pipeline": {"name": "loop"}, "transform": {"cmd": ["x"]}, "input": {"cross": [pfs("a", "/*"), pfs("loop", "/*")]}});
    let error = rejects(&spec, "input.cross[1].pfs.repo", "reads its own output repo `loop`");
    assert!(error.hint.is_some());
}

#[test]
fn errors_display_path_message_and_hint() {
    let error = SpecError::new("input.pfs.glob", "bad").hint("fix it");
    assert_eq!(error.to_string(), "input.pfs.glob: bad (hint: fix it)");
    assert_eq!(SpecError::new("", "broken").to_string(), "broken");
}

fn with_transform(extra: &serde_json::Value) -> serde_json::Value {
    let mut spec = with_input(json!({"pfs": {"repo": "images", "glob": "/*"}}));
    for (key, value) in extra.as_object().expect("an object") {
        spec["transform"][key] = value.clone();
    }
    spec
}

#[test]
fn user_working_dir_and_accepted_codes_are_read_as_pachyderm_writes_them() {
    let spec = parse_json(&with_transform(&json!({
        "user": "1001", "working_dir": "/app", "accept_return_code": [3, 1, 3]
    })));
    assert_eq!(spec.transform.user, Some(1001));
    assert_eq!(spec.transform.working_dir.as_deref(), Some("/app"));
    assert_eq!(spec.transform.accept_return_codes, vec![1, 3], "sorted, each once");
    // camelCase as Pachyderm 2.8 writes it, and the canonical JSON round-trips.
    let camel = parse_json(&with_transform(&json!({"workingDir": "/app", "acceptReturnCode": [1, 3], "user": "1001"})));
    assert_eq!(camel.transform, spec.transform);
    assert_eq!(parse_json(&spec.to_json()), spec);
}

#[test]
fn bad_users_working_dirs_and_codes_are_refused_with_the_rule() {
    rejects(&with_transform(&json!({"user": "root"})), "transform.user", "never runs as root");
    rejects(&with_transform(&json!({"user": "0"})), "transform.user", "never runs as root");
    let error = rejects(&with_transform(&json!({"user": "alice"})), "transform.user", "not a numeric uid");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("numeric uid")), "{error:?}");
    rejects(&with_transform(&json!({"user": "70000"})), "transform.user", "out of range");
    rejects(&with_transform(&json!({"working_dir": "app"})), "transform.working_dir", "not an absolute path");
    rejects(
        &with_transform(&json!({"accept_return_code": [256]})),
        "transform.accept_return_code[0]",
        "not an exit code",
    );
    rejects(&with_transform(&json!({"accept_return_code": 1})), "transform.accept_return_code", "expected a list");
}

#[test]
fn secrets_are_variables_or_mounted_files_of_named_workspace_secrets() {
    let spec = parse_json(&with_transform(&json!({
        "secrets": [
            {"name": "db", "key": "password", "env_var": "DB_PASSWORD"},
            {"name": "tls", "mount_path": "/var/secrets/tls/"}
        ],
        "image_pull_secrets": ["regcred"]
    })));
    let secrets = &spec.transform.secrets;
    assert_eq!(secrets[0].env, Some(SecretEnv { key: "password".to_owned(), env_var: "DB_PASSWORD".to_owned() }));
    assert_eq!(secrets[1].mount_path.as_deref(), Some("/var/secrets/tls"), "trailing slash dropped");
    assert_eq!(spec.transform.image_pull_secrets, vec!["regcred".to_owned()]);
    assert_eq!(parse_json(&spec.to_json()), spec);
}

#[test]
fn a_secret_must_say_how_it_is_exposed_and_never_over_the_sandbox() {
    rejects(
        &with_transform(&json!({"secrets": [{"name": "db"}]})),
        "transform.secrets[0]",
        "neither set as a variable nor mounted",
    );
    rejects(
        &with_transform(&json!({"secrets": [{"name": "db", "key": "k"}]})),
        "transform.secrets[0].env_var",
        "missing",
    );
    rejects(
        &with_transform(&json!({"secrets": [{"name": "db", "env_var": "X"}]})),
        "transform.secrets[0].key",
        "missing",
    );
    rejects(
        &with_transform(&json!({"secrets": [{"name": "Db", "mount_path": "/s"}]})),
        "transform.secrets[0].name",
        "not a secret name",
    );
    for clash in ["/", "/pfs/out", "/tmp", "/proc/x", "/var/../pfs"] {
        rejects(
            &with_transform(&json!({"secrets": [{"name": "db", "mount_path": clash}]})),
            "transform.secrets[0].mount_path",
            "cannot be mounted",
        );
    }
    rejects(
        &with_transform(&json!({"image_pull_secrets": ["Reg Cred"]})),
        "transform.image_pull_secrets[0]",
        "not a secret name",
    );
}
