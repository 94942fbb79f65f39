#!/usr/bin/env python3
"""Plots a `lstm-dist train --log` file (JSON Lines) as a PNG: loss per step and per epoch,
accuracy or bits per character, validation when present, and throughput.

usage: .venv/bin/python scripts/plot-log.py metrics.jsonl [--out curves.png]
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log")
    parser.add_argument("--out", default=None, help="PNG to write (default: LOG with .png)")
    args = parser.parse_args()

    steps, epochs = [], []
    with open(args.log) as f:
        for number, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                sys.exit(f"error: {args.log}:{number}: not JSON ({error})")
            (epochs if record.get("event") == "epoch" else steps).append(record)
    if not steps:
        sys.exit(f"error: {args.log}: no step records")

    quality = next((k for k in ("bits_per_char", "accuracy", "mse") if any(k in s for s in steps)), None)
    panels = ["loss"] + ([quality] if quality else []) + ["tokens_per_s"]
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), sharex=True)
    # Epoch records close an epoch: place them at the last global step of that epoch.
    epoch_end = {s["epoch"]: s["global_step"] for s in steps}
    for axis, key in zip(axes, panels):
        points = [(s["global_step"], s[key]) for s in steps if s.get(key) is not None]
        axis.plot(*zip(*points), lw=0.8, alpha=0.6, label=f"{key} per step")
        for prefix, style in (("", "o-"), ("val_", "s--")):
            marks = [(epoch_end[e["epoch"]], e[prefix + key]) for e in epochs
                     if e.get(prefix + key) is not None and e["epoch"] in epoch_end]
            if marks:
                axis.plot(*zip(*marks), style, label=f"{prefix}{key} per epoch")
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
        axis.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("global step")
    figure.suptitle(args.log)
    figure.tight_layout()
    out = args.out or args.log.rsplit(".", 1)[0] + ".png"
    figure.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
