//! The credentials a workspace server accepts, all derived from its service
//! secret, which only the hub and that workspace server know.
//!
//! The secret itself is never sent. What is sent instead:
//! - a **forwarded request** (`sta_…`): the gateway's decision about one
//!   request (who asks, with which role, for which method and path), valid
//!   for [`FORWARD_LIFETIME_SECS`], so the workspace server checks the role
//!   again and logs the actor, and a captured header is good for nothing else;
//! - a **scoped credential** (`stc_…`): what a worker or the provisioner
//!   holds, good for one pipeline's task protocol or for reading the load.
//!
//! Each kind is a keyed BLAKE3 MAC under its own key derived from the
//! secret, so one kind cannot be turned into another and none reveals the
//! secret.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// How long a forwarded request is valid: one hop on a private network.
pub const FORWARD_LIFETIME_SECS: i64 = 60;
/// Clock difference tolerated between the hub and a workspace server.
const CLOCK_SKEW_SECS: i64 = 30;

const FORWARD_PREFIX: &str = "sta_";
const SCOPED_PREFIX: &str = "stc_";
const FORWARD_CONTEXT: &str = "strata 2026-12 workspace forwarded request v1";
const SCOPED_CONTEXT: &str = "strata 2026-12 workspace scoped credential v1";

/// Why a credential is refused. Deliberately coarse: callers answer 401
/// without saying which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("not a workspace credential")]
    Malformed,
    #[error("the credential's signature does not match")]
    BadSignature,
    #[error("the forwarded request has expired or is dated in the future")]
    Expired,
}

/// The gateway's decision about one request, as the workspace server
/// receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedRequest {
    /// The workspace slug in the forwarded path.
    pub workspace: String,
    /// The user the request is for (a user id), for the audit log.
    pub actor: String,
    /// The API token used, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The caller's role on the workspace (or the repo the path names):
    /// `reader`, `writer` or `admin`.
    pub role: String,
    pub method: String,
    /// The forwarded path below the workspace, as encoded on the wire.
    pub path: String,
    /// Unix seconds.
    pub expires: i64,
    /// What the workspace's plan allows as the gateway sees it now (plans
    /// change between requests; the server keeps the latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::workspace_server::PlanLimits>,
}

impl ForwardedRequest {
    /// Signs the request with the workspace's secret.
    pub fn seal(&self, secret: &str) -> String {
        // Serialising a struct of strings and integers cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mac = mac(FORWARD_CONTEXT, secret, payload.as_bytes());
        format!("{FORWARD_PREFIX}{payload}.{}", mac.to_hex())
    }

    /// Checks a `sta_…` credential against the secret and the clock.
    pub fn open(token: &str, secret: &str, now: i64) -> Result<Self, CredentialError> {
        let rest = token.strip_prefix(FORWARD_PREFIX).ok_or(CredentialError::Malformed)?;
        let (payload, signature) = rest.rsplit_once('.').ok_or(CredentialError::Malformed)?;
        let signature = blake3::Hash::from_hex(signature).map_err(|_| CredentialError::Malformed)?;
        // `blake3::Hash` compares in constant time.
        if mac(FORWARD_CONTEXT, secret, payload.as_bytes()) != signature {
            return Err(CredentialError::BadSignature);
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| CredentialError::Malformed)?;
        let request: ForwardedRequest = serde_json::from_slice(&json).map_err(|_| CredentialError::Malformed)?;
        let fresh = request.expires >= now && request.expires <= now + FORWARD_LIFETIME_SECS + CLOCK_SKEW_SECS;
        if !fresh {
            return Err(CredentialError::Expired);
        }
        Ok(request)
    }

    /// True for a token of this kind (before checking it).
    pub fn looks_like(token: &str) -> bool {
        token.starts_with(FORWARD_PREFIX)
    }
}

/// What a scoped credential allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceScope {
    /// A worker of one pipeline: pull its tasks, read their inputs, report
    /// their results.
    Pipeline(String),
    /// The provisioner's autoscaler: read the queue load.
    Load,
    /// The Kubernetes provisioner: read the secret values a pipeline's worker
    /// pods reference, to store them as the pods' Kubernetes Secrets.
    PodSecrets,
    /// Billing: read the usage outbox it meters.
    Usage,
}

impl fmt::Display for ServiceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceScope::Pipeline(name) => write!(f, "pipeline:{name}"),
            ServiceScope::Load => f.write_str("load"),
            ServiceScope::PodSecrets => f.write_str("pod-secrets"),
            ServiceScope::Usage => f.write_str("usage"),
        }
    }
}

impl ServiceScope {
    fn parse(text: &str) -> Option<Self> {
        match text.split_once(':') {
            Some(("pipeline", name)) if !name.is_empty() && !name.contains('.') => {
                Some(ServiceScope::Pipeline(name.to_owned()))
            }
            None if text == "load" => Some(ServiceScope::Load),
            None if text == "pod-secrets" => Some(ServiceScope::PodSecrets),
            None if text == "usage" => Some(ServiceScope::Usage),
            _ => None,
        }
    }

    /// The credential for this scope on workspace `slug`.
    pub fn credential(&self, secret: &str, slug: &str) -> String {
        let scope = self.to_string();
        format!("{SCOPED_PREFIX}{scope}.{}", scoped_mac(secret, slug, &scope).to_hex())
    }

