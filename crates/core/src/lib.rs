//! Foundations shared by every Strata service.
//!
//! Kept deliberately small: typed ids ([`id`]), server configuration
//! ([`config`]), database and object-store access ([`db`], [`store`]),
//! telemetry ([`telemetry`]) and process shutdown ([`shutdown`]). Anything
//! that belongs to one service lives in that service's crate.

pub mod config;
pub mod db;
pub mod error;
pub mod id;
pub mod master_key;
pub mod sealing;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod workspace_credentials;
pub mod workspace_server;

pub use error::{Error, Result};

/// The version of this build, as Cargo knows it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
