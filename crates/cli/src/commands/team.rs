//! `strata team …`: teams of an organisation, their members (named by
//! email here, by user id on the wire) and their roles on workspaces.

use anyhow::anyhow;
use serde_json::json;
use strata_client::hub::Member;
use strata_client::sso::{TeamInfo, TeamMemberInfo};
use strata_client::{ClientError, StrataClient};

use crate::cli::{GlobalArgs, TeamCommand};
use crate::context::Target;
use crate::failure::{Failure, internal, user};
use crate::output::{print_record, print_table};
use crate::session::{connect, organization};

pub async fn team(global: &GlobalArgs, command: TeamCommand) -> Result<(), Failure> {
    let (client, target) = connect(global).await?;
    let format = global.output;
    match command {
        TeamCommand::Create { slug, name, org } => {
            let org = organization(org.as_deref(), &target)?;
            let team = client.create_team(&org, &slug, name.as_deref()).await?;
            let rows = [("team", team.slug.clone()), ("name", team.name.clone()), ("organization", org)];
            print_record(format, &team, &rows).map_err(internal)
        }
        TeamCommand::List { org } => {
            let org = organization(org.as_deref(), &target)?;
            let teams = client.teams(&org).await?;
            let rows = teams
                .iter()
                .map(|t| {
                    let managed = if t.managed_by_scim { "scim" } else { "-" };
                    vec![t.slug.clone(), t.name.clone(), t.members.len().to_string(), managed.to_owned()]
                })
                .collect();
            print_table(format, &teams, &["slug", "name", "members", "managed by"], rows).map_err(internal)
        }
        TeamCommand::Members { team, org } => {
            let org = organization(org.as_deref(), &target)?;
            let found = existing_team(&client, &org, &team).await?;
            let rows =
                found.members.iter().map(|m| vec![m.email.clone(), m.display_name.clone(), m.source.clone()]).collect();
            print_table(format, &found.members, &["email", "name", "source"], rows).map_err(internal)
        }
        TeamCommand::Add { team, email, org } => {
            let org = organization(org.as_deref(), &target)?;
            let member = org_member(&client, &org, &email).await?;
            client.set_team_member(&org, &team, &member.user_id, true).await.map_err(|e| not_found_hint(e, TEAMS))?;
            let rows = [("added", member.email.clone()), ("team", team.clone())];
            print_record(format, &json!({ "team": team, "email": member.email, "member": true }), &rows)
                .map_err(internal)
        }
        TeamCommand::Remove { team, email, org } => {
            let org = organization(org.as_deref(), &target)?;
            let member = team_member(&client, &org, &team, &email).await?;
            client.set_team_member(&org, &team, &member.user_id, false).await?;
            let rows = [("removed", member.email.clone()), ("team", team.clone())];
            print_record(format, &json!({ "team": team, "email": member.email, "member": false }), &rows)
                .map_err(internal)
        }
        TeamCommand::Delete { team, org } => {
            let org = organization(org.as_deref(), &target)?;
            client.delete_team(&org, &team).await.map_err(|e| not_found_hint(e, TEAMS))?;
            let rows = [("team", team.clone()), ("status", "deleted".to_owned())];
            print_record(format, &json!({ "team": team, "deleted": true }), &rows).map_err(internal)
        }
        TeamCommand::Grant { team, repo, role, org } => {
            let org = organization(org.as_deref(), &target)?;
            let workspace = workspace(global, &target)?;
            client
                .set_team_role_binding(&org, &workspace, &team, repo.as_deref(), Some(role.graphql()))
                .await
                .map_err(|e| not_found_hint(e, TEAMS_AND_WORKSPACES))?;
            print_roles(format, &client, &org, &workspace, &team).await
        }
        TeamCommand::Revoke { team, repo, org } => {
            let org = organization(org.as_deref(), &target)?;
            let workspace = workspace(global, &target)?;
            client
                .set_team_role_binding(&org, &workspace, &team, repo.as_deref(), None)
                .await
                .map_err(|e| not_found_hint(e, TEAMS_AND_WORKSPACES))?;
            print_roles(format, &client, &org, &workspace, &team).await
        }
    }
}

/// Where to look when a team or workspace is not found.
const TEAMS: &str = "see `strata team list`";
const TEAMS_AND_WORKSPACES: &str = "see `strata team list` and `strata workspace list`";

/// Adds where to look to a NOT_FOUND refusal, whose message names only
/// what is missing.
fn not_found_hint(error: ClientError, hint: &str) -> Failure {
    let not_found = matches!(&error, ClientError::Refused(errors) if errors.iter().any(|e| e.code == "NOT_FOUND"));
    if not_found { user(anyhow!("{error}; {hint}")) } else { error.into() }
}

/// The workspace grant and revoke act on: `--workspace`, else the context's.
fn workspace(global: &GlobalArgs, target: &Target) -> Result<String, Failure> {
    global.workspace.clone().or_else(|| target.workspace.clone()).ok_or_else(|| {
        user(anyhow!("which workspace? pass --workspace SLUG, or set one with `strata workspace use ORG/WORKSPACE`"))
    })
}

/// The team's roles on the workspace after a change, so the person sees
/// what holds now (an empty list after the last revoke).
async fn print_roles(
    format: crate::cli::OutputFormat,
    client: &StrataClient,
    org: &str,
    workspace: &str,
    team: &str,
) -> Result<(), Failure> {
    let bindings = client.team_role_bindings(org, workspace).await?.ok_or_else(|| {
        user(anyhow!("no workspace {org}/{workspace}, or you have no role on it (see `strata workspace list`)"))
    })?;
    let held: Vec<_> = bindings.into_iter().filter(|b| b.team == team).collect();
    let rows = held
        .iter()
        .map(|b| {
            let on =
                b.repo.as_deref().map_or_else(|| format!("{workspace} (all repos)"), |r| format!("{workspace}/{r}"));
            vec![b.team.clone(), on, b.role.to_lowercase()]
        })
        .collect();
    print_table(format, &held, &["team", "on", "role"], rows).map_err(internal)
}

async fn existing_team(client: &StrataClient, org: &str, team: &str) -> Result<TeamInfo, Failure> {
    let teams = client.teams(org).await?;
    teams
        .into_iter()
        .find(|t| t.slug == team)
        .ok_or_else(|| user(anyhow!("no team `{team}` in {org} (see `strata team list`)")))
}

/// The organisation member with `email`: teams take members of the organisation only.
async fn org_member(client: &StrataClient, org: &str, email: &str) -> Result<Member, Failure> {
    let members = client.members(org).await?;
    members.into_iter().find(|m| m.email.eq_ignore_ascii_case(email)).ok_or_else(|| {
        user(anyhow!("`{email}` is not a member of {org}; invite them first: `strata org invite {email} --org {org}`"))
    })
}

/// The team member with `email`, looked up among the team's own members:
/// those are the ones that can be removed, and the error can say so.
async fn team_member(client: &StrataClient, org: &str, team: &str, email: &str) -> Result<TeamMemberInfo, Failure> {
    let found = existing_team(client, org, team).await?;
    found
        .members
        .into_iter()
        .find(|m| m.email.eq_ignore_ascii_case(email))
        .ok_or_else(|| user(anyhow!("`{email}` is not in team `{team}` (see `strata team members {team}`)")))
}
