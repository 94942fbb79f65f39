#!/usr/bin/env bash
# Data-parallel scaling of `lstm-dist train` on this machine (issue 4's figures):
#  1. the charlm configuration (vocabulary of data/text.txt, embedding 64, one LSTM of 256,
#     window 64, 32 slots per rank): tokens/s on 1 and 2 ranks, their ratio, and the share of
#     step time in the allreduce (waiting for the other rank included), medians over the run;
#  2. the seed post's workload (1000 sequences of 10 steps, one feature, hidden 64, binary
#     label, 10 epochs) under `mpirun -n 2`, wall time with start-up.
# Compares with the figures of the previous run in scripts/bench-results.json ("train").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
swift build -c release --product lstm-dist >/dev/null
bin=$PWD/.build/release/lstm-dist
python=${PYTHON:-.venv/bin/python}
steps=${BENCH_STEPS:-150}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" pack data/text.txt --length 64 --out "$work/text.h5" >/dev/null
charlm=(--embedding 64 --hidden 256 --window 64 --slots 32 --epochs 1000 --max-steps "$steps")
"$bin" train "$work/text.h5" "${charlm[@]}" --checkpoint-dir "$work/c1" --log "$work/one.jsonl" >/dev/null
mpirun -n 2 --bind-to core "$bin" train "$work/text.h5" "${charlm[@]}" --checkpoint-dir "$work/c2" --log "$work/two.jsonl" >/dev/null

"$python" - "$work/seed.jsonl" <<'PY'
import json, random, sys
random.seed(0)
with open(sys.argv[1], "w") as out:
    for _ in range(1000):
        x = [round(random.random(), 4) for _ in range(10)]
        out.write(json.dumps({"x": [[v] for v in x], "y": int(sum(x) > 5)}) + "\n")
PY
"$bin" pack "$work/seed.jsonl" --out "$work/seed.h5" >/dev/null
start=$(date +%s.%N)
mpirun -n 2 "$bin" train "$work/seed.h5" --hidden 64 --epochs 10 --checkpoint-dir "$work/c3" >/dev/null
end=$(date +%s.%N)

"$python" - "$work" "$start" "$end" <<'PY'
import json, statistics, sys
from pathlib import Path
work, start, end = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])

def medians(log):
    steps = [json.loads(line) for line in open(log) if '"event"' not in line][10:]  # skip warm-up
    return statistics.median(s["tokens_per_s"] for s in steps), statistics.median(s["allreduce_share"] for s in steps)

one, _ = medians(work / "one.jsonl")
two, share = medians(work / "two.jsonl")
now = {"charlm_tokens_per_s_1_rank": round(one), "charlm_tokens_per_s_2_ranks": round(two),
       "scaling_2_ranks": round(two / one, 3), "allreduce_share_2_ranks": round(share, 4),
       "seed_workload_seconds_2_ranks": round(end - start, 2)}
results_path = Path("scripts/bench-results.json")
results = json.loads(results_path.read_text()) if results_path.exists() else {}
before = results.get("train", {})
print(f"charlm, 32 slots per rank, window 64: 1 rank {one:,.0f} tok/s, 2 ranks {two:,.0f} tok/s")
print(f"scaling 2 ranks / 1 rank: {two / one:.3f}x (target >= 1.85)")
print(f"allreduce + waiting, 2 ranks: {100 * share:.1f}% of step time (target < 5%)")
print(f"seed post's workload (1000 x 10 steps, hidden 64, 10 epochs) under mpirun -n 2: {end - start:.2f} s wall (Keras, batch 1: 21 s)")
for key, value in now.items():
    if key in before:
        print(f"  {key}: previous {before[key]}, now {value} ({value / before[key]:.3f}x)")
results["train"] = now
results_path.write_text(json.dumps(results, indent=2) + "\n")
PY