    /// Checks a `stc_…` credential; returns its scope.
    pub fn verify(token: &str, secret: &str, slug: &str) -> Result<Self, CredentialError> {
        let rest = token.strip_prefix(SCOPED_PREFIX).ok_or(CredentialError::Malformed)?;
        let (scope, signature) = rest.rsplit_once('.').ok_or(CredentialError::Malformed)?;
        let signature = blake3::Hash::from_hex(signature).map_err(|_| CredentialError::Malformed)?;
        if scoped_mac(secret, slug, scope) != signature {
            return Err(CredentialError::BadSignature);
        }
        ServiceScope::parse(scope).ok_or(CredentialError::Malformed)
    }

    /// True for a token of this kind (before checking it).
    pub fn looks_like(token: &str) -> bool {
        token.starts_with(SCOPED_PREFIX)
    }
}

/// Makes the scoped credentials of one workspace for the processes the
/// provisioner starts. Holds the secret, so it prints without it.
#[derive(Clone)]
pub struct CredentialIssuer {
    secret: String,
    slug: String,
}

impl fmt::Debug for CredentialIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialIssuer").field("slug", &self.slug).finish_non_exhaustive()
    }
}

impl CredentialIssuer {
    pub fn new(secret: &str, slug: &str) -> Self {
        CredentialIssuer { secret: secret.to_owned(), slug: slug.to_owned() }
    }

    /// The credential of `pipeline`'s workers.
    pub fn worker(&self, pipeline: &str) -> String {
        ServiceScope::Pipeline(pipeline.to_owned()).credential(&self.secret, &self.slug)
    }

    /// The credential of the autoscaler reading the load.
    pub fn load_reader(&self) -> String {
        ServiceScope::Load.credential(&self.secret, &self.slug)
    }

    /// The credential of the Kubernetes provisioner reading worker pods' secrets.
    pub fn pod_secrets_reader(&self) -> String {
        ServiceScope::PodSecrets.credential(&self.secret, &self.slug)
    }

    /// The credential of billing reading the usage outbox.
    pub fn usage_reader(&self) -> String {
        ServiceScope::Usage.credential(&self.secret, &self.slug)
    }
}

/// The MAC of a scoped credential binds the workspace too, so a workspace
/// that shared a secret with another (it never should) would still not
/// accept the other's credentials.
fn scoped_mac(secret: &str, slug: &str, scope: &str) -> blake3::Hash {
    let message = format!("{slug}\0{scope}");
    mac(SCOPED_CONTEXT, secret, message.as_bytes())
}

fn mac(context: &str, secret: &str, message: &[u8]) -> blake3::Hash {
    let key = blake3::derive_key(context, secret.as_bytes());
    blake3::keyed_hash(&key, message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn forwarded(expires: i64) -> ForwardedRequest {
        ForwardedRequest {
            workspace: "wsa".into(),
            actor: "u-1".into(),
            token_id: None,
            role: "writer".into(),
            method: "DELETE".into(),
            path: "/repos/victim".into(),
            expires,
            limits: None,
        }
    }

    #[test]
    fn a_forwarded_request_opens_only_with_its_secret_and_while_fresh() {
        let sealed = forwarded(1_000 + FORWARD_LIFETIME_SECS).seal("sts_a");
        assert_eq!(ForwardedRequest::open(&sealed, "sts_a", 1_000), Ok(forwarded(1_000 + FORWARD_LIFETIME_SECS)));
        assert_eq!(ForwardedRequest::open(&sealed, "sts_b", 1_000), Err(CredentialError::BadSignature));
        assert_eq!(ForwardedRequest::open(&sealed, "sts_a", 1_061), Err(CredentialError::Expired));
        let far = forwarded(1_000 + 3_600).seal("sts_a");
        assert_eq!(ForwardedRequest::open(&far, "sts_a", 1_000), Err(CredentialError::Expired), "lifetime capped");
    }

    #[test]
    fn a_changed_forwarded_request_does_not_verify() {
        let sealed = forwarded(2_000).seal("sts_a");
        let (payload, signature) = sealed.trim_start_matches("sta_").rsplit_once('.').unwrap();
        let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["role"] = "admin".into();
        let forged = format!("sta_{}.{signature}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        assert_eq!(ForwardedRequest::open(&forged, "sts_a", 1_990), Err(CredentialError::BadSignature));
    }

    #[test]
    fn scoped_credentials_name_their_scope_and_bind_the_workspace() {
        let edges = ServiceScope::Pipeline("edges".into());
        let credential = edges.credential("sts_a", "wsa");
        assert!(!credential.contains("sts_a"));
        assert_eq!(ServiceScope::verify(&credential, "sts_a", "wsa"), Ok(edges));
        assert_eq!(ServiceScope::verify(&credential, "sts_a", "wsb"), Err(CredentialError::BadSignature));
        let renamed = credential.replacen("pipeline:edges", "pipeline:other", 1);
        assert_eq!(ServiceScope::verify(&renamed, "sts_a", "wsa"), Err(CredentialError::BadSignature));
        let load = ServiceScope::Load.credential("sts_a", "wsa");
        assert_eq!(ServiceScope::verify(&load, "sts_a", "wsa"), Ok(ServiceScope::Load));
        assert_eq!(ForwardedRequest::open(&load, "sts_a", 0), Err(CredentialError::Malformed), "kinds do not mix");
    }
}
