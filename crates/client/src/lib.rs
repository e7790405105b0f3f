//! A typed client for Strata's HTTP and GraphQL API.
//!
//! The CLI and the tests use it, so both speak to the server exactly the
//! same way. The [`wire`] module holds the request and response bodies the
//! server produces.

mod client;
pub mod hub;
mod pfs;
mod pps;
pub mod wire;

pub use client::{ClientError, StrataClient};
pub use pfs::Workspace;
pub use pps::LogQuery;
