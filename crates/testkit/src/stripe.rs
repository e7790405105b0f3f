//! A local Stripe for tests and the browser walk: the API calls billing
//! makes, answered in Stripe's shapes by the in-memory provider's state,
//! a Checkout page whose "Pay" button sends the signed webhooks to the
//! server and returns the browser to the success URL, and test controls
//! (a failed or paid invoice, meter totals).
//!
//! - `POST /v1/customers`, `/v1/checkout/sessions`, `/v1/billing_portal/sessions`,
//!   `/v1/billing/meter_events`; `GET` and `DELETE /v1/subscriptions/{id}`
//! - `GET /checkout/{id}` (the page), `POST /checkout/{id}/pay`
//! - `POST /_test/subscriptions/{id}/{status}` (e.g. `past_due`, `active`)
//! - `GET /_test/meter_totals`
//! - `POST /_test/webhook_target` (the server's base URL as the body)

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use strata_billing::memory::{Delivery, InMemoryProvider, session_id};
use strata_billing::{BillingConfig, BillingProvider, CheckoutRequest, MeterEvent, fixtures};
use strata_hub::BillingStatus;

/// The secret key billing is configured with against the double.
pub const SECRET_KEY: &str = "sk_test_strata_double";
/// The double's webhook signing secret.
pub const WEBHOOK_SECRET: &str = "whsec_strata_double";
/// The seat prices of the paid plans, as configured.
pub const SEAT_PRICES: &str = "team=price_team_seat,enterprise=price_enterprise_seat";
/// The metered prices every subscription carries.
pub const METERED_PRICES: &str = "price_cpu_seconds,price_memory_gib_seconds";

struct Shared {
    stripe: InMemoryProvider,
    /// Where webhooks go: the server's `/webhooks/stripe`.
    webhook_url: std::sync::Mutex<Option<String>>,
    delivered: AtomicU64,
    http: reqwest::Client,
}

/// A running double; stops when dropped.
pub struct StripeDouble {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl std::fmt::Debug for StripeDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeDouble").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Drop for StripeDouble {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl StripeDouble {
    /// Starts the double on a free loopback port.
    pub fn start() -> std::io::Result<StripeDouble> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            stripe: InMemoryProvider::with_pages(WEBHOOK_SECRET, &address),
            webhook_url: std::sync::Mutex::default(),
            delivered: AtomicU64::new(0),
            http: reqwest::Client::new(),
        });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes))
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(StripeDouble { address, shared, handle })
    }

    /// The billing settings that point a server at this double.
    pub fn billing_config(&self) -> BillingConfig {
        Self::config_for(&self.address)
    }

    /// The billing settings that point a server at a double at `address`
    /// (`http://127.0.0.1:<port>`), e.g. one in another process.
    pub fn config_for(address: &str) -> BillingConfig {
        BillingConfig {
            stripe_secret_key: Some(SECRET_KEY.into()),
            stripe_webhook_secret: Some(WEBHOOK_SECRET.into()),
            stripe_api_base: Some(format!("{}/", address.trim_end_matches('/'))),
            stripe_seat_prices: SEAT_PRICES.to_owned(),
            stripe_metered_prices: METERED_PRICES.to_owned(),
        }
    }

    /// Sends webhooks to `server` (its base URL) from now on.
    pub fn deliver_to(&self, server: &str) {
        self.shared.deliver_to(server);
    }

    /// The provider state behind the double.
    pub fn provider(&self) -> &InMemoryProvider {
        &self.shared.stripe
    }

    /// Webhooks the server acknowledged.
    pub fn delivered(&self) -> u64 {
        self.shared.delivered.load(Ordering::SeqCst)
    }

    /// Changes a subscription's status and delivers Stripe's webhooks for it.
    pub async fn set_status(&self, subscription: &str, status: BillingStatus) -> Result<(), String> {
        let deliveries =
            self.shared.stripe.set_status(subscription, status, now()).map_err(|error| error.to_string())?;
        self.shared.deliver(&deliveries).await
    }
}

impl Shared {
    fn deliver_to(&self, server: &str) {
        let url = format!("{}/webhooks/stripe", server.trim().trim_end_matches('/'));
        *self.webhook_url.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(url);
    }

    fn has_endpoint(&self) -> bool {
        self.webhook_url.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_some()
    }

