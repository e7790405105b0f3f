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
        assert!(
            error.to_string().contains("org_plans") && error.to_string().contains("free, team, enterprise"),
            "{error}"
        );
    }
}
