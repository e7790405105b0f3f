use actix_web::http::Method;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use strata_hub::WorkspaceRole;

use super::*;
use crate::gateway::{GatewayRequest, upstream_url};

const SERVER_PREFIX: [Option<&str>; 3] = [Some("v1"), Some("workspaces"), None];

/// The path below a workspace, as the in-process endpoints parse it.
fn below_workspace(tail: &str) -> Result<WorkspacePath, PathError> {
    Segments::parse(&format!("/v1/workspaces/ws{tail}"))?.below(&SERVER_PREFIX).map(|(_, path)| path)
}

fn path(tail: &str) -> WorkspacePath {
    below_workspace(tail).expect("a valid path")
}

#[test]
fn reads_need_reader_changes_writer_and_maintenance_admin() {
    assert_eq!(path("/repos/images/refs/master/files/a.png").required_role(&Method::GET), WorkspaceRole::Reader);
    assert_eq!(path("/repos/images/refs/master/files/a.png").required_role(&Method::PUT), WorkspaceRole::Writer);
    assert_eq!(path("/pps/pipelines").required_role(&Method::POST), WorkspaceRole::Writer);
    assert_eq!(path("/pps/tasks/abc/inputs").required_role(&Method::GET), WorkspaceRole::Writer);
    assert_eq!(path("/repos/images").required_role(&Method::DELETE), WorkspaceRole::Admin);
    assert_eq!(path("/repos/images/branches/dev").required_role(&Method::DELETE), WorkspaceRole::Writer);
    assert_eq!(path("/gc").required_role(&Method::POST), WorkspaceRole::Admin);
}

#[test]
fn repo_requests_name_their_repo() {
    assert_eq!(path("/repos/images/refs/master/files/a.png").repo(), Some("images"));
    assert_eq!(path("/repos/images").repo(), Some("images"));
    assert_eq!(path("/repos").repo(), None);
    assert_eq!(path("/pps/pipelines").repo(), None);
    assert_eq!(path("/repos/images/refs/master/copy").repo(), None, "a copy reads another repo too");
}

#[test]
fn pipeline_repo_and_storage_changes_are_audited() {
    assert_eq!(path("/pps/pipelines").audited_action(&Method::POST).map(|a| a.0), Some("pipeline.create"));
    assert_eq!(
        path("/pps/pipelines/edges").audited_action(&Method::DELETE),
        Some(("pipeline.delete", "pipeline:edges".to_owned()))
    );
    assert_eq!(path("/repos/victim").audited_action(&Method::DELETE).map(|a| a.1), Some("repo:victim".to_owned()));
    assert_eq!(path("/fsck").audited_action(&Method::POST).map(|a| a.0), Some("storage.fsck"));
    assert_eq!(path("/pps/pipelines").audited_action(&Method::GET), None);
}

#[test]
fn secrets_are_listed_by_readers_changed_by_writers_and_every_change_audited_by_name() {
    assert_eq!(path("/pps/secrets").required_role(&Method::GET), WorkspaceRole::Reader);
    assert_eq!(path("/pps/secrets/db").required_role(&Method::PUT), WorkspaceRole::Writer);
    assert_eq!(path("/pps/secrets/db").required_role(&Method::DELETE), WorkspaceRole::Writer);
    assert_eq!(path("/pps/secrets/db").audited_action(&Method::PUT), Some(("secret.put", "secret:db".to_owned())));
    assert_eq!(
        path("/pps/secrets/db").audited_action(&Method::DELETE),
        Some(("secret.delete", "secret:db".to_owned()))
    );
    assert_eq!(path("/pps/secrets/db").audited_action(&Method::GET), None);
}

#[test]
fn every_spelling_of_a_dot_segment_is_refused() {
    for tail in [
        "/repos/x/../victim",
        "/repos/x/./victim",
        "/x/%2e%2e/fsck",
        "/x/%2E%2e/fsck",
        "/x/.%2E/fsck",
        "/x/%2e./fsck",
        "/repos/public/%2e%2e/secrets",
        "/repos/public/..",
    ] {
        assert_eq!(below_workspace(tail), Err(PathError::DotSegment), "{tail}");
    }
}

