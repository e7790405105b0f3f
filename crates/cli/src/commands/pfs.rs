//! PFS commands: repos, branches, commits and files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use futures::StreamExt;
use strata_api_types::pfs::{
    BranchInfo, CommitInfo, CopyFile, CreateBranch, FileInfo, FinishCommit, PutSummary, RepoInfo,
};
use strata_client::Workspace;
use tokio::sync::mpsc;

use crate::cli::{
    BranchCommand, CommitCommand, CopyCommand, DeleteCommand, DiffCommand, FileCommand, GetCommand, GlobCommand,
    GlobalArgs, InspectCommand, ListCommand, OutputFormat, PutFileArgs, RepoCommand,
};
use crate::failure::{Failure, internal, user};
use crate::fileref::{FileRef, repo_branch};
use crate::output::{bytes, print_record, print_table, short, when};

/// The workspace a command acts on: `--workspace [ORG/]SLUG`, else the
/// context's. With an organisation known, requests go through the hub's
/// gateway (`/v1/orgs/{org}/workspaces/{slug}`); without one, to the
/// workspaces the server hosts itself (`/v1/workspaces/{slug}`).
pub(crate) async fn workspace(global: &GlobalArgs) -> Result<Workspace, Failure> {
    let (client, target) = crate::session::connect(global).await?;
    let named = global.workspace.clone().or(target.workspace).unwrap_or_else(|| "default".to_owned());
    let (org, slug) = match named.split_once('/') {
        Some((org, slug)) => (Some(org.to_owned()), slug.to_owned()),
        None => (target.organization, named),
    };
    Ok(match org {
        Some(org) => client.org_workspace(&org, &slug),
        None => client.workspace(&slug),
    })
}

fn print_repos(format: OutputFormat, repos: &[RepoInfo]) -> anyhow::Result<()> {
    let rows = repos
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.kind.clone(),
                bytes(r.size_bytes),
                r.branches.join(","),
                when(Some(&r.created_at)),
                r.description.clone(),
            ]
        })
        .collect();
    print_table(format, &repos, &["name", "type", "size", "branches", "created", "description"], rows)
}

fn print_branches(format: OutputFormat, branches: &[BranchInfo]) -> anyhow::Result<()> {
    let rows = branches.iter().map(|b| vec![b.name.clone(), b.head.clone(), b.provenance.join(",")]).collect();
    print_table(format, &branches, &["branch", "head", "provenance"], rows)
}

fn print_commits(format: OutputFormat, commits: &[CommitInfo]) -> anyhow::Result<()> {
    let rows = commits
        .iter()
        .map(|c| {
            vec![
                c.repo.clone(),
                c.branch.clone().unwrap_or_default(),
                c.id.clone(),
                c.origin.clone(),
                when(Some(&c.started_at)),
                c.finished_at.as_deref().map_or_else(|| "open".to_owned(), |t| when(Some(t))),
                bytes(c.size_bytes),
                c.description.clone(),
            ]
        })
        .collect();
    print_table(
        format,
        &commits,
        &["repo", "branch", "commit", "origin", "started", "finished", "size", "description"],
        rows,
    )
}

fn print_commit(format: OutputFormat, commit: &CommitInfo) -> anyhow::Result<()> {
    let rows = [
        ("commit", format!("{}@{}", commit.repo, commit.id)),
        ("branch", commit.branch.clone().unwrap_or_else(|| "-".into())),
        ("parent", commit.parent.clone().unwrap_or_else(|| "-".into())),
        ("origin", commit.origin.clone()),
        ("started", when(Some(&commit.started_at))),
        ("finished", commit.finished_at.as_deref().map_or_else(|| "open".to_owned(), |t| when(Some(t)))),
        ("size", format!("{} in {} files", bytes(commit.size_bytes), commit.files)),
        ("description", commit.description.clone()),
        ("provenance", commit.provenance.join(", ")),
    ];
    print_record(format, commit, &rows)
}

fn print_files(format: OutputFormat, files: &[FileInfo]) -> anyhow::Result<()> {
    let rows = files
        .iter()
        .map(|f| vec![f.path.clone(), format!("{:?}", f.kind).to_lowercase(), bytes(f.size), short(&f.hash)])
        .collect();
    print_table(format, &files, &["path", "type", "size", "hash"], rows)
}

