#!/usr/bin/env bash
# Data-parallel scaling of `lstm-dist train` on this machine (issue 4's figures):
#  1. the charlm configuration (vocabulary of data/text.txt, embedding 64, one LSTM of 256,
#     window 64, 32 slots per rank): tokens/s on 1 and 2 ranks, their ratio, the fraction of
#     this machine's single-thread sgemm peak (times the rank count) that whole training steps
#     reach, and the share of step time in the allreduce (waiting for the other rank
#     included), medians over each run, in BENCH_ROUNDS (default 3) alternating rounds of which
#     each side's best counts (a neighbour on a shared VM slows single runs by 10% and more);
#  2. the seed post's workload (1000 sequences of 10 steps, one feature, hidden 64, binary
#     label, 10 epochs) under `mpirun -n 2`, wall time with start-up.
# Compares with the figures of the previous run in scripts/bench-results.json ("train", per
# BLAS kernel choice: OPENBLAS_CORETYPE, or "auto").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
scripts/build.sh >/dev/null
scripts/build.sh lstm-bench >/dev/null
bin=$PWD/.build/release/lstm-dist
peak=$(.build/release/lstm-bench sgemm)
python=${PYTHON:-.venv/bin/python}
steps=${BENCH_STEPS:-150}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" pack data/text.txt --length 64 --out "$work/text.h5" >/dev/null
charlm=(--embedding 64 --hidden 256 --window 64 --slots 32 --epochs 1000 --max-steps "$steps")
for round in $(seq "${BENCH_ROUNDS:-3}"); do
    "$bin" train "$work/text.h5" "${charlm[@]}" --checkpoint-dir "$work/c1-$round" --log "$work/one-$round.jsonl" >/dev/null
    mpirun -n 2 --bind-to core "$bin" train "$work/text.h5" "${charlm[@]}" --checkpoint-dir "$work/c2-$round" \
        --log "$work/two-$round.jsonl" >/dev/null
done

"$python" scripts/bench_figures.py seed "$work/seed.jsonl"
"$bin" pack "$work/seed.jsonl" --out "$work/seed.h5" >/dev/null
start=$(date +%s.%N)
mpirun -n 2 "$bin" train "$work/seed.h5" --hidden 64 --epochs 10 --checkpoint-dir "$work/c3" >/dev/null
end=$(date +%s.%N)

vocabulary=$("$bin" inspect "$work/text.h5" --json | "$python" -c 'import json, sys; print(json.load(sys.stdin)["vocab_size"])')
"$python" - "$work" "$start" "$end" "$peak" "$vocabulary" "${OPENBLAS_CORETYPE:-auto}" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "scripts")
from bench_figures import compare_and_store, medians
work, start, end, peak, vocabulary, kernels = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
# Training FLOPs per token as issue 3 counts them: 3 x (2 (I + H) 4H + 2 H V).
flops_per_token = 3 * (2 * (64 + 256) * 4 * 256 + 2 * 256 * vocabulary)
one, _ = max(medians(log) for log in work.glob("one-*.jsonl"))
two, share = max(medians(log) for log in work.glob("two-*.jsonl"))
rounds = len(list(work.glob("one-*.jsonl")))
print(f"BLAS kernels: {kernels}; single-thread sgemm peak {peak:.1f} GFLOP/s; {flops_per_token / 1e6:.2f} MFLOP per token (V = {vocabulary})")
print(f"charlm, 32 slots per rank, window 64, best of {rounds} alternating rounds: 1 rank {one:,.0f} tok/s ({one * flops_per_token / (peak * 1e9):.1%} of 1 core's peak), "
      f"2 ranks {two:,.0f} tok/s ({two * flops_per_token / (2 * peak * 1e9):.1%} of 2 cores' peak)")
print(f"scaling 2 ranks / 1 rank: {two / one:.3f}x (target >= 1.9)")
print(f"allreduce + waiting, 2 ranks: {100 * share:.1f}% of step time (target < 5%)")
print(f"seed post's workload (1000 x 10 steps, hidden 64, 10 epochs) under mpirun -n 2: {end - start:.2f} s wall (Keras, batch 1: 21 s)")
# Figures are kept per BLAS kernel choice, so a run compares with the same kernels.
compare_and_store(["train", kernels], {
    "sgemm_gflops": peak, "charlm_tokens_per_s_1_rank": round(one), "charlm_tokens_per_s_2_ranks": round(two),
    "scaling_2_ranks": round(two / one, 3), "allreduce_share_2_ranks": round(share, 4),
    "seed_workload_seconds_2_ranks": round(end - start, 2)})
PY
