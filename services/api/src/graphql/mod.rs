//! The GraphQL API at `/graphql` (docs/graphql.md): the hub (viewer,
//! organisations, members, workspaces, API tokens, audit) and, through it,
//! each workspace.

mod billing;
mod caller;
mod explorer;
mod hub_mutations;
mod hub_types;
mod ids;
mod limits;
mod loaders;
mod paging;
mod plans;
mod reach;
mod sso;

pub(crate) use reach::Hosted;
mod workspace_mutations;
mod workspace_types;

use actix_web::guard::GuardContext;
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::{Context, EmptySubscription, Object, Schema, SimpleObject};
use async_graphql_actix_web::GraphQLResponse;
use strata_api_types::ErrorCode;
use strata_core::id::{ApiTokenId, OrganizationId, UserId, WorkspaceId};
use strata_hub::Hub;

use crate::session_cookies::RequestMeta;
use crate::state::AppState;
pub(crate) use caller::Caller;
use caller::{hub, optional, principal, query_result};
pub(crate) use explorer::{configure as configure_explorer, page as explorer_page};
pub use hub_mutations::HubMutation;
use hub_types::{Organization, User, Workspace};

/// The schema type served at `/graphql`.
pub type StrataSchema = Schema<Query, Mutation, EmptySubscription>;

/// Every mutation: the hub's and the workspaces'.
#[derive(Debug, Default, async_graphql::MergedObject)]
pub struct Mutation(HubMutation, workspace_mutations::WorkspaceMutation, sso::SsoMutation, billing::BillingMutation);

