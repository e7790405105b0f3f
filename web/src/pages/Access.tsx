// Who may do what in a workspace: role bindings (Pachyderm's repoReader,
// repoWriter, repoOwner) of people and of teams, for the whole workspace or
// one repo. Shown to the workspace's admins; the server checks it again.
import { useState, type FormEvent } from "react";
import { FormErrors, LoadState } from "../components/ui";
import { graphql } from "../gql";
import type { WorkspaceAccessQuery, WorkspaceRole as Role } from "../gql/graphql";
import { useForm } from "../lib/forms";
import { errorFor, generalErrors, gql, useLoad } from "../lib/index";

const AccessQuery = graphql(`
  query WorkspaceAccess($org: String!, $ws: String!) {
    workspace(organization: $org, slug: $ws) {
      members {
        userId
        email
        displayName
        repo
        role
      }
      teamRoleBindings {
        team
        repo
        role
      }
      repos {
        name
      }
    }
    organization(slug: $org) {
      teams {
        slug
        name
      }
      members(first: 100) {
        nodes {
          userId
          email
          role
        }
      }
    }
  }
`);

const Bind = graphql(`
  mutation SetRoleBinding($input: SetRoleBindingInput!) {
    setRoleBinding(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

export function AccessSection({ org, ws }: { org: string; ws: string }) {
  const state = useLoad(() => gql(AccessQuery, { org, ws }), `access:${org}/${ws}`);
  const [userId, setUserId] = useState("");
  const [role, setRole] = useState<Role>("READER");
  const [repo, setRepo] = useState("");
  const form = useForm();
  const bind = (event: FormEvent, input: { userId: string; role: Role | null; repo: string | null }) =>
    form.run(event, async () => {
      const { setRoleBinding } = await gql(Bind, { input: { organization: org, workspace: ws, ...input } });
      if (setRoleBinding.ok) state.reload();
      return setRoleBinding.userErrors;
    });
  return (
    <section aria-labelledby="access-title">
      <h2 id="access-title">Access</h2>
      <LoadState state={state}>
        {(data) => {
          const people = (data.organization?.members.nodes ?? []).filter((m) => m.role === "MEMBER");
          const bound = data.workspace?.members ?? [];
          return (
            <>
              <p className="hint">Organisation owners and admins are admins of every workspace; members see the workspaces and repos they are given here.</p>
              <FormErrors errors={generalErrors(form.errors, ["userId", "role", "repo"])} />
              {bound.length > 0 ? (
                <table className="table">
                  <thead>
                    <tr>
                      <th scope="col">Person</th>
                      <th scope="col">Role</th>
                      <th scope="col">On</th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {bound.map((b) => (
                      <tr key={`${b.userId}-${b.repo ?? ""}`} data-testid={`binding-${b.email}`}>
                        <td>{b.displayName || b.email}</td>
                        <td>{b.role.toLowerCase()}</td>
                        <td>{b.repo ? `repo ${b.repo}` : "the whole workspace"}</td>
                        <td>
                          <form onSubmit={(event) => bind(event, { userId: b.userId, role: null, repo: b.repo ?? null })}>
                            <button type="submit" className="secondary danger">
                              Remove
                            </button>
                          </form>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : null}
              {people.length === 0 ? (
                <p className="hint">Invite people to the organisation first; then give them a role here.</p>
              ) : (
                <form className="card" onSubmit={(event) => bind(event, { userId, role, repo: repo || null })}>
                  <h3>Give someone a role</h3>
                  <div className="field">
                    <label htmlFor="access-person">Person</label>
                    <select id="access-person" value={userId} onChange={(e) => setUserId(e.target.value)} required>
                      <option value="">Choose a member</option>
                      {people.map((p) => (
                        <option key={p.userId} value={p.userId}>
                          {p.email}
                        </option>
                      ))}
                    </select>
                    {errorFor(form.errors, "userId") ? <p className="field-error">{errorFor(form.errors, "userId")}</p> : null}
                  </div>
                  <div className="field">
                    <label htmlFor="access-role">Role</label>
                    <select id="access-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
                      <RoleOptions />
                    </select>
                  </div>
                  <div className="field">
                    <label htmlFor="access-repo">On</label>
                    <select id="access-repo" value={repo} onChange={(e) => setRepo(e.target.value)}>
                      <RepoOptions repos={data.workspace?.repos ?? []} />
                    </select>
                    {errorFor(form.errors, "repo") ? <p className="field-error">{errorFor(form.errors, "repo")}</p> : null}
                  </div>
                  <button type="submit" disabled={form.busy || !userId}>
                    Give role
                  </button>
                </form>
              )}
              <TeamAccess org={org} ws={ws} data={data} changed={state.reload} />
            </>
          );
        }}
      </LoadState>
    </section>
  );
}

function RoleOptions() {
  return (
    <>
      <option value="READER">reader: read everything</option>
      <option value="WRITER">writer: data and pipelines</option>
      <option value="ADMIN">admin: everything, including access</option>
    </>
  );
}

function RepoOptions({ repos }: { repos: { name: string }[] }) {
  return (
    <>
      <option value="">the whole workspace</option>
      {repos.map((r) => (
        <option key={r.name} value={r.name}>
          repo {r.name}
        </option>
      ))}
    </>
  );
}

const BindTeam = graphql(`
  mutation SetTeamRoleBinding($input: SetTeamRoleBindingInput!) {
    setTeamRoleBinding(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

/** The roles teams hold here (their members hold them too), with grant and revoke. */
function TeamAccess({ org, ws, data, changed }: { org: string; ws: string; data: WorkspaceAccessQuery; changed: () => void }) {
  const [team, setTeam] = useState("");
  const [role, setRole] = useState<Role>("READER");
  const [repo, setRepo] = useState("");
  const form = useForm();
  const bind = (event: FormEvent, input: { team: string; role: Role | null; repo: string | null }) =>
    form.run(event, async () => {
      const { setTeamRoleBinding } = await gql(BindTeam, { input: { organization: org, workspace: ws, ...input } });
      if (setTeamRoleBinding.ok) changed();
      return setTeamRoleBinding.userErrors;
    });
  const teams = data.organization?.teams ?? [];
  const bound = data.workspace?.teamRoleBindings ?? [];
  return (
    <section aria-labelledby="team-access-title">
      <h3 id="team-access-title">Teams</h3>
      <FormErrors errors={generalErrors(form.errors, ["team", "role", "repo"])} />
      {bound.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Team</th>
              <th scope="col">Role</th>
              <th scope="col">On</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {bound.map((b) => (
              <tr key={`${b.team}-${b.repo ?? ""}`} data-testid={`team-binding-${b.team}`}>
                <td>{teams.find((t) => t.slug === b.team)?.name || b.team}</td>
                <td>{b.role.toLowerCase()}</td>
                <td>{b.repo ? `repo ${b.repo}` : "the whole workspace"}</td>
                <td>
                  <form onSubmit={(event) => bind(event, { team: b.team, role: null, repo: b.repo ?? null })}>
                    <button type="submit" className="secondary danger">
                      Revoke
                    </button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="hint">No team holds a role here.</p>
      )}
      {teams.length === 0 ? (
        <p className="hint">Create teams on the organisation's Teams page; then give them roles here.</p>
      ) : (
        <form className="card" onSubmit={(event) => bind(event, { team, role, repo: repo || null })}>
          <h3>Give a team a role</h3>
          <div className="field">
            <label htmlFor="team-access-team">Team</label>
            <select id="team-access-team" value={team} onChange={(e) => setTeam(e.target.value)} required>
              <option value="">Choose a team</option>
              {teams.map((t) => (
                <option key={t.slug} value={t.slug}>
                  {t.name || t.slug}
                </option>
              ))}
            </select>
            {errorFor(form.errors, "team") ? <p className="field-error">{errorFor(form.errors, "team")}</p> : null}
          </div>
          <div className="field">
            <label htmlFor="team-access-role">Team's role</label>
            <select id="team-access-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <RoleOptions />
            </select>
          </div>
          <div className="field">
            <label htmlFor="team-access-repo">Team's role on</label>
            <select id="team-access-repo" value={repo} onChange={(e) => setRepo(e.target.value)}>
              <RepoOptions repos={data.workspace?.repos ?? []} />
            </select>
            {errorFor(form.errors, "repo") ? <p className="field-error">{errorFor(form.errors, "repo")}</p> : null}
          </div>
          <button type="submit" disabled={form.busy || !team}>
            Grant to team
          </button>
        </form>
      )}
    </section>
  );
}
