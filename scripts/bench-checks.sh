#!/usr/bin/env bash
# What value validation and checksums cost (issue 11): pack's MB/s and train's tokens/s of this
# build against BASELINE, a release build of a commit without them, in one run, the two binaries
# alternating, medians of 3 runs each. pack: a generated 8-feature CSV (as bench-pack.sh); train:
# the charlm configuration of bench-train.sh (tokens, hidden 256, window 64, 32 slots), one rank,
# the median tokens/s of the steps after the first 5.
#
# Usage: scripts/bench-checks.sh BASELINE [SIZE_MB]   (SIZE_MB default 128)
# A baseline: git worktree add /tmp/base COMMIT && (cd /tmp/base && swift build -c release --product lstm-dist)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
baseline=${1:?usage: scripts/bench-checks.sh BASELINE_BINARY [SIZE_MB]}
size_mb=${2:-128}
python=${PYTHON:-.venv/bin/python}
scripts/build.sh >/dev/null
checked=$PWD/.build/release/lstm-dist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" scripts/numeric_csv.py "$work/input.csv" "$size_mb"
input_mb=$(( $(stat -c %s "$work/input.csv") / 1000000 ))

for round in 1 2 3; do
    for name in baseline checked; do
        binary=${!name}
        start=$(date +%s.%N)
        "$binary" pack "$work/input.csv" --id id --label label --out "$work/$name.h5" --force >/dev/null
        end=$(date +%s.%N)
        echo "$name pack $(echo "$input_mb / ($end - $start)" | bc -l)" >> "$work/figures"

        "$binary" pack data/text.txt --length 64 --out "$work/text-$name.h5" --force >/dev/null
        rm -rf "$work/ckpt-$name" "$work/log-$name.jsonl"
        "$binary" train "$work/text-$name.h5" --embedding 64 --hidden 256 --window 64 --slots 32 --epochs 1000 --max-steps 40 \
            --checkpoint-dir "$work/ckpt-$name" --log "$work/log-$name.jsonl" >/dev/null
        "$python" - "$work/log-$name.jsonl" "$name" >> "$work/figures" <<'PY'
import json, statistics, sys
steps = [json.loads(line) for line in open(sys.argv[1]) if '"event"' not in line]
print(sys.argv[2], "train", statistics.median(s["tokens_per_s"] for s in steps[5:]))
PY
    done
done

"$python" - "$work/figures" "$input_mb" <<'PY'
import statistics, sys
figures = {}
for line in open(sys.argv[1]):
    name, what, value = line.split()
    figures.setdefault((name, what), []).append(float(value))
print(f"input: {sys.argv[2]} MB of CSV; medians of 3 runs each, alternating")
for what, unit in (("pack", "MB/s"), ("train", "tokens/s")):
    base, ours = statistics.median(figures[("baseline", what)]), statistics.median(figures[("checked", what)])
    print(f"{what}: baseline {base:.1f} {unit}, with checks {ours:.1f} {unit} ({ours / base:.3f}x)")
PY
