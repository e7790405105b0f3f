//! The Stripe provider: async-stripe's typed requests, on the installation's
//! secret key. Each call that creates something carries an idempotency key
//! derived from what it creates, so a retry after a lost answer does not
//! make a second one; meter events carry their own identifier.
//!
//! Requests go over the platform's HTTP client ([`transport`]); answers
//! are read into the few fields used here ([`answers`]) rather than
//! async-stripe's full objects, which reach most of Stripe's API through
//! their expandable fields (binary size: docs/billing.md, "Stripe client").

use std::collections::HashMap;

use async_trait::async_trait;
use strata_hub::BillingStatus;
use stripe_billing::billing_meter_event::CreateBillingMeterEvent;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{CancelSubscription, RetrieveSubscription};
use stripe_billing::subscription_item::UpdateSubscriptionItem;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_client_core::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_core::customer::CreateCustomer;

use crate::config::StripeSettings;
use crate::error::{BillingError, Result};
use crate::provider::{BillingProvider, CheckoutRequest, MeterEvent, Subscription, SubscriptionItem};

mod transport;

use transport::{CallError, Transport};

/// Where Stripe's API is unless the configuration names a stand-in.
const STRIPE_API: &str = "https://api.stripe.com/";

/// See the module documentation.
pub struct StripeProvider {
    client: Transport,
}

impl std::fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeProvider").finish_non_exhaustive()
    }
}

impl StripeProvider {
    /// A client of the account whose key `settings` holds.
    pub fn new(settings: &StripeSettings) -> Result<Self> {
        let base = settings.api_base.as_deref().unwrap_or(STRIPE_API);
        let timeout = std::time::Duration::from_secs(30);
        let client = Transport::new(base, settings.secret_key.clone(), timeout).map_err(BillingError::from)?;
        Ok(StripeProvider { client })
    }
}

/// Stripe's error without anything of the request (its key never appears
/// in one; the answer's status, type and message are kept).
impl From<CallError> for BillingError {
    fn from(error: CallError) -> Self {
        BillingError::Provider(error.to_string())
    }
}

/// True for Stripe's answer that the object does not exist.
fn missing(error: &CallError) -> bool {
    matches!(error, CallError::Api { status: 404, .. })
}

fn idempotent(key: &str) -> Result<RequestStrategy> {
    let key = IdempotencyKey::new(key).map_err(|error| BillingError::Provider(format!("idempotency key: {error}")))?;
    Ok(RequestStrategy::Idempotent(key))
}

/// Stripe's subscription status; Stripe's names are ours.
fn status_of(status: &str) -> BillingStatus {
    match status.parse() {
        // `none` is not Stripe's; a status newer than this client gets no
        // plan until it is understood.
        Ok(BillingStatus::None) | Err(_) => BillingStatus::Incomplete,
        Ok(known) => known,
    }
}

/// The fields of Stripe's answers that are used here; the rest of each
/// object is skipped unread.
mod answers {
    #[derive(miniserde::Deserialize)]
    pub(super) struct Created {
        pub id: String,
    }

    #[derive(miniserde::Deserialize)]
    pub(super) struct Session {
        pub url: Option<String>,
    }

    #[derive(miniserde::Deserialize)]
    pub(super) struct MeterEventCreated {
        pub identifier: String,
    }

    /// A subscription with its customer not expanded (an id).
    #[derive(miniserde::Deserialize)]
    pub(super) struct Subscription {
        pub id: String,
        pub customer: String,
        pub status: String,
        pub items: Items,
    }

    #[derive(miniserde::Deserialize)]
    pub(super) struct Items {
        pub data: Vec<Item>,
    }

    #[derive(miniserde::Deserialize)]
    pub(super) struct Item {
        pub id: String,
        pub price: Created,
        pub quantity: Option<u64>,
    }
}

#[async_trait]
impl BillingProvider for StripeProvider {
    async fn create_customer(&self, org_id: &str, org_name: &str) -> Result<String> {
        let metadata = HashMap::from([("strata_org".to_owned(), org_id.to_owned())]);
        let customer = CreateCustomer::new()
            .name(org_name)
            .metadata(metadata)
            .build()
            .customize::<answers::Created>()
            .request_strategy(idempotent(&format!("strata-customer-{org_id}"))?)
            .send(&self.client)
            .await
            .map_err(BillingError::from)?;
        Ok(customer.id)
    }

