// The file browser at a branch or commit: a directory lists its entries, a
// file opens its preview.
import { Crumbs } from "../../components/Crumbs";
import { FilePreview } from "../../components/FilePreview";
import { Layout } from "../../components/Layout";
import { Empty, LoadState } from "../../components/ui";
import { graphql } from "../../gql";
import { bytes, encodePath, gql, Link, shortId, useLoad } from "../../lib/index";

const FilesQuery = graphql(`
  query RepoFiles($org: String!, $ws: String!, $repo: String!, $ref: String!, $path: String!) {
    workspace(organization: $org, slug: $ws) {
      repo(name: $repo) {
        files(reference: $ref, path: $path) {
          path
          type
          sizeBytes
        }
      }
    }
  }
`);

export function FilesPage({ org, ws, repo, reference, path }: { org: string; ws: string; repo: string; reference: string; path: string }) {
  const dir = "/" + path.replace(/^\/+|\/+$/g, "");
  const state = useLoad(() => gql(FilesQuery, { org, ws, repo, ref: reference, path: dir }), `files:${org}/${ws}/${repo}@${reference}:${dir}`);
  const base = `/w/${org}/${ws}/repos/${encodeURIComponent(repo)}/files/${encodeURIComponent(reference)}`;
  const parts = dir.split("/").filter(Boolean);
  const crumbs = [
    { to: `/orgs/${org}`, label: org },
    { to: `/w/${org}/${ws}`, label: ws },
    { to: `/w/${org}/${ws}/repos/${encodeURIComponent(repo)}`, label: repo },
    { to: base, label: `@${shortId(reference)}` },
    ...parts.map((p, i) => ({ to: `${base}/${parts.slice(0, i + 1).map(encodeURIComponent).join("/")}`, label: p })),
  ];
  return (
    <Layout org={org}>
      <Crumbs items={crumbs} />
      <LoadState state={state}>
        {(data) => {
          const files = data.workspace?.repo?.files ?? [];
          const single = files.length === 1 && files[0].type === "FILE" && files[0].path === dir;
          if (single) return <FilePreview org={org} ws={ws} repo={repo} reference={reference} file={files[0]} />;
          if (files.length === 0) return <Empty title="Nothing here">This directory is empty at this commit.</Empty>;
          return (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" className="num">
                    Size
                  </th>
                </tr>
              </thead>
              <tbody>
                {files.map((f) => (
                  <tr key={f.path}>
                    <td>
                      <Link to={`${base}/${encodePath(f.path)}`}>
                        {f.path.split("/").filter(Boolean).pop()}
                        {f.type === "DIR" ? "/" : ""}
                      </Link>
                    </td>
                    <td className="num">{bytes(f.sizeBytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </LoadState>
    </Layout>
  );
}
