//! Single sign-on, as the hub decides it: logins through an organisation's
//! identity provider (here a scripted one, so that forged tokens can be
//! sent), just-in-time membership for verified domains only, teams from
//! IdP groups, "SSO required", SCIM deactivation, and every refusal the
//! OpenID Connect rules demand. The flow against a real provider (npm
//! `oidc-provider`) is in the API and CLI tests.

#[path = "sso/scripted_idp.rs"]
mod scripted_idp;

use std::time::Duration;

use scripted_idp::{Account, Forgery, ScriptedIdp};
use strata_api_types::ErrorCode;
use strata_hub::sso::Reach;
use strata_hub::{
    HubSettings, NewWorkspace, Principal, Realm, ReturnTo, ScimPersonChange, SsoCallback, SsoConnectionInput,
    SsoFinished, SsoSettings, WorkspaceRole,
};
use strata_sso::oidc::CachePolicy;
use strata_testkit::Backend;
use strata_testkit::dns::TestDns;

use super::{Fixture, code, fixture_with, person};

const CLIENT_ID: &str = "strata-hub";

struct Sso {
    f: Fixture,
    idp: ScriptedIdp,
    _dns: TestDns,
    admin: Principal,
    http: reqwest::Client,
}

fn ada() -> Account {
    Account { sub: "ada-1".into(), email: "ada@acme.test".into(), email_verified: true, groups: vec!["eng".into()] }
}

/// An organisation `acme` that verified `acme.test` through DNS and signs
/// in through the scripted provider, which maps group `eng` to the team
/// `engineering`, a writer of workspace `lake`.
async fn acme(backend: Backend) -> Sso {
    let dns = TestDns::start().await;
    let dns_server = dns.addr();
    let f = fixture_with(backend, |settings| HubSettings {
        sso: SsoSettings {
            reach: Reach::AllowPrivate,
            dns_server: Some(dns_server),
            cache: CachePolicy { jwks_refetch_after: Duration::ZERO, ..CachePolicy::default() },
        },
        ..settings
    })
    .await;
    let idp = ScriptedIdp::start(ada()).await;
    let admin = person(&f, "owner@acme.test").await;
    f.hub.create_organization(&admin, "acme", None).await.unwrap();
    let claimed = f.hub.claim_domain(&admin, "acme", "ACME.test.").await.unwrap();
    assert_eq!(claimed.domain, "acme.test");
    assert_eq!(
        code(f.hub.verify_domain(&admin, "acme", "acme.test").await),
        ErrorCode::Conflict,
        "nothing published yet"
    );
    dns.set_txt(&claimed.record_name, vec![claimed.record_value.clone()]);
    assert!(f.hub.verify_domain(&admin, "acme", "acme.test").await.unwrap().verified_at.is_some());
    let input = SsoConnectionInput {
        issuer: idp.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: Some("client-secret-value".into()),
        ..SsoConnectionInput::default()
    };
    f.hub.configure_sso(&admin, "acme", input).await.unwrap();
    f.hub.test_sso(&admin, "acme").await.unwrap();
    let new =
        NewWorkspace { org_slug: "acme".into(), slug: "lake".into(), plan: None, region: None, idempotency_key: None };
    f.hub.create_workspace(&admin, &new).await.unwrap();
    f.hub.create_team(&admin, "acme", "engineering", Some("Engineering")).await.unwrap();
    f.hub.set_group_mapping(&admin, "acme", "eng", Some("engineering"), None).await.unwrap();
    f.hub.set_team_binding(&admin, "acme", "lake", "engineering", None, Some(WorkspaceRole::Writer)).await.unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Sso { f, idp, _dns: dns, admin, http }
}

/// What a browser does: start, follow the provider's redirect, come back.
struct Attempt {
    state: String,
    code: String,
    binding: String,
}

impl Sso {
    async fn begin(&self, email: &str) -> Attempt {
        let started =
            self.f.hub.start_sso(Realm::Email(email.into()), ReturnTo::console(Some("/orgs/acme"))).await.unwrap();
        let answer = self.http.get(&started.authorize_url).send().await.unwrap();
        let back = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(back.starts_with(&self.f.hub.sso_redirect_uri()), "{back}");
        let pairs: std::collections::HashMap<String, String> =
            url::Url::parse(&back).unwrap().query_pairs().into_owned().collect();
        Attempt { state: pairs["state"].clone(), code: pairs["code"].clone(), binding: started.browser_binding }
    }

