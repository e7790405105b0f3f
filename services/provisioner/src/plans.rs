//! What each plan allows a workspace. The autoscaler clamps workers to the
//! quota; the Kubernetes backend turns it into a ResourceQuota and a
//! LimitRange.

use serde::Serialize;

/// The limits of one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanQuota {
    /// Workers across all pipelines of the workspace.
    pub max_workers: u32,
    /// CPU and memory of one worker (requests = limits).
    pub worker_cpu_millis: u32,
    pub worker_memory_mib: u32,
    /// Storage for the workspace's volumes.
    pub storage_gib: u32,
}

impl PlanQuota {
    /// The quota of `plan`; an unknown plan gets the smallest.
    pub fn of(plan: &str) -> PlanQuota {
        match plan {
            "enterprise" => {
                PlanQuota { max_workers: 256, worker_cpu_millis: 2000, worker_memory_mib: 8192, storage_gib: 1000 }
            }
            "team" => PlanQuota { max_workers: 32, worker_cpu_millis: 1000, worker_memory_mib: 4096, storage_gib: 200 },
            _ => PlanQuota { max_workers: 4, worker_cpu_millis: 500, worker_memory_mib: 1024, storage_gib: 10 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigger_plans_allow_more_and_unknown_plans_the_least() {
        assert!(PlanQuota::of("team").max_workers > PlanQuota::of("free").max_workers);
        assert!(PlanQuota::of("enterprise").max_workers > PlanQuota::of("team").max_workers);
        assert_eq!(PlanQuota::of("no-such-plan"), PlanQuota::of("free"));
    }
}
