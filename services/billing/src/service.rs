//! The billing service: what GraphQL, the webhook route and the upkeep loop
//! call. It reads and writes billing state through the hub, and talks to
//! the payment provider; a plan changes only in [`Billing::handle_webhook`],
//! from the subscription as the provider has it.

use std::sync::Arc;

use chrono::Utc;
use secrecy::ExposeSecret;
use strata_api_types::ErrorCode;
use strata_core::id::OrganizationId;
use strata_hub::{BillingAccount, BillingStatus, Hub, Org, Principal, SeatsToBill, SubscriptionSnapshot};

use crate::config::{BillingSettings, StripeSettings};
use crate::error::{BillingError, Result};
use crate::provider::{BillingProvider, CheckoutRequest, Subscription, SubscriptionItem};
use crate::stripe::StripeProvider;
use crate::webhook::{self, Notice};

/// Where the provider's pages send people back to.
#[derive(Debug, Clone)]
pub struct BillingLinks {
    /// The console's base URL, e.g. `https://strata.example.com`.
    pub console: String,
}

impl BillingLinks {
    fn billing_page(&self, org_slug: &str, outcome: Option<&str>) -> String {
        let base = format!("{}/orgs/{org_slug}/billing", self.console.trim_end_matches('/'));
        match outcome {
            Some(outcome) => format!("{base}?checkout={outcome}"),
            None => base,
        }
    }
}

/// What became of a webhook request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Applied,
    /// The event id was handled before; nothing was done again.
    Duplicate,
    /// A type billing does not act on, or about a customer it does not know.
    Ignored,
}

#[derive(Debug, Clone)]
struct Enabled {
    settings: StripeSettings,
    provider: Arc<dyn BillingProvider>,
}

impl Enabled {
    /// The item of a subscription whose price is a plan's seat price.
    fn seat_item<'s>(&self, subscription: &'s Subscription) -> Option<&'s SubscriptionItem> {
        subscription.items.iter().find(|item| self.settings.plan_of_price(&item.price).is_some())
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Billing {
    hub: Hub,
    links: BillingLinks,
    /// `None`: billing is off.
    enabled: Option<Enabled>,
}

impl Billing {
    /// Billing as configured: on Stripe when a key is set, else off.
    pub fn from_settings(hub: Hub, links: BillingLinks, settings: &BillingSettings) -> Result<Self> {
        let enabled = match &settings.stripe {
            Some(stripe) => {
                let provider: Arc<dyn BillingProvider> = Arc::new(StripeProvider::new(stripe)?);
                Some(Enabled { settings: stripe.clone(), provider })
            }
            None => None,
        };
        Ok(Billing { hub, links, enabled })
    }

    /// Billing on `provider` (the in-memory one in service tests).
    pub fn with_provider(
        hub: Hub,
        links: BillingLinks,
        settings: StripeSettings,
        provider: Arc<dyn BillingProvider>,
    ) -> Self {
        Billing { hub, links, enabled: Some(Enabled { settings, provider }) }
    }

    /// Whether plans come from a payment provider (else the administrator
    /// assigns them).
    pub fn is_enabled(&self) -> bool {
        self.enabled.is_some()
    }

    fn enabled(&self) -> Result<&Enabled> {
        self.enabled.as_ref().ok_or_else(|| {
            BillingError::user(
                "plan",
                ErrorCode::InvalidRequest,
                "billing is off on this installation: its administrator assigns plans (`assignPlan`)",
            )
        })
    }

    /// The billing state of an organisation, for its owners.
    pub async fn account(&self, principal: &Principal, org_slug: &str) -> Result<BillingAccount> {
        let org = self.hub.billing_org(principal, org_slug).await?;
        Ok(self.hub.billing_account(org.id).await?)
    }

    /// A checkout page subscribing `org_slug` to `plan`. The plan applies
    /// once the provider reports the paid subscription by webhook.
    pub async fn checkout(&self, principal: &Principal, org_slug: &str, plan: &str) -> Result<String> {
        let enabled = self.enabled()?;
        let org = self.hub.billing_org(principal, org_slug).await?;
        let seat_price = enabled.settings.seat_prices.get(plan).ok_or_else(|| {
            let paid: Vec<&str> = enabled.settings.seat_prices.keys().map(String::as_str).collect();
            BillingError::user(
                "plan",
                ErrorCode::InvalidArgument,
                format!("`{plan}` cannot be bought; the plans on sale are: {}", paid.join(", ")),
            )
        })?;
        let account = self.hub.billing_account(org.id).await?;
        if account.subscription_id.is_some() && account.status != BillingStatus::Canceled {
            return Err(BillingError::user(
                "plan",
                ErrorCode::Conflict,
                format!(
                    "`{org_slug}` has a subscription ({} plan); change its plan in the billing portal",
                    account.plan
                ),
            ));
        }
        let customer = match account.customer_id {
            Some(customer) => customer,
            None => {
                let made = enabled.provider.create_customer(&org.id.to_string(), &org.name).await?;
                self.hub.attach_customer(org.id, &made).await?
            }
        };
        let seats = self.hub.org_usage(principal, org_slug).await?.members;
        let request = CheckoutRequest {
            org_id: org.id.to_string(),
            customer,
            plan: plan.to_owned(),
            seat_price: seat_price.clone(),
            seats,
            metered_prices: enabled.settings.metered_prices.clone(),
            success_url: self.links.billing_page(org_slug, Some("done")),
            cancel_url: self.links.billing_page(org_slug, Some("cancelled")),
        };
        let url = enabled.provider.checkout(&request).await?;
        tracing::info!(org = %org.id, plan, "checkout started");
        Ok(url)
    }

