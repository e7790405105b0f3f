//! Billing in GraphQL: an organisation's subscription state for its
//! owners, and the mutations that open Stripe's pages (Checkout, the
//! customer portal) or, where billing is off, assign a plan.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use strata_billing::{Billing, BillingError};
use strata_hub::{BillingAccount, HubError};

use super::caller::{GqlUserError, internal, payload};
use super::hub_mutations::with_ip;

fn billing<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Billing> {
    ctx.data::<Billing>()
}

/// A billing result as a hub result: provider failures are internal
/// errors (logged, shown with a request id), refusals user errors.
fn as_hub<T>(result: Result<T, BillingError>) -> Result<T, HubError> {
    match result {
        Ok(value) => Ok(value),
        Err(BillingError::Hub(error)) => Err(error),
        Err(other) => Err(HubError::Internal(other.to_string())),
    }
}

/// An organisation's billing, as its owners see it.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct OrganizationBilling {
    /// Whether plans are bought through Stripe here (else the
    /// installation's administrator assigns them).
    enabled: bool,
    /// The plan billing grants.
    plan: String,
    /// The subscription's status in Stripe's words (`active`, `past_due`,
    /// `canceled`…), or `none`.
    status: String,
    /// When a payment first failed, while it is still due.
    past_due_since: Option<DateTime<Utc>>,
    /// When its workspaces are (or were) suspended for it.
    suspend_at: Option<DateTime<Utc>>,
    /// Since when its workspaces are suspended for an unpaid invoice.
    suspended_at: Option<DateTime<Utc>>,
}

/// `org`'s billing for its owners; `None` for other members.
pub(crate) async fn of_org(
    ctx: &Context<'_>,
    org: &strata_hub::Org,
) -> async_graphql::Result<Option<OrganizationBilling>> {
    let billing = billing(ctx)?;
    let principal = super::caller::principal(ctx)?;
    let account = match billing.account(principal, &org.slug).await {
        Ok(account) => account,
        Err(BillingError::Hub(HubError::User(_))) => return Ok(None),
        Err(error) => return Err(internal(&HubError::Internal(error.to_string()))),
    };
    let hub = super::caller::hub(ctx)?;
    Ok(Some(view(billing.is_enabled(), hub, account)))
}

fn view(enabled: bool, hub: &strata_hub::Hub, account: BillingAccount) -> OrganizationBilling {
    let grace = hub.plans().named_or_default(&account.plan).grace_period();
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    OrganizationBilling {
        enabled,
        suspend_at: account.past_due_since.and_then(|since| since.checked_add_signed(grace)),
        plan: account.plan,
        status: account.status.to_string(),
        past_due_since: account.past_due_since,
        suspended_at: account.suspended_at,
    }
}

#[derive(Debug, InputObject)]
pub(crate) struct StartCheckoutInput {
    organization: String,
    /// A paid plan, e.g. `team`.
    plan: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct OpenBillingPortalInput {
    organization: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct AssignPlanInput {
    organization: String,
    plan: String,
}

/// A page of the payment provider to send the browser to.
#[derive(Debug, SimpleObject)]
pub(crate) struct BillingPagePayload {
    url: Option<String>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct DeleteOrganizationInput {
    organization: String,
    /// The organisation's slug again, to confirm.
    confirm: String,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct DeleteOrganizationPayload {
    deleted_organization_id: Option<async_graphql::ID>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct AssignPlanPayload {
    billing: Option<OrganizationBilling>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Opens Stripe Checkout to subscribe the organisation to a paid plan
    /// (owners only). The plan applies once Stripe confirms the payment
    /// (by webhook), not when this returns.
    async fn start_checkout(
        &self,
        ctx: &Context<'_>,
        input: StartCheckoutInput,
    ) -> async_graphql::Result<BillingPagePayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => as_hub(billing(ctx)?.checkout(&principal, &input.organization, &input.plan).await),
            Err(error) => Err(error),
        };
        let (url, user_errors) = payload(result)?;
        Ok(BillingPagePayload { url, user_errors })
    }

    /// Deletes an organisation (its owners, logged in; its workspaces must
    /// be deleted first), cancelling its subscription first. Its audit log
    /// stays; its slug is free again.
    async fn delete_organization(
        &self,
        ctx: &Context<'_>,
        input: DeleteOrganizationInput,
    ) -> async_graphql::Result<DeleteOrganizationPayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => {
                let deleted = billing(ctx)?.delete_organization(&principal, &input.organization, &input.confirm).await;
                as_hub(deleted).map(|org| super::ids::encode(super::ids::Kind::Organization, org.id))
            }
            Err(error) => Err(error),
        };
        let (deleted_organization_id, user_errors) = payload(result)?;
        Ok(DeleteOrganizationPayload { deleted_organization_id, user_errors })
    }

    /// Opens Stripe's customer portal: payment methods, invoices, plan
    /// changes and cancelling (owners only).
    async fn open_billing_portal(
        &self,
        ctx: &Context<'_>,
        input: OpenBillingPortalInput,
    ) -> async_graphql::Result<BillingPagePayload> {
        let result = match with_ip(ctx)? {
            Ok(principal) => as_hub(billing(ctx)?.portal(&principal, &input.organization).await),
            Err(error) => Err(error),
        };
        let (url, user_errors) = payload(result)?;
        Ok(BillingPagePayload { url, user_errors })
    }

    /// Puts an organisation on a plan where billing is off; only the
    /// installation's administrator may.
    async fn assign_plan(&self, ctx: &Context<'_>, input: AssignPlanInput) -> async_graphql::Result<AssignPlanPayload> {
        let billing = billing(ctx)?;
        let result = match with_ip(ctx)? {
            Ok(principal) => as_hub(billing.assign_plan(&principal, &input.organization, &input.plan).await),
            Err(error) => Err(error),
        };
        let (account, user_errors) = payload(result)?;
        let hub = super::caller::hub(ctx)?;
        Ok(AssignPlanPayload { billing: account.map(|a| view(billing.is_enabled(), hub, a)), user_errors })
    }
}
