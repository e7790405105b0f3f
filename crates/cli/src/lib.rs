//! The `strata` command line, as a library so tests can drive it.

mod cli;
mod commands;
mod context;
mod failure;
mod output;

pub use cli::Cli;
pub use failure::Failure;

use cli::Command;

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Dev(args) => commands::dev::run(args).await,
        Command::Version => commands::version::run(&cli.global).await,
        Command::Status => commands::status::run(&cli.global).await,
        Command::Completion { shell } => commands::completion::run(shell),
    }
}
