//! `strata version`

use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::context::resolve_target;
use crate::failure::{Failure, user};
use crate::output::print_record;

#[derive(Debug, Serialize)]
struct Versions {
    client: &'static str,
    /// `None` when the server cannot be reached.
    server: Option<String>,
    endpoint: String,
}

/// Prints the CLI's version and, when it answers, the server's.
pub async fn run(global: &GlobalArgs) -> Result<(), Failure> {
    let target = resolve_target(global.endpoint.as_deref(), global.context.as_deref()).map_err(user)?;
    let client = strata_client::StrataClient::new(&target.endpoint)?;
    let server = client.version().await.ok().map(|v| v.server);
    let versions = Versions { client: strata_core::VERSION, server, endpoint: target.endpoint };
    let rows = [
        ("client", versions.client.to_owned()),
        ("server", versions.server.clone().unwrap_or_else(|| format!("unreachable at {}", versions.endpoint))),
    ];
    print_record(global.output, &versions, &rows).map_err(crate::failure::internal)
}
