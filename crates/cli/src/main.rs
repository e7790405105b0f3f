//! `strata`: the command-line interface. Parses arguments and hands over to
//! [`strata_cli`]; exit codes are 0 (ok), 1 (user error), 2 (server or
//! internal error).

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = strata_cli::Cli::parse();
    match strata_cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
