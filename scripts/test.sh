#!/usr/bin/env bash
# Runs every test: the Swift unit tests, the built binary under real mpirun (2 and 4 ranks, and
# across two network-namespace hosts when root), and the Python checks that read our HDF5
# files from the outside, and (when root) the README's Slurm batch script under a real one-node
# Slurm (Tests/python/test_slurm.py). Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests   # what building needs, and what only the tests need
source scripts/mpi-env.sh

# The command-line tests run the release binary, as quickstart.sh builds it (the Swift runtime
# linked in; Tests/python/test_node_binary.py runs it with the toolchain hidden): training in a
# debug build is 10x slower.
scripts/build.sh
export LSTM_DIST_BIN="$PWD/.build/release/lstm-dist" LSTM_DIST_PYTHON="$PWD/.venv/bin/python"
swift test
.venv/bin/python -m pytest -q -rs Tests/python   # -rs: say why a test was skipped
