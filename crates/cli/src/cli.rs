//! Command-line arguments.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

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

    /// Run the api server (gateway, GraphQL, console) of an installation.
    ///
    /// What a cluster runs (`strata deploy render`): unlike `strata dev` it
    /// writes no CLI context and makes no keys or tokens; configuration
    /// comes from the file, `STRATA_*` variables and the flags.
    #[command(
        after_help = "Example:\n  STRATA_DATABASE_URL=postgres://strata@db/strata STRATA_PROVISIONER=off \\\n    \
        STRATA_MASTER_KEY=... strata serve --listen 0.0.0.0:8080"
    )]
    Serve(ServeArgs),

    /// Deploy Strata to Kubernetes: print the hub's manifests.
    #[command(subcommand)]
    Deploy(DeployCommand),

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

    /// Pipelines: create, update, list, inspect, delete, stop, start.
    #[command(subcommand)]
    Pipeline(PipelineCommand),

    /// Jobs (one run of a pipeline per output commit): list, inspect, wait, stop.
    #[command(subcommand)]
    Job(JobCommand),

    /// Workspace secrets for pipelines (`transform.secrets`, `image_pull_secrets`): create, list, inspect, delete.
    #[command(subcommand)]
    Secret(SecretCommand),

    /// The datums of a job: list, inspect (with the datum's log).
    #[command(subcommand)]
    Datum(DatumCommand),

    /// Logs of a pipeline, a job or a datum: `strata logs -p PIPELINE [--job JOB] [-f]`.
    Logs(LogsArgs),

    /// Run a worker for one pipeline: pull its datums, run them, upload the output.
    Worker(WorkerArgs),

    /// Accounts: sign up, log in (password, single sign-on, device code) and out, see who you are.
    #[command(subcommand)]
    Auth(AuthCommand),

    /// Organisations: create, list, members, invitations, single sign-on.
    #[command(subcommand)]
    Org(OrgCommand),

    /// Teams: groups of members who share roles on workspaces and repos.
    #[command(subcommand)]
    Team(TeamCommand),

    /// Workspaces: create, list, inspect, delete, and pick the one commands use.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),

    /// API tokens for CI systems and scripts: create, list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),

    /// The worker autoscaler: replay a queue trace through its policy.
    #[command(subcommand)]
    Autoscale(AutoscaleCommand),

    /// The provisioner: runs created workspaces and scales their workers.
    #[command(subcommand)]
    Provisioner(ProvisionerCommand),

    /// One workspace's server, as a provisioner starts it: the local
    /// backend writes its configuration to standard input, the Kubernetes
    /// backend mounts it as a file.
    #[command(name = "__workspace-server", hide = true)]
    WorkspaceServer {
        #[arg(long)]
        config_file: Option<std::path::PathBuf>,
    },

    /// Copies this executable to DEST (the init container of a Kubernetes
    /// worker pod hands it to the user's image this way).
    #[command(name = "__install", hide = true)]
    Install { dest: std::path::PathBuf },

    /// Print a shell completion script, e.g. `strata completion bash > /etc/bash_completion.d/strata`.
    Completion {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Flags of `strata worker`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
    strata worker --pipeline edges\n  \
    strata worker --pipeline edges --isolation scratch --scratch /var/tmp/strata\n\n\
    Run as many as you like, on any machine that reaches the server; each\n\
    runs one datum at a time. The server should run with `workers = 0`\n\
    when separate workers do the work. Ctrl-C stops after the current datum's\n\
    task is handed back.")]
pub struct WorkerArgs {
    /// The pipeline whose datums to run.
    #[arg(short, long, value_name = "PIPELINE")]
    pub pipeline: String,
    /// Datum isolation: `namespace` (user code confined: its workspace's uid,
    /// no capabilities, no network, literal /pfs paths; needs root; without it
    /// every datum fails), `scratch` (unconfined, $PFS only) or `auto`
    /// (namespace where possible, else scratch: for a laptop only).
    #[arg(long, default_value = "auto", value_name = "MODE")]
    pub isolation: String,
    /// What runs the datums: `process` (isolated as --isolation says),
    /// `container` (a container of the pipeline's image, with podman and
    /// runc: literal /pfs, no network, its own user namespace) or `pod` (the
    /// user container beside this worker in a Kubernetes worker pod, reached
    /// through --helper-socket).
    #[arg(long, default_value = "process", value_name = "RUNNER")]
    pub runner: String,
    /// `--runner pod`: the socket the user container's helper listens on.
    #[arg(long, default_value = strata_sandbox::pod::SOCKET, value_name = "FILE")]
    pub helper_socket: PathBuf,
    /// `--runner pod`: the image of the pod's user container; tasks of jobs
    /// that pinned another are handed back for a pod of theirs.
    #[arg(long, value_name = "IMAGE")]
    pub pod_image: Option<String>,
    /// The container engine of `--runner container`.
    #[arg(long, default_value = "podman", value_name = "PROGRAM")]
    pub container_engine: String,
    /// The engine's configuration file (podman's CONTAINERS_CONF), e.g. the
    /// one `scripts/containers.sh` writes.
    #[arg(long, value_name = "FILE")]
    pub containers_conf: Option<PathBuf>,
    /// The statically linked helper containers start with
    /// [default: strata-sandbox-helper beside this executable].
    #[arg(long, value_name = "FILE")]
    pub container_helper: Option<PathBuf>,
    /// Registries (host:port, separated by `,`) pulled from over plain HTTP.
    #[arg(long, value_name = "LIST")]
    pub insecure_registries: Option<String>,
    /// The workspace's stable id, from which the uid of its user code is
    /// derived [default: the workspace's slug].
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// Where the worker keeps inputs and outputs while datums run
    /// [default: the system's temporary directory].
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
    /// The worker's name in the queue; unique per pipeline [default: host-pid].
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Run nothing: fail every datum with this reason. Set by a provisioner
    /// whose workspaces may not run code the way this machine could.
    #[arg(long, hide = true, value_name = "REASON")]
    pub refuse: Option<String>,
    /// Exit when standard input closes: set by the provisioner that starts
    /// the worker, so workers never outlive it.
    #[arg(long, hide = true)]
    pub supervised: bool,
}

/// Flags of `strata dev`. Each also reads `STRATA_<NAME>` and the config file.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Address to serve on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    #[command(flatten)]
    pub server: ServerArgs,

    /// Do not create or update the `dev` CLI context.
    #[arg(long)]
    pub no_context: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to serve on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Print the hub's Kubernetes objects as YAML (`-o json`: a JSON list):
    /// namespace, PriorityClasses, the api (Deployment, Service, HPA, PDB,
    /// Ingress), the provisioner with its RBAC, and a metrics Service for a
    /// ServiceMonitor. Apply with `kubectl apply --server-side -f -`.
    #[command(after_help = "Example:\n  strata deploy render --image registry.example.com/strata:1.2.3 \\\n    \
        --host strata.example.com --ingress-class alb | kubectl apply --server-side -f -\n\n\
        The pods read their configuration from the Secret named by --config-secret (STRATA_* variables);\n\
        docs/deploy.md shows how to make it from the terraform outputs.")]
    Render(DeployRenderArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DeployRenderArgs {
    /// The Strata image (built by scripts/image.sh, pushed to your registry).
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// The hub's namespace.
    #[arg(long, default_value = "strata")]
    pub namespace: String,
    /// The Secret holding the configuration as STRATA_* variables.
    #[arg(long, default_value = "strata-config", value_name = "NAME")]
    pub config_secret: String,
    /// Public host name of the console and API; adds an Ingress.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// The Ingress class (e.g. `alb`, `nginx`).
    #[arg(long, default_value = "alb", value_name = "CLASS")]
    pub ingress_class: String,
    /// A TLS Secret for the Ingress; leave out when the load balancer holds
    /// the certificate (ALB with ACM).
    #[arg(long, value_name = "NAME")]
    pub tls_secret: Option<String>,
    /// Fewest and most api replicas (the HPA's range).
    #[arg(long, default_value_t = 2)]
    pub api_min_replicas: u32,
    #[arg(long, default_value_t = 10)]
    pub api_max_replicas: u32,
    /// The namespace of the Prometheus allowed to scrape metrics.
    #[arg(long, default_value = "monitoring")]
    pub monitoring_namespace: String,
}

/// Where a server process keeps its data and how it logs; shared by
/// `strata dev` and `strata provisioner run`. Each flag is named after the
/// configuration key it sets, and serializes as that key when given.
#[derive(Debug, Clone, Args, serde::Serialize)]
pub struct ServerArgs {
    /// Directory for the database, objects and logs [default: ./.strata].
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// A TOML configuration file (keys as in docs/configuration.md).
    #[serde(skip)]
    #[arg(long, env = "STRATA_CONFIG_FILE", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Metadata database: sqlite://PATH or postgres://USER@HOST/DB.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Object store: file://DIR, memory://, s3://BUCKET/PREFIX, gs://..., az://....
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, value_name = "URL")]
    pub object_store_url: Option<String>,

    /// Redis for queues and rate limits (default: in-process).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    /// Log format: pretty or json.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Log filter, e.g. `info` or `strata_api=debug,info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ProvisionerCommand {
    /// Run the provisioner as its own process against the control-plane
    /// database (with `provisioner = "off"` on the servers). Replicas
    /// share the work through a lease: one is active, the others wait.
    #[command(
        after_help = "Examples:\n  strata provisioner run --backend local --database-url postgres://strata@127.0.0.1/strata\n  \
            STRATA_KUBERNETES_EGRESS='10.0.0.0/16:5432,6379;0.0.0.0/0:443' \\\n    \
            strata provisioner run --backend kubernetes --database-url postgres://strata@db/strata --object-store-url s3://bucket\n\n\
            The Kubernetes backend uses the in-cluster service account, or KUBECONFIG outside a cluster;\n\
            see docs/provisioning.md for the objects it creates and the RBAC it needs."
    )]
    Run {
        /// Where workspaces run: `local` (child processes of this one) or
        /// `kubernetes` (a namespace each, in the cluster it runs in).
        #[arg(long, value_enum, default_value_t = ProvisionerBackend::Local)]
        backend: ProvisionerBackend,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// The provisioner backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProvisionerBackend {
    Local,
    Kubernetes,
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

/// `PIPELINE@JOB`, as the job commands take it.
const JOB_REF_HELP: &str = "PIPELINE@JOB, where JOB is a job id (the first 12 characters are enough) or `latest`";

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Create a secret (values are write-only: nothing shows them again).
    ///
    /// Pipelines use it by name: `transform.secrets` sets a key as a
    /// variable (`key` + `env_var`) or mounts every key as a file
    /// (`mount_path`); `image_pull_secrets` reads registry credentials from
    /// the key `.dockerconfigjson`.
    #[command(after_help = "Examples:\n  \
        strata secret create db --from-literal password=\"$DB_PASSWORD\"\n  \
        strata secret create tls --from-file tls.crt=server.crt --from-file tls.key=server.key\n  \
        strata secret create regcred --from-file .dockerconfigjson=$HOME/.docker/config.json")]
    Create {
        /// Lower-case letters, digits and `-`.
        name: String,
        /// A key and its value; repeat for more keys.
        #[arg(long, value_name = "KEY=VALUE")]
        from_literal: Vec<String>,
        /// A key and a file whose text is its value; repeat for more keys.
        #[arg(long, value_name = "KEY=PATH")]
        from_file: Vec<String>,
        /// Replace the values of an existing secret.
        #[arg(long)]
        overwrite: bool,
    },
    /// List the secrets with their key names.
    #[command(after_help = "Example:\n  strata secret list -o json")]
    List,
    /// Show a secret's key names and times (never its values).
    Inspect { name: String },
    /// Delete a secret; pipelines that name it fail their next job until it exists again.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Create the pipelines of a spec file (JSON or YAML, one or more specs).
    ///
    /// The server checks the spec and names the field at fault. A pipeline
    /// that already exists is refused: use `strata pipeline update`.
    #[command(after_help = "Examples:\n  \
        strata pipeline create -f edges.yaml\n  \
        cat edges.json | strata pipeline create -f -")]
    Create {
        /// The spec file; `-` reads stdin.
        #[arg(short, long, value_name = "FILE")]
        file: String,
    },
    /// Replace existing pipelines with the specs of a file (new pipelines are created).
    ///
    /// Datums already processed with the same inputs are skipped while the
    /// transform stays the same; a changed transform (it changes the
    /// pipeline's salt) runs every datum again, and so does --reprocess.
    #[command(after_help = "Examples:\n  \
        strata pipeline update -f edges.yaml\n  \
        strata pipeline update -f edges.yaml --reprocess")]
    Update {
        /// The spec file; `-` reads stdin.
        #[arg(short, long, value_name = "FILE")]
        file: String,
        /// Run every datum again instead of skipping those already processed.
        #[arg(long)]
        reprocess: bool,
    },
    /// List pipelines with their state and last job.
    #[command(after_help = "Example:\n  strata pipeline list -o json")]
    List,
    /// Show a pipeline and its effective spec (defaults filled in).
    #[command(after_help = "Example:\n  strata pipeline inspect edges")]
    Inspect { pipeline: String },
    /// Delete a pipeline.
    #[command(after_help = "Example:\n  strata pipeline delete edges")]
    Delete { pipeline: String },
    /// Pause a pipeline: new input commits start no job until `strata pipeline start`.
    #[command(after_help = "Example:\n  strata pipeline stop edges")]
    Stop { pipeline: String },
    /// Resume a paused pipeline.
    #[command(after_help = "Example:\n  strata pipeline start edges")]
    Start { pipeline: String },
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// List jobs, newest first, of one pipeline or of all.
    ///
    /// PROGRESS reads processed+skipped/total datums.
    #[command(after_help = "Examples:\n  \
        strata job list\n  \
        strata job list -p edges --limit 5")]
    List {
        /// Only the jobs of this pipeline.
        #[arg(short, long, value_name = "PIPELINE")]
        pipeline: Option<String>,
        /// At most this many jobs.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Show a job: state, datum counts, time and bytes spent, failed datums with the end of their logs.
    #[command(after_help = "Examples:\n  \
        strata job inspect edges@latest\n  \
        strata job inspect edges@1f2e3d4c5b6a -o json")]
    Inspect {
        #[arg(value_name = "PIPELINE@JOB", help = JOB_REF_HELP)]
        job: String,
    },
    /// Wait until a job is done, print it as `job inspect` does, and exit 1 unless it succeeded.
    ///
    /// A job that ends FAILURE, KILLED or UNRUNNABLE makes the command fail
    /// with its reason on stderr, so scripts can chain on it. Running out
    /// of time also exits 1 and prints nothing on stdout.
    #[command(after_help = "Examples:\n  \
        strata job wait edges@1f2e3d4c5b6a\n  \
        strata job wait -p edges            # the job of the newest output commit\n  \
        strata job wait -p edges --timeout 60 -o json")]
    #[command(group = ArgGroup::new("which").required(true).args(["job", "pipeline"]))]
    Wait {
        #[arg(value_name = "PIPELINE@JOB", help = JOB_REF_HELP)]
        job: Option<String>,
        /// Wait for the latest job of this pipeline (same as PIPELINE@latest).
        #[arg(short, long, value_name = "PIPELINE")]
        pipeline: Option<String>,
        /// Give up after this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 3600, alias = "timeout-secs")]
        timeout: u64,
    },
    /// Stop a job that has not finished; it ends KILLED.
    #[command(after_help = "Example:\n  strata job stop edges@1f2e3d4c5b6a")]
    Stop {
        #[arg(value_name = "PIPELINE@JOB", help = JOB_REF_HELP)]
        job: String,
    },
}

