//! `strata auth|org|workspace|token`: the hub, through GraphQL.

use std::io::{BufRead, IsTerminal};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use strata_client::hub::{ApiTokenInfo, WorkspaceInfo};

use crate::cli::{AuthCommand, GlobalArgs, OrgCommand, OutputFormat, PasswordArgs, TokenCommand, WorkspaceCommand};
use crate::context::{CliConfig, config_path, resolve_target};
use crate::failure::{Failure, internal, user};
use crate::output::{print_record, print_table, say, when};
use crate::session::{connect, organization};

/// How often `workspace create --wait` looks again.
const WAIT_POLL: Duration = Duration::from_millis(250);

/// The password: stdin, `STRATA_PASSWORD`, or a prompt without echo.
pub(crate) fn password(args: &PasswordArgs) -> Result<String, Failure> {
    if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin").map_err(user)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if let Ok(password) = std::env::var("STRATA_PASSWORD")
        && !password.is_empty()
    {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(user(anyhow!("no password: pass --password-stdin or set STRATA_PASSWORD")));
    }
    rpassword::prompt_password("Password: ").context("cannot read the password").map_err(user)
}

pub async fn auth(global: &GlobalArgs, command: AuthCommand) -> Result<(), Failure> {
    match command {
        AuthCommand::Login(args) => super::login::login(global, args).await,
        AuthCommand::Signup { email, name, password: args } => {
            let (client, _) = connect(global).await?;
            let secret = password(&args)?;
            client.sign_up(&email, &secret, name.as_deref()).await?;
            let next = "open the link we emailed you (or, if you have an account already, the note we sent)";
            print_record(
                global.output,
                &serde_json::json!({ "email": email, "next": next }),
                &[("email", email.clone()), ("next", next.to_owned())],
            )
            .map_err(internal)
        }
        AuthCommand::Verify { token } => {
            let (client, _) = connect(global).await?;
            let user = client.verify_email(&token).await?;
            print_record(global.output, &user, &[("email", user.email.clone()), ("confirmed", "yes".to_owned())])
                .map_err(internal)
        }
        AuthCommand::Logout => {
            let (client, target) = connect(global).await?;
            if target.refresh_token.is_some() {
                // The server ends the session; a failure there must not keep tokens here.
                let ended = client.log_out().await;
                forget_tokens(target.context_name.as_deref()).map_err(user)?;
                ended?;
            } else {
                forget_tokens(target.context_name.as_deref()).map_err(user)?;
            }
            say("logged out");
            Ok(())
        }
        AuthCommand::Whoami => {
            let (client, target) = connect(global).await?;
            let viewer = client.viewer().await?;
            let rows = [
                ("email", viewer.email.clone()),
                ("name", viewer.display_name.clone()),
                ("confirmed", if viewer.email_verified { "yes" } else { "no" }.to_owned()),
                ("organization", target.organization.clone().unwrap_or_else(|| "(none)".to_owned())),
                ("workspace", target.workspace.clone().unwrap_or_else(|| "(none)".to_owned())),
            ];
            print_record(global.output, &viewer, &rows).map_err(internal)
        }
    }
}

fn forget_tokens(context: Option<&str>) -> anyhow::Result<()> {
    let Some(name) = context else { return Ok(()) };
    let path = config_path()?;
    let mut config = CliConfig::load(&path)?;
    if let Some(entry) = config.contexts.get_mut(name) {
        entry.token = None;
        entry.refresh_token = None;
        config.save(&path)?;
    }
    Ok(())
}

/// Sets the context's default organisation and (optionally) workspace.
fn use_in_context(global: &GlobalArgs, org: &str, workspace: Option<&str>) -> anyhow::Result<()> {
    let target = resolve_target(global.endpoint.as_deref(), global.context.as_deref())?;
    let Some(name) = target.context_name else {
        return Err(anyhow!("no CLI context to store it in; run `strata auth login` or `strata dev` first"));
    };
    let path = config_path()?;
    let mut config = CliConfig::load(&path)?;
    if let Some(entry) = config.contexts.get_mut(&name) {
        entry.organization = Some(org.to_owned());
        if let Some(workspace) = workspace {
            entry.workspace = Some(workspace.to_owned());
        }
        config.save(&path)?;
    }
    Ok(())
}