pub async fn repo(global: &GlobalArgs, command: RepoCommand) -> Result<(), Failure> {
    let ws = workspace(global).await?;
    let format = global.output;
    match command {
        RepoCommand::Create { name, description } => {
            let repo = ws.repo_create(&name, &description).await?;
            print_repos(format, std::slice::from_ref(&repo)).map_err(internal)
        }
        RepoCommand::List => print_repos(format, &ws.repo_list().await?).map_err(internal),
        RepoCommand::Inspect { name } => {
            let repo = ws.repo_inspect(&name).await?;
            let stored = repo.storage.as_ref().map_or_else(String::new, |s| {
                format!("{} logical, {} stored in {} chunks", bytes(s.logical_bytes), bytes(s.stored_bytes), s.chunks)
            });
            let rows = [
                ("name", repo.name.clone()),
                ("type", repo.kind.clone()),
                ("size", bytes(repo.size_bytes)),
                ("storage", stored),
                ("branches", repo.branches.join(", ")),
                ("created", when(Some(&repo.created_at))),
                ("description", repo.description.clone()),
            ];
            print_record(format, &repo, &rows).map_err(internal)
        }
        RepoCommand::Delete { name, force } => {
            let deleted = ws.repo_delete(&name, force).await?;
            let rows: Vec<Vec<String>> = deleted.iter().map(|d| vec![d.clone()]).collect();
            print_table(format, &deleted, &["deleted"], rows).map_err(internal)
        }
    }
}

pub async fn branch(global: &GlobalArgs, command: BranchCommand) -> Result<(), Failure> {
    let ws = workspace(global).await?;
    let format = global.output;
    match command {
        BranchCommand::Create { branch, head, provenance } => {
            let (repo, name) = repo_branch(&branch).map_err(user)?;
            let created = ws.branch_create(&repo, &CreateBranch { name, head, provenance }).await?;
            print_branches(format, &[created]).map_err(internal)
        }
        BranchCommand::List { repo } => print_branches(format, &ws.branch_list(&repo).await?).map_err(internal),
        BranchCommand::Inspect { branch } => {
            let (repo, name) = repo_branch(&branch).map_err(user)?;
            print_branches(format, &[ws.branch_inspect(&repo, &name).await?]).map_err(internal)
        }
        BranchCommand::Delete { branch, force } => {
            let (repo, name) = repo_branch(&branch).map_err(user)?;
            ws.branch_delete(&repo, &name, force).await?;
            Ok(())
        }
    }
}

pub async fn commit(global: &GlobalArgs, command: CommitCommand) -> Result<(), Failure> {
    let ws = workspace(global).await?;
    let format = global.output;
    let at = |text: &str| repo_branch(text).map_err(user);
    let commit = match command {
        CommitCommand::Start { branch, description } => {
            let (repo, branch) = at(&branch)?;
            ws.commit_start(&repo, &branch, &description).await?
        }
        CommitCommand::Finish { commit, description } => {
            let (repo, reference) = at(&commit)?;
            ws.commit_finish(&repo, &reference, &FinishCommit { description, error: None }).await?
        }
        CommitCommand::List { repo, limit } => {
            return print_commits(format, &ws.commit_list(&repo, limit).await?).map_err(internal);
        }
        CommitCommand::Inspect { commit } => {
            let (repo, reference) = at(&commit)?;
            ws.commit_inspect(&repo, &reference).await?
        }
        CommitCommand::Wait { commit, timeout_secs } => {
            let (repo, reference) = at(&commit)?;
            ws.commit_wait(&repo, &reference, timeout_secs).await?
        }
        CommitCommand::Squash { commit } => {
            let (repo, reference) = at(&commit)?;
            return ws.commit_squash(&repo, &reference).await.map_err(Failure::from);
        }
        CommitCommand::Drop { commit } => {
            let (repo, reference) = at(&commit)?;
            return ws.commit_drop(&repo, &reference).await.map_err(Failure::from);
        }
    };
    print_commit(format, &commit).map_err(internal)
}

// ---- put file ------------------------------------------------------------

/// A progress bar on stderr for work over a second, unless quiet or not a TTY.
fn progress(global: &GlobalArgs, total: Option<u64>, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if global.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let template = "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A `Write` that sends buffers to an async body stream.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
    bar: indicatif::ProgressBar,
}

const SEND_SIZE: usize = 256 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= SEND_SIZE {
            self.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = Bytes::from(std::mem::take(&mut self.buffer));
        self.bar.inc(data.len() as u64);
        self.tx.blocking_send(Ok(data)).map_err(|_| std::io::Error::other("upload stopped"))
    }
}

