//! `strata org sso …`: an organisation's single sign-on, for its owners
//! and admins: the OpenID Connect connection (its client secret goes in
//! from stdin or a file and never comes out), "SSO required", domains,
//! group mappings and the SCIM token.

use std::io::BufRead;

use anyhow::{Context as _, anyhow};
use serde_json::json;
use strata_client::sso::{DomainInfo, SsoConnectionChange, SsoConnectionInfo, SsoSettings};
use strata_client::{ClientError, StrataClient};

use crate::cli::{DomainCommand, GlobalArgs, OrgRoleArg, OutputFormat, SsoCommand, SsoConfigureArgs, Switch};
use crate::context::Target;
use crate::failure::{Failure, internal, user};
use crate::output::{print_record, print_table, say, when};
use crate::session::organization;

pub async fn sso(
    global: &GlobalArgs,
    client: &StrataClient,
    target: &Target,
    command: SsoCommand,
) -> Result<(), Failure> {
    let format = global.output;
    match command {
        SsoCommand::Show { org } => {
            let org = organization(org.as_deref(), target)?;
            let settings = client.sso_settings(&org).await?;
            print_settings(format, &org, &settings).map_err(internal)
        }
        SsoCommand::Configure(args) => configure(format, client, target, args).await,
        SsoCommand::Test { org } => {
            let org = organization(org.as_deref(), target)?;
            let found = client.test_sso(&org).await?;
            let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
            let rows = [
                ("connection", "ok: the provider answered and offers PKCE (S256)".to_owned()),
                ("issuer", text(&found.issuer)),
                ("authorization endpoint", text(&found.authorization_endpoint)),
                ("token endpoint", text(&found.token_endpoint)),
                ("signing keys", found.signing_keys.map_or_else(|| "-".to_owned(), |n| n.to_string())),
            ];
            print_record(format, &found, &rows).map_err(internal)
        }
        SsoCommand::Remove { org } => {
            let org = organization(org.as_deref(), target)?;
            client.remove_sso(&org).await?;
            let rows = [("organization", org.clone()), ("sso", "removed (and no longer required)".to_owned())];
            print_record(format, &json!({ "organization": org, "removed": true }), &rows).map_err(internal)
        }
        SsoCommand::Require { state, org } => {
            let org = organization(org.as_deref(), target)?;
            let required = state == Switch::On;
            client.set_sso_required(&org, required).await?;
            let next = if required {
                format!("members log in with `strata auth login --sso --org {org}`; owners keep password access")
            } else {
                "members may log in with a password again".to_owned()
            };
            let rows = [("organization", org.clone()), ("sso required", on_off(required)), ("next", next)];
            print_record(format, &json!({ "organization": org, "ssoRequired": required }), &rows).map_err(internal)
        }
        SsoCommand::Domain(command) => domain(format, client, target, command).await,
        SsoCommand::Map { group, team, role, org } => {
            let org = organization(org.as_deref(), target)?;
            let org_role = role.map(OrgRoleArg::graphql);
            client.set_group_mapping(&org, &group, team.as_deref(), org_role).await?;
            let rows = [
                ("group", group.clone()),
                ("team", team.clone().unwrap_or_else(|| "-".to_owned())),
                ("org role", org_role.map_or_else(|| "-".to_owned(), str::to_lowercase)),
                ("next", "members get these when they next log in with SSO".to_owned()),
            ];
            print_record(format, &json!({ "group": group, "team": team, "orgRole": org_role }), &rows).map_err(internal)
        }
        SsoCommand::Unmap { group, org } => {
            let org = organization(org.as_deref(), target)?;
            client.set_group_mapping(&org, &group, None, None).await?;
            let rows = [("group", group.clone()), ("mapping", "removed".to_owned())];
            print_record(format, &json!({ "group": group, "removed": true }), &rows).map_err(internal)
        }
        SsoCommand::ScimToken { org } => {
            let org = organization(org.as_deref(), target)?;
            let issued = client.issue_scim_token(&org).await?;
            let rows = [
                ("token", issued.token.clone()),
                ("base url", issued.base_url.clone()),
                (
                    "note",
                    "shown once: give both to the identity provider's SCIM app; the previous token stops working"
                        .to_owned(),
                ),
            ];
            print_record(format, &issued, &rows).map_err(internal)
        }
    }
}

fn on_off(on: bool) -> String {
    if on { "on" } else { "off" }.to_owned()
}

