import { duration, shortId } from "../lib/index";

interface TimedDatum {
  id: string;
  state: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  stats: { downloadSecs: number; processSecs: number; uploadSecs: number };
}

/** A Gantt chart: one row per datum, its download, process and upload. */
export function Timeline({ datums }: { datums: TimedDatum[] }) {
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
