// The pipeline DAG as SVG (lazy-loaded with its layout library).
import { useEffect, useLayoutEffect, useMemo } from "react";
import { edgePath, layoutDag, type DagInput } from "../lib/dag";
import { navigate } from "../lib/index";

export default function DagView({ dag, base }: { dag: DagInput; base: string }) {
  // The page polls; the graph is laid out again only when it changed.
  const shape = JSON.stringify(dag);
  const placed = useMemo(() => {
    const started = performance.now();
    const laidOut = layoutDag(JSON.parse(shape) as DagInput);
    performance.measure("strata:dag-layout", { start: started, end: performance.now() });
    return { ...laidOut, started };
  }, [shape]);
  // Layout plus render, up to the commit of the SVG: what the browser
  // walk reports as the DAG's drawing time.
  useLayoutEffect(() => {
    performance.measure("strata:dag-commit", { start: placed.started, end: performance.now() });
  }, [placed]);
  useEffect(() => {
    performance.measure("strata:dag", { start: placed.started, end: performance.now() });
  }, [placed]);
  const open = (kind: string, name: string) =>
    navigate(kind === "PIPELINE" ? `${base}/pipelines/${encodeURIComponent(name)}` : `${base}/repos/${encodeURIComponent(name)}`);
  return (
    <figure className="dag">
      <svg
        role="group"
        aria-label={`Pipeline graph: ${dag.nodes.length} nodes, ${dag.edges.length} edges`}
        viewBox={`0 0 ${placed.width} ${placed.height}`}
        width={placed.width}
        height={placed.height}
        data-testid="dag"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="dag-arrow" />
          </marker>
        </defs>
        {placed.edges.map((e) => (
          <path key={`${e.from}->${e.to}`} d={edgePath(e.points)} className="dag-edge" markerEnd="url(#arrow)" data-edge={`${e.from}->${e.to}`} />
        ))}
        {placed.nodes.map((n) => (
          <g
            key={n.id}
            transform={`translate(${n.x - n.width / 2},${n.y - n.height / 2})`}
            className={`dag-node ${n.kind.toLowerCase()} state-${(n.state ?? "none").toLowerCase()}`}
            role="link"
            tabIndex={0}
            aria-label={`${n.kind === "PIPELINE" ? "pipeline" : "repo"} ${n.name}${n.state ? `, last job ${n.state.toLowerCase()}` : ""}`}
            data-node={n.id}
            onClick={() => open(n.kind, n.name)}
            onKeyDown={(event) => {
              if (event.key === "Enter" || event.key === " ") {
                event.preventDefault();
                open(n.kind, n.name);
              }
            }}
          >
            <rect width={n.width} height={n.height} rx={n.kind === "REPO" ? 6 : 16} />
            <text x={12} y={n.height / 2 + 4}>
              <tspan className="dag-kind">{n.kind === "REPO" ? "repo " : "pipeline "}</tspan>
              {n.name}
            </text>
          </g>
        ))}
      </svg>
      <figcaption className="legend">
        Repos are square, pipelines round; a pipeline's colour is its latest job's state. Click one to open it.
      </figcaption>
    </figure>
  );
}
