#!/usr/bin/env bash
# Builds the web console into web/dist (served by `strata dev` at /):
# installs the locked npm packages when needed, generates the GraphQL types
# from docs/schema.graphql, type-checks, bundles, and enforces the size
# budget.
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null; then
  echo "installing Node.js and npm with apt" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || {
    echo "npm is missing: install Node.js 20 or later" >&2
    exit 1
  }
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
