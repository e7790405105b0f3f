//! A request path below a workspace, parsed once.
//!
//! The role a request needs, the repo it is about, the audit action it
//! records and the URL the gateway forwards it to are all derived from one
//! [`WorkspacePath`]. A path is split on `/` as sent and each segment is
//! percent-decoded exactly once; anything that another component could
//! read as a different path is refused instead of being normalised: dot
//! segments (`.`, `..`, in any encoding), escaped separators (`%2F`, `%5C`),
//! backslashes, empty segments and escapes that decode to another escape
//! (`%252e`). What is forwarded is re-encoded from the decoded segments, so
//! the workspace server decodes exactly the segments that were authorised.

use actix_web::http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use strata_api_types::ErrorCode;
use strata_hub::WorkspaceRole;

/// Characters a segment keeps as they are when re-encoded: RFC 3986's
/// `pchar` less the percent sign (unreserved, sub-delims, `:` and `@`).
/// Everything else, `%`, `/`, `\`, `?` and `#` included, is escaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Why a path is refused; every variant is the caller's mistake (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PathError {
    #[error("the path must start with `/`")]
    NotAbsolute,
    #[error("the path contains an empty segment (`//`)")]
    EmptySegment,
    #[error("the path contains a `.` or `..` segment; send the path it stands for instead")]
    DotSegment,
    #[error("the path contains a backslash")]
    Backslash,
    #[error("a path segment contains an escaped `/`, `\\` or NUL")]
    EncodedSeparator,
    #[error("a path segment contains an escape that decodes to another escape (`%25…`, `%2e`, `%2f`, `%5c`)")]
    DoubleEncoding,
    #[error("a path segment has a `%` that is not followed by two hex digits")]
    BadEscape,
    #[error("a path segment does not decode to UTF-8")]
    NotUtf8,
    #[error("the path is not below `{expected}`")]
    OutsidePrefix { expected: String },
}

/// Why a workspace request is refused before anything is decided on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("invalid request path: {0}")]
    Path(#[from] PathError),
    #[error("workspace endpoints do not serve {0}")]
    Method(String),
}

impl Refusal {
    /// 400 `INVALID_PATH` or 405 `METHOD_NOT_ALLOWED`.
    pub(crate) fn response(&self) -> actix_web::HttpResponse {
        let code = match self {
            Refusal::Path(_) => ErrorCode::InvalidPath,
            Refusal::Method(_) => ErrorCode::MethodNotAllowed,
        };
        strata_http::reject(code, self.to_string())
    }
}

/// The decoded segments of a path, validated as described in the module
/// documentation. Only the last segment may be empty (a trailing `/`, as
/// in `…/files/` for the root of a commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segments(Vec<String>);

impl Segments {
    /// Parses a raw (still percent-encoded) absolute path.
    pub(crate) fn parse(raw: &str) -> Result<Self, PathError> {
        let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let last = parts.len() - 1;
        let mut segments = Vec::with_capacity(parts.len());
        for (index, part) in parts.into_iter().enumerate() {
            if part.is_empty() && index != last {
                return Err(PathError::EmptySegment);
            }
            segments.push(decode_segment(part)?);
        }
        Ok(Segments(segments))
    }

    /// Splits off the leading segments, which must be `prefix` where it
    /// has `Some`, and are returned where it has `None` (the org, the
    /// workspace slug...).
    pub(crate) fn below(self, prefix: &[Option<&str>]) -> Result<(Vec<String>, WorkspacePath), PathError> {
        let expected = || PathError::OutsidePrefix {
            expected: prefix.iter().map(|p| format!("/{}", p.unwrap_or("{…}"))).collect(),
        };
        if self.0.len() <= prefix.len() {
            return Err(expected());
        }
        let mut segments = self.0;
        let rest = segments.split_off(prefix.len());
        let mut captured = Vec::new();
        for (wanted, segment) in prefix.iter().zip(segments) {
            match wanted {
                Some(literal) if *literal == segment => {}
                Some(_) => return Err(expected()),
                None if segment.is_empty() => return Err(expected()),
                None => captured.push(segment),
            }
        }
        Ok((captured, WorkspacePath { segments: rest }))
    }
}

/// Decodes one segment once, and refuses what could mean a different path
/// to any component that decodes again or treats `\` as `/`.
fn decode_segment(raw: &str) -> Result<String, PathError> {
    if raw.contains('\\') {
        return Err(PathError::Backslash);
    }
    check_escapes(raw)?;
    let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| PathError::NotUtf8)?.into_owned();
    if decoded == "." || decoded == ".." {
        return Err(PathError::DotSegment);
    }
    if decoded.contains(['/', '\\', '\0']) {
        return Err(PathError::EncodedSeparator);
    }
    if contains_meaningful_escape(&decoded) {
        return Err(PathError::DoubleEncoding);
    }
    Ok(decoded)
}

