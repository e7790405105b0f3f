//! Turns a document [`Node`] into a typed [`PipelineSpec`], checking every
//! field on its own: types, required fields, names, globs, durations,
//! quantities and schedules. Rules that relate fields across the input tree
//! live in `check`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use strata_pfs::PfsError;
use strata_pfs::glob::Glob;
use strata_pfs::names::{BranchName, RepoName};

use super::node::{Fields, Node, Shape, join, type_error};
use super::{
    CronInput, DEFAULT_BRANCH, DEFAULT_DATUM_TRIES, DEFAULT_IMAGE, Gpu, Input, KeyTemplate, Metadata, PfsInput,
    PipelineSpec, Quantity, Reprocess, Resources, SecretEnv, SecretUse, SpecError, Transform, key, quantity, schedule,
};

const TOP: Shape = Shape {
    fields: &[
        "pipeline",
        "description",
        "metadata",
        "transform",
        "input",
        "parallelism_spec",
        "datum_tries",
        "datum_timeout",
        "job_timeout",
        "resource_requests",
        "resource_limits",
        "output_branch",
        "autoscaling",
        "reprocess_spec",
    ],
    unsupported: &[
        ("egress", "export the output with a downstream step instead"),
        ("spout", "spouts need a long-running writer; use a cron input or push data with `strata put file`"),
        ("service", "long-running service pipelines are not supported"),
        ("s3_out", "write the output to /pfs/out"),
        ("datum_set_spec", "remove it; Strata sizes datum sets itself"),
        ("scheduling_spec", "remove it"),
        ("tolerations", "remove it"),
        ("pod_spec", "remove it; pod patches are not supported"),
        ("pod_patch", "remove it; pod patches are not supported"),
        ("salt", "remove it; Strata derives the salt from the transform"),
        ("tf_job", "use a `transform`"),
        ("sidecar_resource_requests", "remove it; Strata runs no storage sidecar"),
        ("sidecar_resource_limits", "remove it; Strata runs no storage sidecar"),
        ("spec_commit", "remove it; it is set by the system"),
        ("determined", "remove it"),
        ("maximum_expected_uptime", "remove it"),
        ("chunk_spec", "remove it"),
        ("standby", "use `autoscaling`"),
        ("cache_size", "remove it"),
        ("max_queue_size", "remove it"),
        ("enable_stats", "remove it; statistics are always collected"),
        ("reprocess", "that is a request flag, not a spec field: pass it to the update command"),
        ("update", "that is a request flag, not a spec field: use the update command"),
    ],
    misplaced: &[
        ("name", "`pipeline`: {\"pipeline\": {\"name\": ...}}"),
        ("image", "`transform`"),
        ("cmd", "`transform`"),
        ("stdin", "`transform`"),
        ("env", "`transform`"),
        ("err_cmd", "`transform`"),
        ("err_stdin", "`transform`"),
        ("pfs", "`input`"),
        ("cross", "`input`"),
        ("union", "`input`"),
        ("join", "`input`"),
        ("group", "`input`"),
        ("cron", "`input`"),
        ("constant", "`parallelism_spec`"),
        ("parallelism", "`parallelism_spec`: {\"parallelism_spec\": {\"constant\": N}}"),
        ("cpu", "`resource_requests` or `resource_limits`"),
        ("memory", "`resource_requests` or `resource_limits`"),
        ("gpu", "`resource_limits`"),
        ("annotations", "`metadata`"),
        ("labels", "`metadata`"),
    ],
};

const PIPELINE: Shape = Shape { fields: &["name", "project"], unsupported: &[], misplaced: &[] };

const PROJECT: Shape = Shape { fields: &["name"], unsupported: &[], misplaced: &[] };

const TRANSFORM: Shape = Shape {
    fields: &[
        "image",
        "cmd",
        "stdin",
        "env",
        "err_cmd",
        "err_stdin",
        "user",
        "working_dir",
        "accept_return_code",
        "secrets",
        "image_pull_secrets",
    ],
    unsupported: &[
        ("debug", "remove it; worker logs are always kept"),
        ("memory_volume", "remove it"),
        ("datum_batching", "remove it; the worker starts `cmd` once per datum"),
        ("dockerfile", "build the image beforehand and name it in `image`"),
        ("build", "build the image beforehand and name it in `image`"),
    ],
    misplaced: &[],
};

