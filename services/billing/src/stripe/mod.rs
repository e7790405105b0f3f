//! The Stripe provider: async-stripe's typed requests, on the installation's
//! secret key. Each call that creates something carries an idempotency key
//! derived from what it creates, so a retry after a lost answer does not
//! make a second one; meter events carry their own identifier.

use std::collections::HashMap;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use strata_hub::BillingStatus;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::billing_meter_event::CreateBillingMeterEvent;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{CancelSubscription, RetrieveSubscription};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_core::customer::CreateCustomer;

use crate::config::StripeSettings;
use crate::error::{BillingError, Result};
use crate::provider::{BillingProvider, CheckoutRequest, MeterEvent, Subscription};

/// See the module documentation.
pub struct StripeProvider {
    client: Client,
}

impl std::fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeProvider").finish_non_exhaustive()
    }
}

impl StripeProvider {
    /// A client of the account whose key `settings` holds.
    pub fn new(settings: &StripeSettings) -> Result<Self> {
        let mut builder = ClientBuilder::new(settings.secret_key.expose_secret())
            .app_info("strata", Some(env!("CARGO_PKG_VERSION").to_owned()), None)
            .timeout(std::time::Duration::from_secs(30));
        if let Some(base) = &settings.api_base {
            builder = builder.url(base.clone());
        }
        let client = builder.build().map_err(provider_error)?;
        Ok(StripeProvider { client })
    }
}

/// Stripe's error without anything of the request (its key never appears
/// in one; the answer's message and type are kept).
fn provider_error(error: StripeError) -> BillingError {
    let message = match error {
        StripeError::Stripe(errors, status) => {
            format!("Stripe answered {status}: {}", errors.message.as_deref().unwrap_or("no message"))
        }
        StripeError::JSONDeserialize(what) => format!("Stripe's answer did not parse: {what}"),
        StripeError::ClientError(what) => format!("Stripe could not be reached: {what}"),
        StripeError::ConfigError(what) => format!("the Stripe client is misconfigured: {what}"),
        StripeError::Timeout => "Stripe did not answer in time".to_owned(),
    };
    BillingError::Provider(message)
}

fn idempotent(key: &str) -> Result<RequestStrategy> {
    let key = IdempotencyKey::new(key).map_err(|error| BillingError::Provider(format!("idempotency key: {error}")))?;
    Ok(RequestStrategy::Idempotent(key))
}

fn status_of(status: &stripe_shared::SubscriptionStatus) -> BillingStatus {
    use stripe_shared::SubscriptionStatus as S;
    match status {
        S::Active => BillingStatus::Active,
        S::Canceled => BillingStatus::Canceled,
        S::IncompleteExpired => BillingStatus::IncompleteExpired,
        S::PastDue => BillingStatus::PastDue,
        S::Paused => BillingStatus::Paused,
        S::Trialing => BillingStatus::Trialing,
        S::Unpaid => BillingStatus::Unpaid,
        // Incomplete, or a status newer than this client: no plan until it
        // is understood.
        _ => BillingStatus::Incomplete,
    }
}

#[async_trait]
impl BillingProvider for StripeProvider {
    async fn create_customer(&self, org_id: &str, org_name: &str) -> Result<String> {
        let metadata = HashMap::from([("strata_org".to_owned(), org_id.to_owned())]);
        let customer = CreateCustomer::new()
            .name(org_name)
            .metadata(metadata)
            .customize()
            .request_strategy(idempotent(&format!("strata-customer-{org_id}"))?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(customer.id.as_str().to_owned())
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
        let session = CreateCheckoutSession::new()
            .mode(stripe_shared::CheckoutSessionMode::Subscription)
            .customer(request.customer.clone())
            .client_reference_id(request.org_id.clone())
            .line_items(items)
            .subscription_data(subscription)
            .success_url(request.success_url.clone())
            .cancel_url(request.cancel_url.clone())
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        session.url.ok_or_else(|| BillingError::Provider("Stripe made a checkout session without a URL".to_owned()))
    }

    async fn portal(&self, customer: &str, return_url: &str) -> Result<String> {
        let session = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(session.url)
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>> {
        let found = RetrieveSubscription::new(id).send(&self.client).await;
        let subscription = match found {
            Ok(subscription) => subscription,
            Err(StripeError::Stripe(_, 404)) => return Ok(None),
            Err(error) => return Err(provider_error(error)),
        };
        Ok(Some(Subscription {
            id: subscription.id.as_str().to_owned(),
            customer: subscription.customer.id().as_str().to_owned(),
            status: status_of(&subscription.status),
            prices: subscription.items.data.iter().map(|item| item.price.id.as_str().to_owned()).collect(),
        }))
    }

    async fn cancel_subscription(&self, id: &str) -> Result<()> {
        match CancelSubscription::new(id).send(&self.client).await {
            Ok(_) | Err(StripeError::Stripe(_, 404)) => Ok(()),
            Err(error) => Err(provider_error(error)),
        }
    }

    async fn send_meter_event(&self, event: &MeterEvent) -> Result<()> {
        let payload = HashMap::from([
            ("stripe_customer_id".to_owned(), event.customer.clone()),
            ("value".to_owned(), event.value.to_string()),
        ]);
        CreateBillingMeterEvent::new(event.event_name.clone(), payload)
            .identifier(event.identifier.clone())
            .timestamp(event.timestamp)
            .customize()
            .request_strategy(idempotent(&format!("strata-meter-{}", event.identifier))?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(())
    }
}
