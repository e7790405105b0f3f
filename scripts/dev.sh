#!/usr/bin/env bash
# Runs the whole product locally: the web console built, then `strata dev`
# from a release build (console at http://localhost:8080).
# Arguments are passed on, e.g. `scripts/dev.sh --listen 127.0.0.1:9090`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
# The web console; without npm the server still runs and its pages say how
# to build the console later.
scripts/web.sh || echo "warning: the web console was not built; see the message above" >&2
exec cargo run --release --locked --bin strata -- dev "$@"
