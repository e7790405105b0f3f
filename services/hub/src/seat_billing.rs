//! Seats as billed (docs/billing.md, "Seats"): the quantity of an
//! organisation's seat price on its subscription follows its members. The
//! quantity last read from the payment provider or set on it is kept on the
//! billing account, so billing's upkeep pushes a change once, and a change
//! made elsewhere (the customer portal) is put back at the next upkeep.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use strata_core::id::OrganizationId;

use crate::billing::BillingStatus;
use crate::entities::billing_account;
use crate::{Hub, Result};

/// An organisation whose subscription bills another number of seats than
/// it has members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatsToBill {
    pub org_id: OrganizationId,
    pub subscription_id: String,
    /// The seats it should be billed: its members, at least one.
    pub seats: u64,
    /// The seats billed as last known.
    pub billed: Option<u64>,
}

impl Hub {
    /// The organisations with a subscription whose billed seats differ from
    /// their members now.
    pub async fn seats_to_bill(&self) -> Result<Vec<SeatsToBill>> {
        let accounts = billing_account::Entity::find()
            .filter(billing_account::Column::SubscriptionId.is_not_null())
            .all(&self.db)
            .await?;
        let mut due = Vec::new();
        for account in accounts {
            let status: BillingStatus = account.status.parse().unwrap_or(BillingStatus::None);
            let Some(subscription_id) = account.subscription_id.filter(|_| status.grants_plan()) else { continue };
            let seats = self.count_members(account.org_id).await?.max(1);
            let billed = account.seats_billed.and_then(|seats| u64::try_from(seats).ok());
            if billed != Some(seats) {
                due.push(SeatsToBill { org_id: account.org_id, subscription_id, seats, billed });
            }
        }
        Ok(due)
    }

    /// Notes that `subscription_id` of `org_id` now bills `seats`; nothing
    /// when the organisation has moved to another subscription meanwhile.
    pub async fn record_seats_billed(&self, org_id: OrganizationId, subscription_id: &str, seats: u64) -> Result<()> {
        billing_account::Entity::update_many()
            .col_expr(billing_account::Column::SeatsBilled, Expr::value(i64::try_from(seats).unwrap_or(i64::MAX)))
            .filter(billing_account::Column::OrgId.eq(org_id))
            .filter(billing_account::Column::SubscriptionId.eq(subscription_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
