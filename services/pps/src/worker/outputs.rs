//! Uploading a datum's `/pfs/out` into the job's output commit.

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

/// Packs every file under `out` (following symlinks, as Pachyderm uploads
/// their targets) into `archive` and posts it into `repo@job`. Nothing is
/// sent when `out` is empty.
pub(super) async fn upload(
    ws: &Workspace,
    repo: &str,
    job: &str,
    out: &Path,
    archive: &Path,
) -> Result<Uploaded, OutputError> {
    let (out_dir, tar_path) = (out.to_path_buf(), archive.to_path_buf());
    let uploaded = tokio::task::spawn_blocking(move || pack(&out_dir, &tar_path))
        .await
        .map_err(|e| std::io::Error::other(format!("packing stopped: {e}")))??;
    if uploaded.paths.is_empty() {
        return Ok(uploaded);
    }
    let file = tokio::fs::File::open(archive).await?;
    let body = reqwest::Body::wrap_stream(ReaderStream::new(file));
    ws.put(repo, job, "/", true, false, body).await?;
    tokio::fs::remove_file(archive).await?;
    Ok(uploaded)
}

fn pack(out: &Path, archive: &Path) -> Result<Uploaded, OutputError> {
    let mut files = Vec::new();
    collect(out, out, &mut files)?;
    files.sort();
    let mut uploaded = Uploaded::default();
    if files.is_empty() {
        return Ok(uploaded);
    }
    let mut builder = tar::Builder::new(std::fs::File::create(archive)?);
    builder.follow_symlinks(true);
    for relative in files {
        let text = relative.to_str().ok_or_else(|| OutputError::NotUtf8(relative.clone()))?.to_owned();
        let full = out.join(&relative);
        uploaded.bytes += std::fs::metadata(&full)?.len();
        builder.append_path_with_name(&full, &relative)?;
        uploaded.paths.push(format!("/{text}"));
    }
    builder.finish()?;
    Ok(uploaded)
}

/// Files (and symlinks to files) below `dir`, relative to `base`.
fn collect(base: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let meta = std::fs::metadata(&path)?;
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
    fn outputs_are_packed_with_their_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("deep")).unwrap();
        std::fs::write(out.join("a.txt"), "aa").unwrap();
        std::fs::write(out.join("deep/b.txt"), "bbb").unwrap();
        std::os::unix::fs::symlink(out.join("a.txt"), out.join("link")).unwrap();
        let uploaded = pack(&out, &dir.path().join("out.tar")).unwrap();
        assert_eq!(uploaded.paths, ["/a.txt", "/deep/b.txt", "/link"]);
        assert_eq!(uploaded.bytes, 7);
    }

    #[test]
    fn an_empty_output_packs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        let uploaded = pack(&dir.path().join("out"), &dir.path().join("out.tar")).unwrap();
        assert!(uploaded.paths.is_empty());
        assert!(!dir.path().join("out.tar").exists());
    }
}
