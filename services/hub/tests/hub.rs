//! The hub's domain rules, run against SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use std::sync::Arc;

use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use strata_api_types::ErrorCode;
use strata_core::config::{DatabaseUrl, MasterKeys};
use strata_core::id::WorkspaceId;
use strata_hub::keys::{AUDIENCE, AccessClaims, ISSUER};
use strata_hub::{
    Hub, HubSettings, NewWorkspace, OrgRole, OutboxMailer, Principal, SignUp, WorkspaceRole, WorkspaceState,
};
use strata_testkit::{Backend, TestDatabase};

#[path = "hub/sso.rs"]
mod sso;

struct Fixture {
    hub: Hub,
    db: DatabaseConnection,
    outbox: OutboxMailer,
    /// The master key the hub encrypts with, as configured (base64).
    master_key: String,
    database: TestDatabase,
    dir: tempfile::TempDir,
}

/// A fresh master key as an operator would write it: 32 random bytes, base64.
fn new_master_key() -> String {
    use aws_lc_rs::rand::SecureRandom;
    use base64::Engine;
    let mut key = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut key).unwrap();
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn master_keys(text: &str) -> MasterKeys {
    MasterKeys::parse(text, "master_key_file").unwrap()
}

async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, |settings| settings).await
}

async fn fixture_with(backend: Backend, customize: impl FnOnce(HubSettings) -> HubSettings) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, dir.path()).await;
    let db = strata_core::db::connect(&DatabaseUrl::parse(&database.url()).unwrap()).await.unwrap();
    let outbox = OutboxMailer::new(dir.path().join("outbox"));
    let master_key = new_master_key();
    let settings = customize(HubSettings {
        public_url: "https://strata.test".into(),
        ..HubSettings::new(master_keys(&master_key))
    });
    let hub = Hub::open(db.clone(), Arc::new(outbox.clone()), settings).await.unwrap();
    Fixture { hub, db, outbox, master_key, database, dir }
}

impl Fixture {
    /// Another hub on the same database and master key (another replica).
    async fn replica(&self) -> Hub {
        Hub::open(self.db.clone(), Arc::new(self.outbox.clone()), HubSettings::new(master_keys(&self.master_key)))
            .await
            .unwrap()
    }
}

strata_testkit::on_both_backends!(
    sign_up_verify_and_log_in,
    refresh_tokens_rotate_and_reuse_revokes_the_session,
    sign_up_refuses_bad_input_with_field_errors,
    access_token_forgeries_are_refused,
    signed_access_tokens_longer_lived_than_the_hub_issues_are_refused,
    organisations_and_invitations,
    an_organisation_always_keeps_an_owner,
    workspaces_are_private_to_their_organisation,
    workspace_creation_is_idempotent_and_deletion_needs_confirmation,
    api_tokens_are_scoped_capped_and_revocable,
    signing_up_with_a_taken_email_creates_nothing_and_mails_its_owner,
    organisations_get_the_plans_and_workspace_counts_the_operator_gave_them,
    invitations_hold_seats_up_to_the_plan,
    a_workspace_route_costs_the_same_statements_whatever_exists,
    signing_keys_and_service_secrets_are_stored_encrypted_and_bound_to_their_row,
    a_wrong_master_key_stops_the_hub_naming_the_setting_and_an_old_one_rotates_out,
    an_upgrade_rotates_every_plain_secret_and_signing_key,
    an_upgrade_marks_the_teams_scim_made_with_an_external_id_as_scim_managed,
    corrupt_workspace_conditions_are_an_error_naming_the_row,
);

fn code(result: Result<impl std::fmt::Debug, strata_hub::HubError>) -> ErrorCode {
    match result {
        Ok(value) => panic!("expected a user error, got {value:?}"),
        Err(error) => error.user_error().unwrap_or_else(|| panic!("not a user error: {error:?}")).code,
    }
}

fn link_token(link: &str) -> String {
    link.split("token=").nth(1).expect("a token in the link").to_owned()
}

/// Signs up, verifies through the outbox link and logs in.
async fn person(f: &Fixture, email: &str) -> Principal {
    f.hub
        .sign_up(SignUp { email: email.into(), password: "a long passphrase 42".into(), display_name: None })
        .await
        .unwrap();
    let mail = f.outbox.messages_to(email).pop().expect("a verification mail");
    f.hub.verify_email(&link_token(mail.link.as_deref().unwrap())).await.unwrap();
    let tokens = f.hub.log_in(email, "a long passphrase 42", Some("203.0.113.9")).await.unwrap();
    f.hub.authenticate(&tokens.access_token).await.unwrap()
}

async fn sign_up_verify_and_log_in(backend: Backend) {
    let f = fixture(backend).await;
    let user = f
        .hub
        .sign_up(SignUp {
            email: " Ada@Example.com".into(),
            password: "a long passphrase 42".into(),
            display_name: Some("Ada".into()),
        })
        .await
        .unwrap()
        .expect("a new account");
    assert_eq!(user.email, "ada@example.com");
    assert!(!user.email_verified);

    let mail = f.outbox.messages_to("ada@example.com").pop().expect("verification mail");
    let link = mail.link.unwrap();
    assert!(link.starts_with("https://strata.test/verify-email?token="), "{link}");
    assert!(f.hub.verify_email(&link_token(&link)).await.unwrap().email_verified);
    assert_eq!(code(f.hub.verify_email(&link_token(&link)).await), ErrorCode::Expired, "links work once");
    assert_eq!(code(f.hub.verify_email("not-a-token").await), ErrorCode::NotFound);

    assert_eq!(code(f.hub.log_in("ada@example.com", "wrong password!!", None).await), ErrorCode::Unauthenticated);
    assert_eq!(
        code(f.hub.log_in("nobody@example.com", "a long passphrase 42", None).await),
        ErrorCode::Unauthenticated
    );
    let tokens = f.hub.log_in("ADA@example.com", "a long passphrase 42", None).await.unwrap();
    let principal = f.hub.authenticate(&tokens.access_token).await.unwrap();
    assert_eq!(principal.user_id, user.id);
    assert!(principal.email_verified);

    f.hub.log_out(&principal).await.unwrap();
    assert_eq!(code(f.hub.authenticate(&tokens.access_token).await), ErrorCode::Unauthenticated, "logged out");

    // Password reset: one link, old sessions end, the new password works.
    let other = f.hub.log_in("ada@example.com", "a long passphrase 42", None).await.unwrap();
    f.hub.request_password_reset("ada@example.com").await.unwrap();
    f.hub.request_password_reset("nobody@example.com").await.unwrap();
    let reset = f.outbox.messages_to("ada@example.com").pop().unwrap().link.unwrap();
    assert!(reset.contains("/reset-password?token="));
    f.hub.reset_password(&link_token(&reset), "another fine passphrase").await.unwrap();
    assert_eq!(code(f.hub.authenticate(&other.access_token).await), ErrorCode::Unauthenticated);
    assert!(f.hub.log_in("ada@example.com", "another fine passphrase", None).await.is_ok());
    assert!(f.outbox.messages_to("nobody@example.com").is_empty());
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_session(backend: Backend) {
    let f = fixture(backend).await;
    let _ = person(&f, "grace@example.com").await;
    let first = f.hub.log_in("grace@example.com", "a long passphrase 42", None).await.unwrap();
    let second = f.hub.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.session_id, first.session_id);
    assert!(f.hub.authenticate(&second.access_token).await.is_ok());
    // The first refresh token was copied by someone: using it again ends the session for both.
    assert_eq!(code(f.hub.refresh(&first.refresh_token).await), ErrorCode::Unauthenticated);
    assert_eq!(code(f.hub.refresh(&second.refresh_token).await), ErrorCode::Unauthenticated);
    assert_eq!(code(f.hub.authenticate(&second.access_token).await), ErrorCode::Unauthenticated);
}