/// The connection, SSO required, then domains and group mappings as tables.
fn print_settings(format: OutputFormat, org: &str, settings: &SsoSettings) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        return print_record(format, settings, &[]);
    }
    let mut rows = vec![("organization", org.to_owned()), ("sso required", on_off(settings.sso_required))];
    match &settings.sso_connection {
        Some(connection) => rows.extend(connection_rows(connection)),
        None => rows.push(("connection", "none (see `strata org sso configure --help`)".to_owned())),
    }
    print_record(format, settings, &rows)?;
    if !settings.domains.is_empty() {
        say("");
        print_domains(format, &settings.domains)?;
    }
    if !settings.group_mappings.is_empty() {
        let mappings = settings
            .group_mappings
            .iter()
            .map(|m| {
                let role = m.org_role.as_deref().map_or_else(|| "-".to_owned(), str::to_lowercase);
                vec![m.group.clone(), m.team.clone().unwrap_or_else(|| "-".to_owned()), role]
            })
            .collect();
        say("");
        print_table(format, &settings.group_mappings, &["group", "team", "org role"], mappings)?;
    }
    Ok(())
}

fn connection_rows(connection: &SsoConnectionInfo) -> Vec<(&'static str, String)> {
    vec![
        ("issuer", connection.issuer.clone()),
        ("client id", connection.client_id.clone()),
        ("scopes", format!("openid {}", connection.scopes.join(" "))),
        (
            "claims",
            format!(
                "email={} name={} groups={}",
                connection.email_claim, connection.name_claim, connection.groups_claim
            ),
        ),
        ("redirect uri", connection.redirect_uri.clone()),
        ("updated", when(Some(&connection.updated_at))),
    ]
}

fn print_domains(format: OutputFormat, domains: &[DomainInfo]) -> anyhow::Result<()> {
    let rows = domains
        .iter()
        .map(|d| vec![d.domain.clone(), domain_status(d), d.record_name.clone(), d.record_value.clone()])
        .collect();
    print_table(format, &domains, &["domain", "status", "txt name", "txt value"], rows)
}

fn domain_status(domain: &DomainInfo) -> String {
    if domain.verified { format!("verified {}", when(domain.verified_at.as_deref())) } else { "pending".to_owned() }
}

async fn configure(
    format: OutputFormat,
    client: &StrataClient,
    target: &Target,
    args: SsoConfigureArgs,
) -> Result<(), Failure> {
    let org = organization(args.org.as_deref(), target)?;
    let secret = client_secret(&args)?;
    let existing = client.sso_settings(&org).await?.sso_connection;
    let change = connection_change(args, secret, existing.as_ref())?;
    let connection = client.configure_sso(&org, &change).await.map_err(with_secret_hint)?;
    let mut rows = vec![("organization", org)];
    rows.extend(connection_rows(&connection));
    rows.push(("next", "register the redirect URI at the provider, then run `strata org sso test`".to_owned()));
    print_record(format, &connection, &rows).map_err(internal)
}

/// The client secret from stdin or a file, if either was asked for.
fn client_secret(args: &SsoConfigureArgs) -> Result<Option<String>, Failure> {
    let text = if args.client_secret_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the client secret from stdin")
            .map_err(user)?;
        line
    } else if let Some(path) = &args.client_secret_file {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the client secret from {}", path.display()))
            .map_err(user)?
    } else {
        return Ok(None);
    };
    let secret = text.trim();
    if secret.is_empty() {
        return Err(user(anyhow!("the client secret is empty")));
    }
    Ok(Some(secret.to_owned()))
}

/// The change to send. Flags left out keep the stored values: the server
/// needs the issuer and client id every time, and resets the claims not
/// given to their defaults once any is given, so they are filled in here.
fn connection_change(
    args: SsoConfigureArgs,
    client_secret: Option<String>,
    existing: Option<&SsoConnectionInfo>,
) -> Result<SsoConnectionChange, Failure> {
    let stored = |pick: fn(&SsoConnectionInfo) -> &String| existing.map(|c| pick(c).clone());
    let (Some(issuer), Some(client_id)) =
        (args.issuer.or_else(|| stored(|c| &c.issuer)), args.client_id.or_else(|| stored(|c| &c.client_id)))
    else {
        return Err(user(anyhow!(
            "the organisation has no SSO connection yet: pass --issuer URL, --client-id ID and the client secret \
             (--client-secret-stdin or --client-secret-file PATH)"
        )));
    };
    let any_claim = args.email_claim.is_some() || args.name_claim.is_some() || args.groups_claim.is_some();
    let claim = |given: Option<String>, pick: fn(&SsoConnectionInfo) -> &String| {
        if any_claim { given.or_else(|| stored(pick)) } else { None }
    };
    Ok(SsoConnectionChange {
        issuer,
        client_id,
        client_secret,
        scopes: args.scopes.as_deref().map(scope_list),
        email_claim: claim(args.email_claim, |c| &c.email_claim),
        name_claim: claim(args.name_claim, |c| &c.name_claim),
        groups_claim: claim(args.groups_claim, |c| &c.groups_claim),
    })
}

