#!/usr/bin/env bash
# Installs the locked npm packages of the OpenID provider the single sign-on
# tests run (tests/oidc/provider.mjs, started by crates/testkit/src/oidc.rs).
# Idempotent: `npm ci` only runs when the packages are missing or
# package-lock.json changed since the last install (a stamp in node_modules).
set -euo pipefail
"$(dirname "$0")/npm.sh"
cd "$(dirname "$0")/../tests/oidc"
stamp=node_modules/.strata-lock.sha256
wanted="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -d node_modules/oidc-provider ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$wanted" >"$stamp"
  echo "oidc: installed the test OpenID provider's packages"
else
  echo "oidc: test OpenID provider's packages up to date"
fi
