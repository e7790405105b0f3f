//! `strata`: the command-line interface. Parses arguments and hands over to
//! [`strata_cli`]; exit codes are 0 (ok), 1 (user error), 2 (server or
//! internal error).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The sandbox helper must start before any thread exists: it unshares
    // its mount namespace, which a multi-threaded process cannot.
    if std::env::args_os().nth(1).is_some_and(|arg| arg == "__sandbox") {
        return ExitCode::from(u8::try_from(strata_sandbox::helper_main()).unwrap_or(1));
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            let error = anyhow::Error::new(error).context("cannot start the async runtime");
            return strata_cli::Failure::Internal(error).report();
        }
    };
    runtime.block_on(async {
        let cli = strata_cli::Cli::parse();
        match strata_cli::run(cli).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => failure.report(),
        }
    })
}