const SECRET: Shape = Shape { fields: &["name", "key", "env_var", "mount_path"], unsupported: &[], misplaced: &[] };

const INPUT: Shape = Shape {
    fields: &["pfs", "cross", "union", "join", "group", "cron"],
    unsupported: &[
        ("git", "git inputs were removed from Pachyderm; mirror the repo into a Strata repo"),
        ("spout", "spouts are not supported"),
    ],
    misplaced: &[
        ("repo", "`pfs`: {\"pfs\": {\"repo\": ..., \"glob\": ...}}"),
        ("glob", "`pfs`: {\"pfs\": {\"repo\": ..., \"glob\": ...}}"),
        ("branch", "`pfs`"),
        ("name", "`pfs` or `cron`"),
        ("join_on", "`pfs`, on each input of the `join`"),
        ("group_by", "`pfs`, on each input of the `group`"),
        ("outer_join", "`pfs`, on an input of a `join`"),
        ("empty_files", "`pfs`"),
        ("lazy", "`pfs`"),
        ("spec", "`cron`"),
    ],
};

const PFS: Shape = Shape {
    fields: &["project", "name", "repo", "branch", "glob", "join_on", "group_by", "outer_join", "empty_files", "lazy"],
    unsupported: &[
        ("s3", "read the files from /pfs/<name>"),
        ("trigger", "remove it; branch triggers are not supported"),
        ("commit", "read a branch; point a branch at the commit to pin it"),
        ("reference", "remove it"),
        ("repo_type", "remove it"),
        ("propagation_spec", "remove it"),
    ],
    misplaced: &[("spec", "`cron`")],
};

const CRON: Shape = Shape {
    fields: &["project", "name", "repo", "spec", "start", "overwrite"],
    unsupported: &[],
    misplaced: &[("glob", "`pfs`; a cron input always reads its ticks with glob /*")],
};

const PARALLELISM: Shape = Shape {
    fields: &["constant"],
    unsupported: &[("coefficient", "give the number of workers as `constant`")],
    misplaced: &[],
};

const RESOURCES: Shape = Shape { fields: &["cpu", "memory", "disk", "gpu"], unsupported: &[], misplaced: &[] };

const GPU: Shape = Shape { fields: &["type", "number"], unsupported: &[], misplaced: &[] };

const METADATA: Shape = Shape { fields: &["annotations", "labels"], unsupported: &[], misplaced: &[] };

const NAME_CHARS: &str = "names are letters, digits, `_` and `-`, at most 100 characters";

pub(crate) fn spec(node: &Node) -> Result<PipelineSpec, SpecError> {
    let f = Fields::read(node, "", &TOP)?;
    let name = pipeline(&f)?;
    let transform = match f.get("transform") {
        Some(node) => transform(node, "transform")?,
        None => return Err(f.missing("transform", "add \"transform\": {\"image\": ..., \"cmd\": [...]}")),
    };
    let input = match f.get("input") {
        Some(node) => input(node, "input", &name)?,
        None => {
            return Err(f.missing("input", "add e.g. \"input\": {\"pfs\": {\"repo\": \"images\", \"glob\": \"/*\"}}"));
        }
    };
    let parallelism = match f.get("parallelism_spec") {
        Some(node) => parallelism(node, "parallelism_spec")?,
        None => 1,
    };
    let datum_tries = match f.whole_number("datum_tries")? {
        None => DEFAULT_DATUM_TRIES,
        Some(0) => {
            return Err(SpecError::new(
                "datum_tries",
                "must be at least 1: it counts every attempt, the first included",
            )
            .hint(format!("omit it for the default of {DEFAULT_DATUM_TRIES}; 1 means no retries")));
        }
        Some(tries) => tries,
    };
    let output_branch =
        f.string("output_branch")?.filter(|b| !b.is_empty()).unwrap_or_else(|| DEFAULT_BRANCH.to_owned());
    branch_name(&output_branch, "output_branch")?;
    let reprocess = match f.string("reprocess_spec")?.as_deref() {
        None | Some("" | "until_success") => Reprocess::UntilSuccess,
        Some("every_job") => Reprocess::EveryJob,
        Some(other) => {
            return Err(SpecError::new("reprocess_spec", format!("unknown value {other:?}"))
                .hint("use \"until_success\" (skip datums that succeeded before) or \"every_job\""));
        }
    };
    Ok(PipelineSpec {
        name,
        description: f.string("description")?.unwrap_or_default(),
        transform,
        input,
        parallelism,
        datum_tries,
        datum_timeout: timeout(&f, "datum_timeout")?,
        job_timeout: timeout(&f, "job_timeout")?,
        resource_requests: f.get("resource_requests").map(|node| resources(node, "resource_requests")).transpose()?,
        resource_limits: f.get("resource_limits").map(|node| resources(node, "resource_limits")).transpose()?,
        output_branch,
        autoscaling: f.flag("autoscaling")?,
        reprocess,
        metadata: f.get("metadata").map(|node| metadata(node, "metadata")).transpose()?.unwrap_or_default(),
    })
}

