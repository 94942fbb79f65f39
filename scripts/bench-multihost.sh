#!/usr/bin/env bash
# Multi-host benchmark (issue 7; a figure, not a timed test): tokens/s of the charlm
# configuration with two ranks on two hosts over TCP (scripts/two-hosts.sh) against the same
# two ranks on one host over shared memory, and the share of step time spent in the allreduce
# (medians over the run), with the ratio to the previous run (scripts/bench-results.json).
#
#   scripts/bench-multihost.sh [EXTRA TRAIN ARGS...]
#
# LSTM_DIST_BIN   the binary (default .build/release/lstm-dist, which scripts/build.sh builds first)
# BENCH_TEXT      text to pack and train on (default data/text.txt)
# BENCH_STEPS     training steps per run (default 200)
# Needs root for the two hosts; exits 77 with the reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

[ -n "${LSTM_DIST_BIN:-}" ] || scripts/build.sh >/dev/null
bin=$(realpath "${LSTM_DIST_BIN:-.build/release/lstm-dist}")
text=$(realpath "${BENCH_TEXT:-data/text.txt}")
steps=${BENCH_STEPS:-200}
[ -x "$bin" ] || { echo "error: no lstm-dist at $bin (scripts/build.sh, or set LSTM_DIST_BIN)" >&2; exit 1; }
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

python=${PYTHON:-$root/.venv/bin/python}

# Runs from $work so that checkpoints land there; prints "TOKENS_PER_S ALLREDUCE_SHARE", the
# medians of the run's step log.
run() {
    local out=$work/out log=$work/log.jsonl status=0
    rm -f "$log"
    (cd "$work" && "$@" --log "$log" >"$out" 2>&1) || status=$?
    if [ "$status" -ne 0 ]; then
        [ "$status" -eq 77 ] && { tail -n 1 "$out" >&2; exit 77; }
        echo "error: exit $status from: $*" >&2
        cat "$out" >&2
        exit 1
    fi
    "$python" "$root/scripts/bench_figures.py" medians "$log"
}

# Unbound on one host too, so that only the transport differs between the two runs.
local_figures=$(run mpirun -n 2 --bind-to none "${train[@]}")
tcp_figures=$(run "$root/scripts/two-hosts.sh" --ranks-per-host 1 -- "${train[@]}")

"$python" - "$steps" $local_figures $tcp_figures <<'PY'
import sys
sys.path.insert(0, "scripts")
from bench_figures import compare_and_store
steps, local_tokens, local_share, tcp_tokens, tcp_share = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"charlm (embedding 64, hidden 256, 1 layer, window 64), 2 ranks x 16 slots, {steps} steps")
print(f"{'':28} {'tok/s':>10} {'allreduce':>10}")
print(f"{'one host, shared memory':28} {local_tokens:10.0f} {100 * local_share:9.1f}%")
print(f"{'two hosts, TCP over veth':28} {tcp_tokens:10.0f} {100 * tcp_share:9.1f}%")
print(f"two hosts / one host: {tcp_tokens / local_tokens:.3f}x")
compare_and_store(["multihost"], {"one_host_tokens_per_s": round(local_tokens), "one_host_allreduce_share": round(local_share, 4),
                                  "two_hosts_tokens_per_s": round(tcp_tokens), "two_hosts_allreduce_share": round(tcp_share, 4)})
PY
