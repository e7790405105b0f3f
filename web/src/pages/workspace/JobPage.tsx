// A job: its state and datum counts, throughput, a timeline of its datums,
// the datum list and the logs.
import { useState } from "react";
import { Crumbs } from "../../components/Crumbs";
import { Layout } from "../../components/Layout";
import { Logs } from "../../components/Logs";
import { Timeline } from "../../components/Timeline";
import { Empty, LoadState, StateBadge } from "../../components/ui";
import { graphql } from "../../gql";
import { bytes, duration, gql, runnerNote, shortId, usd, useLoad } from "../../lib/index";

const JobQuery = graphql(`
  query JobDetail($org: String!, $ws: String!, $pipeline: String!, $job: String!) {
    workspace(organization: $org, slug: $ws) {
      job(pipeline: $pipeline, id: $job) {
        id
        pipeline
        state
        reason
        createdAt
        startedAt
        finishedAt
        durationSecs
        image
        runner
        outputCommit
        datums {
          total
          processed
          skipped
          failed
          recovered
        }
        stats {
          bytesIn
          bytesOut
          downloadSecs
          processSecs
          uploadSecs
        }
        cost {
          plan
          cpuSeconds
          memoryGibSeconds
          priceUsd
        }
        datumList {
          id
          state
          attempts
          exit
          startedAt
          finishedAt
          stats {
            downloadSecs
            processSecs
            uploadSecs
          }
        }
      }
    }
  }
`);

const RUNNING = ["CREATED", "STARTING", "RUNNING", "FINISHING"];

export function JobPage({ org, ws, pipeline, job }: { org: string; ws: string; pipeline: string; job: string }) {
  const state = useLoad(
    () => gql(JobQuery, { org, ws, pipeline, job }),
    `job:${org}/${ws}/${pipeline}/${job}`,
    1500,
    (data) => RUNNING.includes(data.workspace?.job?.state ?? ""),
  );
  const [datum, setDatum] = useState<string | null>(null);
  const base = `/w/${org}/${ws}`;
  return (
    <Layout org={org}>
      <Crumbs items={[{ to: `/orgs/${org}`, label: org }, { to: base, label: ws }, { to: `${base}/pipelines/${encodeURIComponent(pipeline)}`, label: pipeline }, { label: shortId(job) }]} />
      <LoadState state={state}>
        {(data) => {
          const j = data.workspace?.job;
          if (!j) return <Empty title="No such job" />;
          const running = RUNNING.includes(j.state);
          const secs = j.durationSecs ?? 0;
          return (
            <>
              <h1>
                Job <code>{shortId(j.id)}</code> <StateBadge state={j.state} />
              </h1>
              {j.reason ? <p className="banner error">{j.reason}</p> : null}
              <dl className="counts" data-testid="datum-counts">
                {(["total", "processed", "skipped", "failed", "recovered"] as const).map((k) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>{j.datums[k]}</dd>
                  </div>
                ))}
              </dl>
              <p>
                {duration(j.durationSecs)} · read {bytes(j.stats.bytesIn)} · wrote {bytes(j.stats.bytesOut)}
                {secs > 0 ? ` · ${(j.datums.processed / secs).toFixed(1)} datums/s · ${bytes(j.stats.bytesIn / secs)}/s in` : ""}
              </p>
              <p data-testid="job-cost">
                Cost: <strong>{usd(j.cost.priceUsd)}</strong> at the {j.cost.plan} plan's prices · {j.cost.cpuSeconds.toFixed(2)} CPU-seconds ·{" "}
                {j.cost.memoryGibSeconds.toFixed(2)} GiB-seconds of worker memory
              </p>
              <p className="hint">
                Image: {j.image ? <code>{j.image}</code> : "not pinned (pinned when the job starts, where workers run containers)"}
              </p>
              <p className={runnerNote(j.runner).warn ? "banner error" : "hint"} data-testid="job-runner">
                {runnerNote(j.runner).text}
              </p>
              <h2>Timeline</h2>
              <Timeline datums={j.datumList} />
              <h2>Datums</h2>
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Datum</th>
                    <th scope="col">State</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Download</th>
                    <th scope="col">Process</th>
                    <th scope="col">Upload</th>
                  </tr>
                </thead>
                <tbody>
                  {j.datumList.map((d) => (
                    <tr key={d.id} aria-selected={datum === d.id}>
                      <td>
                        <button type="button" className="link" onClick={() => setDatum(datum === d.id ? null : d.id)}>
                          {shortId(d.id)}
                        </button>
                      </td>
                      <td>
                        <StateBadge state={d.state} />
                      </td>
                      <td>{d.attempts}</td>
                      <td>{duration(d.stats.downloadSecs)}</td>
                      <td>{duration(d.stats.processSecs)}</td>
                      <td>{duration(d.stats.uploadSecs)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <h2>{datum ? `Logs of datum ${shortId(datum)}` : "Logs"}</h2>
              <Logs org={org} ws={ws} pipeline={pipeline} job={job} datum={datum} follow={running} />
            </>
          );
        }}
      </LoadState>
    </Layout>
  );
}