#[test]
fn encoded_separators_backslashes_empty_segments_and_double_encodings_are_refused() {
    let cases = [
        ("/repos/x%2f..%2fvictim", PathError::EncodedSeparator),
        ("/repos/x%2F..", PathError::EncodedSeparator),
        ("/repos/x%5c..%5cvictim", PathError::EncodedSeparator),
        ("/repos/x%00", PathError::EncodedSeparator),
        ("/repos/x\\..\\victim", PathError::Backslash),
        ("/repos//victim", PathError::EmptySegment),
        ("/repos/x/%252e%252e/victim", PathError::DoubleEncoding),
        ("/repos/x/%25%32%65%25%32%65/victim", PathError::DoubleEncoding),
        ("/repos/x%252fvictim", PathError::DoubleEncoding),
        ("/repos/x/%2", PathError::BadEscape),
        ("/repos/x/%zz", PathError::BadEscape),
        ("/repos/%ff", PathError::NotUtf8),
    ];
    for (tail, error) in cases {
        assert_eq!(below_workspace(tail), Err(error), "{tail}");
    }
}

#[test]
fn names_with_escaped_characters_round_trip() {
    let path = path("/repos/images/refs/master/files/a%20b%2350%25%3F.txt");
    assert_eq!(path.segments().last().map(String::as_str), Some("a b#50%?.txt"));
    assert_eq!(path.encoded(), "/repos/images/refs/master/files/a%20b%2350%25%3F.txt");
    let root = self::path("/repos/images/refs/master/files/");
    assert_eq!(root.segments().last().map(String::as_str), Some(""), "a trailing slash is the root");
    assert_eq!(root.encoded(), "/repos/images/refs/master/files/");
}

#[test]
fn the_prefix_is_checked_segment_by_segment() {
    let gateway = [Some("v1"), Some("orgs"), None, Some("workspaces"), None];
    let parse = |raw: &str| Segments::parse(raw).and_then(|s| s.below(&gateway));
    let (captured, path) = parse("/v1/orgs/acme/workspaces/ws/repos").expect("valid");
    assert_eq!(captured, ["acme", "ws"]);
    assert_eq!(path.segments(), ["repos"]);
    assert!(matches!(parse("/v1/orgs/acme/workspaces/ws"), Err(PathError::OutsidePrefix { .. })));
    assert!(matches!(parse("/v1/orgs/acme/other/ws/repos"), Err(PathError::OutsidePrefix { .. })));
    assert_eq!(parse("/v1/orgs/x/../acme/workspaces/ws/repos").err(), Some(PathError::DotSegment));
}

// ---- The property: what is decided is what is forwarded. ----

/// A decoded name a person could give a repo or a file.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9_-]{1,6}",
        1 => "[a-z #%?+=;~!@:'()*,&$^|\\[\\]{}<>\"`é]{1,6}",
    ]
}

/// One way of writing `text` in a raw path: as it is where that is legal,
/// escaped in upper or lower case, or escaped twice.
fn spelled(text: &str) -> impl Strategy<Value = String> + use<> {
    let chars: Vec<char> = text.chars().collect();
    proptest::collection::vec(0u8..5, chars.len()).prop_map(move |choices| {
        let mut raw = String::new();
        for (c, choice) in chars.iter().zip(choices) {
            let mut utf8 = [0u8; 4];
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            let plain = c.is_ascii_alphanumeric() || "-._~".contains(*c);
            match choice {
                0 if plain => raw.push(*c),
                0 | 1 => bytes.iter().for_each(|b| raw.push_str(&format!("%{b:02X}"))),
                2 => bytes.iter().for_each(|b| raw.push_str(&format!("%{b:02x}"))),
                3 => bytes.iter().for_each(|b| raw.push_str(&format!("%25{b:02x}"))),
                _ => bytes.iter().for_each(|b| {
                    raw.push_str("%25");
                    format!("{b:02x}").bytes().for_each(|hex| raw.push_str(&format!("%{hex:02X}")));
                }),
            }
        }
        raw
    })
}

/// A raw segment: a name, a dot segment, or nothing, in any spelling.
fn raw_segment() -> impl Strategy<Value = String> {
    let base = prop_oneof![
        6 => name(),
        2 => Just(".".to_owned()),
        2 => Just("..".to_owned()),
        1 => Just(String::new()),
        1 => Just("x/..".to_owned()),
        1 => Just("x\\..".to_owned()),
    ];
    base.prop_flat_map(|text| spelled(&text))
}

