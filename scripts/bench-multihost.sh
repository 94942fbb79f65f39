#!/usr/bin/env bash
# Multi-host benchmark (issue 7; a figure, not a timed test): tokens/s of the charlm
# configuration with two ranks on two hosts over TCP (scripts/two-hosts.sh) against the same
# two ranks on one host over shared memory, and the share of step time spent in the allreduce.
#
#   scripts/bench-multihost.sh [EXTRA TRAIN ARGS...]
#
# LSTM_DIST_BIN   the binary (default .build/release/lstm-dist; build with swift build -c release)
# BENCH_TEXT      text to pack and train on (default data/text.txt)
# BENCH_STEPS     training steps per run (default 200)
# Needs root for the two hosts; exits 77 with the reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bin=$(realpath "${LSTM_DIST_BIN:-.build/release/lstm-dist}")
text=$(realpath "${BENCH_TEXT:-data/text.txt}")
steps=${BENCH_STEPS:-200}
[ -x "$bin" ] || { echo "error: no lstm-dist at $bin (swift build -c release, or set LSTM_DIST_BIN)" >&2; exit 1; }
[ -f "$text" ] || { echo "error: no text at $text (set BENCH_TEXT)" >&2; exit 1; }

# shellcheck source=scripts/mpi-env.sh
source scripts/mpi-env.sh
work=$(mktemp -d /tmp/bench-multihost.XXXXXX)
trap 'rm -rf "$work"' EXIT

# charlm as lstm-bench defines it: embedding 64, hidden 256, one layer, window 64, 32 slots,
# here split as 16 slots on each of the two ranks. Rows as long as the window.
"$bin" pack "$text" --format text --length 64 --out "$work/text.h5" >/dev/null
# --max-steps ends each run, whatever the number of steps per epoch of this text.
train=("$bin" train "$work/text.h5" --slots 16 --window 64 --embedding 64 --hidden 256 --layers 1
    --epochs 1000 --max-steps "$steps" "$@")

# Runs from $work so that checkpoints land there; prints "TOKENS_PER_S ALLREDUCE_PERCENT" from
# the last progress line ("... 12345 tok/s  allreduce 3.2%  ETA 0:10").
run() {
    local out=$work/out status=0
    (cd "$work" && "$@" >"$out" 2>&1) || status=$?
    if [ "$status" -ne 0 ]; then
        [ "$status" -eq 77 ] && { tail -n 1 "$out" >&2; exit 77; }
        echo "error: exit $status from: $*" >&2
        cat "$out" >&2
        exit 1
    fi
    local figures
    figures=$(sed -n 's/.* \([0-9.]*\) tok\/s  allreduce \([0-9.]*\)%.*/\1 \2/p' "$out" | tail -n 1)
    [ -n "$figures" ] || { echo "error: no progress line from: $*" >&2; cat "$out" >&2; exit 1; }
    echo "$figures"
}

# Unbound on one host too, so that only the transport differs between the two runs.
local_figures=$(run mpirun -n 2 --bind-to none "${train[@]}")
tcp_figures=$(run "$root/scripts/two-hosts.sh" --ranks-per-host 1 -- "${train[@]}")
read -r local_tokens local_share <<<"$local_figures"
read -r tcp_tokens tcp_share <<<"$tcp_figures"

echo "charlm (embedding 64, hidden 256, 1 layer, window 64), 2 ranks x 16 slots, $steps steps"
printf '%-28s %10s %12s\n' "" "tok/s" "allreduce"
printf '%-28s %10s %11s%%\n' "one host, shared memory" "$local_tokens" "$local_share"
printf '%-28s %10s %11s%%\n' "two hosts, TCP over veth" "$tcp_tokens" "$tcp_share"
