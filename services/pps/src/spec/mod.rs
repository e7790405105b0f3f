//! Pipeline specs: parsing and validation of the Pachyderm-compatible subset.
//!
//! [`parse_specs_as`] reads JSON or YAML, as the caller says (the CLI goes by
//! the file's extension); [`parse_specs`] decides from the first character
//! (`{` or `[` is JSON) and never tries the other parser. A file may hold several specs: a JSON array, concatenated JSON objects or a
//! multi-document YAML stream. Field names are accepted in snake_case
//! (`join_on`, Pachyderm before 2.8) and camelCase (`joinOn`, since 2.8);
//! giving both spellings of one field is an error. Unknown fields are errors
//! that suggest the closest known field; fields Pachyderm has but Strata does
//! not support (`egress`, `spout`, `pod_patch`, ...) say so.
//!
//! Every [`SpecError`] names the field path in canonical snake_case
//! (`input.cross[1].pfs.glob`), whatever spelling the file used.
//!
//! Decisions worth knowing:
//! - `project` (on `pipeline`, `pfs` and `cron`) is accepted as a string or as
//!   Pachyderm's `{"name": ...}` object, but only `default` or empty: Strata
//!   has one namespace per workspace. It is dropped from [`PipelineSpec::to_json`].
//! - `null` counts as absent (protojson and an empty YAML value mean "unset"),
//!   and so does `""` for fields with a default (`image`, `branch`, `name`,
//!   `output_branch`, `reprocess_spec`, cron `repo`), as in protojson.
//! - Strings are never coerced: YAML `branch: 2024` or `lazy: yes` is an
//!   error with a hint, not a guess.
//! - Input names follow Pachyderm's `validateNames`: every name is unique in
//!   the whole tree, except that the children of a `union` may share names
//!   (a datum holds only one of them); names inside a union still may not clash
//!   with names outside it. Cron names and cron repos are unique everywhere,
//!   union or not, because each cron owns its repo.
//! - `join` children must be `pfs` inputs with `join_on`; `group` children are
//!   `pfs` inputs with `group_by` or a `join` whose inputs also carry
//!   `group_by` (Pachyderm allows a join inside a group). `join_on`,
//!   `group_by` and `outer_join` anywhere else are errors rather than being
//!   silently ignored.
//! - `join_on`/`group_by` use Go's template rules (`$1`, `${1}`, `$$`) and
//!   must reference at least one capture group; `$1x` is rejected because Go
//!   (and so Pachyderm) reads it as a group named `1x`.
//! - Cron schedules are evaluated in UTC; `@every` needs whole seconds ≥ 1s.
//! - Durations and quantities given as bare numbers are rejected: a number
//!   has no unit, and guessing one is how timeouts end up 1000 times off.

mod build;
mod check;
mod duration;
mod key;
mod limits;
mod node;
mod quantity;
mod schedule;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

pub(crate) use build::check_secret_name;
pub use duration::{format_duration, parse_duration};
pub use key::{KeyTemplate, glob_capture_groups};
pub use limits::{MAX_SPEC_BYTES, MAX_SPEC_DEPTH};
pub use quantity::Quantity;
pub use schedule::CronSchedule;

/// The image a transform runs in when the spec names none (Pachyderm's
/// `DefaultUserImage`).
pub const DEFAULT_IMAGE: &str = "ubuntu:20.04";
/// Attempts per datum when `datum_tries` is not given.
pub const DEFAULT_DATUM_TRIES: u32 = 3;
/// The branch inputs read and the output is written to by default.
pub const DEFAULT_BRANCH: &str = "master";
/// The glob a cron input is read with: one datum per tick file.
pub const CRON_GLOB: &str = "/*";

