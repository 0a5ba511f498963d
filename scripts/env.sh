# Shared settings of the project's scripts (sourced, not run).
# One build directory outside the clone, so a fresh clone (CI) reuses the
# compiled dependencies; RocksDB's C++ alone takes many minutes on 2 cores.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/percolate/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