    async fn finish(&self, attempt: &Attempt) -> Result<SsoFinished, strata_hub::HubError> {
        self.f
            .hub
            .finish_sso(SsoCallback {
                state: Some(attempt.state.clone()),
                code: Some(attempt.code.clone()),
                browser_binding: Some(attempt.binding.clone()),
                ..SsoCallback::default()
            })
            .await
    }

    async fn sign_in(&self, email: &str) -> Result<Principal, strata_hub::HubError> {
        let attempt = self.begin(email).await;
        match self.finish(&attempt).await? {
            SsoFinished::Console { tokens, path } => {
                assert_eq!(path, "/orgs/acme");
                Ok(self.f.hub.authenticate(&tokens.access_token).await.unwrap())
            }
            SsoFinished::Cli { .. } => panic!("a console login went to the CLI"),
        }
    }

    /// A refused sign-in's code and message.
    async fn refusal(&self) -> (ErrorCode, String) {
        let error = self.sign_in("ada@acme.test").await.expect_err("the sign-in should be refused");
        let user = error.user_error().unwrap_or_else(|| panic!("not a user error: {error:?}")).clone();
        (user.code, user.message)
    }

    async fn lake_role(&self, principal: &Principal) -> Option<WorkspaceRole> {
        self.f.hub.workspace_access(principal, "acme", "lake").await.ok().and_then(|a| a.role(None))
    }
}

strata_testkit::on_both_backends!(
    seats_bound_scim_and_just_in_time_joins_and_a_refusal_leaves_no_account,
    logins_in_flight_are_swept_by_the_next_login_once_long_expired,
    a_new_person_of_a_verified_domain_joins_with_the_team_and_role_their_groups_map_to,
    scim_deactivation_ends_the_session_at_once_and_refuses_the_next_login,
    sso_required_refuses_password_sessions_of_members_but_not_owners_sso_sessions_or_tokens,
);

/// `acme` is on the free plan (5 seats) and has its owner: four people fit.
async fn seats_bound_scim_and_just_in_time_joins_and_a_refusal_leaves_no_account(backend: Backend) {
    let sso = acme(backend).await;
    let token = sso.f.hub.issue_scim_token(&sso.admin, "acme").await.unwrap();
    let org = sso.f.hub.scim_org("acme", &token).await.unwrap();
    let person = |n: u32| ScimPersonChange { email: Some(format!("p{n}@acme.test")), ..ScimPersonChange::default() };
    let mut provisioned = Vec::new();
    for n in 1..=4 {
        provisioned.push(sso.f.hub.scim_create_person(org, person(n)).await.unwrap());
    }
    let full = sso.f.hub.scim_create_person(org, person(5)).await.unwrap_err();
    let full = full.user_error().unwrap();
    assert_eq!(full.code, ErrorCode::QuotaExceeded);
    assert!(full.message.contains("allows 5 seats") && full.message.contains("team plan lifts it"), "{full}");
    assert!(sso.f.hub.user_by_email("p5@acme.test").await.unwrap().is_none(), "no account was made");

    let (code, message) = sso.refusal().await;
    assert_eq!(code, ErrorCode::QuotaExceeded, "no seat for a just-in-time join: {message}");
    assert!(sso.f.hub.user_by_email("ada@acme.test").await.unwrap().is_none(), "no account was made");
    let off = ScimPersonChange { active: Some(false), ..ScimPersonChange::default() };
    sso.f.hub.scim_change_person(org, provisioned[0].user_id, off).await.unwrap();
    sso.sign_in("ada@acme.test").await.expect("a deactivated person's seat is free again");
}

/// Moves the expiry of every login in flight to `ago` before now.
async fn expire_all_logins(sso: &Sso, ago: chrono::Duration) {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    use strata_hub::entities::{cli_login, sso_login};
    let at = chrono::Utc::now() - ago;
    let browser = sso_login::ActiveModel { expires_at: Set(at), ..Default::default() };
    sso_login::Entity::update_many().set(browser).exec(&sso.f.db).await.unwrap();
    let cli = cli_login::ActiveModel { expires_at: Set(at), ..Default::default() };
    cli_login::Entity::update_many().set(cli).exec(&sso.f.db).await.unwrap();
}

async fn logins_in_flight(sso: &Sso) -> (u64, u64) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    use strata_hub::entities::{cli_login, sso_login};
    (
        sso_login::Entity::find().count(&sso.f.db).await.unwrap(),
        cli_login::Entity::find().count(&sso.f.db).await.unwrap(),
    )
}

