//! PPS: data-driven pipelines.
//!
//! * [`spec`]: parsing and validating pipeline specs.
//! * [`datums`]: turning input commits into datums (glob, cross, union,
//!   join, group) with stable ids and content hashes.
//! * [`Pps`]: pipelines, jobs and the master loop that runs them; a job's
//!   datum list lives in its plan object (`plan`), what ran in `meta`.
//! * [`state`]: job and datum states, counts and stats as PPS stores them;
//!   the wire types are made from them at the edge.
//! * [`http`]: the HTTP API, including the server side of the worker
//!   protocol (the worker itself is `strata-worker`).

pub mod datums;
pub mod error;
mod exposure;
pub mod http;
mod images;
mod jobs;
mod master;
pub mod meta;
mod metrics;
mod plan;
mod pods;
mod retention;
mod secrets;
mod service;
pub mod spec;
pub mod state;
mod tasks;

pub use error::PpsError;
pub use service::{ImagePinning, Pps, PpsConfig, PpsSettings};
