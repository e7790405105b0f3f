//! PFS calls, scoped to one workspace.

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{ClientError, StrataClient};
use strata_api_types::pfs::{
    BranchInfo, CommitInfo, CopyFile, CreateBranch, CreateRepo, DiffEntry, FileDeleted, FileInfo, FinishCommit,
    FsckReport, GcReport, PutSummary, RepoInfo, ReposDeleted, StartCommit, StoredTotal,
};

/// PFS of one workspace: `client.workspace("default").repo_list()`.
#[derive(Debug, Clone)]
pub struct Workspace {
    client: StrataClient,
    /// Path segments of the workspace's API root.
    root: Vec<String>,
}

impl StrataClient {
    /// The PFS/PPS API of workspace `slug` as the server hosts it itself:
    /// `/v1/workspaces/{slug}` (the `local` organisation of `strata dev`,
    /// or a workspace server talking to its workers).
    pub fn workspace(&self, slug: &str) -> Workspace {
        Workspace { client: self.clone(), root: vec!["v1".into(), "workspaces".into(), slug.to_owned()] }
    }

    /// The PFS/PPS API of any workspace, through the hub's gateway:
    /// `/v1/orgs/{org}/workspaces/{slug}`.
    pub fn org_workspace(&self, org: &str, slug: &str) -> Workspace {
        let root = vec!["v1".into(), "orgs".into(), org.to_owned(), "workspaces".into(), slug.to_owned()];
        Workspace { client: self.clone(), root }
    }
}

impl Workspace {
    /// The workspace's slug, as this handle addresses it.
    pub fn slug(&self) -> &str {
        self.root.last().map_or("", String::as_str)
    }

    fn url(&self, segments: &[&str]) -> Result<url::Url, ClientError> {
        let mut all: Vec<&str> = self.root.iter().map(String::as_str).collect();
        all.extend_from_slice(segments);
        self.client.url(&all)
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&(impl Serialize + ?Sized)>,
        ok: &[u16],
    ) -> Result<T, ClientError> {
        let mut request = self.client.request_url(method, self.url(segments)?)?.query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self.client.send(request).await?;
        self.client.json(response, ok).await
    }

    /// A request to `segments` below the workspace, for answers the helpers
    /// here do not decode (an empty 204 or a stream); see the worker calls in
    /// `pps.rs`.
    pub(crate) fn request(&self, method: Method, segments: &[&str]) -> Result<reqwest::RequestBuilder, ClientError> {
        self.client.request_url(method, self.url(segments)?)
    }

    /// The connection, to send what [`Self::request`] built.
    pub(crate) fn client(&self) -> &StrataClient {
        &self.client
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        self.call(Method::GET, segments, query, None::<&()>, &[200]).await
    }

