#!/usr/bin/env python3
"""How many nodes pay off: a scaling model of lstm-dist's data-parallel step (docs/scaling.md).

    step time = compute + exposed communication(ranks, bytes per bucket, link bandwidth, latency)
    run time  = steps x step time + start-up

compute is one rank's step on its own slots (measured). The gradient crosses the network in
buckets that follow the model's parameter layout, in the order backward completes them: the
head (H*K+K floats), each LSTM layer from the top (4H*(I+H)+4H floats), and last the first
layer with the embedding (E*V floats; with token input the first layer's kernel gradient is
only complete when the token table's backward ends). A ring allreduce of B bytes over p ranks
costs 2(p-1)/p * B / bandwidth + 2(p-1) * latency. Buckets go one after another on the link;
with overlap each starts when backward has finished it (and the link is free), without overlap
the whole gradient goes as one allreduce after backward. Exposed communication is what has
not finished when backward ends: with overlap at least the last bucket, which nothing hides.
`--exchange bf16` halves every bucket's bytes.

Constants come from scripts/bench-multihost.sh's figures (--results, default
scripts/bench-results.json, this machine's CPU) or from flags, which override them:

    scripts/scaling_model.py                              # this machine's measured constants
    scripts/scaling_model.py --compute large=0.25 --latency-us 30 --efficiency 0.9
    scripts/scaling_model.py --no-results --compute charlm=0.03 --compute large=0.3 --compute seed=0.001

It prints the constants, the check against the two-host measurements (predicted against
measured step time at every rate measured), and the projection to --ranks on --networks.
Standard library only.
"""
import argparse
import json
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_figures import RESULTS, cpu_identity  # noqa: E402

# The benchmark's configurations, and the seed post's workload (docs/SEED: 1000 sequences of 10
# steps, one feature, LSTM(64), one sigmoid output; lstm-dist's default 16 slots per rank).
# slots: per rank, as on each of the two hosts; vocabulary: data/text.txt's (the results file's
# when it has one).
MODELS = {
    "charlm": dict(vocabulary=53, embedding=64, features=None, hidden=256, layers=1, outputs=None, slots=16, window=64),
    "large": dict(vocabulary=53, embedding=128, features=None, hidden=512, layers=2, outputs=None, slots=32, window=64),
    "seed": dict(vocabulary=None, embedding=None, features=1, hidden=64, layers=1, outputs=1, slots=16, window=10),
}
# How many bytes GradientTrailer adds (loss, target count, votes): a few floats, sent first.
TRAILER_FLOATS = 8


def buckets(model):
    """[(name, floats, backward work)] in the order backward completes them. Backward work is in
    multiply-adds per timestep and slot (relative: it splits the measured backward time)."""
    m = dict(model)
    tokens = m["features"] is None
    width = m["embedding"] if tokens else m["features"]
    outputs = m["outputs"] or m["vocabulary"]
    H = m["hidden"]
    result = [("head", H * outputs + outputs, 2 * H * outputs)]
    for layer in reversed(range(m["layers"])):
        inputs = width if layer == 0 else H
        floats = 4 * H * (inputs + H) + 4 * H
        work = 2 * 4 * H * (inputs + H)
        if layer == 0 and tokens:
            floats += m["vocabulary"] * width
            name = "lstm_0+embedding"
        else:
            name = f"lstm_{layer}"
        result.append((name, floats, work))
    return result


def forward_work(model):
    """Multiply-adds per timestep and slot of the forward pass (half of backward's)."""
    return sum(work for _, _, work in buckets(model)) / 2


def allreduce_seconds(nbytes, ranks, bandwidth, latency, algorithm="ring"):
    """One allreduce of nbytes over ranks: ring, or the cheaper of ring and recursive doubling
    (log2 p rounds of the whole buffer: what MPI libraries pick for small buffers)."""
    if ranks < 2:
        return 0.0
    ring = 2 * (ranks - 1) / ranks * nbytes / bandwidth + 2 * (ranks - 1) * latency
    if algorithm == "ring":
        return ring
    rounds = math.ceil(math.log2(ranks))
    return min(ring, rounds * (nbytes / bandwidth + latency))