    /// A session of the provider's customer portal (payment methods,
    /// invoices, plan changes, cancelling) for `org_slug`.
    pub async fn portal(&self, principal: &Principal, org_slug: &str) -> Result<String> {
        let enabled = self.enabled()?;
        let org = self.hub.billing_org(principal, org_slug).await?;
        let Some(customer) = self.hub.billing_account(org.id).await?.customer_id else {
            return Err(BillingError::user(
                "org",
                ErrorCode::InvalidRequest,
                format!("`{org_slug}` has no billing account yet: subscribe to a plan first"),
            ));
        };
        enabled.provider.portal(&customer, &self.links.billing_page(org_slug, None)).await
    }

    /// Puts an organisation on a plan while billing is off (the
    /// installation's administrator only).
    pub async fn assign_plan(&self, principal: &Principal, org_slug: &str, plan: &str) -> Result<BillingAccount> {
        if self.is_enabled() {
            return Err(BillingError::user(
                "plan",
                ErrorCode::Forbidden,
                "plans are bought through checkout on this installation; an owner subscribes on the Billing page",
            ));
        }
        Ok(self.hub.assign_org_plan(principal, org_slug, plan).await?)
    }

    /// Deletes an organisation (its owners, once its workspaces are gone),
    /// cancelling its subscription first: a refusal from the payment
    /// provider leaves the organisation as it was, to try again.
    pub async fn delete_organization(&self, principal: &Principal, org_slug: &str, confirm: &str) -> Result<Org> {
        let found = self.hub.org_to_delete(principal, org_slug, confirm).await?;
        if let (Some(enabled), Some(subscription)) = (&self.enabled, &found.subscription_id) {
            enabled.provider.cancel_subscription(subscription).await?;
        }
        Ok(self.hub.delete_org(principal, org_slug, confirm).await?)
    }

    /// Handles one webhook request: verifies it, skips an event handled
    /// before, and applies the subscription it is about as the provider has
    /// it now. `now` is seconds since the epoch.
    pub async fn handle_webhook(&self, body: &[u8], signature: &str, now: i64) -> Result<WebhookOutcome> {
        let enabled = self.enabled.as_ref().ok_or_else(|| BillingError::Webhook("billing is off".to_owned()))?;
        let event = webhook::verify(body, signature, enabled.settings.webhook_secret.expose_secret(), now)?;
        if self.hub.billing_event_handled(&event.id).await? {
            return Ok(WebhookOutcome::Duplicate);
        }
        let outcome = match &event.notice {
            Notice::Subscription { subscription, customer } => self.sync_customer(customer, subscription).await?,
            Notice::Invoice { subscription: Some(subscription), customer } => {
                self.sync_customer(customer, subscription).await?
            }
            Notice::CheckoutCompleted { org, customer, subscription } => {
                self.checkout_completed(org.as_deref(), customer.as_deref(), subscription.as_deref()).await?
            }
            Notice::Invoice { subscription: None, .. } | Notice::Ignored => WebhookOutcome::Ignored,
        };
        self.hub.record_billing_event(&event.id, &event.kind).await?;
        tracing::info!(event = %event.id, kind = %event.kind, ?outcome, "billing webhook handled");
        Ok(outcome)
    }

    async fn sync_customer(&self, customer: &str, subscription: &str) -> Result<WebhookOutcome> {
        let Some(org) = self.hub.org_of_customer(customer).await? else {
            tracing::warn!(customer, "a billing event about a customer of no organisation; ignored");
            return Ok(WebhookOutcome::Ignored);
        };
        self.sync(org.id, customer, subscription).await
    }

