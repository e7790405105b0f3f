//! The web console's TypeScript declarations of the REST bodies it reads
//! (file diffs, log lines, the error body), generated from
//! `strata-api-types` so that the console keeps no hand copy of a wire type.
//!
//! The declarations are committed at [`COMMITTED_PATH`] (the console's build
//! must not need cargo); the test below fails when that file no longer says
//! what the Rust types say. After a deliberate change to one of these types:
//! `STRATA_UPDATE_DOCS=1 cargo nextest run --workspace -E 'package(strata-console-types)'`.
//!
//! To give the console another body: derive `ts_rs::TS` on it in
//! `strata-api-types` behind the `typescript` feature, and list it in
//! [`typescript`].

use strata_api_types::pfs::{DiffEntry, DiffKind};
use strata_api_types::pps::LogLine;
use strata_api_types::{ErrorBody, ErrorCode};
use ts_rs::{Config, TS};

/// The generated file, relative to the workspace root.
pub const COMMITTED_PATH: &str = "web/src/generated/rest.ts";

const HEADER: &str = "\
// Generated from crates/api-types by crates/console-types: do not edit.
// After changing one of these types, rewrite this file with
// STRATA_UPDATE_DOCS=1 cargo nextest run --workspace -E 'package(strata-console-types)'
";

/// The contents of [`COMMITTED_PATH`]: one exported declaration per body.
pub fn typescript() -> String {
    // u64 sizes and cursors are JSON numbers, which `JSON.parse` reads as
    // `number`: ts-rs's default `bigint` would promise what never arrives.
    let config = Config::new().with_large_int("number");
    let declarations = [
        exported::<ErrorCode>(&config),
        exported::<ErrorBody>(&config),
        exported::<DiffKind>(&config),
        exported::<DiffEntry>(&config),
        exported::<LogLine>(&config),
    ];
    format!("{HEADER}\n{}\n", declarations.join("\n\n"))
}

/// One type's doc comment and `export type …` declaration.
fn exported<T: TS>(config: &Config) -> String {
    let docs = T::docs().unwrap_or_default();
    format!("{docs}export {}", T::decl(config))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{COMMITTED_PATH, typescript};

    fn committed_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(COMMITTED_PATH)
    }

    /// The console type-checks against the committed file, so a wire type
    /// that changed without it would break the console only at run time.
    #[test]
    fn committed_typescript_matches_the_rust_wire_types() {
        let generated = typescript();
        let path = committed_file();
        if std::env::var_os("STRATA_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == generated, "{COMMITTED_PATH} is stale; rerun with STRATA_UPDATE_DOCS=1 and commit it");
    }

    #[test]
    fn sizes_and_cursors_are_numbers_and_absent_values_null() {
        let generated = typescript();
        assert!(!generated.contains("bigint"), "{generated}");
        assert!(generated.contains("old_size: number | null"), "{generated}");
        assert!(generated.contains("cursor: number"), "{generated}");
    }
}
