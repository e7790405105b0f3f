#!/usr/bin/env bash
# Builds the web console into web/dist (served by `strata dev` at /):
# installs the locked npm packages when needed, generates the GraphQL types
# from docs/schema.graphql, type-checks, bundles, and enforces the size
# budget.
set -euo pipefail
"$(dirname "$0")/npm.sh"
cd "$(dirname "$0")/../web"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
