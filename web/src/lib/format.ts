// Formatting shared by the pages; pure, so unit-tested.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "—";
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** "3 min ago", relative to `now`. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "—";
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}

/** A CSV text as rows of cells (quotes and doubled quotes handled). */
export function parseCsv(text: string, maxRows = 200): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if ((cell !== "" || row.length > 0) && rows.length < maxRows) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** How to preview a file, by name. */
export function previewKind(path: string): "image" | "csv" | "json" | "text" {
  const ext = path.toLowerCase().split(".").pop() ?? "";
  if (["png", "jpg", "jpeg", "gif", "webp", "svg"].includes(ext)) return "image";
  if (ext === "csv") return "csv";
  if (ext === "json") return "json";
  return "text";
}

/** What a pipeline's effective spec says about where its code runs: image, user and limits. */
export function runsIn(spec: unknown): string {
  const s = (spec ?? {}) as {
    transform?: { image?: string; user?: string };
    resource_limits?: { cpu?: number | string; memory?: string };
  };
  const image = s.transform?.image ?? "the default image";
  const user = s.transform?.user ? `uid ${s.transform.user}` : "uid 1000";
  const limits: string[] = [];
  if (s.resource_limits?.cpu !== undefined) limits.push(`${s.resource_limits.cpu} CPU`);
  if (s.resource_limits?.memory !== undefined) limits.push(`${s.resource_limits.memory} memory`);
  const bound = limits.length > 0 ? `at most ${limits.join(" and ")}` : "no CPU or memory limit";
  return `${image} as ${user}, ${bound}`;
}

/**
 * What ran a job's datums, as its workers reported, in a sentence; `warn` where that was
 * not the pipeline's image (processes on the workers' machine).
 */
export function runnerNote(runner: string | null | undefined): { text: string; warn: boolean } {
  if (!runner) return { text: "what runs its datums is reported once a job's first task is done.", warn: false };
  if (runner === "container") return { text: "its datums run in containers of that image, with literal /pfs.", warn: false };
  return {
    text: `Its datums ran as processes on the workers' machine (${runner} runner), not in the pipeline's image: install podman and runc there and set runner = "container".`,
    warn: true,
  };
}

/** US dollars to the cent; a price above nothing but under a cent (most small jobs) reads `<$0.01`. */
export function usd(amount: number): string {
  if (!Number.isFinite(amount) || amount < 0) return "—";
  if (amount > 0 && amount < 0.005) return "<$0.01";
  return `$${amount.toFixed(2)}`;
}
