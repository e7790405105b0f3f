#!/usr/bin/env bash
# Provides a real S3 server for the PFS-on-S3 tests: `s3s-fs` (crates.io),
# which serves S3 with SigV4 from a directory, so a test can kill it and
# start it again on the same data. Installs it into the cargo bin directory
# once (≈3 min of compiling on 2 cores), then prints the variable the tests
# read:
#
#   eval "$(scripts/s3.sh)"
#   cargo nextest run -p strata-cli --run-ignored only -E 'test(/^s3::/)'
set -euo pipefail

# 0.14.1: the newest release that builds with the toolchain pinned here.
VERSION=0.14.1
BIN="${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs"

if ! [ -x "$BIN" ] || ! "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
  echo "s3: installing s3s-fs $VERSION" >&2
  cargo install --quiet --locked "s3s-fs@$VERSION" --features binary >&2
fi
echo "export STRATA_TEST_S3S_FS=$BIN"