/// Deeper queries are almost always mistakes or attacks.
const MAX_DEPTH: usize = 12;
/// Longest query text accepted; real queries are a few kilobytes.
pub(crate) const MAX_QUERY_BYTES: usize = 32 * 1024;
/// Largest request body (query and variables; pipeline specs are the big ones).
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds the schema with its limits.
pub fn build_schema() -> StrataSchema {
    Schema::build(Query, Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        // The complexity limit, with upstream calls counted apart (see `limits`).
        .extension(limits::RequestLimits)
        .limit_directives(20)
        .finish()
}

/// The schema in SDL, as committed in `docs/schema.graphql`.
pub fn schema_sdl() -> String {
    build_schema().sdl()
}

/// The root of every query.
#[derive(Debug, Default)]
pub struct Query;

/// What is running.
#[derive(Debug, SimpleObject)]
pub struct Version {
    /// The server's release, e.g. `0.1.0`.
    server: String,
    /// The GraphQL API generation; bumped only on breaking changes.
    api: i32,
}

#[Object]
impl Query {
    /// The server's version. Needs no authentication.
    async fn version(&self) -> Version {
        Version { server: strata_core::VERSION.to_owned(), api: 1 }
    }

    /// The plans this installation offers, smallest first. Needs no
    /// authentication (they are what a sign-up page shows).
    async fn plans(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<plans::Plan>> {
        plans::all(ctx)
    }

    /// The person behind the request's token.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let principal = principal(ctx)?;
        Ok(User(query_result(hub(ctx)?.user(principal.user_id).await)?))
    }

    /// An organisation the caller belongs to; null for any other slug.
    async fn organization(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<Organization>> {
        let found = optional(hub(ctx)?.org_for(principal(ctx)?, &slug).await)?;
        Ok(found.map(|(org, role)| Organization::new(org, role)))
    }

    /// Any object by its global id; null when it does not exist or is not
    /// the caller's to see (the same answer).
    async fn node(&self, ctx: &Context<'_>, id: async_graphql::ID) -> async_graphql::Result<Option<Node>> {
        let principal = principal(ctx)?;
        let hub = hub(ctx)?;
        let Some((kind, raw)) = ids::decode(&id) else { return Ok(None) };
        let Ok(uuid) = uuid::Uuid::parse_str(&raw) else { return Ok(None) };
        Ok(match kind {
            ids::Kind::User if UserId::from_uuid(uuid) == principal.user_id => {
                optional(hub.user(principal.user_id).await)?.map(|u| Node::User(User(u)))
            }
            ids::Kind::Organization => optional(hub.org_by_id(principal, OrganizationId::from_uuid(uuid)).await)?
                .map(|(org, role)| Node::Organization(Organization::new(org, role))),
            ids::Kind::Workspace => optional(hub.workspace_by_id(principal, WorkspaceId::from_uuid(uuid)).await)?
                .map(|(ws, org_slug)| Node::Workspace(Workspace { ws, org_slug })),
            ids::Kind::ApiToken => optional(hub.api_token(principal, ApiTokenId::from_uuid(uuid)).await)?
                .map(|token| Node::ApiToken(hub_types::ApiToken(token))),
            _ => None,
        })
    }

    /// A workspace by organisation and slug; null when it does not exist
    /// or the caller has no role on it.
    async fn workspace(
        &self,
        ctx: &Context<'_>,
        organization: String,
        slug: String,
    ) -> async_graphql::Result<Option<Workspace>> {
        let found = optional(hub(ctx)?.workspace(principal(ctx)?, &organization, &slug).await)?;
        Ok(found.map(|ws| Workspace { ws, org_slug: organization }))
    }
}

/// An object with a global id (Relay's `Node`).
#[derive(async_graphql::Interface)]
#[graphql(field(name = "id", ty = "async_graphql::ID"))]
pub(crate) enum Node {
    User(User),
    Organization(Organization),
    Workspace(Workspace),
    ApiToken(hub_types::ApiToken),
}

/// The caller of a request, from its `Authorization: Bearer` header.
pub(crate) async fn caller_of(request: &HttpRequest, hub: &Hub) -> Caller {
    let bearer = match crate::workspace_auth::bearer(request.headers()) {
        None => return Caller::Anonymous,
        Some(Err(())) => {
            return Caller::Rejected(strata_hub::UserError::unauthenticated(
                "the Authorization header must be `Bearer <token>`",
            ));
        }
        Some(Ok(bearer)) => bearer,
    };
    match hub.authenticate(bearer).await {
        Ok(mut principal) => {
            principal.ip = RequestMeta::of(request).ip;
            Caller::Authenticated(principal)
        }
        Err(strata_hub::HubError::User(error)) => Caller::Rejected(error),
        Err(error) => {
            tracing::error!(error = %strata_core::error::display_chain(&error), "authentication failed");
            Caller::Rejected(strata_hub::UserError::unauthenticated("cannot check credentials right now; try again"))
        }
    }
}

/// True when a browser asks for a page rather than data.
pub(crate) fn accepts_html(context: &GuardContext<'_>) -> bool {
    context
        .head()
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Executes an operation sent by POST (JSON body), or a query sent by GET
/// or HEAD (query string), as the caller named by the request's bearer token.
pub(crate) async fn execute(
    state: web::Data<AppState>,
    hub: web::Data<Hub>,
    limiter: web::Data<crate::rate_limit::RateLimiter>,
    upstreams: web::Data<crate::gateway::Upstreams>,
    guard: web::Data<crate::workspace_auth::WorkspaceGuard>,
    http: HttpRequest,
    body: web::Payload,
) -> actix_web::Either<GraphQLResponse, HttpResponse> {
    let request = match read_request(&http, body).await {
        Ok(request) => request,
        Err(refusal) => return actix_web::Either::Right(refusal),
    };
    if request.query.len() > MAX_QUERY_BYTES {
        let error = async_graphql::ServerError::new(
            format!("query is {} bytes; the limit is {MAX_QUERY_BYTES}", request.query.len()),
            None,
        );
        return actix_web::Either::Left(async_graphql::Response::from_errors(vec![error]).into());
    }
    let caller = caller_of(&http, &hub).await;
    let reaches = reach::Reaches::new(upstreams.get_ref().clone(), guard.internal_token().to_owned());
    let mut request = request.data(hub.get_ref().clone());
    // Every app registers billing (on or off); read here to keep the
    // handler's extractors few.
    if let Some(billing) = http.app_data::<web::Data<strata_billing::Billing>>() {
        request = request.data(billing.get_ref().clone());
    }
    let request = request.data(caller).data(reaches).data(limiter).data(RequestMeta::of(&http));
    // Per request: a loader batches within one query and must not cache across callers.
    let bindings = async_graphql::dataloader::DataLoader::new(
        loaders::BindingsLoader(hub.get_ref().clone()),
        crate::middleware::spawn_for_request,
    );
    let request = request.data(bindings);
    actix_web::Either::Left(state.schema.execute(request).await.into())
}

/// The GraphQL request of a GET or HEAD (query string; queries only) or a
/// POST (JSON body of at most [`MAX_BODY_BYTES`]); a refusal is a 4xx with
/// the JSON error shape.
async fn read_request(http: &HttpRequest, mut body: web::Payload) -> Result<async_graphql::Request, HttpResponse> {
    use futures::StreamExt;
    let refuse = |code: ErrorCode, message: String| strata_http::reject(code, message);
    if matches!(*http.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD) {
        let request = async_graphql::http::parse_query_string(http.query_string())
            .map_err(|e| refuse(ErrorCode::InvalidRequest, format!("bad GraphQL query string: {e}")))?;
        if let Some(kind) = writing_operation(&request) {
            // GET must be safe: a link or an <img> could otherwise change
            // data with the victim's credentials, and caches may replay GETs.
            let mut refusal =
                refuse(ErrorCode::MethodNotAllowed, format!("a {kind} cannot be sent with GET; send it with POST"));
            refusal
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, actix_web::http::header::HeaderValue::from_static("POST"));
            return Err(refusal);
        }
        return Ok(request);
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| refuse(ErrorCode::InvalidRequest, format!("cannot read the body: {e}")))?;
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(refuse(
                ErrorCode::PayloadTooLarge,
                format!(
                    "a GraphQL request has at most {MAX_BODY_BYTES} bytes; send file contents over the HTTP file endpoints"
                ),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        refuse(
            ErrorCode::InvalidRequest,
            format!("the body is not a GraphQL request ({{\"query\": ..., \"variables\": ...}}): {e}"),
        )
    })
}

/// The kind of operation (`mutation`, `subscription`) the request could run
/// that is not a query; `None` for a read. A document that does not parse
/// is left to the executor, which reports it without running anything.
fn writing_operation(request: &async_graphql::Request) -> Option<&'static str> {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let document = async_graphql::parser::parse_query(&request.query).ok()?;
    let kind = |ty: OperationType| match ty {
        OperationType::Query => None,
        OperationType::Mutation => Some("mutation"),
        OperationType::Subscription => Some("subscription"),
    };
    match &document.operations {
        DocumentOperations::Single(operation) => kind(operation.node.ty),
        // With a name, only that operation runs; without one, the executor
        // refuses a document of several, but refuse writes here regardless.
        DocumentOperations::Multiple(operations) => operations
            .iter()
            .filter(|(name, _)| request.operation_name.as_deref().is_none_or(|wanted| name.as_str() == wanted))
            .find_map(|(_, operation)| kind(operation.node.ty)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_queries_count_as_reads() {
        let request = |query: &str, name: Option<&str>| {
            let mut request = async_graphql::Request::new(query);
            request.operation_name = name.map(str::to_owned);
            request
        };
        assert_eq!(writing_operation(&request("{ version { api } }", None)), None);
        assert_eq!(writing_operation(&request("query Q { version { api } }", None)), None);
        assert_eq!(writing_operation(&request("mutation { logOut { ok } }", None)), Some("mutation"));
        assert_eq!(writing_operation(&request("subscription { x }", None)), Some("subscription"));
        let both = "query Q { version { api } } mutation M { logOut { ok } }";
        assert_eq!(writing_operation(&request(both, Some("Q"))), None);
        assert_eq!(writing_operation(&request(both, Some("M"))), Some("mutation"));
        assert_eq!(writing_operation(&request(both, None)), Some("mutation"));
        assert_eq!(writing_operation(&request("not graphql", None)), None, "left to the executor");
    }

    /// The committed SDL is what clients and reviewers read: it must match.
    /// Run with `STRATA_UPDATE_SCHEMA=1` to rewrite it after a deliberate change.
    #[test]
    fn committed_schema_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema.graphql");
        let sdl = schema_sdl();
        if std::env::var_os("STRATA_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &sdl).expect("write schema");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == sdl,
            "docs/schema.graphql is out of date; run `STRATA_UPDATE_SCHEMA=1 cargo nextest run -p strata-api committed_schema` and commit it"
        );
    }

    #[tokio::test]
    async fn version_answers_the_crate_version() {
        let response = build_schema().execute("{ version { server api } }").await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().expect("json");
        assert_eq!(data["version"]["server"], strata_core::VERSION);
        assert_eq!(data["version"]["api"], 1);
    }

    #[tokio::test]
    async fn overly_deep_queries_are_refused() {
        let mut selection = String::from("name");
        for _ in 0..MAX_DEPTH {
            selection = format!("ofType {{ {selection} }}");
        }
        let query = format!("{{ __type(name: \"Query\") {{ fields {{ type {{ {selection} }} }} }} }}");
        let response = build_schema().execute(query.as_str()).await;
        let message = response.errors.first().map(|e| e.message.clone()).unwrap_or_default();
        assert!(message.contains("too deep"), "{message}");
    }
}
