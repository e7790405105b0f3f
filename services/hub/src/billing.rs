//! Each organisation's plan and what billing knows of it (docs/billing.md).
//!
//! The plan an organisation is on is written here in two ways only: from a
//! subscription read from the payment provider after a verified webhook
//! (`strata-billing` does the reading), or, where billing is off, by the
//! installation's administrator. Nothing a member sends sets it.
//!
//! Dunning lives here too: a subscription that falls past due starts the
//! plan's grace period; once it is over, [`Hub::suspend_overdue`] suspends
//! every workspace of the organisation (the provisioner stops their
//! servers, data kept), and a subscription seen active again resumes them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, TransactionTrait};
use strata_api_types::ErrorCode;
use strata_core::id::OrganizationId;

use crate::entities::{billing_account, billing_event, org, workspace};
use crate::error::{HubError, Result, UserError};
use crate::roles::{OrgRole, Principal};
use crate::workspaces::WorkspaceState;
use crate::{Hub, LOCAL_ADMIN_EMAIL, Org};

/// A subscription's status as the payment provider reports it (Stripe's
/// names), or `None` for an organisation that never subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingStatus {
    None,
    Trialing,
    Active,
    Incomplete,
    IncompleteExpired,
    PastDue,
    Unpaid,
    Paused,
    Canceled,
}

impl BillingStatus {
    const ALL: [BillingStatus; 9] = [
        BillingStatus::None,
        BillingStatus::Trialing,
        BillingStatus::Active,
        BillingStatus::Incomplete,
        BillingStatus::IncompleteExpired,
        BillingStatus::PastDue,
        BillingStatus::Unpaid,
        BillingStatus::Paused,
        BillingStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BillingStatus::None => "none",
            BillingStatus::Trialing => "trialing",
            BillingStatus::Active => "active",
            BillingStatus::Incomplete => "incomplete",
            BillingStatus::IncompleteExpired => "incomplete_expired",
            BillingStatus::PastDue => "past_due",
            BillingStatus::Unpaid => "unpaid",
            BillingStatus::Paused => "paused",
            BillingStatus::Canceled => "canceled",
        }
    }

    /// Whether the subscription's plan applies: paid up, or trying to be
    /// (past due and unpaid keep the plan through the grace period).
    pub(crate) fn grants_plan(self) -> bool {
        matches!(self, BillingStatus::Trialing | BillingStatus::Active | BillingStatus::PastDue | BillingStatus::Unpaid)
    }

    /// Whether a payment is owed and late.
    fn overdue(self) -> bool {
        matches!(self, BillingStatus::PastDue | BillingStatus::Unpaid)
    }
}

impl fmt::Display for BillingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BillingStatus {
    type Err = HubError;

    fn from_str(s: &str) -> Result<Self> {
        BillingStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| HubError::Internal(format!("unknown subscription status `{s}`")))
    }
}

/// An organisation's billing state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingAccount {
    pub org_id: OrganizationId,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    /// The plan billing grants (the operator's `org_plans` setting wins
    /// over it; see [`Hub::org_plan`]).
    pub plan: String,
    pub status: BillingStatus,
    pub past_due_since: Option<DateTime<Utc>>,
    pub suspended_at: Option<DateTime<Utc>>,
}

/// A subscription as read from the payment provider at `observed_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSnapshot {
    pub id: String,
    pub status: BillingStatus,
    /// The plan its price stands for; `None` when no price maps to a plan.
    pub plan: Option<String>,
    /// The quantity of its seat price.
    pub seats: Option<u64>,
    pub observed_at: DateTime<Utc>,
}

/// What applying a subscription changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    /// False when a newer read was applied already (nothing changed).
    pub fresh: bool,
    pub resumed: bool,
}

impl From<billing_account::Model> for BillingAccount {
    fn from(row: billing_account::Model) -> Self {
        BillingAccount {
            org_id: row.org_id,
            customer_id: row.customer_id,
            subscription_id: row.subscription_id,
            status: row.status.parse().unwrap_or(BillingStatus::None),
            plan: row.plan,
            past_due_since: row.past_due_since,
            suspended_at: row.suspended_at,
        }
    }
}