/// Runs `produce` on a blocking thread, streaming what it writes as a body.
fn body_from_writer(
    bar: indicatif::ProgressBar,
    produce: impl FnOnce(&mut ChannelWriter) -> std::io::Result<()> + Send + 'static,
) -> reqwest::Body {
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter { tx: tx.clone(), buffer: Vec::with_capacity(SEND_SIZE), bar };
        let result = produce(&mut writer).and_then(|()| writer.flush());
        if let Err(error) = result {
            // The server sees a broken body and commits nothing.
            let _ = tx.blocking_send(Err(error));
        }
    });
    reqwest::Body::wrap_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// Files below `dir`, with paths relative to it, sorted.
fn local_files(dir: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).with_context(|| format!("cannot read {}", current.display()))? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let relative = path.strip_prefix(dir).map_err(|e| anyhow!("{e}"))?.to_string_lossy().replace('\\', "/");
                out.push((path, relative));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

fn tar_files(files: Vec<(PathBuf, String)>, writer: &mut ChannelWriter) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(writer);
    builder.mode(tar::HeaderMode::Deterministic);
    for (local, name) in files {
        builder.append_path_with_name(&local, &name)?;
    }
    builder.finish()
}

pub async fn put_file(global: &GlobalArgs, args: PutFileArgs) -> Result<(), Failure> {
    let ws = workspace(global).await?;
    let target = FileRef::parse(&args.target).map_err(user)?;
    let summary = if args.recursive {
        put_directory(global, &ws, &target, &args).await?
    } else if args.untar {
        let path = target.path_or("/");
        let bar = progress(global, None, "uploading");
        let body = stream_local(&args.file, bar.clone())?;
        let summary = ws.put(&target.repo, &target.reference, &path, true, args.append, body).await;
        bar.finish_and_clear();
        summary?
    } else {
        let path = match &target.path {
            Some(path) if !path.ends_with('/') => path.clone(),
            other => {
                let dir = other.clone().unwrap_or_default();
                let name = Path::new(&args.file).file_name().ok_or_else(|| {
                    user(anyhow!("stdin needs a target path: {}@{}:/name", target.repo, target.reference))
                })?;
                format!("{dir}/{}", name.to_string_lossy())
            }
        };
        let size = (args.file != "-").then(|| std::fs::metadata(&args.file).map(|m| m.len()).ok()).flatten();
        let bar = progress(global, size, "uploading");
        let body = stream_local(&args.file, bar.clone())?;
        let summary = ws.put(&target.repo, &target.reference, &path, false, args.append, body).await;
        bar.finish_and_clear();
        summary?
    };
    let rows = [
        ("commit", format!("{}@{}", target.repo, summary.commit)),
        ("files", summary.files.to_string()),
        ("bytes", bytes(summary.bytes)),
        ("stored", bytes(summary.stored_bytes)),
    ];
    print_record(global.output, &summary, &rows).map_err(internal)
}

/// A local file or stdin as a streaming body.
fn stream_local(file: &str, bar: indicatif::ProgressBar) -> Result<reqwest::Body, Failure> {
    let mut reader: Box<dyn std::io::Read + Send> = if file == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(file).with_context(|| format!("cannot open {file}")).map_err(user)?)
    };
    Ok(body_from_writer(bar, move |writer| std::io::copy(&mut reader, writer).map(|_| ())))
}

