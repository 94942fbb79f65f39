#!/usr/bin/env bash
# Model training throughput with both OpenBLAS kernel choices: the auto-detected one, then
# Haswell (AVX2), which is faster on Zen 4 (PLATFORM.md). OPENBLAS_CORETYPE is read when the
# library loads, so it is set on the command only, never exported (tests must not see it).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product lstm-bench
bench=.build/release/lstm-bench
"$bench" model "$@"
OPENBLAS_CORETYPE=Haswell "$bench" model "$@"