    async fn deliver(&self, deliveries: &[Delivery]) -> Result<(), String> {
        let url = self.webhook_url.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let Some(url) = url else { return Err("no webhook endpoint: call deliver_to first".to_owned()) };
        for delivery in deliveries {
            let answer = self
                .http
                .post(&url)
                .header("stripe-signature", &delivery.signature)
                .header("content-type", "application/json")
                .body(delivery.body.clone())
                .send()
                .await
                .map_err(|error| format!("POST {url}: {error}"))?;
            let status = answer.status();
            if !status.is_success() {
                let body = answer.text().await.unwrap_or_default();
                return Err(format!("the server answered a webhook {status}: {body}"));
            }
            self.delivered.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

type Form = web::Form<Vec<(String, String)>>;

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn stripe_error(status: u16, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .json(serde_json::json!({ "error": { "type": "invalid_request_error", "message": message } }))
}

fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/v1/customers", web::post().to(create_customer))
        .route("/v1/checkout/sessions", web::post().to(create_checkout))
        .route("/v1/billing_portal/sessions", web::post().to(create_portal))
        .route("/v1/billing/meter_events", web::post().to(meter_event))
        .route("/v1/subscriptions/{id}", web::get().to(subscription))
        .route("/v1/subscriptions/{id}", web::delete().to(cancel))
        .route("/v1/subscription_items/{id}", web::post().to(update_item))
        .route("/checkout/{id}", web::get().to(checkout_page))
        .route("/checkout/{id}/pay", web::post().to(pay))
        .route("/portal/{customer}/{id}", web::get().to(portal_page))
        .route("/_test/subscriptions/{id}/{status}", web::post().to(test_status))
        .route("/_test/meter_totals", web::get().to(meter_totals))
        .route("/_test/webhook_target", web::post().to(webhook_target));
}

async fn create_customer(shared: web::Data<Shared>, form: Form) -> HttpResponse {
    let org = field(&form, "metadata[strata_org]").unwrap_or_default();
    let name = field(&form, "name").unwrap_or_default();
    match shared.stripe.create_customer(org, name).await {
        Ok(id) => HttpResponse::Ok().json(fixtures::customer(&id, org, name, now())),
        Err(error) => stripe_error(400, &error.to_string()),
    }
}

async fn create_checkout(shared: web::Data<Shared>, form: Form) -> HttpResponse {
    let prices: Vec<String> =
        (0..).map_while(|n| field(&form, &format!("line_items[{n}][price]")).map(str::to_owned)).collect();
    let Some((seat_price, metered)) = prices.split_first() else {
        return stripe_error(400, "line_items is required");
    };
    let request = CheckoutRequest {
        org_id: field(&form, "client_reference_id").unwrap_or_default().to_owned(),
        customer: field(&form, "customer").unwrap_or_default().to_owned(),
        plan: field(&form, "subscription_data[metadata][plan]").unwrap_or_default().to_owned(),
        seat_price: seat_price.clone(),
        seats: field(&form, "line_items[0][quantity]").and_then(|q| q.parse().ok()).unwrap_or(1),
        metered_prices: metered.to_vec(),
        success_url: field(&form, "success_url").unwrap_or_default().to_owned(),
        cancel_url: field(&form, "cancel_url").unwrap_or_default().to_owned(),
    };
    let url = match shared.stripe.checkout(&request).await {
        Ok(url) => url,
        Err(error) => return stripe_error(400, &error.to_string()),
    };
    let id = session_id(&url).to_owned();
    HttpResponse::Ok().json(fixtures::checkout_session(&fixtures::CheckoutSessionFixture {
        id: &id,
        customer: &request.customer,
        subscription: None,
        client_reference_id: &request.org_id,
        status: "open",
        url: Some(&url),
        success_url: &request.success_url,
        cancel_url: &request.cancel_url,
        created: now(),
    }))
}

async fn create_portal(shared: web::Data<Shared>, form: Form) -> HttpResponse {
    let customer = field(&form, "customer").unwrap_or_default();
    let return_url = field(&form, "return_url").unwrap_or_default();
    match shared.stripe.portal(customer, return_url).await {
        Ok(url) => {
            let id = session_id(&url).to_owned();
            HttpResponse::Ok().json(fixtures::portal_session(&id, customer, &url, return_url, now()))
        }
        Err(error) => stripe_error(400, &error.to_string()),
    }
}

async fn meter_event(shared: web::Data<Shared>, form: Form) -> HttpResponse {
    let event = MeterEvent {
        event_name: field(&form, "event_name").unwrap_or_default().to_owned(),
        customer: field(&form, "payload[stripe_customer_id]").unwrap_or_default().to_owned(),
        value: field(&form, "payload[value]").and_then(|v| v.parse().ok()).unwrap_or(0),
        identifier: field(&form, "identifier").unwrap_or_default().to_owned(),
        timestamp: field(&form, "timestamp").and_then(|t| t.parse().ok()).unwrap_or_else(now),
    };
    if event.event_name.is_empty() || event.identifier.is_empty() {
        return stripe_error(400, "event_name and identifier are required");
    }
    match shared.stripe.send_meter_event(&event).await {
        Ok(()) => HttpResponse::Ok().json(fixtures::meter_event(
            &event.event_name,
            &event.identifier,
            &event.customer,
            event.value,
            event.timestamp,
            now(),
        )),
        Err(error) => stripe_error(400, &error.to_string()),
    }
}

async fn subscription(shared: web::Data<Shared>, id: web::Path<String>) -> HttpResponse {
    match shared.stripe.subscription_json(&id, now()) {
        Some(found) => HttpResponse::Ok().json(found),
        None => stripe_error(404, &format!("No such subscription: '{id}'")),
    }
}

async fn cancel(shared: web::Data<Shared>, id: web::Path<String>) -> HttpResponse {
    match shared.stripe.cancel_subscription(&id).await {
        Ok(()) => subscription(shared, id).await,
        Err(error) => stripe_error(400, &error.to_string()),
    }
}

/// Stripe answers the update, then sends `customer.subscription.updated`;
/// the double sends it before answering, so a test sees its effect at once.
async fn update_item(shared: web::Data<Shared>, id: web::Path<String>, form: Form) -> HttpResponse {
    let Some(Ok(quantity)) = field(&form, "quantity").map(str::parse::<u64>) else {
        return stripe_error(400, "Invalid integer: quantity");
    };
    let delivery = match shared.stripe.update_item(&id, quantity, now()) {
        Ok(delivery) => delivery,
        Err(error) => return stripe_error(404, &error.to_string()),
    };
    if shared.has_endpoint()
        && let Err(error) = shared.deliver(&[delivery]).await
    {
        return HttpResponse::BadGateway().body(error);
    }
    HttpResponse::Ok().json(serde_json::json!({ "id": *id, "object": "subscription_item", "quantity": quantity }))
}

async fn checkout_page(shared: web::Data<Shared>, id: web::Path<String>) -> HttpResponse {
    let Some(request) = shared.stripe.open_checkout(&id) else {
        return HttpResponse::NotFound().body("This checkout session is not open.");
    };
    let html = format!(
        "<!doctype html><html><head><title>Checkout (Stripe double)</title></head><body>\
         <h1>Subscribe to the {plan} plan</h1><p>{seats} seat(s), plus usage.</p>\
         <form method=\"post\" action=\"/checkout/{id}/pay\"><button type=\"submit\" id=\"pay\">Pay</button></form>\
         <a href=\"{cancel}\">Cancel</a></body></html>",
        plan = request.plan,
        seats = request.seats,
        cancel = request.cancel_url,
    );
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html)
}

async fn pay(shared: web::Data<Shared>, id: web::Path<String>) -> HttpResponse {
    let completed = match shared.stripe.pay_checkout(&id, now()) {
        Ok(completed) => completed,
        Err(error) => return HttpResponse::NotFound().body(error.to_string()),
    };
    if let Err(error) = shared.deliver(&completed.deliveries).await {
        return HttpResponse::BadGateway().body(error);
    }
    HttpResponse::SeeOther().insert_header(("location", completed.success_url)).finish()
}

async fn portal_page(path: web::Path<(String, String)>) -> HttpResponse {
    let (customer, _) = path.into_inner();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!("<!doctype html><title>Billing portal (Stripe double)</title><h1>Customer {customer}</h1>"))
}