/// Uploads a directory as `parallelism` tar streams into one commit.
async fn put_directory(
    global: &GlobalArgs,
    ws: &Workspace,
    target: &FileRef,
    args: &PutFileArgs,
) -> Result<PutSummary, Failure> {
    let root = PathBuf::from(&args.file);
    let files = local_files(&root).map_err(user)?;
    if files.is_empty() {
        return Err(user(anyhow!("{} holds no files", root.display())));
    }
    let total: u64 = files.iter().filter_map(|(p, _)| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    let dir = target.path_or("/");
    let streams = args.parallelism.clamp(1, 16).min(files.len());
    // Several streams must land in one commit: open it here unless the
    // branch already has an open commit.
    let head = ws.commit_inspect(&target.repo, &target.reference).await.ok();
    let opened = match &head {
        Some(commit) if commit.finished_at.is_none() => None,
        _ if streams > 1 => Some(ws.commit_start(&target.repo, &target.reference, "").await?),
        _ => None,
    };
    let reference = opened.as_ref().map_or_else(|| target.reference.clone(), |c| c.id.clone());
    let bar = progress(global, Some(total), "uploading");
    // Contiguous runs of the sorted files: the same tree always makes the
    // same streams (so re-uploads dedup to nothing), and one added file
    // shifts a boundary instead of reshuffling every stream.
    let per_stream = files.len().div_ceil(streams);
    let mut groups: Vec<Vec<(PathBuf, String)>> = Vec::with_capacity(streams);
    let mut files = files.into_iter().peekable();
    while files.peek().is_some() {
        groups.push(files.by_ref().take(per_stream).collect());
    }
    let uploads = groups.into_iter().map(|group| {
        let body = body_from_writer(bar.clone(), move |writer| tar_files(group, writer));
        ws.put(&target.repo, &reference, &dir, true, args.append, body)
    });
    let results = futures::future::join_all(uploads).await;
    bar.finish_and_clear();
    let mut summary = PutSummary { commit: String::new(), files: 0, bytes: 0, stored_bytes: 0, auto_committed: false };
    for result in results {
        let part = result?;
        summary.commit = part.commit;
        summary.files += part.files;
        summary.bytes += part.bytes;
        summary.stored_bytes += part.stored_bytes;
        summary.auto_committed |= part.auto_committed;
    }
    if let Some(commit) = opened {
        ws.commit_finish(&target.repo, &commit.id, &FinishCommit::default()).await?;
        summary.auto_committed = true;
    }
    Ok(summary)
}

// ---- get file ------------------------------------------------------------

pub async fn get(global: &GlobalArgs, command: GetCommand) -> Result<(), Failure> {
    let GetCommand::File { source, out, recursive, offset, length } = command;
    let ws = workspace(global).await?;
    let source = FileRef::parse(&source).map_err(user)?;
    let path = source.path_or("/");
    if recursive {
        let out = out.ok_or_else(|| user(anyhow!("-r needs --out DIR to unpack into")))?;
        let response = ws.get_tar(&source.repo, &source.reference, &path).await?;
        let bar = progress(global, None, "downloading");
        unpack_response(response, out, bar.clone()).await?;
        bar.finish_and_clear();
        return Ok(());
    }
    let response = ws.get_file(&source.repo, &source.reference, &path, offset, length).await?;
    let bar = progress(global, response.content_length(), "downloading");
    let mut sink: Box<dyn Write + Send> = match &out {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display())).map_err(user)?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| internal(anyhow!("download interrupted: {e}")))?;
        bar.inc(piece.len() as u64);
        sink.write_all(&piece).map_err(|e| internal(anyhow!("cannot write: {e}")))?;
    }
    sink.flush().map_err(|e| internal(anyhow!("cannot write: {e}")))?;
    bar.finish_and_clear();
    Ok(())
}

/// Unpacks a tar response into `out` on a blocking thread.
async fn unpack_response(
    response: reqwest::Response,
    out: PathBuf,
    bar: indicatif::ProgressBar,
) -> Result<(), Failure> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Bytes, String>>(8);
    let unpack = tokio::task::spawn_blocking(move || unpack_tar(ReceiverReader { rx, current: Bytes::new() }, &out));
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| e.to_string());
        if let Ok(bytes) = &piece {
            bar.inc(bytes.len() as u64);
        }
        if tx.send(piece).is_err() {
            break;
        }
    }
    drop(tx);
    unpack.await.map_err(|e| internal(anyhow!("{e}")))?.map_err(|e| internal(anyhow!("cannot unpack: {e}")))
}

/// Writes the regular files of a tar stream below `out`. Entry names come
/// from the server, so absolute paths and `..` are refused rather than
/// followed.
fn unpack_tar(reader: impl std::io::Read, out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let mut made = std::collections::HashSet::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path()?.into_owned();
        if name.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(std::io::Error::other(format!(
                "refusing to unpack `{}`: not a plain relative path",
                name.display()
            )));
        }
        let target = out.join(&name);
        if let Some(parent) = target.parent()
            && made.insert(parent.to_path_buf())
        {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::File::create(&target)?;
        std::io::copy(&mut entry, &mut file)?;
    }
    Ok(())
}