/// What a datum may have become, for `--state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatumStateArg {
    /// Not done yet.
    Pending,
    /// Ran and succeeded in this job.
    Processed,
    /// Succeeded in an earlier job with the same inputs; its outputs were reused.
    Skipped,
    /// Failed every attempt.
    Failed,
    /// Failed, then the error handler (err_cmd) succeeded.
    Recovered,
}

#[derive(Debug, Subcommand)]
pub enum DatumCommand {
    /// List the datums of a job with their state, attempts and inputs.
    #[command(after_help = "Examples:\n  \
        strata datum list edges@latest\n  \
        strata datum list edges@1f2e3d4c5b6a --state failed")]
    List {
        #[arg(value_name = "PIPELINE@JOB", help = JOB_REF_HELP)]
        job: String,
        /// Only datums in this state.
        #[arg(long, value_enum)]
        state: Option<DatumStateArg>,
    },
    /// Show one datum: inputs, outputs, timings and its log.
    ///
    /// Name the datum as a second argument or after a slash; its id may be
    /// shortened to the 12 characters `datum list` shows.
    #[command(after_help = "Examples:\n  \
        strata datum inspect edges@1f2e3d4c5b6a 9a8b7c6d5e4f\n  \
        strata datum inspect edges@latest/9a8b7c6d5e4f")]
    Inspect {
        /// PIPELINE@JOB, or PIPELINE@JOB/DATUM.
        #[arg(value_name = "PIPELINE@JOB")]
        job: String,
        /// The datum id, unless given after a slash in PIPELINE@JOB/DATUM.
        datum: Option<String>,
    },
}

