#!/usr/bin/env bash
# Runs every test: the Swift unit tests (including real mpirun runs of the built binary with
# 2 and 4 ranks) and the Python checks that read our HDF5 files from the outside.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/mpi-env.sh

swift build
export LSTM_DIST_BIN="$PWD/.build/debug/lstm-dist" LSTM_DIST_PYTHON="$PWD/.venv/bin/python"
swift test
.venv/bin/python -m pytest -q Tests/python
