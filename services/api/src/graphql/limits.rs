//! What one GraphQL request may cost, checked before anything runs.
//!
//! Workspace fields are answered by calling a workspace's server, so a
//! query's real cost is mostly its upstream calls, not its field count: 330
//! aliased `workspace { repos { name } }` are cheap to parse and expensive to
//! answer. Every field that calls a workspace server therefore adds
//! [`UPSTREAM_UNIT`] to its complexity (see the `complexity` attributes in
//! `hub_types` and `workspace_types`), and [`RequestLimits`] splits the
//! computed score into upstream calls and ordinary fields, each with its own
//! cap and a typed error. Log-in and the other anonymous account mutations
//! are allowed once per request, so one request cannot try many passwords.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult, ValidationResult, Variables};
use strata_api_types::ErrorCode;

/// The complexity one upstream call adds. Ordinary fields add 1 each, and a
/// 32 KiB query has far fewer than this many, so the two never mix.
pub(crate) const UPSTREAM_UNIT: usize = 1 << 32;
/// An upstream field that runs once per item of a list it sits in
/// (`Repo.branches`, `Pipeline.jobs`, ...) counts as this many calls: the
/// list's length is unknown before it runs.
pub(crate) const PER_ITEM_CALLS: usize = 10;
/// Upstream calls one request may make (as counted above).
pub(crate) const MAX_UPSTREAM_CALLS: usize = 100;
/// Ordinary fields one request may select.
pub(crate) const MAX_COMPLEXITY: usize = 1_000;
/// Fields a query may have with its fragments expanded (checked before
/// validation, which expands them; beyond the complexity limit anyway).
const MAX_EXPANDED_FIELDS: usize = 2 * MAX_COMPLEXITY;
/// Complexity of a field answered by one upstream call.
pub(crate) const ONE_CALL: usize = UPSTREAM_UNIT;
/// Complexity of a per-item upstream field.
pub(crate) const PER_ITEM: usize = UPSTREAM_UNIT * PER_ITEM_CALLS;

/// Mutations that act without a caller on an account named in the input:
/// at most one of them per request.
const AUTH_MUTATIONS: &[&str] =
    &["signUp", "verifyEmail", "logIn", "refreshSession", "requestPasswordReset", "resetPassword"];

/// The extension that enforces the limits (see the module docs).
pub(crate) struct RequestLimits;

impl ExtensionFactory for RequestLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestLimits)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // Checked on a parse of our own before async-graphql's, whose depth
        // and directive checks walk every fragment expansion (a malformed
        // query is left to it, for its usual error).
        if let Ok(document) = async_graphql::parser::parse_query(query) {
            check_document(&document)?;
        }
        next.run(ctx, query, variables).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let (calls, fields) = split(result.complexity);
        if calls > MAX_UPSTREAM_CALLS {
            let message = format!(
                "this query would make {calls} calls to workspace servers; the limit is {MAX_UPSTREAM_CALLS} \
                 (each list field inside a list counts {PER_ITEM_CALLS}); split it into smaller queries"
            );
            return Err(vec![too_complex(message, calls, MAX_UPSTREAM_CALLS)]);
        }
        if fields > MAX_COMPLEXITY {
            let message = format!("this query selects {fields} fields; the limit is {MAX_COMPLEXITY}");
            return Err(vec![too_complex(message, fields, MAX_COMPLEXITY)]);
        }
        Ok(result)
    }
}

/// Refuses a fragment bomb and more than one auth mutation.
fn check_document(document: &ExecutableDocument) -> ServerResult<()> {
    let fields = expanded_fields(document);
    if fields > MAX_EXPANDED_FIELDS {
        let message = format!(
            "this query selects {fields} fields once its fragments are expanded; the limit is {MAX_EXPANDED_FIELDS}"
        );
        return Err(too_complex(message, fields, MAX_EXPANDED_FIELDS));
    }
    let most = most_auth_mutations(document);
    if most > 1 {
        let message = format!("a request may carry one sign-up, log-in or password mutation; this one has {most}");
        return Err(coded(message, ErrorCode::TooManyAuthMutations, |_| {}));
    }
    Ok(())
}