/// A validated pipeline spec with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    /// The pipeline's name, which is also the name of its output repo.
    pub name: String,
    /// Free text shown in listings.
    pub description: String,
    /// What runs for each datum.
    pub transform: Transform,
    /// Where datums come from.
    pub input: Input,
    /// `parallelism_spec.constant`: the number of workers (the maximum with autoscaling).
    pub parallelism: u32,
    /// Total attempts per datum within one job, at least 1.
    pub datum_tries: u32,
    /// Longest run of one datum attempt; unset means no limit.
    pub datum_timeout: Option<Duration>,
    /// Longest wall-clock run of a job, after which it is killed.
    pub job_timeout: Option<Duration>,
    /// What the scheduler reserves for the user container.
    pub resource_requests: Option<Resources>,
    /// What the user container may use at most.
    pub resource_limits: Option<Resources>,
    /// The branch of the output repo that jobs commit to (default `master`).
    pub output_branch: String,
    /// Scale to zero workers while idle; `parallelism` is then the maximum.
    pub autoscaling: bool,
    /// `reprocess_spec`.
    pub reprocess: Reprocess,
    /// Labels and annotations for the worker pods.
    pub metadata: Metadata,
}

/// What the worker runs for each datum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    /// Container image; [`DEFAULT_IMAGE`] when the spec names none.
    pub image: String,
    /// The argv, run without a shell; never empty.
    pub cmd: Vec<String>,
    /// Lines fed to `cmd`'s standard input.
    pub stdin: Vec<String>,
    /// Extra environment variables for `cmd` and `err_cmd`.
    pub env: BTreeMap<String, String>,
    /// Run when a datum fails; exit 0 marks the datum recovered. Empty = none.
    pub err_cmd: Vec<String>,
    /// Lines fed to `err_cmd`'s standard input; only with `err_cmd`.
    pub err_stdin: Vec<String>,
    /// `user`: the uid `cmd` runs as in its container; `None` is the runner's
    /// default, a non-root uid. Root is refused.
    pub user: Option<u32>,
    /// `working_dir`: where `cmd` starts, an absolute path in the image;
    /// `None` is the image's own working directory.
    pub working_dir: Option<String>,
    /// `accept_return_code`: exit codes besides 0 that count as success.
    pub accept_return_codes: Vec<i32>,
    /// `secrets`: workspace secrets given to `cmd` and `err_cmd`.
    pub secrets: Vec<SecretUse>,
    /// `image_pull_secrets`: workspace secrets holding registry credentials
    /// for pulling `image`.
    pub image_pull_secrets: Vec<String>,
}

/// One entry of `transform.secrets`: a workspace secret (made with
/// `strata secret create`) exposed as an environment variable, as files, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretUse {
    /// The secret's name in the workspace.
    pub name: String,
    /// One key of the secret as one environment variable.
    pub env: Option<SecretEnv>,
    /// Every key of the secret as a file in this directory (an absolute path).
    pub mount_path: Option<String>,
}

/// `key` of a secret, set as the variable `env_var`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEnv {
    pub key: String,
    pub env_var: String,
}

/// The input tree: exactly one kind per node.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Files of one repo branch, one datum per glob match.
    Pfs(PfsInput),
    /// Cartesian product of the children's datums.
    Cross(Vec<Input>),
    /// Concatenation of the children's datums.
    Union(Vec<Input>),
    /// Equi-join of `pfs` children on their `join_on` keys.
    Join(Vec<Input>),
    /// One datum per `group_by` key across all children.
    Group(Vec<Input>),
    /// Ticks of a schedule, as files in a repo of their own.
    Cron(CronInput),
}

/// A glob over a branch of a repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PfsInput {
    /// Directory under `/pfs`; defaults to the repo name.
    pub name: String,
    /// The repo read.
    pub repo: String,
    /// The branch read (default `master`); each new head commit triggers a job.
    pub branch: String,
    /// A pattern accepted by [`strata_pfs::glob::Glob::new`].
    pub glob: String,
    /// Set exactly when the input is a child of a `join`.
    pub join_on: Option<KeyTemplate>,
    /// Set exactly when the input is a child of a `group` (or of a join in a group).
    pub group_by: Option<KeyTemplate>,
    /// Only ever true inside a `join`.
    pub outer_join: bool,
    /// Files appear with size 0 (for pipelines that only symlink them).
    pub empty_files: bool,
    /// Files are streamed when read instead of downloaded first.
    pub lazy: bool,
}

