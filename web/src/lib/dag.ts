// The pipeline graph laid out for an SVG: repos and pipelines as boxes,
// provenance as edges, left to right. Pure (dagre runs without a DOM), so
// it is unit-tested and timed on large graphs.
import { Graph, layout } from "@dagrejs/dagre";

export interface DagInput {
  nodes: { id: string; kind: "REPO" | "PIPELINE"; name: string; state?: string | null }[];
  edges: { from: string; to: string }[];
}

export interface PlacedNode {
  id: string;
  kind: "REPO" | "PIPELINE";
  name: string;
  state?: string | null;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
}

export interface Placed {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

const HEIGHT = 44;
const CHAR = 7.5;

/** A node's box: wide enough for its name (up to a limit). */
export function boxWidth(name: string): number {
  return Math.min(260, Math.max(120, name.length * CHAR + 48));
}

export function layoutDag(dag: DagInput): Placed {
  const graph = new Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 64, marginx: 16, marginy: 16 });
  graph.setDefaultEdgeLabel(() => ({}));
  const known = new Set(dag.nodes.map((n) => n.id));
  for (const node of dag.nodes) graph.setNode(node.id, { width: boxWidth(node.name), height: HEIGHT });
  // Edges to nodes the graph does not hold (a deleted repo) are left out.
  const edges = dag.edges.filter((e) => known.has(e.from) && known.has(e.to));
  for (const edge of edges) graph.setEdge(edge.from, edge.to);
  layout(graph);
  const info = graph.graph();
  return {
    width: Math.ceil(info.width ?? 0),
    height: Math.ceil(info.height ?? 0),
    nodes: dag.nodes.map((n) => {
      const placed = graph.node(n.id);
      return { ...n, x: placed.x, y: placed.y, width: placed.width, height: placed.height };
    }),
    edges: edges.map((e) => ({ ...e, points: graph.edge(e.from, e.to).points ?? [] })),
  };
}

/** An SVG path through the points of an edge. */
export function edgePath(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}
