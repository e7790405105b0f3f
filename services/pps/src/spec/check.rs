//! Rules that relate fields to each other: where join and group keys may
//! appear, input name uniqueness, cron repos, reading one's own output and
//! requests against limits. Every field has already passed `build`.

use std::collections::BTreeMap;

use super::key::glob_capture_groups;
use super::node::join;
use super::{Input, KeyTemplate, Leaf, PfsInput, PipelineSpec, Resources, SpecError};

pub(crate) fn spec(spec: &PipelineSpec) -> Result<(), SpecError> {
    tree(&spec.input, "input", Parent::Other)?;
    names(&spec.input, "input", &mut BTreeMap::new())?;
    let mut leaves = Vec::new();
    leaves_with_paths(&spec.input, "input", &mut leaves);
    crons(&leaves)?;
    own_output(spec, &leaves)?;
    if let (Some(requests), Some(limits)) = (&spec.resource_requests, &spec.resource_limits) {
        requests_within_limits(requests, limits)?;
    }
    Ok(())
}

/// What an input sits directly inside, as far as keys are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    Other,
    /// A join; `in_group` when that join is itself a child of a group.
    Join {
        in_group: bool,
    },
    Group,
}

fn tree(input: &Input, path: &str, parent: Parent) -> Result<(), SpecError> {
    match input {
        Input::Pfs(pfs) => pfs_keys(pfs, &join(path, "pfs"), parent),
        Input::Cron(_) => Ok(()),
        Input::Cross(children) | Input::Union(children) => {
            let at = join(path, input.kind());
            children.iter().enumerate().try_for_each(|(i, child)| tree(child, &format!("{at}[{i}]"), Parent::Other))
        }
        Input::Join(children) => {
            let at = join(path, "join");
            let in_group = parent == Parent::Group;
            for (i, child) in children.iter().enumerate() {
                let child_path = format!("{at}[{i}]");
                if !matches!(child, Input::Pfs(_)) {
                    return Err(SpecError::new(
                        &child_path,
                        format!("a join combines `pfs` inputs, not `{}`", child.kind()),
                    )
                    .hint("join the pfs inputs first, then cross or union the join with the rest"));
                }
                tree(child, &child_path, Parent::Join { in_group })?;
            }
            Ok(())
        }
        Input::Group(children) => {
            let at = join(path, "group");
            for (i, child) in children.iter().enumerate() {
                let child_path = format!("{at}[{i}]");
                if !matches!(child, Input::Pfs(_) | Input::Join(_)) {
                    return Err(SpecError::new(
                        &child_path,
                        format!("a group combines `pfs` inputs (or a `join` of them), not `{}`", child.kind()),
                    )
                    .hint("group the pfs inputs first, then cross or union the group with the rest"));
                }
                tree(child, &child_path, Parent::Group)?;
            }
            Ok(())
        }
    }
}

/// `join_on`, `group_by` and `outer_join` are required where they mean
/// something and refused elsewhere, so that a misplaced key is not silently
/// ignored.
fn pfs_keys(pfs: &PfsInput, path: &str, parent: Parent) -> Result<(), SpecError> {
    let in_join = matches!(parent, Parent::Join { .. });
    let in_group = matches!(parent, Parent::Group | Parent::Join { in_group: true });
    key_in_place(pfs, path, "join_on", pfs.join_on.as_ref(), in_join, "join")?;
    key_in_place(pfs, path, "group_by", pfs.group_by.as_ref(), in_group, "group")?;
    if pfs.outer_join && !in_join {
        return Err(SpecError::new(
            join(path, "outer_join"),
            "`outer_join` only applies to an input directly inside a `join`",
        )
        .hint("remove it, or put this input in a `join`"));
    }
    Ok(())
}

fn key_in_place(
    pfs: &PfsInput,
    path: &str,
    field: &str,
    template: Option<&KeyTemplate>,
    wanted: bool,
    combinator: &str,
) -> Result<(), SpecError> {
    let at = join(path, field);
    match (template, wanted) {
        (None, false) => Ok(()),
        (None, true) => Err(SpecError::new(at, format!("missing; every input of a `{combinator}` needs `{field}`"))
            .hint(format!("e.g. glob \"/(*).csv\" with \"{field}\": \"$1\" to match files by name"))),
        (Some(_), false) => Err(SpecError::new(at, format!("`{field}` only applies to an input of a `{combinator}`"))
            .hint(format!("remove it, or put this input in a `{combinator}`"))),
        (Some(template), true) => {
            let groups = glob_capture_groups(&pfs.glob);
            let highest = template.highest_group();
            if groups == 0 {
                return Err(SpecError::new(
                    at,
                    format!("the glob `{}` has no capture groups for `{}` to refer to", pfs.glob, template.as_str()),
                )
                .hint("wrap the part of the path that forms the key in parentheses, e.g. \"/(*).csv\""));
            }
            if highest > groups {
                let plural = if groups == 1 { "" } else { "s" };
                return Err(SpecError::new(
                    at,
                    format!(
                        "`{}` refers to capture group {highest}, but the glob `{}` has {groups} group{plural}",
                        template.as_str(),
                        pfs.glob
                    ),
                )
                .hint("groups are numbered from 1 by their opening parenthesis"));
            }
            Ok(())
        }
    }
}

