// A workspace: its DAG, repos and pipelines; a repo's branches, commits and
// files; a pipeline's spec and jobs; a job's datums, timeline and logs.
import { useEffect, useMemo, useState, type ComponentType } from "react";
import type { DagInput } from "../lib/dag";
import { Layout } from "../components/Layout";
import { AccessSection } from "./Access";
import { Command, Empty, LoadState, StateBadge } from "../components/ui";
import { graphql } from "../gql";
import {
  ApiFailure,
  ago,
  bytes,
  duration,
  encodePath,
  gql,
  Link,
  parseCsv,
  previewKind,
  shortId,
  useLoad,
  workspaceFetch,
} from "../lib/index";

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
    import("../components/DagView").then((module) => alive && setView(() => module.default));
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

function Crumbs({ items }: { items: { to?: string; label: string }[] }) {
  return (
    <nav aria-label="Breadcrumbs" className="crumbs">
      <ol>
        {items.map((item, i) => (
          <li key={`${item.label}-${i}`}>{item.to && i < items.length - 1 ? <Link to={item.to}>{item.label}</Link> : <span aria-current={i === items.length - 1 ? "page" : undefined}>{item.label}</span>}</li>
        ))}
      </ol>
    </nav>
  );
}

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

/**
 * What the provisioner reports when it needs saying: a degraded workspace
 * (a failing reconcile, a plan below current usage) or one not ready.
 */
function Conditions({ conditions }: { conditions: { type: string; status: boolean; reason: string; message: string }[] }) {
  const shown = conditions.filter((c) => (c.type === "Degraded" && c.status) || (c.type === "Ready" && !c.status));
  if (shown.length === 0) return null;
  return (
    <div className="banner warn" role="status" data-testid="conditions">
      {shown.map((c) => (
        <p key={c.type}>
          <strong>{c.reason}</strong>: {c.message}
        </p>
      ))}
    </div>
  );
}

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

/** Text previews stop at this size. */
const PREVIEW_LIMIT = 256 * 1024;

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

interface DiffEntry {
  path: string;
  change: string;
  old_size?: number | null;
  new_size?: number | null;
}

