//! A payment provider held in memory, for service tests and local trials:
//! customers, checkouts, subscriptions and meter events behave as Stripe's
//! do where billing relies on them (a meter event's identifier counts once,
//! a completed checkout makes an active subscription), and every change a
//! test makes comes back as the signed webhook Stripe would send.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use strata_hub::BillingStatus;

use crate::error::{BillingError, Result};
use crate::fixtures;
use crate::provider::{BillingProvider, CheckoutRequest, MeterEvent, Subscription, SubscriptionItem};

/// A paid checkout: the webhooks Stripe sends, and where the payer's
/// browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub deliveries: Vec<Delivery>,
    pub success_url: String,
}

/// A webhook delivery: the body and its `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub body: Vec<u8>,
    pub signature: String,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    customers: BTreeMap<String, String>,
    checkouts: HashMap<String, CheckoutRequest>,
    subscriptions: HashMap<String, Subscription>,
    meter_events: BTreeMap<String, MeterEvent>,
    /// Meter events sent, counting repeats of an identifier.
    meter_calls: u64,
    cancelled: Vec<String>,
    /// Quantity changes made through [`BillingProvider::set_item_quantity`].
    quantity_changes: u64,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_mem{:06}", self.next_id)
    }
}

/// The session id a checkout or portal page URL ends with.
pub fn session_id(page_url: &str) -> &str {
    page_url.rsplit('/').next().unwrap_or_default()
}

/// See the module documentation.
#[derive(Debug)]
pub struct InMemoryProvider {
    webhook_secret: String,
    /// Where the checkout and portal "pages" point.
    page_base: String,
    state: Mutex<State>,
}

impl InMemoryProvider {
    /// A provider whose webhooks are signed with `webhook_secret`.
    pub fn new(webhook_secret: &str) -> Self {
        Self::with_pages(webhook_secret, "https://billing.invalid")
    }

