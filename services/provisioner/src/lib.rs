//! The provisioner (DESIGN.md §6, docs/provisioning.md): makes every
//! workspace the hub wants into a running, isolated instance, and scales
//! its workers with the work.
//!
//! * [`reconciler`]: the level-triggered loop over workspace rows, with a
//!   lease between replicas, backoff and status conditions.
//! * [`backend::Backend`]: what runs workspaces; [`local::LocalBackend`]
//!   runs them as child processes of this one.
//! * [`autoscaler`]: the scaling policy, and the simulator that replays
//!   queue traces through it (docs/autoscaling.md).

pub mod autoscaler;
pub mod backend;
pub mod clock;
pub mod config;
mod data;
pub mod error;
pub mod kubernetes;
pub mod local;
pub mod metrics;
pub mod plans;
pub mod reconciler;
mod scaling;

pub use backend::{Applied, Backend, Teardown};
pub use clock::{Clock, SystemClock};
pub use config::{ProvisionerConfig, ProvisionerSettings};
pub use error::ProvisionerError;
pub use kubernetes::{KubernetesBackend, KubernetesConfig};
pub use local::{ContainerRunner, LocalBackend, LocalConfig, LocalRunner};
pub use metrics::ProvisionerMetrics;
pub use reconciler::{Reconciler, ReconcilerConfig, Role};
