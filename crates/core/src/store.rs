//! The object store holding file contents, selected by URL.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::ObjectStoreUrl;
use crate::error::{Error, Result};

/// A shared handle to any object store.
pub type DynObjectStore = Arc<dyn ObjectStore>;

/// Opens the store named by `url`. Local directories are created; cloud
/// stores read credentials from the provider's usual environment variables
/// (`AWS_*`, `GOOGLE_*`, `AZURE_*`) and keep the URL's path as a key prefix.
pub fn open(url: &ObjectStoreUrl) -> Result<DynObjectStore> {
    let error = |message: String, source: Option<object_store::Error>| Error::ObjectStore {
        url: url.describe(),
        message,
        source,
    };
    match url {
        ObjectStoreUrl::Memory => Ok(Arc::new(InMemory::new())),
        ObjectStoreUrl::Local(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| error(format!("cannot create directory {}: {e}", dir.display()), None))?;
            let store = LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| error("cannot open directory".to_owned(), Some(e)))?;
            Ok(Arc::new(store))
        }
        ObjectStoreUrl::Cloud(cloud) => {
            let bucket: DynObjectStore = match cloud.scheme() {
                "s3" => Arc::new(
                    AmazonS3Builder::from_env()
                        .with_url(cloud.as_str())
                        .build()
                        .map_err(|e| error("cannot configure S3".to_owned(), Some(e)))?,
                ),
                "gs" => Arc::new(
                    GoogleCloudStorageBuilder::from_env()
                        .with_url(cloud.as_str())
                        .build()
                        .map_err(|e| error("cannot configure GCS".to_owned(), Some(e)))?,
                ),
                _ => Arc::new(
                    MicrosoftAzureBuilder::from_env()
                        .with_url(cloud.as_str())
                        .build()
                        .map_err(|e| error("cannot configure Azure".to_owned(), Some(e)))?,
                ),
            };
            let prefix = cloud.path().trim_matches('/');
            if prefix.is_empty() { Ok(bucket) } else { Ok(Arc::new(PrefixStore::new(bucket, prefix))) }
        }
    }
}

/// Proves the store is reachable and writable: writes, reads back and
/// deletes a small probe object under `_probe/`.
pub async fn probe(store: &dyn ObjectStore) -> Result<(), object_store::Error> {
    let path = ObjectPath::from(format!("_probe/{}", uuid::Uuid::new_v4()));
    let body = b"strata readiness probe";
    store.put(&path, PutPayload::from_static(body)).await?;
    let read = store.get(&path).await?.bytes().await?;
    store.delete(&path).await?;
    if read.as_ref() == body {
        Ok(())
    } else {
        Err(object_store::Error::Generic {
            store: "probe",
            source: "the probe object read back different bytes".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_store_is_created_and_passes_the_probe() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("nested/objects");
        let store = open(&ObjectStoreUrl::Local(root.clone())).expect("open");
        probe(store.as_ref()).await.expect("probe");
        assert!(root.is_dir());
    }

    #[tokio::test]
    async fn the_memory_store_passes_the_probe() {
        let store = open(&ObjectStoreUrl::Memory).expect("open");
        probe(store.as_ref()).await.expect("probe");
    }

    #[test]
    fn a_local_store_under_a_file_is_reported_with_its_path() {
        let file = tempfile::NamedTempFile::new().expect("file");
        let Err(error) = open(&ObjectStoreUrl::Local(file.path().join("objects"))) else {
            panic!("a directory below a file cannot be created");
        };
        assert!(error.to_string().contains("cannot create directory"), "{error}");
    }
}