    /// A provider whose checkout and portal pages are under `page_base`
    /// (the local Stripe double serves them).
    pub fn with_pages(webhook_secret: &str, page_base: &str) -> Self {
        InMemoryProvider {
            webhook_secret: webhook_secret.to_owned(),
            page_base: page_base.trim_end_matches('/').to_owned(),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pays the checkout `session` (the id at the end of its URL): makes its
    /// subscription, active, and returns the webhooks Stripe sends for it.
    pub fn complete_checkout(&self, session_url: &str, now: i64) -> Result<Vec<Delivery>> {
        Ok(self.pay_checkout(session_url, now)?.deliveries)
    }

    /// [`Self::complete_checkout`], with where the payer goes next.
    pub fn pay_checkout(&self, session_url: &str, now: i64) -> Result<Completed> {
        let session = session_id(session_url).to_owned();
        let (request, subscription) = {
            let mut state = self.state();
            let request = state
                .checkouts
                .remove(&session)
                .ok_or_else(|| BillingError::Provider(format!("no open checkout `{session}`")))?;
            let id = state.id("sub");
            let seats = SubscriptionItem {
                id: format!("si_{id}_0"),
                price: request.seat_price.clone(),
                quantity: Some(request.seats.max(1)),
            };
            let metered = request.metered_prices.iter().enumerate().map(|(n, price)| SubscriptionItem {
                id: format!("si_{id}_{}", n + 1),
                price: price.clone(),
                quantity: None,
            });
            let items = std::iter::once(seats).chain(metered).collect();
            let subscription =
                Subscription { id, customer: request.customer.clone(), status: BillingStatus::Active, items };
            state.subscriptions.insert(subscription.id.clone(), subscription.clone());
            (request, subscription)
        };
        let session_object = fixtures::checkout_session(&fixtures::CheckoutSessionFixture {
            id: &session,
            customer: &request.customer,
            subscription: Some(&subscription.id),
            client_reference_id: &request.org_id,
            status: "complete",
            url: None,
            success_url: &request.success_url,
            cancel_url: &request.cancel_url,
            created: now,
        });
        let deliveries = vec![
            self.delivery("customer.subscription.created", &self.subscription_object(&subscription, now), now),
            self.delivery("checkout.session.completed", &session_object, now),
        ];
        Ok(Completed { deliveries, success_url: request.success_url })
    }

    /// Changes a subscription's status as Stripe's dunning would, and
    /// returns the webhooks for it: `invoice.payment_failed` then the
    /// update for past due, `invoice.paid` then the update for active.
    pub fn set_status(&self, subscription: &str, status: BillingStatus, now: i64) -> Result<Vec<Delivery>> {
        let changed = {
            let mut state = self.state();
            let found = state
                .subscriptions
                .get_mut(subscription)
                .ok_or_else(|| BillingError::Provider(format!("no subscription `{subscription}`")))?;
            found.status = status;
            found.clone()
        };
        let mut deliveries = Vec::new();
        let invoice_status = match status {
            BillingStatus::PastDue | BillingStatus::Unpaid => Some(("invoice.payment_failed", "open")),
            BillingStatus::Active => Some(("invoice.paid", "paid")),
            _ => None,
        };
        if let Some((kind, invoice_status)) = invoice_status {
            let id = self.state().id("in");
            let invoice = fixtures::invoice(&id, &changed.customer, Some(&changed.id), invoice_status, now);
            deliveries.push(self.delivery(kind, &invoice, now));
        }
        let kind = match status {
            BillingStatus::Canceled => "customer.subscription.deleted",
            _ => "customer.subscription.updated",
        };
        deliveries.push(self.delivery(kind, &self.subscription_object(&changed, now), now));
        Ok(deliveries)
    }

    /// The webhook for any `kind` of event about `object`, signed.
    pub fn delivery(&self, kind: &str, object: &serde_json::Value, now: i64) -> Delivery {
        let id = self.state().id("evt");
        let body = fixtures::event(&id, kind, object, now).to_string().into_bytes();
        let signature = fixtures::signature(&body, &self.webhook_secret, now);
        Delivery { body, signature }
    }

    /// The subscription `id` in Stripe's shape, as of `now`.
    pub fn subscription_json(&self, id: &str, now: i64) -> Option<serde_json::Value> {
        let found = self.state().subscriptions.get(id).cloned()?;
        Some(self.subscription_object(&found, now))
    }

    /// The ids of every subscription, oldest first.
    pub fn subscription_ids(&self) -> Vec<String> {
        let state = self.state();
        let mut ids: Vec<String> = state.subscriptions.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The checkout waiting at `session`, if it is open.
    pub fn open_checkout(&self, session: &str) -> Option<CheckoutRequest> {
        self.state().checkouts.get(session).cloned()
    }

    /// Sets the quantity of the subscription item `item`, as Stripe's
    /// `POST /v1/subscription_items/{id}` does, and returns the
    /// `customer.subscription.updated` webhook it sends.
    pub fn update_item(&self, item: &str, quantity: u64, now: i64) -> Result<Delivery> {
        let changed = {
            let mut state = self.state();
            let found = state
                .subscriptions
                .values_mut()
                .find(|subscription| subscription.items.iter().any(|i| i.id == item))
                .ok_or_else(|| BillingError::Provider(format!("no subscription item `{item}`")))?;
            for entry in found.items.iter_mut().filter(|i| i.id == item) {
                entry.quantity = Some(quantity);
            }
            let changed = found.clone();
            state.quantity_changes += 1;
            changed
        };
        Ok(self.delivery("customer.subscription.updated", &self.subscription_object(&changed, now), now))
    }

    /// Quantity changes received.
    pub fn quantity_changes(&self) -> u64 {
        self.state().quantity_changes
    }

    fn subscription_object(&self, subscription: &Subscription, now: i64) -> serde_json::Value {
        let items: Vec<fixtures::Item> = subscription
            .items
            .iter()
            .map(|item| fixtures::Item {
                id: item.id.clone(),
                price: item.price.clone(),
                usage_type: if item.quantity.is_some() { "licensed" } else { "metered" },
                quantity: item.quantity,
            })
            .collect();
        fixtures::subscription(&subscription.id, &subscription.customer, subscription.status.as_str(), &items, now)
    }

    /// The sum of each meter's events per customer, each identifier once.
    pub fn meter_totals(&self) -> BTreeMap<(String, String), u64> {
        let mut totals = BTreeMap::new();
        for event in self.state().meter_events.values() {
            *totals.entry((event.event_name.clone(), event.customer.clone())).or_insert(0) += event.value;
        }
        totals
    }

    /// Meter events received, repeats included.
    pub fn meter_calls(&self) -> u64 {
        self.state().meter_calls
    }

    /// The subscriptions ended through [`BillingProvider::cancel_subscription`].
    pub fn cancelled(&self) -> Vec<String> {
        self.state().cancelled.clone()
    }
}

#[async_trait]
impl BillingProvider for InMemoryProvider {
    async fn create_customer(&self, org_id: &str, _org_name: &str) -> Result<String> {
        let mut state = self.state();
        if let Some(existing) = state.customers.get(org_id) {
            return Ok(existing.clone());
        }
        let id = state.id("cus");
        state.customers.insert(org_id.to_owned(), id.clone());
        Ok(id)
    }

    async fn checkout(&self, request: &CheckoutRequest) -> Result<String> {
        let mut state = self.state();
        let id = state.id("cs");
        state.checkouts.insert(id.clone(), request.clone());
        Ok(format!("{}/checkout/{id}", self.page_base))
    }

    async fn portal(&self, customer: &str, _return_url: &str) -> Result<String> {
        let id = self.state().id("bps");
        Ok(format!("{}/portal/{customer}/{id}", self.page_base))
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>> {
        Ok(self.state().subscriptions.get(id).cloned())
    }

    async fn cancel_subscription(&self, id: &str) -> Result<()> {
        let mut state = self.state();
        if let Some(subscription) = state.subscriptions.get_mut(id) {
            subscription.status = BillingStatus::Canceled;
        }
        state.cancelled.push(id.to_owned());
        Ok(())
    }

    async fn set_item_quantity(&self, item: &str, quantity: u64) -> Result<()> {
        self.update_item(item, quantity, chrono::Utc::now().timestamp()).map(drop)
    }

    async fn send_meter_event(&self, event: &MeterEvent) -> Result<()> {
        let mut state = self.state();
        state.meter_calls += 1;
        state.meter_events.entry(event.identifier.clone()).or_insert_with(|| event.clone());
        Ok(())
    }
}
