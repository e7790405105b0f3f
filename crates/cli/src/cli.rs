//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Strata: versioned data and data-driven pipelines.
///
/// Start everything locally with `strata dev`, then use the other commands
/// from another terminal: `strata dev` writes a CLI context they pick up.
#[derive(Debug, Parser)]
#[command(name = "strata", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Output format: human-readable table or JSON for scripts.
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Server to talk to; overrides the endpoint of the current context.
    #[arg(long, global = true, env = "STRATA_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,

    /// CLI context to use instead of the current one.
    #[arg(long, global = true, env = "STRATA_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document for scripts.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every Strata service in this process, with embedded storage.
    ///
    /// Metadata goes to SQLite and file contents to a directory, both under
    /// --data-dir; restarting on the same directory keeps everything. Writes
    /// a CLI context named `dev` so other commands work right away.
    Dev(DevArgs),

    /// Print the version of this CLI and of the server, if reachable.
    Version,

    /// Show whether the server is up and its dependencies are healthy.
    Status,

    /// Print a shell completion script, e.g. `strata completion bash > /etc/bash_completion.d/strata`.
    Completion {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Flags of `strata dev`. Each also reads `STRATA_<NAME>` and the config file.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Address to serve on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Directory for the database, objects and logs [default: ./.strata].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// A TOML configuration file (keys as in docs/configuration.md).
    #[arg(long, env = "STRATA_CONFIG_FILE", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Metadata database: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Object store: file://DIR, memory://, s3://BUCKET/PREFIX, gs://..., az://....
    #[arg(long, value_name = "URL")]
    pub object_store_url: Option<String>,

    /// Redis for queues and rate limits (default: in-process).
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    /// Log format: pretty or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Log filter, e.g. `info` or `strata_api=debug,info`.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Do not create or update the `dev` CLI context.
    #[arg(long)]
    pub no_context: bool,
}