struct ReceiverReader {
    rx: std::sync::mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl std::io::Read for ReceiverReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(Ok(bytes)) => self.current = bytes,
                Ok(Err(error)) => return Err(std::io::Error::other(error)),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

// ---- the rest --------------------------------------------------------

pub async fn list(global: &GlobalArgs, command: ListCommand) -> Result<(), Failure> {
    let ListCommand::File { source } = command;
    let source = FileRef::parse(&source).map_err(user)?;
    let files = workspace(global).await?.file_list(&source.repo, &source.reference, &source.path_or("/")).await?;
    print_files(global.output, &files).map_err(internal)
}

pub async fn glob(global: &GlobalArgs, command: GlobCommand) -> Result<(), Failure> {
    let GlobCommand::File { pattern } = command;
    let source = FileRef::parse(&pattern).map_err(user)?;
    let files = workspace(global).await?.file_glob(&source.repo, &source.reference, &source.path_or("/")).await?;
    print_files(global.output, &files).map_err(internal)
}

pub async fn diff(global: &GlobalArgs, command: DiffCommand) -> Result<(), Failure> {
    let DiffCommand::File { new, old } = command;
    let new = FileRef::parse(&new).map_err(user)?;
    let old = old.map(|o| FileRef::parse(&o)).transpose().map_err(user)?;
    let entries = workspace(global)
        .await?
        .file_diff(
            &new.repo,
            &new.reference,
            &new.path_or("/"),
            old.as_ref().map(|o| (o.repo.as_str(), o.reference.as_str())),
        )
        .await?;
    let rows = entries
        .iter()
        .map(|e| {
            let sign = match e.change {
                strata_api_types::pfs::DiffKind::Added => "+",
                strata_api_types::pfs::DiffKind::Removed => "-",
                strata_api_types::pfs::DiffKind::Modified => "~",
            };
            vec![
                sign.to_owned(),
                e.path.clone(),
                e.old_size.map(bytes).unwrap_or_default(),
                e.new_size.map(bytes).unwrap_or_default(),
            ]
        })
        .collect();
    print_table(global.output, &entries, &["", "path", "old size", "new size"], rows).map_err(internal)
}

pub async fn inspect(global: &GlobalArgs, command: InspectCommand) -> Result<(), Failure> {
    let InspectCommand::File { source } = command;
    let source = FileRef::parse(&source).map_err(user)?;
    let info = workspace(global).await?.file_inspect(&source.repo, &source.reference, &source.path_or("/")).await?;
    let rows = [
        ("path", info.path.clone()),
        ("type", format!("{:?}", info.kind).to_lowercase()),
        ("size", bytes(info.size)),
        ("hash", info.hash.clone()),
    ];
    print_record(global.output, &info, &rows).map_err(internal)
}

pub async fn delete(global: &GlobalArgs, command: DeleteCommand) -> Result<(), Failure> {
    let DeleteCommand::File { target } = command;
    let target = FileRef::parse(&target).map_err(user)?;
    let path = target.required_path().map_err(user)?;
    let result = workspace(global).await?.file_delete(&target.repo, &target.reference, &path).await?;
    print_record(global.output, &result, &[("commit", result.commit.clone())]).map_err(internal)
}

pub async fn copy(global: &GlobalArgs, command: CopyCommand) -> Result<(), Failure> {
    let CopyCommand::File { source, target } = command;
    let source = FileRef::parse(&source).map_err(user)?;
    let target = FileRef::parse(&target).map_err(user)?;
    let body = CopyFile {
        src_repo: source.repo.clone(),
        src_ref: source.reference.clone(),
        src_path: source.required_path().map_err(user)?,
        dst_path: target.required_path().map_err(user)?,
    };
    let summary = workspace(global).await?.file_copy(&target.repo, &target.reference, &body).await?;
    print_record(global.output, &summary, &[("commit", summary.commit.clone()), ("files", summary.files.to_string())])
        .map_err(internal)
}

pub async fn file(global: &GlobalArgs, command: FileCommand) -> Result<(), Failure> {
    let FileCommand::History { source, limit } = command;
    let source = FileRef::parse(&source).map_err(user)?;
    let path = source.required_path().map_err(user)?;
    let commits = workspace(global).await?.file_history(&source.repo, &source.reference, &path, limit).await?;
    print_commits(global.output, &commits).map_err(internal)
}

pub async fn fsck(global: &GlobalArgs) -> Result<(), Failure> {
    let report = workspace(global).await?.fsck().await?;
    let status =
        if report.problems.is_empty() { "clean".to_owned() } else { format!("{} problems", report.problems.len()) };
    let mut rows = vec![
        ("status", status),
        ("commits checked", report.commits_checked.to_string()),
        ("objects checked", report.objects_checked.to_string()),
    ];
    rows.extend(report.problems.iter().map(|p| ("problem", p.clone())));
    print_record(global.output, &report, &rows).map_err(internal)?;
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(internal(anyhow!("fsck found {} problems", report.problems.len())))
    }
}

pub async fn gc(global: &GlobalArgs, grace_secs: u64) -> Result<(), Failure> {
    let report = workspace(global).await?.gc(grace_secs).await?;
    let rows = [
        ("deleted", format!("{} objects, {}", report.objects_deleted, bytes(report.bytes_deleted))),
        ("kept", format!("{} objects, {}", report.objects_kept, bytes(report.bytes_kept))),
    ];
    print_record(global.output, &report, &rows).map_err(internal)
}
