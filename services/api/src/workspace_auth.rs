//! Who may call a workspace's HTTP endpoints (`/v1/workspaces/{ws}/…`).
//!
//! Every request needs a bearer token (an access token or an API token),
//! and the caller's role on the workspace decides what it may do: reading
//! needs `reader`, changing data and running pipelines needs `writer`,
//! deleting repos and storage maintenance need `admin`. A workspace the
//! caller has no role on answers exactly like one that does not exist.
//!
//! The embedded workers of this process authenticate with a random secret
//! made at start-up ([`WorkspaceGuard::internal_token`]), valid only here
//! and only as a writer of the workspaces this process hosts.

use std::collections::HashMap;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use strata_api_types::ErrorCode;
use strata_core::id::WorkspaceId;
use strata_http::reject;
use strata_hub::{Hub, Principal};
use uuid::Uuid;

use crate::workspace_path::{Refusal, Segments, WorkspacePath};

/// The workspaces this process serves, and the embedded workers' secret.
#[derive(Clone)]
pub(crate) struct WorkspaceGuard {
    /// Path slug (`default`) → hub workspace id.
    hosted: HashMap<String, WorkspaceId>,
    internal_token: String,
}

impl std::fmt::Debug for WorkspaceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceGuard").field("hosted", &self.hosted).finish_non_exhaustive()
    }
}

impl WorkspaceGuard {
    pub(crate) fn new(hosted: HashMap<String, WorkspaceId>) -> Self {
        let internal_token = format!("sti_{}", Uuid::new_v4().simple());
        WorkspaceGuard { hosted, internal_token }
    }

    /// True for this process's own workers' `Authorization` header.
    pub(crate) fn is_internal(&self, authorization: &str) -> bool {
        authorization.strip_prefix("Bearer ").is_some_and(|token| same_secret(token.trim(), &self.internal_token))
    }

    /// The bearer token of this process's embedded workers.
    pub(crate) fn internal_token(&self) -> &str {
        &self.internal_token
    }
}

/// Who is acting on a workspace request: a person (or their API token) on
/// a workspace, or this process's own workers.
#[derive(Debug, Clone)]
enum WorkspaceCaller {
    Internal,
    Person { principal: Principal, workspace_id: WorkspaceId },
}

/// Compares secrets without leaking, through timing, how much matched.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    blake3::hash(a.as_bytes()) == blake3::hash(b.as_bytes())
}

fn not_found(slug: &str) -> HttpResponse {
    reject(ErrorCode::NotFound, format!("no workspace `{slug}`, or you do not have access to it"))
}

/// The bearer token of an `Authorization` header: `None` without one,
/// `Some(Err(()))` when it is not `Bearer <token>`. GraphQL and the
/// workspace endpoints read credentials through this one function.
pub(crate) fn bearer(headers: &actix_web::http::header::HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    Some(token.map(str::trim).filter(|t| !t.is_empty()).ok_or(()))
}

/// The person behind a request's bearer token, or the 401 to answer.
pub(crate) async fn authenticate(
    headers: &actix_web::http::header::HeaderMap,
    hub: &Hub,
) -> Result<Principal, HttpResponse> {
    let token = match bearer(headers) {
        None => {
            return Err(reject(
                ErrorCode::Unauthenticated,
                "log in first (`strata auth login`) or send `Authorization: Bearer <token>`",
            ));
        }
        Some(Err(())) => {
            return Err(reject(ErrorCode::Unauthenticated, "the Authorization header must be `Bearer <token>`"));
        }
        Some(Ok(token)) => token,
    };
    hub.authenticate(token).await.map_err(|error| {
        let message = error
            .user_error()
            .map_or_else(|| "cannot check credentials right now; try again".to_owned(), |e| e.message.clone());
        if error.user_error().is_none() {
            tracing::error!(error = %strata_core::error::display_chain(&error), "authentication failed");
        }
        reject(ErrorCode::Unauthenticated, message)
    })
}

/// A request below `/v1/workspaces/{workspace}`, parsed once from the raw
/// path: the slug and the path its role and audit action come from.
pub(crate) fn parse_workspace_request(request: &ServiceRequest) -> Result<(String, WorkspacePath), Refusal> {
    let prefix = [Some("v1"), Some("workspaces"), None];
    let (captured, path) = Segments::parse(request.path())?.below(&prefix)?;
    let slug = captured.into_iter().next().unwrap_or_default();
    Ok((slug, path))
}

/// Decides a request; `Ok` carries the caller for the handler.
async fn decide(
    request: &ServiceRequest,
    slug: &str,
    path: &WorkspacePath,
    guard: &WorkspaceGuard,
    hub: &Hub,
) -> Result<WorkspaceCaller, HttpResponse> {
    let hosted = guard.hosted.get(slug).copied();
    if let Some(Ok(token)) = bearer(request.headers())
        && same_secret(token, &guard.internal_token)
    {
        return hosted.map(|_| WorkspaceCaller::Internal).ok_or_else(|| not_found(slug));
    }
    let principal = authenticate(request.headers(), hub).await?;
    let Some(workspace_id) = hosted else { return Err(not_found(slug)) };
    let role = match hub.workspace_role(&principal, workspace_id, path.repo()).await {
        Ok(role) => role,
        Err(error) => {
            tracing::error!(error = %strata_core::error::display_chain(&error), "role lookup failed");
            return Err(reject(ErrorCode::Internal, "internal error; the server log has details"));
        }
    };
    let Some(role) = role else { return Err(not_found(slug)) };
    let needed = path.required_role(request.method());
    if role < needed {
        return Err(reject(
            ErrorCode::Forbidden,
            format!("this needs the {needed} role on workspace `{slug}`; you are {role}. Ask a workspace admin."),
        ));
    }
    Ok(WorkspaceCaller::Person { principal, workspace_id })
}

/// The middleware around every workspace endpoint.
pub(crate) async fn authorize(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (Some(guard), Some(hub)) =
        (request.app_data::<web::Data<WorkspaceGuard>>().cloned(), request.app_data::<web::Data<Hub>>().cloned())
    else {
        let response = reject(ErrorCode::Internal, "authorization is not configured");
        return Ok(request.into_response(response));
    };
    let (slug, path) = match parse_workspace_request(&request) {
        Ok(parsed) => parsed,
        Err(refusal) => return Ok(request.into_response(refusal.response())),
    };
    match decide(&request, &slug, &path, &guard, &hub).await {
        Ok(caller) => {
            let audited = path.audited_action(request.method());
            let response = next.call(request).await?.map_into_boxed_body();
            if let (Some((action, target)), WorkspaceCaller::Person { principal, workspace_id }) = (audited, caller)
                && response.status().is_success()
                && let Err(error) = hub.record_workspace_action(&principal, workspace_id, action, &target).await
            {
                tracing::error!(error = %strata_core::error::display_chain(&error), "cannot write an audit event");
            }
            Ok(response)
        }
        Err(response) => Ok(request.into_response(response)),
    }
}
