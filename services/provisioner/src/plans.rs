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
    /// Workers of one pipeline.
    pub max_parallelism: u32,
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
    /// What `plan` (from the plans file) allows one workspace; numbers
    /// beyond what the runtime takes are capped, not wrapped.
    pub fn of(plan: &strata_plans::Plan) -> PlanQuota {
        let small = |value: u64| u32::try_from(value).unwrap_or(u32::MAX);
        PlanQuota {
            max_workers: small(plan.workers),
            max_parallelism: small(plan.max_parallelism),
            worker_cpu_millis: small(plan.worker_cpu_millis),
            worker_memory_mib: small(plan.worker_memory_mib),
            storage_gib: small(plan.storage_gib),
            sleep_after: plan.sleep_after(),
        }
    }

    /// The quota of the shipped catalogue's plan `name` (the smallest for
    /// an unknown name): for tests and benchmarks.
    pub fn built_in(name: &str) -> PlanQuota {
        PlanQuota::of(strata_plans::Catalogue::built_in().named_or_default(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigger_plans_allow_more_and_unknown_plans_the_least() {
        assert!(PlanQuota::built_in("team").max_workers > PlanQuota::built_in("free").max_workers);
        assert!(PlanQuota::built_in("enterprise").max_workers > PlanQuota::built_in("team").max_workers);
        assert_eq!(PlanQuota::built_in("no-such-plan"), PlanQuota::built_in("free"));
    }

    #[test]
    fn small_plans_sleep_sooner_and_the_operator_may_override_every_plan() {
        let (free, team, enterprise) =
            (PlanQuota::built_in("free"), PlanQuota::built_in("team"), PlanQuota::built_in("enterprise"));
        assert!(free.sleep_after < team.sleep_after);
        assert_eq!(IdleSleep::Plan.after(&enterprise), None, "enterprise workspaces never sleep");
        assert_eq!(IdleSleep::Never.after(&free), None);
        let soon = Duration::from_secs(5);
        assert_eq!(IdleSleep::After(soon).after(&enterprise), Some(soon));
    }
}
