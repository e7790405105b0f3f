//! The GraphQL API. For now it answers `version`; the hub and workspace
//! types join it in later issues.

use actix_web::guard::GuardContext;
use actix_web::{HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use async_graphql_actix_web::{GraphQLRequest, GraphQLResponse};

use crate::state::AppState;

/// The schema type served at `/graphql`.
pub type StrataSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Deeper queries are almost always mistakes or attacks.
const MAX_DEPTH: usize = 12;
/// Rough cost budget per query (one unit per field by default).
const MAX_COMPLEXITY: usize = 1_000;

/// Builds the schema with its limits.
pub fn build_schema() -> StrataSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
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

/// GraphiQL, the in-browser IDE, for people opening `/graphql`.
pub(crate) async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(GraphiQLSource::build().endpoint("/graphql").title("Strata GraphQL").finish())
}

/// Executes a query sent by POST (JSON body) or GET (query string).
pub(crate) async fn execute(state: web::Data<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    state.schema.execute(request.into_inner()).await.into()
}

#[cfg(test)]
mod tests {
    use super::*;

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
