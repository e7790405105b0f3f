//! The local Stripe double as a process, for the browser walk: prints
//! `stripe double at http://127.0.0.1:<port>` and serves until killed.
//! `POST /_test/webhook_target` (the body: the server's base URL) says
//! where to deliver webhooks.

#![allow(clippy::print_stdout, reason = "the address is the program's output")]

use strata_testkit::stripe::StripeDouble;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let double = StripeDouble::start()?;
    println!("stripe double at {}", double.address);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
