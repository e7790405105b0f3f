//! How GraphQL reaches a workspace's data: each workspace a request names
//! is resolved once for that request (the caller's access, from the hub),
//! and every call to it goes through the server's one pooled HTTP client,
//! straight to the workspace's server, with a credential for that one
//! call. Whether a call is allowed is decided by [`gateway::authorize`],
//! the gateway's own decision, so roles are checked in one place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::Context;
use strata_api_types::ErrorCode;
use strata_client::{ClientError, RequestCredentials};
use strata_hub::{Hub, HubError, Principal, UserError, WorkspaceAccess};
use tokio::sync::{OnceCell, OwnedSemaphorePermit};

use super::caller::Caller;
use crate::gateway::{self, Upstreams};
use crate::workspace_path::Segments;

/// A workspace's link, made by the first field that needs it.
type LinkCell = Arc<OnceCell<Arc<Link>>>;

/// The workspaces one GraphQL request has reached, by organisation and
/// slug. Lives as long as the request, so a role change applies to the
/// next request.
pub(crate) struct Reaches {
    upstreams: Upstreams,
    internal_token: String,
    resolved: Mutex<HashMap<(String, String), LinkCell>>,
}

// Written by hand so that the internal token never reaches a log line.
impl std::fmt::Debug for Reaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reaches").field("upstreams", &self.upstreams).finish_non_exhaustive()
    }
}

impl Reaches {
    pub(crate) fn new(upstreams: Upstreams, internal_token: String) -> Self {
        Reaches { upstreams, internal_token, resolved: Mutex::default() }
    }

    /// A client for `org/slug` acting as the caller, holding one of the
    /// organisation's permits for calls to workspace servers while in use.
    pub(crate) async fn reach(&self, ctx: &Context<'_>, org: &str, slug: &str) -> Result<Reach, HubError> {
        let cell = {
            let mut resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
            resolved.entry((org.to_owned(), slug.to_owned())).or_default().clone()
        };
        let link = cell.get_or_try_init(|| self.link(ctx, org, slug)).await?.clone();
        let permit = self
            .upstreams
            .limit()
            .acquire(org)
            .await
            .map_err(|_| UserError::new(None, ErrorCode::RateLimited, too_many_calls(org)))?;
        Ok(Reach { link, _permit: permit })
    }

    async fn link(&self, ctx: &Context<'_>, org: &str, slug: &str) -> Result<Arc<Link>, HubError> {
        let principal = ctx
            .data::<Caller>()
            .map_err(|_| HubError::User(UserError::unauthenticated("log in first")))?
            .principal()
            .map_err(HubError::User)?
            .clone();
        let hub = ctx.data::<Hub>().map_err(|e| HubError::Internal(e.message))?;
        let access = hub.workspace_access(&principal, org, slug).await?;
        // A workspace without a server answers nothing: say so once, here.
        if let Err(error) = access.route(None)
            && error.user_error().is_some_and(|user| user.code == ErrorCode::WorkspaceNotReady)
        {
            return Err(error);
        }
        let base = access.upstream.as_ref().map_or_else(|| self.upstreams.own().to_owned(), |u| u.endpoint.clone());
        let slug_there = access.slug.clone();
        let base_path =
            reqwest::Url::parse(&base).map(|url| url.path().trim_end_matches('/').to_owned()).unwrap_or_default();
        let vouching = Vouching {
            base_path,
            principal,
            access,
            org: org.to_owned(),
            own: self.upstreams.own().to_owned(),
            internal_token: self.internal_token.clone(),
            audited: Mutex::default(),
        };
        let vouching = Arc::new(vouching);
        let client = strata_client::StrataClient::with_http_client(&base, self.upstreams.http().clone())
            .map_err(|e| HubError::Internal(format!("workspace `{org}/{slug}` has an unusable endpoint: {e}")))?
            .with_request_credentials(vouching.clone())
            .workspace(&slug_there);
        Ok(Arc::new(Link { client, vouching }))
    }
}

fn too_many_calls(org: &str) -> String {
    format!("too many calls to the workspaces of `{org}` at once; try again in 1 s")
}

/// One workspace as the caller reaches it.
#[derive(Debug)]
struct Link {
    client: strata_client::Workspace,
    vouching: Arc<Vouching>,
}

/// A client for one workspace during one call; see [`Reaches::reach`].
#[derive(Debug)]
pub(crate) struct Reach {
    link: Arc<Link>,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for Reach {
    type Target = strata_client::Workspace;

    fn deref(&self) -> &Self::Target {
        &self.link.client
    }
}

impl Reach {
    /// Settles the audited actions (deleting a repo or a pipeline, ...)
    /// this workspace was asked to carry out for the caller: recorded in the
    /// hub's audit log, as the gateway does for the same requests, when the
    /// call `succeeded`; forgotten otherwise, so that a failed call is never
    /// recorded by a later one.
    pub(crate) async fn settle_audit(&self, hub: &Hub, succeeded: bool) {
        let actions = std::mem::take(&mut *self.link.vouching.audited.lock().unwrap_or_else(PoisonError::into_inner));
        if !succeeded {
            return;
        }
        let vouching = &self.link.vouching;
        for (action, target) in actions {
            let recorded =
                hub.record_workspace_action(&vouching.principal, vouching.access.workspace_id, action, &target).await;
            if let Err(error) = recorded {
                tracing::error!(error = %strata_core::error::display_chain(&error), "cannot write an audit event");
            }
        }
    }
}

/// Decides each call's credential with the gateway's decision.
struct Vouching {
    /// The path of the server's endpoint, before `/v1/workspaces/…`.
    base_path: String,
    principal: Principal,
    access: WorkspaceAccess,
    org: String,
    own: String,
    internal_token: String,
    /// Audited actions vouched for, recorded once they succeed.
    audited: Mutex<Vec<(&'static str, String)>>,
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
        let forward = gateway::authorize(
            &self.principal,
            &self.access,
            &self.org,
            method,
            &path,
            &self.own,
            &self.internal_token,
        )
        .map_err(|(code, message)| refused(code, message))?;
        if let Ok(actix_method) = actix_web::http::Method::from_bytes(method.as_str().as_bytes())
            && let Some(action) = path.audited_action(&actix_method)
        {
            self.audited.lock().unwrap_or_else(PoisonError::into_inner).push(action);
        }
        Ok(forward.bearer)
    }
}

/// The per-request place of [`Reaches`] in a GraphQL context.
pub(crate) async fn reach(ctx: &Context<'_>, org: &str, slug: &str) -> Result<Reach, HubError> {
    let reaches = ctx.data::<Reaches>().map_err(|e| HubError::Internal(e.message))?;
    reaches.reach(ctx, org, slug).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_internal_token_never_shows_in_debug_output() {
        let reaches = format!("{:?}", super::Reaches::new(test_upstreams(), "sti_secret-value".to_owned()));
        assert!(!reaches.contains("secret-value"), "{reaches}");
    }

    fn test_upstreams() -> crate::gateway::Upstreams {
        let metrics = strata_core::telemetry::Metrics::new().expect("metrics");
        crate::gateway::Upstreams::new("127.0.0.1:0".parse().expect("an address"), &metrics).expect("upstreams")
    }
}