fn pipeline(f: &Fields<'_>) -> Result<String, SpecError> {
    let Some(node) = f.get("pipeline") else {
        return Err(f.missing("pipeline", "add \"pipeline\": {\"name\": \"my-pipeline\"}"));
    };
    let p = Fields::read(node, "pipeline", &PIPELINE)?;
    project(&p)?;
    let name = p.required_string("name", "name the pipeline; its output repo gets the same name")?;
    let path = p.path_of("name");
    if name.is_empty() {
        return Err(SpecError::new(path, "the pipeline name is empty").hint(NAME_CHARS));
    }
    if let Some(suffix) = [".spec", ".meta"].into_iter().find(|s| name.ends_with(s)) {
        return Err(SpecError::new(
            path,
            format!("`{name}` ends in `{suffix}`, which is reserved for the system repos kept beside each pipeline"),
        )
        .hint("choose a name without the suffix"));
    }
    RepoName::parse(&name).map_err(|e| {
        SpecError::new(path, format!("{} (the output repo is named after the pipeline)", pfs_message(e)))
            .hint(NAME_CHARS)
    })?;
    Ok(name)
}

/// Accepts `project` as a string or as Pachyderm's `{"name": ...}`, but
/// only the default project: Strata has one namespace per workspace.
fn project(f: &Fields<'_>) -> Result<(), SpecError> {
    let Some(node) = f.get("project") else { return Ok(()) };
    let path = f.path_of("project");
    let name = match node {
        Node::Map(_) => Fields::read(node, &path, &PROJECT)?.string("name")?.unwrap_or_default(),
        other => super::node::string(other, &path)?,
    };
    if name.is_empty() || name == "default" {
        return Ok(());
    }
    Err(SpecError::new(path, format!("project `{name}` is not supported: Strata has one namespace per workspace, which stands for Pachyderm's `default` project"))
        .hint("remove `project`, or set it to \"default\""))
}