impl Hub {
    /// The billing state of `org_id`; an organisation billing never saw is
    /// on the default plan.
    pub async fn billing_account(&self, org_id: OrganizationId) -> Result<BillingAccount> {
        let row = billing_account::Entity::find_by_id(org_id).one(&self.db).await?;
        Ok(row.map(BillingAccount::from).unwrap_or_else(|| self.unbilled_account(org_id)))
    }

    /// The account of an organisation that never paid: the default plan.
    fn unbilled_account(&self, org_id: OrganizationId) -> BillingAccount {
        BillingAccount {
            org_id,
            customer_id: None,
            subscription_id: None,
            plan: self.plans().default_plan().name.clone(),
            status: BillingStatus::None,
            past_due_since: None,
            suspended_at: None,
        }
    }

    /// The organisation `org_slug` for someone about to pay for it or see
    /// its invoices: its owners only.
    pub async fn billing_org(&self, principal: &Principal, org_slug: &str) -> Result<Org> {
        let (org, role) = self.org_for(principal, org_slug).await?;
        if role != OrgRole::Owner {
            return Err(UserError::forbidden(format!("only owners of `{}` can manage its billing", org.slug)).into());
        }
        Ok(org)
    }

    /// Records `customer_id` as `org_id`'s payment customer unless it has
    /// one already; returns the one that holds (so two concurrent first
    /// checkouts end with one customer).
    pub async fn attach_customer(&self, org_id: OrganizationId, customer_id: &str) -> Result<String> {
        self.ensure_billing_row(org_id).await?;
        billing_account::Entity::update_many()
            .col_expr(billing_account::Column::CustomerId, Expr::value(Some(customer_id.to_owned())))
            .col_expr(billing_account::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(billing_account::Column::OrgId.eq(org_id))
            .filter(billing_account::Column::CustomerId.is_null())
            .exec(&self.db)
            .await?;
        self.billing_account(org_id)
            .await?
            .customer_id
            .ok_or_else(|| HubError::Internal(format!("organisation {org_id} lost its billing customer")))
    }

    async fn ensure_billing_row(&self, org_id: OrganizationId) -> Result<()> {
        let account = self.unbilled_account(org_id);
        let row = billing_account::ActiveModel {
            org_id: Set(account.org_id),
            customer_id: Set(account.customer_id),
            subscription_id: Set(account.subscription_id),
            plan: Set(account.plan),
            status: Set(account.status.as_str().to_owned()),
            past_due_since: Set(account.past_due_since),
            suspended_at: Set(account.suspended_at),
            synced_at: Set(None),
            updated_at: Set(Utc::now()),
            seats_billed: Set(None),
        };
        billing_account::Entity::insert(row)
            .on_conflict(OnConflict::column(billing_account::Column::OrgId).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// The organisation whose payment customer is `customer_id`.
    pub async fn org_of_customer(&self, customer_id: &str) -> Result<Option<Org>> {
        let Some(account) = billing_account::Entity::find()
            .filter(billing_account::Column::CustomerId.eq(customer_id))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(org::Entity::find_by_id(account.org_id).one(&self.db).await?.map(crate::orgs::org_from))
    }

    /// Whether the webhook event `id` was handled already.
    pub async fn billing_event_handled(&self, id: &str) -> Result<bool> {
        Ok(billing_event::Entity::find_by_id(id.to_owned()).one(&self.db).await?.is_some())
    }

    /// Notes the webhook event `id` as handled (after it was: a crash in
    /// between makes the provider deliver it again, and handling is
    /// idempotent).
    pub async fn record_billing_event(&self, id: &str, kind: &str) -> Result<()> {
        let row = billing_event::ActiveModel {
            id: Set(id.to_owned()),
            kind: Set(kind.to_owned()),
            received_at: Set(Utc::now()),
        };
        crate::identity::insert_unless_present(&self.db, row).await
    }

    /// Applies a subscription read from the payment provider to `org_id`:
    /// its plan (or the default one once it no longer grants one) and its
    /// status, starting or ending the grace period of an overdue payment.
    /// A read older than the one applied last changes nothing, so events
    /// handled out of order cannot roll the state back.
    pub async fn apply_subscription(&self, org_id: OrganizationId, snapshot: &SubscriptionSnapshot) -> Result<Applied> {
        self.ensure_billing_row(org_id).await?;
        let plan = match (snapshot.status.grants_plan(), &snapshot.plan) {
            (true, Some(plan)) if self.plans().named(plan).is_some() => plan.clone(),
            _ => self.plans().default_plan().name.clone(),
        };
        let txn = self.db.begin().await?;
        let Some(current) = billing_account::Entity::find_by_id(org_id).one(&txn).await? else {
            return Err(HubError::Internal(format!("organisation {org_id} has no billing row")));
        };
        if current.synced_at.is_some_and(|at| at > snapshot.observed_at) {
            return Ok(Applied::default());
        }
        let past_due_since = match snapshot.status.overdue() {
            true => Some(current.past_due_since.unwrap_or(snapshot.observed_at)),
            false => None,
        };
        let resumed = current.suspended_at.is_some() && past_due_since.is_none();
        let subscription_id = match snapshot.status {
            BillingStatus::Canceled | BillingStatus::IncompleteExpired => None,
            _ => Some(snapshot.id.clone()),
        };
        let update = billing_account::ActiveModel {
            org_id: Set(org_id),
            subscription_id: Set(subscription_id),
            plan: Set(plan.clone()),
            status: Set(snapshot.status.as_str().to_owned()),
            past_due_since: Set(past_due_since),
            suspended_at: Set(if resumed { None } else { current.suspended_at }),
            synced_at: Set(Some(snapshot.observed_at)),
            updated_at: Set(Utc::now()),
            seats_billed: Set(snapshot.seats.and_then(|seats| i64::try_from(seats).ok())),
            ..Default::default()
        };
        billing_account::Entity::update(update).exec(&txn).await?;
        txn.commit().await?;
        self.fit_workspaces_to(org_id, &plan).await?;
        if resumed {
            self.resume_workspaces(org_id).await?;
        }
        Ok(Applied { fresh: true, resumed })
    }

    /// Moves workspaces on a plan above the organisation's new one down to it.
    async fn fit_workspaces_to(&self, org_id: OrganizationId, org_plan: &str) -> Result<()> {
        let catalogue = self.plans();
        let Some(org_plan) = catalogue.named(org_plan) else { return Ok(()) };
        let above: Vec<String> = catalogue
            .plans()
            .iter()
            .filter(|plan| !catalogue.includes(org_plan, plan))
            .map(|plan| plan.name.clone())
            .collect();
        if above.is_empty() {
            return Ok(());
        }
        let rows = workspace::Entity::find()
            .filter(workspace::Column::OrgId.eq(org_id))
            .filter(workspace::Column::Plan.is_in(above))
            .filter(workspace::Column::State.ne(WorkspaceState::Deleted.as_str()))
            .all(&self.db)
            .await?;
        for row in rows {
            let plan = Expr::value(org_plan.name.clone());
            self.change_wish_if(row.id, vec![(workspace::Column::Plan, plan)], Condition::all(), Utc::now()).await?;
            tracing::info!(workspace = %row.id, from = %row.plan, to = %org_plan.name, "workspace plan lowered with its organisation's");
        }
        Ok(())
    }

    /// Suspends the workspaces of organisations whose payment has been
    /// overdue longer than their plan's grace period at `now`; returns them.
    pub async fn suspend_overdue(&self, now: DateTime<Utc>) -> Result<Vec<OrganizationId>> {
        let overdue = billing_account::Entity::find()
            .filter(billing_account::Column::PastDueSince.is_not_null())
            .filter(billing_account::Column::SuspendedAt.is_null())
            .all(&self.db)
            .await?;
        let mut suspended = Vec::new();
        for account in overdue {
            let grace = self.plans().named_or_default(&account.plan).grace_period();
            let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
            let Some(since) = account.past_due_since else { continue };
            if since.checked_add_signed(grace).is_some_and(|end| end > now) {
                continue;
            }
            let marked = billing_account::Entity::update_many()
                .col_expr(billing_account::Column::SuspendedAt, Expr::value(Some(now)))
                .filter(billing_account::Column::OrgId.eq(account.org_id))
                .filter(billing_account::Column::SuspendedAt.is_null())
                .filter(billing_account::Column::PastDueSince.is_not_null())
                .exec(&self.db)
                .await?;
            if marked.rows_affected == 1 {
                self.suspend_workspaces(account.org_id).await?;
                tracing::warn!(org = %account.org_id, "payment overdue past the grace period: workspaces suspended");
                suspended.push(account.org_id);
            }
        }
        Ok(suspended)
    }

    /// Every live workspace of `org_id` to SUSPENDED: the provisioner stops
    /// its server and keeps its data.
    async fn suspend_workspaces(&self, org_id: OrganizationId) -> Result<()> {
        let live = [
            WorkspaceState::Pending,
            WorkspaceState::Provisioning,
            WorkspaceState::Ready,
            WorkspaceState::Sleeping,
            WorkspaceState::Failed,
        ];
        self.move_workspaces(org_id, &live, WorkspaceState::Suspended).await
    }

    /// Every SUSPENDED workspace of `org_id` back to PENDING: the
    /// provisioner starts its server again on the data it kept.
    async fn resume_workspaces(&self, org_id: OrganizationId) -> Result<()> {
        self.move_workspaces(org_id, &[WorkspaceState::Suspended], WorkspaceState::Pending).await
    }

    async fn move_workspaces(&self, org_id: OrganizationId, from: &[WorkspaceState], to: WorkspaceState) -> Result<()> {
        let from: Vec<&str> = from.iter().map(|state| state.as_str()).collect();
        let rows = workspace::Entity::find()
            .filter(workspace::Column::OrgId.eq(org_id))
            .filter(workspace::Column::State.is_in(from.clone()))
            .all(&self.db)
            .await?;
        let now = Utc::now();
        for row in rows {
            let change = vec![(workspace::Column::State, Expr::value(to.as_str()))];
            let only_if = Condition::all().add(workspace::Column::State.is_in(from.clone()));
            self.change_wish_if(row.id, change, only_if, now).await?;
        }
        self.status_changes.notify_waiters();
        Ok(())
    }

    /// Puts `org_slug` on `plan` where billing is off: the installation's
    /// administrator (the account `strata dev` makes) decides plans then.
    pub async fn assign_org_plan(&self, principal: &Principal, org_slug: &str, plan: &str) -> Result<BillingAccount> {
        if principal.email != LOCAL_ADMIN_EMAIL || !principal.email_verified {
            return Err(UserError::forbidden(format!(
                "only the installation's administrator ({LOCAL_ADMIN_EMAIL}) assigns plans while billing is off"
            ))
            .into());
        }
        let org = org::Entity::find()
            .filter(org::Column::Slug.eq(org_slug.trim()))
            .one(&self.db)
            .await?
            .ok_or_else(|| UserError::not_found("organisation"))?;
        let plan = crate::workspaces::one_of("plan", Some(plan), &self.plan_names())?;
        self.ensure_billing_row(org.id).await?;
        billing_account::Entity::update_many()
            .col_expr(billing_account::Column::Plan, Expr::value(plan.clone()))
            .col_expr(billing_account::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(billing_account::Column::OrgId.eq(org.id))
            .exec(&self.db)
            .await?;
        self.fit_workspaces_to(org.id, &plan).await?;
        let detail = serde_json::json!({ "plan": plan });
        self.audit(principal, Some(org.id), "org.plan", &format!("org:{}", org.id), detail).await?;
        self.billing_account(org.id).await
    }
}

/// `PAYMENT_REQUIRED` for a workspace of a suspended organisation.
pub(crate) fn payment_required(slug: &str) -> HubError {
    HubError::User(UserError::new(
        Some("workspace"),
        ErrorCode::PaymentRequired,
        format!(
            "workspace `{slug}` is suspended: its organisation's payment is overdue; an owner can pay in the billing portal (Billing page of the console, or the `billingPortal` mutation) and it resumes within seconds"
        ),
    ))
}