/// Pachyderm's `validateNames`: each input is mounted at /pfs/<name>, so
/// names are unique across the tree, except that a union's children may
/// share them (a datum holds only one child). A union's names still may not
/// clash with inputs outside it, which are mounted alongside.
fn names(input: &Input, path: &str, seen: &mut BTreeMap<String, String>) -> Result<(), SpecError> {
    match input {
        Input::Pfs(pfs) => claim(&pfs.name, pfs.name == pfs.repo, &join(path, "pfs"), seen),
        Input::Cron(cron) => claim(&cron.name, false, &join(path, "cron"), seen),
        Input::Cross(children) | Input::Join(children) | Input::Group(children) => {
            let at = join(path, input.kind());
            children.iter().enumerate().try_for_each(|(i, child)| names(child, &format!("{at}[{i}]"), seen))
        }
        Input::Union(children) => {
            let at = join(path, "union");
            let mut union_names = BTreeMap::new();
            for (i, child) in children.iter().enumerate() {
                let mut branch = seen.clone();
                names(child, &format!("{at}[{i}]"), &mut branch)?;
                for (name, first) in branch {
                    union_names.entry(name).or_insert(first);
                }
            }
            seen.extend(union_names);
            Ok(())
        }
    }
}

fn claim(name: &str, from_repo: bool, path: &str, seen: &mut BTreeMap<String, String>) -> Result<(), SpecError> {
    if let Some(first) = seen.get(name) {
        let hint = if from_repo {
            "each input is mounted at /pfs/<name>, and the name defaults to the repo; set a distinct `name` on one of them"
        } else {
            "each input is mounted at /pfs/<name>; give one of them a distinct `name`"
        };
        return Err(SpecError::new(join(path, "name"), format!("the input name `{name}` is already used by {first}"))
            .hint(hint));
    }
    seen.insert(name.to_owned(), path.to_owned());
    Ok(())
}

fn leaves_with_paths<'a>(input: &'a Input, path: &str, out: &mut Vec<(Leaf<'a>, String)>) {
    match input {
        Input::Pfs(pfs) => out.push((Leaf::Pfs(pfs), join(path, "pfs"))),
        Input::Cron(cron) => out.push((Leaf::Cron(cron), join(path, "cron"))),
        Input::Cross(children) | Input::Union(children) | Input::Join(children) | Input::Group(children) => {
            let at = join(path, input.kind());
            for (i, child) in children.iter().enumerate() {
                leaves_with_paths(child, &format!("{at}[{i}]"), out);
            }
        }
    }
}

/// Each cron input owns its repo (it commits a tick file there), so two of
/// them can't share a name or a repo, not even in different union branches.
fn crons(leaves: &[(Leaf<'_>, String)]) -> Result<(), SpecError> {
    let crons: Vec<_> = leaves
        .iter()
        .filter_map(|(leaf, path)| match leaf {
            Leaf::Cron(cron) => Some((*cron, path)),
            Leaf::Pfs(_) => None,
        })
        .collect();
    for (i, (cron, path)) in crons.iter().enumerate() {
        for (earlier, earlier_path) in &crons[..i] {
            if earlier.name == cron.name {
                return Err(SpecError::new(
                    join(path, "name"),
                    format!("there is already a cron input named `{}` at {earlier_path}", cron.name),
                )
                .hint("a pipeline has at most one cron per name; combine the schedules or rename one"));
            }
            if earlier.repo == cron.repo {
                return Err(SpecError::new(
                    join(path, "repo"),
                    format!("the cron input at {earlier_path} already ticks into repo `{}`", cron.repo),
                )
                .hint("give each cron input its own repo"));
            }
        }
    }
    Ok(())
}

/// The one cycle visible from a single spec; cycles through other pipelines
/// are found with the DAG, using `PipelineSpec::input_repos`.
fn own_output(spec: &PipelineSpec, leaves: &[(Leaf<'_>, String)]) -> Result<(), SpecError> {
    match leaves.iter().find(|(leaf, _)| leaf.repo() == spec.name) {
        Some((_, path)) => Err(SpecError::new(
            join(path, "repo"),
            format!("the pipeline reads its own output repo `{}`", spec.name),
        )
        .hint("a pipeline can't take its own output as input; read from another repo or split it into two pipelines")),
        None => Ok(()),
    }
}

/// Kubernetes refuses a pod whose request exceeds its limit; say so now
/// rather than when the first job starts.
fn requests_within_limits(requests: &Resources, limits: &Resources) -> Result<(), SpecError> {
    if let (Some(request), Some(limit)) = (requests.cpu, limits.cpu)
        && request > limit
    {
        return Err(exceeds("cpu", &request.to_string(), &limit.to_string()));
    }
    for (field, request, limit) in
        [("memory", &requests.memory, &limits.memory), ("disk", &requests.disk, &limits.disk)]
    {
        if let (Some(request), Some(limit)) = (request, limit)
            && request.bytes() > limit.bytes()
        {
            return Err(exceeds(field, request.as_str(), limit.as_str()));
        }
    }
    Ok(())
}

fn exceeds(field: &str, request: &str, limit: &str) -> SpecError {
    SpecError::new(format!("resource_requests.{field}"), format!("the request {request} exceeds the limit {limit}"))
        .hint(format!("raise `resource_limits.{field}` or lower the request"))
}
