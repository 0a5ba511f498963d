#!/usr/bin/env bash
# Tests the Python SDK: installs what is missing, checks that the generated
# modules match proto/, type-checks the package, and runs pytest against a
# real `percolate dev` ($PERCOLATE_BIN, by default
# ~/.cache/percolate/target/debug/percolate, which must be built first).
# Idempotent; exits non-zero on any failure. Arguments go to pytest.
set -euo pipefail

sdk="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
cd "$sdk"
scripts/install.sh
scripts/generate.sh --check
"$python" -m mypy
"$python" -m pytest "$@"
