#!/usr/bin/env bash
# Builds the Strata image (infra/image/Containerfile) with podman, checks its
# size budget, and smoke-tests it: `strata dev` inside the image answers
# /readyz, and a file put through the CLI comes back byte for byte.
#
#   scripts/image.sh                 # build, check, smoke-test; tag strata:dev
#   STRATA_IMAGE_TAG=strata:1.2.3 scripts/image.sh
#
# The binary is a release build with static glibc (it runs in images without
# a C library, as the worker pods' helper must). No base image is pulled:
# the image is FROM scratch plus what this script puts in its context.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'image: %s\n' "$*" >&2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
TAG="${STRATA_IMAGE_TAG:-localhost/strata:dev}"
# The budget the issue set: the image as stored, uncompressed.
BUDGET_MIB="${STRATA_IMAGE_BUDGET_MIB:-80}"
TARGET=x86_64-unknown-linux-gnu

# podman with runc and the project's containers.conf.
eval "$(scripts/containers.sh)"
export CONTAINERS_CONF="$STRATA_TEST_CONTAINERS_CONF"

build_binary() {
  log "building the static release binary (long the first time)"
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -q -p strata-cli --bin strata \
    --target "$TARGET"
  BINARY="$CARGO_TARGET_DIR/$TARGET/release/strata"
  if readelf -l "$BINARY" | grep -q 'Requesting program interpreter'; then
    log "$BINARY is dynamically linked"; exit 1
  fi
}

CONTEXT=""
SMOKE=""
cleanup() {
  if [ -n "$SMOKE" ]; then podman rm -f --time=0 "$SMOKE" >/dev/null 2>&1 || true; fi
  if [ -n "$CONTEXT" ]; then rm -rf "$CONTEXT"; fi
}
trap cleanup EXIT

assemble_context() {
  CONTEXT=$(mktemp -d)
  local root="$CONTEXT/rootfs"
  mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/usr/local/share/strata"
  chmod 1777 "$root/tmp"
  # Symbols and line tables stay in the build (for backtraces there); the
  # image carries the stripped binary: 63 MiB instead of 358.
  strip -o "$root/usr/local/bin/strata" "$BINARY"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nstrata:x:65532:65532:strata:/tmp:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nstrata:x:65532:\n' >"$root/etc/group"
  # Static glibc resolves names with its built-in files and dns modules.
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  scripts/web.sh >&2
  cp -r web/dist "$root/usr/local/share/strata/web"
  cp infra/image/Containerfile "$CONTEXT/"
}

check_budget() {
  local bytes
  bytes=$(podman image inspect --format '{{.Size}}' "$TAG")
  SIZE_MIB=$(( (bytes + 1048575) / 1048576 ))
  log "$TAG is $SIZE_MIB MiB (budget $BUDGET_MIB MiB)"
  if [ "$SIZE_MIB" -gt "$BUDGET_MIB" ]; then
    log "over budget"; exit 1
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

smoke_test() {
  local port base
  port=$(free_port)
  SMOKE="strata-image-smoke-$$"
  base="http://127.0.0.1:$port"
  podman run -d --rm --name "$SMOKE" --network=host --read-only \
    --mount=type=tmpfs,destination=/tmp,tmpfs-mode=1777 \
    "$TAG" dev --listen "127.0.0.1:$port" --data-dir /tmp/strata >/dev/null
  for _ in $(seq 1 150); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    # Poll interval of a wait for the server to listen, not synchronisation.
    sleep 0.2
  done
  curl -fsS "$base/readyz" >/dev/null || { podman logs "$SMOKE" >&2 || true; log "readyz never answered"; exit 1; }
  local in_image=(podman exec -i "$SMOKE" strata)
  "${in_image[@]}" repo create smoke >/dev/null
  printf 'hello from the image\n' | "${in_image[@]}" put file smoke@master:/hello.txt -f - >/dev/null
  local back
  back=$("${in_image[@]}" get file smoke@master:/hello.txt)
  if [ "$back" != "hello from the image" ]; then
    log "put/get through the image returned: $back"; exit 1
  fi
  # A name, not an address: the static binary resolves through /etc/hosts.
  "${in_image[@]}" --endpoint "http://localhost:$port" status >/dev/null \
    || { log "the binary in the image cannot resolve localhost"; exit 1; }
  log "smoke test passed: /readyz, repo create, put file, get file, a name resolved"
}

build_binary
assemble_context
log "building $TAG"
podman build -q --tag "$TAG" --file "$CONTEXT/Containerfile" "$CONTEXT" >/dev/null
check_budget
smoke_test
echo "image=$TAG size_mib=$SIZE_MIB"