pub async fn org(global: &GlobalArgs, command: OrgCommand) -> Result<(), Failure> {
    let (client, target) = connect(global).await?;
    match command {
        OrgCommand::Create { slug, name } => {
            let org = client.create_organization(&slug, name.as_deref()).await?;
            use_in_context(global, &org.slug, None).map_err(user)?;
            print_record(
                global.output,
                &org,
                &[("organization", org.slug.clone()), ("your role", org.viewer_role.clone())],
            )
            .map_err(internal)?;
        }
        OrgCommand::List => {
            let orgs = client.organizations().await?;
            let rows =
                orgs.iter().map(|o| vec![o.slug.clone(), o.name.clone(), o.viewer_role.to_lowercase()]).collect();
            print_table(global.output, &orgs, &["slug", "name", "role"], rows).map_err(internal)?;
        }
        OrgCommand::Members { org } => {
            let org = organization(org.as_deref(), &target)?;
            let members = client.members(&org).await?;
            let rows = members
                .iter()
                .map(|m| vec![m.email.clone(), m.display_name.clone(), m.role.to_lowercase(), when(Some(&m.joined_at))])
                .collect();
            print_table(global.output, &members, &["email", "name", "role", "joined"], rows).map_err(internal)?;
        }
        OrgCommand::Invite { email, role, org } => {
            let org = organization(org.as_deref(), &target)?;
            let invitation = client.invite_member(&org, &email, &role).await?;
            let rows = [
                ("invited", invitation.email.clone()),
                ("role", invitation.role.to_lowercase()),
                ("expires", when(Some(&invitation.expires_at))),
            ];
            print_record(global.output, &invitation, &rows).map_err(internal)?;
        }
        OrgCommand::Sso(command) => super::sso::sso(global, &client, &target, command).await?,
        OrgCommand::Accept { token } => {
            let org = client.accept_invitation(&token).await?;
            use_in_context(global, &org.slug, None).map_err(user)?;
            print_record(
                global.output,
                &org,
                &[("joined", org.slug.clone()), ("role", org.viewer_role.to_lowercase())],
            )
            .map_err(internal)?;
        }
        OrgCommand::Delete { slug, confirm } => {
            let id = client.delete_organization(&slug, &confirm).await?;
            let deleted = serde_json::json!({ "deleted": slug, "id": id });
            print_record(global.output, &deleted, &[("deleted", slug.clone())]).map_err(internal)?;
        }
    }
    Ok(())
}

fn print_workspace(format: OutputFormat, ws: &WorkspaceInfo) -> anyhow::Result<()> {
    let rows = [
        ("workspace", format!("{}/{}", ws.organization_slug, ws.slug)),
        ("state", ws.state.clone()),
        ("message", ws.status_message.clone().unwrap_or_default()),
        ("endpoint", ws.endpoint.clone().unwrap_or_else(|| "(none yet)".to_owned())),
        ("plan", ws.plan.clone()),
        ("region", ws.region.clone()),
        ("generation", format!("{} (observed {})", ws.generation, ws.observed_generation)),
        ("your role", ws.viewer_role.to_lowercase()),
    ];
    print_record(format, ws, &rows)
}

/// A workspace with its conditions and its pipelines' workers.
fn print_inspection(
    format: OutputFormat,
    ws: &WorkspaceInfo,
    workers: &[strata_client::hub::PipelineWorkersInfo],
) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        let mut value = serde_json::to_value(ws)?;
        value["workers"] = serde_json::to_value(workers)?;
        return print_record(format, &value, &[]);
    }
    print_workspace(format, ws)?;
    let conditions: Vec<Vec<String>> = ws
        .conditions
        .iter()
        .map(|c| {
            vec![
                c.kind.clone(),
                c.status.to_string(),
                c.reason.clone(),
                c.message.clone(),
                when(Some(&c.last_transition_time)),
            ]
        })
        .collect();
    if !conditions.is_empty() {
        say("");
        print_table(format, &ws.conditions, &["CONDITION", "STATUS", "REASON", "MESSAGE", "SINCE"], conditions)?;
    }
    if !workers.is_empty() {
        let rows = workers
            .iter()
            .map(|w| {
                vec![
                    w.pipeline.clone(),
                    format!("{}/{}", w.current, w.desired),
                    w.max_workers.to_string(),
                    w.outstanding.to_string(),
                    w.reason.clone(),
                    w.message.clone().unwrap_or_default(),
                ]
            })
            .collect();
        say("");
        print_table(format, &workers, &["PIPELINE", "WORKERS", "MAX", "OUTSTANDING", "DECISION", "NOTE"], rows)?;
    }
    Ok(())
}

