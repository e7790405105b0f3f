// An organisation's teams: members who share the roles a team is given on
// workspaces (on each workspace's Access section). Every member sees them;
// owners and admins create, delete and fill them. Teams your identity
// provider's SCIM app manages are filled from there.
import { useState, type FormEvent } from "react";
import { Layout } from "../components/Layout";
import { AskFirst, Empty, Field, FormErrors, LoadState } from "../components/ui";
import { graphql } from "../gql";
import type { OrgTeamsQuery } from "../gql/graphql";
import { useForm } from "../lib/forms";
import { addableMembers, errorFor, generalErrors, gql, memberSource, useLoad } from "../lib/index";
import { useManages } from "../session";

const Teams = graphql(`
  query OrgTeams($org: String!) {
    organization(slug: $org) {
      teams {
        id
        slug
        name
        managedByScim
        members {
          userId
          email
          displayName
          source
        }
      }
      members(first: 100) {
        nodes {
          userId
          email
        }
      }
    }
  }
`);

type Team = NonNullable<OrgTeamsQuery["organization"]>["teams"][number];
type Person = NonNullable<OrgTeamsQuery["organization"]>["members"]["nodes"][number];

export function TeamsPage({ org }: { org: string }) {
  const manages = useManages(org);
  const state = useLoad(() => gql(Teams, { org }), `teams:${org}`);
  return (
    <Layout org={org}>
      <h1>Teams</h1>
      <p className="lead">A team's members share the roles it is given on workspaces; give those on each workspace's Access section.</p>
      <LoadState state={state}>
        {(data) =>
          !data.organization ? (
            <Empty title="No such organisation">
              <p>It does not exist, or you are not a member.</p>
            </Empty>
          ) : (
            <>
              {data.organization.teams.length === 0 ? <Empty title="No teams yet">{manages ? <p>Create one below.</p> : null}</Empty> : null}
              {data.organization.teams.map((team) => (
                <TeamCard key={team.id} org={org} team={team} people={data.organization?.members.nodes ?? []} manages={manages} changed={state.reload} />
              ))}
              {manages ? <CreateTeam org={org} created={state.reload} /> : null}
            </>
          )
        }
      </LoadState>
    </Layout>
  );
}

const SetMember = graphql(`
  mutation SetTeamMember($input: SetTeamMemberInput!) {
    setTeamMember(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

function TeamCard({ org, team, people, manages, changed }: { org: string; team: Team; people: Person[]; manages: boolean; changed: () => void }) {
  const [userId, setUserId] = useState("");
  const form = useForm();
  const editable = manages && !team.managedByScim;
  const set = (event: FormEvent, user: string, member: boolean) =>
    form.run(event, async () => {
      const { setTeamMember } = await gql(SetMember, { input: { organization: org, team: team.slug, userId: user, member } });
      if (setTeamMember.ok) {
        setUserId("");
        changed();
      }
      return setTeamMember.userErrors;
    });
  const addable = addableMembers(people, team.members);
  return (
    <section className="card" aria-labelledby={`team-${team.slug}-title`} data-testid={`team-${team.slug}`}>
      <h2 id={`team-${team.slug}-title`}>
        {team.name} <code>{team.slug}</code> {team.managedByScim ? <span className="badge">managed by SCIM</span> : null}
      </h2>
      {team.managedByScim ? <p className="hint">Your identity provider's SCIM app manages its members.</p> : null}
      <FormErrors errors={generalErrors(form.errors, ["userId"])} />
      {team.members.length === 0 ? (
        <p className="hint">No members yet.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">How</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {team.members.map((m) => (
              <tr key={m.userId}>
                <td>
                  {m.displayName || m.email} <span className="hint">{m.email}</span>
                </td>
                <td>{memberSource(m.source)}</td>
                <td>
                  {editable ? (
                    <form onSubmit={(event) => set(event, m.userId, false)}>
                      <button type="submit" className="secondary danger">
                        Remove
                      </button>
                    </form>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editable && addable.length > 0 ? (
        <form className="inline-form" onSubmit={(event) => set(event, userId, true)}>
          <div className="field">
            <label htmlFor={`team-${team.slug}-add`}>Add a member</label>
            <select id={`team-${team.slug}-add`} value={userId} onChange={(e) => setUserId(e.target.value)}>
              <option value="">Choose a member</option>
              {addable.map((p) => (
                <option key={p.userId} value={p.userId}>
                  {p.email}
                </option>
              ))}
            </select>
            {errorFor(form.errors, "userId") ? <p className="field-error">{errorFor(form.errors, "userId")}</p> : null}
          </div>
          <button type="submit" disabled={form.busy || !userId}>
            Add
          </button>
        </form>
      ) : null}
      {manages ? <DeleteTeam org={org} team={team.slug} deleted={changed} /> : null}
    </section>
  );
}

const Delete = graphql(`
  mutation DeleteTeam($input: DeleteTeamInput!) {
    deleteTeam(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

function DeleteTeam({ org, team, deleted }: { org: string; team: string; deleted: () => void }) {
  const run = async () => (await gql(Delete, { input: { organization: org, team } })).deleteTeam;
  return (
    <AskFirst
      label="Delete team…"
      question={`Delete ${team}? Its members lose the roles it gives them; group mappings to it no longer add anyone.`}
      confirm="Delete team"
      run={run}
      done={deleted}
    />
  );
}

const Create = graphql(`
  mutation CreateTeam($input: CreateTeamInput!) {
    createTeam(input: $input) {
      team {
        slug
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

function CreateTeam({ org, created }: { org: string; created: () => void }) {
  const [slug, setSlug] = useState("");
  const [name, setName] = useState("");
  const form = useForm();
  const submit = (event: FormEvent) =>
    form.run(event, async () => {
      const { createTeam } = await gql(Create, { input: { organization: org, slug, name: name || null } });
      if (createTeam.team) {
        setSlug("");
        setName("");
        created();
      }
      return createTeam.userErrors;
    });
  return (
    <form onSubmit={submit} className="card" noValidate>
      <h2>New team</h2>
      <FormErrors errors={generalErrors(form.errors, ["slug", "name"])} />
      <Field label="Slug" name="slug" value={slug} onChange={setSlug} error={errorFor(form.errors, "slug")} hint="Lower-case letters, digits and hyphens." required />
      <Field label="Name" name="name" value={name} onChange={setName} error={errorFor(form.errors, "name")} />
      <button type="submit" disabled={form.busy}>
        Create team
      </button>
    </form>
  );
}
