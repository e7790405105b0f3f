#!/usr/bin/env bash
# Makes sure the container runner's parts are here and configured: podman
# with runc, a project-owned containers.conf, the statically linked sandbox
# helper, a local registry on loopback and the test image in it.
# Idempotent; quick when all is in place.
#
# Prints, on stdout, the environment the container tests read:
#   eval "$(scripts/containers.sh)"
#
# Facts of the machines this runs on (docs/pps.md, "Containers"): crun
# fails on hybrid cgroups, so the runtime is runc; the sandbox lacks
# CAP_SYS_RESOURCE, so containers.conf sets no default rlimits and no
# default pids limit (a pipeline's limits are set per container).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'containers: %s\n' "$*" >&2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
STATE="${STRATA_CONTAINERS_DIR:-$HOME/.cache/strata/containers}"
REGISTRY_PORT="${STRATA_TEST_REGISTRY_PORT:-5055}"
REGISTRY="127.0.0.1:$REGISTRY_PORT"
IMAGE_TAG="$REGISTRY/strata-test/busybox:1"
# A second registry that wants a password (htpasswd), for image_pull_secrets.
PRIVATE_PORT="${STRATA_TEST_PRIVATE_REGISTRY_PORT:-5056}"
PRIVATE="127.0.0.1:$PRIVATE_PORT"
PRIVATE_IMAGE="$PRIVATE/strata-test/private:1"
PRIVATE_USER="strata-ci"
mkdir -p "$STATE"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v skopeo >/dev/null || missing+=(skopeo)
  [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || missing+=(busybox-static)
  command -v htpasswd >/dev/null || missing+=(apache2-utils)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

write_conf() {
  cat >"$STATE/containers.conf" <<'EOF'
# Written by scripts/containers.sh for Strata's container runner.
[containers]
default_ulimits = []
pids_limit = 0

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
}

build_helper() {
  # Static glibc: the helper runs in any image, with or without a C library.
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked -q -p strata-sandbox \
    --bin strata-sandbox-helper --target x86_64-unknown-linux-gnu
  HELPER="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/debug/strata-sandbox-helper"
}

registry_up() { curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; }

start_registry() {
  registry_up && return 0
  mkdir -p "$STATE/registry"
  cat >"$STATE/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry
http:
  addr: $REGISTRY
EOF
  log "starting a registry on $REGISTRY"
  serve_registry registry registry_up
}

# Starts the registry of "$STATE/$1.yml" and waits until check $2 passes.
serve_registry() {
  nohup docker-registry serve "$STATE/$1.yml" >"$STATE/$1.log" 2>&1 &
  for _ in $(seq 1 100); do
    "$2" && return 0
    sleep 0.1 # poll interval of a wait for the registry to answer, 10 s at most
  done
  log "the registry on $STATE/$1.yml did not answer within 10 s; see $STATE/$1.log"
  return 1
}

private_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$PRIVATE/v2/")" = 401 ]; }

