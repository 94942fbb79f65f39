#!/usr/bin/env bash
# Model training throughput with both OpenBLAS kernel choices: the auto-detected one, then
# Haswell (AVX2), which is faster on Zen 4 (docs/platform.md). OPENBLAS_CORETYPE is read when the
# library loads, so it is set on the command only, never exported (tests must not see it), and
# removed for the first run in case the calling shell has it.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product lstm-bench
bench=.build/release/lstm-bench
env -u OPENBLAS_CORETYPE "$bench" model "$@"
OPENBLAS_CORETYPE=Haswell "$bench" model "$@"
