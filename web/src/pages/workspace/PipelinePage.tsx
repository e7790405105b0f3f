// A pipeline: what it reads and writes, its jobs and its spec.
import { Crumbs } from "../../components/Crumbs";
import { Layout } from "../../components/Layout";
import { Empty, LoadState, StateBadge } from "../../components/ui";
import { graphql } from "../../gql";
import { ago, duration, gql, Link, runnerNote, runsIn, shortId, useLoad } from "../../lib/index";

const PipelineQuery = graphql(`
  query PipelineDetail($org: String!, $ws: String!, $pipeline: String!) {
    workspace(organization: $org, slug: $ws) {
      pipeline(name: $pipeline) {
        name
        description
        state
        version
        spec
        inputs
        outputRepo
        parallelism
        jobs(first: 30) {
          id
          state
          runner
          createdAt
          durationSecs
          datums {
            total
            processed
            skipped
            failed
          }
        }
      }
    }
  }
`);

export function PipelinePage({ org, ws, pipeline }: { org: string; ws: string; pipeline: string }) {
  const state = useLoad(() => gql(PipelineQuery, { org, ws, pipeline }), `pipeline:${org}/${ws}/${pipeline}`, 2000);
  const base = `/w/${org}/${ws}`;
  return (
    <Layout org={org}>
      <Crumbs items={[{ to: `/orgs/${org}`, label: org }, { to: base, label: ws }, { label: pipeline }]} />
      <LoadState state={state}>
        {(data) => {
          const p = data.workspace?.pipeline;
          if (!p) return <Empty title="No such pipeline" />;
          return (
            <>
              <h1>
                {p.name} <StateBadge state={p.state} />
              </h1>
              {p.description ? <p className="lead">{p.description}</p> : null}
              <p>
                Reads {p.inputs.join(", ")}; writes <Link to={`${base}/repos/${encodeURIComponent(p.outputRepo)}`}>{p.outputRepo}</Link>; version {p.version}, up to {p.parallelism} workers.
              </p>
              {(() => {
                const ran = runnerNote(p.jobs.find((j) => j.runner)?.runner);
                return ran.warn ? (
                  <p className="banner error" role="alert" data-testid="runner-warning">
                    {ran.text} Declared: {runsIn(p.spec)}.
                  </p>
                ) : (
                  <p className="hint" data-testid="runner">
                    Runs in {runsIn(p.spec)}; {ran.text} Each job's page names the image digest it ran.
                  </p>
                );
              })()}
              <h2>Jobs</h2>
              {p.jobs.length === 0 ? (
                <p className="hint">No jobs yet: a commit to an input starts one.</p>
              ) : (
                <table className="table">
                  <thead>
                    <tr>
                      <th scope="col">Job</th>
                      <th scope="col">State</th>
                      <th scope="col">Datums</th>
                      <th scope="col">Duration</th>
                      <th scope="col">Started</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.jobs.map((j) => (
                      <tr key={j.id}>
                        <td>
                          <Link to={`${base}/pipelines/${encodeURIComponent(p.name)}/jobs/${j.id}`}>
                            <code>{shortId(j.id)}</code>
                          </Link>
                        </td>
                        <td>
                          <StateBadge state={j.state} />
                        </td>
                        <td>
                          {j.datums.processed} processed, {j.datums.skipped} skipped, {j.datums.failed} failed of {j.datums.total}
                        </td>
                        <td>{duration(j.durationSecs)}</td>
                        <td>{ago(j.createdAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <h2>Spec</h2>
              <pre className="file-text">
                <code>{JSON.stringify(p.spec, null, 2)}</code>
              </pre>
            </>
          );
        }}
      </LoadState>
    </Layout>
  );
}