async fn test_status(shared: web::Data<Shared>, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, status) = path.into_inner();
    let status = match status.as_str() {
        "past_due" => BillingStatus::PastDue,
        "active" => BillingStatus::Active,
        "unpaid" => BillingStatus::Unpaid,
        "canceled" => BillingStatus::Canceled,
        other => return stripe_error(400, &format!("unknown status `{other}`")),
    };
    let deliveries = match shared.stripe.set_status(&id, status, now()) {
        Ok(deliveries) => deliveries,
        Err(error) => return stripe_error(404, &error.to_string()),
    };
    match shared.deliver(&deliveries).await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "delivered": deliveries.len() })),
        Err(error) => HttpResponse::BadGateway().body(error),
    }
}

async fn meter_totals(shared: web::Data<Shared>) -> HttpResponse {
    let totals: HashMap<String, u64> = shared
        .stripe
        .meter_totals()
        .into_iter()
        .map(|((event, customer), total)| (format!("{event}/{customer}"), total))
        .collect();
    HttpResponse::Ok().json(serde_json::json!({ "totals": totals, "calls": shared.stripe.meter_calls() }))
}

async fn webhook_target(shared: web::Data<Shared>, body: String) -> HttpResponse {
    if !body.trim().starts_with("http") {
        return stripe_error(400, "the body is the server's base URL");
    }
    shared.deliver_to(&body);
    HttpResponse::NoContent().finish()
}
