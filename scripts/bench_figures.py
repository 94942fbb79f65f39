"""Shared by the benchmark scripts: reads `lstm-dist train --log` files, and keeps each
benchmark's figures in scripts/bench-results.json so that every run prints its ratio to the
previous one.

    python scripts/bench_figures.py medians LOG        -> "TOKENS_PER_S ALLREDUCE_SHARE"
"""
import json
import statistics
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "bench-results.json"


def medians(log, warmup=10):
    """Median tokens/s and allreduce share over a run's steps, the first `warmup` skipped."""
    steps = [json.loads(line) for line in open(log) if '"event"' not in line][warmup:]
    return statistics.median(s["tokens_per_s"] for s in steps), statistics.median(s["allreduce_share"] for s in steps)


def compare_and_store(path, now):
    """Prints each figure against the previous run's under the key path (a list), then stores."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    node = results
    for key in path[:-1]:
        node = node.setdefault(key, {})
    before = node.get(path[-1], {})
    for key, value in now.items():
        if isinstance(value, (int, float)) and isinstance(before.get(key), (int, float)) and before[key]:
            print(f"  {key}: previous {before[key]}, now {value} ({value / before[key]:.3f}x)")
    node[path[-1]] = now
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__" and sys.argv[1:2] == ["medians"]:
    print(*medians(sys.argv[2]))
