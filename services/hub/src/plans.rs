//! Plans as the hub sees them: which plan an organisation may use and how
//! many workspaces that allows. (What one workspace may run on a plan is the
//! provisioner's `PlanQuota`.)
//!
//! Until billing assigns plans, the operator does, with the `org_plans`
//! setting; every other organisation is on `free`. A workspace may be on
//! its organisation's plan or a smaller one, so a fresh self-service account
//! cannot give itself an `enterprise` workspace, nor any number of them.

use std::collections::HashMap;

use strata_api_types::ErrorCode;

use crate::error::{HubError, Result, UserError};

/// One plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub name: &'static str,
    /// Live workspaces an organisation on this plan may have.
    pub max_workspaces: u64,
}

/// Every plan, smallest first; the first is what an organisation gets
/// unless the operator says otherwise.
pub const PLANS: [Plan; 3] = [
    Plan { name: "free", max_workspaces: 3 },
    Plan { name: "team", max_workspaces: 25 },
    Plan { name: "enterprise", max_workspaces: 500 },
];

impl Plan {
    /// The plan called `name`, if there is one.
    pub fn named(name: &str) -> Option<&'static Plan> {
        PLANS.iter().find(|plan| plan.name == name)
    }

    /// Whether a workspace on `other` fits an organisation on this plan.
    pub fn includes(&self, other: &Plan) -> bool {
        rank(other) <= rank(self)
    }

    /// The plans a workspace of an organisation on this plan may choose.
    pub fn assignable(&self) -> impl Iterator<Item = &'static Plan> + '_ {
        PLANS.iter().filter(|plan| self.includes(plan))
    }
}

fn rank(plan: &Plan) -> usize {
    PLANS.iter().position(|p| p.name == plan.name).unwrap_or(0)
}

/// The operator's plan per organisation slug, checked when the hub opens.
#[derive(Debug, Clone, Default)]
pub struct OrgPlans(HashMap<String, &'static Plan>);

impl OrgPlans {
    /// From `(org, plan)` pairs (the `org_plans` setting); an unknown plan
    /// is a configuration error naming it.
    pub fn new(pairs: &[(String, String)]) -> Result<Self> {
        let mut plans = HashMap::new();
        for (org, name) in pairs {
            let plan = Plan::named(name).ok_or_else(|| {
                let known: Vec<&str> = PLANS.iter().map(|p| p.name).collect();
                HubError::Config(format!(
                    "org_plans: `{org}={name}`: no plan `{name}`; use one of {}",
                    known.join(", ")
                ))
            })?;
            plans.insert(org.clone(), plan);
        }
        Ok(OrgPlans(plans))
    }

    /// The plan of the organisation `slug`.
    pub fn of(&self, slug: &str) -> &'static Plan {
        self.0.get(slug).copied().unwrap_or(&PLANS[0])
    }
}

/// Refuses a workspace `plan` the organisation's plan does not include.
pub(crate) fn check_assignable(org_slug: &str, org_plan: &Plan, plan: &Plan) -> Result<(), UserError> {
    if org_plan.includes(plan) {
        return Ok(());
    }
    let choices: Vec<&str> = org_plan.assignable().map(|p| p.name).collect();
    Err(UserError::new(
        Some("plan"),
        ErrorCode::Forbidden,
        format!(
            "`{org_slug}` is on the {} plan, so its workspaces may use: {}; bigger plans are assigned by the operator",
            org_plan.name,
            choices.join(", ")
        ),
    ))
}

/// Refuses one more workspace when `live` already reach the plan's limit.
pub(crate) fn check_room(org_slug: &str, org_plan: &Plan, live: u64) -> Result<(), UserError> {
    if live < org_plan.max_workspaces {
        return Ok(());
    }
    Err(UserError::new(
        Some("slug"),
        ErrorCode::QuotaExceeded,
        format!(
            "`{org_slug}` has {live} workspaces, the most the {} plan allows ({}); delete one or ask the operator for a bigger plan",
            org_plan.name, org_plan.max_workspaces
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigger_plans_include_smaller_ones_and_unlisted_orgs_are_free() {
        let plans = OrgPlans::new(&[("acme".into(), "team".into())]).unwrap();
        assert_eq!(plans.of("acme").name, "team");
        assert_eq!(plans.of("anyone").name, "free");
        let team = plans.of("acme");
        assert!(team.includes(Plan::named("free").unwrap()));
        assert!(!team.includes(Plan::named("enterprise").unwrap()));
        assert!(PLANS.windows(2).all(|w| w[0].max_workspaces < w[1].max_workspaces));
        let error = OrgPlans::new(&[("acme".into(), "gold".into())]).unwrap_err();
        assert!(error.to_string().contains("org_plans"), "{error}");
    }
}
