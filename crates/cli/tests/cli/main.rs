//! The `strata` binary as users run it: exit codes, messages, `strata dev`
//! start-up and shutdown, contexts, status and completions, accounts,
//! single sign-on and teams.

mod crash;
mod dev;
mod dunning;
mod hub;
mod misconfiguration;
mod pfs;
mod pipelines;
mod pps;
mod provisioner;
mod s3;
mod sso;
mod support;
mod teams;
mod traces;
