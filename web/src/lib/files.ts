// Saving a workspace's file from the console.
import { refusal, workspaceFetch } from "./api";

/** Hands a file's bytes to the browser, which saves them under `name`. */
export function saveBlob(blob: Blob, name: string): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}

/**
 * Downloads a file through the workspace's HTTP API and saves it. A refused
 * request throws and saves nothing: an error body must never land on the
 * user's disk under the file's name.
 */
export async function downloadFile(org: string, ws: string, path: string, name: string, save = saveBlob): Promise<void> {
  const response = await workspaceFetch(org, ws, path);
  if (!response.ok) throw await refusal(response, "cannot download the file");
  save(await response.blob(), name);
}