fn transform(node: &Node, path: &str) -> Result<Transform, SpecError> {
    let f = Fields::read(node, path, &TRANSFORM)?;
    let cmd = f.string_list("cmd")?;
    let cmd_hint = "give the program and its arguments, e.g. [\"python3\", \"/edges.py\"]; it runs without a shell, so run scripts as [\"bash\"] with the lines in `stdin`";
    if cmd.is_empty() {
        return Err(match f.get("cmd") {
            None => f.missing("cmd", cmd_hint),
            Some(_) => SpecError::new(f.path_of("cmd"), "the command is empty").hint(cmd_hint),
        });
    }
    program_named(&cmd, &f.path_of("cmd"))?;
    let err_cmd = f.string_list("err_cmd")?;
    program_named(&err_cmd, &f.path_of("err_cmd"))?;
    let err_stdin = f.string_list("err_stdin")?;
    if err_cmd.is_empty() && !err_stdin.is_empty() {
        return Err(SpecError::new(
            f.path_of("err_stdin"),
            "`err_stdin` is given without `err_cmd`, so nothing would read it",
        )
        .hint("add `err_cmd` (e.g. [\"bash\"]) or remove `err_stdin`"));
    }
    let env = f.string_map("env")?;
    if let Some(bad) = env.keys().find(|key| !is_env_name(key)) {
        return Err(env_name_error(&join(&f.path_of("env"), bad), bad));
    }
    let image_pull_secrets = f.string_list("image_pull_secrets")?;
    for (i, name) in image_pull_secrets.iter().enumerate() {
        secret_name(name, &format!("{}[{i}]", f.path_of("image_pull_secrets")))?;
    }
    Ok(Transform {
        image: f.string("image")?.filter(|i| !i.is_empty()).unwrap_or_else(|| DEFAULT_IMAGE.to_owned()),
        cmd,
        stdin: f.string_list("stdin")?,
        env,
        err_cmd,
        err_stdin,
        user: f.string("user")?.filter(|u| !u.is_empty()).map(|u| user(&u, &f.path_of("user"))).transpose()?,
        working_dir: f
            .string("working_dir")?
            .filter(|d| !d.is_empty())
            .map(|d| absolute_path(d, &f.path_of("working_dir")))
            .transpose()?,
        accept_return_codes: return_codes(&f)?,
        secrets: secrets(&f)?,
        image_pull_secrets,
    })
}

fn env_name_error(path: &str, name: &str) -> SpecError {
    SpecError::new(path, format!("`{name}` is not a valid environment variable name"))
        .hint("use letters, digits and `_`, not starting with a digit")
}

/// `transform.user`: a numeric uid. Names are not looked up, because the
/// worker must know the uid before the image's `/etc/passwd` is at hand.
fn user(text: &str, path: &str) -> Result<u32, SpecError> {
    let hint = "give a numeric uid from 1 to 65535, e.g. \"1000\" (user names are not looked up in the image)";
    match text.parse::<u32>() {
        Ok(0) => Err(SpecError::new(path, "user code never runs as root").hint(hint)),
        Ok(uid) if uid <= 65_535 => Ok(uid),
        Ok(uid) => Err(SpecError::new(path, format!("uid {uid} is out of range")).hint(hint)),
        Err(_) if text == "root" => Err(SpecError::new(path, "user code never runs as root").hint(hint)),
        Err(_) => Err(SpecError::new(path, format!("{text:?} is not a numeric uid")).hint(hint)),
    }
}

fn absolute_path(text: String, path: &str) -> Result<String, SpecError> {
    if !text.starts_with('/') || text.contains('\0') {
        return Err(SpecError::new(path, format!("{text:?} is not an absolute path"))
            .hint("give a path inside the image that starts with `/`, e.g. \"/app\""));
    }
    Ok(text)
}

/// A secret's directory: absolute, and not one the sandbox is made of.
fn mount_path(text: String, path: &str) -> Result<String, SpecError> {
    let text = absolute_path(text, path)?;
    let dir = text.trim_end_matches('/');
    let reserved = ["/pfs", "/tmp", "/.strata", "/proc", "/dev", "/sys"];
    let clashes = dir.is_empty()
        || dir.split('/').any(|part| part == "." || part == "..")
        || reserved.iter().any(|r| dir == *r || dir.starts_with(&format!("{r}/")));
    if clashes {
        return Err(SpecError::new(path, format!("secrets cannot be mounted at {text:?}")).hint(
            "mount them in a directory of their own, e.g. \"/var/secrets/db\" (not /, /pfs, /tmp, /proc, /dev or /sys)",
        ));
    }
    Ok(dir.to_owned())
}

/// `transform.accept_return_code`: exit codes (0 to 255) counted as success.
fn return_codes(f: &Fields<'_>) -> Result<Vec<i32>, SpecError> {
    let Some(node) = f.get("accept_return_code") else { return Ok(Vec::new()) };
    let path = f.path_of("accept_return_code");
    let Node::Seq(items) = node else {
        return Err(type_error(&path, "a list of exit codes", node).hint("e.g. [1, 2]"));
    };
    let mut codes = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        match item {
            Node::Int(code) if (0..=255).contains(code) => codes.push(*code as i32),
            Node::Int(code) => {
                return Err(SpecError::new(item_path, format!("{code} is not an exit code"))
                    .hint("exit codes run from 0 to 255"));
            }
            other => return Err(type_error(&item_path, "an exit code", other)),
        }
    }
    codes.sort_unstable();
    codes.dedup();
    Ok(codes)
}

