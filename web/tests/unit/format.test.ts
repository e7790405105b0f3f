import { describe, expect, it } from "vitest";
import { ago, bytes, duration, parseCsv, previewKind, runnerNote, runsIn, usd } from "../../src/lib/format";

describe("format", () => {
  it("writes sizes in binary units", () => {
    expect(bytes(0)).toBe("0 B");
    expect(bytes(1023)).toBe("1023 B");
    expect(bytes(327.2454)).toBe("327 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(200 * 1024 * 1024)).toBe("200 MiB");
    expect(bytes(-1)).toBe("—");
  });

  it("writes durations at a readable precision", () => {
    expect(duration(0.25)).toBe("250 ms");
    expect(duration(4.25)).toBe("4.3 s");
    expect(duration(125)).toBe("2 min 5 s");
    expect(duration(3 * 3600 + 120)).toBe("3 h 2 min");
    expect(duration(null)).toBe("—");
  });

  it("says how long ago", () => {
    const now = Date.parse("2026-11-29T12:00:00Z");
    expect(ago("2026-11-29T11:59:50Z", now)).toBe("just now");
    expect(ago("2026-11-29T11:50:00Z", now)).toBe("10 min ago");
    expect(ago("2026-11-27T12:00:00Z", now)).toBe("2 d ago");
    expect(ago("not a time", now)).toBe("—");
  });

  it("parses CSV with quotes, doubled quotes and CRLF", () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\n1,2')).toEqual([
      ["a", "b"],
      ["x, y", 'say "hi"'],
      ["1", "2"],
    ]);
    expect(parseCsv("a\nb\nc", 2)).toHaveLength(2);
  });

  it("previews by extension", () => {
    expect(previewKind("/a/cat.PNG")).toBe("image");
    expect(previewKind("/t.csv")).toBe("csv");
    expect(previewKind("/x.json")).toBe("json");
    expect(previewKind("/README")).toBe("text");
  });

  it("says where a pipeline's code runs: image, user and limits", () => {
    const spec = { transform: { image: "r.io/app:1", user: "1001" }, resource_limits: { cpu: 0.5, memory: "64Mi" } };
    expect(runsIn(spec)).toBe("r.io/app:1 as uid 1001, at most 0.5 CPU and 64Mi memory");
    expect(runsIn({ transform: { image: "busybox" } })).toBe("busybox as uid 1000, no CPU or memory limit");
    expect(runsIn(null)).toBe("the default image as uid 1000, no CPU or memory limit");
  });

  it("warns when datums ran as processes instead of in the image", () => {
    expect(runnerNote("container").warn).toBe(false);
    expect(runnerNote(null).warn).toBe(false);
    const process = runnerNote("namespace");
    expect(process.warn).toBe(true);
    expect(process.text).toContain("not in the pipeline's image");
  });
});

describe("usd", () => {
  it("shows cents, and says when a price is under a cent", () => {
    expect(usd(0)).toBe("$0.00");
    expect(usd(12.345)).toBe("$12.35");
    expect(usd(0.0000123)).toBe("<$0.01");
    expect(usd(0.007)).toBe("$0.01");
    expect(usd(-1)).toBe("—");
  });
});