async fn sign_up_refuses_bad_input_with_field_errors(backend: Backend) {
    let f = fixture(backend).await;
    let attempt =
        |email: &str, password: &str| SignUp { email: email.into(), password: password.into(), display_name: None };
    let _ = person(&f, "taken@example.com").await;
    for (form, field, expected) in [
        (attempt("not an email", "a long passphrase 42"), "email", ErrorCode::InvalidArgument),
        (attempt("new@example.com", "short"), "password", ErrorCode::WeakPassword),
        (attempt("new@example.com", "password1234"), "password", ErrorCode::WeakPassword),
        (
            attempt(&format!("{}@example.com", "x".repeat(500)), "a long passphrase 42"),
            "email",
            ErrorCode::InvalidArgument,
        ),
    ] {
        let error = f.hub.sign_up(form).await.unwrap_err();
        let error = error.user_error().unwrap();
        assert_eq!((error.field.as_deref(), error.code), (Some(field), expected), "{error}");
    }
    assert_eq!(code(f.hub.log_in("taken@example.com", &"p".repeat(10_000), None).await), ErrorCode::InvalidArgument);
}

/// Reads the active private key from the database and decrypts it with the
/// master key, as only someone with both could, to forge tokens with chosen
/// claims.
async fn signing_key(f: &Fixture) -> (String, EncodingKey) {
    let row =
        f.db.query_one_raw(Statement::from_string(
            f.db.get_database_backend(),
            "SELECT kid, private_sealed, sealing_key FROM hub_signing_keys WHERE retired_at IS NULL",
        ))
        .await
        .unwrap()
        .unwrap();
    let kid: String = row.try_get("", "kid").unwrap();
    let sealed: Vec<u8> = row.try_get("", "private_sealed").unwrap();
    let key_id: String = row.try_get("", "sealing_key").unwrap();
    let der = unseal(&f.master_key, "hub_signing_keys.private_sealed", &kid, &key_id, &sealed).unwrap();
    (kid, EncodingKey::from_ed_der(&der))
}

/// An organisation with an SSO connection whose client secret is `secret`; its id.
async fn sso_connection_of_a_new_org(f: &Fixture, secret: &str) -> String {
    let owner = person(f, "owner@sso.example").await;
    let org = f.hub.create_organization(&owner, "with-sso", None).await.unwrap();
    let input = strata_hub::SsoConnectionInput {
        issuer: "https://login.sso.example".into(),
        client_id: "strata".into(),
        client_secret: Some(secret.into()),
        ..strata_hub::SsoConnectionInput::default()
    };
    f.hub.configure_sso(&owner, "with-sso", input).await.unwrap();
    org.id.to_string()
}

/// The sealing key id and sealed bytes of the one SSO client secret stored.
async fn sso_client_secret_row(f: &Fixture) -> (String, Vec<u8>) {
    let rows = raw_rows(&f.db, "SELECT client_secret_key, client_secret_sealed FROM hub_sso_connections").await;
    let row = rows.unwrap().into_iter().next().expect("one SSO connection");
    (row.try_get("", "client_secret_key").unwrap(), row.try_get("", "client_secret_sealed").unwrap())
}

/// Decrypts a sealed column as documented (docs/configuration.md#master-key):
/// AES-256-GCM, `nonce || ciphertext || tag`, the column, row and master key
/// id as associated data.
fn unseal(master_key: &str, column: &str, row: &str, key_id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.decode(master_key).unwrap();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let aad = format!("strata 2026 sealed\0{column}\0{row}\0{key_id}");
    let mut in_out = ciphertext.to_vec();
    let nonce = Nonce::try_assume_unique_for_key(nonce).unwrap();
    key.open_in_place(nonce, Aad::from(aad.as_bytes()), &mut in_out).ok().map(|plain| plain.to_vec())
}

