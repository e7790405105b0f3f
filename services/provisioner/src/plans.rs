//! What each plan allows a workspace. The autoscaler clamps workers to the
//! quota and puts idle workspaces to sleep after the plan's quiet spell; the
//! Kubernetes backend turns it into a ResourceQuota and a LimitRange.

use std::time::Duration;

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
    /// How long a workspace may go without a request or an outstanding
    /// datum before its server is stopped until the next request; `None`:
    /// it never sleeps.
    pub sleep_after: Option<Duration>,
}

/// When idle workspaces sleep: as their plan says, or as the operator
/// overrides for every plan (`idle_sleep_after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdleSleep {
    #[default]
    Plan,
    Never,
    After(Duration),
}

impl IdleSleep {
    /// The quiet spell after which a workspace on `quota`'s plan sleeps.
    pub fn after(self, quota: &PlanQuota) -> Option<Duration> {
        match self {
            IdleSleep::Plan => quota.sleep_after,
            IdleSleep::Never => None,
            IdleSleep::After(after) => Some(after),
        }
    }
}

impl PlanQuota {
    /// The quota of `plan`; an unknown plan gets the smallest.
    pub fn of(plan: &str) -> PlanQuota {
        match plan {
            "enterprise" => PlanQuota {
                max_workers: 256,
                worker_cpu_millis: 2000,
                worker_memory_mib: 8192,
                storage_gib: 1000,
                sleep_after: None,
            },
            "team" => PlanQuota {
                max_workers: 32,
                worker_cpu_millis: 1000,
                worker_memory_mib: 4096,
                storage_gib: 200,
                sleep_after: Some(Duration::from_secs(60 * 60)),
            },
            _ => PlanQuota {
                max_workers: 4,
                worker_cpu_millis: 500,
                worker_memory_mib: 1024,
                storage_gib: 10,
                sleep_after: Some(Duration::from_secs(15 * 60)),
            },
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

    #[test]
    fn small_plans_sleep_sooner_and_the_operator_may_override_every_plan() {
        let (free, team, enterprise) = (PlanQuota::of("free"), PlanQuota::of("team"), PlanQuota::of("enterprise"));
        assert!(free.sleep_after < team.sleep_after);
        assert_eq!(IdleSleep::Plan.after(&enterprise), None, "enterprise workspaces never sleep");
        assert_eq!(IdleSleep::Never.after(&free), None);
        let soon = Duration::from_secs(5);
        assert_eq!(IdleSleep::After(soon).after(&enterprise), Some(soon));
    }
}