pub async fn workspace(global: &GlobalArgs, command: WorkspaceCommand) -> Result<(), Failure> {
    let (client, target) = connect(global).await?;
    match command {
        WorkspaceCommand::Create { slug, org, plan, region, idempotency_key, wait, timeout } => {
            let org = organization(org.as_deref(), &target)?;
            let mut ws = client
                .create_workspace(&org, &slug, plan.as_deref(), region.as_deref(), idempotency_key.as_deref())
                .await?;
            if wait {
                let deadline = Instant::now() + Duration::from_secs(timeout);
                while !matches!(ws.state.as_str(), "READY" | "FAILED") {
                    if Instant::now() >= deadline {
                        return Err(user(anyhow!("workspace {org}/{slug} is still {} after {timeout} s", ws.state)));
                    }
                    tokio::time::sleep(WAIT_POLL).await;
                    ws = client
                        .workspace_info(&org, &slug)
                        .await?
                        .ok_or_else(|| user(anyhow!("workspace {org}/{slug} disappeared")))?;
                }
            }
            print_workspace(global.output, &ws).map_err(internal)?;
            if ws.state == "FAILED" {
                return Err(user(anyhow!("workspace {org}/{slug} FAILED: {}", ws.status_message.unwrap_or_default())));
            }
        }
        WorkspaceCommand::List { org } => {
            let org = organization(org.as_deref(), &target)?;
            let list = client.workspaces(&org).await?;
            let rows = list
                .iter()
                .map(|w| {
                    vec![
                        w.slug.clone(),
                        w.state.clone(),
                        w.plan.clone(),
                        w.viewer_role.to_lowercase(),
                        w.endpoint.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(global.output, &list, &["slug", "state", "plan", "role", "endpoint"], rows)
                .map_err(internal)?;
        }
        WorkspaceCommand::Inspect { slug, org } => {
            let org = organization(org.as_deref(), &target)?;
            let ws = existing_workspace(&client, &org, &slug).await?;
            let workers = client.workspace_workers(&org, &slug).await?;
            print_inspection(global.output, &ws, &workers).map_err(internal)?;
        }
        WorkspaceCommand::SetPlan { slug, plan, org } => {
            let org = organization(org.as_deref(), &target)?;
            let ws = client.set_workspace_plan(&org, &slug, &plan).await?;
            print_workspace(global.output, &ws).map_err(internal)?;
        }
        WorkspaceCommand::Delete { slug, confirm, org } => {
            let org = organization(org.as_deref(), &target)?;
            let ws = client.delete_workspace(&org, &slug, &confirm).await?;
            print_workspace(global.output, &ws).map_err(internal)?;
        }
        WorkspaceCommand::Use { workspace } => {
            let (org, slug) = match workspace.split_once('/') {
                Some((org, slug)) => (org.to_owned(), slug.to_owned()),
                None => (organization(None, &target)?, workspace.clone()),
            };
            let ws = existing_workspace(&client, &org, &slug).await?;
            use_in_context(global, &org, Some(&ws.slug)).map_err(user)?;
            say(&format!("commands now act on workspace {org}/{} ({})", ws.slug, ws.state));
        }
    }
    Ok(())
}

/// The workspace `org/slug`, or a user error that says where to look.
async fn existing_workspace(
    client: &strata_client::StrataClient,
    org: &str,
    slug: &str,
) -> Result<WorkspaceInfo, Failure> {
    client.workspace_info(org, slug).await?.ok_or_else(|| {
        user(anyhow!("no workspace {org}/{slug}, or you have no role on it (see `strata workspace list`)"))
    })
}

fn token_rows(tokens: &[ApiTokenInfo]) -> Vec<Vec<String>> {
    tokens
        .iter()
        .map(|t| {
            let state = if t.revoked_at.is_some() { "revoked" } else { "active" };
            vec![
                t.id.clone(),
                t.name.clone(),
                t.prefix.clone(),
                t.role.to_lowercase(),
                state.to_owned(),
                when(t.last_used_at.as_deref()),
                when(t.expires_at.as_deref()),
            ]
        })
        .collect()
}

pub async fn token(global: &GlobalArgs, command: TokenCommand) -> Result<(), Failure> {
    let (client, target) = connect(global).await?;
    match command {
        TokenCommand::Create { name, role, only_workspace, expires_in_days, org } => {
            let org = organization(org.as_deref(), &target)?;
            let made = client.create_api_token(&org, only_workspace.as_deref(), &name, &role, expires_in_days).await?;
            let rows = [
                ("token", made.token.clone()),
                ("name", made.api_token.name.clone()),
                ("role", made.api_token.role.to_lowercase()),
                ("note", "shown once: store it now (e.g. as a CI secret STRATA_TOKEN)".to_owned()),
            ];
            print_record(global.output, &made, &rows).map_err(internal)?;
        }
        TokenCommand::List { org } => {
            let org = organization(org.as_deref(), &target)?;
            let tokens = client.api_tokens(&org).await?;
            let headers = ["id", "name", "prefix", "role", "state", "last used", "expires"];
            print_table(global.output, &tokens, &headers, token_rows(&tokens)).map_err(internal)?;
        }
        TokenCommand::Revoke { id } => {
            let revoked = client.revoke_api_token(&id).await?;
            print_record(global.output, &revoked, &[("revoked", revoked.name.clone())]).map_err(internal)?;
        }
    }
    Ok(())
}
