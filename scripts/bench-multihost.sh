#!/usr/bin/env bash
# Shaped-link multi-host benchmark (issue 28, part 4; a figure, not a timed test). Two ranks on
# two namespace hosts (scripts/two-hosts.sh) joined by a veth limited with `tc ... tbf` to each
# --rate, against one rank on its own, for charlm (embedding 64, 1 x 256, window 64, 32 global
# slots) and large (embedding 128, 2 x 512, window 64, 64 global slots), with fp32 and bf16
# compute (`train --precision`) and both `train --exchange` settings, overlap on and off
# (LSTM_DIST_OVERLAP=off, a switch for this comparison only). Per case it prints the step time,
# the exposed communication per step (the time a step waits for the exchange after its backward
# ended: `allreduce_share` of the log times the step), and two-host scaling (one rank's step over
# two hosts' step: the same 32 or 64 global slots, so the same work per step). It also sweeps
# allreduce time against bytes on each link (scripts/allreduce-sweep.c) and times one rank on
# the per-rank slots (16 or 32: the compute term of the two-host step), the constants of
# scripts/scaling_model.py, which then checks itself against the two-host step times.
#
#   scripts/bench-multihost.sh [--rate RATE]... [--rounds N] [--models charlm,large] [-- TRAIN ARGS...]
#
# --rate    tc's units (1gbit, 100mbit, ...) or none (the veth unshaped); repeat it or give a
#           comma list; default 1gbit
# --rounds  alternating rounds (default BENCH_ROUNDS or 2): every case runs once per round, the
#           order of the rates flipped every other round; each case keeps its best round (the
#           VMs are noisy: a neighbour slows single runs by 10% and more)
# --models  which of charlm and large (default both)
#
# LSTM_DIST_BIN         the binary (default .build/release/lstm-dist, which scripts/build.sh builds)
# BENCH_TEXT            text to pack and train on (default data/text.txt)
# BENCH_STEPS_CHARLM    steps per charlm run (default 40; the first BENCH_WARMUP_CHARLM=5 not counted)
# BENCH_STEPS_LARGE     steps per large run (default 8; the first BENCH_WARMUP_LARGE=2 not counted)
# BENCH_STEPS_SEED      steps of the seed workload's one-rank run (default 300; BENCH_WARMUP_SEED=20)
# BENCH_SWEEP_GAP_MS    idle ms before each call of the allreduce sweep (default 200; see below)
# BENCH_STORE=0         print only, leave scripts/bench-results.json alone
# Figures go to scripts/bench-results.json under "multihost_shaped", keyed by the CPU (model,
# family, model number, flags), with the ratio to the previous run printed. Needs root for the
# hosts; exits 77 with the reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() {
    echo "usage: $0 [--rate RATE|none]... [--rounds N] [--models charlm,large] [-- TRAIN ARGS...]" >&2
    exit 2
}
rates=()
rounds=${BENCH_ROUNDS:-2}
models=charlm,large
while [ $# -gt 0 ]; do
    case "$1" in
        --rate) [ $# -ge 2 ] || usage; IFS=, read -r -a more <<<"$2"; rates+=("${more[@]}"); shift 2 ;;
        --rounds) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
        --models) [ $# -ge 2 ] || usage; models=$2; shift 2 ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
[ ${#rates[@]} -gt 0 ] || rates=(1gbit)
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "error: --rounds wants a positive integer, not '$rounds'" >&2; exit 2; }
for rate in "${rates[@]}"; do
    [[ "$rate" =~ ^(none|[0-9]+(bit|kbit|mbit|gbit))$ ]] || { echo "error: --rate wants tc's units (1gbit, 100mbit) or none, not '$rate'" >&2; exit 2; }
done
IFS=, read -r -a model_list <<<"$models"
for model in "${model_list[@]}"; do
    case "$model" in charlm|large) ;; *) echo "error: --models takes charlm and large, not '$model'" >&2; exit 2 ;; esac
done

