import { describe, expect, it } from "vitest";

// The router reads `window` at import; give it a minimal one.
(globalThis as unknown as { window: unknown }).window = { addEventListener: () => {} };
const { match } = await import("../../src/lib/router");

describe("routes", () => {
  it("match parameters and rest paths, decoding them", () => {
    expect(match("/orgs/:org", "/orgs/acme")).toEqual({ org: "acme" });
    expect(match("/orgs/:org", "/orgs/acme/members")).toBeNull();
    expect(match("/w/:org/:ws/repos/:repo/files/:ref/*", "/w/a/b/repos/img%20s/files/master/dir/c%23.txt")).toEqual({
      org: "a",
      ws: "b",
      repo: "img s",
      ref: "master",
      "*": "dir/c#.txt",
    });
    expect(match("/orgs/new", "/orgs/new")).toEqual({});
  });
});
