// Generated from crates/api-types by crates/console-types: do not edit.
// After changing one of these types, rewrite this file with
// STRATA_UPDATE_DOCS=1 cargo nextest run --workspace -E 'package(strata-console-types)'

/**
 * A stable, machine-readable reason for a failure. Messages are for
 * people and may change; codes do not.
 */
export type ErrorCode = "UNAUTHENTICATED" | "FORBIDDEN" | "CSRF" | "INVALID_PATH" | "METHOD_NOT_ALLOWED" | "INVALID_REQUEST" | "TOO_COMPLEX" | "TOO_MANY_AUTH_MUTATIONS" | "WORKSPACE_NOT_READY" | "WORKSPACE_UNAVAILABLE" | "RATE_LIMITED" | "NOT_FOUND" | "INVALID_SPEC" | "PAYLOAD_TOO_LARGE" | "BUSY" | "INVALID_ARGUMENT" | "WEAK_PASSWORD" | "CONFIRMATION_MISMATCH" | "UPLOAD_INTERRUPTED" | "ALREADY_EXISTS" | "CONFLICT" | "LAST_OWNER" | "QUOTA_EXCEEDED" | "PAYMENT_REQUIRED" | "SSO_REQUIRED" | "EXPIRED" | "GONE" | "TIMEOUT" | "SERVER_STOPPING" | "STORAGE_UNAVAILABLE" | "DATA_CORRUPTED" | "INTERNAL";

/**
 * Every HTTP error answers with this body.
 */
export type ErrorBody = { code: ErrorCode, message: string, 
/**
 * For server errors: the id under which the server logged the cause
 * (the request's trace id); quote it when reporting a problem.
 */
request_id?: string | null, };

/**
 * How a path differs between two commits.
 */
export type DiffKind = "added" | "removed" | "modified";

/**
 * One line of a diff.
 */
export type DiffEntry = { path: string, change: DiffKind, old_size: number | null, new_size: number | null, };

/**
 * One log line.
 */
export type LogLine = { 
/**
 * Position for `?after=` when following.
 */
cursor: number, ts: string, pipeline: string, job: string | null, datum: string | null, 
/**
 * True when the user's program printed it.
 */
user: boolean, message: string, };