async fn access_token_forgeries_are_refused(backend: Backend) {
    let f = fixture(backend).await;
    let principal = person(&f, "eve@example.com").await;
    let strata_hub::Credential::Session { session_id } = principal.credential else { panic!() };
    let (kid, key) = signing_key(&f).await;
    let now = Utc::now().timestamp();
    let claims = |iss: &str, aud: &str, nbf: i64, exp: i64| AccessClaims {
        iss: iss.into(),
        aud: aud.into(),
        sub: principal.user_id.to_string(),
        sid: session_id.to_string(),
        iat: now,
        nbf,
        exp,
    };
    let sign = |kid: &str, claims: &AccessClaims, key: &EncodingKey| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    };
    let good = sign(&kid, &claims(ISSUER, AUDIENCE, now, now + 600), &key);
    assert!(f.hub.authenticate(&good).await.is_ok(), "the control case passes");

    // A key rotated by another replica (another Hub on the same database) verifies here too
    // (reloads for unknown keys happen at most every few seconds, so this comes first).
    let other = f.replica().await;
    other.keys().rotate().await.unwrap();
    let from_other = other.log_in("eve@example.com", "a long passphrase 42", None).await.unwrap();
    assert!(f.hub.authenticate(&from_other.access_token).await.is_ok(), "a key rotated elsewhere is picked up");

    let other_key = {
        use aws_lc_rs::signature::Ed25519KeyPair;
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        EncodingKey::from_ed_der(pkcs8.as_ref())
    };
    let unsigned = {
        use base64::Engine;
        let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let header = serde_json::json!({ "alg": "none", "typ": "JWT", "kid": kid });
        let body = serde_json::to_value(claims(ISSUER, AUDIENCE, now, now + 600)).unwrap();
        format!("{}.{}.", b64(&header), b64(&body))
    };
    let hs256 = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, &claims(ISSUER, AUDIENCE, now, now + 600), &EncodingKey::from_secret(b"guess"))
            .unwrap()
    };
    for (what, token) in [
        ("alg none", unsigned),
        ("HS256 with a guessed secret", hs256),
        ("wrong signature", sign(&kid, &claims(ISSUER, AUDIENCE, now, now + 600), &other_key)),
        ("unknown kid", sign("k000000000000", &claims(ISSUER, AUDIENCE, now, now + 600), &key)),
        ("expired", sign(&kid, &claims(ISSUER, AUDIENCE, now - 7200, now - 3600), &key)),
        ("not yet valid", sign(&kid, &claims(ISSUER, AUDIENCE, now + 3600, now + 7200), &key)),
        ("wrong audience", sign(&kid, &claims(ISSUER, "someone-else", now, now + 600), &key)),
        ("wrong issuer", sign(&kid, &claims("evil-hub", AUDIENCE, now, now + 600), &key)),
        ("garbage", "a.b.c".to_owned()),
    ] {
        let error = f.hub.authenticate(&token).await.expect_err(what);
        let error = error.user_error().expect(what);
        assert_eq!(error.code, ErrorCode::Unauthenticated, "{what}");
        assert!(!error.message.contains(&token), "{what}: the token is not echoed");
    }

    // Rotation: old tokens keep working until they expire; new ones use the new key.
    let new_kid = f.hub.keys().rotate().await.unwrap();
    assert!(f.hub.authenticate(&good).await.is_ok());
    let jwks = f.hub.keys().jwks().await;
    let kids: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
    assert!(kids.contains(&kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");
    assert!(jwks.keys.iter().all(|k| k.kty == "OKP" && k.crv == "Ed25519" && k.alg == "EdDSA"));

    // A deleted user's tokens stop working.
    f.hub.delete_user(&principal).await.unwrap();
    assert_eq!(code(f.hub.authenticate(&good).await), ErrorCode::Unauthenticated);
}

/// A correctly signed token is still refused when its lifetime is longer
/// than the hub ever issues (15 minutes, plus the clock skew allowed) or it
/// claims to be issued in the future: such a token was forged with a stolen key.
async fn signed_access_tokens_longer_lived_than_the_hub_issues_are_refused(backend: Backend) {
    let f = fixture(backend).await;
    let principal = person(&f, "mallory@example.com").await;
    let strata_hub::Credential::Session { session_id } = principal.credential else { panic!() };
    let (kid, key) = signing_key(&f).await;
    let now = Utc::now().timestamp();
    let token = |iat: i64, exp: i64| {
        let claims = AccessClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: principal.user_id.to_string(),
            sid: session_id.to_string(),
            iat,
            nbf: iat.min(now),
            exp,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let ttl = strata_hub::keys::ACCESS_TOKEN_TTL.num_seconds();
    assert!(f.hub.authenticate(&token(now, now + ttl)).await.is_ok(), "the lifetime the hub issues passes");
    for (what, forged) in [
        ("a year", token(now, now + 365 * 24 * 3600)),
        ("a day", token(now, now + 24 * 3600)),
        ("the lifetime plus two minutes", token(now, now + ttl + 120)),
        ("issued an hour ahead", token(now + 3600, now + 3600 + ttl)),
    ] {
        let error = f.hub.authenticate(&forged).await.expect_err(what);
        assert_eq!(error.user_error().expect(what).code, ErrorCode::Unauthenticated, "{what}");
    }
}

async fn organisations_and_invitations(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@example.com").await;
    let org = f.hub.create_organization(&owner, "acme", Some("Acme Data")).await.unwrap();
    assert_eq!(code(f.hub.create_organization(&owner, "acme", None).await), ErrorCode::AlreadyExists);
    assert_eq!(code(f.hub.create_organization(&owner, "Bad Slug", None).await), ErrorCode::InvalidArgument);

    let unverified = {
        f.hub
            .sign_up(SignUp {
                email: "new@example.com".into(),
                password: "a long passphrase 42".into(),
                display_name: None,
            })
            .await
            .unwrap();
        let tokens = f.hub.log_in("new@example.com", "a long passphrase 42", None).await.unwrap();
        f.hub.authenticate(&tokens.access_token).await.unwrap()
    };
    assert_eq!(code(f.hub.create_organization(&unverified, "mine", None).await), ErrorCode::Forbidden);

    let member = person(&f, "member@example.com").await;
    let stranger = person(&f, "stranger@example.com").await;
    assert_eq!(code(f.hub.org_for(&stranger, "acme").await), ErrorCode::NotFound);
    assert_eq!(code(f.hub.org_for(&stranger, "no-such-org").await), ErrorCode::NotFound);

    f.hub.invite_member(&owner, "acme", "Member@Example.com", OrgRole::Admin).await.unwrap();
    assert_eq!(
        code(f.hub.invite_member(&stranger, "acme", "x@example.com", OrgRole::Member).await),
        ErrorCode::NotFound
    );
    let link = f.outbox.messages_to("member@example.com").pop().unwrap().link.unwrap();
    assert!(link.contains("/accept-invitation?token="));
    let token = link_token(&link);
    assert_eq!(code(f.hub.accept_invitation(&stranger, &token).await), ErrorCode::NotFound, "not for them");
    let (joined, role) = f.hub.accept_invitation(&member, &token).await.unwrap();
    assert_eq!((joined.id, role), (org.id, OrgRole::Admin));
    assert_eq!(code(f.hub.accept_invitation(&member, &token).await), ErrorCode::Expired, "invitations work once");

    let members = f.hub.members(&member, "acme").await.unwrap();
    let emails: Vec<&str> = members.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(emails, ["member@example.com", "owner@example.com"]);
    // An admin cannot make owners or invite one.
    assert_eq!(code(f.hub.invite_member(&member, "acme", "x@example.com", OrgRole::Owner).await), ErrorCode::Forbidden);
    assert_eq!(
        code(f.hub.update_member_role(&member, "acme", member.user_id, OrgRole::Owner).await),
        ErrorCode::Forbidden
    );

    // Expired invitations are refused.
    f.hub.invite_member(&owner, "acme", "stranger@example.com", OrgRole::Member).await.unwrap();
    let late = link_token(&f.outbox.messages_to("stranger@example.com").pop().unwrap().link.unwrap());
    f.db.execute_unprepared("UPDATE hub_invitations SET expires_at = '2000-01-01T00:00:00Z' WHERE accepted_at IS NULL")
        .await
        .unwrap();
    assert_eq!(code(f.hub.accept_invitation(&stranger, &late).await), ErrorCode::Expired);

    let events =
        f.hub.audit_events(&owner, "acme", &strata_hub::AuditFilter { limit: 50, ..Default::default() }).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for expected in ["org.create", "member.invite", "member.join"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(events.iter().any(|e| e.ip.as_deref() == Some("203.0.113.9")) || events.iter().all(|e| e.ip.is_none()));
    let plain = person(&f, "plain@example.com").await;
    assert_eq!(
        code(f.hub.audit_events(&plain, "acme", &strata_hub::AuditFilter::default()).await),
        ErrorCode::NotFound
    );
}

async fn an_organisation_always_keeps_an_owner(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@example.com").await;
    f.hub.create_organization(&owner, "solo", None).await.unwrap();
    assert_eq!(
        code(f.hub.update_member_role(&owner, "solo", owner.user_id, OrgRole::Admin).await),
        ErrorCode::LastOwner
    );
    assert_eq!(code(f.hub.remove_member(&owner, "solo", owner.user_id).await), ErrorCode::LastOwner);
    let members = f.hub.members(&owner, "solo").await.unwrap();
    assert_eq!(members[0].role, OrgRole::Owner, "the refused change left nothing behind");
}

async fn workspaces_are_private_to_their_organisation(backend: Backend) {
    let f = fixture(backend).await;
    let alice = person(&f, "alice@a.example").await;
    let bob = person(&f, "bob@b.example").await;
    f.hub.create_organization(&alice, "org-a", None).await.unwrap();
    f.hub.create_organization(&bob, "org-b", None).await.unwrap();
    let new = |org: &str, slug: &str| NewWorkspace { org_slug: org.into(), slug: slug.into(), ..Default::default() };
    let ws = f.hub.create_workspace(&alice, &new("org-a", "prod")).await.unwrap();
    assert_eq!((ws.state, ws.generation, ws.observed_generation), (WorkspaceState::Pending, 1, 0));

    // Bob sees exactly what he would see if org-a or its workspace did not exist.
    let foreign = f.hub.workspace(&bob, "org-a", "prod").await.unwrap_err();
    let missing = f.hub.workspace(&bob, "org-a", "nothing-here").await.unwrap_err();
    let no_org = f.hub.workspace(&bob, "no-such-org", "prod").await.unwrap_err();
    assert_eq!(foreign.to_string(), missing.to_string());
    assert_eq!(foreign.to_string(), no_org.to_string());
    assert_eq!(code(f.hub.workspaces(&bob, "org-a").await), ErrorCode::NotFound);
    assert_eq!(code(f.hub.create_workspace(&bob, &new("org-a", "evil")).await), ErrorCode::NotFound);
    assert_eq!(code(f.hub.delete_workspace(&bob, "org-a", "prod", "prod").await), ErrorCode::NotFound);
    assert!(f.hub.workspaces(&bob, "org-b").await.unwrap().is_empty());

    // Same slug in another org is fine; twice in one org is TAKEN.
    f.hub.create_workspace(&bob, &new("org-b", "prod")).await.unwrap();
    assert_eq!(code(f.hub.create_workspace(&alice, &new("org-a", "prod")).await), ErrorCode::AlreadyExists);

    // A plain member sees a workspace only once bound to it, with that role.
    f.hub.invite_member(&alice, "org-a", "bob@b.example", OrgRole::Member).await.unwrap();
    let link = f.outbox.messages_to("bob@b.example").pop().unwrap().link.unwrap();
    f.hub.accept_invitation(&bob, &link_token(&link)).await.unwrap();
    assert!(f.hub.workspaces(&bob, "org-a").await.unwrap().is_empty());
    f.hub.set_role_binding(&alice, "org-a", "prod", bob.user_id, None, Some(WorkspaceRole::Reader)).await.unwrap();
    let seen = f.hub.workspaces(&bob, "org-a").await.unwrap();
    assert_eq!((seen.len(), seen[0].role), (1, WorkspaceRole::Reader));
    assert_eq!(code(f.hub.delete_workspace(&bob, "org-a", "prod", "prod").await), ErrorCode::Forbidden);
    assert_eq!(
        code(f.hub.set_role_binding(&bob, "org-a", "prod", bob.user_id, None, Some(WorkspaceRole::Admin)).await),
        ErrorCode::Forbidden
    );
}

async fn workspace_creation_is_idempotent_and_deletion_needs_confirmation(backend: Backend) {
    let f = fixture(backend).await;
    let alice = person(&f, "alice@example.com").await;
    f.hub.create_organization(&alice, "acme", None).await.unwrap();
    let new = NewWorkspace {
        org_slug: "acme".into(),
        slug: "ci".into(),
        idempotency_key: Some("run-42".into()),
        ..Default::default()
    };
    let first = f.hub.create_workspace(&alice, &new).await.unwrap();
    let retry = f.hub.create_workspace(&alice, &new).await.unwrap();
    assert_eq!(first.id, retry.id, "a retry with the same key returns the first workspace");
    let bad_plan = NewWorkspace { plan: Some("platinum".into()), slug: "x1".into(), ..new.clone() };
    let error = f.hub.create_workspace(&alice, &NewWorkspace { idempotency_key: None, ..bad_plan }).await.unwrap_err();
    assert_eq!(error.user_error().unwrap().field.as_deref(), Some("plan"));

    assert_eq!(code(f.hub.delete_workspace(&alice, "acme", "ci", "c").await), ErrorCode::ConfirmationMismatch);
    assert_eq!(f.hub.workspace(&alice, "acme", "ci").await.unwrap().state, WorkspaceState::Pending);
    let deleting = f.hub.delete_workspace(&alice, "acme", "ci", "ci").await.unwrap();
    assert_eq!((deleting.state, deleting.generation), (WorkspaceState::Deleting, 2));
}

async fn api_tokens_are_scoped_capped_and_revocable(backend: Backend) {
    let f = fixture(backend).await;
    let alice = person(&f, "alice@example.com").await;
    f.hub.create_organization(&alice, "acme", None).await.unwrap();
    f.hub.create_organization(&alice, "other", None).await.unwrap();
    let new = |slug: &str| NewWorkspace { org_slug: "acme".into(), slug: slug.into(), ..Default::default() };
    f.hub.create_workspace(&alice, &new("prod")).await.unwrap();
    f.hub.create_workspace(&alice, &new("dev")).await.unwrap();

    let reader = f
        .hub
        .create_api_token(&alice, "acme", None, "ci reader", WorkspaceRole::Reader, Some(Duration::days(30)))
        .await
        .unwrap();
    assert!(reader.secret.starts_with("stp_") && reader.secret.len() > 60);
    assert!(reader.secret.starts_with(&reader.token.prefix));
    let as_reader = f.hub.authenticate(&reader.secret).await.unwrap();
    assert_eq!(as_reader.user_id, alice.user_id);
    let seen = f.hub.workspaces(&as_reader, "acme").await.unwrap();
    assert!(seen.iter().all(|w| w.role == WorkspaceRole::Reader) && seen.len() == 2, "{seen:?}");
    assert_eq!(code(f.hub.workspaces(&as_reader, "other").await), ErrorCode::NotFound, "scoped to acme");
    assert_eq!(code(f.hub.create_workspace(&as_reader, &new("more")).await), ErrorCode::Forbidden);
    assert_eq!(code(f.hub.create_organization(&as_reader, "third", None).await), ErrorCode::Forbidden);
    assert_eq!(
        code(f.hub.create_api_token(&as_reader, "acme", None, "x", WorkspaceRole::Reader, None).await),
        ErrorCode::Forbidden
    );

    let scoped =
        f.hub.create_api_token(&alice, "acme", Some("prod"), "deploy", WorkspaceRole::Writer, None).await.unwrap();
    let as_scoped = f.hub.authenticate(&scoped.secret).await.unwrap();
    let seen = f.hub.workspaces(&as_scoped, "acme").await.unwrap();
    assert_eq!(seen.iter().map(|w| (w.slug.as_str(), w.role)).collect::<Vec<_>>(), [("prod", WorkspaceRole::Writer)]);
    assert_eq!(code(f.hub.workspace(&as_scoped, "acme", "dev").await), ErrorCode::NotFound);

    // Lists never hold secrets; revocation is immediate.
    let listed = f.hub.api_tokens(&alice, "acme").await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(format!("{listed:?}").find(&reader.secret).is_none());
    f.hub.revoke_api_token(&alice, reader.token.id).await.unwrap();
    assert_eq!(code(f.hub.authenticate(&reader.secret).await), ErrorCode::Unauthenticated);
    assert_eq!(code(f.hub.authenticate("stp_0000").await), ErrorCode::Unauthenticated);

    // Someone else cannot revoke (or learn of) alice's tokens.
    let mallory = person(&f, "mallory@example.com").await;
    assert_eq!(code(f.hub.revoke_api_token(&mallory, scoped.token.id).await), ErrorCode::NotFound);
    assert!(f.hub.authenticate(&scoped.secret).await.is_ok());

    // Expired tokens are refused. (Time is moved in the database, which this hub's
    // two-second authentication cache cannot see; a fresh hub on the same database can.)
    f.db.execute_unprepared("UPDATE hub_api_tokens SET expires_at = '2000-01-01T00:00:00Z'").await.unwrap();
    let fresh = f.replica().await;
    assert_eq!(code(fresh.authenticate(&scoped.secret).await), ErrorCode::Unauthenticated);
    assert_eq!(
        code(
            f.hub
                .create_api_token(&alice, "acme", None, "forever?", WorkspaceRole::Reader, Some(Duration::days(999)))
                .await
        ),
        ErrorCode::InvalidArgument
    );
}

/// A minimal SMTP server that accepts one connection's messages and hands
/// their DATA back (enough of RFC 5321 for a real client).
async fn smtp_sink() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sent, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sent = sent.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "DATA" => {
                            write.write_all(b"354 end with .\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(line)) = lines.next_line().await {
                                if line == "." {
                                    break;
                                }
                                data.push_str(&line);
                                data.push('\n');
                            }
                            let _ = sent.send(data);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

#[tokio::test]
async fn verification_mail_goes_out_over_smtp() {
    let (port, mut received) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(Backend::Sqlite, dir.path()).await;
    let db = strata_core::db::connect(&DatabaseUrl::parse(&database.url()).unwrap()).await.unwrap();
    let url = format!("smtp://127.0.0.1:{port}");
    let mailer = strata_hub::SmtpMailer::new(&url, &url, "Strata <noreply@strata.test>").unwrap();
    let settings =
        HubSettings { public_url: "https://strata.test".into(), ..HubSettings::new(master_keys(&new_master_key())) };
    let hub = Hub::open(db, Arc::new(mailer), settings).await.unwrap();
    hub.sign_up(SignUp {
        email: "smtp@example.com".into(),
        password: "a long passphrase 42".into(),
        display_name: None,
    })
    .await
    .unwrap();
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), received.recv()).await.unwrap().unwrap();
    assert!(message.contains("To: smtp@example.com"), "{message}");
    assert!(message.contains("From: Strata <noreply@strata.test>"), "{message}");
    assert!(message.contains("Subject: Confirm your email for Strata"), "{message}");
    assert!(message.contains("https://strata.test/verify-email?token="), "{message}");
}

/// Sign-up says nothing about whether an address has an account: a taken
/// address gets the same (empty) answer, no second account, and its owner a
/// note; an unconfirmed one a fresh confirmation link.
async fn signing_up_with_a_taken_email_creates_nothing_and_mails_its_owner(backend: Backend) {
    let f = fixture(backend).await;
    let _ = person(&f, "carol@example.com").await;
    let before = f.outbox.messages_to("carol@example.com").len();
    let again =
        SignUp { email: " CAROL@example.com".into(), password: "another passphrase 7".into(), display_name: None };
    assert!(f.hub.sign_up(again).await.unwrap().is_none(), "no new account");
    let mails = f.outbox.messages_to("carol@example.com");
    assert_eq!(mails.len(), before + 1, "the owner is told");
    let note = mails.last().unwrap();
    assert_eq!(note.subject, "You already have a Strata account");
    assert!(note.body.contains("https://strata.test/reset-password"), "{}", note.body);
    assert!(f.hub.log_in("carol@example.com", "a long passphrase 42", None).await.is_ok(), "the password is unchanged");
    assert!(f.hub.log_in("carol@example.com", "another passphrase 7", None).await.is_err());

    let unconfirmed =
        || SignUp { email: "dan@example.com".into(), password: "a long passphrase 42".into(), display_name: None };
    assert!(f.hub.sign_up(unconfirmed()).await.unwrap().is_some());
    assert!(f.hub.sign_up(unconfirmed()).await.unwrap().is_none());
    let links = f.outbox.messages_to("dan@example.com");
    assert_eq!(links.len(), 2, "an unconfirmed account gets a new link");
    assert!(links.iter().all(|mail| mail.link.as_deref().is_some_and(|l| l.contains("/verify-email?token="))));
    let users: i64 =
        f.db.query_one_raw(Statement::from_string(f.db.get_database_backend(), "SELECT COUNT(*) AS n FROM hub_users"))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
    assert_eq!(users, 2, "carol and dan, once each");
}

/// A self-service organisation is on `free`: free workspaces only, three at
/// most; the operator's `org_plans` allows more, up to the plan given.
async fn organisations_get_the_plans_and_workspace_counts_the_operator_gave_them(backend: Backend) {
    let org_plans = strata_hub::plans::OrgPlans::new(
        &strata_hub::plans::Catalogue::built_in(),
        &[("big".to_owned(), "team".to_owned())],
    )
    .unwrap();
    let f = fixture_with(backend, |settings| HubSettings { org_plans, ..settings }).await;
    let alice = person(&f, "alice@example.com").await;
    f.hub.create_organization(&alice, "mine", None).await.unwrap();
    f.hub.create_organization(&alice, "big", None).await.unwrap();
    let new = |org: &str, slug: &str, plan: Option<&str>| NewWorkspace {
        org_slug: org.into(),
        slug: slug.into(),
        plan: plan.map(str::to_owned),
        ..Default::default()
    };
    let refused = f.hub.create_workspace(&alice, &new("mine", "huge", Some("enterprise"))).await.unwrap_err();
    let refused = refused.user_error().unwrap();
    assert_eq!((refused.field.as_deref(), refused.code), (Some("plan"), ErrorCode::Forbidden), "{refused}");
    assert!(refused.message.contains("free plan"), "{refused}");
    for slug in ["ws-a", "ws-b", "ws-c"] {
        f.hub.create_workspace(&alice, &new("mine", slug, None)).await.unwrap();
    }
    let full = f.hub.create_workspace(&alice, &new("mine", "ws-d", None)).await.unwrap_err();
    let full = full.user_error().unwrap();
    assert_eq!(full.code, ErrorCode::QuotaExceeded);
    let names = ["the free plan allows 3 workspaces", "needs 4", "the team plan lifts it"];
    assert!(names.iter().all(|part| full.message.contains(part)), "names the plan, the limit and the lift: {full}");
    assert_eq!(code(f.hub.set_workspace_plan(&alice, "mine", "ws-a", "team").await), ErrorCode::Forbidden);

    let team = f.hub.create_workspace(&alice, &new("big", "ws-t", Some("team"))).await.unwrap();
    assert_eq!(team.plan, "team");
    assert_eq!(
        code(f.hub.create_workspace(&alice, &new("big", "ws-e", Some("enterprise"))).await),
        ErrorCode::Forbidden
    );
    assert_eq!(code(f.hub.set_workspace_plan(&alice, "big", "ws-t", "enterprise").await), ErrorCode::Forbidden);
    let big = f.hub.org_for(&alice, "big").await.unwrap().0;
    assert_eq!(
        f.hub.org_plan(big.id, "big").await.unwrap().workspaces,
        f.hub.plans().named("team").unwrap().workspaces
    );
}

/// Members and open invitations hold seats: a free organisation (5 seats)
/// with its owner may invite four people; the fifth is refused, naming the
/// plan that has more; on that plan, the same invitations fit.
async fn invitations_hold_seats_up_to_the_plan(backend: Backend) {
    let org_plans = strata_hub::plans::OrgPlans::new(
        &strata_hub::plans::Catalogue::built_in(),
        &[("roomy".to_owned(), "team".to_owned())],
    )
    .unwrap();
    let f = fixture_with(backend, |settings| HubSettings { org_plans, ..settings }).await;
    let owner = person(&f, "owner@example.com").await;
    f.hub.create_organization(&owner, "small", None).await.unwrap();
    f.hub.create_organization(&owner, "roomy", None).await.unwrap();
    for n in 1..=4 {
        f.hub.invite_member(&owner, "small", &format!("p{n}@example.com"), OrgRole::Member).await.unwrap();
    }
    let refused = f.hub.invite_member(&owner, "small", "p5@example.com", OrgRole::Member).await.unwrap_err();
    let refused = refused.user_error().unwrap();
    assert_eq!((refused.field.as_deref(), refused.code), (Some("email"), ErrorCode::QuotaExceeded));
    assert!(refused.message.contains("`small`: the free plan allows 5 seats and this needs 6"), "{refused}");
    assert!(refused.message.contains("the team plan lifts it"), "{refused}");
    for n in 1..=5 {
        f.hub.invite_member(&owner, "roomy", &format!("p{n}@example.com"), OrgRole::Member).await.unwrap();
    }
}

/// Statements sent so far on `db` (its metric callback counts them).
fn counting(db: &mut DatabaseConnection) -> Arc<std::sync::atomic::AtomicU64> {
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = count.clone();
    db.set_metric_callback(move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    count
}

/// The gateway's lookup does the same work for a workspace the caller may
/// use, one of another tenant, one that does not exist and an organisation
/// that does not exist, so its answer time does not tell them apart.
async fn a_workspace_route_costs_the_same_statements_whatever_exists(backend: Backend) {
    let f = fixture(backend).await;
    let alice = person(&f, "alice@example.com").await;
    let bob = person(&f, "bob@example.com").await;
    f.hub.create_organization(&alice, "org-a", None).await.unwrap();
    f.hub.create_organization(&bob, "org-b", None).await.unwrap();
    f.hub.ensure_hosted_workspace("org-a", "wa", "http://127.0.0.1:9").await.unwrap();
    let mut db = f.db.clone();
    let count = counting(&mut db);
    let hub = Hub::open(db, Arc::new(f.outbox.clone()), HubSettings::new(master_keys(&f.master_key))).await.unwrap();
    let mut costs = Vec::new();
    for (who, org, slug) in [
        (&alice, "org-a", "wa"),
        (&bob, "org-a", "wa"),
        (&bob, "org-a", "nothing"),
        (&bob, "no-such-org", "wa"),
        (&bob, "org-b", "nothing"),
    ] {
        let before = count.load(std::sync::atomic::Ordering::SeqCst);
        let route = hub.workspace_route(who, org, slug, Some("repo")).await;
        costs.push((format!("{org}/{slug}"), route.is_ok(), count.load(std::sync::atomic::Ordering::SeqCst) - before));
    }
    assert!(costs[0].1, "alice reaches her workspace: {costs:?}");
    assert!(costs[1..].iter().all(|(_, ok, _)| !ok), "{costs:?}");
    assert!(costs.iter().all(|(_, _, n)| *n == costs[0].2), "the same statements on every path: {costs:?}");
}

/// Runs a query whose rows have one column, as an attacker reading the
/// database would.
async fn raw_rows(db: &DatabaseConnection, sql: &str) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

/// The DER of the Ed25519 algorithm identifier, in every PKCS#8 key.
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// Two workspaces in `acme` and their service secrets.
async fn two_workspaces(f: &Fixture) -> [(WorkspaceId, String); 2] {
    let alice = person(f, "alice@example.com").await;
    f.hub.create_organization(&alice, "acme", None).await.unwrap();
    let mut made = Vec::new();
    for slug in ["one", "two"] {
        let new = NewWorkspace { org_slug: "acme".into(), slug: slug.into(), ..Default::default() };
        let id = f.hub.create_workspace(&alice, &new).await.unwrap().id;
        made.push((id, f.hub.ensure_service_secret(id).await.unwrap()));
    }
    made.try_into().unwrap()
}

async fn signing_keys_and_service_secrets_are_stored_encrypted_and_bound_to_their_row(backend: Backend) {
    let f = fixture(backend).await;
    let [(one, one_secret), (two, two_secret)] = two_workspaces(&f).await;
    assert!(one_secret.starts_with("sts_") && one_secret != two_secret);
    assert_eq!(f.hub.ensure_service_secret(one).await.unwrap(), one_secret, "made once, read back");
    f.hub.keys().rotate().await.unwrap();

    // What the database holds: no secret, no key, only ciphertexts and key ids.
    let rows =
        raw_rows(&f.db, "SELECT id, service_secret_sealed, service_secret_key FROM hub_workspaces").await.unwrap();
    let mut sealed_secrets = 0;
    for row in &rows {
        let Some(sealed) = row.try_get::<Option<Vec<u8>>>("", "service_secret_sealed").unwrap() else { continue };
        sealed_secrets += 1;
        for secret in [&one_secret, &two_secret] {
            assert!(!contains(&sealed, secret.as_bytes()) && !contains(&sealed, b"sts_"), "plain secret stored");
        }
        let key_id: String = row.try_get("", "service_secret_key").unwrap();
        assert!(key_id.starts_with("mk_"), "{key_id}");
    }
    assert_eq!(sealed_secrets, 2);
    let keys =
        raw_rows(&f.db, "SELECT kid, private_sealed, sealing_key, public_key FROM hub_signing_keys").await.unwrap();
    assert_eq!(keys.len(), 2);
    for row in &keys {
        let kid: String = row.try_get("", "kid").unwrap();
        let sealed: Vec<u8> = row.try_get("", "private_sealed").unwrap();
        let key_id: String = row.try_get("", "sealing_key").unwrap();
        let public: Vec<u8> = row.try_get("", "public_key").unwrap();
        assert!(!contains(&sealed, ED25519_OID) && !contains(&sealed, &public), "a plain PKCS#8 key is stored");
        // With the master key it is the key pair whose public half is published.
        let pkcs8 = unseal(&f.master_key, "hub_signing_keys.private_sealed", &kid, &key_id, &sealed).unwrap();
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref(), public.as_slice());
        // Bound to its row: the same bytes do not open as another kid's.
        assert!(unseal(&f.master_key, "hub_signing_keys.private_sealed", "k-other", &key_id, &sealed).is_none());
    }
    assert!(raw_rows(&f.db, "SELECT private_pkcs8 FROM hub_signing_keys").await.is_err(), "no plain key column");
    assert!(raw_rows(&f.db, "SELECT service_secret FROM hub_workspaces").await.is_err(), "no plain secret column");

    // A ciphertext copied into another row does not open there, and says what to check.
    for column in ["service_secret_sealed", "service_secret_key"] {
        let sql = format!(
            "UPDATE hub_workspaces SET {column} = (SELECT {column} FROM hub_workspaces WHERE id = $1) WHERE id = $2"
        );
        execute(&f.db, &sql, vec![one.into(), two.into()]).await;
    }
    let error = f.hub.ensure_service_secret(two).await.unwrap_err();
    assert!(error.is_configuration_error(), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&two.to_string()) && message.contains("`master_key_file`"), "{message}");
    assert!(!message.contains(&one_secret) && !message.contains(&f.master_key), "{message}");
    assert_eq!(f.hub.ensure_service_secret(one).await.unwrap(), one_secret, "the original row still opens");

    // The same for signing keys: a key copied into another key's row stops the hub from loading.
    let [first, second] = [0, 1].map(|i| keys[i].try_get::<String>("", "kid").unwrap());
    f.db.execute_unprepared(&format!(
        "UPDATE hub_signing_keys SET private_sealed = (SELECT private_sealed FROM hub_signing_keys WHERE kid = '{first}') WHERE kid = '{second}'"
    ))
    .await
    .unwrap();
    let error = Hub::open(f.db.clone(), Arc::new(f.outbox.clone()), HubSettings::new(master_keys(&f.master_key)))
        .await
        .unwrap_err();
    assert!(error.is_configuration_error() && error.to_string().contains(&second), "{error}");
}

/// Runs hand-written SQL with `$1, $2…` placeholders (in order) on either backend.
async fn execute(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) {
    let backend = db.get_database_backend();
    let mut sql = sql.to_owned();
    if backend == sea_orm::DatabaseBackend::Sqlite {
        for i in (1..=values.len()).rev() {
            sql = sql.replace(&format!("${i}"), "?");
        }
    }
    db.execute_raw(Statement::from_sql_and_values(backend, &sql, values)).await.unwrap();
}

async fn a_wrong_master_key_stops_the_hub_naming_the_setting_and_an_old_one_rotates_out(backend: Backend) {
    let f = fixture(backend).await;
    let [(one, one_secret), _] = two_workspaces(&f).await;
    let principal = person(&f, "bob@example.com").await;
    let sso_org = sso_connection_of_a_new_org(&f, "the IdP's client secret").await;
    let open = |keys: String| {
        let db = f.db.clone();
        let outbox = f.outbox.clone();
        async move { Hub::open(db, Arc::new(outbox), HubSettings::new(master_keys(&keys))).await }
    };

    // Another key: the hub does not start, names the setting and shows no key.
    let wrong = new_master_key();
    let error = open(wrong.clone()).await.unwrap_err();
    assert!(error.is_configuration_error(), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("`master_key_file`") && message.contains("not configured"), "{message}");
    assert!(!message.contains(&wrong) && !message.contains(&f.master_key), "a key in the error: {message}");

    // Rotation: the new key first and the old one after it; everything is sealed
    // again with the new key, nothing changes for users, and the old key can go.
    let rotated = open(format!("{wrong}\n{}", f.master_key)).await.unwrap();
    assert_eq!(rotated.ensure_service_secret(one).await.unwrap(), one_secret, "the secret itself stays");
    let tokens = rotated.log_in("bob@example.com", "a long passphrase 42", None).await.unwrap();
    let only_new = open(wrong.clone()).await.unwrap();
    assert_eq!(only_new.ensure_service_secret(one).await.unwrap(), one_secret);
    let (key_id, sealed) = sso_client_secret_row(&f).await;
    let secret = unseal(&wrong, "hub_sso_connections.client_secret_sealed", &sso_org, &key_id, &sealed);
    assert_eq!(secret.as_deref(), Some(&b"the IdP's client secret"[..]), "the SSO client secret is sealed again");
    assert_eq!(only_new.authenticate(&tokens.access_token).await.unwrap().user_id, principal.user_id);
    let error = open(f.master_key.clone()).await.unwrap_err();
    assert!(error.is_configuration_error(), "the old key alone no longer opens anything: {error:?}");
}

async fn an_upgrade_marks_the_teams_scim_made_with_an_external_id_as_scim_managed(backend: Backend) {
    use sea_orm_migration::MigratorTrait;
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, dir.path()).await;
    let db = strata_core::db::connect(&DatabaseUrl::parse(&database.url()).unwrap()).await.unwrap();
    // The schema with SSO, before teams said who made them.
    strata_hub::migration::Migrator::up(&db, Some(5)).await.unwrap();
    let org = uuid::Uuid::new_v4();
    let insert =
        "INSERT INTO hub_teams (id, org_id, slug, name, external_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
    for (slug, external_id) in [("by-hand", None), ("from-okta", Some("00g1abc"))] {
        let values = vec![
            uuid::Uuid::new_v4().into(),
            org.into(),
            slug.into(),
            slug.into(),
            sea_orm::Value::String(external_id.map(str::to_owned)),
            Utc::now().into(),
        ];
        execute(&db, insert, values).await;
    }
    strata_hub::migration::Migrator::up(&db, None).await.unwrap();
    use sea_orm::{EntityTrait, QueryOrder};
    use strata_hub::entities::team;
    let teams = team::Entity::find().order_by_asc(team::Column::Slug).all(&db).await.unwrap();
    let managed: Vec<(&str, bool)> = teams.iter().map(|t| (t.slug.as_str(), t.scim_managed)).collect();
    assert_eq!(managed, [("by-hand", false), ("from-okta", true)]);
}