    async fn checkout(&self, request: &CheckoutRequest) -> Result<String> {
        let mut seats = CreateCheckoutSessionLineItems::new();
        seats.price = Some(request.seat_price.clone());
        seats.quantity = Some(request.seats.max(1));
        let mut items = vec![seats];
        for price in &request.metered_prices {
            let mut metered = CreateCheckoutSessionLineItems::new();
            metered.price = Some(price.clone());
            items.push(metered);
        }
        let mut subscription = CreateCheckoutSessionSubscriptionData::new();
        subscription.metadata = Some(HashMap::from([
            ("strata_org".to_owned(), request.org_id.clone()),
            ("plan".to_owned(), request.plan.clone()),
        ]));
        let create = CreateCheckoutSession::new()
            .mode(stripe_shared::CheckoutSessionMode::Subscription)
            .customer(request.customer.clone())
            .client_reference_id(request.org_id.clone())
            .line_items(items)
            .subscription_data(subscription)
            .success_url(request.success_url.clone())
            .cancel_url(request.cancel_url.clone());
        let session =
            create.build().customize::<answers::Session>().send(&self.client).await.map_err(BillingError::from)?;
        session.url.ok_or_else(|| BillingError::Provider("Stripe made a checkout session without a URL".to_owned()))
    }

    async fn portal(&self, customer: &str, return_url: &str) -> Result<String> {
        let create = CreateBillingPortalSession::new().customer(customer).return_url(return_url);
        let session =
            create.build().customize::<answers::Session>().send(&self.client).await.map_err(BillingError::from)?;
        session.url.ok_or_else(|| BillingError::Provider("Stripe made a portal session without a URL".to_owned()))
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>> {
        let found = RetrieveSubscription::new(id).build().customize::<answers::Subscription>().send(&self.client).await;
        let subscription = match found {
            Ok(subscription) => subscription,
            Err(error) if missing(&error) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        Ok(Some(Subscription {
            id: subscription.id,
            customer: subscription.customer,
            status: status_of(&subscription.status),
            items: subscription
                .items
                .data
                .into_iter()
                .map(|item| SubscriptionItem { id: item.id, price: item.price.id, quantity: item.quantity })
                .collect(),
        }))
    }

    async fn cancel_subscription(&self, id: &str) -> Result<()> {
        match CancelSubscription::new(id).build().customize::<answers::Created>().send(&self.client).await {
            Ok(_) => Ok(()),
            Err(error) if missing(&error) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    async fn set_item_quantity(&self, item: &str, quantity: u64) -> Result<()> {
        // No idempotency key: setting a quantity is idempotent by itself, and
        // a key reused within Stripe's 24 hours would replay an older answer
        // for a later change back to the same number.
        UpdateSubscriptionItem::new(item)
            .quantity(quantity)
            .build()
            .customize::<answers::Created>()
            .send(&self.client)
            .await
            .map_err(BillingError::from)?;
        Ok(())
    }

    async fn send_meter_event(&self, event: &MeterEvent) -> Result<()> {
        let payload = HashMap::from([
            ("stripe_customer_id".to_owned(), event.customer.clone()),
            ("value".to_owned(), event.value.to_string()),
        ]);
        let create = CreateBillingMeterEvent::new(event.event_name.clone(), payload)
            .identifier(event.identifier.clone())
            .timestamp(event.timestamp);
        let created = create
            .build()
            .customize::<answers::MeterEventCreated>()
            .request_strategy(idempotent(&format!("strata-meter-{}", event.identifier))?)
            .send(&self.client)
            .await
            .map_err(BillingError::from)?;
        if created.identifier != event.identifier {
            return Err(BillingError::Provider(format!(
                "Stripe recorded meter event `{}` for `{}`",
                created.identifier, event.identifier
            )));
        }
        Ok(())
    }
}
