//! Signing keys and access tokens.
//!
//! Access tokens are short-lived EdDSA (Ed25519) JWTs naming their key in
//! `kid`. Keys live in `hub_signing_keys` so every hub replica signs and
//! verifies with the same set; the public halves are published as a JWKS at
//! `/.well-known/jwks.json` for workspace servers. Rotation adds a key that
//! signs from then on; the old one keeps verifying until every token it
//! signed has expired, then it leaves the JWKS.
//!
//! The private halves are stored sealed with the master key (see
//! `sealing`), bound to their `kid`; a ring that cannot open them fails to
//! load, naming the setting to fix.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use strata_core::id::UserId;
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::entities::signing_key;
use crate::error::{HubError, Result, UserError};
use crate::sealing::{Purpose, Sealed, Sealer};

/// Who issues and who accepts the hub's access tokens.
pub const ISSUER: &str = "strata-hub";
pub const AUDIENCE: &str = "strata";

/// How long an access token is good for.
pub const ACCESS_TOKEN_TTL: Duration = Duration::minutes(15);
/// Unknown `kid`s reload the keys from the database at most this often.
const RELOAD_AT_MOST_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// Clock skew tolerated between hub and workspace servers.
const LEEWAY_SECS: u64 = 30;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: String,
    /// The session the token was issued for; logging out revokes it.
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// One key of the ring. The private half never leaves this module.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_x: String,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// A public key as a JWK (RFC 8037: OKP, Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
}

/// The document served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The hub's signing keys, cached from the database.
#[derive(Debug, Clone)]
pub struct KeyRing {
    db: DatabaseConnection,
    sealer: Arc<Sealer>,
    keys: Arc<RwLock<Vec<SigningKey>>>,
    last_reload: Arc<tokio::sync::Mutex<Option<std::time::Instant>>>,
}

impl KeyRing {
    /// Loads the keys, making the first one if there is none, and seals
    /// again with the current master key those an older one sealed.
    pub(crate) async fn load(db: DatabaseConnection, sealer: Arc<Sealer>) -> Result<KeyRing> {
        let ring = KeyRing { db, sealer, keys: Arc::default(), last_reload: Arc::default() };
        ring.reload().await?;
        ring.reseal().await?;
        if ring.keys.read().await.iter().all(|key| key.retired_at.is_some()) {
            ring.rotate().await?;
        }
        Ok(ring)
    }

    async fn reload(&self) -> Result<()> {
        let rows = signing_key::Entity::find().order_by_asc(signing_key::Column::CreatedAt).all(&self.db).await?;
        let keys = rows.into_iter().map(|row| key_from_row(&self.sealer, row)).collect::<Result<Vec<_>>>()?;
        *self.keys.write().await = keys;
        Ok(())
    }