/// What separates raw segments: mostly `/`, sometimes something that some
/// component may read as `/`.
fn separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![12 => Just("/"), 1 => Just("\\"), 1 => Just("//"), 1 => Just("%2f"), 1 => Just("%5C"), 1 => Just("%252F")]
}

fn raw_tail() -> impl Strategy<Value = String> {
    let route = prop_oneof![
        Just(vec!["repos".to_owned()]),
        Just(vec!["repos".to_owned(), "x".to_owned(), "refs".to_owned(), "master".to_owned(), "files".to_owned()]),
        Just(vec!["pps".to_owned(), "pipelines".to_owned()]),
        Just(vec!["fsck".to_owned()]),
        Just(vec![]),
    ];
    (route, proptest::collection::vec((separator(), raw_segment()), 0..6)).prop_map(|(route, rest)| {
        let mut raw: String = route.iter().map(|s| format!("/{s}")).collect();
        for (separator, segment) in rest {
            raw.push_str(separator);
            raw.push_str(&segment);
        }
        raw
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![Just(Method::GET), Just(Method::PUT), Just(Method::POST), Just(Method::DELETE)]
}

/// An independent oracle: does any decoding of `raw` (once, twice, ...,
/// with `\` read as `/`) contain a `.` or `..` segment?
fn some_decoding_has_a_dot_segment(raw: &str) -> bool {
    let mut text = raw.to_owned();
    for _ in 0..6 {
        let normalised = text.replace('\\', "/");
        if normalised.split('/').any(|segment| segment == "." || segment == "..") {
            return true;
        }
        let next = percent_decode_str(&text).decode_utf8_lossy().into_owned();
        if next == text {
            return false;
        }
        text = next;
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The gateway either refuses a path or forwards exactly the path it
    /// authorised: the workspace server, parsing what reqwest really sends,
    /// finds the same segments, so the same role, repo and audit action.
    #[test]
    fn decision_and_forwarded_path_always_agree(tail in raw_tail(), method in method()) {
        let raw = format!("/v1/orgs/acme/workspaces/ws{tail}");
        let Ok(request) = GatewayRequest::parse(&method, &raw) else {
            return Ok(());
        };
        prop_assert!(!some_decoding_has_a_dot_segment(&raw), "accepted {raw} although it hides a dot segment");
        let url = upstream_url("http://127.0.0.1:9/", &request.slug, &request.path, Some("recursive=true"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let sent = reqwest::Client::new()
            .request(request.method.clone(), url)
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(sent.method().as_str(), method.as_str());
        let (slug, upstream) = Segments::parse(sent.url().path())
            .and_then(|s| s.below(&SERVER_PREFIX))
            .map_err(|e| TestCaseError::fail(format!("the upstream refuses {}: {e}", sent.url())))?;
        prop_assert_eq!(slug, vec!["ws".to_owned()]);
        prop_assert_eq!(&upstream, &request.path);
        prop_assert_eq!(upstream.required_role(&method), request.path.required_role(&method));
        prop_assert_eq!(upstream.repo(), request.path.repo());
        prop_assert_eq!(upstream.audited_action(&method), request.path.audited_action(&method));
        // What an HTTP server that decodes each segment once sees.
        let decoded: Vec<String> = sent.url().path().split('/').skip(4)
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
        prop_assert_eq!(decoded.as_slice(), request.path.segments());
    }

    /// Paths made of ordinary names, however they are escaped, are accepted
    /// and decode to those names: the parser refuses only what it must.
    #[test]
    fn paths_of_names_are_accepted_and_decoded(names in proptest::collection::vec(name(), 1..5), upper in any::<bool>()) {
        let raw: String = names.iter().map(|n| {
            let encoded = encode_segment(n);
            // Names are lower case, so this changes only the escapes' hex digits.
            format!("/{}", if upper { encoded } else { encoded.to_lowercase() })
        }).collect();
        let path = below_workspace(&raw).map_err(|e| TestCaseError::fail(format!("{raw}: {e}")))?;
        prop_assert_eq!(path.segments(), names.as_slice());
    }
}
