//! Plans as the hub sees them: which plan an organisation is on, and what
//! that allows it. The plans themselves (names, limits, order) come from
//! the plans file ([`strata_plans::Catalogue`]); the provisioner applies a
//! workspace's share of them.
//!
//! An organisation's plan is the one the operator set for it (the
//! `org_plans` setting), else the one billing granted it (`billing`), else
//! the catalogue's first. A
//! workspace may be on its organisation's plan or a smaller one, so a fresh
//! self-service account cannot give itself an `enterprise` workspace, nor
//! any number of them.

use std::collections::HashMap;

use strata_api_types::ErrorCode;
pub use strata_core::workspace_server::{PlanLimits, StorageLimit};
pub use strata_plans::{Catalogue, Limit, Plan, Prices, QuotaExceeded, Usage};

use crate::error::{HubError, Result, UserError};

/// The operator's plan per organisation slug, checked against the catalogue
/// when the configuration is read.
#[derive(Debug, Clone, Default)]
pub struct OrgPlans(HashMap<String, String>);

impl OrgPlans {
    /// From `(org, plan)` pairs (the `org_plans` setting); a plan the
    /// catalogue lacks is a configuration error naming it.
    pub fn new(catalogue: &Catalogue, pairs: &[(String, String)]) -> Result<Self> {
        let mut plans = HashMap::new();
        for (org, name) in pairs {
            if catalogue.named(name).is_none() {
                let known: Vec<&str> = catalogue.plans().iter().map(|p| p.name.as_str()).collect();
                return Err(HubError::Config(format!(
                    "org_plans: `{org}={name}`: no plan `{name}`; use one of {}",
                    known.join(", ")
                )));
            }
            plans.insert(org.clone(), name.clone());
        }
        Ok(OrgPlans(plans))
    }

    /// The plan the operator set for the organisation `slug`, if any.
    pub fn of<'c>(&self, catalogue: &'c Catalogue, slug: &str) -> Option<&'c Plan> {
        self.0.get(slug).map(|name| catalogue.named_or_default(name))
    }
}

/// The plans a workspace of an organisation on `org_plan` may choose.
pub fn assignable<'c>(catalogue: &'c Catalogue, org_plan: &Plan) -> Vec<&'c Plan> {
    catalogue.plans().iter().filter(|plan| catalogue.includes(org_plan, plan)).collect()
}

/// Refuses a workspace `plan` the organisation's plan does not include.
pub(crate) fn check_assignable(
    catalogue: &Catalogue,
    org_slug: &str,
    org_plan: &Plan,
    plan: &Plan,
) -> Result<(), UserError> {
    if catalogue.includes(org_plan, plan) {
        return Ok(());
    }
    let choices: Vec<&str> = assignable(catalogue, org_plan).iter().map(|p| p.name.as_str()).collect();
    Err(UserError::new(
        Some("plan"),
        ErrorCode::Forbidden,
        format!(
            "`{org_slug}` is on the {} plan, so its workspaces may use: {}; a bigger plan for the organisation allows more",
            org_plan.name,
            choices.join(", ")
        ),
    ))
}

/// What a workspace on `plan` is allowed, as its own server enforces it.
pub fn workspace_limits(catalogue: &Catalogue, plan: &Plan) -> PlanLimits {
    const GIB: u64 = 1 << 30;
    let lifted_by = catalogue.plans().iter().find(|p| p.storage_gib > plan.storage_gib).map(|p| p.name.clone());
    let storage = StorageLimit { bytes: plan.storage_gib.saturating_mul(GIB), plan: plan.name.clone(), lifted_by };
    PlanLimits { storage, log_retention_days: plan.log_retention_days }
}

/// `QUOTA_EXCEEDED` for a limit of `org_slug`'s plan, on `field`.
pub(crate) fn quota_exceeded(field: &str, org_slug: &str, exceeded: &QuotaExceeded) -> UserError {
    UserError::new(Some(field), ErrorCode::QuotaExceeded, format!("`{org_slug}`: {exceeded}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_orgs_get_their_plan_and_others_the_first_one() {
        let catalogue = Catalogue::built_in();
        let plans = OrgPlans::new(&catalogue, &[("acme".into(), "team".into())]).unwrap();
        assert_eq!(plans.of(&catalogue, "acme").unwrap().name, "team");
        assert!(plans.of(&catalogue, "anyone").is_none());
        let team = plans.of(&catalogue, "acme").unwrap();
        let names: Vec<&str> = assignable(&catalogue, team).iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["free", "team"]);
        let error = OrgPlans::new(&catalogue, &[("acme".into(), "gold".into())]).unwrap_err();
        let free_plan = catalogue.named_or_default("free");
        let free = workspace_limits(&catalogue, free_plan);
        assert_eq!((free.storage.plan.as_str(), free.storage.lifted_by.as_deref()), ("free", Some("team")));
        assert_eq!(free.storage.bytes, free_plan.storage_gib << 30);
        assert_eq!(free.log_retention_days, free_plan.log_retention_days);
        let top = catalogue.plans().last().unwrap();
        assert_eq!(workspace_limits(&catalogue, top).storage.lifted_by, None);
        assert!(
            error.to_string().contains("org_plans") && error.to_string().contains("free, team, enterprise"),
            "{error}"
        );
    }
}