fn secrets(f: &Fields<'_>) -> Result<Vec<SecretUse>, SpecError> {
    let Some(node) = f.get("secrets") else { return Ok(Vec::new()) };
    let path = f.path_of("secrets");
    let Node::Seq(items) = node else {
        return Err(type_error(&path, "a list of secrets", node)
            .hint("e.g. [{\"name\": \"db\", \"key\": \"password\", \"env_var\": \"DB_PASSWORD\"}]"));
    };
    items.iter().enumerate().map(|(i, item)| secret_use(item, &format!("{path}[{i}]"))).collect()
}

fn secret_use(node: &Node, path: &str) -> Result<SecretUse, SpecError> {
    let f = Fields::read(node, path, &SECRET)?;
    let name = f.required_string("name", "name a secret made with `strata secret create`")?;
    secret_name(&name, &f.path_of("name"))?;
    let env = match (f.string("key")?, f.string("env_var")?) {
        (Some(key), Some(env_var)) => {
            if !is_env_name(&env_var) {
                return Err(env_name_error(&f.path_of("env_var"), &env_var));
            }
            Some(SecretEnv { key, env_var })
        }
        (None, None) => None,
        (Some(_), None) => return Err(f.missing("env_var", "name the variable the key's value is set as")),
        (None, Some(_)) => return Err(f.missing("key", "name the key of the secret whose value the variable gets")),
    };
    let mount_path = f.string("mount_path")?.map(|p| mount_path(p, &f.path_of("mount_path"))).transpose()?;
    if env.is_none() && mount_path.is_none() {
        return Err(SpecError::new(path, "the secret is neither set as a variable nor mounted")
            .hint("add `key` and `env_var`, or `mount_path` (each key becomes a file there)"));
    }
    Ok(SecretUse { name, env, mount_path })
}

/// Secret names are like repo names: they appear in paths and in Kubernetes objects.
fn secret_name(name: &str, path: &str) -> Result<(), SpecError> {
    check_secret_name(name).map_err(|rule| SpecError::new(path, format!("{name:?} is not a secret name")).hint(rule))
}

/// The rule for secret names (Kubernetes' DNS label), as the hint to give.
pub(crate) fn check_secret_name(name: &str) -> Result<(), &'static str> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid { Ok(()) } else { Err("secret names are lower-case letters, digits and `-`, at most 63 characters") }
}

