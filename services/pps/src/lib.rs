//! PPS: data-driven pipelines.

pub mod spec;