async fn logins_in_flight_are_swept_by_the_next_login_once_long_expired(backend: Backend) {
    use strata_hub::sso::EXPIRED_LOGINS_KEPT;
    let sso = acme(backend).await;
    let start = || sso.f.hub.start_sso(Realm::Email("ada@acme.test".into()), ReturnTo::console(None));
    start().await.unwrap();
    start().await.unwrap();
    sso.f.hub.start_device_login().await.unwrap();
    assert_eq!(logins_in_flight(&sso).await, (2, 1));

    // Expired, but recently enough that a late use still says "expired".
    expire_all_logins(&sso, EXPIRED_LOGINS_KEPT - chrono::Duration::minutes(1)).await;
    start().await.unwrap();
    assert_eq!(logins_in_flight(&sso).await, (3, 1), "kept");

    expire_all_logins(&sso, EXPIRED_LOGINS_KEPT + chrono::Duration::minutes(1)).await;
    sso.f.hub.start_device_login().await.unwrap();
    assert_eq!(logins_in_flight(&sso).await, (0, 1), "only the new device login is left");
}

async fn a_new_person_of_a_verified_domain_joins_with_the_team_and_role_their_groups_map_to(backend: Backend) {
    let sso = acme(backend).await;
    let ada = sso.sign_in("Ada@Acme.test").await.unwrap();
    assert_eq!(ada.email, "ada@acme.test");
    assert!(ada.email_verified);
    assert_eq!(sso.lake_role(&ada).await, Some(WorkspaceRole::Writer), "through the team `engineering`");
    let members = sso.f.hub.team_members(&sso.admin, "acme", "engineering").await.unwrap();
    assert_eq!(
        members.iter().map(|m| (m.email.as_str(), m.source.as_str())).collect::<Vec<_>>(),
        [("ada@acme.test", "idp")]
    );

    // Groups apply at every login: out of `eng`, out of the team and its role.
    sso.idp.set_account(Account { groups: vec![], ..ada_account() });
    let again = sso.sign_in("ada@acme.test").await.unwrap();
    assert_eq!(again.user_id, ada.user_id, "the identity is linked: the same person");
    assert_eq!(sso.lake_role(&again).await, None);

    let events = sso
        .f
        .hub
        .audit_events(&sso.admin, "acme", &strata_hub::AuditFilter { limit: 100, ..strata_hub::AuditFilter::default() })
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for expected in ["sso.configure", "domain.verify", "sso.join", "sso.login"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
}

fn ada_account() -> Account {
    ada()
}

async fn scim_deactivation_ends_the_session_at_once_and_refuses_the_next_login(backend: Backend) {
    let sso = acme(backend).await;
    let ada = sso.sign_in("ada@acme.test").await.unwrap();
    let token = sso.f.hub.issue_scim_token(&sso.admin, "acme").await.unwrap();
    let org = sso.f.hub.scim_org("acme", &token).await.unwrap();
    let deactivate = ScimPersonChange { active: Some(false), ..ScimPersonChange::default() };
    let person = sso.f.hub.scim_change_person(org, ada.user_id, deactivate).await.unwrap();
    assert!(!person.active);
    assert_eq!(sso.lake_role(&ada).await, None, "the next request is refused");
    let (code, message) = sso.refusal().await;
    assert_eq!(code, ErrorCode::Unauthenticated);
    assert!(message.contains("deactivated"), "{message}");

    let reactivate = ScimPersonChange { active: Some(true), ..ScimPersonChange::default() };
    sso.f.hub.scim_change_person(org, ada.user_id, reactivate).await.unwrap();
    let back = sso.sign_in("ada@acme.test").await.unwrap();
    assert_eq!(sso.lake_role(&back).await, Some(WorkspaceRole::Writer));
}

async fn sso_required_refuses_password_sessions_of_members_but_not_owners_sso_sessions_or_tokens(backend: Backend) {
    let sso = acme(backend).await;
    let ada = sso.sign_in("ada@acme.test").await.unwrap();
    let bob = person(&sso.f, "bob@elsewhere.test").await;
    let invitation =
        sso.f.hub.invite_member(&sso.admin, "acme", "bob@elsewhere.test", strata_hub::OrgRole::Admin).await.unwrap();
    let _ = invitation;
    let link = sso.f.outbox.messages_to("bob@elsewhere.test").pop().unwrap().link.unwrap();
    sso.f.hub.accept_invitation(&bob, &super::link_token(&link)).await.unwrap();
    let bob_token = sso.f.hub.create_api_token(&bob, "acme", None, "ci", WorkspaceRole::Reader, None).await.unwrap();
    sso.f.hub.set_sso_required(&sso.admin, "acme", true).await.unwrap();

    assert_eq!(
        code(sso.f.hub.workspaces(&bob, "acme").await),
        ErrorCode::SsoRequired,
        "a password session of a member"
    );
    let ci = sso.f.hub.authenticate(&bob_token.secret).await.unwrap();
    assert_eq!(sso.f.hub.workspaces(&ci, "acme").await.unwrap().len(), 1, "API tokens keep working");
    assert_eq!(sso.lake_role(&ada).await, Some(WorkspaceRole::Writer), "an SSO session");
    assert_eq!(sso.f.hub.workspaces(&sso.admin, "acme").await.unwrap().len(), 1, "owners: break-glass");

    sso.f.hub.set_sso_required(&sso.admin, "acme", false).await.unwrap();
    assert_eq!(sso.f.hub.workspaces(&bob, "acme").await.unwrap().len(), 1);
}

mod refusals {
    //! Each refusal the OpenID Connect rules demand, one test each.
    use super::*;

    async fn refused_with(forgery: Forgery, expected: &str) {
        let sso = acme(Backend::Sqlite).await;
        sso.idp.forge(forgery);
        let (code, message) = sso.refusal().await;
        assert_eq!(code, ErrorCode::Unauthenticated, "{message}");
        assert!(message.to_lowercase().contains(expected), "{forgery:?}: `{message}` lacks `{expected}`");
        assert!(!message.contains("client-secret-value"));
    }

    #[tokio::test]
    async fn a_wrong_issuer() {
        refused_with(Forgery::WrongIssuer, "issuer").await;
    }

    #[tokio::test]
    async fn a_wrong_audience() {
        refused_with(Forgery::WrongAudience, "audience").await;
    }

    #[tokio::test]
    async fn another_audience_without_azp() {
        refused_with(Forgery::ExtraAudienceWithoutAzp, "audience").await;
    }

    #[tokio::test]
    async fn a_bad_signature() {
        refused_with(Forgery::BadSignature, "signature").await;
    }

    #[tokio::test]
    async fn alg_none() {
        refused_with(Forgery::AlgNone, "id_token").await;
    }

    #[tokio::test]
    async fn hs256_signed_with_the_public_key() {
        refused_with(Forgery::Hs256WithPublicKey, "algorithm").await;
    }

    #[tokio::test]
    async fn an_expired_id_token() {
        refused_with(Forgery::Expired, "expired").await;
    }

    #[tokio::test]
    async fn an_id_token_issued_in_the_future() {
        refused_with(Forgery::IssuedInTheFuture, "future").await;
    }

    #[tokio::test]
    async fn a_nonce_mismatch() {
        refused_with(Forgery::NonceMismatch, "nonce").await;
    }

    #[tokio::test]
    async fn email_verified_false() {
        let sso = acme(Backend::Sqlite).await;
        sso.idp.set_account(Account { email_verified: false, ..ada() });
        let (_, message) = sso.refusal().await;
        assert!(message.contains("email_verified"), "{message}");
    }

    #[tokio::test]
    async fn an_existing_password_account_is_not_linked_without_email_verified() {
        let sso = acme(Backend::Sqlite).await;
        let existing = person(&sso.f, "ada@acme.test").await;
        sso.idp.set_account(Account { email_verified: false, ..ada() });
        let (_, message) = sso.refusal().await;
        assert!(message.contains("email_verified"), "{message}");
        sso.idp.set_account(ada());
        let linked = sso.sign_in("ada@acme.test").await.unwrap();
        assert_eq!(linked.user_id, existing.user_id, "linked once the provider vouches for the address");
    }

    #[tokio::test]
    async fn without_email_verified_a_person_provisioned_by_scim_is_linked() {
        let sso = acme(Backend::Sqlite).await;
        let token = sso.f.hub.issue_scim_token(&sso.admin, "acme").await.unwrap();
        let org = sso.f.hub.scim_org("acme", &token).await.unwrap();
        let change = ScimPersonChange { email: Some("ada@acme.test".into()), ..ScimPersonChange::default() };
        let provisioned = sso.f.hub.scim_create_person(org, change).await.unwrap();
        sso.idp.set_account(Account { email_verified: false, ..ada() });
        let ada = sso.sign_in("ada@acme.test").await.unwrap();
        assert_eq!(ada.user_id, provisioned.user_id);
    }

    #[tokio::test]
    async fn a_domain_not_verified() {
        let sso = acme(Backend::Sqlite).await;
        sso.idp.set_account(Account { email: "eve@unverified.test".into(), ..ada() });
        let (_, message) = sso.refusal().await;
        assert!(message.contains("not a verified domain"), "{message}");
        assert!(sso.f.hub.user_by_email("eve@unverified.test").await.unwrap().is_none(), "no account was made");
    }

    #[tokio::test]
    async fn a_missing_state() {
        let sso = acme(Backend::Sqlite).await;
        let attempt = sso.begin("ada@acme.test").await;
        let error = sso
            .f
            .hub
            .finish_sso(SsoCallback {
                code: Some(attempt.code),
                browser_binding: Some(attempt.binding),
                ..SsoCallback::default()
            })
            .await
            .unwrap_err();
        assert!(error.to_string().contains("no state"), "{error}");
    }

    #[tokio::test]
    async fn a_state_from_another_browser() {
        let sso = acme(Backend::Sqlite).await;
        let mine = sso.begin("ada@acme.test").await;
        let theirs = sso.begin("ada@acme.test").await;
        let crossed = Attempt { binding: theirs.binding, ..mine };
        let error = sso.finish(&crossed).await.unwrap_err();
        assert!(error.to_string().contains("another browser"), "{error}");
    }

    #[tokio::test]
    async fn a_replayed_state() {
        let sso = acme(Backend::Sqlite).await;
        let attempt = sso.begin("ada@acme.test").await;
        sso.finish(&attempt).await.unwrap();
        assert_eq!(code(sso.finish(&attempt).await), ErrorCode::Expired);
    }

    #[tokio::test]
    async fn a_replayed_authorization_code() {
        let sso = acme(Backend::Sqlite).await;
        let first = sso.begin("ada@acme.test").await;
        sso.finish(&first).await.unwrap();
        let second = sso.begin("ada@acme.test").await;
        let replay = Attempt { code: first.code, ..second };
        let error = sso.finish(&replay).await.unwrap_err();
        assert!(error.to_string().contains("refused the authorization code"), "{error}");
    }

    #[tokio::test]
    async fn a_scim_token_of_one_organisation_on_another_is_not_found() {
        let sso = acme(Backend::Sqlite).await;
        let token = sso.f.hub.issue_scim_token(&sso.admin, "acme").await.unwrap();
        sso.f.hub.create_organization(&sso.admin, "other", None).await.unwrap();
        assert_eq!(code(sso.f.hub.scim_org("other", &token).await), ErrorCode::NotFound);
        assert_eq!(code(sso.f.hub.scim_org("nowhere", &token).await), ErrorCode::NotFound);
        assert_eq!(code(sso.f.hub.scim_org("acme", "sts_wrong").await), ErrorCode::Unauthenticated);
    }

    #[tokio::test]
    async fn a_key_rotation_is_picked_up_once_and_old_tokens_verify_until_the_key_goes() {
        let sso = acme(Backend::Sqlite).await;
        sso.sign_in("ada@acme.test").await.unwrap();
        let before = sso.f.hub.sso_fetch_counts();
        sso.idp.rotate_keys("key-2");
        sso.sign_in("ada@acme.test").await.unwrap();
        let after = sso.f.hub.sso_fetch_counts();
        assert_eq!(
            (after.discovery, after.jwks),
            (before.discovery, before.jwks + 1),
            "one key-set fetch for the rotation"
        );
        sso.sign_in("ada@acme.test").await.unwrap();
        assert_eq!(sso.f.hub.sso_fetch_counts(), after, "the new key is cached");
        sso.idp.sign_with_oldest_key(true);
        sso.sign_in("ada@acme.test").await.expect("a token of the old key, still published, verifies");
        assert_eq!(sso.f.hub.sso_fetch_counts(), after, "and costs no fetch");
    }

    #[tokio::test]
    async fn a_token_of_a_key_never_published_is_refused_after_one_fetch() {
        let sso = acme(Backend::Sqlite).await;
        sso.sign_in("ada@acme.test").await.unwrap();
        let before = sso.f.hub.sso_fetch_counts();
        sso.idp.forge(Forgery::UnknownKey);
        let (_, message) = sso.refusal().await;
        assert!(message.contains("does not publish"), "{message}");
        assert_eq!(sso.f.hub.sso_fetch_counts().jwks, before.jwks + 1);
    }
}
