//! Errors of the api service, and how they look on the wire.

use std::net::SocketAddr;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use strata_api_types::ErrorCode;

/// Everything that can stop the api service from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Configuration, data directory, database or object store.
    #[error(transparent)]
    Core(#[from] strata_core::Error),

    /// The listening address cannot be bound.
    #[error("{}", bind_message(*addr, source))]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    /// PFS could not be opened.
    #[error("PFS could not start")]
    Pfs(#[source] strata_pfs::PfsError),

    /// PPS could not be opened.
    #[error("PPS could not start")]
    Pps(#[source] strata_pps::PpsError),

    /// The hub could not be opened.
    #[error("the hub could not start")]
    Hub(#[source] strata_hub::HubError),

    /// Billing could not be set up (the Stripe client).
    #[error("billing could not start")]
    Billing(#[source] strata_billing::BillingError),

    /// Redis for rate limits could not be reached.
    #[error("rate limiter could not reach Redis")]
    RateLimiter(#[source] redis::RedisError),

    /// The task queue could not be reached.
    #[error("task queue could not start")]
    Queue(#[source] strata_queue::QueueError),

    /// A database query failed while serving.
    #[error("database query failed")]
    Database(#[source] sea_orm::DbErr),

    /// The HTTP server failed.
    #[error("HTTP server failed")]
    Serve(#[source] std::io::Error),
}

fn bind_message(addr: SocketAddr, source: &std::io::Error) -> String {
    match source.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!("address {addr} is already in use; stop the other server or pass --listen with a free address")
        }
        std::io::ErrorKind::AddrNotAvailable => {
            format!("address {addr} is not available on this machine; pass --listen with a local address")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!(
                "not allowed to listen on {addr}; ports below 1024 need privileges, pass --listen with a higher port"
            )
        }
        _ => format!("cannot listen on {addr}: {source}"),
    }
}

impl Error {
    /// True when the user can fix it by changing configuration.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Core(core) => core.is_user_error(),
            Error::Bind { .. } => true,
            Error::Hub(hub) => hub.is_configuration_error(),
            Error::Database(_)
            | Error::Serve(_)
            | Error::Pfs(_)
            | Error::Pps(_)
            | Error::Queue(_)
            | Error::Billing(_)
            | Error::RateLimiter(_) => false,
        }
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        // The cause is logged where it is handled; the client learns only
        // that it was ours, never internal details.
        strata_http::error_response(ErrorCode::Internal, self, strata_http::Disclosure::Withheld)
    }
}

/// Unknown paths answer 404 with the JSON error shape.
pub(crate) async fn not_found(request: actix_web::HttpRequest) -> HttpResponse {
    strata_http::reject(ErrorCode::NotFound, format!("no such endpoint: {} {}", request.method(), request.path()))
}
