//! `strata status`

use serde::Serialize;
use strata_api_types::Readiness;

use crate::cli::GlobalArgs;
use crate::context::resolve_target;
use crate::failure::{Failure, internal, user};
use crate::output::print_record;

#[derive(Debug, Serialize)]
struct Status {
    endpoint: String,
    context: Option<String>,
    #[serde(flatten)]
    readiness: Readiness,
}

/// Prints readiness and each dependency's check; exits 2 when not ready.
pub async fn run(global: &GlobalArgs) -> Result<(), Failure> {
    let target = resolve_target(global.endpoint.as_deref(), global.context.as_deref()).map_err(user)?;
    let mut client = strata_client::StrataClient::new(&target.endpoint)?;
    if let Some(token) = &target.token {
        client = client.with_token(token.clone());
    }
    let readiness = client.readyz().await?;
    let ready = readiness.status == "ready";
    let mut rows = vec![
        ("endpoint", target.endpoint.clone()),
        ("context", target.context_name.clone().unwrap_or_else(|| "(none)".to_owned())),
        ("server", readiness.version.clone()),
        ("status", readiness.status.clone()),
    ];
    if let Some(runner) = &readiness.runner {
        let detail = match &runner.warning {
            Some(warning) => format!("{} — WARNING: {warning}", runner.runner),
            None => runner.runner.clone(),
        };
        rows.push(("runner", detail));
    }
    for (name, check) in &readiness.checks {
        let detail = match &check.error {
            None => format!("ok ({:.1} ms)", check.latency_ms),
            Some(error) => format!("FAILING: {error}"),
        };
        rows.push((name.as_str(), detail));
    }
    let status = Status {
        endpoint: target.endpoint.clone(),
        context: target.context_name.clone(),
        readiness: readiness.clone(),
    };
    print_record(global.output, &status, &rows).map_err(internal)?;
    if ready { Ok(()) } else { Err(internal(anyhow::anyhow!("the server at {} is not ready", target.endpoint))) }
}
