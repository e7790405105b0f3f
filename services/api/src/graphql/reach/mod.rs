//! How GraphQL reaches a workspace's data. Each workspace a request names
//! is resolved once for that request (the caller's access, from the hub).
//! A workspace this server hosts (the embedded one) is then called
//! in-process, straight into its PFS and PPS; any other through the
//! server's one pooled HTTP client, straight to the workspace's server,
//! with a credential for that one call. Either way each call is decided by
//! [`gateway::authorize`](crate::gateway::authorize), the gateway's own
//! decision, so roles are checked in one place ([`vouching`]); [`calls`]
//! holds the calls.

mod calls;
mod vouching;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::Context;
use opentelemetry::KeyValue;
use strata_api_types::ErrorCode;
use strata_hub::{Hub, HubError, UserError};
use strata_pfs::Pfs;
use strata_pfs::http::Workspaces;
use strata_pps::Pps;
use strata_pps::http::PpsWorkspaces;
use tokio::sync::{OnceCell, OwnedSemaphorePermit};

use self::vouching::Vouching;
use super::caller::Caller;
use crate::gateway::Upstreams;

/// A workspace's link, made by the first field that needs it.
type LinkCell = Arc<OnceCell<Arc<Link>>>;

/// The workspaces this server hosts in-process, by slug.
#[derive(Debug, Clone)]
pub(crate) struct Hosted {
    pub(crate) pfs: Arc<Workspaces>,
    pub(crate) pps: Arc<PpsWorkspaces>,
}

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

    /// The workspace `org/slug` as the caller reaches it, holding one of
    /// the organisation's permits for calls to workspaces while in use.
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
        let reached = match link.target {
            Target::InProcess { .. } => "in_process",
            Target::Remote(_) => "remote",
        };
        self.upstreams.graphql_calls().add(1, &[KeyValue::new("reached", reached)]);
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
        // Wakes a sleeping workspace; it stays awake while the call holds the link.
        let strata_hub::Reached { access, activity } = hub.reach_workspace(&principal, org, slug).await?;
        // A workspace without a server answers nothing: say so once, here.
        if let Err(error) = access.route(None)
            && error.user_error().is_some_and(|user| user.code == ErrorCode::WorkspaceNotReady)
        {
            return Err(error);
        }
        let base = access.upstream.as_ref().map(|upstream| upstream.endpoint.clone());
        let vouching = Arc::new(Vouching {
            base_path: base.as_deref().map(base_path).unwrap_or_default(),
            principal,
            access,
            org: org.to_owned(),
            own: self.upstreams.own().to_owned(),
            internal_token: self.internal_token.clone(),
            audited: Mutex::default(),
        });
        let slug_there = vouching.access.slug.clone();
        let target = match base {
            Some(base) => {
                let client = strata_client::StrataClient::with_http_client(&base, self.upstreams.http().clone())
                    .map_err(|e| HubError::Internal(format!("workspace `{org}/{slug}` has an unusable endpoint: {e}")))?
                    .with_request_credentials(vouching.clone())
                    .workspace(&slug_there);
                Target::Remote(client)
            }
            None => self.in_process(org, &slug_there)?,
        };
        Ok(Arc::new(Link { target, vouching, _activity: activity }))
    }

    /// The hosted workspace `slug`; the hub says this server hosts it.
    fn in_process(&self, org: &str, slug: &str) -> Result<Target, HubError> {
        let not_here = || HubError::Internal(format!("workspace `{org}/{slug}` is hosted here but not open"));
        let hosted = self.upstreams.hosted();
        let pfs = hosted.pfs.get(slug).map_err(|_| not_here())?.clone();
        let pps = hosted.pps.get(slug).map_err(|_| not_here())?.clone();
        Ok(Target::InProcess { pfs, pps })
    }
}

/// The path of an endpoint URL, without its trailing `/`.
fn base_path(endpoint: &str) -> String {
    reqwest::Url::parse(endpoint).map(|url| url.path().trim_end_matches('/').to_owned()).unwrap_or_default()
}

fn too_many_calls(org: &str) -> String {
    format!("too many calls to the workspaces of `{org}` at once; try again in 1 s")
}

/// Where a workspace's calls go.
enum Target {
    /// Hosted by this server: its PFS and PPS, called directly.
    InProcess { pfs: Pfs, pps: Pps },
    /// Served elsewhere, over HTTP.
    Remote(strata_client::Workspace),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::InProcess { .. } => f.write_str("InProcess"),
            Target::Remote(client) => f.debug_tuple("Remote").field(client).finish(),
        }
    }
}

/// One workspace as the caller reaches it.
#[derive(Debug)]
struct Link {
    target: Target,
    vouching: Arc<Vouching>,
    _activity: strata_hub::ActivityGuard,
}

/// One workspace during one call; see [`Reaches::reach`] and, for the
/// calls, [`calls`].
#[derive(Debug)]
pub(crate) struct Reach {
    link: Arc<Link>,
    _permit: OwnedSemaphorePermit,
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

/// The per-request place of [`Reaches`] in a GraphQL context.
pub(crate) async fn reach(ctx: &Context<'_>, org: &str, slug: &str) -> Result<Reach, HubError> {
    let reaches = ctx.data::<Reaches>().map_err(|e| HubError::Internal(e.message))?;
    reaches.reach(ctx, org, slug).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_internal_token_never_shows_in_debug_output() {
        let reaches = super::Reaches::new(test_upstreams(), "sti_secret-value".to_owned());
        let shown = format!("{reaches:?}");
        assert!(!shown.contains("secret-value"), "{shown}");
    }

    fn test_upstreams() -> crate::gateway::Upstreams {
        let metrics = strata_core::telemetry::Metrics::new().expect("metrics");
        let hosted = super::Hosted { pfs: Default::default(), pps: Default::default() };
        crate::gateway::Upstreams::new("127.0.0.1:0".parse().expect("an address"), hosted, &metrics).expect("upstreams")
    }
}
