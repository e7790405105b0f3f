#!/usr/bin/env bash
# Container runner benchmark (crates/sandbox/benches/container_runner.rs,
# release build): container start to first datum (p50, p95) and trivial-datum
# throughput through two containers against `xargs -P 2` of the same command
# on the host, with the namespace runner's per-datum time beside the
# container's. Needs root (user namespaces) and sets up podman, runc and the
# test registry with scripts/containers.sh. Fails, without figures for the
# failed part, if a datum fails or a container does not start.
#
#   benches/container_runner.sh                  # STARTS=20 RUNS=400
#   STARTS=5 RUNS=100 benches/container_runner.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
eval "$(scripts/containers.sh)"
cargo bench --locked -q -p strata-sandbox --bench container_runner
