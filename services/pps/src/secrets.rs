//! The workspace's secrets: what `transform.secrets` and
//! `transform.image_pull_secrets` name (Pachyderm reads Kubernetes secrets;
//! a hosted workspace has no Kubernetes API, so Strata keeps its own).
//!
//! Values are write-only: no call returns them, only their key names. They
//! are sealed at rest ([`strata_core::sealing`], AES-256-GCM) under keys
//! derived for this workspace from the installation's master keys, bound to
//! the secret's name, so a row copied under another name does not open.
//! Only tasks carry values, to the pipeline's own workers
//! (`crate::exposure`).

use std::collections::BTreeMap;

use chrono::Utc;
use secrecy::SecretString;
use strata_api_types::pps::{PutSecret, SecretInfo};
use strata_core::sealing::Sealed;

use crate::error::PpsError;
use crate::meta::SecretRow;
use crate::service::Pps;

/// Kubernetes' limit on a secret's size, kept so secrets move between the two.
const MAX_SECRET_BYTES: usize = 1 << 20;
/// What the sealed values are, in their associated data.
const SEALED_LABEL: &str = "pps_secrets.sealed";

/// A secret's values by key; `Debug` shows no value.
pub type SecretValues = BTreeMap<String, SecretString>;

impl Pps {
    /// Creates a secret, or replaces it when `overwrite`.
    pub async fn secret_put(&self, name: &str, put: PutSecret) -> Result<SecretInfo, PpsError> {
        check_name(name)?;
        check_data(&put)?;
        let sealer = self.sealer()?;
        let keys: Vec<String> = put.data.keys().cloned().collect();
        let plain: BTreeMap<&str, &str> = put.data.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        let plaintext = serde_json::to_vec(&plain).map_err(PpsError::internal)?;
        let sealed = sealer
            .seal(SEALED_LABEL, name, &plaintext)
            .map_err(|e| PpsError::internal(format!("secret {name}: {e}")))?;
        let now = Utc::now();
        let row = SecretRow {
            name: name.to_owned(),
            keys,
            key_id: sealed.key_id,
            sealed: sealed.bytes,
            created_at: now,
            updated_at: now,
        };
        if !self.meta().secret_put(&row, put.overwrite).await? {
            return Err(PpsError::AlreadyExists {
                what: format!("secret {name}"),
                hint: "; pass --overwrite to replace its values".to_owned(),
            });
        }
        self.secret_inspect(name).await
    }

    /// A secret's name, keys and times; never its values.
    pub async fn secret_inspect(&self, name: &str) -> Result<SecretInfo, PpsError> {
        let row = self.meta().secret_get(name).await?.ok_or_else(|| missing(name))?;
        Ok(info(row))
    }

    pub async fn secret_list(&self) -> Result<Vec<SecretInfo>, PpsError> {
        Ok(self.meta().secret_list().await?.into_iter().map(info).collect())
    }

    pub async fn secret_delete(&self, name: &str) -> Result<(), PpsError> {
        if self.meta().secret_delete(name).await? { Ok(()) } else { Err(missing(name)) }
    }

    /// The values of the named secrets, opened, for a task. A name that is
    /// not a secret is an error naming it.
    pub(crate) async fn secret_values(&self, names: &[&str]) -> Result<BTreeMap<String, SecretValues>, PpsError> {
        let sealer = self.sealer()?;
        let rows = self.meta().secrets_named(names).await?;
        if let Some(absent) = names.iter().find(|name| !rows.iter().any(|row| row.name == **name)) {
            return Err(missing(absent));
        }
        let mut values = BTreeMap::new();
        for row in rows {
            let sealed = Sealed { key_id: row.key_id, bytes: row.sealed };
            let plain = sealer.open(SEALED_LABEL, &row.name, &sealed).map_err(|error| {
                PpsError::internal(format!(
                    "secret {} does not open: {error}; the installation's master keys changed without keeping the old one",
                    row.name
                ))
            })?;
            let opened: BTreeMap<String, String> = serde_json::from_slice(&plain)
                .map_err(|e| PpsError::internal(format!("secret {} holds no key map: {e}", row.name)))?;
            let opened = opened.into_iter().map(|(k, v)| (k, SecretString::from(v))).collect();
            values.insert(row.name, opened);
        }
        Ok(values)
    }

    fn sealer(&self) -> Result<&strata_core::sealing::Sealer, PpsError> {
        self.inner.secrets.as_ref().ok_or_else(|| {
            PpsError::Conflict(
                "this workspace server keeps no secrets: it was started without secret keys \
                 (the installation's master key derives them)"
                    .to_owned(),
            )
        })
    }
}

fn missing(name: &str) -> PpsError {
    PpsError::not_found(
        format!("secret {name}"),
        format!("create it with `strata secret create {name} --from-literal KEY=VALUE`"),
    )
}

fn info(row: SecretRow) -> SecretInfo {
    SecretInfo {
        name: row.name,
        keys: row.keys,
        created_at: row.created_at.to_rfc3339(),
        updated_at: row.updated_at.to_rfc3339(),
    }
}

fn check_name(name: &str) -> Result<(), PpsError> {
    crate::spec::check_secret_name(name).map_err(|rule| PpsError::invalid("secret name", format!("{name:?}: {rule}")))
}

