import { useEffect, useState } from "react";
import type { LogLine } from "../generated/rest";
import { ApiFailure, workspaceFetch } from "../lib/index";

/** Log lines, following new ones every second while the job runs. */
export function Logs(props: { org: string; ws: string; pipeline: string; job: string; datum: string | null; follow: boolean }) {
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
