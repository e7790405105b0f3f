//! The HTTP edge of every Strata server: where a failure, described by its
//! [`ErrorCode`], becomes a status and an [`ErrorBody`].
//!
//! Domain crates say *what* went wrong (`PfsError::code`, `PpsError::code`,
//! the hub's user errors) and know nothing of HTTP; their HTTP modules call
//! [`error_response`] or [`reject`], so the status of a code, the shape of
//! the body and the logging of server failures are decided here alone.

use std::error::Error;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use opentelemetry::trace::TraceContextExt;
use strata_api_types::{ErrorBody, ErrorCode};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// What a server failure tells the client when its message is not for them.
pub const INTERNAL_MESSAGE: &str = "internal error; the server log has details under the request id";

/// The HTTP status of `code`.
pub fn status(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The answer to a request refused for a reason the caller can act on, or a
/// server failure with no cause worth logging beyond `message`.
pub fn reject(code: ErrorCode, message: impl Into<String>) -> HttpResponse {
    let mut body = ErrorBody::new(code, message);
    if code.is_server_error() {
        let id = request_id();
        tracing::error!(request_id = %id, code = %code, message = %body.message, "request failed");
        body.request_id = Some(id);
    }
    let mut response = HttpResponse::build(status(code));
    if code == ErrorCode::Unauthenticated {
        // RFC 9110 §11.6.1: a 401 names the scheme that would work.
        response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"));
    }
    response.json(body)
}

/// How much of a failure's own message the client may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// The message is about the caller's request or data (every 4xx; a
    /// corrupted object of theirs): send it.
    Message,
    /// The message may hold internals (SQL, paths, addresses): send only
    /// [`INTERNAL_MESSAGE`].
    Withheld,
}

/// The answer for `error`, whose code is `code`. A server failure (5xx) is
/// logged here with its whole chain of causes and a request id, and the
/// body carries that id; a 4xx is answered with the error's message.
pub fn error_response(code: ErrorCode, error: &(dyn Error + 'static), disclosure: Disclosure) -> HttpResponse {
    if !code.is_server_error() {
        return HttpResponse::build(status(code)).json(ErrorBody::new(code, error.to_string()));
    }
    let id = request_id();
    tracing::error!(request_id = %id, code = %code, error = %strata_core::error::display_chain(error), "request failed");
    let message = match disclosure {
        Disclosure::Message => error.to_string(),
        Disclosure::Withheld => INTERNAL_MESSAGE.to_owned(),
    };
    HttpResponse::build(status(code)).json(ErrorBody { code, message, request_id: Some(id) })
}

/// The id a server failure is logged and answered under: the request's
/// trace id (also in its `traceresponse` header), or a fresh random id when
/// the request is not traced.
pub fn request_id() -> String {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    if span_context.is_valid() {
        span_context.trace_id().to_string()
    } else {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

/// Implements actix's `ResponseError` for a domain error type that has
/// `fn code(&self) -> ErrorCode` and `fn message_is_public(&self) -> bool`:
/// its status comes from [`status`] and its body from [`error_response`].
#[macro_export]
macro_rules! coded_error_responses {
    ($error:ty) => {
        impl ::actix_web::ResponseError for $error {
            fn status_code(&self) -> ::actix_web::http::StatusCode {
                $crate::status(self.code())
            }

            fn error_response(&self) -> ::actix_web::HttpResponse {
                let disclosure =
                    if self.message_is_public() { $crate::Disclosure::Message } else { $crate::Disclosure::Withheld };
                $crate::error_response(self.code(), self, disclosure)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;

    #[derive(Debug)]
    struct Leaky;

    impl std::fmt::Display for Leaky {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection to postgres://admin:hunter2@db failed")
        }
    }

    impl Error for Leaky {}

    fn body_of(response: HttpResponse) -> ErrorBody {
        let bytes = response.into_body().try_into_bytes().expect("a complete body");
        serde_json::from_slice(&bytes).expect("an ErrorBody")
    }

    #[test]
    fn every_code_answers_with_its_own_status() {
        for code in ErrorCode::ALL {
            let response = reject(code, "x");
            assert_eq!(response.status().as_u16(), code.http_status(), "{code}");
            assert_eq!(body_of(response).code, code);
        }
    }

    #[test]
    fn server_failures_withhold_their_message_and_carry_a_request_id() {
        let body = body_of(error_response(ErrorCode::Internal, &Leaky, Disclosure::Withheld));
        assert_eq!(body.message, INTERNAL_MESSAGE);
        assert!(!body.message.contains("hunter2"));
        assert!(body.request_id.is_some_and(|id| id.len() == 32));
    }

    #[test]
    fn caller_errors_say_what_was_wrong_without_a_request_id() {
        let body = body_of(error_response(ErrorCode::InvalidArgument, &Leaky, Disclosure::Withheld));
        assert_eq!(body.code, ErrorCode::InvalidArgument);
        assert!(body.message.contains("connection"));
        assert_eq!(body.request_id, None);
    }
}
