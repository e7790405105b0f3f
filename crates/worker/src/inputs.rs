//! Downloading a task's inputs: one tar stream with every file of its
//! datums, unpacked into one directory per datum.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use futures::StreamExt;
use strata_client::Workspace;
use tokio::io::AsyncWriteExt;

/// Bytes of input per datum index.
pub(super) type InputBytes = HashMap<u32, u64>;

/// Why inputs could not be had.
#[derive(Debug, thiserror::Error)]
pub(super) enum InputError {
    #[error(transparent)]
    Client(#[from] strata_client::ClientError),
    #[error("input download broke off: {0}")]
    Stream(String),
    #[error("cannot unpack the inputs: {0}")]
    Unpack(#[from] std::io::Error),
}

/// Downloads the task's tar into `dir/inputs.tar` and unpacks it below
/// `dir/<index>/<input>/<path>`.
pub(super) async fn download(ws: &Workspace, delivery: &str, dir: &Path) -> Result<InputBytes, InputError> {
    tokio::fs::create_dir_all(dir).await?;
    let archive = dir.join("inputs.tar");
    let response = ws.task_inputs(delivery).await?;
    let mut file = tokio::fs::File::create(&archive).await?;
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| InputError::Stream(e.to_string()))?;
        file.write_all(&piece).await?;
    }
    file.flush().await?;
    drop(file);
    let target = dir.to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || unpack(&archive, &target))
        .await
        .map_err(|e| InputError::Stream(format!("unpacking stopped: {e}")))??;
    Ok(bytes)
}

/// Unpacks the archive (refusing paths that leave `dir`) and removes it.
fn unpack(archive: &Path, dir: &Path) -> std::io::Result<InputBytes> {
    let mut bytes = InputBytes::new();
    {
        let mut tar = tar::Archive::new(std::fs::File::open(archive)?);
        for entry in tar.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.into_owned();
            let Some(index) = datum_index(&path) else {
                return Err(std::io::Error::other(format!("unexpected member {}", path.display())));
            };
            *bytes.entry(index).or_default() += entry.size();
            if let Some(parent) = dir.join(&path).parent() {
                std::fs::create_dir_all(parent)?;
            }
            if !entry.unpack_in(dir)? {
                return Err(std::io::Error::other(format!("member {} leaves the directory", path.display())));
            }
        }
    }
    std::fs::remove_file(archive)?;
    Ok(bytes)
}

/// The datum index a member belongs to: its first path component.
fn datum_index(path: &Path) -> Option<u32> {
    match path.components().next()? {
        Component::Normal(first) => first.to_str()?.parse().ok(),
        _ => None,
    }
}

/// The directory of one datum's inputs.
pub(super) fn datum_root(dir: &Path, index: u32) -> PathBuf {
    dir.join(index.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_belong_to_the_datum_their_first_component_names() {
        assert_eq!(datum_index(Path::new("12/images/a/b.png")), Some(12));
        assert_eq!(datum_index(Path::new("x/images")), None);
        assert_eq!(datum_index(Path::new("/abs")), None);
    }

    #[test]
    fn an_archive_unpacks_per_datum_and_counts_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("in.tar");
        let mut builder = tar::Builder::new(std::fs::File::create(&archive).unwrap());
        for (name, body) in [("0/words/a.txt", "hello"), ("1/words/deep/b.txt", "hi")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, body.as_bytes()).unwrap();
        }
        builder.finish().unwrap();
        drop(builder);
        let bytes = unpack(&archive, dir.path()).unwrap();
        assert_eq!(bytes.get(&0), Some(&5));
        assert_eq!(bytes.get(&1), Some(&2));
        assert_eq!(std::fs::read_to_string(dir.path().join("1/words/deep/b.txt")).unwrap(), "hi");
        assert!(!archive.exists());
    }
}