async fn an_upgrade_rotates_every_plain_secret_and_signing_key(backend: Backend) {
    use sea_orm_migration::MigratorTrait;
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, dir.path()).await;
    let url = DatabaseUrl::parse(&database.url()).unwrap();
    let db = strata_core::db::connect(&url).await.unwrap();
    // The schema of the release before, with what its code stored in plain text.
    strata_hub::migration::Migrator::up(&db, Some(2)).await.unwrap();
    let old = OldSecrets::insert(&db).await;

    let outbox = OutboxMailer::new(dir.path().join("outbox"));
    let master_key = new_master_key();
    let settings =
        HubSettings { public_url: "https://strata.test".into(), ..HubSettings::new(master_keys(&master_key)) };
    let hub = Hub::open(db.clone(), Arc::new(outbox.clone()), settings).await.unwrap();

    // The old key is gone and tokens it signed are refused for it.
    let error = hub.authenticate(&old.access_token).await.unwrap_err();
    let error = error.user_error().unwrap();
    assert_eq!(error.code, ErrorCode::Unauthenticated);
    assert!(error.message.contains("unknown key"), "{}", error.message);
    let kids = raw_rows(&db, "SELECT kid, sealing_key FROM hub_signing_keys").await.unwrap();
    assert_eq!(kids.len(), 1, "one new key");
    assert_ne!(kids[0].try_get::<String>("", "kid").unwrap(), OldSecrets::KID);
    // Sessions are revoked: people log in again.
    let sessions = raw_rows(&db, "SELECT revoked_at FROM hub_sessions").await.unwrap();
    assert!(sessions[0].try_get::<Option<chrono::DateTime<Utc>>>("", "revoked_at").unwrap().is_some());
    // The workspace's plain secret is gone and its generation bumped, so the
    // provisioner makes a new one and hands it to the server.
    let workspace = hub.provisioner_workspace(old.workspace).await.unwrap().unwrap();
    assert_eq!((workspace.generation, workspace.service_secret.as_deref()), (8, None));
    let fresh = hub.ensure_service_secret(old.workspace).await.unwrap();
    assert!(fresh.starts_with("sts_") && fresh != OldSecrets::SERVICE_SECRET);
    let route_secret = raw_rows(&db, "SELECT service_secret_sealed FROM hub_workspaces").await.unwrap();
    let sealed: Vec<u8> = route_secret[0].try_get::<Option<Vec<u8>>>("", "service_secret_sealed").unwrap().unwrap();
    assert!(!contains(&sealed, fresh.as_bytes()));

    // New logins work with the new key.
    let f = Fixture { hub, db, outbox, master_key, database, dir };
    person(&f, "carol@example.com").await;

    // On SQLite the old plain values are not left in the file's free pages or its log.
    if let DatabaseUrl::Sqlite(path) = DatabaseUrl::parse(&f.database.url()).unwrap() {
        for file in [path.clone(), path.with_extension("db-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !contains(&bytes, OldSecrets::SERVICE_SECRET.as_bytes()),
                "{} keeps the old secret",
                file.display()
            );
            assert!(!contains(&bytes, &old.pkcs8), "{} keeps the old signing key", file.display());
        }
    }
    let _ = &f.dir;
}

