//! Rows of `pps_secrets`: one sealed value per secret (see `crate::secrets`).

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entities::secret;
use super::{Meta, Stored};
use crate::error::PpsError;

const SECRETS: &str = "pps_secrets";

/// A secret as stored: its key names in clear, its values sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    pub name: String,
    pub keys: Vec<String>,
    pub key_id: String,
    /// `nonce || ciphertext || tag`.
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Meta {
    /// Creates a secret, or replaces one (keeping its creation time) when
    /// `replace`; false when it exists and may not be replaced.
    pub async fn secret_put(&self, row: &SecretRow, replace: bool) -> Result<bool, PpsError> {
        use base64::Engine;
        let model = secret::ActiveModel {
            name: Set(row.name.clone()),
            keys: Set(super::json(&row.keys)),
            key_id: Set(row.key_id.clone()),
            sealed: Set(base64::engine::general_purpose::STANDARD.encode(&row.sealed)),
            created_at: Set(row.created_at),
            updated_at: Set(row.updated_at),
        };
        let mut conflict = OnConflict::column(secret::Column::Name);
        if replace {
            conflict.update_columns([
                secret::Column::Keys,
                secret::Column::KeyId,
                secret::Column::Sealed,
                secret::Column::UpdatedAt,
            ]);
        } else {
            conflict.do_nothing();
        }
        let inserted = secret::Entity::insert(model).on_conflict(conflict).exec_without_returning(&self.db).await?;
        Ok(inserted > 0)
    }

    pub async fn secret_get(&self, name: &str) -> Result<Option<SecretRow>, PpsError> {
        secret::Entity::find_by_id(name.to_owned()).one(&self.db).await?.map(secret_row).transpose()
    }

    /// Every secret, by name.
    pub async fn secret_list(&self) -> Result<Vec<SecretRow>, PpsError> {
        let rows = secret::Entity::find().order_by_asc(secret::Column::Name).all(&self.db).await?;
        rows.into_iter().map(secret_row).collect()
    }

    /// The secrets of `names` that exist.
    pub async fn secrets_named(&self, names: &[&str]) -> Result<Vec<SecretRow>, PpsError> {
        let rows =
            secret::Entity::find().filter(secret::Column::Name.is_in(names.iter().copied())).all(&self.db).await?;
        rows.into_iter().map(secret_row).collect()
    }

    /// Deletes a secret; false when there was none.
    pub async fn secret_delete(&self, name: &str) -> Result<bool, PpsError> {
        let result = secret::Entity::delete_by_id(name.to_owned()).exec(&self.db).await?;
        Ok(result.rows_affected > 0)
    }
}

fn secret_row(row: secret::Model) -> Result<SecretRow, PpsError> {
    use base64::Engine;
    let stored = Stored { table: SECRETS, key: &row.name };
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(row.sealed.trim())
        .map_err(|source| stored.corrupted("sealed", source))?;
    Ok(SecretRow {
        keys: stored.json("keys", &row.keys)?,
        key_id: row.key_id,
        sealed,
        created_at: row.created_at,
        updated_at: row.updated_at,
        name: row.name,
    })
}
