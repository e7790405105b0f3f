#!/usr/bin/env bash
# Makes sure Node.js and npm are here (the console's build and the test
# OpenID provider need them), installing Debian's packages when missing.
set -euo pipefail
if ! command -v npm >/dev/null; then
  echo "installing Node.js and npm with apt" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || {
    echo "npm is missing: install Node.js 20 or later" >&2
    exit 1
  }
fi
