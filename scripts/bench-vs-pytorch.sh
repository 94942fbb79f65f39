#!/usr/bin/env bash
# lstm-dist against PyTorch on one core, in the same run (issue 10): the charlm (V 96, E 64,
# 1 x 256, window 64, 32 slots) and large (V 96, E 128, 2 x 512, window 64, 64 slots) training
# steps of `lstm-bench model` beside the same steps in PyTorch (scripts/bench_pytorch.py: nn.LSTM
# on its fused CPU kernel, one thread, state detached per window, Adam). Both report the median
# of several timed windows in thread CPU time, in BENCH_ROUNDS (default 5) alternating rounds;
# each side's best round counts (a neighbour on a shared VM slows one round by 10% and more,
# and would otherwise land on one side only; every round's figures are printed too, so the spread
# shows). Run twice: with the environment as it is, then
# with OPENBLAS_CORETYPE=Prescott set on those commands only, which makes OpenBLAS run the SSE3
# kernels it falls back to on a CPU it does not know: lstm-dist's figure must not drop.
# Figures go to scripts/bench-results.json under "vs_pytorch", keyed by CPU model and flags.
# PyTorch is installed into .venv-bench on first use (BENCH_TORCH overrides the pip requirement);
# it is never part of the tests. BENCH_SECONDS (default 4): timed seconds per configuration;
# BENCH_CORE (default 0): the core both run on.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-bench
if ! "$venv/bin/python" -c "import torch, numpy" 2>/dev/null; then
    echo "Installing PyTorch into $venv (first use only)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "${BENCH_TORCH:-torch}" numpy
fi
scripts/build.sh lstm-bench >/dev/null
seconds=${BENCH_SECONDS:-4}
pin=()
command -v taskset >/dev/null && pin=(taskset -c "${BENCH_CORE:-0}")

compare() {  # LABEL ENV-ASSIGNMENT...: both benchmarks under that environment, then the comparison
    local label=$1
    shift
    local rounds=()
    for _ in $(seq "${BENCH_ROUNDS:-5}"); do
        rounds+=("$(env "$@" "${pin[@]}" .build/release/lstm-bench model --seconds "$seconds" --json)")
        rounds+=("$(env "$@" "${pin[@]}" "$venv/bin/python" scripts/bench_pytorch.py "$seconds" charlm large)")
    done
    "$venv/bin/python" - "$label" "${rounds[@]}" <<'PY'
import hashlib, json, sys
sys.path.insert(0, "scripts")
from bench_figures import compare_and_store
label, rounds = sys.argv[1], [json.loads(text) for text in sys.argv[2:]]


def best(runs):
    """The run with the highest peak, each case replaced by its best round; lstm-dist's fraction of the
    peak is taken against that highest peak (a round's own peak was measured as disturbed as the round)."""
    merged = dict(max(runs, key=lambda run: run.get("peak_gflops", 0)))
    for case in ("charlm", "large"):
        run = max(runs, key=lambda run: run[case]["tokens_per_s"])
        merged[case] = dict(run[case])
        if "fraction_of_peak" in run[case]:
            merged[case]["fraction_of_peak"] *= run["peak_gflops"] / merged["peak_gflops"]
    return merged


ours, theirs = best(rounds[0::2]), best(rounds[1::2])
print(f"\n{label}, best of {len(rounds) // 2} alternating rounds: {ours['cpu_model']}; lstm-dist kernels {ours['kernels']} (libxsmm {ours['libxsmm_target']}), "
      f"OpenBLAS {ours['openblas_core']}; PyTorch {theirs['torch']}, 1 thread")
print(f"  single-thread peak at 2048^3: {ours['peak_gflops']:.1f} GFLOP/s "
      f"(OpenBLAS {ours['openblas_gflops']:.1f}, lstm-dist's kernels {ours['libxsmm_gflops']:.1f})")
figures = {key: ours[key] for key in ("kernels", "libxsmm_target", "openblas_core", "openblas_coretype_set",
                                      "peak_gflops", "openblas_gflops", "libxsmm_gflops")}
figures.update(cpu_model=ours["cpu_model"], cpu_flags=ours["cpu_flags"], torch=theirs["torch"])
for case in ("charlm", "large"):
    a, b = ours[case], theirs[case]
    ratio = a["tokens_per_s"] / b["tokens_per_s"]
    print(f"  {case:6}  lstm-dist {a['tokens_per_s']:9,.0f} tokens/s ({a['fraction_of_peak']:.1%} of the peak; products "
          f"{a['products_share']:.1%}, gate passes {a['gates_share']:.1%})   PyTorch {b['tokens_per_s']:9,.0f} tokens/s"
          f"   ratio {ratio:.2f}x")
    def each(runs):
        return ", ".join(f"{run[case]['tokens_per_s']:,.0f}" for run in runs)
    print(f"          rounds: lstm-dist {each(rounds[0::2])}; PyTorch {each(rounds[1::2])}")
    figures[f"{case}_tokens_per_s"] = round(a["tokens_per_s"])
    figures[f"{case}_pytorch_tokens_per_s"] = round(b["tokens_per_s"])
    figures[f"{case}_ratio"] = round(ratio, 3)
    figures[f"{case}_fraction_of_peak"] = round(a["fraction_of_peak"], 3)
# Like with like only: the same CPU model and flags, and the same environment.
machine = f"{ours['cpu_model']} [flags {hashlib.sha1(ours['cpu_flags'].encode()).hexdigest()[:8]}]"
compare_and_store(["vs_pytorch", machine, label], figures)
PY
}

compare "as is"
compare "OPENBLAS_CORETYPE=Prescott" OPENBLAS_CORETYPE=Prescott