def exposed_seconds(model, compute, ranks, bandwidth, latency, overlap, exchange_bytes=4, algorithm="ring"):
    """The time a step waits for the exchange after its backward ended. compute is split into
    forward (a third, as the multiply-adds go) and backward, backward among the buckets by their
    work; the link carries one bucket at a time."""
    parts = buckets(model)
    total_work = forward_work(model) + sum(work for _, _, work in parts)
    forward = compute * forward_work(model) / total_work
    trailer = TRAILER_FLOATS * 4
    if not overlap:
        nbytes = trailer + exchange_bytes * sum(floats for _, floats, _ in parts)
        return allreduce_seconds(nbytes, ranks, bandwidth, latency, algorithm)
    now = forward
    link_free = forward + allreduce_seconds(trailer, ranks, bandwidth, latency, algorithm)
    for _, floats, work in parts:
        now += compute * work / total_work
        link_free = max(now, link_free) + allreduce_seconds(exchange_bytes * floats, ranks, bandwidth, latency, algorithm)
    return max(0.0, link_free - compute)


def rate_bits(rate):
    """tc's units (1gbit, 100mbit) in bits per second; None for none (the unshaped veth)."""
    for unit, scale in (("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1)):
        if rate.endswith(unit):
            return float(rate[: -len(unit)]) * scale
    return None


def fit_link(sweep):
    """Latency and bandwidth of one link from {bytes: seconds} of 2-rank allreduces: for 2 ranks
    the ring costs B / bandwidth + 2 latency. Latency: half the smallest buffer's time; bandwidth:
    least squares through the origin of (time - 2 latency) against bytes, over buffers of 1 MB and
    more (where bytes, not round trips, decide)."""
    points = sorted((int(size), seconds) for size, seconds in sweep.items())
    latency = points[0][1] / 2
    large = [(size, seconds - 2 * latency) for size, seconds in points if size >= 1 << 20]
    if not large:
        raise SystemExit("error: the sweep has no buffer of 1 MB or more to fit the bandwidth")
    slope = sum(size * seconds for size, seconds in large) / sum(size * size for size, _ in large)
    return latency, 1 / slope


def parse_pairs(values, what):
    result = {}
    for value in values or []:
        name, _, number = value.partition("=")
        try:
            result[name] = float(number)
        except ValueError:
            raise SystemExit(f"error: {what} wants NAME=NUMBER, not '{value}'")
        if name not in MODELS:
            raise SystemExit(f"error: {what}: no model '{name}' (charlm, large, seed)")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--results", default=str(RESULTS), help="bench-results.json of scripts/bench-multihost.sh")
    parser.add_argument("--machine", help="the results' CPU key (default this machine's: bench_figures.py cpu)")
    parser.add_argument("--no-results", action="store_true", help="read no results: every constant from flags")
    parser.add_argument("--compute", action="append", metavar="MODEL=SECONDS",
                        help="one rank's step on its per-rank slots (charlm 16, large 32, seed 16)")
    parser.add_argument("--latency-us", type=float, help="per-message latency of the projected networks (default: "
                        "half the smallest 2-rank allreduce measured on the fastest shaped link, else 25)")
    parser.add_argument("--efficiency", type=float, help="fraction of a link's nominal rate an allreduce reaches "
                        "(default: measured on the shaped links, else 0.9)")
    parser.add_argument("--startup", type=float, help="start-up seconds per run (default: measured, two hosts)")
    parser.add_argument("--ranks", default="8,64,256", help="rank counts of the projection (default 8,64,256)")
    parser.add_argument("--networks", default="10,25,100", help="link rates in Gbit/s (default 10,25,100)")
    parser.add_argument("--algorithm", choices=("ring", "best"), default="ring",
                        help="ring allreduce for every bucket (default), or the cheaper of ring and recursive doubling")
    parser.add_argument("--bf16-compute-speedup", type=float,
                        help="also project bf16 compute as fp32's compute divided by this (an assumption: "
                        "measure it where the CPU has AVX512_BF16)")
    parser.add_argument("--sweep", choices=("median", "fastest"), default="median",
                        help="fit each link to the sweep's median calls (default) or its fastest")
    parser.add_argument("--check-compute", choices=("pair", "alone"), default="pair",
                        help="the check's compute: one rank beside another on this machine (default), or alone")
    parser.add_argument("--tolerance", type=float, default=0.15, help="the check's target (default 0.15)")
    args = parser.parse_args()

    compute = {}
    record = {}
    if not args.no_results:
        path = Path(args.results)
        if not path.exists():
            raise SystemExit(f"error: no {path}: run scripts/bench-multihost.sh, or pass --no-results and the constants")
        machines = json.loads(path.read_text()).get("multihost_shaped", {})
        key = args.machine or cpu_identity()["key"]
        if key not in machines:
            raise SystemExit(f"error: {path} has no multihost_shaped figures for '{key}' (it has: "
                             f"{', '.join(machines) or 'none'}); run scripts/bench-multihost.sh here, or pass --machine")
        record = machines[key]
        print(f"constants measured on {record['cpu_model']} (family {record['cpu_family']}, model "
              f"{record['cpu_model_number']}) on {record['date']}, {record.get('version') or 'lstm-dist ' + record['commit']}")
        for name in MODELS:
            if record.get("vocabulary") and MODELS[name]["features"] is None:
                MODELS[name]["vocabulary"] = record["vocabulary"]
            step = record.get(f"{name}/fp32/one-rank-local/step_ms")
            if step:
                compute[name] = step / 1000
    compute.update(parse_pairs(args.compute, "--compute"))

    print("\nmodel      buckets in backward's order (floats)                          gradient   per-rank slots  compute/step")
    for name, model in MODELS.items():
        parts = buckets(model)
        total = sum(floats for _, floats, _ in parts)
        shown = ", ".join(f"{bucket} {floats:,}" for bucket, floats, _ in parts)
        c = f"{1000 * compute[name]:.1f} ms" if name in compute else "not measured (--compute)"
        print(f"{name:10} {shown:60} {4 * total / 1e6:6.2f} MB   {model['slots']:3} x {model['window']:3}      {c}")

    # Links measured: constants and the check.
    sweeps = record.get("allreduce_sweep" if args.sweep == "median" else "allreduce_sweep_fastest", {})
    links = {rate: fit_link(sweep) for rate, sweep in sweeps.items()}
    if links:
        print("\nlinks measured (2 ranks, two namespace hosts; allreduce = B / bandwidth + 2 latency):")
        for rate, (latency, bandwidth) in links.items():
            nominal = rate_bits(rate)
            eff = f", {8 * bandwidth / nominal:.0%} of nominal" if nominal else " (unshaped veth: CPU-bound)"
            points = ", ".join(f"{int(s) / 1e6:g} MB {1000 * t:.2f} ms" for s, t in sorted(
                sweeps[rate].items(), key=lambda item: int(item[0])))
            print(f"  {rate:>8}: latency {1e6 * latency:7.1f} us, bandwidth {8 * bandwidth / 1e9:6.3f} Gbit/s{eff}   [{points}]")

    shaped = {rate: fit for rate, fit in links.items() if rate_bits(rate)}
    efficiency = args.efficiency
    if efficiency is None:
        efficiency = (statistics.median(8 * bw / rate_bits(rate) for rate, (_, bw) in shaped.items()) if shaped else 0.9)
    latency = args.latency_us / 1e6 if args.latency_us is not None else (
        links[max(shaped, key=rate_bits)][0] if shaped else 25e-6)

    checks = []
    for case, value in record.items():
        parts = case.split("/")
        if len(parts) != 6 or parts[5] != "step_ms":
            continue
        name, _, exchange, overlap, rate, _ = parts
        if name not in compute or rate not in links:
            continue
        link_latency, bandwidth = links[rate]
        # The compute of this very case (its precision too): the pair of one-rank runs just before it.
        c = record.get(case.replace("step_ms", "compute_ms"), 0) / 1000
        if args.check_compute == "alone" or not c:
            if parts[1] != "fp32":
                continue
            c = compute[name]
        exposed = exposed_seconds(MODELS[name], c, 2, bandwidth, link_latency, overlap == "on",
                                  2 if exchange == "bf16" else 4, args.algorithm)
        predicted = c + exposed
        measured = value / 1000
        checks.append((case.rsplit("/", 1)[0], measured, record.get(case.replace("step_ms", "exposed_ms"), 0) / 1000,
                       predicted, exposed))
    if checks:
        source = ("two one-rank runs side by side just before it (the two hosts share this machine's cores)"
                  if args.check_compute == "pair"
                  else "one rank alone")
        print(f"\ncheck: two hosts, predicted step = compute measured with {source} + modelled exposed exchange "
              f"(target within {args.tolerance:.0%}); overlap 'none': a binary without overlap (one allreduce after backward)")
        print(f"  {'case (model/compute/exchange/overlap/rate)':42} {'measured':>9} {'(exposed)':>10} {'predicted':>10} "
              f"{'(exposed)':>10} {'error':>7} {'(exposed)':>10}")
        worst = 0.0
        for case, measured, measured_exposed, predicted, exposed in checks:
            error = predicted / measured - 1
            worst = max(worst, abs(error))
            exposed_error = f"{1000 * (exposed - measured_exposed):+8.1f}ms"
            print(f"  {case:42} {1000 * measured:7.1f}ms {1000 * measured_exposed:8.1f}ms {1000 * predicted:8.1f}ms "
                  f"{1000 * exposed:8.1f}ms {error:+7.1%} {exposed_error:>10}")
        print(f"  worst error {worst:.1%}: {'within' if worst <= args.tolerance else 'OUTSIDE'} the {args.tolerance:.0%} target")

    startup = args.startup
    if startup is None:
        values = [v for k, v in record.items() if k.endswith("/startup_s") and "one-rank" not in k]
        startup = statistics.median(values) if values else None
    print(f"\nprojection: ring allreduce{' (or recursive doubling when cheaper)' if args.algorithm == 'best' else ''}, "
          f"latency {1e6 * latency:.1f} us per message, {efficiency:.0%} of the nominal rate; per-rank slots as above "
          f"(weak scaling: global slots = ranks x per-rank slots); speed-up = ranks x compute / step")
    if startup is not None:
        print(f"run time = steps x step + start-up; start-up measured here with two hosts: {startup:.2f} s "
              f"(not projected: launching 256 ranks was not measured)")
    ranks = [int(r) for r in args.ranks.split(",")]
    networks = [float(n) for n in args.networks.split(",")]
    variants = [("no overlap, fp32", False, 4, 1.0), ("overlap, fp32", True, 4, 1.0), ("overlap, bf16 exchange", True, 2, 1.0)]
    if args.bf16_compute_speedup:
        variants.append((f"bf16 compute (assumed /{args.bf16_compute_speedup:g}), overlap, bf16 exchange", True, 2,
                         1 / args.bf16_compute_speedup))
    header = "  ".join(f"{p:>5} ranks: step  speed-up" for p in ranks)
    for name, model in MODELS.items():
        if name not in compute:
            print(f"\n{name}: no compute constant (run the benchmark, or --compute {name}=SECONDS)")
            continue
        print(f"\n{name} (compute {1000 * compute[name]:.1f} ms per step on {model['slots']} slots x {model['window']})")
        for label, overlap, exchange_bytes, scale in variants:
            print(f"  {label}")
            print(f"    {'':8}  {header}")
            for gbit in networks:
                bandwidth = gbit * 1e9 / 8 * efficiency
                cells = []
                for p in ranks:
                    c = compute[name] * scale
                    step = c + exposed_seconds(model, c, p, bandwidth, latency, overlap, exchange_bytes, args.algorithm)
                    cells.append(f"{1000 * step:8.1f} ms {p * compute[name] / step:7.1f}x")
                print(f"    {gbit:4g} GbE  " + "  ".join(f"{cell:>25}" for cell in cells))
    if not args.bf16_compute_speedup:
        print("\nbf16 compute is not in the table: it needs AVX512_BF16 to measure (--bf16-compute-speedup X projects it as an assumption)")


if __name__ == "__main__":
    main()
