#!/usr/bin/env bash
# `lstm-dist generate` speed on one core: a character model of hidden size 256 (V 53, E 64,
# one layer, the charlm shape), weights from one training step (speed does not depend on them),
# 20,000 characters at temperature 1. Prints generate's own line (characters per wall-clock
# second) and characters per second of CPU time, which a busy shared machine disturbs less.
# Run from anywhere; builds the release binary first (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
bin=.build/release/lstm-dist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" pack data/text.txt --out "$work/text.h5" >/dev/null
"$bin" train "$work/text.h5" --hidden 256 --embedding 64 --slots 4 --max-steps 1 --checkpoint-dir "$work/ckpt" >/dev/null
TIMEFORMAT=%U
{ time "$bin" generate "$work/ckpt/ckpt-00000001.h5" --prime "Day 1. " --length 20000 \
    --seed 1 --out "$work/sample.txt" --force > "$work/line"; } 2> "$work/cpu"
cpu=$(tail -1 "$work/cpu")
echo "$(cat "$work/line"); $cpu s of CPU: $(python3 -c "print(round(20007 / $cpu))") characters per CPU second"
