//! The billing section of the configuration (docs/billing.md): Stripe's
//! keys and which of its prices stand for which plan. Without a secret key
//! billing is off: organisations stay on the plan the operator gives them.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use strata_core::config::invalid;
use strata_hub::plans::Catalogue;

/// The keys as written by the user, before validation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingConfig {
    /// Stripe's secret (or restricted) API key; unset: billing is off.
    #[serde(serialize_with = "strata_core::config::serialize_secret")]
    pub stripe_secret_key: Option<SecretString>,
    /// The signing secret of the `/webhooks/stripe` endpoint (`whsec_...`).
    #[serde(serialize_with = "strata_core::config::serialize_secret")]
    pub stripe_webhook_secret: Option<SecretString>,
    /// Where Stripe's API is; default `https://api.stripe.com/` (tests point
    /// it at a local double).
    pub stripe_api_base: Option<String>,
    /// The per-seat price of each paid plan: `PLAN=PRICE_ID` entries
    /// separated by `,`, e.g. `team=price_123,enterprise=price_456`.
    pub stripe_seat_prices: String,
    /// The usage prices every subscription carries (one per meter),
    /// separated by `,`.
    pub stripe_metered_prices: String,
}

/// [`BillingConfig`] validated.
#[derive(Debug, Clone, Default)]
pub struct BillingSettings {
    /// `None`: billing is off.
    pub stripe: Option<StripeSettings>,
}

/// How this installation uses its Stripe account.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: SecretString,
    pub webhook_secret: SecretString,
    pub api_base: Option<String>,
    /// Plan name → its seat price.
    pub seat_prices: BTreeMap<String, String>,
    pub metered_prices: Vec<String>,
}

impl StripeSettings {
    /// The plan a price stands for.
    pub fn plan_of_price(&self, price: &str) -> Option<&str> {
        self.seat_prices.iter().find(|(_, id)| id.as_str() == price).map(|(plan, _)| plan.as_str())
    }
}

impl BillingConfig {
    /// Validates the keys against the plans on offer.
    pub fn resolve(&self, plans: &Catalogue) -> strata_core::Result<BillingSettings> {
        let secret = self.stripe_secret_key.as_ref().filter(|key| !key.expose_secret().trim().is_empty());
        let Some(secret_key) = secret else {
            return Ok(BillingSettings { stripe: None });
        };
        let webhook_secret = self
            .stripe_webhook_secret
            .clone()
            .filter(|key| !key.expose_secret().trim().is_empty())
            .ok_or_else(|| {
                invalid(
                    "stripe_webhook_secret",
                    "is needed with stripe_secret_key: copy the signing secret of the /webhooks/stripe endpoint from Stripe's dashboard",
                )
            })?;
        let seat_prices = parse_seat_prices(&self.stripe_seat_prices, plans)?;
        let metered_prices = self
            .stripe_metered_prices
            .split(',')
            .map(str::trim)
            .filter(|price| !price.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(BillingSettings {
            stripe: Some(StripeSettings {
                secret_key: secret_key.clone(),
                webhook_secret,
                api_base: self.stripe_api_base.clone().filter(|base| !base.trim().is_empty()),
                seat_prices,
                metered_prices,
            }),
        })
    }
}

fn parse_seat_prices(text: &str, plans: &Catalogue) -> strata_core::Result<BTreeMap<String, String>> {
    let mut prices = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        let Some((plan, price)) = entry.split_once('=') else {
            return Err(invalid("stripe_seat_prices", format!("`{entry}` is not PLAN=PRICE_ID")));
        };
        let (plan, price) = (plan.trim(), price.trim());
        if plans.named(plan).is_none() {
            return Err(invalid("stripe_seat_prices", format!("`{entry}`: no plan `{plan}` in the plans file")));
        }
        if price.is_empty() {
            return Err(invalid("stripe_seat_prices", format!("`{entry}`: the price id is empty")));
        }
        prices.insert(plan.to_owned(), price.to_owned());
    }
    if prices.is_empty() {
        return Err(invalid("stripe_seat_prices", "name the price of at least one paid plan, e.g. `team=price_123`"));
    }
    Ok(prices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seat_prices: &str) -> BillingConfig {
        BillingConfig {
            stripe_secret_key: Some("sk_test_1".into()),
            stripe_webhook_secret: Some("whsec_1".into()),
            stripe_seat_prices: seat_prices.to_owned(),
            stripe_metered_prices: "price_cpu, price_mem".to_owned(),
            ..BillingConfig::default()
        }
    }

    #[test]
    fn billing_is_off_without_a_key_and_on_with_both_secrets_and_prices() {
        let plans = Catalogue::built_in();
        assert!(BillingConfig::default().resolve(&plans).unwrap().stripe.is_none());
        let stripe = config("team=price_team").resolve(&plans).unwrap().stripe.unwrap();
        assert_eq!(stripe.plan_of_price("price_team"), Some("team"));
        assert_eq!(stripe.plan_of_price("price_other"), None);
        assert_eq!(stripe.metered_prices, ["price_cpu", "price_mem"]);
    }

    #[test]
    fn a_half_configured_account_is_refused_with_what_is_missing() {
        let plans = Catalogue::built_in();
        let no_webhook = BillingConfig { stripe_webhook_secret: None, ..config("team=price_team") };
        assert!(no_webhook.resolve(&plans).unwrap_err().to_string().contains("stripe_webhook_secret"));
        assert!(config("").resolve(&plans).unwrap_err().to_string().contains("stripe_seat_prices"));
        let unknown = config("gold=price_1").resolve(&plans).unwrap_err().to_string();
        assert!(unknown.contains("no plan `gold`"), "{unknown}");
    }
}