[ "$(id -u)" -eq 0 ] || { echo "bench-multihost: needs root for the namespace hosts (running as uid $(id -u))" >&2; exit 77; }
command -v tc >/dev/null || { echo "bench-multihost: no 'tc' (apt-get install iproute2)" >&2; exit 77; }
command -v mpicc >/dev/null || { echo "error: no mpicc for the allreduce sweep (apt-get install libopenmpi-dev)" >&2; exit 1; }
[ -n "${LSTM_DIST_BIN:-}" ] || scripts/build.sh >/dev/null
bin=$(realpath "${LSTM_DIST_BIN:-.build/release/lstm-dist}")
text=$(realpath "${BENCH_TEXT:-data/text.txt}")
[ -x "$bin" ] || { echo "error: no lstm-dist at $bin (scripts/build.sh, or set LSTM_DIST_BIN)" >&2; exit 1; }
[ -f "$text" ] || { echo "error: no text at $text (set BENCH_TEXT)" >&2; exit 1; }
python=${PYTHON:-$root/.venv/bin/python}
[ -x "$python" ] || python=python3

# shellcheck source=scripts/mpi-env.sh
source scripts/mpi-env.sh
work=$(mktemp -d /tmp/bench-multihost.XXXXXX)
trap 'rm -rf "$work"' EXIT
mpicc -O2 -o "$work/sweep" scripts/allreduce-sweep.c

# What this binary and this CPU can run; what they cannot is printed as skipped, with why.
help=$("$bin" train --help 2>&1)
precisions=(fp32) exchanges=(fp32) overlaps=(none)
skipped=()
if grep -q -- '--precision' <<<"$help"; then
    if grep -qw avx512_bf16 /proc/cpuinfo; then
        precisions+=(bf16)
    else
        skipped+=("bf16 compute: this CPU lacks AVX512_BF16 (no avx512_bf16 in /proc/cpuinfo)")
    fi
else
    skipped+=("bf16 compute: this lstm-dist has no train --precision")
fi
if grep -q -- '--exchange' <<<"$help"; then
    exchanges+=(bf16)
else
    skipped+=("--exchange bf16 (and the --exchange flag): this lstm-dist's train --help does not list --exchange")
fi
# The overlap switch is an environment variable, which --help does not list: look for its name
# in the binary.
if grep -qa LSTM_DIST_OVERLAP "$bin"; then
    overlaps=(on off)
else
    skipped+=("overlap on/off: this lstm-dist does not read LSTM_DIST_OVERLAP, so its exchange is one allreduce after backward (what 'off' means); rows say overlap n/a")
fi

# Rows as long as the window. --max-steps ends each run, whatever the steps per epoch.
"$bin" pack "$text" --format text --length 64 --out "$work/text.h5" >/dev/null
vocabulary=$("$bin" inspect "$work/text.h5" --json | "$python" -c 'import json, sys; print(json.load(sys.stdin)["vocab_size"])')

# The seed post's workload (1000 sequences of 10 steps, one feature, LSTM(64), binary label;
# scripts/bench-train.sh makes the same file): only one rank's step on 16 slots, the compute
# constant scripts/scaling_model.py projects it from.
"$python" "$root/scripts/bench_figures.py" seed "$work/seed.jsonl"
"$bin" pack "$work/seed.jsonl" --out "$work/seed.h5" >/dev/null

# Dataset and model flags; window 64 on the text (rows as long as the window), the row length 10
# on the seed's sequences.
model_args() {
    case "$1" in
        charlm) echo "$work/text.h5 --window 64 --embedding 64 --hidden 256 --layers 1" ;;
        large) echo "$work/text.h5 --window 64 --embedding 128 --hidden 512 --layers 2" ;;
        seed) echo "$work/seed.h5 --hidden 64 --layers 1" ;;
    esac
}
window_of() { case "$1" in seed) echo 10 ;; *) echo 64 ;; esac; }
global_slots() { case "$1" in charlm) echo 32 ;; large) echo 64 ;; seed) echo 32 ;; esac; }
steps_of() { case "$1" in charlm) echo "${BENCH_STEPS_CHARLM:-40}" ;; large) echo "${BENCH_STEPS_LARGE:-8}" ;; seed) echo "${BENCH_STEPS_SEED:-300}" ;; esac; }
warmup_of() { case "$1" in charlm) echo "${BENCH_WARMUP_CHARLM:-5}" ;; large) echo "${BENCH_WARMUP_LARGE:-2}" ;; seed) echo "${BENCH_WARMUP_SEED:-20}" ;; esac; }
for model in "${model_list[@]}"; do
    [ "$(steps_of "$model")" -gt "$(warmup_of "$model")" ] || { echo "error: $model: steps must exceed warm-up steps" >&2; exit 2; }
