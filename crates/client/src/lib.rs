//! A typed client for Strata's HTTP and GraphQL API.
//!
//! The CLI and the tests use it, so both speak to the server exactly the
//! same way. The bodies it sends and receives are `strata_api_types`'s.

mod client;
pub mod hub;
mod pfs;
mod pps;
pub mod sso;

pub use client::{ClientError, RequestCredentials, StrataClient};
pub use pfs::Workspace;
pub use pps::LogQuery;
