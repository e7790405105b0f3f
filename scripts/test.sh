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
scripts/oidc.sh   # the OpenID provider that the single sign-on tests sign in through

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

# Tests ignored above because they need what not every machine has; each
# runs here where its precondition holds, and is named as skipped elsewhere.
step "tests that need root and setpriv"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  cargo nextest run --workspace --locked --profile ci --run-ignored only \
    -E 'binary_id(strata-sandbox::sandbox) and test(/^unprivileged::/)'
else
  echo "skipped: strata-sandbox unprivileged::* (needs root and setpriv; uid $(id -u))" >&2
fi

step "container runner (podman + runc, a registry on loopback)"
if [ "$(id -u)" = 0 ]; then
  eval "$(scripts/containers.sh)"
  cargo nextest run --workspace --locked --profile ci --run-ignored only \
    -E '(binary_id(strata-sandbox::sandbox) and test(/^(container|pod)::/)) or (binary_id(strata-e2e::e2e) and test(/^containers::/))'
else
  echo "skipped: strata-sandbox container::* and pod::*, strata-e2e containers::* (the container runner maps user namespaces as root; uid $(id -u))" >&2
fi

step "PFS on S3 (a real S3 server on loopback, killed and restarted mid-upload)"
eval "$(scripts/s3.sh)"
cargo nextest run --workspace --locked --profile ci --run-ignored only -E 'binary_id(strata-cli::cli) and test(/^s3::/)'

step "infrastructure as code: terraform fmt and checkov (hcl-rs tests ran above)"
scripts/iac.sh

step "browser walk (Chromium)"
scripts/browser.sh

step "the Strata image (static release build, size budget, strata dev inside it)"
if [ "$(id -u)" = 0 ]; then
  scripts/image.sh
else
  echo "skipped: scripts/image.sh (podman here runs as root; uid $(id -u))" >&2
fi