    pub(crate) async fn no_content(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<(), ClientError> {
        let request = self.client.request_url(method, self.url(segments)?)?.query(query);
        let response = self.client.send(request).await?;
        if response.status().is_success() {
            return Ok(());
        }
        self.client.json::<serde_json::Value>(response, &[]).await.map(|_| ())
    }

    pub async fn repo_create(&self, name: &str, description: &str) -> Result<RepoInfo, ClientError> {
        let body = CreateRepo { name: name.to_owned(), description: description.to_owned() };
        self.call(Method::POST, &["repos"], &[], Some(&body), &[201]).await
    }

    pub async fn repo_list(&self) -> Result<Vec<RepoInfo>, ClientError> {
        self.get(&["repos"], &[]).await
    }

    pub async fn repo_inspect(&self, repo: &str) -> Result<RepoInfo, ClientError> {
        self.get(&["repos", repo], &[]).await
    }

    pub async fn repo_delete(&self, repo: &str, force: bool) -> Result<Vec<String>, ClientError> {
        let deleted: ReposDeleted =
            self.call(Method::DELETE, &["repos", repo], &[("force", force.to_string())], None::<&()>, &[200]).await?;
        Ok(deleted.deleted)
    }

    pub async fn branch_create(&self, repo: &str, body: &CreateBranch) -> Result<BranchInfo, ClientError> {
        self.call(Method::POST, &["repos", repo, "branches"], &[], Some(body), &[201]).await
    }

    pub async fn branch_list(&self, repo: &str) -> Result<Vec<BranchInfo>, ClientError> {
        self.get(&["repos", repo, "branches"], &[]).await
    }

    pub async fn branch_inspect(&self, repo: &str, branch: &str) -> Result<BranchInfo, ClientError> {
        self.get(&["repos", repo, "branches", branch], &[]).await
    }

    pub async fn branch_delete(&self, repo: &str, branch: &str, force: bool) -> Result<(), ClientError> {
        self.no_content(Method::DELETE, &["repos", repo, "branches", branch], &[("force", force.to_string())]).await
    }

    pub async fn commit_start(&self, repo: &str, branch: &str, description: &str) -> Result<CommitInfo, ClientError> {
        let body = StartCommit { branch: branch.to_owned(), description: description.to_owned() };
        self.call(Method::POST, &["repos", repo, "commits"], &[], Some(&body), &[201]).await
    }

    pub async fn commit_finish(
        &self,
        repo: &str,
        reference: &str,
        body: &FinishCommit,
    ) -> Result<CommitInfo, ClientError> {
        self.call(Method::POST, &["repos", repo, "commits", reference, "finish"], &[], Some(body), &[200]).await
    }

    pub async fn commit_list(&self, repo: &str, limit: u64) -> Result<Vec<CommitInfo>, ClientError> {
        self.get(&["repos", repo, "commits"], &[("limit", limit.to_string())]).await
    }

    pub async fn commit_inspect(&self, repo: &str, reference: &str) -> Result<CommitInfo, ClientError> {
        self.get(&["repos", repo, "commits", reference], &[]).await
    }

    pub async fn commit_wait(&self, repo: &str, reference: &str, timeout_secs: u64) -> Result<CommitInfo, ClientError> {
        self.get(&["repos", repo, "commits", reference, "wait"], &[("timeout_secs", timeout_secs.to_string())]).await
    }

    pub async fn commit_squash(&self, repo: &str, reference: &str) -> Result<(), ClientError> {
        self.no_content(Method::POST, &["repos", repo, "commits", reference, "squash"], &[]).await
    }

    pub async fn commit_drop(&self, repo: &str, reference: &str) -> Result<(), ClientError> {
        self.no_content(Method::DELETE, &["repos", repo, "commits", reference], &[]).await
    }

    pub async fn commit_set(&self, id: &str) -> Result<Vec<CommitInfo>, ClientError> {
        self.get(&["commitsets", id], &[]).await
    }

    /// Streams `body` into one file. `tar` unpacks a tar stream below `path`.
    pub async fn put(
        &self,
        repo: &str,
        reference: &str,
        path: &str,
        tar: bool,
        append: bool,
        body: reqwest::Body,
    ) -> Result<PutSummary, ClientError> {
        // One file is a PUT of its bytes; a tar is POSTed and unpacked.
        let (kind, method) = if tar { ("tar", Method::POST) } else { ("files", Method::PUT) };
        let url = self.url(&["repos", repo, "refs", reference, kind, path])?;
        let request = self.client.request_url(method, url)?.query(&[("append", append.to_string())]).body(body);
        let response = self.client.send(request).await?;
        self.client.json(response, &[201]).await
    }

    /// Downloads a file (or a byte range); returns the streaming response.
    pub async fn get_file(
        &self,
        repo: &str,
        reference: &str,
        path: &str,
        offset: Option<u64>,
        length: Option<u64>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut query = Vec::new();
        if let Some(offset) = offset {
            query.push(("offset", offset.to_string()));
        }
        if let Some(length) = length {
            query.push(("length", length.to_string()));
        }
        self.stream(&["repos", repo, "refs", reference, "files", path], &query).await
    }

    /// Downloads a file or directory as a tar stream.
    pub async fn get_tar(&self, repo: &str, reference: &str, path: &str) -> Result<reqwest::Response, ClientError> {
        self.stream(&["repos", repo, "refs", reference, "tar", path], &[]).await
    }

    async fn stream(&self, segments: &[&str], query: &[(&str, String)]) -> Result<reqwest::Response, ClientError> {
        let request = self.client.request_url(Method::GET, self.url(segments)?)?.query(query);
        let response = self.client.send(request).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.client.json::<serde_json::Value>(response, &[]).await.err().unwrap_or(ClientError::Protocol {
                endpoint: self.root.join("/"),
                reason: "error status without body".into(),
            }))
        }
    }

    pub async fn file_list(&self, repo: &str, reference: &str, path: &str) -> Result<Vec<FileInfo>, ClientError> {
        self.get(&["repos", repo, "refs", reference, "list", path], &[]).await
    }

    pub async fn file_inspect(&self, repo: &str, reference: &str, path: &str) -> Result<FileInfo, ClientError> {
        self.get(&["repos", repo, "refs", reference, "inspect", path], &[]).await
    }

    pub async fn file_glob(&self, repo: &str, reference: &str, pattern: &str) -> Result<Vec<FileInfo>, ClientError> {
        self.get(&["repos", repo, "refs", reference, "glob"], &[("pattern", pattern.to_owned())]).await
    }

    pub async fn file_diff(
        &self,
        repo: &str,
        reference: &str,
        path: &str,
        old: Option<(&str, &str)>,
    ) -> Result<Vec<DiffEntry>, ClientError> {
        let mut query = Vec::new();
        if let Some((old_repo, old_ref)) = old {
            query.push(("old_repo", old_repo.to_owned()));
            query.push(("old_ref", old_ref.to_owned()));
        }
        self.get(&["repos", repo, "refs", reference, "diff", path], &query).await
    }

    pub async fn file_history(
        &self,
        repo: &str,
        reference: &str,
        path: &str,
        limit: u64,
    ) -> Result<Vec<CommitInfo>, ClientError> {
        self.get(&["repos", repo, "refs", reference, "history", path], &[("limit", limit.to_string())]).await
    }

    pub async fn file_delete(&self, repo: &str, reference: &str, path: &str) -> Result<FileDeleted, ClientError> {
        self.call(Method::DELETE, &["repos", repo, "refs", reference, "files", path], &[], None::<&()>, &[200]).await
    }

    pub async fn file_copy(&self, repo: &str, reference: &str, body: &CopyFile) -> Result<PutSummary, ClientError> {
        self.call(Method::POST, &["repos", repo, "refs", reference, "copy"], &[], Some(body), &[201]).await
    }

    pub async fn fsck(&self) -> Result<FsckReport, ClientError> {
        self.call(Method::POST, &["fsck"], &[], None::<&()>, &[200]).await
    }

    pub async fn gc(&self, grace_secs: u64) -> Result<GcReport, ClientError> {
        self.call(Method::POST, &["gc"], &[("grace_secs", grace_secs.to_string())], None::<&()>, &[200]).await
    }

    /// The bytes the workspace stores, as its storage limit counts them.
    pub async fn stored_total(&self) -> Result<StoredTotal, ClientError> {
        self.get(&["storage", "total"], &[]).await
    }

    pub async fn storage(&self) -> Result<std::collections::BTreeMap<String, u64>, ClientError> {
        self.get(&["storage"], &[]).await
    }
}
