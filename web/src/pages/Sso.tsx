// An organisation's single sign-on, for its owners and admins: the OpenID
// Connect connection (its client secret write-only), a connection test,
// verified domains, "SSO required", identity provider groups and the SCIM
// token. The server checks every change again.
import { useState, type FormEvent } from "react";
import { Layout } from "../components/Layout";
import { AskFirst, Command, CopyButton, Empty, Field, FormErrors, LoadState, StateBadge } from "../components/ui";
import { graphql } from "../gql";
import type { OrgRole, SsoSettingsQuery } from "../gql/graphql";
import { useForm, useSubmit } from "../lib/forms";
import {
  connectionInput,
  DEFAULT_SCOPES,
  domainStatus,
  errorFor,
  generalErrors,
  gql,
  mappingText,
  useLoad,
  type ConnectionFields,
} from "../lib/index";
import { useManages } from "../session";

const Settings = graphql(`
  query SsoSettings($org: String!) {
    organization(slug: $org) {
      ssoRequired
      ssoConnection {
        issuer
        clientId
        scopes
        emailClaim
        nameClaim
        groupsClaim
        redirectUri
        updatedAt
      }
      domains {
        domain
        recordName
        recordValue
        verified
        verifiedAt
      }
      groupMappings {
        group
        team
        orgRole
      }
      teams {
        slug
        name
      }
    }
  }
`);

type Org = NonNullable<SsoSettingsQuery["organization"]>;
type Connection = Org["ssoConnection"];

export function SsoPage({ org }: { org: string }) {
  if (!useManages(org)) {
    return (
      <Layout org={org}>
        <h1>Single sign-on</h1>
        <Empty title="Only owners and admins manage single sign-on" />
      </Layout>
    );
  }
  return <SsoSettings org={org} />;
}

function SsoSettings({ org }: { org: string }) {
  const state = useLoad(() => gql(Settings, { org }), `sso:${org}`);
  return (
    <Layout org={org}>
      <h1>Single sign-on</h1>
      <p className="lead">Members log in through your identity provider (OpenID Connect); people from your verified domains join on their first login.</p>
      <LoadState state={state}>
        {(data) =>
          !data.organization ? (
            <Empty title="No such organisation" />
          ) : (
            <>
              <ConnectionForm org={org} connection={data.organization.ssoConnection} saved={state.reload} />
              <TestConnection org={org} configured={data.organization.ssoConnection !== null} />
              <Domains org={org} domains={data.organization.domains} changed={state.reload} />
              <GroupMappings org={org} mappings={data.organization.groupMappings} teams={data.organization.teams} changed={state.reload} />
              <RequireSso org={org} required={data.organization.ssoRequired} configured={data.organization.ssoConnection !== null} changed={state.reload} />
              <ScimToken org={org} />
            </>
          )
        }
      </LoadState>
    </Layout>
  );
}

