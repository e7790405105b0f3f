import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiFailure, NetworkFailure } from "../../src/lib/api";
import { downloadFile } from "../../src/lib/files";

const FILE = "repos/images/refs/master/files/cats/tabby.png";

/** The server answers every request with `response`; the requests are kept. */
function serverAnswering(response: () => Response) {
  const requests: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      requests.push(url);
      return response();
    }),
  );
  return requests;
}

/** What a download handed to the browser to save. */
function savedFiles() {
  const saved: { blob: Blob; name: string }[] = [];
  return { saved, save: (blob: Blob, name: string) => void saved.push({ blob, name }) };
}

describe("downloading a file", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("saves the file's bytes under its name, read through the workspace gateway", async () => {
    const requests = serverAnswering(() => new Response("PNG bytes", { status: 200 }));
    const { saved, save } = savedFiles();
    await downloadFile("acme", "ci", FILE, "tabby.png", save);
    expect(requests).toEqual([`/v1/orgs/acme/workspaces/ci/${FILE}`]);
    expect(saved.map((s) => s.name)).toEqual(["tabby.png"]);
    expect(await saved[0].blob.text()).toBe("PNG bytes");
  });

  it("saves nothing when the server refuses, and says why in the server's words", async () => {
    const body = { code: "NOT_FOUND", message: "no file /cats/tabby.png at master" };
    serverAnswering(() => Response.json(body, { status: 404 }));
    const { saved, save } = savedFiles();
    const failure = await downloadFile("acme", "ci", FILE, "tabby.png", save).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiFailure);
    expect((failure as ApiFailure).message).toBe("cannot download the file: no file /cats/tabby.png at master (404)");
    expect((failure as ApiFailure).code).toBe("NOT_FOUND");
    expect(saved).toEqual([]);
  });

  it("says the status when a refusal has no error body", async () => {
    serverAnswering(() => new Response("<html>Forbidden</html>", { status: 403, headers: { "Content-Type": "text/html" } }));
    const { saved, save } = savedFiles();
    await expect(downloadFile("acme", "ci", FILE, "tabby.png", save)).rejects.toThrow(new ApiFailure("cannot download the file (403)"));
    expect(saved).toEqual([]);
  });

  it("saves nothing when the server fails", async () => {
    serverAnswering(() => new Response("upstream timed out", { status: 504 }));
    const { saved, save } = savedFiles();
    await expect(downloadFile("acme", "ci", FILE, "tabby.png", save)).rejects.toBeInstanceOf(NetworkFailure);
    expect(saved).toEqual([]);
  });
});
