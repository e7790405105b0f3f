#!/usr/bin/env bash
# The console's browser walk (web/tests/browser/walk.mjs): Debian's Chromium
# (installed with apt when missing) drives the built console against a real
# `strata dev` on PostgreSQL, signing in through the test OpenID provider
# (installed by scripts/oidc.sh) and paying through the local Stripe double
# (crates/testkit). Expects the console built (scripts/web.sh)
# and the debug `strata` binary in $CARGO_TARGET_DIR (the test run builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
scripts/oidc.sh
[ -x "$CARGO_TARGET_DIR/debug/strata" ] || cargo build --locked --bin strata
# The local Stripe double the walk upgrades a plan through.
[ -x "$CARGO_TARGET_DIR/debug/stripe-double" ] || cargo build --locked -p strata-testkit --bin stripe-double
STRATA_BIN="$CARGO_TARGET_DIR/debug/strata" node web/tests/browser/walk.mjs
