"""Shared by the benchmark scripts: reads `lstm-dist train --log` files, and keeps each
benchmark's figures in scripts/bench-results.json so that every run prints its ratio to the
previous one.

    python scripts/bench_figures.py medians LOG        -> "TOKENS_PER_S ALLREDUCE_SHARE"
    python scripts/bench_figures.py steps LOG TOKENS_PER_STEP [WARMUP]
                                                       -> "STEP_S EXPOSED_S STEPS_TOTAL_S"
    python scripts/bench_figures.py cpu                -> this machine's key for the results file
"""
import hashlib
import json
import random
import re
import statistics
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "bench-results.json"


def medians(log, warmup=10):
    """Median tokens/s and allreduce share over a run's steps, the first `warmup` skipped."""
    steps = [json.loads(line) for line in open(log) if '"event"' not in line][warmup:]
    return statistics.median(s["tokens_per_s"] for s in steps), statistics.median(s["allreduce_share"] for s in steps)


def compare_and_store(path, now, merge=False):
    """Prints each figure against the previous run's under the key path (a list), then stores. With
    `merge`, keeps the previous figures that this run did not measure (a run of one --rate must not
    drop the others'); dictionaries one level down merge too."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    node = results
    for key in path[:-1]:
        node = node.setdefault(key, {})
    before = node.get(path[-1], {})
    for key, value in now.items():
        if isinstance(value, (int, float)) and isinstance(before.get(key), (int, float)) and before[key]:
            print(f"  {key}: previous {before[key]}, now {value} ({value / before[key]:.3f}x)")
    if merge:
        now = {**before, **{key: {**before[key], **value} if isinstance(value, dict) and isinstance(before.get(key), dict)
                            else value for key, value in now.items()}}
    node[path[-1]] = now
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def exposed_seconds(step, step_seconds):
    """The time a step waited for the gradient exchange: a millisecond field of the log when
    there is one (the overlapped exchange may add one, e.g. `exposed_ms`), else `allreduce_share`
    (the exposed share since the exchange overlaps backward; before that, the whole allreduce)
    times the step's time."""
    for key, value in step.items():
        if key.endswith("_ms") and re.search("exposed|exchange|allreduce|wait", key) and isinstance(value, (int, float)):
            return value / 1000
    return step["allreduce_share"] * step_seconds


def step_medians(log, tokens_per_step, warmup):
    """Median step time and median exposed communication (seconds) over a run's steps, the first
    `warmup` skipped, and the sum of all its step times (to tell start-up from steps). A step's time
    is its `step_ms` when the log has it, else the global slot-timesteps per step over its
    tokens_per_s (what the trainer divides by)."""
    every = [json.loads(line) for line in open(log) if '"event"' not in line]
    if len(every) <= warmup:
        raise SystemExit(f"error: {log} has {len(every)} steps, not more than the {warmup} warm-up steps")
    def seconds(step):
        return step["step_ms"] / 1000 if "step_ms" in step else tokens_per_step / step["tokens_per_s"]
    steps = every[warmup:]
    return (statistics.median(seconds(s) for s in steps), statistics.median(exposed_seconds(s, seconds(s)) for s in steps),
            sum(seconds(s) for s in every))


def cpu_identity():
    """What this machine's figures are keyed by, as the other benchmarks do: the CPU's model name,
    family and model numbers, and a hash of its flags (like with like only: our VMs differ)."""
    fields = {}
    for line in open("/proc/cpuinfo"):
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "cpu family", "model", "flags") and key not in fields:
            fields[key] = value.strip()
        if len(fields) == 4:
            break
    flags = fields.get("flags", "")
    identity = {"cpu_model": fields.get("model name", "unknown"), "cpu_family": fields.get("cpu family", "?"),
                "cpu_model_number": fields.get("model", "?"), "cpu_flags": flags,
                "avx512_bf16": "avx512_bf16" in flags.split()}
    identity["key"] = (f"{identity['cpu_model']} family {identity['cpu_family']} model {identity['cpu_model_number']} "
                       f"[flags {hashlib.sha1(flags.encode()).hexdigest()[:8]}]")
    return identity


if __name__ == "__main__" and sys.argv[1:2] == ["medians"]:
    print(*medians(sys.argv[2]))
if __name__ == "__main__" and sys.argv[1:2] == ["steps"]:
    print(*step_medians(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 2))
def write_seed_workload(path):
    """The seed post's workload as JSON Lines: 1000 sequences of 10 steps of one feature, label 1 where
    their sum passes 5 (bench-train.sh and bench-multihost.sh pack the same file)."""
    random.seed(0)
    with open(path, "w") as out:
        for _ in range(1000):
            x = [round(random.random(), 4) for _ in range(10)]
            out.write(json.dumps({"x": [[v] for v in x], "y": int(sum(x) > 5)}) + "\n")


if __name__ == "__main__" and sys.argv[1:2] == ["seed"]:
    write_seed_workload(sys.argv[2])
if __name__ == "__main__" and sys.argv[1:2] == ["cpu"]:
    print(cpu_identity()["key"])
