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

    /// Workspace for PFS/PPS commands; overrides the context's default.
    #[arg(long, global = true, env = "STRATA_WORKSPACE", value_name = "SLUG")]
    pub workspace: Option<String>,

    /// No progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
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

    /// Repos: create, list, inspect, delete.
    #[command(subcommand)]
    Repo(RepoCommand),

    /// Branches: create, list, inspect, delete.
    #[command(subcommand)]
    Branch(BranchCommand),

    /// Commits: start, finish, list, inspect, wait, squash, drop.
    #[command(subcommand)]
    Commit(CommitCommand),

    /// Write files: `strata put file REPO@BRANCH[:/PATH] -f LOCAL`.
    Put {
        #[command(subcommand)]
        what: PutCommand,
    },

    /// Read files: `strata get file REPO@REF:/PATH [-o OUT] [-r]`.
    Get {
        #[command(subcommand)]
        what: GetCommand,
    },

    /// List a directory: `strata list file REPO@REF[:/DIR]`.
    List {
        #[command(subcommand)]
        what: ListCommand,
    },

    /// Files and directories matching a glob: `strata glob file 'REPO@REF:/PATTERN'`.
    Glob {
        #[command(subcommand)]
        what: GlobCommand,
    },

    /// What changed: `strata diff file REPO@REF[:/PATH] [OLD_REPO@REF[:/PATH]]`.
    Diff {
        #[command(subcommand)]
        what: DiffCommand,
    },

    /// Size and hash of a file or directory: `strata inspect file REPO@REF:/PATH`.
    Inspect {
        #[command(subcommand)]
        what: InspectCommand,
    },

    /// Delete a file or directory: `strata delete file REPO@BRANCH:/PATH`.
    Delete {
        #[command(subcommand)]
        what: DeleteCommand,
    },

    /// Copy by reference (no data copy): `strata copy file SRC_REPO@REF:/PATH DST_REPO@BRANCH:/PATH`.
    Copy {
        #[command(subcommand)]
        what: CopyCommand,
    },

    /// File history: `strata file history REPO@REF:/PATH`.
    #[command(subcommand)]
    File(FileCommand),

    /// Verify every reference and checksum of the workspace's storage; changes nothing.
    Fsck,

    /// Reclaim storage no commit refers to.
    Gc {
        /// Keep objects younger than this many seconds (uploads in flight).
        #[arg(long, default_value_t = 3600)]
        grace_secs: u64,
    },

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

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a repo.
    Create {
        name: String,
        #[arg(short, long, default_value = "")]
        description: String,
    },
    /// List repos with their branches and sizes.
    List,
    /// Show one repo.
    Inspect { name: String },
    /// Delete a repo with its branches and commits.
    Delete {
        name: String,
        /// Delete even when other repos' branches derive from it.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BranchCommand {
    /// Create a branch (at a new empty commit unless --head) or update it.
    Create {
        /// REPO@BRANCH
        branch: String,
        /// Commit to point the branch at, e.g. `master^` or a commit id.
        #[arg(long, value_name = "REF")]
        head: Option<String>,
        /// Branches this one derives from, as REPO@BRANCH (repeatable).
        #[arg(long = "provenance", value_name = "REPO@BRANCH")]
        provenance: Vec<String>,
    },
    /// List the branches of a repo.
    List { repo: String },
    /// Show one branch.
    Inspect {
        /// REPO@BRANCH
        branch: String,
    },
    /// Delete a branch; its commits stay.
    Delete {
        /// REPO@BRANCH
        branch: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CommitCommand {
    /// Start a commit on a branch.
    Start {
        /// REPO@BRANCH
        branch: String,
        #[arg(short, long, default_value = "")]
        description: String,
    },
    /// Finish an open commit.
    Finish {
        /// REPO@REF
        commit: String,
        #[arg(short, long)]
        description: Option<String>,
    },
    /// List the commits of a repo, newest first.
    List {
        repo: String,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Show one commit.
    Inspect {
        /// REPO@REF
        commit: String,
    },
    /// Wait until a commit is finished.
    Wait {
        /// REPO@REF
        commit: String,
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
    },
    /// Remove a commit from history; its children keep their content.
    Squash {
        /// REPO@REF
        commit: String,
    },
    /// Delete a commit that has no children.
    Drop {
        /// REPO@REF
        commit: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PutCommand {
    /// Upload a file, a directory (-r), stdin (-f -) or a tar stream (--untar).
    File(PutFileArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PutFileArgs {
    /// REPO@BRANCH[:/PATH] (or REPO@COMMIT of an open commit).
    pub target: String,
    /// Local file or directory; `-` reads stdin.
    #[arg(short, long, value_name = "LOCAL")]
    pub file: String,
    /// Upload a directory recursively.
    #[arg(short, long)]
    pub recursive: bool,
    /// The input is a tar stream: unpack it into the target directory.
    #[arg(long)]
    pub untar: bool,
    /// Append to existing files instead of overwriting them.
    #[arg(long)]
    pub append: bool,
    /// Parallel upload streams for -r.
    #[arg(short, long, default_value_t = 2)]
    pub parallelism: usize,
}

#[derive(Debug, Subcommand)]
pub enum GetCommand {
    /// Download a file (to stdout or -o) or a directory (-r -o DIR).
    File {
        /// REPO@REF:/PATH
        source: String,
        /// Where to write; a directory with -r.
        #[arg(short = 'O', long = "out", value_name = "PATH")]
        out: Option<std::path::PathBuf>,
        #[arg(short, long)]
        recursive: bool,
        #[arg(long)]
        offset: Option<u64>,
        #[arg(long)]
        length: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// List a directory's files and subdirectories.
    File {
        /// REPO@REF[:/DIR]
        source: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GlobCommand {
    /// Files and directories matching the glob (quote it for the shell).
    File {
        /// REPO@REF:/PATTERN
        pattern: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DiffCommand {
    /// Paths added, removed or modified (against the parent commit by default).
    File {
        /// REPO@REF[:/PATH]
        new: String,
        /// REPO@REF to compare with.
        old: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum InspectCommand {
    /// Size, kind and hash of a file or directory.
    File {
        /// REPO@REF:/PATH
        source: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeleteCommand {
    /// Delete a file, or a directory recursively.
    File {
        /// REPO@BRANCH:/PATH
        target: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CopyCommand {
    /// Copy a file or directory by reference.
    File {
        /// SRC_REPO@REF:/PATH
        source: String,
        /// DST_REPO@BRANCH:/PATH
        target: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// Commits in which a file changed, newest first.
    History {
        /// REPO@REF:/PATH
        source: String,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
}
