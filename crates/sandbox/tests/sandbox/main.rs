//! The sandbox's behaviour, one test binary (see STYLE.md §17).
//!
//! Namespace tests need root or unprivileged user namespaces, as on the project's machines.

// `allow-unwrap-in-tests` covers `#[test]` functions only, not their shared helpers.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod confinement;
mod container;
mod helpers;
mod namespace;
mod pod;
mod scratch;
mod unprivileged;
