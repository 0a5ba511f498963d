#!/usr/bin/env bash
# Generates the SDK's protobuf and gRPC modules from the contracts in ../proto
# into src/percolate/v1/ (checked in): *_pb2.py and *_pb2_grpc.py by
# grpcio-tools, their *.pyi type stubs by mypy-protobuf.
#
# The proto package is `percolate.v1`, so grpcio-tools writes imports such as
# `from percolate.v1 import rem_pb2`; generating into src/ makes those resolve
# to this very package, with no rewriting.
#
#   scripts/generate.sh          regenerate src/percolate/v1/
#   scripts/generate.sh --check  regenerate into a temporary directory and fail
#                                with a diff when the checked-in modules differ
set -euo pipefail
export LC_ALL=C

sdk="$(cd "$(dirname "$0")/.." && pwd)"
protos="$sdk/../proto"
python="${PYTHON:-python3}"

# The output depends on the generators' versions: use the pinned ones.
for tool in grpcio-tools mypy-protobuf; do
  want=$(sed -n "s/^$tool==//p" "$sdk/requirements-dev.txt")
  have=$("$python" -c "import importlib.metadata as m; print(m.version('$tool'))" 2>/dev/null || echo none)
  if [ "$have" != "$want" ]; then
    echo "generate.sh: $tool $want is needed (found $have): run sdk-python/scripts/install.sh" >&2
    exit 1
  fi
done
scripts_dir=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')

generate() { # $1: a directory standing for src/
  local out=$1
  (cd "$protos" && "$python" -m grpc_tools.protoc -I . \
    --plugin=protoc-gen-mypy="$scripts_dir/protoc-gen-mypy" \
    --plugin=protoc-gen-mypy_grpc="$scripts_dir/protoc-gen-mypy_grpc" \
    --python_out="$out" --grpc_python_out="$out" \
    --mypy_out=quiet:"$out" --mypy_grpc_out=quiet:"$out" \
    percolate/v1/*.proto)
  cat >"$out/percolate/v1/__init__.py" <<'PY'
"""The generated protobuf and gRPC modules of `percolate.v1`.

Written by sdk-python/scripts/generate.sh from proto/percolate/v1: do not
edit. Most code never needs them: `percolate.Client` takes and returns plain
dataclasses.
"""
PY
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  if ! diff -ru -x __pycache__ "$tmp/percolate/v1" "$sdk/src/percolate/v1"; then
    echo "generate.sh --check: src/percolate/v1 is out of date with proto/: run sdk-python/scripts/generate.sh" >&2
    exit 1
  fi
  echo "generate.sh --check: src/percolate/v1 is up to date"
else
  rm -rf "$sdk/src/percolate/v1"
  mkdir -p "$sdk/src/percolate/v1"
  generate "$sdk/src"
  echo "generated $(find "$sdk/src/percolate/v1" -type f | wc -l) files in src/percolate/v1"
fi