/// `"email profile,groups"` as a list; `openid` is always asked for, so it is left out.
fn scope_list(text: &str) -> Vec<String> {
    text.split([' ', ',']).filter(|s| !s.is_empty() && *s != "openid").map(str::to_owned).collect()
}

/// Says how to pass the secret when the server asks for one.
fn with_secret_hint(error: ClientError) -> Failure {
    let wants_secret = matches!(&error, ClientError::Refused(errors)
        if errors.iter().any(|e| e.field.as_deref() == Some("clientSecret")));
    if wants_secret {
        user(anyhow!("{error}; pass it with --client-secret-stdin or --client-secret-file PATH"))
    } else {
        error.into()
    }
}

async fn domain(
    format: OutputFormat,
    client: &StrataClient,
    target: &Target,
    command: DomainCommand,
) -> Result<(), Failure> {
    match command {
        DomainCommand::Add { domain, org } => {
            let org = organization(org.as_deref(), target)?;
            let claimed = client.claim_domain(&org, &domain).await?;
            let next = format!(
                "publish a DNS TXT record with this name and value, then run `strata org sso domain verify {}`",
                claimed.domain
            );
            let rows = [
                ("domain", claimed.domain.clone()),
                ("status", domain_status(&claimed)),
                ("txt name", claimed.record_name.clone()),
                ("txt value", claimed.record_value.clone()),
                ("next", next),
            ];
            print_record(format, &claimed, &rows).map_err(internal)
        }
        DomainCommand::Verify { domain, org } => {
            let org = organization(org.as_deref(), target)?;
            let verified = client.verify_domain(&org, &domain).await?;
            let rows = [("domain", verified.domain.clone()), ("status", domain_status(&verified))];
            print_record(format, &verified, &rows).map_err(internal)
        }
        DomainCommand::Remove { domain, org } => {
            let org = organization(org.as_deref(), target)?;
            client.remove_domain(&org, &domain).await?;
            let rows = [("domain", domain.clone()), ("status", "removed".to_owned())];
            print_record(format, &json!({ "domain": domain, "removed": true }), &rows).map_err(internal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> SsoConnectionInfo {
        SsoConnectionInfo {
            issuer: "https://idp.example".into(),
            client_id: "strata".into(),
            scopes: vec!["email".into()],
            email_claim: "upn".into(),
            name_claim: "name".into(),
            groups_claim: "groups".into(),
            redirect_uri: "https://strata.example/auth/sso/callback".into(),
            updated_at: "2024-05-01T00:00:00Z".into(),
        }
    }

    fn args() -> SsoConfigureArgs {
        SsoConfigureArgs {
            issuer: None,
            client_id: None,
            client_secret_stdin: false,
            client_secret_file: None,
            scopes: None,
            email_claim: None,
            name_claim: None,
            groups_claim: None,
            org: None,
        }
    }

    #[test]
    fn flags_left_out_keep_the_stored_connection() {
        let change = connection_change(
            SsoConfigureArgs { groups_claim: Some("roles".into()), ..args() },
            Some("s3cret".into()),
            Some(&stored()),
        )
        .expect("change");
        assert_eq!((change.issuer.as_str(), change.client_id.as_str()), ("https://idp.example", "strata"));
        assert_eq!(change.email_claim.as_deref(), Some("upn"), "not reset to the default");
        assert_eq!(change.groups_claim.as_deref(), Some("roles"));
        assert_eq!(change.scopes, None);

        let untouched = connection_change(args(), None, Some(&stored())).expect("change");
        assert_eq!((untouched.email_claim, untouched.client_secret), (None, None));
    }

    #[test]
    fn a_first_connection_needs_issuer_and_client_id() {
        let Err(Failure::User(error)) = connection_change(args(), None, None) else { panic!("refused") };
        assert!(error.to_string().contains("--issuer URL, --client-id ID"), "{error}");
    }

    #[test]
    fn scopes_split_on_spaces_and_commas_without_openid() {
        assert_eq!(scope_list("openid email, profile  groups"), ["email", "profile", "groups"]);
    }
}
