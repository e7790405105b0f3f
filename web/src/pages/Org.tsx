// An organisation: its workspaces, members, API tokens and audit log.
import { useState, type FormEvent } from "react";
import { Layout } from "../components/Layout";
import { Command, CopyButton, Empty, Field, FormErrors, LoadState, StateBadge } from "../components/ui";
import { graphql } from "../gql";
import type { OrgRole, WorkspaceRole as Role } from "../gql/graphql";
import { useForm } from "../lib/forms";
import { ago, errorFor, generalErrors, gql, Link, navigate, useLoad, type UserError } from "../lib/index";
import { useManages, useSession } from "../session";


const CreateOrganization = graphql(`
  mutation CreateOrganization($input: CreateOrganizationInput!) {
    createOrganization(input: $input) {
      organization {
        slug
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

export function CreateOrganizationPage() {
  const session = useSession();
  const [slug, setSlug] = useState("");
  const [name, setName] = useState("");
  const form = useForm();
  const submit = (event: FormEvent) =>
    form.run(event, async () => {
      const { createOrganization } = await gql(CreateOrganization, { input: { slug, name: name || null } });
      if (createOrganization.organization) {
        await session.reload();
        navigate(`/orgs/${createOrganization.organization.slug}`);
      }
      return createOrganization.userErrors;
    });
  return (
    <Layout>
      <h1>Create an organisation</h1>
      <p className="lead">An organisation holds your team's workspaces, members and API tokens.</p>
      <form onSubmit={submit} className="card narrow" noValidate>
        <FormErrors errors={generalErrors(form.errors, ["slug", "name"])} />
        <Field label="Slug" name="slug" value={slug} onChange={setSlug} error={errorFor(form.errors, "slug")} hint="2–40 lower-case letters, digits and hyphens; it appears in URLs." required />
        <Field label="Name" name="name" value={name} onChange={setName} error={errorFor(form.errors, "name")} />
        <button type="submit" disabled={form.busy}>
          Create organisation
        </button>
      </form>
    </Layout>
  );
}

const Workspaces = graphql(`
  query OrgWorkspaces($org: String!) {
    plans {
      name
      title
      workers
    }
    organization(slug: $org) {
      slug
      name
      viewerRole
      plan
      assignablePlans
      usage {
        plan {
          title
        }
        seats {
          used
          limit
        }
        workspaces {
          used
          limit
        }
      }
      workspaces(first: 100) {
        nodes {
          id
          slug
          plan
          state
          statusMessage
          viewerRole
          createdAt
        }
      }
    }
  }
`);

const CreateWorkspace = graphql(`
  mutation CreateWorkspace($input: CreateWorkspaceInput!) {
    createWorkspace(input: $input) {
      workspace {
        slug
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

const DeleteWorkspace = graphql(`
  mutation DeleteWorkspace($input: DeleteWorkspaceInput!) {
    deleteWorkspace(input: $input) {
      workspace {
        slug
        state
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

const SetPlan = graphql(`
  mutation SetWorkspacePlan($input: SetWorkspacePlanInput!) {
    setWorkspacePlan(input: $input) {
      workspace {
        plan
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

/** The plans a workspace may move to; its current one stays listed even if the operator took it away. */
function choicesFor(current: string, assignable: string[]): string[] {
  return assignable.includes(current) ? assignable : [current, ...assignable];
}

/** A plan as the picker shows it: its title and what it allows one workspace. */
function planLabel(plan: string, plans: ReadonlyArray<{ name: string; title: string; workers: number }>): string {
  const known = plans.find((p) => p.name === plan);
  return known ? `${known.title}: up to ${known.workers} workers` : plan;
}

const SETTLED = ["READY", "SLEEPING", "FAILED", "SUSPENDED", "DELETED"];

/** States whose workspace opens: a sleeping one wakes on the first request. */
const OPENS = ["READY", "SLEEPING"];

export function WorkspacesPage({ org }: { org: string }) {
  const state = useLoad(
    () => gql(Workspaces, { org }),
    `workspaces:${org}`,
    1000,
    (data) => data.organization?.workspaces.nodes.some((w) => !SETTLED.includes(w.state)) ?? false,
  );
  const [slug, setSlug] = useState("");
  const [plan, setPlan] = useState("free");
  const [deleting, setDeleting] = useState<string | null>(null);
  const [confirm, setConfirm] = useState("");
  const create = useForm();
  const remove = useForm();
  const planChange = useForm();
  const changePlan = async (slug: string, plan: string) => {
    await planChange.act(async () => (await gql(SetPlan, { input: { organization: org, slug, plan } })).setWorkspacePlan.userErrors);
    state.reload();
  };
  const submit = (event: FormEvent) =>
    create.run(event, async () => {
      const { createWorkspace } = await gql(CreateWorkspace, { input: { organization: org, slug, plan } });
      if (createWorkspace.workspace) {
        setSlug("");
        state.reload();
      }
      return createWorkspace.userErrors;
    });
  const submitDelete = (event: FormEvent) =>
    remove.run(event, async () => {
      const { deleteWorkspace } = await gql(DeleteWorkspace, { input: { organization: org, slug: deleting ?? "", confirm } });
      if (deleteWorkspace.workspace) {
        setDeleting(null);
        setConfirm("");
        state.reload();
      }
      return deleteWorkspace.userErrors;
    });
  return (
    <Layout org={org}>
      <LoadState state={state}>
        {(data) =>
          data.organization === null ? (
            <Empty title="No such organisation">
              <p>It does not exist, or you are not a member.</p>
            </Empty>
          ) : (
            <>
              <h1>{data.organization.name || data.organization.slug}: workspaces</h1>
              <p className="hint" data-testid="org-usage">
                {data.organization.usage.plan.title} plan: {data.organization.usage.workspaces.used} of {data.organization.usage.workspaces.limit} workspaces,{" "}
                {data.organization.usage.seats.used} of {data.organization.usage.seats.limit} seats (members and open invitations).
              </p>
              <FormErrors errors={planChange.errors} />
              {data.organization.workspaces.nodes.length === 0 ? (
                <Empty title="No workspaces yet">
                  <p>A workspace is an isolated data and pipeline environment. Create one below, or from a terminal:</p>
                  <Command text={`strata workspace create research --org ${org} --wait`} />
                </Empty>
              ) : (
                <table className="table">
                  <caption className="visually-hidden">Workspaces</caption>
                  <thead>
                    <tr>
                      <th scope="col">Workspace</th>
                      <th scope="col">State</th>
                      <th scope="col">Plan</th>
                      <th scope="col">Your role</th>
                      <th scope="col">Created</th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.organization.workspaces.nodes.map((w) => (
                      <tr key={w.id} data-testid={`workspace-${w.slug}`}>
                        <td>{OPENS.includes(w.state) ? <Link to={`/w/${org}/${w.slug}`}>{w.slug}</Link> : w.slug}</td>
                        <td>
                          <StateBadge state={w.state} /> {w.statusMessage ? <span className="hint">{w.statusMessage}</span> : null}
                        </td>
                        <td>
                          {data.organization?.viewerRole !== "MEMBER" && w.state !== "DELETING" && w.state !== "DELETED" ? (
                            <select aria-label={`Plan of ${w.slug}`} value={w.plan} onChange={(e) => changePlan(w.slug, e.target.value)}>
                              {choicesFor(w.plan, data.organization?.assignablePlans ?? []).map((p) => (
                                <option key={p} value={p}>
                                  {p}
                                </option>
                              ))}
                            </select>
                          ) : (
                            w.plan
                          )}
                        </td>
                        <td>{w.viewerRole.toLowerCase()}</td>
                        <td>{ago(w.createdAt)}</td>
                        <td>
                          {w.viewerRole === "ADMIN" && w.state !== "DELETING" && w.state !== "DELETED" ? (
                            <button type="button" className="danger secondary" onClick={() => setDeleting(w.slug)}>
                              Delete…
                            </button>
                          ) : null}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              {deleting ? (
                <form onSubmit={submitDelete} className="card danger-zone" noValidate>
                  <h2>Delete {deleting}</h2>
                  <p>Its servers stop at once; its data is deleted after the grace period. Type the workspace's slug to confirm.</p>
                  <FormErrors errors={generalErrors(remove.errors, ["confirm"])} />
                  <Field label="Slug" name="confirm" value={confirm} onChange={setConfirm} error={errorFor(remove.errors, "confirm")} />
                  <button type="submit" className="danger" disabled={remove.busy || confirm !== deleting}>
                    Delete workspace
                  </button>{" "}
                  <button type="button" className="secondary" onClick={() => setDeleting(null)}>
                    Cancel
                  </button>
                </form>
              ) : null}
              {data.organization.viewerRole !== "MEMBER" ? (
                <form onSubmit={submit} className="card" noValidate>
                  <h2>New workspace</h2>
                  <FormErrors errors={generalErrors(create.errors, ["slug", "plan"])} />
                  <Field label="Slug" name="slug" value={slug} onChange={setSlug} error={errorFor(create.errors, "slug")} hint="Lower-case letters, digits and hyphens." required />
                  <div className="field">
                    <label htmlFor="plan">Plan</label>
                    <select id="plan" value={plan} onChange={(e) => setPlan(e.target.value)}>
                      {data.organization.assignablePlans.map((p) => (
                        <option key={p} value={p}>
                          {planLabel(p, data.plans)}
                        </option>
                      ))}
                    </select>
                    <p className="hint">
                      {org} is on the {data.organization.usage.plan.title} plan: up to {data.organization.usage.workspaces.limit} workspaces. Bigger plans are set by the operator.
                    </p>
                    {errorFor(create.errors, "plan") ? <p className="field-error">{errorFor(create.errors, "plan")}</p> : null}
                  </div>
                  <button type="submit" disabled={create.busy}>
                    Create workspace
                  </button>
                </form>
              ) : null}
            </>
          )
        }
      </LoadState>
    </Layout>
  );
}

const Members = graphql(`
  query OrgMembers($org: String!) {
    organization(slug: $org) {
      viewerRole
      members(first: 100) {
        nodes {
          userId
          email
          displayName
          role
          joinedAt
        }
      }
      invitations(first: 100) {
        nodes {
          id
          email
          role
          expiresAt
        }
      }
    }
  }
`);

const Invite = graphql(`
  mutation InviteMember($input: InviteMemberInput!) {
    inviteMember(input: $input) {
      invitation {
        id
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

const ChangeRole = graphql(`
  mutation UpdateMemberRole($input: UpdateMemberRoleInput!) {
    updateMemberRole(input: $input) {
      member {
        role
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

const RemoveMember = graphql(`
  mutation RemoveMember($input: RemoveMemberInput!) {
    removeMember(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

export function MembersPage({ org }: { org: string }) {
  if (!useManages(org)) {
    return (
      <Layout org={org}>
        <h1>Members</h1>
        <Empty title="Only owners and admins manage members">Ask one of them to invite people or change roles.</Empty>
      </Layout>
    );
  }
  return <ManageMembers org={org} />;
}

function ManageMembers({ org }: { org: string }) {
  const state = useLoad(() => gql(Members, { org }), `members:${org}`);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<OrgRole>("MEMBER");
  const invite = useForm();
  const [rowErrors, setRowErrors] = useState<UserError[]>([]);
  const submit = (event: FormEvent) =>
    invite.run(event, async () => {
      const { inviteMember } = await gql(Invite, { input: { organization: org, email, role } });
      if (inviteMember.invitation) {
        setEmail("");
        state.reload();
      }
      return inviteMember.userErrors;
    });
  const change = async (userId: string, next: OrgRole) => {
    const { updateMemberRole } = await gql(ChangeRole, { input: { organization: org, userId, role: next } });
    setRowErrors(updateMemberRole.userErrors);
    state.reload();
  };
  const drop = async (userId: string) => {
    const { removeMember } = await gql(RemoveMember, { input: { organization: org, userId } });
    setRowErrors(removeMember.userErrors);
    state.reload();
  };
  return (
    <Layout org={org}>
      <h1>Members</h1>
      <LoadState state={state}>
        {(data) =>
          !data.organization || data.organization.viewerRole === "MEMBER" ? (
            <Empty title="Only owners and admins manage members" />
          ) : (
            <>
              <FormErrors errors={rowErrors} />
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Member</th>
                    <th scope="col">Role</th>
                    <th scope="col">Joined</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.organization.members.nodes.map((m) => (
                    <tr key={m.userId}>
                      <td>
                        {m.displayName || m.email} <span className="hint">{m.email}</span>
                      </td>
                      <td>
                        <label className="visually-hidden" htmlFor={`role-${m.userId}`}>
                          Role of {m.email}
                        </label>
                        <select id={`role-${m.userId}`} value={m.role} onChange={(e) => change(m.userId, e.target.value as OrgRole)}>
                          <option value="OWNER">owner</option>
                          <option value="ADMIN">admin</option>
                          <option value="MEMBER">member</option>
                        </select>
                      </td>
                      <td>{ago(m.joinedAt)}</td>
                      <td>
                        <button type="button" className="secondary danger" onClick={() => drop(m.userId)}>
                          Remove
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {data.organization.invitations.nodes.length > 0 ? (
                <>
                  <h2>Pending invitations</h2>
                  <ul className="plain">
                    {data.organization.invitations.nodes.map((i) => (
                      <li key={i.id}>
                        {i.email} as {i.role.toLowerCase()}, until {new Date(i.expiresAt).toLocaleDateString()}
                      </li>
                    ))}
                  </ul>
                </>
              ) : null}
              <form onSubmit={submit} className="card" noValidate>
                <h2>Invite someone</h2>
                <FormErrors errors={generalErrors(invite.errors, ["email", "role"])} />
                <Field label="Email" name="email" type="email" value={email} onChange={setEmail} error={errorFor(invite.errors, "email")} required />
                <div className="field">
                  <label htmlFor="invite-role">Role</label>
                  <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as OrgRole)}>
                    <option value="MEMBER">member: sees the workspaces they are given</option>
                    <option value="ADMIN">admin: manages members and workspaces</option>
                    <option value="OWNER">owner</option>
                  </select>
                </div>
                <button type="submit" disabled={invite.busy}>
                  Send invitation
                </button>
              </form>
            </>
          )
        }
      </LoadState>
    </Layout>
  );
}

const Tokens = graphql(`
  query OrgTokens($org: String!) {
    organization(slug: $org) {
      apiTokens(first: 100) {
        nodes {
          id
          name
          prefix
          role
          expiresAt
          lastUsedAt
          revokedAt
          createdAt
        }
      }
    }
  }
`);

const CreateToken = graphql(`
  mutation CreateApiToken($input: CreateApiTokenInput!) {
    createApiToken(input: $input) {
      token
      apiToken {
        id
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

const RevokeToken = graphql(`
  mutation RevokeApiToken($input: RevokeApiTokenInput!) {
    revokeApiToken(input: $input) {
      apiToken {
        revokedAt
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

export function TokensPage({ org }: { org: string }) {
  const state = useLoad(() => gql(Tokens, { org }), `tokens:${org}`);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("READER");
  const [workspace, setWorkspace] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const form = useForm();
  const submit = (event: FormEvent) =>
    form.run(event, async () => {
      const { createApiToken } = await gql(CreateToken, {
        input: { organization: org, name, role, workspace: workspace || null },
      });
      if (createApiToken.token) {
        setSecret(createApiToken.token);
        setName("");
        state.reload();
      }
      return createApiToken.userErrors;
    });
  const revoke = async (id: string) => {
    await gql(RevokeToken, { input: { id } });
    state.reload();
  };
  return (
    <Layout org={org}>
      <h1>API tokens</h1>
      <p className="lead">Tokens let CI and scripts act for you: <code>STRATA_TOKEN=stp_… strata repo list</code> or <code>Authorization: Bearer stp_…</code> on /graphql.</p>
      {secret ? (
        <div className="banner ok" role="status" data-testid="new-token">
          <p>Copy the token now: it is shown this once.</p>
          <div className="command">
            <pre>
              <code>{secret}</code>
            </pre>
            <CopyButton text={secret} />
          </div>
          <button type="button" className="secondary" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      ) : null}
      <LoadState state={state}>
        {(data) => (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Token</th>
                <th scope="col">Role</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(data.organization?.apiTokens.nodes ?? []).map((t) => (
                <tr key={t.id} data-testid={`token-${t.name}`}>
                  <td>{t.name}</td>
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td>{t.role.toLowerCase()}</td>
                  <td>{ago(t.lastUsedAt)}</td>
                  <td>{t.revokedAt ? <StateBadge state="revoked" /> : <StateBadge state="active" />}</td>
                  <td>
                    {t.revokedAt ? null : (
                      <button type="button" className="secondary danger" onClick={() => revoke(t.id)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </LoadState>
      <form onSubmit={submit} className="card" noValidate>
        <h2>New token</h2>
        <FormErrors errors={generalErrors(form.errors, ["name", "role", "workspace"])} />
        <Field label="Name" name="name" value={name} onChange={setName} error={errorFor(form.errors, "name")} hint="e.g. github-actions" required />
        <Field label="Workspace (optional)" name="workspace" value={workspace} onChange={setWorkspace} error={errorFor(form.errors, "workspace")} hint="Limit the token to one workspace." />
        <div className="field">
          <label htmlFor="token-role">Role</label>
          <select id="token-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="READER">reader</option>
            <option value="WRITER">writer</option>
            <option value="ADMIN">admin</option>
          </select>
        </div>
        <button type="submit" disabled={form.busy}>
          Create token
        </button>
      </form>
    </Layout>
  );
}

const Audit = graphql(`
  query OrgAudit($org: String!, $action: String) {
    organization(slug: $org) {
      viewerRole
      auditEvents(first: 100, action: $action) {
        nodes {
          id
          action
          target
          ip
          createdAt
        }
      }
    }
  }
`);

export function AuditPage({ org }: { org: string }) {
  if (!useManages(org)) {
    return (
      <Layout org={org}>
        <h1>Audit log</h1>
        <Empty title="Only owners and admins read the audit log" />
      </Layout>
    );
  }
  return <ReadAudit org={org} />;
}

function ReadAudit({ org }: { org: string }) {
  const [action, setAction] = useState("");
  const state = useLoad(() => gql(Audit, { org, action: action || null }), `audit:${org}:${action}`);
  return (
    <Layout org={org}>
      <h1>Audit log</h1>
      <div className="field inline">
        <label htmlFor="audit-filter">Action</label>
        <select id="audit-filter" value={action} onChange={(e) => setAction(e.target.value)}>
          <option value="">everything</option>
          <option value="user.">sign-ins and accounts</option>
          <option value="org.">organisation and members</option>
          <option value="workspace.">workspaces</option>
          <option value="token.">API tokens</option>
          <option value="pipeline.">pipelines</option>
        </select>
      </div>
      <LoadState state={state}>
        {(data) =>
          !data.organization || data.organization.viewerRole === "MEMBER" ? (
            <Empty title="Only owners and admins read the audit log" />
          ) : data.organization.auditEvents.nodes.length === 0 ? (
            <Empty title="Nothing recorded for this filter" />
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">From</th>
                </tr>
              </thead>
              <tbody>
                {data.organization.auditEvents.nodes.map((e) => (
                  <tr key={e.id}>
                    <td title={e.createdAt}>{ago(e.createdAt)}</td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td>{e.target}</td>
                    <td>{e.ip ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </LoadState>
    </Layout>
  );
}
