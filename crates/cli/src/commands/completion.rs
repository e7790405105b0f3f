//! `strata completion <shell>`

use clap::CommandFactory;

use crate::cli::Cli;
use crate::failure::Failure;

/// Writes the completion script for `shell` to stdout.
pub fn run(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "strata", &mut std::io::stdout());
    Ok(())
}