/// A repo that receives one file per schedule tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronInput {
    /// Directory under `/pfs`.
    pub name: String,
    /// Defaults to `<pipeline>_<name>` (Pachyderm's convention).
    pub repo: String,
    pub spec: CronSchedule,
    /// Ticks are counted from here; when unset, from when the pipeline starts.
    pub start: Option<DateTime<Utc>>,
    /// Replace the previous tick file instead of accumulating them.
    pub overwrite: bool,
}

/// Whether datums that succeeded before are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reprocess {
    /// Skip datums whose hash succeeded in an earlier job (`until_success`).
    #[default]
    UntilSuccess,
    /// Process every datum in every job (`every_job`).
    EveryJob,
}

/// Compute resources for the user container.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    /// Cores, possibly fractional.
    pub cpu: Option<f64>,
    pub memory: Option<Quantity>,
    /// Ephemeral storage.
    pub disk: Option<Quantity>,
    pub gpu: Option<Gpu>,
}

/// A GPU request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpu {
    /// The spec's `type`, a Kubernetes resource name such as `nvidia.com/gpu`.
    pub kind: String,
    /// How many, at least 1.
    pub number: u32,
}

/// Kubernetes annotations and labels for the worker pods.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    /// Kubernetes annotations (free-form values).
    pub annotations: BTreeMap<String, String>,
    /// Kubernetes labels (values checked against the label syntax).
    pub labels: BTreeMap<String, String>,
}

/// A spec that could not be parsed or is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct SpecError {
    /// The field, as `input.cross[1].pfs.glob`; empty for syntax errors.
    pub path: String,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Which spec of a multi-spec file (0-based); `None` when the file held one.
    pub spec_index: Option<usize>,
}

impl SpecError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into(), hint: None, spec_index: None }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(index) = self.spec_index {
            out.push_str(&format!("spec #{}: ", index + 1));
        }
        if !self.path.is_empty() {
            out.push_str(&self.path);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        if let Some(hint) = &self.hint {
            out.push_str(&format!(" (hint: {hint})"));
        }
        out
    }
}

/// A problem found by a value parser that does not know where the value sits;
/// the caller attaches the path.
#[derive(Debug)]
pub(crate) struct Problem {
    message: String,
    hint: Option<String>,
}

impl Problem {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn at(self, path: &str) -> SpecError {
        SpecError { path: path.to_owned(), message: self.message, hint: self.hint, spec_index: None }
    }
}

/// The language of a spec's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl From<strata_api_types::pps::SpecFormat> for Format {
    fn from(format: strata_api_types::pps::SpecFormat) -> Self {
        match format {
            strata_api_types::pps::SpecFormat::Json => Format::Json,
            strata_api_types::pps::SpecFormat::Yaml => Format::Yaml,
        }
    }
}

impl Format {
    /// JSON when the text starts with `{` or `[` (after blanks), else YAML.
    pub fn detect(text: &str) -> Format {
        let start = text.trim_start_matches('\u{feff}').trim_start();
        if start.starts_with('{') || start.starts_with('[') { Format::Json } else { Format::Yaml }
    }
}

/// Parses every spec in `text` (JSON or YAML by its first character, one or
/// several) and validates each.
pub fn parse_specs(text: &str) -> Result<Vec<PipelineSpec>, SpecError> {
    parse_specs_as(text, Format::detect(text))
}