/// What the code before sealing stored in plain text.
struct OldSecrets {
    workspace: WorkspaceId,
    pkcs8: Vec<u8>,
    access_token: String,
}

impl OldSecrets {
    const KID: &str = "kold00000000";
    const SERVICE_SECRET: &str = "sts_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    async fn insert(db: &DatabaseConnection) -> OldSecrets {
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
        use sea_orm::Value;
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap().as_ref().to_vec();
        let public = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap().public_key().as_ref().to_vec();
        let now = Utc::now();
        let (org, workspace, user, session) =
            (uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let run = |sql: String, values: Vec<Value>| async move { execute(db, &sql, values).await };
        let placeholders = |n: usize| (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        run(
            format!(
                "INSERT INTO hub_signing_keys (kid, private_pkcs8, public_key, created_at) VALUES ({})",
                placeholders(4)
            ),
            vec![Self::KID.into(), pkcs8.clone().into(), public.into(), now.into()],
        )
        .await;
        run(
            format!("INSERT INTO hub_orgs (id, slug, name, created_at) VALUES ({})", placeholders(4)),
            vec![org.into(), "acme".into(), "acme".into(), now.into()],
        )
        .await;
        run(
            format!(
                "INSERT INTO hub_workspaces (id, org_id, slug, live_slug, plan, region, state, endpoint, generation, \
                 observed_generation, created_by, created_at, updated_at, service_secret) VALUES ({})",
                placeholders(14)
            ),
            vec![
                workspace.into(),
                org.into(),
                "prod".into(),
                "prod".into(),
                "free".into(),
                "local".into(),
                "READY".into(),
                "http://127.0.0.1:9".into(),
                7i64.into(),
                7i64.into(),
                user.into(),
                now.into(),
                now.into(),
                Self::SERVICE_SECRET.into(),
            ],
        )
        .await;
        run(
            format!(
                "INSERT INTO hub_sessions (id, user_id, refresh_hash, expires_at, created_at, last_used_at) VALUES ({})",
                placeholders(6)
            ),
            vec![session.into(), user.into(), "hash".into(), (now + Duration::days(30)).into(), now.into(), now.into()],
        )
        .await;
        let claims = AccessClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user.to_string(),
            sid: session.to_string(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: now.timestamp() + 600,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(Self::KID.to_owned());
        let access_token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&pkcs8)).unwrap();
        OldSecrets { workspace: WorkspaceId::from_uuid(workspace), pkcs8, access_token }
    }
}

