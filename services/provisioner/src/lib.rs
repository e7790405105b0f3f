//! The provisioner (DESIGN.md §6): for now its autoscaling policy and the
//! simulator that replays queue traces through it (docs/autoscaling.md).
//! The reconciler and its local and Kubernetes backends join it later.

pub mod autoscaler;