/// Every `%` starts a two-hex-digit escape.
fn check_escapes(raw: &str) -> Result<(), PathError> {
    let bytes = raw.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'%' {
            let digits = bytes.get(index + 1..index + 3).ok_or(PathError::BadEscape)?;
            if !digits.iter().all(u8::is_ascii_hexdigit) {
                return Err(PathError::BadEscape);
            }
        }
    }
    Ok(())
}

/// True when a decoded segment still holds an escape of `%`, `.`, `/` or
/// `\` (any case): a second decoding anywhere would change the path.
fn contains_meaningful_escape(decoded: &str) -> bool {
    let lower = decoded.to_ascii_lowercase();
    ["%25", "%2e", "%2f", "%5c"].iter().any(|escape| lower.contains(escape))
}

/// A validated path below a workspace (`/repos/images/…`), as decoded
/// segments. The only source of a request's role, repo, audit action and
/// forwarded path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkspacePath {
    segments: Vec<String>,
}

impl WorkspacePath {
    /// The path of a call made in-process, from its decoded segments: what
    /// the call will be answered on is exactly what is decided on, so there
    /// is no encoding to check.
    pub(crate) fn from_segments(segments: &[&str]) -> Self {
        WorkspacePath { segments: segments.iter().map(|segment| (*segment).to_owned()).collect() }
    }

    /// The decoded segments, e.g. `["repos", "images", "refs", "master", "files", "a b.txt"]`.
    pub(crate) fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The path re-encoded canonically, starting with `/`: what is forwarded.
    pub(crate) fn encoded(&self) -> String {
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            path.push_str(&encode_segment(segment));
        }
        path
    }

    fn as_strs(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// The repo a request is about (`/repos/{repo}/…`), for repo role
    /// bindings. A copy names a second repo in its body (the source), so
    /// it is not about one repo and needs a role on the whole workspace.
    pub(crate) fn repo(&self) -> Option<&str> {
        match self.as_strs().as_slice() {
            ["repos", _, "refs", _, "copy"] => None,
            ["repos", repo, ..] if !repo.is_empty() => Some(*repo),
            _ => None,
        }
    }

    /// The role a request needs: reading needs `reader`, changes and the
    /// worker protocol `writer`, deleting repos and storage maintenance `admin`.
    pub(crate) fn required_role(&self, method: &Method) -> WorkspaceRole {
        let segments = self.as_strs();
        let maintenance = matches!(segments.as_slice(), ["fsck" | "gc"]);
        let repo_delete = *method == Method::DELETE && matches!(segments.as_slice(), ["repos", _]);
        let worker_task = matches!(segments.as_slice(), ["pps", "tasks", ..]);
        if maintenance || repo_delete {
            WorkspaceRole::Admin
        } else if worker_task || !matches!(*method, Method::GET | Method::HEAD) {
            WorkspaceRole::Writer
        } else {
            WorkspaceRole::Reader
        }
    }

    /// Security-relevant actions that go to the audit log.
    pub(crate) fn audited_action(&self, method: &Method) -> Option<(&'static str, String)> {
        match (method.clone(), self.as_strs().as_slice()) {
            (Method::POST, ["pps", "pipelines"]) => Some(("pipeline.create", "pipeline".to_owned())),
            (Method::DELETE, ["pps", "pipelines", name]) => Some(("pipeline.delete", format!("pipeline:{name}"))),
            (Method::DELETE, ["repos", name]) => Some(("repo.delete", format!("repo:{name}"))),
            (Method::PUT, ["pps", "secrets", name]) => Some(("secret.put", format!("secret:{name}"))),
            (Method::DELETE, ["pps", "secrets", name]) => Some(("secret.delete", format!("secret:{name}"))),
            (Method::POST, ["fsck"]) => Some(("storage.fsck", "workspace".to_owned())),
            (Method::POST, ["gc"]) => Some(("storage.gc", "workspace".to_owned())),
            _ => None,
        }
    }
}

/// The method to forward for a request's method: the workspace API's
/// methods only, so that anything else is refused before it is decided on
/// and the method forwarded is the method authorised.
pub(crate) fn upstream_method(method: &Method) -> Option<reqwest::Method> {
    Some(match *method {
        Method::GET => reqwest::Method::GET,
        Method::HEAD => reqwest::Method::HEAD,
        Method::PUT => reqwest::Method::PUT,
        Method::POST => reqwest::Method::POST,
        Method::DELETE => reqwest::Method::DELETE,
        Method::PATCH => reqwest::Method::PATCH,
        _ => return None,
    })
}

/// One segment (a workspace slug...) encoded as [`WorkspacePath::encoded`] does.
pub(crate) fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

#[cfg(test)]
#[path = "workspace_path_tests.rs"]
mod tests;
