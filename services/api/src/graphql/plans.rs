//! Plans and what an organisation uses of its own: for the console's plan
//! picker and usage bars, and for scripts that check room before acting.

use async_graphql::{Context, SimpleObject};

use super::{hub, principal, query_result};

/// One plan of this installation and its limits (the plans file).
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Plan {
    /// What APIs take, e.g. `team`.
    name: String,
    /// What people read, e.g. `Team`.
    title: String,
    /// Members of an organisation (open invitations hold one each).
    seats: u64,
    /// Live workspaces of an organisation.
    workspaces: u64,
    /// Storage of one workspace, GiB.
    storage_gib: u64,
    /// Workers of one workspace, across its pipelines.
    workers: u64,
    /// CPU (millicores) and memory (MiB) of one worker.
    worker_cpu_millis: u64,
    worker_memory_mib: u64,
    /// Workers of one pipeline.
    max_parallelism: u64,
    /// How long job and worker logs are kept, days.
    log_retention_days: u64,
    /// An idle workspace sleeps after this many minutes; null: never.
    sleep_after_minutes: Option<u64>,
}

impl From<&strata_hub::plans::Plan> for Plan {
    fn from(plan: &strata_hub::plans::Plan) -> Self {
        Plan {
            name: plan.name.clone(),
            title: plan.title.clone(),
            seats: plan.seats,
            workspaces: plan.workspaces,
            storage_gib: plan.storage_gib,
            workers: plan.workers,
            worker_cpu_millis: plan.worker_cpu_millis,
            worker_memory_mib: plan.worker_memory_mib,
            max_parallelism: plan.max_parallelism,
            log_retention_days: plan.log_retention_days,
            sleep_after_minutes: plan.sleep_after_minutes,
        }
    }
}

/// How much of one limit is used.
#[derive(Debug, Clone, Copy, SimpleObject)]
pub(crate) struct Allowance {
    used: u64,
    limit: u64,
}

/// What an organisation uses of its plan.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct OrganizationUsage {
    plan: Plan,
    /// Members and open invitations.
    seats: Allowance,
    /// Live workspaces.
    workspaces: Allowance,
}

/// Every plan, smallest first.
pub(crate) fn all(ctx: &Context<'_>) -> async_graphql::Result<Vec<Plan>> {
    Ok(hub(ctx)?.plans().plans().iter().map(Plan::from).collect())
}

/// `org`'s usage against its plan (the caller is a member).
pub(crate) async fn usage(
    ctx: &Context<'_>,
    org: &super::hub_types::Organization,
) -> async_graphql::Result<OrganizationUsage> {
    let hub = hub(ctx)?;
    let used = query_result(hub.org_usage(principal(ctx)?, &org.org.slug).await)?;
    let plan = org.plan_of(hub).await?;
    Ok(OrganizationUsage {
        plan: Plan::from(plan),
        seats: Allowance { used: used.seats(), limit: plan.seats },
        workspaces: Allowance { used: used.live_workspaces, limit: plan.workspaces },
    })
}