/// Upstream calls and ordinary fields of a complexity score.
pub(crate) fn split(complexity: usize) -> (usize, usize) {
    (complexity / UPSTREAM_UNIT, complexity % UPSTREAM_UNIT)
}

fn too_complex(message: String, cost: usize, limit: usize) -> ServerError {
    let as_value = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    coded(message, ErrorCode::TooComplex, |extensions| {
        extensions.set("cost", as_value(cost));
        extensions.set("limit", as_value(limit));
    })
}

/// A request error with `extensions.code` (and whatever `more` adds).
fn coded(message: String, code: ErrorCode, more: impl FnOnce(&mut ErrorExtensionValues)) -> ServerError {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    more(&mut extensions);
    ServerError { extensions: Some(extensions), ..ServerError::new(message, None) }
}

/// Fields of the largest operation of `document` with every fragment
/// spread expanded. Counted with one memo per fragment, so a chain of
/// fragments that spread the next one twice costs linear time here, and
/// such a "fragment bomb" is refused before validation, which would expand
/// it for real.
fn expanded_fields(document: &ExecutableDocument) -> usize {
    let mut memo = HashMap::new();
    document
        .operations
        .iter()
        .map(|(_, op)| tally(document, &op.node.selection_set.node, &mut memo, Tally::Fields))
        .max()
        .unwrap_or(0)
}

/// What [`tally`] counts.
#[derive(Debug, Clone, Copy)]
enum Tally {
    /// Every field, nested ones included.
    Fields,
    /// Top-level auth mutation fields (aliases count apart: each runs).
    AuthMutations,
}

/// Counts `what` in `set`, through inline fragments and fragment spreads;
/// each fragment is counted once and memoised, so a fragment bomb costs
/// linear time.
fn tally(document: &ExecutableDocument, set: &SelectionSet, memo: &mut HashMap<String, usize>, what: Tally) -> usize {
    set.items.iter().fold(0_usize, |total, item| {
        let n = match &item.node {
            Selection::Field(field) => match what {
                Tally::Fields => 1_usize.saturating_add(tally(document, &field.node.selection_set.node, memo, what)),
                Tally::AuthMutations => usize::from(AUTH_MUTATIONS.contains(&field.node.name.node.as_str())),
            },
            Selection::InlineFragment(fragment) => tally(document, &fragment.node.selection_set.node, memo, what),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if let Some(known) = memo.get(name) {
                    *known
                } else if let Some(fragment) = document.fragments.get(name) {
                    // A cycle meets its own zero here; validation rejects cycles.
                    memo.insert(name.to_owned(), 0);
                    let n = tally(document, &fragment.node.selection_set.node, memo, what);
                    memo.insert(name.to_owned(), n);
                    n
                } else {
                    0
                }
            }
        };
        total.saturating_add(n)
    })
}

/// The most auth mutations any mutation operation of `document` selects at
/// its top level (aliases count apart: each runs).
fn most_auth_mutations(document: &ExecutableDocument) -> usize {
    let mut memo = HashMap::new();
    document
        .operations
        .iter()
        .filter(|(_, op)| op.node.ty == OperationType::Mutation)
        .map(|(_, op)| tally(document, &op.node.selection_set.node, &mut memo, Tally::AuthMutations))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30 fragments, each spreading the next twice: 2^30 fields once
    /// expanded. Refused at once, before validation tries to expand them.
    #[tokio::test]
    async fn a_fragment_bomb_is_refused_before_it_is_expanded() {
        let mut query = String::from("{ ...f0 }\n");
        for i in 0..30 {
            query.push_str(&format!("fragment f{i} on Query {{ ...f{next} ...f{next} }}\n", next = i + 1));
        }
        query.push_str("fragment f30 on Query { version { server } }\n");
        let started = std::time::Instant::now();
        let response = super::super::build_schema().execute(query.as_str()).await;
        let error = response.errors.first().expect("refused");
        let code = error.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("TOO_COMPLEX")), "{error:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "answered without expanding");
    }

    #[test]
    fn upstream_calls_and_fields_are_counted_apart() {
        assert_eq!(split(3 * ONE_CALL + PER_ITEM + 17), (3 + PER_ITEM_CALLS, 17));
    }
}