    /// Adds a new key that signs from now on and retires the current one
    /// (which still verifies the tokens it signed until they expire).
    pub async fn rotate(&self) -> Result<String> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| HubError::Crypto("cannot generate an Ed25519 key".to_owned()))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|e| HubError::Crypto(format!("generated key rejected: {e}")))?;
        let now = Utc::now();
        let kid = format!("k{}", &Uuid::new_v4().simple().to_string()[..12]);
        let sealed = self.sealer.seal(Purpose::SigningKey, &kid, pkcs8.as_ref())?;
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::RetiredAt, sea_orm::sea_query::Expr::value(Some(now)))
            .filter(signing_key::Column::RetiredAt.is_null())
            .exec(&self.db)
            .await?;
        signing_key::Entity::insert(signing_key::ActiveModel {
            kid: Set(kid.clone()),
            private_sealed: Set(sealed.bytes),
            sealing_key: Set(sealed.key_id),
            public_key: Set(pair.public_key().as_ref().to_vec()),
            created_at: Set(now),
            retired_at: Set(None),
        })
        .exec(&self.db)
        .await?;
        self.reload().await?;
        Ok(kid)
    }

    /// Seals again, with the current master key, the keys an older master
    /// key sealed, so that the older one can leave the configuration.
    async fn reseal(&self) -> Result<()> {
        let stale = signing_key::Entity::find()
            .filter(signing_key::Column::SealingKey.ne(self.sealer.sealing_key_id()))
            .all(&self.db)
            .await?;
        for row in stale {
            let pkcs8 = self.sealer.open(Purpose::SigningKey, &row.kid, &sealed_of(&row))?;
            let fresh = self.sealer.seal(Purpose::SigningKey, &row.kid, &pkcs8)?;
            // Conditional: a replica that resealed it meanwhile wins, which is as good.
            signing_key::Entity::update_many()
                .col_expr(signing_key::Column::PrivateSealed, sea_orm::sea_query::Expr::value(fresh.bytes))
                .col_expr(signing_key::Column::SealingKey, sea_orm::sea_query::Expr::value(fresh.key_id))
                .filter(signing_key::Column::Kid.eq(row.kid.as_str()))
                .filter(signing_key::Column::SealingKey.eq(row.sealing_key.as_str()))
                .exec(&self.db)
                .await?;
            tracing::info!(kid = %row.kid, "signing key sealed again with the current master key");
        }
        Ok(())
    }

    /// Signs an access token for `user` in `session`.
    pub async fn issue(&self, user: UserId, session: Uuid) -> Result<(String, DateTime<Utc>)> {
        let now = Utc::now();
        let expires = now + ACCESS_TOKEN_TTL;
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: user.to_string(),
            sid: session.to_string(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires.timestamp(),
        };
        let keys = self.keys.read().await;
        let key = keys
            .iter()
            .rev()
            .find(|key| key.retired_at.is_none())
            .ok_or_else(|| HubError::Crypto("no active signing key".to_owned()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|e| HubError::Crypto(format!("cannot sign a token: {e}")))?;
        Ok((token, expires))
    }

    /// Checks an access token's signature, algorithm, key, times, issuer
    /// and audience. Every failure is the same `UNAUTHENTICATED` error with a
    /// short reason; the token itself is never echoed.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims> {
        let rejected = |reason: &str| HubError::User(UserError::unauthenticated(format!("access token {reason}")));
        let header = jsonwebtoken::decode_header(token).map_err(|_| rejected("is malformed"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(rejected("uses an algorithm this server does not accept"));
        }
        let kid = header.kid.ok_or_else(|| rejected("names no key"))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "aud", "iss"]);
        if !self.knows(&kid).await {
            self.reload_if_stale().await?;
        }
        let decoded = {
            let keys = self.keys.read().await;
            let key = keys
                .iter()
                .find(|key| key.kid == kid && verifies_now(key))
                .ok_or_else(|| rejected("names an unknown key"))?;
            jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
        };
        let claims = decoded.map(|data| data.claims).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            match error.kind() {
                ErrorKind::ExpiredSignature => rejected("has expired; log in again or refresh it"),
                ErrorKind::ImmatureSignature => rejected("is not valid yet"),
                ErrorKind::InvalidAudience => rejected("is for another audience"),
                ErrorKind::InvalidIssuer => rejected("is from another issuer"),
                ErrorKind::InvalidSignature => rejected("has an invalid signature"),
                _ => rejected("is invalid"),
            }
        })?;
        // A signature only proves the hub signed these claims once: a token
        // living longer than any the hub issues (or issued in the future)
        // was forged with a stolen key or by a broken issuer.
        let leeway = LEEWAY_SECS as i64;
        if claims.exp.saturating_sub(claims.iat) > ACCESS_TOKEN_TTL.num_seconds() + leeway {
            return Err(rejected("lives longer than the hub issues tokens for"));
        }
        if claims.iat > Utc::now().timestamp() + leeway {
            return Err(rejected("is not valid yet"));
        }
        Ok(claims)
    }

    async fn knows(&self, kid: &str) -> bool {
        self.keys.read().await.iter().any(|key| key.kid == kid)
    }

    /// Another replica may have rotated the keys: look again, but at most
    /// every few seconds, so tokens with made-up `kid`s cannot make every
    /// request a database query.
    async fn reload_if_stale(&self) -> Result<()> {
        {
            let mut last = self.last_reload.lock().await;
            if last.is_some_and(|at| at.elapsed() < RELOAD_AT_MOST_EVERY) {
                return Ok(());
            }
            *last = Some(std::time::Instant::now());
        }
        self.reload().await
    }

    /// The public keys that verify tokens now.
    pub async fn jwks(&self) -> Jwks {
        let keys = self.keys.read().await;
        Jwks {
            keys: keys
                .iter()
                .filter(|key| verifies_now(key))
                .map(|key| Jwk {
                    kty: "OKP".to_owned(),
                    crv: "Ed25519".to_owned(),
                    x: key.public_x.clone(),
                    kid: key.kid.clone(),
                    use_: "sig".to_owned(),
                    alg: "EdDSA".to_owned(),
                })
                .collect(),
        }
    }

    /// When the newest key was made (for rotation schedules).
    pub async fn newest_key_created_at(&self) -> Option<DateTime<Utc>> {
        self.keys.read().await.last().map(|key| key.created_at)
    }
}

/// A retired key verifies until the last token it signed has expired.
fn verifies_now(key: &SigningKey) -> bool {
    key.retired_at.is_none_or(|retired| Utc::now() < retired + ACCESS_TOKEN_TTL + Duration::seconds(60))
}

fn sealed_of(row: &signing_key::Model) -> Sealed {
    Sealed { key_id: row.sealing_key.clone(), bytes: row.private_sealed.clone() }
}

fn key_from_row(sealer: &Sealer, row: signing_key::Model) -> Result<SigningKey> {
    let public_x = URL_SAFE_NO_PAD.encode(&row.public_key);
    let decoding = DecodingKey::from_ed_components(&public_x)
        .map_err(|e| HubError::Crypto(format!("stored public key {} is unusable: {e}", row.kid)))?;
    let pkcs8 = sealer.open(Purpose::SigningKey, &row.kid, &sealed_of(&row))?;
    Ok(SigningKey {
        encoding: EncodingKey::from_ed_der(&pkcs8),
        decoding,
        public_x,
        kid: row.kid,
        created_at: row.created_at,
        retired_at: row.retired_at,
    })
}
