//! Billing (DESIGN.md §7, docs/billing.md): Stripe customers per
//! organisation, Checkout to subscribe and the customer portal to manage
//! payment, verified and idempotent webhooks that set plans, dunning that
//! suspends and resumes workspaces, and usage metering.
//!
//! Its own crate because the Stripe client is slow to build: nothing but
//! the API server waits for it.

pub mod config;
pub mod error;
pub mod fixtures;
pub mod memory;
pub mod metering;
pub mod provider;
mod service;
pub mod stripe;
pub mod webhook;

pub use config::{BillingConfig, BillingSettings, StripeSettings};
pub use error::{BillingError, Result};
pub use provider::{BillingProvider, CheckoutRequest, MeterEvent, Subscription};
pub use service::{Billing, BillingLinks, WebhookOutcome};
