#!/usr/bin/env bash
# Sandbox benchmark (crates/sandbox/benches/overhead.rs, release build): what
# the sandbox adds per datum over spawning the program directly, in scratch
# and namespace mode, and the throughput of two namespace sandboxes side by
# side. Namespace mode needs root, as on the project's machines. Fails, and
# prints no figures for the failed part, if any sandboxed run fails.
#
#   benches/sandbox.sh            # RUNS=500 runs per figure
#   RUNS=100 benches/sandbox.sh   # quick run
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
export RUNS="${RUNS:-500}"

cargo bench --locked -q -p strata-sandbox --bench overhead