fn program_named(argv: &[String], path: &str) -> Result<(), SpecError> {
    match argv.first() {
        Some(program) if program.trim().is_empty() => {
            Err(SpecError::new(format!("{path}[0]"), "the program name is empty")
                .hint("the first item is the program to run, e.g. \"python3\""))
        }
        _ => Ok(()),
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn input(node: &Node, path: &str, pipeline: &str) -> Result<Input, SpecError> {
    let f = Fields::read(node, path, &INPUT)?;
    let (kind, value) = match f.present() {
        [] => {
            return Err(SpecError::new(
                path,
                "an input needs one of `pfs`, `cross`, `union`, `join`, `group` or `cron`",
            )
            .hint("e.g. {\"pfs\": {\"repo\": \"images\", \"glob\": \"/*\"}}"));
        }
        [single] => *single,
        [(first, _), (second, _), ..] => {
            return Err(SpecError::new(
                join(path, second),
                format!("this input already has `{first}`; an input object holds exactly one kind"),
            )
            .hint("combine inputs with `cross`, `union`, `join` or `group`, each child in its own object"));
        }
    };
    let at = join(path, kind);
    Ok(match kind {
        "pfs" => Input::Pfs(pfs(value, &at)?),
        "cron" => Input::Cron(cron(value, &at, pipeline)?),
        "cross" => Input::Cross(children(value, &at, kind, pipeline)?),
        "union" => Input::Union(children(value, &at, kind, pipeline)?),
        "join" => Input::Join(children(value, &at, kind, pipeline)?),
        _ => Input::Group(children(value, &at, kind, pipeline)?),
    })
}

fn children(node: &Node, path: &str, kind: &str, pipeline: &str) -> Result<Vec<Input>, SpecError> {
    let Node::Seq(items) = node else {
        let error = type_error(path, "a list of inputs", node);
        return Err(match node {
            Node::Map(_) => error.hint(format!("write \"{kind}\": [{{\"pfs\": ...}}, {{\"pfs\": ...}}]")),
            _ => error,
        });
    };
    if items.is_empty() {
        return Err(SpecError::new(path, format!("`{kind}` has no inputs"))
            .hint(format!("list the inputs to {kind}, or remove it")));
    }
    items.iter().enumerate().map(|(i, item)| input(item, &format!("{path}[{i}]"), pipeline)).collect()
}

fn pfs(node: &Node, path: &str) -> Result<PfsInput, SpecError> {
    let f = Fields::read(node, path, &PFS)?;
    project(&f)?;
    let repo = f.required_string("repo", "name the repo to read, e.g. \"repo\": \"images\"")?;
    repo_name(&repo, &f.path_of("repo"))?;
    let branch = f.string("branch")?.filter(|b| !b.is_empty()).unwrap_or_else(|| DEFAULT_BRANCH.to_owned());
    branch_name(&branch, &f.path_of("branch"))?;
    let glob_hint = "e.g. \"/*\" for one datum per top-level file or directory, \"/\" for the whole repo as one datum";
    let glob = f.string("glob")?.filter(|g| !g.is_empty()).ok_or_else(|| f.missing("glob", glob_hint))?;
    Glob::new(&glob).map_err(|e| SpecError::new(f.path_of("glob"), pfs_message(e)).hint(glob_hint))?;
    let name = match f.string("name")?.filter(|n| !n.is_empty()) {
        Some(name) => {
            input_name(&name, &f.path_of("name"))?;
            name
        }
        None if repo == "out" => {
            return Err(SpecError::new(f.path_of("name"), "the repo `out` needs an explicit input name, since the name defaults to the repo and /pfs/out is the output directory")
                .hint("set e.g. \"name\": \"out_data\""));
        }
        None => repo.clone(),
    };
    Ok(PfsInput {
        name,
        repo,
        branch,
        glob,
        join_on: template(&f, "join_on")?,
        group_by: template(&f, "group_by")?,
        outer_join: f.flag("outer_join")?,
        empty_files: f.flag("empty_files")?,
        lazy: f.flag("lazy")?,
    })
}

fn template(f: &Fields<'_>, field: &str) -> Result<Option<KeyTemplate>, SpecError> {
    let path = f.path_of(field);
    f.string(field)?
        .filter(|t| !t.is_empty())
        .map(|text| key::parse(&text).map_err(|problem| problem.at(&path)))
        .transpose()
}

fn cron(node: &Node, path: &str, pipeline: &str) -> Result<CronInput, SpecError> {
    let f = Fields::read(node, path, &CRON)?;
    project(&f)?;
    let name = f.required_string("name", "name the input, e.g. \"name\": \"tick\"; it appears as /pfs/<name>")?;
    let name_path = f.path_of("name");
    if name.is_empty() {
        return Err(SpecError::new(name_path, "the input name is empty").hint("name the input, e.g. \"tick\""));
    }
    input_name(&name, &name_path)?;
    let spec_text = f.required_string("spec", "e.g. \"@every 1h\", \"@daily\" or \"*/5 * * * *\"")?;
    let spec = schedule::parse(&spec_text).map_err(|problem| problem.at(&f.path_of("spec")))?;
    let repo = match f.string("repo")?.filter(|r| !r.is_empty()) {
        Some(repo) => {
            repo_name(&repo, &f.path_of("repo"))?;
            repo
        }
        None => {
            let derived = format!("{pipeline}_{name}");
            RepoName::parse(&derived).map_err(|e| {
                SpecError::new(
                    name_path,
                    format!(
                        "the cron repo defaults to `{derived}`, which is not a valid repo name: {}",
                        pfs_message(e)
                    ),
                )
                .hint("shorten the name or set `repo`")
            })?;
            derived
        }
    };
    let start = match f.string("start")? {
        None => None,
        Some(text) => Some(timestamp(&text, &f.path_of("start"))?),
    };
    Ok(CronInput { name, repo, spec, start, overwrite: f.flag("overwrite")? })
}

fn timestamp(text: &str, path: &str) -> Result<DateTime<Utc>, SpecError> {
    DateTime::parse_from_rfc3339(text.trim()).map(|t| t.with_timezone(&Utc)).map_err(|e| {
        SpecError::new(path, format!("{text:?} is not an RFC 3339 timestamp: {e}"))
            .hint("write e.g. \"2024-01-01T00:00:00Z\"")
    })
}

fn parallelism(node: &Node, path: &str) -> Result<u32, SpecError> {
    let f = Fields::read(node, path, &PARALLELISM)?;
    match f.whole_number("constant")? {
        None => Ok(1),
        Some(0) => Err(SpecError::new(f.path_of("constant"), "must be at least 1").hint(
            "omit `parallelism_spec` for one worker; with `autoscaling`, idle pipelines scale to zero by themselves",
        )),
        Some(n) => Ok(n),
    }
}

fn timeout(f: &Fields<'_>, field: &str) -> Result<Option<Duration>, SpecError> {
    let Some(node) = f.get(field) else { return Ok(None) };
    let path = f.path_of(field);
    let text = match node {
        Node::Str(text) => text,
        Node::Int(_) | Node::Float(_) => {
            return Err(type_error(&path, "a duration string such as \"30s\"", node)
                .hint("a bare number has no unit; write e.g. \"30s\", \"10m\" or \"1h30m\""));
        }
        other => return Err(type_error(&path, "a duration string such as \"30s\"", other)),
    };
    let duration = super::duration::parse(text).map_err(|problem| problem.at(&path))?;
    if duration.is_zero() {
        return Err(SpecError::new(path, "the timeout is zero").hint(format!("omit `{field}` for no timeout")));
    }
    Ok(Some(duration))
}

fn resources(node: &Node, path: &str) -> Result<Resources, SpecError> {
    let f = Fields::read(node, path, &RESOURCES)?;
    let cpu = match f.get("cpu") {
        None => None,
        Some(node) => Some(cpu(node, &f.path_of("cpu"))?),
    };
    let gpu = match f.get("gpu") {
        None => None,
        Some(node) => Some(gpu(node, &f.path_of("gpu"))?),
    };
    Ok(Resources { cpu, memory: bytes(&f, "memory")?, disk: bytes(&f, "disk")?, gpu })
}

fn cpu(node: &Node, path: &str) -> Result<f64, SpecError> {
    let cores = match node {
        // Precision loss above 2^53 cores is of no concern.
        Node::Int(i) => *i as f64,
        Node::Float(f) => *f,
        Node::Str(text) => quantity::parse_cpu(text).map_err(|problem| problem.at(path))?,
        other => return Err(type_error(path, "a number of cores", other).hint("e.g. 0.5 or 2")),
    };
    if !cores.is_finite() || cores < 0.0 {
        return Err(SpecError::new(path, format!("{cores} is not a number of cores")).hint("e.g. 0.5 or 2"));
    }
    Ok(cores)
}

fn bytes(f: &Fields<'_>, field: &str) -> Result<Option<Quantity>, SpecError> {
    let Some(node) = f.get(field) else { return Ok(None) };
    let path = f.path_of(field);
    match node {
        Node::Str(text) => quantity::parse_bytes(text).map(Some).map_err(|problem| problem.at(&path)),
        // Kubernetes reads a bare integer as bytes.
        Node::Int(i) => u64::try_from(*i).map(|b| Some(Quantity::from_bytes(b))).map_err(|_| {
            SpecError::new(path, format!("{i} is not a number of bytes")).hint("e.g. \"512Mi\" or \"2G\"")
        }),
        other => Err(type_error(&path, "a quantity such as \"512Mi\"", other)),
    }
}

fn gpu(node: &Node, path: &str) -> Result<Gpu, SpecError> {
    let f = Fields::read(node, path, &GPU)?;
    let kind = f.required_string("type", "name the Kubernetes resource, e.g. \"nvidia.com/gpu\"")?;
    if kind.is_empty() {
        return Err(SpecError::new(f.path_of("type"), "the GPU type is empty").hint("e.g. \"nvidia.com/gpu\""));
    }
    let number = match f.whole_number("number")? {
        None => return Err(f.missing("number", "say how many GPUs, e.g. \"number\": 1")),
        Some(0) => {
            return Err(SpecError::new(f.path_of("number"), "must be at least 1").hint("remove `gpu` to request none"));
        }
        Some(n) => n,
    };
    Ok(Gpu { kind, number })
}

fn metadata(node: &Node, path: &str) -> Result<Metadata, SpecError> {
    let f = Fields::read(node, path, &METADATA)?;
    let annotations = f.string_map("annotations")?;
    let labels = f.string_map("labels")?;
    for (field, map) in [("annotations", &annotations), ("labels", &labels)] {
        for (key, value) in map {
            let at = join(&f.path_of(field), key);
            kubernetes_key(key).map_err(|why| {
                SpecError::new(&at, format!("`{key}` is not a valid Kubernetes {field} key: {why}"))
                    .hint("keys are an optional DNS prefix and `/`, then up to 63 letters, digits, `-`, `_` or `.`")
            })?;
            if field == "labels" && !(value.is_empty() || is_label_segment(value)) {
                return Err(SpecError::new(at, format!("{value:?} is not a valid Kubernetes label value"))
                    .hint("label values are up to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"));
            }
        }
    }
    Ok(Metadata { annotations, labels })
}

/// Kubernetes qualified names: `[prefix/]name`. Checked here because a bad
/// key would otherwise only fail when the worker pod is created.
fn kubernetes_key(key: &str) -> Result<(), &'static str> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let valid = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !valid {
            return Err("the prefix must be a lower-case DNS name");
        }
    }
    if !is_label_segment(name) {
        return Err(
            "the name must be 1-63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
        );
    }
    Ok(())
}

