#!/usr/bin/env bash
# Model training throughput (lstm-bench model: charlm and large on one core, against the
# single-thread peak measured in the same run) on each libxsmm kernel path this CPU has: the
# default (AVX-512 where available), then AVX2. Arguments go to `lstm-bench model`.
# scripts/bench-vs-pytorch.sh compares the same steps with PyTorch and keeps the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh lstm-bench
bench=.build/release/lstm-bench
"$bench" model "$@"
LSTM_DIST_KERNELS=avx2 "$bench" model "$@"
