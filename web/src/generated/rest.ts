// Generated from crates/api-types by crates/console-types: do not edit.
// After changing one of these types, rewrite this file with
// STRATA_UPDATE_DOCS=1 cargo nextest run --workspace -E 'package(strata-console-types)'

/**
 * Every HTTP error answers with this body. `code` is stable and documented
 * in `docs/api-errors.md`; `message` is for people.
 */
export type ErrorBody = { code: string, message: string, };

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