const Configure = graphql(`
  mutation ConfigureSso($input: ConfigureSsoInput!) {
    configureSso(input: $input) {
      connection {
        updatedAt
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

const Remove = graphql(`
  mutation RemoveSso($input: RemoveSsoInput!) {
    removeSso(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

const CONNECTION_FIELDS = ["issuer", "clientId", "clientSecret", "scopes", "claims.email", "claims.name", "claims.groups"];

/** The connection: where the provider is and the client Strata is there. */
function ConnectionForm({ org, connection, saved }: { org: string; connection: Connection; saved: () => void }) {
  const [fields, setFields] = useState<ConnectionFields>({
    issuer: connection?.issuer ?? "",
    clientId: connection?.clientId ?? "",
    clientSecret: "",
    scopes: (connection?.scopes ?? DEFAULT_SCOPES).join(" "),
    emailClaim: connection?.emailClaim ?? "email",
    nameClaim: connection?.nameClaim ?? "name",
    groupsClaim: connection?.groupsClaim ?? "groups",
  });
  const [done, setDone] = useState(false);
  const set = (key: keyof ConnectionFields) => (value: string) => {
    setDone(false);
    setFields((f) => ({ ...f, [key]: value }));
  };
  const form = useSubmit(
    async () => (await gql(Configure, { input: connectionInput(org, fields) })).configureSso,
    () => {
      setFields((f) => ({ ...f, clientSecret: "" }));
      setDone(true);
      saved();
    },
  );
  const errors = form.errors;
  return (
    <form onSubmit={form.submit} className="card" noValidate aria-labelledby="sso-connection-title">
      <h2 id="sso-connection-title">Connection</h2>
      <p>Register this redirect URI in your identity provider's app for Strata:</p>
      <Command text={connection?.redirectUri ?? `${window.location.origin}/auth/sso/callback`} />
      <FormErrors errors={generalErrors(errors, CONNECTION_FIELDS)} />
      {done ? (
        <div className="banner ok" role="status">
          <p>Saved. Test the connection before you rely on it.</p>
        </div>
      ) : null}
      <Field label="Issuer URL" name="issuer" type="url" value={fields.issuer} onChange={set("issuer")} error={errorFor(errors, "issuer")} hint="e.g. https://login.example.com; its discovery document is at <issuer>/.well-known/openid-configuration." required />
      <Field label="Client ID" name="clientId" value={fields.clientId} onChange={set("clientId")} error={errorFor(errors, "clientId")} required />
      <Field
        label="Client secret"
        name="clientSecret"
        type="password"
        autoComplete="new-password"
        value={fields.clientSecret}
        onChange={set("clientSecret")}
        error={errorFor(errors, "clientSecret")}
        hint={connection ? "Write-only: leave empty to keep the stored secret." : "Write-only: Strata never shows it again."}
        required={!connection}
      />
      <Field label="Scopes" name="scopes" value={fields.scopes} onChange={set("scopes")} error={errorFor(errors, "scopes")} hint={`Besides openid, separated by spaces; empty: ${DEFAULT_SCOPES.join(" ")}.`} />
      <div className="row">
        <Field label="Email claim" name="emailClaim" value={fields.emailClaim} onChange={set("emailClaim")} error={errorFor(errors, "claims.email")} />
        <Field label="Name claim" name="nameClaim" value={fields.nameClaim} onChange={set("nameClaim")} error={errorFor(errors, "claims.name")} />
        <Field label="Groups claim" name="groupsClaim" value={fields.groupsClaim} onChange={set("groupsClaim")} error={errorFor(errors, "claims.groups")} />
      </div>
      <button type="submit" disabled={form.busy}>
        Save connection
      </button>
      {connection ? (
        <RemoveConnection
          org={org}
          removed={() => {
            setDone(false);
            saved();
          }}
        />
      ) : null}
    </form>
  );
}

function RemoveConnection({ org, removed }: { org: string; removed: () => void }) {
  const run = async () => (await gql(Remove, { input: { organization: org } })).removeSso;
  return (
    <AskFirst
      inline
      label="Remove…"
      question={'Remove the connection? Members then log in with passwords; "SSO required" is turned off.'}
      confirm="Remove connection"
      run={run}
      done={removed}
    />
  );
}

const Test = graphql(`
  mutation TestSso($input: TestSsoInput!) {
    testSso(input: $input) {
      ok
      issuer
      authorizationEndpoint
      tokenEndpoint
      signingKeys
      userErrors {
        ...Problems
      }
    }
  }
`);

interface TestResult {
  issuer?: string | null;
  authorizationEndpoint?: string | null;
  tokenEndpoint?: string | null;
  signingKeys?: number | null;
}

/** Fetches the provider's discovery document and keys afresh. */
function TestConnection({ org, configured }: { org: string; configured: boolean }) {
  const [result, setResult] = useState<TestResult | null>(null);
  const form = useSubmit(
    async () => {
      setResult(null);
      return (await gql(Test, { input: { organization: org } })).testSso;
    },
    (payload) => setResult(payload),
  );
  return (
    <form onSubmit={form.submit} className="card" aria-labelledby="sso-test-title">
      <h2 id="sso-test-title">Test the connection</h2>
      <p className="hint">Reads the provider's discovery document and signing keys, as a login would.</p>
      <FormErrors errors={form.errors} />
      {result ? (
        <div className="banner ok" role="status" data-testid="sso-test-result">
          <p>
            Reached {result.issuer}: it authorises at <code>{result.authorizationEndpoint}</code>, issues tokens at <code>{result.tokenEndpoint ?? "—"}</code> and signs them with{" "}
            {result.signingKeys ?? 0} key{result.signingKeys === 1 ? "" : "s"}.
          </p>
        </div>
      ) : null}
      <button type="submit" className="secondary" disabled={form.busy || !configured}>
        Test connection
      </button>
      {configured ? null : <p className="hint">Save a connection first.</p>}
    </form>
  );
}

const Claim = graphql(`
  mutation ClaimDomain($input: ClaimDomainInput!) {
    claimDomain(input: $input) {
      domain {
        domain
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

const Verify = graphql(`
  mutation VerifyDomain($input: VerifyDomainInput!) {
    verifyDomain(input: $input) {
      domain {
        domain
        verified
      }
      userErrors {
        ...Problems
      }
    }
  }
`);

const Unclaim = graphql(`
  mutation RemoveDomain($input: RemoveDomainInput!) {
    removeDomain(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

/** Domains: people with these addresses are sent to the provider and join on first login. */
function Domains({ org, domains, changed }: { org: string; domains: Org["domains"]; changed: () => void }) {
  const [domain, setDomain] = useState("");
  const claim = useForm();
  const rows = useForm();
  const add = (event: FormEvent) =>
    claim.run(event, async () => {
      const { claimDomain } = await gql(Claim, { input: { organization: org, domain } });
      if (claimDomain.domain) {
        setDomain("");
        changed();
      }
      return claimDomain.userErrors;
    });
  const act = (event: FormEvent, name: string, verify: boolean) =>
    rows.run(event, async () => {
      const input = { organization: org, domain: name };
      const answer = verify ? (await gql(Verify, { input })).verifyDomain : (await gql(Unclaim, { input })).removeDomain;
      changed();
      return answer.userErrors;
    });
  return (
    <section className="card" aria-labelledby="sso-domains-title">
      <h2 id="sso-domains-title">Domains</h2>
      <p className="hint">Prove each domain with a DNS TXT record; people whose email is on a verified domain log in through your provider.</p>
      <FormErrors errors={rows.errors} />
      {domains.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Domain</th>
              <th scope="col">Status</th>
              <th scope="col">TXT record</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {domains.map((d) => (
              <DomainRow key={d.domain} d={d} act={act} />
            ))}
          </tbody>
        </table>
      ) : null}
      <form onSubmit={add} className="inline-form" noValidate>
        <Field label="Domain" name="domain" value={domain} onChange={setDomain} error={errorFor(claim.errors, "domain")} hint="e.g. example.com" />
        <button type="submit" disabled={claim.busy || domain.trim() === ""}>
          Add domain
        </button>
      </form>
      <FormErrors errors={generalErrors(claim.errors, ["domain"])} />
    </section>
  );
}

function DomainRow({ d, act }: { d: Org["domains"][number]; act: (event: FormEvent, name: string, verify: boolean) => void }) {
  const status = domainStatus(d);
  return (
    <tr data-testid={`domain-${d.domain}`}>
      <td>{d.domain}</td>
      <td>
        <StateBadge state={status.word} /> <span className="hint">{status.detail}</span>
      </td>
      <td>
        {d.verified ? (
          "—"
        ) : (
          <dl className="record">
            <dt>Type</dt>
            <dd>TXT</dd>
            <dt>Name</dt>
            <dd>
              <code>{d.recordName}</code> <CopyButton text={d.recordName} label="Copy name" />
            </dd>
            <dt>Value</dt>
            <dd>
              <code>{d.recordValue}</code> <CopyButton text={d.recordValue} label="Copy value" />
            </dd>
          </dl>
        )}
      </td>
      <td>
        <form className="actions" onSubmit={(event) => act(event, d.domain, true)}>
          {d.verified ? null : <button type="submit">Verify</button>}
          <button type="button" className="secondary danger" onClick={(event) => act(event, d.domain, false)}>
            Remove
          </button>
        </form>
      </td>
    </tr>
  );
}

const SetMapping = graphql(`
  mutation SetGroupMapping($input: SetGroupMappingInput!) {
    setGroupMapping(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

/** What the provider's groups mean here: a team, an org role, or both. */
function GroupMappings({ org, mappings, teams, changed }: { org: string; mappings: Org["groupMappings"]; teams: Org["teams"]; changed: () => void }) {
  const [group, setGroup] = useState("");
  const [team, setTeam] = useState("");
  const [role, setRole] = useState("");
  const form = useForm();
  const save = (event: FormEvent, input: { group: string; team: string | null; orgRole: OrgRole | null }) =>
    form.run(event, async () => {
      const { setGroupMapping } = await gql(SetMapping, { input: { organization: org, ...input } });
      if (setGroupMapping.ok) {
        setGroup("");
        changed();
      }
      return setGroupMapping.userErrors;
    });
  return (
    <section className="card" aria-labelledby="sso-groups-title">
      <h2 id="sso-groups-title">Identity provider groups</h2>
      <p className="hint">Applied at every login from the groups claim: members join the team and hold the strongest org role of their groups.</p>
      <FormErrors errors={generalErrors(form.errors, ["group", "team", "orgRole"])} />
      {mappings.length > 0 ? (
        <ul className="plain">
          {mappings.map((m) => (
            <li key={m.group} data-testid={`mapping-${m.group}`}>
              <form className="inline-form" onSubmit={(event) => save(event, { group: m.group, team: null, orgRole: null })}>
                <span>
                  <code>{m.group}</code>: {mappingText(m)}
                </span>
                <button type="submit" className="secondary danger">
                  Remove
                </button>
              </form>
            </li>
          ))}
        </ul>
      ) : null}
      <form className="inline-form" onSubmit={(event) => save(event, { group, team: team || null, orgRole: (role || null) as OrgRole | null })} noValidate>
        <Field label="Group" name="group" value={group} onChange={setGroup} error={errorFor(form.errors, "group")} />
        <div className="field">
          <label htmlFor="mapping-team">Joins team</label>
          <select id="mapping-team" value={team} onChange={(e) => setTeam(e.target.value)}>
            <option value="">no team</option>
            {teams.map((t) => (
              <option key={t.slug} value={t.slug}>
                {t.name || t.slug}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="mapping-role">Org role</label>
          <select id="mapping-role" value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="">no org role</option>
            <option value="MEMBER">member</option>
            <option value="ADMIN">admin</option>
          </select>
        </div>
        <button type="submit" disabled={form.busy || group.trim() === "" || (!team && !role)}>
          Map group
        </button>
      </form>
    </section>
  );
}

const SetRequired = graphql(`
  mutation SetSsoRequired($input: SetSsoRequiredInput!) {
    setSsoRequired(input: $input) {
      ok
      userErrors {
        ...Problems
      }
    }
  }
`);

function RequireSso({ org, required, configured, changed }: { org: string; required: boolean; configured: boolean; changed: () => void }) {
  const form = useForm();
  const toggle = async (next: boolean) => {
    await form.act(async () => (await gql(SetRequired, { input: { organization: org, required: next } })).setSsoRequired.userErrors);
    changed();
  };
  return (
    <section className="card danger-zone" aria-labelledby="sso-required-title">
      <h2 id="sso-required-title">Require single sign-on</h2>
      <div className="banner warn">
        <p>
          <strong>Members without an SSO session lose access at once:</strong> their password and email-link sessions stop working in this organisation until they log in
          through your identity provider.
        </p>
        <p>Owners keep password access as break-glass accounts; API tokens keep working.</p>
      </div>
      <FormErrors errors={form.errors} />
      <label className="switch">
        <input type="checkbox" role="switch" checked={required} disabled={form.busy || (!configured && !required)} onChange={(e) => toggle(e.target.checked)} />
        Members must log in with single sign-on
      </label>
      {configured ? null : <p className="hint">Configure and test a connection first.</p>}
    </section>
  );
}

const IssueScim = graphql(`
  mutation IssueScimToken($input: IssueScimTokenInput!) {
    issueScimToken(input: $input) {
      token
      baseUrl
      userErrors {
        ...Problems
      }
    }
  }
`);

/** The token your provider's SCIM app uses to create and remove members and teams. */
function ScimToken({ org }: { org: string }) {
  const [issued, setIssued] = useState<{ token: string; baseUrl: string } | null>(null);
  const form = useSubmit(
    async () => (await gql(IssueScim, { input: { organization: org } })).issueScimToken,
    (payload) => setIssued({ token: payload.token ?? "", baseUrl: payload.baseUrl ?? "" }),
  );
  return (
    <form onSubmit={form.submit} className="card" aria-labelledby="sso-scim-title">
      <h2 id="sso-scim-title">SCIM provisioning</h2>
      <p className="hint">Your provider's SCIM 2.0 app creates, updates and removes members and teams. A new token replaces the previous one at once.</p>
      <FormErrors errors={form.errors} />
      {issued ? (
        <div className="banner ok stack" role="status" data-testid="scim-token">
          <p>Copy the token now: it is shown this once. Give your provider both.</p>
          <dl className="record">
            <dt>Base URL</dt>
            <dd>
              <Command text={issued.baseUrl} />
            </dd>
            <dt>Token</dt>
            <dd>
              <Command text={issued.token} />
            </dd>
          </dl>
          <button type="button" className="secondary" onClick={() => setIssued(null)}>
            Done
          </button>
        </div>
      ) : null}
      <button type="submit" disabled={form.busy}>
        Issue SCIM token
      </button>
    </form>
  );
}
