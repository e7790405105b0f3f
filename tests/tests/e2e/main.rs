//! End-to-end tests: the real application over HTTP, on SQLite and on
//! PostgreSQL. One binary, one module per area.

mod billing;
mod containers;
mod foundation;
mod gateway_paths;
mod graphql_http;
mod hub;
mod limits;
mod pfs;
mod pps;
mod pps_store;
mod scim;
mod sso;