    /// The organisation named by a completed checkout must be the one its
    /// customer was made for: the session's reference alone moves nothing.
    async fn checkout_completed(
        &self,
        org: Option<&str>,
        customer: Option<&str>,
        subscription: Option<&str>,
    ) -> Result<WebhookOutcome> {
        let (Some(org), Some(customer), Some(subscription)) = (org, customer, subscription) else {
            return Ok(WebhookOutcome::Ignored);
        };
        let owner = self.hub.org_of_customer(customer).await?;
        match owner {
            Some(owner) if owner.id.to_string() == org => self.sync(owner.id, customer, subscription).await,
            _ => {
                tracing::warn!(org, customer, "a completed checkout whose customer is not the organisation's; ignored");
                Ok(WebhookOutcome::Ignored)
            }
        }
    }

    /// Reads the subscription from the provider and applies it.
    async fn sync(&self, org_id: OrganizationId, customer: &str, subscription: &str) -> Result<WebhookOutcome> {
        let enabled = self.enabled()?;
        let found = enabled.provider.subscription(subscription).await?;
        let snapshot = match found {
            Some(found) if found.customer != customer => {
                tracing::warn!(subscription, "a subscription of another customer; ignored");
                return Ok(WebhookOutcome::Ignored);
            }
            Some(found) => {
                let seat_item = enabled.seat_item(&found);
                SubscriptionSnapshot {
                    plan: seat_item.and_then(|item| enabled.settings.plan_of_price(&item.price)).map(str::to_owned),
                    seats: seat_item.and_then(|item| item.quantity),
                    id: found.id,
                    status: found.status,
                    observed_at: Utc::now(),
                }
            }
            None => SubscriptionSnapshot {
                id: subscription.to_owned(),
                status: BillingStatus::Canceled,
                plan: None,
                seats: None,
                observed_at: Utc::now(),
            },
        };
        let overdue = matches!(snapshot.status, BillingStatus::PastDue | BillingStatus::Unpaid);
        let applied = self.hub.apply_subscription(org_id, &snapshot).await?;
        if applied.resumed {
            tracing::info!(org = %org_id, "payment received: workspaces resumed");
        }
        if overdue {
            // A plan without a grace period suspends now, not at the next upkeep.
            self.hub.suspend_overdue(Utc::now()).await?;
        }
        Ok(WebhookOutcome::Applied)
    }

    /// One round of metering: counts new usage from every workspace and
    /// sends the buckets of hours over at `now`. Nothing while billing is off.
    pub async fn meter(
        &self,
        source: &dyn crate::metering::UsageSource,
        now: chrono::DateTime<Utc>,
    ) -> Result<crate::metering::Round> {
        let Some(enabled) = &self.enabled else { return Ok(crate::metering::Round::default()) };
        let counted = crate::metering::count(&self.hub, source).await?;
        let sampled = crate::metering::sample_storage(&self.hub, source, now).await?;
        let sent = crate::metering::send(&self.hub, enabled.provider.as_ref(), now).await?;
        Ok(crate::metering::Round { counted, sent, sampled })
    }

    /// Sets each subscription's seat quantity to its organisation's members
    /// where they differ; returns how many were changed. One organisation's
    /// failure is logged and retried at the next call, not the others'.
    pub async fn sync_seats(&self) -> Result<u64> {
        let Some(enabled) = &self.enabled else { return Ok(0) };
        let mut changed = 0;
        for due in self.hub.seats_to_bill().await? {
            match self.sync_seats_of(enabled, &due).await {
                Ok(true) => changed += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(org = %due.org_id, error = %strata_core::error::display_chain(&error), "seat quantity not updated; retried at the next upkeep");
                }
            }
        }
        Ok(changed)
    }

    /// Whether the provider's quantity had to change.
    async fn sync_seats_of(&self, enabled: &Enabled, due: &SeatsToBill) -> Result<bool> {
        let Some(subscription) = enabled.provider.subscription(&due.subscription_id).await? else { return Ok(false) };
        let Some(item) = enabled.seat_item(&subscription) else {
            tracing::warn!(subscription = %due.subscription_id, "the subscription has no seat price of a plan; seats left as they are");
            return Ok(false);
        };
        let differs = item.quantity != Some(due.seats);
        if differs {
            enabled.provider.set_item_quantity(&item.id, due.seats).await?;
            tracing::info!(org = %due.org_id, from = ?item.quantity, to = due.seats, "seat quantity updated");
        }
        self.hub.record_seats_billed(due.org_id, &due.subscription_id, due.seats).await?;
        Ok(differs)
    }

    /// Counts `bytes` sent out of a workspace of `org` through the gateway
    /// (nothing while billing is off).
    pub async fn count_egress(&self, org: OrganizationId, bytes: u64) -> Result<()> {
        if self.enabled.is_none() {
            return Ok(());
        }
        crate::metering::count_egress(&self.hub, org, bytes, Utc::now()).await
    }

    /// Suspends organisations whose payment is overdue past their grace
    /// period; run periodically.
    pub async fn upkeep(&self, now: chrono::DateTime<Utc>) -> Result<Vec<OrganizationId>> {
        Ok(self.hub.suspend_overdue(now).await?)
    }
}
