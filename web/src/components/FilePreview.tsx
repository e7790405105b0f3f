// A file at a commit: previewed by kind, downloaded, compared with another
// commit through the workspace's HTTP API.
import { useEffect, useMemo, useState } from "react";
import type { DiffEntry } from "../generated/rest";
import { bytes, downloadFile, encodePath, parseCsv, previewKind, refusal, workspaceFetch } from "../lib/index";

/** Text previews stop at this size. */
const PREVIEW_LIMIT = 256 * 1024;

export function FilePreview(props: { org: string; ws: string; repo: string; reference: string; file: { path: string; sizeBytes: number } }) {
  const { org, ws, repo, reference, file } = props;
  const kind = previewKind(file.path);
  const url = `repos/${encodeURIComponent(repo)}/refs/${encodeURIComponent(reference)}/files/${encodePath(file.path)}`;
  const [content, setContent] = useState<{ text?: string; image?: string; error?: string; truncated?: boolean }>({});
  const [against, setAgainst] = useState("");
  const [diff, setDiff] = useState<DiffEntry[] | string | null>(null);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  useEffect(() => {
    let image: string | undefined;
    const load = async () => {
      const limit = kind === "image" ? "" : `?offset=0&length=${PREVIEW_LIMIT}`;
      const response = await workspaceFetch(org, ws, url + limit);
      if (!response.ok) throw await refusal(response, "cannot read the file");
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
  const download = () => {
    setDownloadError(null);
    downloadFile(org, ws, url, file.path.split("/").pop() ?? "file").catch((error: Error) => setDownloadError(error.message));
  };
  const compare = async () => {
    const query = `?old_ref=${encodeURIComponent(against)}`;
    const response = await workspaceFetch(org, ws, `repos/${encodeURIComponent(repo)}/refs/${encodeURIComponent(reference)}/diff/${encodePath(file.path)}${query}`);
    if (!response.ok) throw await refusal(response, "cannot compare");
    setDiff((await response.json()) as DiffEntry[]);
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
      {downloadError ? (
        <div className="banner error" role="alert" data-testid="download-error">
          {downloadError}
        </div>
      ) : null}
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
          compare().catch((error: Error) => setDiff(error.message));
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