fn is_label_segment(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn repo_name(name: &str, path: &str) -> Result<(), SpecError> {
    RepoName::parse(name).map(drop).map_err(|e| SpecError::new(path, pfs_message(e)).hint(format!("repo {NAME_CHARS}")))
}

fn branch_name(name: &str, path: &str) -> Result<(), SpecError> {
    BranchName::parse(name)
        .map(drop)
        .map_err(|e| SpecError::new(path, pfs_message(e)).hint(format!("branch {NAME_CHARS}")))
}

/// An input's name is a directory under /pfs and an environment variable
/// the worker sets, so it follows the repo-name rules and may not be `out`.
fn input_name(name: &str, path: &str) -> Result<(), SpecError> {
    if name == "out" {
        return Err(SpecError::new(path, "`out` is reserved: /pfs/out is the pipeline's output directory")
            .hint("choose another name"));
    }
    if name.contains('/') {
        return Err(SpecError::new(
            path,
            format!("`{name}` contains `/`; input names become directories directly under /pfs"),
        )
        .hint("use letters, digits, `_` and `-`"));
    }
    RepoName::parse(name).map(drop).map_err(|e| {
        SpecError::new(path, pfs_message(e).replace("repo name", "input name")).hint(format!("input {NAME_CHARS}"))
    })
}

/// The message of a PFS validation error, without PFS's own field prefix.
fn pfs_message(error: PfsError) -> String {
    match error {
        PfsError::InvalidArgument { message, .. } => message,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_keys_and_values_follow_the_api_rules() {
        assert!(kubernetes_key("app").is_ok());
        assert!(kubernetes_key("example.com/team").is_ok());
        assert!(kubernetes_key("Example.com/team").is_err());
        assert!(kubernetes_key("-app").is_err());
        assert!(kubernetes_key(&"a".repeat(64)).is_err());
        assert!(is_label_segment("v1.2_beta-3"));
        assert!(!is_label_segment("has space"));
    }

    #[test]
    fn environment_names_are_posix_identifiers() {
        assert!(is_env_name("DEBUG"));
        assert!(is_env_name("_X1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
    }
}
