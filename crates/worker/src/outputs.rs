//! Uploading datums' `/pfs/out` into the job's output commit: the outputs of
//! every successful datum of a task go up as one tar, so a task of many
//! small datums costs one request and one commit layer, while each datum's
//! paths are still known (the server checks them for conflicts).

use std::path::{Path, PathBuf};

use strata_client::Workspace;
use tokio_util::io::ReaderStream;

/// What one upload wrote.
#[derive(Debug, Default)]
pub(super) struct Uploaded {
    /// Absolute output paths, e.g. `/counts/a.txt`.
    pub paths: Vec<String>,
    pub bytes: u64,
}

/// Why outputs could not be uploaded.
#[derive(Debug, thiserror::Error)]
pub(super) enum OutputError {
    #[error(transparent)]
    Client(#[from] strata_client::ClientError),
    #[error("cannot read the output: {0}")]
    Io(#[from] std::io::Error),
    #[error("output path {0} is not valid UTF-8")]
    NotUtf8(PathBuf),
}

/// Packs every file under each of `outs` (following symlinks, as Pachyderm
/// uploads their targets) into `archive` and posts it into `repo@job`.
/// Returns what each directory held; nothing is sent when all are empty.
pub(super) async fn upload(
    ws: &Workspace,
    repo: &str,
    job: &str,
    outs: Vec<PathBuf>,
    archive: &Path,
) -> Result<Vec<Uploaded>, OutputError> {
    let tar_path = archive.to_path_buf();
    let uploaded = tokio::task::spawn_blocking(move || pack(&outs, &tar_path))
        .await
        .map_err(|e| std::io::Error::other(format!("packing stopped: {e}")))??;
    if uploaded.iter().all(|u| u.paths.is_empty()) {
        return Ok(uploaded);
    }
    let file = tokio::fs::File::open(archive).await?;
    let body = reqwest::Body::wrap_stream(ReaderStream::new(file));
    ws.put(repo, job, "/", true, false, body).await?;
    tokio::fs::remove_file(archive).await?;
    Ok(uploaded)
}

fn pack(outs: &[PathBuf], archive: &Path) -> Result<Vec<Uploaded>, OutputError> {
    let mut listed = Vec::with_capacity(outs.len());
    for out in outs {
        let mut files = Vec::new();
        collect(out, out, &mut files)?;
        files.sort();
        listed.push(files);
    }
    let mut all = Vec::with_capacity(outs.len());
    if listed.iter().all(Vec::is_empty) {
        all.resize_with(outs.len(), Uploaded::default);
        return Ok(all);
    }
    let mut builder = tar::Builder::new(std::fs::File::create(archive)?);
    builder.follow_symlinks(true);
    for (out, files) in outs.iter().zip(listed) {
        let mut uploaded = Uploaded::default();
        for relative in files {
            let text = relative.to_str().ok_or_else(|| OutputError::NotUtf8(relative.clone()))?.to_owned();
            // Checked again: the listing is a moment old.
            let full = confined(out, &out.join(&relative))?;
            uploaded.bytes += std::fs::metadata(&full)?.len();
            builder.append_path_with_name(&full, &relative)?;
            uploaded.paths.push(format!("/{text}"));
        }
        all.push(uploaded);
    }
    builder.finish()?;
    Ok(all)
}

/// Files (and symlinks to files) below `dir`, relative to `base`.
/// Where the worker finds what `path` (below the datum's `out`) names. A
/// symlink user code made to `/pfs/<input>/…` (Pachyderm's zero-copy
/// pattern) points into the datum's private namespace, which the worker
/// does not see: it is read from the same place under the datum's root.
fn host_path(out: &Path, path: &Path) -> PathBuf {
    let target = std::fs::read_link(path).ok();
    let inside = target.as_deref().and_then(|t| t.strip_prefix("/pfs").ok());
    match (inside, out.parent()) {
        (Some(rest), Some(root)) => root.join(rest),
        _ => path.to_path_buf(),
    }
}

/// Where the worker reads `path` (below the datum's `out`), with every symlink resolved,
/// which must be inside the datum's root. The worker reads outputs with more rights than
/// user code has (in namespace mode it is another uid, and sees the host's files): a link
/// to `/var/lib/strata/strata.db`, or `../../..` out of the datum, would otherwise upload
/// a file user code itself cannot read.
fn confined(out: &Path, path: &Path) -> std::io::Result<PathBuf> {
    let root = out.parent().unwrap_or(out).canonicalize()?;
    let resolved = host_path(out, path).canonicalize()?;
    if resolved.starts_with(&root) {
        Ok(resolved)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "output {} links outside the datum; only links into /pfs (the datum's inputs and output) are uploaded",
                path.strip_prefix(out).unwrap_or(path).display()
            ),
        ))
    }
}

fn collect(base: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let meta = std::fs::metadata(confined(base, &path)?)?;
        if meta.is_dir() {
            collect(base, &path, files)?;
        } else if meta.is_file() {
            files.push(path.strip_prefix(base).map_err(std::io::Error::other)?.to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_directory_s_outputs_are_packed_with_their_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("deep")).unwrap();
        std::fs::write(out.join("a.txt"), "aa").unwrap();
        std::fs::write(out.join("deep/b.txt"), "bbb").unwrap();
        std::os::unix::fs::symlink(out.join("a.txt"), out.join("link")).unwrap();
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("c.txt"), "c").unwrap();
        let uploaded = pack(&[out, other], &dir.path().join("out.tar")).unwrap();
        assert_eq!(uploaded[0].paths, ["/a.txt", "/deep/b.txt", "/link"]);
        assert_eq!(uploaded[0].bytes, 7);
        assert_eq!(uploaded[1].paths, ["/c.txt"]);
    }

    #[test]
    fn links_into_pfs_are_read_from_the_datum_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("in/x"), "input").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::os::unix::fs::symlink("/pfs/in/x", out.join("x")).unwrap();
        let uploaded = pack(&[out], &dir.path().join("out.tar")).unwrap();
        assert_eq!(uploaded[0].paths, ["/x"]);
        assert_eq!(uploaded[0].bytes, 5);
    }

    #[test]
    fn links_out_of_the_datum_are_refused_not_uploaded() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("strata.db");
        std::fs::write(&secret, "signing keys").unwrap();
        let root = dir.path().join("datum");
        let out = root.join("out");
        std::fs::create_dir_all(&out).unwrap();
        for (name, target) in
            [("abs", secret.clone()), ("rel", PathBuf::from("../../strata.db")), ("dir", dir.path().into())]
        {
            let link = out.join(name);
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let error = pack(std::slice::from_ref(&out), &root.join("out.tar")).unwrap_err();
            assert!(error.to_string().contains("links outside the datum"), "{name}: {error}");
            std::fs::remove_file(&link).unwrap();
        }
        // A link through /pfs that climbs out of the datum is refused too.
        std::os::unix::fs::symlink("/pfs/out/../../strata.db", out.join("climb")).unwrap();
        assert!(pack(std::slice::from_ref(&out), &root.join("out.tar")).is_err());
    }

    #[test]
    fn an_empty_output_packs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        let uploaded = pack(&[dir.path().join("out")], &dir.path().join("out.tar")).unwrap();
        assert!(uploaded[0].paths.is_empty());
        assert!(!dir.path().join("out.tar").exists());
    }
}
