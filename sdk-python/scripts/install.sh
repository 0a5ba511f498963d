#!/usr/bin/env bash
# Installs what the Python SDK's generator and tests need, each only when
# missing: the pinned packages of requirements-dev.txt, then the SDK itself
# from this checkout (editable). Idempotent: a second run installs nothing.
set -euo pipefail

sdk="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
log() { printf '[sdk-python] %s\n' "$*" >&2; }
pip_install() { "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$@"; }

# Pinned packages that are missing or at another version.
mapfile -t wanted < <("$python" - "$sdk/requirements-dev.txt" <<'PY'
import importlib.metadata as metadata
import sys

for line in open(sys.argv[1]):
    requirement = line.split("#")[0].strip()
    if not requirement:
        continue
    name, _, version = requirement.partition("==")
    try:
        if metadata.version(name) == version:
            continue
    except metadata.PackageNotFoundError:
        pass
    print(requirement)
PY
)
if [ ${#wanted[@]} -gt 0 ]; then
  log "installing ${wanted[*]}"
  pip_install "${wanted[@]}"
fi

# The SDK, editable, from this checkout (not another clone's).
here=$(realpath "$sdk/src/percolate/__init__.py")
found=$(cd / && "$python" -c 'import os, percolate; print(os.path.realpath(percolate.__file__))' 2>/dev/null || true)
if [ "$found" != "$here" ]; then
  log "installing the SDK from $sdk (editable)"
  pip_install -e "$sdk"
fi
