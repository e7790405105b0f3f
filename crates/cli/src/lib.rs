//! The `strata` command line, as a library so tests can drive it.

mod cli;
mod commands;
mod config;
mod context;
mod failure;
mod fileref;
mod loopback;
mod output;
mod session;

pub use cli::Cli;
pub use failure::Failure;

use cli::Command;

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Dev(args) => commands::dev::run(args).await,
        Command::Serve(args) => commands::dev::serve(args).await,
        Command::Deploy(cli::DeployCommand::Render(args)) => commands::deploy::render(&cli.global, &args),
        Command::Version => commands::version::run(&cli.global).await,
        Command::Status => commands::status::run(&cli.global).await,
        Command::Completion { shell } => commands::completion::run(shell),
        Command::Repo(command) => commands::pfs::repo(&cli.global, command).await,
        Command::Branch(command) => commands::pfs::branch(&cli.global, command).await,
        Command::Commit(command) => commands::pfs::commit(&cli.global, command).await,
        Command::Put { what: cli::PutCommand::File(args) } => commands::pfs::put_file(&cli.global, args).await,
        Command::Get { what } => commands::pfs::get(&cli.global, what).await,
        Command::List { what } => commands::pfs::list(&cli.global, what).await,
        Command::Glob { what } => commands::pfs::glob(&cli.global, what).await,
        Command::Diff { what } => commands::pfs::diff(&cli.global, what).await,
        Command::Inspect { what } => commands::pfs::inspect(&cli.global, what).await,
        Command::Delete { what } => commands::pfs::delete(&cli.global, what).await,
        Command::Copy { what } => commands::pfs::copy(&cli.global, what).await,
        Command::File(command) => commands::pfs::file(&cli.global, command).await,
        Command::Fsck => commands::pfs::fsck(&cli.global).await,
        Command::Gc { grace_secs } => commands::pfs::gc(&cli.global, grace_secs).await,
        Command::Pipeline(command) => commands::pps::pipeline(&cli.global, command).await,
        Command::Job(command) => commands::pps::job(&cli.global, command).await,
        Command::Secret(command) => commands::secrets::secret(&cli.global, command).await,
        Command::Datum(command) => commands::pps::datum(&cli.global, command).await,
        Command::Logs(args) => commands::pps::logs(&cli.global, args).await,
        Command::Worker(args) => commands::worker::run(&cli.global, args).await,
        Command::Auth(command) => commands::hub::auth(&cli.global, command).await,
        Command::Org(command) => commands::hub::org(&cli.global, command).await,
        Command::Team(command) => commands::team::team(&cli.global, command).await,
        Command::Workspace(command) => commands::hub::workspace(&cli.global, command).await,
        Command::Token(command) => commands::hub::token(&cli.global, command).await,
        Command::Autoscale(cli::AutoscaleCommand::Simulate { trace, svg, nodes }) => {
            commands::autoscale::simulate(&cli.global, &trace, svg.as_deref(), nodes)
        }
        Command::Provisioner(cli::ProvisionerCommand::Run { backend, server }) => {
            commands::provisioner::run(backend, &server).await
        }
        Command::WorkspaceServer { config_file } => {
            commands::provisioner::workspace_server(config_file.as_deref()).await
        }
        Command::Install { dest } => commands::provisioner::install(&dest),
    }
}