/// Flags of `strata logs`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
    strata logs -p edges\n  \
    strata logs -p edges --job latest -f\n  \
    strata logs -p edges --job 1f2e3d4c5b6a --datum 9a8b7c6d5e4f\n\n\
    With -o json: one JSON array, or with -f one JSON object per line.")]
pub struct LogsArgs {
    /// The pipeline whose logs to print.
    #[arg(short, long, value_name = "PIPELINE")]
    pub pipeline: String,
    /// Only this job's lines: a job id (or its first 12 characters) or `latest`.
    #[arg(long, value_name = "JOB")]
    pub job: Option<String>,
    /// Only this datum's lines.
    #[arg(long, value_name = "DATUM")]
    pub datum: Option<String>,
    /// Keep printing new lines (polling twice a second) until the job is
    /// done, or until Ctrl-C when no job is given.
    #[arg(short, long)]
    pub follow: bool,
}

/// How a command gets a password: never from a flag (it would end up in
/// shell history and `ps`).
#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of stdin (else `STRATA_PASSWORD`,
    /// else a prompt).
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Create an account; a confirmation link is emailed (in `strata dev`,
    /// written to the data directory's outbox).
    Signup {
        #[arg(long)]
        email: String,
        /// Your name as others see it.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Confirm your email with the token from the link.
    Verify { token: String },
    /// Log in with a password, your organisation's identity provider
    /// (--sso) or a code approved in a browser elsewhere (--device); the
    /// session is stored in the current CLI context.
    Login(LoginArgs),
    /// End the session and forget its tokens.
    Logout,
    /// Show who the current credentials belong to.
    Whoami,
}

/// Flags of `strata auth login`.
#[derive(Debug, Clone, Args)]
#[command(group = ArgGroup::new("browser").args(["sso", "device"]).multiple(true))]
#[command(after_help = "Examples:\n  \
    strata auth login --email ada@example.com          # with a password\n  \
    strata auth login --sso --org acme                 # acme's identity provider, in a browser\n  \
    strata auth login --sso --email ada@acme.example   # the same, found by your email's domain\n  \
    strata auth login --device                         # no browser here: approve on another device\n\n\
    --sso opens a browser (the program in $BROWSER if set) and always prints the URL too;\n\
    the browser comes back to a one-off listener on 127.0.0.1.")]
pub struct LoginArgs {
    /// Your account's email; with --sso, it finds the organisation whose
    /// identity provider to use (by its verified domain).
    #[arg(long, value_name = "ADDR", required_unless_present_any = ["sso", "device"])]
    pub email: Option<String>,
    /// Log in through your organisation's identity provider (single
    /// sign-on) in a browser; needs --org or --email.
    #[arg(long, conflicts_with = "password_stdin")]
    pub sso: bool,
    /// With --sso: the organisation whose identity provider to use.
    #[arg(long, value_name = "SLUG", requires = "sso", conflicts_with = "email")]
    pub org: Option<String>,
    /// For a machine without a browser (SSH, containers): print a code to
    /// approve in a browser where you are logged in, on any device, and
    /// wait for the approval (RFC 8628 device flow).
    #[arg(long, conflicts_with_all = ["password_stdin", "email", "org"])]
    pub device: bool,
    /// How long to wait for the browser, in seconds [default: 300 with
    /// --sso; until the code expires with --device].
    #[arg(long, value_name = "SECS", requires = "browser")]
    pub timeout: Option<u64>,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation you own, and make it the context's default.
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Organisations you belong to, with your role.
    List,
    /// Members of an organisation.
    Members {
        /// Default: the context's organisation.
        #[arg(long)]
        org: Option<String>,
    },
    /// Invite someone by email (they accept with `strata org accept TOKEN`).
    Invite {
        email: String,
        /// owner, admin or member.
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Accept an invitation with the token from its link.
    Accept { token: String },
    /// Delete an organisation you own, once its workspaces are deleted. Its
    /// subscription is cancelled first; its audit log is kept.
    Delete {
        slug: String,
        /// The slug again, to confirm.
        #[arg(long)]
        confirm: String,
    },
    /// Single sign-on: the identity provider, required SSO, domains, group
    /// mappings and the SCIM token; for owners and admins.
    #[command(subcommand)]
    Sso(SsoCommand),
}

/// On or off, for switches such as `strata org sso require`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// An organisation role an identity provider group may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrgRoleArg {
    Member,
    Admin,
}

impl OrgRoleArg {
    /// The GraphQL enum value.
    pub fn graphql(self) -> &'static str {
        match self {
            OrgRoleArg::Member => "MEMBER",
            OrgRoleArg::Admin => "ADMIN",
        }
    }
}

