#!/usr/bin/env python3
"""Checks `generate`'s distributions against scripts/lstm_numpy.py's continuation.

Usage: continuation_reference.py DIR. DIR holds what the Swift test (TextGeneratorTests) wrote:
continuation.json (checkpoint, slot, tokens fed) and distributions.f32 (little-endian float32,
[len(tokens) + 1, V]: the starting state's next-character distribution, then one after each
token). Exits 1 when any probability differs from numpy's by more than 1e-5.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import lstm_numpy  # noqa: E402


def main(directory):
    meta = json.load(open(os.path.join(directory, "continuation.json")))
    weights, _, _, _ = lstm_numpy.load_checkpoint(meta["checkpoint"])
    h, c = lstm_numpy.load_state(meta["checkpoint"])
    slot, tokens = meta["slot"], meta["tokens"]
    expected = lstm_numpy.continuation(weights, h[:, slot], c[:, slot], tokens)
    actual = np.fromfile(os.path.join(directory, "distributions.f32"), dtype="<f4").reshape(expected.shape)
    difference = float(np.abs(actual - expected).max())
    if not difference <= 1e-5:
        print(f"largest difference {difference:.3g} (step {np.abs(actual - expected).max(axis=1).argmax()})")
        return 1
    print(f"numpy continuation agrees: {len(tokens) + 1} distributions, largest difference {difference:.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
