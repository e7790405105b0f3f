//! Who is asking: the principal behind a request, and how hub results turn
//! into GraphQL answers (user errors in payloads, internal errors as a
//! generic top-level error whose details stay in the server log).

use async_graphql::{Context, Enum, ErrorExtensions, SimpleObject};
use strata_api_types::ErrorCode;
use strata_hub::{Hub, HubError, Principal, UserError};

/// The outcome of authenticating a request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    Anonymous,
    Authenticated(Principal),
    /// Credentials were sent but are not valid: say why, never act on them.
    Rejected(UserError),
}

impl Caller {
    pub(crate) fn principal(&self) -> Result<&Principal, UserError> {
        match self {
            Caller::Authenticated(principal) => Ok(principal),
            Caller::Rejected(error) => Err(error.clone()),
            Caller::Anonymous => Err(UserError::unauthenticated(
                "log in first: send `Authorization: Bearer <token>` (an access token or an stp_ API token)",
            )),
        }
    }
}

pub(crate) fn hub<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Hub> {
    ctx.data::<Hub>()
}

/// The principal, or a top-level `UNAUTHENTICATED` error (for queries).
pub(crate) fn principal<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    ctx.data::<Caller>()?.principal().map_err(|error| top_level(&error))
}

/// A top-level GraphQL error: every `extensions.code` is set here.
pub(crate) fn coded(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

/// A user error as a top-level GraphQL error, for query fields.
pub(crate) fn top_level(error: &UserError) -> async_graphql::Error {
    coded(error.code, error.message.clone())
}

/// A failure of ours: logged here with its whole cause and a request id,
/// reported with the code and that id only. A workspace server's failure
/// keeps its own code and message (that server logged the cause).
pub(crate) fn internal(error: &HubError) -> async_graphql::Error {
    if let HubError::Remote { code, message } = error {
        return coded(*code, message.clone());
    }
    let id = strata_http::request_id();
    tracing::error!(request_id = %id, error = %strata_core::error::display_chain(error), "GraphQL resolver failed");
    coded(ErrorCode::Internal, strata_http::INTERNAL_MESSAGE).extend_with(|_, e| e.set("requestId", id))
}

/// For query fields: user errors (e.g. NOT_FOUND) and internal ones are
/// both top-level errors.
pub(crate) fn query_result<T>(result: Result<T, HubError>) -> async_graphql::Result<T> {
    result.map_err(|error| match error.user_error() {
        Some(user) => top_level(user),
        None => internal(&error),
    })
}

/// For nullable lookups: "not found" is `null`, other user errors are errors.
pub(crate) fn optional<T>(result: Result<T, HubError>) -> async_graphql::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.user_error().is_some_and(|e| e.code == ErrorCode::NotFound) => Ok(None),
        Err(error) => query_result(Err(error)),
    }
}

/// Why an input was refused, in a mutation payload.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "UserError")]
pub(crate) struct GqlUserError {
    /// The input field at fault (e.g. `slug`), or null for the whole input.
    pub field: Option<String>,
    pub message: String,
    pub code: GqlErrorCode,
}

// `strata_api_types::ErrorCode` as a GraphQL enum: `remote` converts both
// ways with exhaustive matches, so the compiler keeps the lists equal.
/// Why something failed, in the same codes as the HTTP API
/// (docs/api-errors.md): `userErrors.code`, and by name in a top-level
/// error's `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ErrorCode", remote = "strata_api_types::ErrorCode")]
pub(crate) enum GqlErrorCode {
    Unauthenticated,
    Forbidden,
    Csrf,
    InvalidPath,
    MethodNotAllowed,
    InvalidRequest,
    TooComplex,
    TooManyAuthMutations,
    WorkspaceNotReady,
    WorkspaceUnavailable,
    RateLimited,
    NotFound,
    InvalidSpec,
    PayloadTooLarge,
    Busy,
    InvalidArgument,
    WeakPassword,
    ConfirmationMismatch,
    UploadInterrupted,
    AlreadyExists,
    Conflict,
    LastOwner,
    QuotaExceeded,
    PaymentRequired,
    SsoRequired,
    Expired,
    Gone,
    Timeout,
    ServerStopping,
    StorageUnavailable,
    DataCorrupted,
    Internal,
}

impl From<&UserError> for GqlUserError {
    fn from(error: &UserError) -> Self {
        GqlUserError { field: error.field.clone(), message: error.message.clone(), code: error.code.into() }
    }
}

/// Splits a hub result for a mutation payload: the value, or the user
/// errors; internal failures stay top-level errors.
pub(crate) fn payload<T>(result: Result<T, HubError>) -> async_graphql::Result<(Option<T>, Vec<GqlUserError>)> {
    match result {
        Ok(value) => Ok((Some(value), Vec::new())),
        Err(HubError::User(error)) => Ok((None, vec![GqlUserError::from(&error)])),
        Err(error) => Err(internal(&error)),
    }
}

/// The principal for a mutation, or the user error to put in its payload.
pub(crate) fn acting<'a>(ctx: &Context<'a>) -> async_graphql::Result<Result<&'a Principal, HubError>> {
    Ok(ctx.data::<Caller>()?.principal().map_err(HubError::User))
}