/// A role on a workspace or repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkspaceRoleArg {
    /// Read data and pipelines.
    Reader,
    /// Also write data and change pipelines.
    Writer,
    /// Also manage roles, secrets and the workspace itself.
    Admin,
}

impl WorkspaceRoleArg {
    /// The GraphQL enum value.
    pub fn graphql(self) -> &'static str {
        match self {
            WorkspaceRoleArg::Reader => "READER",
            WorkspaceRoleArg::Writer => "WRITER",
            WorkspaceRoleArg::Admin => "ADMIN",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SsoCommand {
    /// Show the connection, whether SSO is required, domains and group mappings.
    #[command(after_help = "Example:\n  strata org sso show -o json")]
    Show {
        #[arg(long)]
        org: Option<String>,
    },
    /// Connect the organisation to an OpenID Connect identity provider, or change the connection.
    ///
    /// Register the redirect URI it prints as the callback at the provider.
    /// The client secret is read from stdin or a file, never from a flag
    /// (it would land in shell history); leave both out to keep the stored
    /// one. Flags left out keep their stored values.
    #[command(after_help = "Examples:\n  \
        strata org sso configure --issuer https://acme.okta.com --client-id 0oa1b2c3 --client-secret-stdin < secret.txt\n  \
        strata org sso configure --client-secret-file new-secret.txt      # rotate the secret\n  \
        strata org sso configure --groups-claim roles --scopes 'email profile roles'")]
    Configure(SsoConfigureArgs),
    /// Check the connection: fetch the provider's discovery document and signing keys.
    Test {
        #[arg(long)]
        org: Option<String>,
    },
    /// Disconnect the identity provider (this also turns "SSO required" off).
    Remove {
        #[arg(long)]
        org: Option<String>,
    },
    /// Require members to log in through the identity provider, or stop requiring it.
    ///
    /// Owners keep password access (so an outage of the provider cannot lock
    /// the organisation out); API tokens keep working.
    #[command(after_help = "Example:\n  strata org sso require on")]
    Require {
        #[arg(value_enum)]
        state: Switch,
        #[arg(long)]
        org: Option<String>,
    },
    /// Domains: claim one, prove it with a DNS TXT record, remove it.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Map an identity provider group to a team and/or an org role.
    ///
    /// The group's members get them when they next log in with SSO. This
    /// replaces the group's earlier mapping.
    #[command(group = ArgGroup::new("grants").required(true).multiple(true).args(["team", "role"]))]
    #[command(after_help = "Examples:\n  \
        strata org sso map engineering --team eng\n  \
        strata org sso map strata-admins --role admin")]
    Map {
        /// The group's name as the provider sends it in the groups claim.
        group: String,
        /// The team its members join.
        #[arg(long, value_name = "SLUG")]
        team: Option<String>,
        /// The organisation role its members hold.
        #[arg(long, value_enum)]
        role: Option<OrgRoleArg>,
        #[arg(long)]
        org: Option<String>,
    },
    /// Remove a group's mapping; members keep what it gave them until their next SSO login.
    Unmap {
        group: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Issue the token the identity provider's SCIM client uses, replacing
    /// the previous one; printed once, with the SCIM base URL.
    ScimToken {
        #[arg(long)]
        org: Option<String>,
    },
}

/// Flags of `strata org sso configure`.
#[derive(Debug, Clone, Args)]
#[command(group = ArgGroup::new("secret").args(["client_secret_stdin", "client_secret_file"]))]
pub struct SsoConfigureArgs {
    /// The provider's issuer URL (its discovery document is at
    /// <URL>/.well-known/openid-configuration).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// The client (application) id the provider issued.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Read the client secret from the first line of stdin.
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// Read the client secret from this file.
    #[arg(long, value_name = "PATH")]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes to ask for besides `openid`, separated by spaces or commas
    /// [default: email profile groups].
    #[arg(long, value_name = "SCOPES")]
    pub scopes: Option<String>,
    /// The ID token claim with the person's email [default: email].
    #[arg(long, value_name = "CLAIM")]
    pub email_claim: Option<String>,
    /// The claim with their name [default: name].
    #[arg(long, value_name = "CLAIM")]
    pub name_claim: Option<String>,
    /// The claim with their groups [default: groups].
    #[arg(long, value_name = "CLAIM")]
    pub groups_claim: Option<String>,
    #[arg(long)]
    pub org: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Claim a domain; prints the DNS TXT record that proves it is yours.
    ///
    /// Once it is verified, people with an email at the domain find the
    /// organisation's identity provider by their email, and accounts of
    /// such emails can be linked to it.
    #[command(after_help = "Example:\n  strata org sso domain add acme.example")]
    Add {
        /// E.g. `acme.example`.
        domain: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Look the TXT record up and mark the domain verified when it is there.
    Verify {
        /// E.g. `acme.example`.
        domain: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Give a domain up.
    Remove {
        /// E.g. `acme.example`.
        domain: String,
        #[arg(long)]
        org: Option<String>,
    },
}

/// The team commands. A workspace is named with the global `--workspace`
/// (else the context's), which is why grant and revoke have no flag of their own.
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team: members of the organisation who share roles on workspaces and repos.
    #[command(after_help = "Example:\n  strata team create data-eng --name \"Data engineering\"")]
    Create {
        /// Lower-case letters, digits and `-`.
        slug: String,
        /// Its name as people see it [default: the slug].
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        org: Option<String>,
    },
    /// Teams of the organisation with their member counts.
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Members of a team and how they joined (by hand, an IdP group or SCIM).
    Members {
        /// The team's slug.
        team: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Add a member of the organisation to a team, by email.
    #[command(after_help = "Example:\n  strata team add data-eng ada@example.com")]
    Add {
        /// The team's slug.
        team: String,
        /// Their email, as `strata org members` lists it.
        email: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Remove someone from a team, by email.
    Remove {
        /// The team's slug.
        team: String,
        /// Their email, as `strata org members` lists it.
        email: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Delete a team; the roles it held go with it.
    Delete {
        /// The team's slug.
        team: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Give a team a role on a workspace (--workspace, else the context's)
    /// or on one repo of it; replaces the team's earlier role there.
    #[command(after_help = "Examples:\n  \
        strata team grant data-eng --workspace research --role writer\n  \
        strata team grant auditors --workspace research --repo invoices --role reader")]
    Grant {
        /// The team's slug.
        team: String,
        /// Only this repo of the workspace.
        #[arg(long)]
        repo: Option<String>,
        #[arg(long, value_enum)]
        role: WorkspaceRoleArg,
        #[arg(long)]
        org: Option<String>,
    },
    /// Take a team's role on a workspace (--workspace, else the context's) or on one repo of it away.
    #[command(after_help = "Example:\n  strata team revoke data-eng --workspace research")]
    Revoke {
        /// The team's slug.
        team: String,
        /// The repo the role was granted on.
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Ask for a new workspace (it starts PENDING; the provisioner makes it READY).
    Create {
        slug: String,
        #[arg(long)]
        org: Option<String>,
        /// free, team or enterprise.
        #[arg(long)]
        plan: Option<String>,
        /// local, eu-west or us-east.
        #[arg(long)]
        region: Option<String>,
        /// Retries with the same key return the first workspace (for CI).
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Wait until it is READY (exit 0) or FAILED (exit 1).
        #[arg(long)]
        wait: bool,
        /// How long --wait waits, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Workspaces of an organisation with their state.
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// One workspace: state, endpoint, generations, your role.
    Inspect {
        slug: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Move a workspace to another plan (free, team, enterprise). A smaller
    /// plan deletes nothing; `strata workspace inspect` shows when usage is
    /// above it.
    SetPlan {
        slug: String,
        plan: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Delete a workspace and, after a grace period, its data.
    Delete {
        slug: String,
        /// The slug again, to confirm.
        #[arg(long)]
        confirm: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Make ORG/SLUG (or SLUG in the context's organisation) the default of
    /// data and pipeline commands.
    Use { workspace: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token; its secret is printed once.
    Create {
        name: String,
        /// reader, writer or admin.
        #[arg(long, default_value = "reader")]
        role: String,
        /// Limit it to one workspace.
        #[arg(long = "only-workspace", value_name = "SLUG")]
        only_workspace: Option<String>,
        /// Days until it expires (1–366); default: never.
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[arg(long)]
        org: Option<String>,
    },
    /// Your tokens in the organisation (admins see everyone's).
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke a token at once, by id.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum AutoscaleCommand {
    /// Replay a queue trace (jobs, their datums and durations) through the
    /// autoscaling policy and two baselines (fixed workers, KEDA-like
    /// 30 s polling); print worker-seconds, makespan and p95 job latency.
    Simulate {
        /// The trace, JSON (see examples/autoscale/).
        #[arg(long, value_name = "FILE")]
        trace: PathBuf,
        /// Also draw queue depth and workers over time to this SVG file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Compare node policies instead (the trace's `nodes` section):
        /// node-hours, cost and p95 job latency for a pool fixed at the
        /// peak, no buffer, a fixed buffer and the queue-driven buffer.
        #[arg(long, conflicts_with = "svg")]
        nodes: bool,
    },
}