/// Parses every spec in `text`, written in `format`, and validates each.
/// Nesting deeper than [`MAX_SPEC_DEPTH`] is refused before parsing; the
/// caller bounds the size ([`MAX_SPEC_BYTES`]) and the time.
pub fn parse_specs_as(text: &str, format: Format) -> Result<Vec<PipelineSpec>, SpecError> {
    let documents = node::documents(text, format)?;
    if documents.is_empty() {
        return Err(SpecError::new("", "the text holds no pipeline spec").hint(
            "a spec is an object like {\"pipeline\": {\"name\": \"edges\"}, \"transform\": ..., \"input\": ...}",
        ));
    }
    let several = documents.len() > 1;
    let mut specs: Vec<PipelineSpec> = Vec::with_capacity(documents.len());
    for (index, document) in documents.iter().enumerate() {
        let tag = |mut error: SpecError| {
            error.spec_index = several.then_some(index);
            error
        };
        let spec = build::spec(document).and_then(|spec| check::spec(&spec).map(|()| spec)).map_err(tag)?;
        if let Some(first) = specs.iter().position(|other| other.name == spec.name) {
            return Err(tag(SpecError::new(
                "pipeline.name",
                format!("pipeline `{}` is defined twice in this file (also spec #{})", spec.name, first + 1),
            )
            .hint("give each pipeline a distinct name, or remove the duplicate")));
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Parses text that must hold exactly one spec.
pub fn parse_spec(text: &str) -> Result<PipelineSpec, SpecError> {
    let mut specs = parse_specs(text)?;
    if specs.len() != 1 {
        return Err(SpecError::new("", format!("expected one pipeline spec, found {}", specs.len()))
            .hint("create the pipelines one at a time, or use a command that accepts several"));
    }
    Ok(specs.remove(0))
}

impl PipelineSpec {
    /// Validates a spec that arrived as a JSON value (an API request body).
    pub fn from_json_value(value: &Value) -> Result<Self, SpecError> {
        let document = node::Node::from_json(value);
        let spec = build::spec(&document)?;
        check::spec(&spec)?;
        Ok(spec)
    }

    /// The effective spec: canonical snake_case, defaults filled in, empty
    /// lists and unset options left out. Parsing it gives back `self`.
    pub fn to_json(&self) -> Value {
        let mut spec = json!({
            "pipeline": {"name": self.name},
            "description": self.description,
            "transform": self.transform.to_json(),
            "input": self.input.to_json(),
            "parallelism_spec": {"constant": self.parallelism},
            "datum_tries": self.datum_tries,
            "output_branch": self.output_branch,
            "autoscaling": self.autoscaling,
            "reprocess_spec": self.reprocess.as_str(),
        });
        let mut optional = |key: &str, value: Option<Value>| {
            if let (Some(value), Some(object)) = (value, spec.as_object_mut()) {
                object.insert(key.to_owned(), value);
            }
        };
        optional("datum_timeout", self.datum_timeout.map(|d| Value::from(format_duration(d))));
        optional("job_timeout", self.job_timeout.map(|d| Value::from(format_duration(d))));
        optional("resource_requests", self.resource_requests.as_ref().map(Resources::to_json));
        optional("resource_limits", self.resource_limits.as_ref().map(Resources::to_json));
        let metadata = &self.metadata;
        optional(
            "metadata",
            (!metadata.annotations.is_empty() || !metadata.labels.is_empty())
                .then(|| json!({"annotations": metadata.annotations, "labels": metadata.labels})),
        );
        spec
    }

    /// The `(repo, branch)` pairs this pipeline reads, in tree order without
    /// duplicates; cron inputs count as their repo's `master`. The DAG uses it
    /// to find cycles between pipelines.
    pub fn input_repos(&self) -> Vec<(String, String)> {
        let mut repos: Vec<(String, String)> = Vec::new();
        for leaf in self.input.leaves() {
            let pair = (leaf.repo().to_owned(), leaf.branch().to_owned());
            if !repos.contains(&pair) {
                repos.push(pair);
            }
        }
        repos
    }

    /// A stable hex hash of the transform (image, cmd, stdin, env, err_cmd,
    /// err_stdin, user, working_dir). The pipeline salt changes when it does, so that a new
    /// program reprocesses every datum; other fields (parallelism, resources)
    /// don't affect results and leave it alone.
    ///
    /// The encoding is length-prefixed rather than JSON so that it cannot
    /// shift with a serializer's formatting; a test pins its value.
    pub fn transform_fingerprint(&self) -> String {
        let t = &self.transform;
        let mut hasher = blake3::Hasher::new();
        let mut put = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        put(b"strata-transform-v1");
        put(t.image.as_bytes());
        for (label, list) in
            [("cmd", &t.cmd), ("stdin", &t.stdin), ("err_cmd", &t.err_cmd), ("err_stdin", &t.err_stdin)]
        {
            put(label.as_bytes());
            put(&(list.len() as u64).to_le_bytes());
            for item in list {
                put(item.as_bytes());
            }
        }
        put(b"env");
        put(&(t.env.len() as u64).to_le_bytes());
        for (key, value) in &t.env {
            put(key.as_bytes());
            put(value.as_bytes());
        }
        // Added after v1: hashed only when set, so that the fingerprints of
        // specs without them (and the salts stored from them) stay the same.
        if let Some(user) = t.user {
            put(b"user");
            put(&user.to_le_bytes());
        }
        if let Some(dir) = &t.working_dir {
            put(b"working_dir");
            put(dir.as_bytes());
        }
        hasher.finalize().to_hex().to_string()
    }
}

impl Transform {
    fn to_json(&self) -> Value {
        let mut transform = json!({"image": self.image, "cmd": self.cmd});
        if let Some(object) = transform.as_object_mut() {
            for (key, list) in [("stdin", &self.stdin), ("err_cmd", &self.err_cmd), ("err_stdin", &self.err_stdin)] {
                if !list.is_empty() {
                    object.insert(key.to_owned(), json!(list));
                }
            }
            if !self.env.is_empty() {
                object.insert("env".to_owned(), json!(self.env));
            }
            if let Some(user) = self.user {
                object.insert("user".to_owned(), json!(user.to_string()));
            }
            if let Some(dir) = &self.working_dir {
                object.insert("working_dir".to_owned(), json!(dir));
            }
            if !self.accept_return_codes.is_empty() {
                object.insert("accept_return_code".to_owned(), json!(self.accept_return_codes));
            }
            if !self.secrets.is_empty() {
                object.insert("secrets".to_owned(), self.secrets.iter().map(SecretUse::to_json).collect());
            }
            if !self.image_pull_secrets.is_empty() {
                object.insert("image_pull_secrets".to_owned(), json!(self.image_pull_secrets));
            }
        }
        transform
    }
}

impl SecretUse {
    fn to_json(&self) -> Value {
        let mut entry = json!({"name": self.name});
        if let Some(object) = entry.as_object_mut() {
            if let Some(env) = &self.env {
                object.insert("key".to_owned(), json!(env.key));
                object.insert("env_var".to_owned(), json!(env.env_var));
            }
            if let Some(path) = &self.mount_path {
                object.insert("mount_path".to_owned(), json!(path));
            }
        }
        entry
    }
}

/// A leaf of the input tree: where datums come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf<'a> {
    /// A glob over a repo branch.
    Pfs(&'a PfsInput),
    /// A schedule's tick files.
    Cron(&'a CronInput),
}

impl<'a> Leaf<'a> {
    /// The directory under `/pfs`.
    pub fn name(&self) -> &'a str {
        match *self {
            Leaf::Pfs(pfs) => &pfs.name,
            Leaf::Cron(cron) => &cron.name,
        }
    }

    /// The repo the leaf reads.
    pub fn repo(&self) -> &'a str {
        match *self {
            Leaf::Pfs(pfs) => &pfs.repo,
            Leaf::Cron(cron) => &cron.repo,
        }
    }

    /// A cron input reads its repo's `master`.
    pub fn branch(&self) -> &'a str {
        match *self {
            Leaf::Pfs(pfs) => &pfs.branch,
            Leaf::Cron(_) => DEFAULT_BRANCH,
        }
    }

    /// A cron input reads one datum per tick file ([`CRON_GLOB`]).
    pub fn glob(&self) -> &'a str {
        match *self {
            Leaf::Pfs(pfs) => &pfs.glob,
            Leaf::Cron(_) => CRON_GLOB,
        }
    }
}