done

# One run, from $work so checkpoints land there. Appends "CASE STEP_S EXPOSED_S STARTUP_S" to
# $work/figures (and the round), start-up being the run's wall time less its steps (MPI and data start-up, the
# final checkpoint). Usage: run CASE MODEL SLOTS_PER_RANK RANKS ENV -- COMMAND...
run() {
    local case=$1 model=$2 slots=$3 ranks=$4 env=$5
    shift 6
    local out=$work/out log=$work/log.jsonl status=0 start end
    rm -rf "$log" "$work/checkpoints"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086  # $env is empty or one NAME=VALUE word
    (cd "$work" && env $env "$@" $(model_args "$model") --slots "$slots" \
        --epochs 1000 --max-steps "$(steps_of "$model")" --checkpoint-dir "$work/checkpoints" --log "$log" \
        "${train_args[@]}" >"$out" 2>&1) || status=$?
    end=$(date +%s.%N)
    if [ "$status" -ne 0 ]; then
        [ "$status" -eq 77 ] && { tail -n 1 "$out" >&2; exit 77; }
        echo "error: exit $status from the $case run: $*" >&2
        cat "$out" >&2
        exit 1
    fi
    read -r step exposed total < <("$python" "$root/scripts/bench_figures.py" steps "$log" \
        $((slots * ranks * $(window_of "$model"))) "$(warmup_of "$model")")
    echo "$case $step $exposed $("$python" -c "print(max(0.0, $end - $start - $total))") $round" >>"$work/figures"
    printf '  %-44s step %8.1f ms  exposed %7.1f ms\n' "$case" "$("$python" -c "print($step * 1000)")" \
        "$("$python" -c "print($exposed * 1000)")"
}
train_args=("$@")

# Two one-rank runs side by side, not talking: the compute of a two-host step, where the two
# hosts' ranks share this machine's two cores (and its memory, and whatever else runs on it).
# Appends "CASE STEP_S 0 0 ROUND", the mean of the two runs' medians. Run just before each
# two-host case, so that the compute it stands for met the same neighbours on this shared machine.
run_pair() {
    local case=$1 model=$2 slots=$3
    shift 4
    local copy pids=() figures=()
    for copy in a b; do
        mkdir -p "$work/pair-$copy"
        rm -rf "$work/pair-$copy/log.jsonl" "$work/pair-$copy/checkpoints"
        # shellcheck disable=SC2046
        (cd "$work/pair-$copy" && "$@" $(model_args "$model") --slots "$slots" --epochs 1000 \
            --max-steps "$(steps_of "$model")" --checkpoint-dir checkpoints --log log.jsonl "${train_args[@]}" \
            >out 2>&1) &
        pids+=($!)
    done
    for copy in a b; do
        if ! wait "${pids[0]}"; then
            echo "error: the $case run ($copy) failed: $*" >&2
            cat "$work/pair-$copy/out" >&2
            exit 1
        fi
        pids=("${pids[@]:1}")
        figures+=("$("$python" "$root/scripts/bench_figures.py" steps "$work/pair-$copy/log.jsonl" \
            $((slots * $(window_of "$model"))) "$(warmup_of "$model")")")
    done
    local step
    step=$("$python" -c "import sys; print(sum(float(f.split()[0]) for f in sys.argv[1:]) / 2)" "${figures[@]}")
    echo "$case $step 0 0 $round" >>"$work/figures"
    printf '  %-44s step %8.1f ms\n' "$case" "$("$python" -c "print($step * 1000)")"
}

