//! What billing needs from a payment provider, so the service can run on
//! Stripe ([`crate::stripe::StripeProvider`]) or, in service tests, on an
//! in-memory one ([`crate::memory::InMemoryProvider`]).

use std::fmt::Debug;

use async_trait::async_trait;
use strata_hub::BillingStatus;

use crate::error::Result;

/// A hosted checkout to start a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// The organisation, echoed back by the completed session as its
    /// `client_reference_id`.
    pub org_id: String,
    pub customer: String,
    pub plan: String,
    pub seat_price: String,
    /// Seats to start with (the organisation's members).
    pub seats: u64,
    pub metered_prices: Vec<String>,
    pub success_url: String,
    pub cancel_url: String,
}

/// A subscription as the provider has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub status: BillingStatus,
    pub items: Vec<SubscriptionItem>,
}

/// One price of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionItem {
    pub id: String,
    pub price: String,
    /// How many are billed (a seat price's seats); `None` for a metered price.
    pub quantity: Option<u64>,
}

/// One usage record for a meter. The provider counts an `identifier` once,
/// however often it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterEvent {
    pub event_name: String,
    pub customer: String,
    pub value: u64,
    pub identifier: String,
    /// Seconds since the epoch.
    pub timestamp: i64,
}

/// A payment provider.
#[async_trait]
pub trait BillingProvider: Send + Sync + Debug {
    /// Makes the customer of an organisation. `org_id` makes the call
    /// idempotent, so a retry does not make a second one.
    async fn create_customer(&self, org_id: &str, org_name: &str) -> Result<String>;
    /// A hosted checkout page; returns its URL.
    async fn checkout(&self, request: &CheckoutRequest) -> Result<String>;
    /// A session of the provider's customer portal; returns its URL.
    async fn portal(&self, customer: &str, return_url: &str) -> Result<String>;
    /// The subscription `id` as it is now; `None` if the provider has none.
    async fn subscription(&self, id: &str) -> Result<Option<Subscription>>;
    /// Ends the subscription `id` now.
    async fn cancel_subscription(&self, id: &str) -> Result<()>;
    /// Bills `quantity` of the subscription item `item` from now on (the
    /// provider prorates the change).
    async fn set_item_quantity(&self, item: &str, quantity: u64) -> Result<()>;
    /// Records usage.
    async fn send_meter_event(&self, event: &MeterEvent) -> Result<()>;
}
