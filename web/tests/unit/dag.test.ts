import { describe, expect, it } from "vitest";
import { boxWidth, edgePath, layoutDag, type DagInput } from "../../src/lib/dag";

function chain(pipelines: number): DagInput {
  const nodes: DagInput["nodes"] = [{ id: "repo:raw", kind: "REPO", name: "raw" }];
  const edges: DagInput["edges"] = [];
  for (let i = 0; i < pipelines; i++) {
    nodes.push({ id: `pipeline:p${i}`, kind: "PIPELINE", name: `p${i}`, state: "SUCCESS" });
    // Each pipeline reads the raw repo and the one before it: a wide, deep graph.
    edges.push({ from: "repo:raw", to: `pipeline:p${i}` });
    if (i > 0) edges.push({ from: `pipeline:p${i - 1}`, to: `pipeline:p${i}` });
  }
  return { nodes, edges };
}

describe("DAG layout", () => {
  it("places every node, left to right along provenance", () => {
    const placed = layoutDag({
      nodes: [
        { id: "repo:images", kind: "REPO", name: "images" },
        { id: "pipeline:edges", kind: "PIPELINE", name: "edges", state: "SUCCESS" },
        { id: "pipeline:montage", kind: "PIPELINE", name: "montage", state: "RUNNING" },
      ],
      edges: [
        { from: "repo:images", to: "pipeline:edges" },
        { from: "pipeline:edges", to: "pipeline:montage" },
        { from: "repo:images", to: "pipeline:montage" },
      ],
    });
    const x = Object.fromEntries(placed.nodes.map((n) => [n.id, n.x]));
    expect(x["repo:images"]).toBeLessThan(x["pipeline:edges"]);
    expect(x["pipeline:edges"]).toBeLessThan(x["pipeline:montage"]);
    expect(placed.edges).toHaveLength(3);
    for (const edge of placed.edges) expect(edge.points.length).toBeGreaterThanOrEqual(2);
    expect(placed.width).toBeGreaterThan(0);
  });

  it("leaves out edges to nodes it does not have", () => {
    const placed = layoutDag({ nodes: [{ id: "repo:a", kind: "REPO", name: "a" }], edges: [{ from: "repo:gone", to: "repo:a" }] });
    expect(placed.edges).toHaveLength(0);
  });

  it("lays out 50 pipelines without overlaps", () => {
    const placed = layoutDag(chain(50));
    expect(placed.nodes).toHaveLength(51);
    const boxes = placed.nodes.map((n) => [n.x - n.width / 2, n.y - n.height / 2, n.x + n.width / 2, n.y + n.height / 2]);
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        const overlap = a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
        expect(overlap, `${placed.nodes[i].id} and ${placed.nodes[j].id}`).toBe(false);
      }
  });

  it("sizes boxes by name within limits and draws paths", () => {
    expect(boxWidth("a")).toBe(120);
    expect(boxWidth("x".repeat(100))).toBe(260);
    expect(edgePath([{ x: 0, y: 0 }, { x: 10.25, y: 5 }])).toBe("M0.0,0.0 L10.3,5.0");
  });
});