# Idle time before each timed allreduce of the sweep, as a training step's compute leaves between
# exchanges: measured here, back-to-back calls over the shaped link ran 15 to 80% slower than
# with 300 ms between them (TCP's queue and window dynamics through tbf, both directions busy).
sweep_gap=${BENCH_SWEEP_GAP_MS:-200}
sweep_sizes() {
    # Allreduce sizes: powers of four from 4 KB to 16 MB, and every bucket of both models.
    echo 4096 65536 262144 1048576 4194304 16777216
}

: >"$work/figures"
echo "shaped-link benchmark: rates ${rates[*]}, models ${model_list[*]}, $rounds alternating round(s); $("$python" scripts/bench_figures.py cpu)"
for reason in "${skipped[@]}"; do echo "skipped: $reason"; done
for round in $(seq "$rounds"); do
    order=("${rates[@]}")
    if [ $((round % 2)) -eq 0 ]; then
        order=()
        for ((i = ${#rates[@]} - 1; i >= 0; i--)); do order+=("${rates[i]}"); done
    fi
    echo "round $round of $rounds: $(date -u +%H:%M:%S)"
    for model in "${model_list[@]}"; do
        slots=$(global_slots "$model")
        for precision in "${precisions[@]}"; do
            pflag=""
            [ "${precisions[*]}" = fp32 ] || pflag="--precision $precision"
            # shellcheck disable=SC2086
            run "$model/$precision/one-rank" "$model" "$slots" 1 "" -- "$bin" train $pflag
            # shellcheck disable=SC2086
            run "$model/$precision/one-rank-local" "$model" $((slots / 2)) 1 "" -- "$bin" train $pflag
            for rate in "${order[@]}"; do
                # shellcheck disable=SC2086
                run_pair "$model/$precision/pair/$rate" "$model" $((slots / 2)) -- "$bin" train $pflag
                for exchange in "${exchanges[@]}"; do
                    xflag=""
                    [ "${exchanges[*]}" = fp32 ] || xflag="--exchange $exchange"
                    for overlap in "${overlaps[@]}"; do
                        env=""
                        [ "$overlap" = off ] && env=LSTM_DIST_OVERLAP=off
                        # shellcheck disable=SC2086
                        run "$model/$precision/$exchange/$overlap/$rate" "$model" $((slots / 2)) 2 "$env" -- \
                            "$root/scripts/two-hosts.sh" --rate "$rate" -- "$bin" train $pflag $xflag
                    done
                done
            done
        done
    done
    run "seed/fp32/one-rank-local" seed 16 1 "" -- "$bin" train
    for rate in "${order[@]}"; do
        # shellcheck disable=SC2046
        scripts/two-hosts.sh --rate "$rate" -- env SWEEP_GAP_MS="$sweep_gap" "$work/sweep" $(sweep_sizes) 2>"$work/sweep.err" \
            | sed "s|^|sweep $rate |" >>"$work/figures" \
            || { echo "error: the allreduce sweep at $rate failed:" >&2; cat "$work/sweep.err" >&2; exit 1; }
    done
done

"$python" - "$work/figures" "$vocabulary" "${BENCH_STORE:-1}" "$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
    "$("$bin" --version 2>/dev/null | paste -sd' ')" "${skipped[@]}" <<'PY'
import datetime, json, sys
sys.path.insert(0, "scripts")
from bench_figures import compare_and_store, cpu_identity

figures_file, vocabulary, store, commit, version, *skipped = sys.argv[1:]
best = {}      # case -> (step, exposed, startup, round) of the round with the lowest step time
every = {}     # (case, round) -> (step, exposed, startup)
sweep = {}     # rate -> {bytes: best median seconds}
sweep_min = {} # rate -> {bytes: fastest single call}
for line in open(figures_file):
    words = line.split()
    if words[0] == "sweep":
        rate, size, median = words[1], int(words[2]), float(words[3])
        sweep.setdefault(rate, {})
        sweep[rate][size] = min(median, sweep[rate].get(size, float("inf")))
        sweep_min.setdefault(rate, {})
        sweep_min[rate][size] = min(float(words[4]), sweep_min[rate].get(size, float("inf")))
    else:
        case, values, round_ = words[0], list(map(float, words[1:4])), words[4]
        every[case, round_] = values
        if case not in best or values[0] < best[case][0]:
            best[case] = values + [round_]

cpu = cpu_identity()
print(f"\n{cpu['cpu_model']} (family {cpu['cpu_family']}, model {cpu['cpu_model_number']}); {version or 'lstm-dist ' + commit}; best of the rounds")
for reason in skipped:
    print(f"skipped: {reason}")
flat = {}
print(f"{'case (model/compute/exchange/overlap/rate)':46} {'step ms':>9} {'exposed ms':>11} {'exposed':>8} {'scaling':>8} "
      f"{'compute ms (two one-rank runs side by side, just before)'}")
for case, (step, exposed, startup, round_) in best.items():
    model, precision, *rest = case.split("/")
    if rest[0] == "pair":
        continue
    if rest[0].startswith("one-rank"):
        print(f"{case:46} {1000 * step:9.1f}")
        flat[f"{case}/step_ms"] = round(1000 * step, 2)
        flat[f"{case}/startup_s"] = round(startup, 2)
        continue
    one = best[f"{model}/{precision}/one-rank"][0]
    scaling = one / step
    # The compute of this step: the pair of one-rank runs just before it, in the same round.
    pair = every.get((f"{model}/{precision}/pair/{rest[-1]}", round_))
    compute = f"{1000 * pair[0]:9.1f}" if pair else ""
    print(f"{case:46} {1000 * step:9.1f} {1000 * exposed:11.1f} {exposed / step:8.1%} {scaling:7.3f}x {compute}")
    if pair:
        flat[f"{case}/compute_ms"] = round(1000 * pair[0], 2)
    flat[f"{case}/step_ms"] = round(1000 * step, 2)
    flat[f"{case}/exposed_ms"] = round(1000 * exposed, 2)
    flat[f"{case}/scaling"] = round(scaling, 3)
    flat[f"{case}/startup_s"] = round(startup, 2)

# Ratios side by side: overlap on over off, --exchange bf16 over fp32, per model, compute and rate.
ratios = []
for case, (step, exposed, _, _) in best.items():
    parts = case.split("/")
    if len(parts) == 5 and parts[3] == "on" and f"{'/'.join(parts[:3])}/off/{parts[4]}" in best:
        off = best[f"{'/'.join(parts[:3])}/off/{parts[4]}"]
        ratios.append(f"  {case}: exposed {exposed / off[1] if off[1] else float('nan'):.2f}x of overlap off, step {step / off[0]:.3f}x")
    if len(parts) == 5 and parts[2] == "bf16" and f"{parts[0]}/{parts[1]}/fp32/{parts[3]}/{parts[4]}" in best:
        fp32 = best[f"{parts[0]}/{parts[1]}/fp32/{parts[3]}/{parts[4]}"]
        ratios.append(f"  {case}: step {step / fp32[0]:.3f}x of --exchange fp32, exposed {exposed / fp32[1] if fp32[1] else float('nan'):.2f}x")
if ratios:
    print("ratios:")
    print("\n".join(ratios))

print("allreduce (in-place float sum, 2 ranks over the link), best median of the rounds:")
for rate, sizes in sweep.items():
    print(f"  {rate:>8}: " + ", ".join(f"{size / 1e6:g} MB {1000 * t:.2f} ms" for size, t in sorted(sizes.items())))

record = {"date": datetime.date.today().isoformat(), "commit": commit, "version": version,
          "cpu_model": cpu["cpu_model"], "cpu_family": cpu["cpu_family"], "cpu_model_number": cpu["cpu_model_number"],
          "cpu_flags": cpu["cpu_flags"], "vocabulary": int(vocabulary), "skipped": skipped,
          **flat, "allreduce_sweep": {rate: {str(size): t for size, t in sorted(sizes.items())} for rate, sizes in sweep.items()},
          "allreduce_sweep_fastest": {rate: {str(size): t for size, t in sorted(sizes.items())} for rate, sizes in sweep_min.items()}}
if store == "1":
    compare_and_store(["multihost_shaped", cpu["key"]], record, merge=True)
    print(f"stored under multihost_shaped / {cpu['key']} in scripts/bench-results.json; the scaling model: "
          f"scripts/scaling_model.py --results scripts/bench-results.json")
PY