# The password is made once per machine and kept beside the registry.
start_private_registry() {
  local password_file="$STATE/private-registry.password"
  if [ ! -s "$password_file" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$password_file")
  fi
  PRIVATE_PASSWORD=$(cat "$password_file")
  private_up && return 0
  mkdir -p "$STATE/private-registry"
  htpasswd -Bbc "$STATE/private-registry.htpasswd" "$PRIVATE_USER" "$PRIVATE_PASSWORD" 2>/dev/null
  cat >"$STATE/private-registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/private-registry
http:
  addr: $PRIVATE
auth:
  htpasswd:
    realm: strata-test
    path: $STATE/private-registry.htpasswd
EOF
  log "starting a registry that wants a password on $PRIVATE"
  serve_registry private-registry private_up
}

push_private_image() {
  local creds="$PRIVATE_USER:$PRIVATE_PASSWORD"
  if skopeo inspect --tls-verify=false --creds "$creds" "docker://$PRIVATE_IMAGE" >/dev/null 2>&1; then return 0; fi
  log "copying the test image to $PRIVATE_IMAGE"
  skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --dest-creds "$creds" \
    "docker://$IMAGE_TAG" "docker://$PRIVATE_IMAGE" >/dev/null
}

# busybox-static and its applets, as an image: no pull from the internet.
push_test_image() {
  if skopeo inspect --tls-verify=false "docker://$IMAGE_TAG" >/dev/null 2>&1; then return 0; fi
  log "building $IMAGE_TAG from busybox-static"
  local root
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/usr/bin"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nuser:x:1000:\n' >"$root/etc/group"
  tar -C "$root" -cf "$STATE/busybox.tar" .
  rm -rf "$root"
  podman import -q --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' "$STATE/busybox.tar" "$IMAGE_TAG" >/dev/null
  podman push -q --tls-verify=false "$IMAGE_TAG" >/dev/null
}

# An interpreter image for Pachyderm's OpenCV example (tests/fixtures/opencv):
# python3 with OpenCV and matplotlib, ImageMagick for the montage, and the
# example's /edges.py, from Debian packages by mmdebstrap. Pushed under the
# names the example's specs use, in the local registry; rebuilt only when
# its recipe (the package list and edges.py) changes.
OPENCV_PACKAGES="python3-opencv,python3-matplotlib,python3-numpy,imagemagick"
OPENCV_IMAGE="$REGISTRY/pachyderm/opencv:1.0"
IMAGEMAGICK_IMAGE="$REGISTRY/dpokidov/imagemagick:7.1.0-23"

push_opencv_image() {
  local recipe label
  recipe=$( (echo "$OPENCV_PACKAGES"; cat tests/fixtures/opencv/edges.py) | sha256sum | cut -c1-16)
  label=$(skopeo inspect --tls-verify=false --format '{{index .Labels "dev.strata.recipe"}}' \
    "docker://$OPENCV_IMAGE" 2>/dev/null || true)
  if [ "$label" != "$recipe" ]; then
    command -v mmdebstrap >/dev/null || { as_root apt-get update -qq; as_root apt-get install -y -qq mmdebstrap >/dev/null; }
    log "building $OPENCV_IMAGE from Debian packages (once; about two minutes)"
    local rootfs="$STATE/opencv-rootfs.tar"
    mmdebstrap --quiet --variant=essential --aptopt='Apt::Install-Recommends "false"' \
      --include="$OPENCV_PACKAGES" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook='copy-in tests/fixtures/opencv/edges.py /' \
      bookworm "$rootfs" >&2
    podman import -q --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "LABEL dev.strata.recipe=$recipe" "$rootfs" "$OPENCV_IMAGE" >/dev/null
    rm -f "$rootfs"
    podman push -q --tls-verify=false "$OPENCV_IMAGE" >/dev/null
    podman tag "$OPENCV_IMAGE" "$IMAGEMAGICK_IMAGE"
    podman push -q --tls-verify=false "$IMAGEMAGICK_IMAGE" >/dev/null
  fi
}

install_missing
write_conf
export CONTAINERS_CONF="$STATE/containers.conf"
build_helper
start_registry
push_test_image
start_private_registry
push_private_image
push_opencv_image
DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$IMAGE_TAG")
echo "export STRATA_TEST_CONTAINERS_CONF='$STATE/containers.conf'"
echo "export STRATA_TEST_HELPER_STATIC='$HELPER'"
echo "export STRATA_TEST_IMAGE='$REGISTRY/strata-test/busybox@$DIGEST'"
echo "export STRATA_TEST_PRIVATE_IMAGE='$PRIVATE_IMAGE'"
echo "export STRATA_TEST_PRIVATE_USER='$PRIVATE_USER'"
echo "export STRATA_TEST_PRIVATE_PASSWORD='$PRIVATE_PASSWORD'"
echo "export STRATA_TEST_OPENCV_REGISTRY='$REGISTRY'"
