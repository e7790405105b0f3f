// A workspace: its pipeline graph, repos and pipelines, and for its admins
// who has which role.
import { useEffect, useState, type ComponentType } from "react";
import type { DagInput } from "../../lib/dag";
import { Conditions } from "../../components/Conditions";
import { Crumbs } from "../../components/Crumbs";
import { Layout } from "../../components/Layout";
import { Command, Empty, LoadState, StateBadge } from "../../components/ui";
import { graphql } from "../../gql";
import { ago, bytes, gql, Link, useLoad } from "../../lib/index";
import { AccessSection } from "../Access";

type DagViewType = ComponentType<{ dag: DagInput; base: string }>;

/**
 * The graph and its layout library, loaded beside the page's data rather
 * than on first render: no Suspense fallback (whose reveal React throttles
 * by up to 300 ms) stands between the data and the drawing.
 */
function useDagView(): DagViewType | null {
  const [view, setView] = useState<DagViewType | null>(null);
  useEffect(() => {
    let alive = true;
    import("../../components/DagView").then((module) => alive && setView(() => module.default));
    return () => {
      alive = false;
    };
  }, []);
  return view;
}

const Overview = graphql(`
  query WorkspaceOverview($org: String!, $ws: String!) {
    workspace(organization: $org, slug: $ws) {
      slug
      state
      plan
      viewerRole
      conditions {
        type
        status
        reason
        message
      }
      repos {
        name
        kind
        description
        sizeBytes
        createdAt
      }
      pipelines {
        name
        state
        lastJobState
        parallelism
        inputs
      }
      workers {
        pipeline
        desired
        current
        outstanding
      }
      dag {
        nodes {
          id
          kind
          name
          state
        }
        edges {
          from
          to
        }
      }
    }
  }
`);

export function WorkspacePage({ org, ws }: { org: string; ws: string }) {
  const state = useLoad(() => gql(Overview, { org, ws }), `ws:${org}/${ws}`, 3000);
  const DagView = useDagView();
  const base = `/w/${org}/${ws}`;
  return (
    <Layout org={org}>
      <Crumbs items={[{ to: `/orgs/${org}`, label: org }, { label: ws }]} />
      <LoadState state={state}>
        {(data) => {
          const w = data.workspace;
          if (!w) return <Empty title="No such workspace">It does not exist, or you have no role on it.</Empty>;
          const workers = new Map(w.workers.map((x) => [x.pipeline, x]));
          return (
            <>
              <h1>
                {w.slug} <StateBadge state={w.state} /> <span className="hint">{w.plan} plan</span>
              </h1>
              <Conditions conditions={w.conditions} />
              {w.repos.length === 0 ? (
                <Empty title="Put your first data in">
                  <p>From a terminal logged in to this server:</p>
                  <Command text={`strata workspace use ${org}/${ws}\nstrata repo create images\nstrata put file images@master:/ -f ./photos -r`} />
                  <p>Then add a pipeline that reads it:</p>
                  <Command text="strata pipeline create -f edges.json" />
                </Empty>
              ) : null}
              {w.dag.nodes.length > 0 ? (
                <section aria-labelledby="dag-title">
                  <h2 id="dag-title">Pipeline graph</h2>
                  {DagView ? <DagView dag={w.dag} base={base} /> : <p className="loading">Drawing the graph…</p>}
                </section>
              ) : null}
              <div className="columns">
                <section aria-labelledby="repos-title">
                  <h2 id="repos-title">Repos</h2>
                  <table className="table">
                    <thead>
                      <tr>
                        <th scope="col">Repo</th>
                        <th scope="col">Kind</th>
                        <th scope="col" className="num">
                          Size
                        </th>
                        <th scope="col">Created</th>
                      </tr>
                    </thead>
                    <tbody>
                      {w.repos.map((r) => (
                        <tr key={r.name}>
                          <td>
                            <Link to={`${base}/repos/${encodeURIComponent(r.name)}`}>{r.name}</Link>
                          </td>
                          <td>{r.kind}</td>
                          <td className="num">{bytes(r.sizeBytes)}</td>
                          <td>{ago(r.createdAt)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </section>
                <section aria-labelledby="pipelines-title">
                  <h2 id="pipelines-title">Pipelines</h2>
                  {w.pipelines.length === 0 ? (
                    <p className="hint">No pipelines yet.</p>
                  ) : (
                    <table className="table">
                      <thead>
                        <tr>
                          <th scope="col">Pipeline</th>
                          <th scope="col">Latest job</th>
                          <th scope="col">Workers</th>
                        </tr>
                      </thead>
                      <tbody>
                        {w.pipelines.map((p) => {
                          const x = workers.get(p.name);
                          return (
                            <tr key={p.name}>
                              <td>
                                <Link to={`${base}/pipelines/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                              </td>
                              <td>
                                <StateBadge state={p.lastJobState ?? "none"} />
                              </td>
                              <td>{x ? `${x.current}/${x.desired} (${x.outstanding} queued)` : `≤ ${p.parallelism}`}</td>
                            </tr>
                          );
                        })}
                      </tbody>
                    </table>
                  )}
                </section>
              </div>
              {w.viewerRole === "ADMIN" ? <AccessSection org={org} ws={ws} /> : null}
            </>
          );
        }}
      </LoadState>
    </Layout>
  );
}
