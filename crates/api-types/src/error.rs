//! The one vocabulary of failures. Every HTTP error body, every GraphQL
//! `userErrors.code` and `extensions.code` is an [`ErrorCode`]; the HTTP
//! status of each is decided here, once. `docs/api-errors.md` lists the same
//! codes (a test holds the two together).

use serde::{Deserialize, Serialize};

/// A stable, machine-readable reason for a failure. Messages are for
/// people and may change; codes do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No credentials, or ones that are malformed, expired or revoked.
    Unauthenticated,
    /// The caller is known but may not do this (the role is too small).
    Forbidden,
    /// A cookie-authenticated request without the matching CSRF token.
    Csrf,
    /// A workspace path with dot segments, escaped separators and the like.
    InvalidPath,
    /// A method the endpoint does not take.
    MethodNotAllowed,
    /// A request body that is not what the endpoint reads (e.g. not GraphQL).
    InvalidRequest,
    /// A GraphQL operation over its cost limits.
    TooComplex,
    /// A GraphQL request with more than one sign-up, log-in or password mutation.
    TooManyAuthMutations,
    /// The workspace has no server (yet, or any more).
    WorkspaceNotReady,
    /// The workspace's server could not be reached.
    WorkspaceUnavailable,
    /// Too many requests or attempts; `Retry-After` says when to retry.
    RateLimited,
    /// Nothing of that name exists, or the caller may not know that it does.
    NotFound,
    /// A pipeline spec that does not parse or is invalid.
    InvalidSpec,
    /// A body over its size limit.
    PayloadTooLarge,
    /// The server is at its limit of concurrent work of this kind.
    Busy,
    /// A malformed or out-of-range value; the message names it.
    InvalidArgument,
    /// The password is too weak or too common.
    WeakPassword,
    /// The confirmation typed back does not match.
    ConfirmationMismatch,
    /// An upload whose body ended early; nothing was committed.
    UploadInterrupted,
    /// Creating something whose unique name is taken.
    AlreadyExists,
    /// The request conflicts with the current state (an open commit, a lost race).
    Conflict,
    /// The organisation would be left without an owner.
    LastOwner,
    /// The organisation's plan allows no more; the message names the limit.
    QuotaExceeded,
    /// The organisation's payment is overdue past its grace period, so its
    /// workspaces are suspended; the message links the billing portal.
    PaymentRequired,
    /// The organisation requires single sign-on and the session did not
    /// come from its identity provider; log in with SSO.
    SsoRequired,
    /// A link or invitation past its expiry or already used.
    Expired,
    /// A worker's task whose job ended or whose lease passed on.
    Gone,
    /// A wait ran out of time; what was awaited may still happen.
    Timeout,
    /// A long wait ended because the server is stopping.
    ServerStopping,
    /// The object store or the task queue failed; nothing was committed.
    StorageUnavailable,
    /// Stored bytes or rows do not match what was written.
    DataCorrupted,
    /// Our failure; the server log has the details, under the request id.
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::Csrf,
        ErrorCode::InvalidPath,
        ErrorCode::MethodNotAllowed,
        ErrorCode::InvalidRequest,
        ErrorCode::TooComplex,
        ErrorCode::TooManyAuthMutations,
        ErrorCode::WorkspaceNotReady,
        ErrorCode::WorkspaceUnavailable,
        ErrorCode::RateLimited,
        ErrorCode::NotFound,
        ErrorCode::InvalidSpec,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Busy,
        ErrorCode::InvalidArgument,
        ErrorCode::WeakPassword,
        ErrorCode::ConfirmationMismatch,
        ErrorCode::UploadInterrupted,
        ErrorCode::AlreadyExists,
        ErrorCode::Conflict,
        ErrorCode::LastOwner,
        ErrorCode::QuotaExceeded,
        ErrorCode::PaymentRequired,
        ErrorCode::SsoRequired,
        ErrorCode::Expired,
        ErrorCode::Gone,
        ErrorCode::Timeout,
        ErrorCode::ServerStopping,
        ErrorCode::StorageUnavailable,
        ErrorCode::DataCorrupted,
        ErrorCode::Internal,
    ];

    /// The code as clients see it, e.g. `ALREADY_EXISTS`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::Csrf => "CSRF",
            ErrorCode::InvalidPath => "INVALID_PATH",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::TooComplex => "TOO_COMPLEX",
            ErrorCode::TooManyAuthMutations => "TOO_MANY_AUTH_MUTATIONS",
            ErrorCode::WorkspaceNotReady => "WORKSPACE_NOT_READY",
            ErrorCode::WorkspaceUnavailable => "WORKSPACE_UNAVAILABLE",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InvalidSpec => "INVALID_SPEC",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::Busy => "BUSY",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::WeakPassword => "WEAK_PASSWORD",
            ErrorCode::ConfirmationMismatch => "CONFIRMATION_MISMATCH",
            ErrorCode::UploadInterrupted => "UPLOAD_INTERRUPTED",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::LastOwner => "LAST_OWNER",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::PaymentRequired => "PAYMENT_REQUIRED",
            ErrorCode::SsoRequired => "SSO_REQUIRED",
            ErrorCode::Expired => "EXPIRED",
            ErrorCode::Gone => "GONE",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::ServerStopping => "SERVER_STOPPING",
            ErrorCode::StorageUnavailable => "STORAGE_UNAVAILABLE",
            ErrorCode::DataCorrupted => "DATA_CORRUPTED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// The code named `text` (exact spelling), if there is one.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// The HTTP status every answer with this code carries.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidPath
            | ErrorCode::InvalidRequest
            | ErrorCode::TooComplex
            | ErrorCode::TooManyAuthMutations
            | ErrorCode::InvalidSpec
            | ErrorCode::InvalidArgument
            | ErrorCode::WeakPassword
            | ErrorCode::ConfirmationMismatch
            | ErrorCode::UploadInterrupted => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::PaymentRequired => 402,
            ErrorCode::Forbidden | ErrorCode::Csrf | ErrorCode::QuotaExceeded | ErrorCode::SsoRequired => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Timeout => 408,
            ErrorCode::WorkspaceNotReady | ErrorCode::AlreadyExists | ErrorCode::Conflict | ErrorCode::LastOwner => 409,
            ErrorCode::Expired | ErrorCode::Gone => 410,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::DataCorrupted | ErrorCode::Internal => 500,
            ErrorCode::WorkspaceUnavailable => 502,
            ErrorCode::Busy | ErrorCode::ServerStopping | ErrorCode::StorageUnavailable => 503,
        }
    }

    /// True for the server's own failures (5xx): they are logged with
    /// their causes where they happen, and answered with a request id.
    pub fn is_server_error(self) -> bool {
        self.http_status() >= 500
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every HTTP error answers with this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// For server errors: the id under which the server logged the cause
    /// (the request's trace id); quote it when reporting a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { code, message: message.into(), request_id: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_from_its_name_and_from_json() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).expect("serialises");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).expect("parses"), code);
        }
    }

    #[test]
    fn all_lists_every_code_once() {
        let distinct: std::collections::BTreeSet<_> = ErrorCode::ALL.into_iter().collect();
        assert_eq!(distinct.len(), ErrorCode::ALL.len());
    }

    /// `docs/api-errors.md` is the user's view of this enum: each code in
    /// exactly one row, with the status the servers answer it with.
    #[test]
    fn the_error_reference_lists_every_code_once_with_its_status() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api-errors.md");
        let doc = std::fs::read_to_string(path).expect("docs/api-errors.md");
        let mut documented = std::collections::BTreeMap::new();
        for row in doc.lines().filter(|line| line.starts_with("| `")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`');
            let code = ErrorCode::parse(name).unwrap_or_else(|| panic!("documented code {name} is not an ErrorCode"));
            let status: u16 = cells[2].parse().unwrap_or_else(|_| panic!("{name}: one status, not `{}`", cells[2]));
            assert_eq!(status, code.http_status(), "{name}: documented status");
            assert!(documented.insert(code, status).is_none(), "{name} is documented twice");
        }
        for code in ErrorCode::ALL {
            assert!(documented.contains_key(&code), "{code} is missing from docs/api-errors.md");
        }
    }

    #[test]
    fn only_server_failures_are_5xx() {
        for code in ErrorCode::ALL {
            let status = code.http_status();
            assert!((400..600).contains(&status), "{code}: {status}");
            assert_eq!(code.is_server_error(), status >= 500, "{code}");
        }
        assert!(ErrorCode::DataCorrupted.is_server_error());
        assert!(!ErrorCode::Timeout.is_server_error());
    }
}