/// Keys as Kubernetes allows them, at least one, at most 1 MiB in all.
fn check_data(put: &PutSecret) -> Result<(), PpsError> {
    if put.data.is_empty() {
        return Err(PpsError::invalid("data", "a secret needs at least one key, e.g. --from-literal password=..."));
    }
    let mut size = 0;
    for (key, value) in &put.data {
        let valid = !key.is_empty()
            && key.len() <= 253
            && key != "."
            && key != ".."
            && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(PpsError::invalid(
                "data",
                format!("{key:?} is not a key: keys are letters, digits, `-`, `_` and `.` (as in Kubernetes)"),
            ));
        }
        size += key.len() + value.expose().len();
    }
    if size > MAX_SECRET_BYTES {
        return Err(PpsError::TooLarge(format!("the secret holds {size} bytes; at most {MAX_SECRET_BYTES} are kept")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use secrecy::ExposeSecret;
    use strata_core::master_key::MasterKeys;

    use super::*;

    async fn pps(dir: &std::path::Path, keys: Option<MasterKeys>) -> Pps {
        use strata_core::config::{DatabaseUrl, ObjectStoreUrl};
        let db = strata_core::db::connect(&DatabaseUrl::Sqlite(dir.join("strata.db"))).await.expect("db");
        let store = strata_core::store::open(&ObjectStoreUrl::Memory).expect("store");
        let pfs = strata_pfs::Pfs::open(db.clone(), store.clone()).await.expect("pfs");
        let queue = Arc::new(strata_queue::InProcessQueue::new(Duration::from_secs(30)));
        let settings = crate::PpsSettings { secrets_keys: keys, ..crate::PpsSettings::default() };
        Pps::open(pfs, db, store, queue, settings, None).await.expect("pps")
    }

    fn put(pairs: &[(&str, &str)], overwrite: bool) -> PutSecret {
        let data =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), strata_api_types::pps::SecretText((*v).to_owned()))).collect();
        PutSecret { data, overwrite }
    }

    #[tokio::test]
    async fn values_go_in_sealed_and_come_out_only_to_tasks() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = MasterKeys::generate();
        let pps = pps(dir.path(), Some(keys.clone())).await;
        let info = pps.secret_put("db", put(&[("password", "hunter2"), ("user", "app")], false)).await.expect("put");
        assert_eq!(info.keys, ["password", "user"]);
        assert!(!serde_json::to_string(&pps.secret_list().await.expect("list")).expect("json").contains("hunter2"));

        let row = pps.meta().secret_get("db").await.expect("read").expect("the row");
        assert!(!row.sealed.windows(7).any(|w| w == b"hunter2"), "the value is not stored in clear");
        let values = pps.secret_values(&["db"]).await.expect("values");
        assert_eq!(values["db"]["password"].expose_secret(), "hunter2");
        assert!(!format!("{values:?}").contains("hunter2"), "Debug shows no value");

        let again = pps.secret_put("db", put(&[("password", "x")], false)).await.expect_err("exists");
        assert!(matches!(again, PpsError::AlreadyExists { .. }), "{again}");
        pps.secret_put("db", put(&[("password", "rotated")], true)).await.expect("overwrite");
        assert_eq!(pps.secret_values(&["db"]).await.expect("values")["db"]["password"].expose_secret(), "rotated");
        pps.secret_delete("db").await.expect("delete");
        let gone = pps.secret_values(&["db"]).await.expect_err("deleted");
        assert!(gone.to_string().contains("strata secret create db"), "{gone}");
    }

    #[tokio::test]
    async fn a_row_moved_under_another_name_or_opened_with_another_key_does_not_open() {
        let dir = tempfile::tempdir().expect("dir");
        let pps_a = pps(dir.path(), Some(MasterKeys::generate())).await;
        pps_a.secret_put("a", put(&[("k", "v")], false)).await.expect("put");
        let mut moved = pps_a.meta().secret_get("a").await.expect("read").expect("row");
        moved.name = "b".to_owned();
        pps_a.meta().secret_put(&moved, false).await.expect("copy the row");
        let error = pps_a.secret_values(&["b"]).await.expect_err("another name");
        assert!(error.to_string().contains("does not open"), "{error}");

        let other_key = pps(dir.path(), Some(MasterKeys::generate())).await;
        let error = other_key.secret_values(&["a"]).await.expect_err("another key");
        assert!(error.to_string().contains("not configured"), "{error}");
        let no_keys = pps(dir.path(), None).await;
        assert!(matches!(no_keys.secret_values(&["a"]).await, Err(PpsError::Conflict(_))));
    }

    #[tokio::test]
    async fn names_keys_and_sizes_are_checked_before_anything_is_stored() {
        let dir = tempfile::tempdir().expect("dir");
        let pps = pps(dir.path(), Some(MasterKeys::generate())).await;
        for (name, data) in
            [("Bad", put(&[("k", "v")], false)), ("ok", put(&[("a/b", "v")], false)), ("ok", put(&[], false))]
        {
            let error = pps.secret_put(name, data).await.expect_err("invalid");
            assert!(matches!(error, PpsError::InvalidArgument { .. }), "{error}");
        }
        let big = "x".repeat(MAX_SECRET_BYTES + 1);
        assert!(matches!(pps.secret_put("big", put(&[("k", &big)], false)).await, Err(PpsError::TooLarge(_))));
        assert!(pps.secret_list().await.expect("list").is_empty());
    }
}