impl Input {
    /// The leaves in tree order (left to right, depth first).
    pub fn leaves(&self) -> Vec<Leaf<'_>> {
        let mut leaves = Vec::new();
        self.collect_leaves(&mut leaves);
        leaves
    }

    fn collect_leaves<'a>(&'a self, out: &mut Vec<Leaf<'a>>) {
        match self {
            Input::Pfs(pfs) => out.push(Leaf::Pfs(pfs)),
            Input::Cron(cron) => out.push(Leaf::Cron(cron)),
            Input::Cross(children) | Input::Union(children) | Input::Join(children) | Input::Group(children) => {
                for child in children {
                    child.collect_leaves(out);
                }
            }
        }
    }

    /// The children of a combining input; empty for a leaf.
    pub fn children(&self) -> &[Input] {
        match self {
            Input::Cross(children) | Input::Union(children) | Input::Join(children) | Input::Group(children) => {
                children
            }
            Input::Pfs(_) | Input::Cron(_) => &[],
        }
    }

    /// The spec's key for this kind: `pfs`, `cross`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Input::Pfs(_) => "pfs",
            Input::Cross(_) => "cross",
            Input::Union(_) => "union",
            Input::Join(_) => "join",
            Input::Group(_) => "group",
            Input::Cron(_) => "cron",
        }
    }

    fn to_json(&self) -> Value {
        let value = match self {
            Input::Pfs(pfs) => pfs.to_json(),
            Input::Cron(cron) => cron.to_json(),
            Input::Cross(children) | Input::Union(children) | Input::Join(children) | Input::Group(children) => {
                Value::Array(children.iter().map(Input::to_json).collect())
            }
        };
        json!({ self.kind(): value })
    }
}

