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
# bf16 rows (issue 27), in the first comparison only: lstm-dist `--precision bf16` against PyTorch
# under torch.autocast("cpu", dtype=torch.bfloat16) around forward and loss (fp32 master weights,
# Adam, one thread, the same sizes), in the same alternating rounds as the fp32 rows, with the
# fraction of the bf16 peak (the 2048^3 product through the bf16 kernels, when lstm-bench measures
# it). On a CPU without AVX512_BF16 they are skipped, with lstm-dist's own one-line reason.
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

compare() {  # LABEL PRECISIONS ENV-ASSIGNMENT...: both benchmarks under that environment, then the comparison
    local label=$1 precisions=$2 skipped=""
    shift 2
    if [[ " $precisions " == *" bf16 "* ]]; then
        # lstm-dist's own check (CPUID, the kernel path) decides, before measuring anything; its
        # Error: line is the reason.
        if ! skipped=$(env "$@" .build/release/lstm-bench model --precision bf16 --cases none --json 2>&1 >/dev/null); then
            skipped=${skipped#Error: }
            echo "bf16 rows skipped: $skipped"
            precisions=${precisions/bf16/}
        else
            skipped=""
        fi
    fi
    local rounds=()
    for _ in $(seq "${BENCH_ROUNDS:-5}"); do
        for precision in $precisions; do
            rounds+=("$(env "$@" "${pin[@]}" .build/release/lstm-bench model --seconds "$seconds" --precision "$precision" --json)")
            rounds+=("$(env "$@" "${pin[@]}" "$venv/bin/python" scripts/bench_pytorch.py "$seconds" --precision "$precision" charlm large)")
        done
    done
    BF16_SKIPPED=$skipped "$venv/bin/python" - "$label" "$(echo $precisions)" "${rounds[@]}" <<'PY'
import hashlib, json, os, sys
sys.path.insert(0, "scripts")
from bench_figures import compare_and_store
label, precisions = sys.argv[1], sys.argv[2].split()
runs = [json.loads(text) for text in sys.argv[3:]]
# Each round ran lstm-dist then PyTorch in each precision, in this order.
rounds = {precision: [run for index, run in enumerate(runs) if precisions[index // 2 % len(precisions)] == precision]
          for precision in precisions}
assert all(run["precision"] == precision for precision in precisions for run in rounds[precision]), "rounds out of order"


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


def each(runs, case):
    """Every round's tokens/s of one case, so the spread shows."""
    return ", ".join(f"{run[case]['tokens_per_s']:,.0f}" for run in runs)


fp32 = rounds["fp32"]
ours, theirs = best(fp32[0::2]), best(fp32[1::2])
print(f"\n{label}, best of {len(fp32) // 2} alternating rounds: {ours['cpu_model']}; lstm-dist kernels {ours['kernels']} (libxsmm {ours['libxsmm_target']}), "
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
    print(f"          rounds: lstm-dist {each(fp32[0::2], case)}; PyTorch {each(fp32[1::2], case)}")
    figures[f"{case}_tokens_per_s"] = round(a["tokens_per_s"])
    figures[f"{case}_pytorch_tokens_per_s"] = round(b["tokens_per_s"])
    figures[f"{case}_ratio"] = round(ratio, 3)
    figures[f"{case}_fraction_of_peak"] = round(a["fraction_of_peak"], 3)
if "bf16" in rounds:
    ours16, theirs16 = best(rounds["bf16"][0::2]), best(rounds["bf16"][1::2])
    peak = ours16["peak_precision"]  # "bf16": the 2048^3 product through the bf16 kernels ("fp32" from older lstm-bench)
    print(f"  bf16: lstm-dist --precision bf16 vs PyTorch autocast(bfloat16); {peak} peak at 2048^3: "
          f"{ours16['peak_gflops']:.1f} GFLOP/s (lstm-dist's kernels {ours16['libxsmm_gflops']:.1f})")
    figures.update(bf16_peak_precision=peak, bf16_peak_gflops=ours16["peak_gflops"])
    for case in ("charlm", "large"):
        a, b, a32 = ours16[case], theirs16[case], ours[case]
        ratio, speedup = a["tokens_per_s"] / b["tokens_per_s"], a["tokens_per_s"] / a32["tokens_per_s"]
        print(f"  {case:6}  lstm-dist {a['tokens_per_s']:9,.0f} tokens/s ({a['fraction_of_peak']:.1%} of the {peak} peak; products "
              f"{a['products_share']:.1%}, gate passes {a['gates_share']:.1%}; {speedup:.2f}x its fp32)   PyTorch autocast "
              f"{b['tokens_per_s']:9,.0f} tokens/s   ratio {ratio:.2f}x")
        print(f"          rounds: lstm-dist {each(rounds['bf16'][0::2], case)}; PyTorch {each(rounds['bf16'][1::2], case)}")
        figures[f"{case}_bf16_tokens_per_s"] = round(a["tokens_per_s"])
        figures[f"{case}_bf16_pytorch_tokens_per_s"] = round(b["tokens_per_s"])
        figures[f"{case}_bf16_ratio"] = round(ratio, 3)
        figures[f"{case}_bf16_vs_fp32"] = round(speedup, 3)
        figures[f"{case}_bf16_fraction_of_peak"] = round(a["fraction_of_peak"], 3)
elif os.environ.get("BF16_SKIPPED"):
    print(f"  bf16 rows skipped: {os.environ['BF16_SKIPPED']}")
    figures["bf16_skipped"] = os.environ["BF16_SKIPPED"]
# Like with like only: the same CPU model and flags, and the same environment.
machine = f"{ours['cpu_model']} [flags {hashlib.sha1(ours['cpu_flags'].encode()).hexdigest()[:8]}]"
compare_and_store(["vs_pytorch", machine, label], figures)
PY
}

compare "as is" "fp32 bf16"
compare "OPENBLAS_CORETYPE=Prescott" "fp32" OPENBLAS_CORETYPE=Prescott