function FilePreview(props: { org: string; ws: string; repo: string; reference: string; file: { path: string; sizeBytes: number } }) {
  const { org, ws, repo, reference, file } = props;
  const kind = previewKind(file.path);
  const url = `repos/${encodeURIComponent(repo)}/refs/${encodeURIComponent(reference)}/files/${encodePath(file.path)}`;
  const [content, setContent] = useState<{ text?: string; image?: string; error?: string; truncated?: boolean }>({});
  const [against, setAgainst] = useState("");
  const [diff, setDiff] = useState<DiffEntry[] | string | null>(null);
  useEffect(() => {
    let image: string | undefined;
    const load = async () => {
      const limit = kind === "image" ? "" : `?offset=0&length=${PREVIEW_LIMIT}`;
      const response = await workspaceFetch(org, ws, url + limit);
      if (!response.ok) throw new ApiFailure(`cannot read the file (${response.status})`);
      if (kind === "image") {
        image = URL.createObjectURL(await response.blob());
        setContent({ image });
      } else setContent({ text: await response.text(), truncated: file.sizeBytes > PREVIEW_LIMIT });
    };
    load().catch((error: Error) => setContent({ error: error.message }));
    return () => {
      if (image) URL.revokeObjectURL(image);
    };
  }, [org, ws, url, kind, file.sizeBytes]);
  const download = async () => {
    const response = await workspaceFetch(org, ws, url);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = file.path.split("/").pop() ?? "file";
    link.click();
    URL.revokeObjectURL(link.href);
  };
  const compare = async () => {
    const query = `?old_ref=${encodeURIComponent(against)}`;
    const response = await workspaceFetch(org, ws, `repos/${encodeURIComponent(repo)}/refs/${encodeURIComponent(reference)}/diff/${encodePath(file.path)}${query}`);
    setDiff(response.ok ? ((await response.json()) as DiffEntry[]) : ((await response.json()) as { message: string }).message);
  };
  const json = useMemo(() => {
    if (kind !== "json" || content.text === undefined || content.truncated) return null;
    try {
      return JSON.stringify(JSON.parse(content.text), null, 2);
    } catch {
      return null;
    }
  }, [kind, content]);
  return (
    <article className="preview" aria-labelledby="file-title">
      <header className="preview-head">
        <h1 id="file-title">{file.path}</h1>
        <span className="hint">{bytes(file.sizeBytes)}</span>
        <button type="button" onClick={download}>
          Download
        </button>
      </header>
      {content.error ? <div className="banner error">{content.error}</div> : null}
      {content.image ? <img src={content.image} alt={file.path} className="preview-image" /> : null}
      {content.text !== undefined && kind === "csv" ? (
        <div className="scroll">
          <table className="table" data-testid="csv-preview">
            <tbody>
              {parseCsv(content.text).map((row, i) => (
                <tr key={i}>
                  {row.map((cell, j) => (i === 0 ? <th key={j}>{cell}</th> : <td key={j}>{cell}</td>))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {content.text !== undefined && kind !== "csv" ? (
        <pre className="file-text" data-testid="text-preview">
          <code>{json ?? content.text}</code>
        </pre>
      ) : null}
      {content.truncated ? <p className="hint">Preview cut at {bytes(PREVIEW_LIMIT)}; download the file for all of it.</p> : null}
      <form
        className="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          void compare();
        }}
      >
        <label htmlFor="diff-against">Compare with commit or branch</label>
        <input id="diff-against" value={against} onChange={(e) => setAgainst(e.target.value)} placeholder={`${reference}~1`} />
        <button type="submit" className="secondary" disabled={!against}>
          Diff
        </button>
      </form>
      {typeof diff === "string" ? <div className="banner error">{diff}</div> : null}
      {Array.isArray(diff) ? (
        diff.length === 0 ? (
          <p>No change.</p>
        ) : (
          <ul className="plain diff">
            {diff.map((d) => (
              <li key={d.path}>
                <code>{d.change}</code> {d.path} {d.old_size != null ? bytes(d.old_size) : "—"} → {d.new_size != null ? bytes(d.new_size) : "—"}
              </li>
            ))}
          </ul>
        )
      ) : null}
    </article>
  );
}

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

interface TimedDatum {
  id: string;
  state: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  stats: { downloadSecs: number; processSecs: number; uploadSecs: number };
}

/** A Gantt chart: one row per datum, its download, process and upload. */
function Timeline({ datums }: { datums: TimedDatum[] }) {
  const timed = datums.filter((d) => d.startedAt);
  if (timed.length === 0) return <p className="hint">No datum has started yet.</p>;
  const started = (d: TimedDatum) => Date.parse(d.startedAt as string);
  const phases = (d: TimedDatum) => (d.stats.downloadSecs + d.stats.processSecs + d.stats.uploadSecs) * 1000;
  const start = Math.min(...timed.map(started));
  // A datum ends at its finish time, or where its phases end if later
  // (the phases are the worker's own clock).
  const end = Math.max(...timed.map((d) => Math.max(d.finishedAt ? Date.parse(d.finishedAt) : Date.now(), started(d) + phases(d))));
  const span = Math.max(1, end - start) / 1000;
  const width = 640;
  const row = 14;
  const scale = (secs: number) => (secs / span) * width;
  return (
    <figure className="timeline">
      <svg viewBox={`0 0 ${width + 4} ${timed.length * (row + 4) + 20}`} role="img" aria-label={`Timeline of ${timed.length} datums over ${duration(span)}`} data-testid="timeline">
        {timed.map((d, i) => {
          const x = scale((Date.parse(d.startedAt as string) - start) / 1000);
          const y = i * (row + 4);
          const parts = [
            ["download", d.stats.downloadSecs],
            ["process", d.stats.processSecs],
            ["upload", d.stats.uploadSecs],
          ] as const;
          let offset = x;
          return (
            <g key={d.id}>
              <title>{`${shortId(d.id)}: ${d.state.toLowerCase()}, download ${duration(d.stats.downloadSecs)}, process ${duration(d.stats.processSecs)}, upload ${duration(d.stats.uploadSecs)}`}</title>
              {parts.map(([name, secs]) => {
                const w = Math.max(1, scale(secs));
                const rect = <rect key={name} className={`phase-${name}`} x={offset} y={y} width={w} height={row} />;
                offset += w;
                return rect;
              })}
            </g>
          );
        })}
        <text x={0} y={timed.length * (row + 4) + 14} className="axis">
          0 s
        </text>
        <text x={width} y={timed.length * (row + 4) + 14} textAnchor="end" className="axis">
          {duration(span)}
        </text>
      </svg>
      <figcaption className="legend">
        <span className="swatch phase-download" /> download <span className="swatch phase-process" /> process <span className="swatch phase-upload" /> upload
      </figcaption>
    </figure>
  );
}

interface LogLine {
  cursor: number;
  ts: string;
  datum?: string | null;
  user: boolean;
  message: string;
}

/** Log lines, following new ones every second while the job runs. */
function Logs(props: { org: string; ws: string; pipeline: string; job: string; datum: string | null; follow: boolean }) {
  const { org, ws, pipeline, job, datum, follow } = props;
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let cursor = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setLines([]);
    const pull = async () => {
      try {
        const query = new URLSearchParams({ pipeline, job, after: String(cursor), limit: "1000" });
        if (datum) query.set("datum", datum);
        const response = await workspaceFetch(org, ws, `pps/logs?${query}`);
        if (!response.ok) throw new ApiFailure(`cannot read logs (${response.status})`);
        const page = (await response.json()) as LogLine[];
        if (!alive) return;
        if (page.length > 0) {
          cursor = page[page.length - 1].cursor;
          setLines((old) => [...old, ...page].slice(-2000));
        }
        setError(null);
      } catch (err) {
        if (alive) setError((err as Error).message);
      }
      if (alive && follow) timer = setTimeout(pull, 1000);
    };
    void pull();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [org, ws, pipeline, job, datum, follow]);
  return (
    <div>
      {error ? <div className="banner error">{error}</div> : null}
      {lines.length === 0 ? (
        <p className="hint">No log lines{follow ? " yet" : ""}.</p>
      ) : (
        <pre className="logs" aria-live={follow ? "polite" : undefined} data-testid="logs">
          {lines.map((l) => (
            <div key={l.cursor} className={l.user ? "user" : "system"}>
              <span className="ts">{l.ts.slice(11, 19)}</span> {l.message}
            </div>
          ))}
        </pre>
      )}
    </div>
  );
}
