#!/usr/bin/env bash
# The whole test suite, as CI runs it: services, formatting, lints, tests.
# Build artefacts go to $CARGO_TARGET_DIR, by default a cache outside the
# checkout so fresh clones reuse earlier builds.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*" >&2; }

step "services"
scripts/services.sh

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "web console: build (types from the schema, type check, size budget) and unit tests"
scripts/web.sh
(cd web && npm test --silent)

step "tests"
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
cargo nextest run --workspace --locked --profile ci

step "browser walk (Chromium)"
scripts/browser.sh
