//! The one decision on each call GraphQL makes to a workspace: the
//! gateway's own [`gateway::authorize`], on the method and the parsed path
//! of the call, which also notes the audited actions to record once the
//! call has succeeded.

use std::sync::{Mutex, PoisonError};

use strata_api_types::ErrorCode;
use strata_client::{ClientError, RequestCredentials};
use strata_hub::{HubError, Principal, UserError, WorkspaceAccess};

use crate::gateway::{self, Forward};
use crate::workspace_path::{Segments, WorkspacePath};

/// Decides each call of one caller to one workspace.
pub(super) struct Vouching {
    /// The path of the server's endpoint, before `/v1/workspaces/…`.
    pub(super) base_path: String,
    pub(super) principal: Principal,
    pub(super) access: WorkspaceAccess,
    pub(super) org: String,
    pub(super) own: String,
    pub(super) internal_token: String,
    /// Audited actions vouched for, recorded once they succeed.
    pub(super) audited: Mutex<Vec<(&'static str, String)>>,
}

// Written by hand so that the internal token never reaches a log line.
impl std::fmt::Debug for Vouching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vouching")
            .field("org", &self.org)
            .field("workspace", &self.access.slug)
            .field("user", &self.principal.user_id)
            .finish_non_exhaustive()
    }
}

impl Vouching {
    /// Whether the caller may send `method` to `path`; notes the audited
    /// action the call carries out, if any.
    pub(super) fn decide(
        &self,
        method: &reqwest::Method,
        path: &WorkspacePath,
    ) -> Result<Forward, (ErrorCode, String)> {
        let forward = gateway::authorize(
            &self.principal,
            &self.access,
            &self.org,
            method,
            path,
            &self.own,
            &self.internal_token,
        )?;
        if let Ok(actix_method) = actix_web::http::Method::from_bytes(method.as_str().as_bytes())
            && let Some(action) = path.audited_action(&actix_method)
        {
            self.audited.lock().unwrap_or_else(PoisonError::into_inner).push(action);
        }
        Ok(forward)
    }

    /// [`Self::decide`] for a call served in-process, refused as a hub error.
    pub(super) fn allow(&self, method: &reqwest::Method, segments: &[&str]) -> Result<(), HubError> {
        match self.decide(method, &WorkspacePath::from_segments(segments)) {
            Ok(_) => Ok(()),
            Err((code, message)) if code.is_server_error() => Err(HubError::Remote { code, message }),
            Err((code, message)) => Err(UserError::new(None, code, message).into()),
        }
    }
}

/// A call to a remote workspace server: decided on the URL the client is
/// about to send, so what is checked is exactly what goes out.
impl RequestCredentials for Vouching {
    fn bearer(&self, method: &reqwest::Method, url: &reqwest::Url) -> Result<String, ClientError> {
        let refused = |code: ErrorCode, message: String| ClientError::Api {
            status: code.http_status(),
            code: code.as_str().to_owned(),
            message,
        };
        let prefix = [Some("v1"), Some("workspaces"), Some(self.access.slug.as_str())];
        let below_base = url.path().strip_prefix(self.base_path.as_str()).unwrap_or_default();
        let (_, path) = Segments::parse(below_base)
            .and_then(|segments| segments.below(&prefix))
            .map_err(|error| refused(ErrorCode::InvalidPath, format!("cannot send this path: {error}")))?;
        let forward = self.decide(method, &path).map_err(|(code, message)| refused(code, message))?;
        Ok(forward.bearer)
    }
}
