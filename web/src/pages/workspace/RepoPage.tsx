// A repo: its branches and commit history.
import { Crumbs } from "../../components/Crumbs";
import { Layout } from "../../components/Layout";
import { Command, Empty, LoadState, StateBadge } from "../../components/ui";
import { graphql } from "../../gql";
import { ago, bytes, gql, Link, shortId, useLoad } from "../../lib/index";

const RepoQuery = graphql(`
  query RepoDetail($org: String!, $ws: String!, $repo: String!) {
    workspace(organization: $org, slug: $ws) {
      repo(name: $repo) {
        name
        kind
        description
        sizeBytes
        branches {
          name
          head
          provenance
        }
        commits(first: 30) {
          id
          branch
          origin
          description
          startedAt
          finishedAt
          sizeBytes
          fileCount
        }
      }
    }
  }
`);

export function RepoPage({ org, ws, repo }: { org: string; ws: string; repo: string }) {
  const state = useLoad(() => gql(RepoQuery, { org, ws, repo }), `repo:${org}/${ws}/${repo}`);
  const base = `/w/${org}/${ws}`;
  return (
    <Layout org={org}>
      <Crumbs items={[{ to: `/orgs/${org}`, label: org }, { to: base, label: ws }, { label: repo }]} />
      <LoadState state={state}>
        {(data) => {
          const r = data.workspace?.repo;
          if (!r) return <Empty title="No such repo" />;
          return (
            <>
              <h1>
                {r.name} <span className="hint">{bytes(r.sizeBytes)}</span>
              </h1>
              {r.description ? <p className="lead">{r.description}</p> : null}
              <h2>Branches</h2>
              <ul className="plain">
                {r.branches.map((b) => (
                  <li key={b.name}>
                    <Link to={`${base}/repos/${encodeURIComponent(r.name)}/files/${encodeURIComponent(b.name)}`}>{b.name}</Link>{" "}
                    <span className="hint">at {shortId(b.head)}</span>
                  </li>
                ))}
              </ul>
              <h2>Commits</h2>
              {r.commits.length === 0 ? (
                <Command text={`strata put file ${r.name}@master:/hello.txt -f hello.txt`} />
              ) : (
                <table className="table">
                  <thead>
                    <tr>
                      <th scope="col">Commit</th>
                      <th scope="col">Branch</th>
                      <th scope="col">Origin</th>
                      <th scope="col" className="num">
                        Files
                      </th>
                      <th scope="col" className="num">
                        Size
                      </th>
                      <th scope="col">Finished</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.commits.map((c) => (
                      <tr key={c.id}>
                        <td>
                          <Link to={`${base}/repos/${encodeURIComponent(r.name)}/files/${c.id}`}>
                            <code>{shortId(c.id)}</code>
                          </Link>{" "}
                          {c.description}
                        </td>
                        <td>{c.branch ?? "—"}</td>
                        <td>{c.origin.toLowerCase()}</td>
                        <td className="num">{c.fileCount}</td>
                        <td className="num">{bytes(c.sizeBytes)}</td>
                        <td>{c.finishedAt ? ago(c.finishedAt) : <StateBadge state="open" />}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          );
        }}
      </LoadState>
    </Layout>
  );
}