impl PfsInput {
    fn to_json(&self) -> Value {
        let mut pfs = json!({
            "name": self.name,
            "repo": self.repo,
            "branch": self.branch,
            "glob": self.glob,
            "empty_files": self.empty_files,
            "lazy": self.lazy,
        });
        if let Some(object) = pfs.as_object_mut() {
            if let Some(join_on) = &self.join_on {
                object.insert("join_on".to_owned(), json!(join_on.as_str()));
                object.insert("outer_join".to_owned(), json!(self.outer_join));
            }
            if let Some(group_by) = &self.group_by {
                object.insert("group_by".to_owned(), json!(group_by.as_str()));
            }
        }
        pfs
    }
}

impl CronInput {
    fn to_json(&self) -> Value {
        let mut cron = json!({
            "name": self.name,
            "repo": self.repo,
            "spec": self.spec.as_str(),
            "overwrite": self.overwrite,
        });
        if let (Some(start), Some(object)) = (self.start, cron.as_object_mut()) {
            object.insert("start".to_owned(), json!(start.to_rfc3339_opts(SecondsFormat::AutoSi, true)));
        }
        cron
    }
}

impl Reprocess {
    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Reprocess::UntilSuccess => "until_success",
            Reprocess::EveryJob => "every_job",
        }
    }
}

impl fmt::Display for Reprocess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Resources {
    /// `cpu` in thousandths of a core; at least one, so that a positive
    /// amount never becomes "none".
    pub fn millicpus(&self) -> Option<u64> {
        self.cpu.map(|cores| ((cores * 1000.0).round() as u64).max(1))
    }

    pub fn memory_bytes(&self) -> Option<u64> {
        self.memory.as_ref().map(Quantity::bytes)
    }

    pub fn disk_bytes(&self) -> Option<u64> {
        self.disk.as_ref().map(Quantity::bytes)
    }

    fn to_json(&self) -> Value {
        let mut resources = serde_json::Map::new();
        if let Some(cpu) = self.cpu {
            resources.insert("cpu".to_owned(), json!(cpu));
        }
        if let Some(memory) = &self.memory {
            resources.insert("memory".to_owned(), json!(memory.as_str()));
        }
        if let Some(disk) = &self.disk {
            resources.insert("disk".to_owned(), json!(disk.as_str()));
        }
        if let Some(gpu) = &self.gpu {
            resources.insert("gpu".to_owned(), json!({"type": gpu.kind, "number": gpu.number}));
        }
        Value::Object(resources)
    }
}
