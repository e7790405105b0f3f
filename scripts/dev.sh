#!/usr/bin/env bash
# Runs the whole product locally: `strata dev` from a release build.
# Arguments are passed on, e.g. `scripts/dev.sh --listen 127.0.0.1:9090`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
exec cargo run --release --locked --bin strata -- dev "$@"
