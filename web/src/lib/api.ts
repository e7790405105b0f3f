// GraphQL over fetch with the session: the access token lives in memory
// only; the refresh token is an HttpOnly cookie the page cannot read, spent
// at POST /auth/refresh with the CSRF double-submit header.
import type { ErrorBody } from "../generated/rest";
import type { TypedDocumentString } from "../gql/graphql";

let accessToken: string | null = null;
let expiresAt = 0;

/** The request reached the server and it refused (not a user error). */
export class ApiFailure extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

/** The server could not be reached or answered garbage: worth a retry. */
export class NetworkFailure extends Error {}

export function setSession(token: string | null, expires?: string): void {
  accessToken = token;
  expiresAt = expires ? Date.parse(expires) : 0;
}

export function hasSession(): boolean {
  return accessToken !== null;
}

function csrfToken(): string | null {
  const found = document.cookie.split("; ").find((c) => c.startsWith("strata_csrf="));
  return found ? decodeURIComponent(found.slice("strata_csrf=".length)) : null;
}

let refreshing: Promise<boolean> | null = null;

/** A new access token from the session cookie; false when there is none. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const csrf = csrfToken();
      if (!csrf) return false;
      const response = await fetch("/auth/refresh", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf },
        credentials: "same-origin",
      });
      if (!response.ok) {
        setSession(null);
        return false;
      }
      const body = (await response.json()) as { accessToken: string; expiresAt: string };
      setSession(body.accessToken, body.expiresAt);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

interface Answer<R> {
  data?: R;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/**
 * `fetch` with the session's token; an unreachable server or a 5xx answer
 * is a NetworkFailure (worth a retry).
 */
async function request(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (accessToken) headers.set("Authorization", `Bearer ${accessToken}`);
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers, credentials: "same-origin" });
  } catch (error) {
    throw new NetworkFailure(`cannot reach the server (${(error as Error).message})`);
  }
  if (response.status >= 500) throw new NetworkFailure(`the server answered ${response.status}`);
  return response;
}

async function send<R, V>(document: TypedDocumentString<R, V>, variables: V | undefined): Promise<Answer<R>> {
  const response = await request("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
  });
  try {
    return (await response.json()) as Answer<R>;
  } catch {
    throw new NetworkFailure(`the server answered ${response.status} without JSON`);
  }
}

/** Runs a query or mutation; refreshes the session once if it expired. */
export async function gql<R, V>(document: TypedDocumentString<R, V>, variables?: V): Promise<R> {
  if (accessToken && Date.now() > expiresAt - 30_000) await refreshSession();
  let answer = await send(document, variables);
  const expired = answer.errors?.some((e) => e.extensions?.code === "UNAUTHENTICATED");
  if (expired && (await refreshSession())) answer = await send(document, variables);
  if (answer.errors?.length) {
    const [first] = answer.errors;
    throw new ApiFailure(first.message, first.extensions?.code);
  }
  if (!answer.data) throw new NetworkFailure("the server answered without data");
  return answer.data;
}

/** Expected failures of a mutation, by the field they concern. */
export interface UserError {
  field?: string | null;
  message: string;
  code: string;
}

export function errorFor(errors: UserError[] | undefined, field: string): string | undefined {
  return errors?.find((e) => e.field === field)?.message;
}

export function generalErrors(errors: UserError[] | undefined, fields: string[]): UserError[] {
  return (errors ?? []).filter((e) => !e.field || !fields.includes(e.field));
}

/**
 * A request to a workspace's HTTP API through the hub's gateway
 * (`/v1/orgs/{org}/workspaces/{ws}/…`), with the session's token.
 */
export async function workspaceFetch(org: string, ws: string, path: string): Promise<Response> {
  const url = `/v1/orgs/${encodeURIComponent(org)}/workspaces/${encodeURIComponent(ws)}/${path}`;
  const response = await request(url);
  if (response.status === 401 && (await refreshSession())) return request(url);
  return response;
}

/**
 * A refused workspace request as an error saying what failed: the server's
 * message when its body is the documented error body, else the status.
 */
export async function refusal(response: Response, what: string): Promise<ApiFailure> {
  let body: Partial<ErrorBody> = {};
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    // Not JSON (a proxy's page, an empty body): the status is all there is.
  }
  const reason = body.message ? `: ${body.message}` : "";
  return new ApiFailure(`${what}${reason} (${response.status})`, body.code);
}

/** A file path as the PFS HTTP API takes it: each segment encoded. */
export function encodePath(path: string): string {
  return path
    .split("/")
    .filter(Boolean)
    .map(encodeURIComponent)
    .join("/");
}