/// Conditions that do not read back are an error naming the table and the
/// workspace, for people and for the provisioner alike, never "no
/// conditions" (which would hide what went wrong and lose transition times).
async fn corrupt_workspace_conditions_are_an_error_naming_the_row(backend: Backend) {
    let f = fixture(backend).await;
    let alice = person(&f, "alice@a.example").await;
    f.hub.create_organization(&alice, "org-a", None).await.unwrap();
    let new = NewWorkspace { org_slug: "org-a".into(), slug: "prod".into(), ..Default::default() };
    let ws = f.hub.create_workspace(&alice, &new).await.unwrap();
    assert!(!ws.conditions.is_empty(), "a new workspace says it waits for the provisioner");
    f.db.execute_unprepared("UPDATE hub_workspaces SET conditions = '[{\"type\": \"Ready\"'").await.unwrap();

    let corrupted = |result: strata_hub::Result<()>| match result {
        Err(error @ strata_hub::HubError::Corrupted { .. }) => {
            let message = error.to_string();
            assert!(message.contains("hub_workspaces") && message.contains(&ws.id.to_string()), "{message}");
        }
        other => panic!("expected Corrupted, got {other:?}"),
    };
    corrupted(f.hub.workspace(&alice, "org-a", "prod").await.map(drop));
    corrupted(f.hub.workspaces(&alice, "org-a").await.map(drop));
    corrupted(f.hub.provisioner_workspaces().await.map(drop));
    let status = strata_hub::ObservedStatus { state: WorkspaceState::Ready, endpoint: None, conditions: Vec::new() };
    corrupted(f.hub.record_status(ws.id, ws.generation, status).await.map(drop));
}
