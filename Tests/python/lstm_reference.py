#!/usr/bin/env python3
"""The Swift core's forward pass and loss checked against numpy's (scripts/lstm_forward.py).

Usage: lstm_reference.py DIR. DIR holds what the Swift test (ReferenceTests) wrote: meta.json
(config, slots, window, tensor offsets) and raw little-endian arrays: parameters.f32,
hidden.f32 / cell.f32 (state before the window, [layers, B, H]), tokens.i32 or features.f32,
mask.f32, target_mask.f32, class_targets.i32 or value_targets.f32 (time-major [T*B, ...]), and
Swift's results: outputs.f32 [T*B, K], final_hidden.f32, final_cell.f32, result.json (loss sum,
targets, correct). Recomputes everything in float64 and exits 1 when an output or final state
differs by more than 1e-5 (absolute), or the loss sum by more than 1e-5 relative.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import lstm_forward  # noqa: E402

TOLERANCE = 1e-5


def load(directory, name, dtype):
    return np.fromfile(os.path.join(directory, name), dtype=np.dtype(dtype).newbyteorder("<")).astype(np.float64 if dtype == "f4" else np.int64)


def main(directory):
    meta = json.load(open(os.path.join(directory, "meta.json")))
    config, B, T = meta["config"], meta["slots"], meta["window"]
    H, layers, K, head = config["hidden"], config["layers"], config["outputs"], config["head"]
    flat = load(directory, "parameters.f32", "f4")
    params = {t["name"]: flat[t["offset"]:t["offset"] + int(np.prod(t["shape"]))].reshape(t["shape"]) for t in meta["tensors"]}

    # Swift's tensors are time-major [T, B, ...]; lstm_forward's are [B, T, ...].
    mask = load(directory, "mask.f32", "f4").reshape(T, B)
    if "tokens" in config["input"]:
        inputs = np.where(mask > 0, load(directory, "tokens.i32", "i4").reshape(T, B), 0).T
    else:
        inputs = load(directory, "features.f32", "f4").reshape(T, B, -1).transpose(1, 0, 2)

    h = load(directory, "hidden.f32", "f4").reshape(layers, B, H).copy()
    c = load(directory, "cell.f32", "f4").reshape(layers, B, H).copy()
    top = lstm_forward.forward(params, inputs, h, c, mask.T > 0)
    probabilities = lstm_forward.head(params, top, head).transpose(1, 0, 2).reshape(T * B, K)

    scored = (load(directory, "target_mask.f32", "f4") > 0) & (mask.reshape(-1) > 0)
    if head == "binary":
        y = load(directory, "class_targets.i32", "i4")[scored]
        p = probabilities[scored, 0]
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum()
        correct = int(((p > 0.5) == (y == 1)).sum())
    elif head == "multiclass":
        y = load(directory, "class_targets.i32", "i4")[scored]
        p = probabilities[scored]
        loss = -np.log(p[np.arange(len(y)), y]).sum()
        correct = int((p.argmax(axis=1) == y).sum())
    else:
        y = load(directory, "value_targets.f32", "f4").reshape(T * B, K)[scored]
        loss = ((probabilities[scored] - y) ** 2).mean(axis=1).sum()
        correct = 0

    swift = json.load(open(os.path.join(directory, "result.json")))
    failures = []
    for name, expected in (("outputs", probabilities), ("final_hidden", h), ("final_cell", c)):
        actual = load(directory, f"{name}.f32", "f4").reshape(expected.shape)
        difference = np.abs(actual - expected).max()
        if not difference <= TOLERANCE:
            failures.append(f"{name}: max difference {difference:.3g}")
    if not abs(swift["lossSum"] - loss) <= TOLERANCE * max(1.0, abs(loss)):
        failures.append(f"loss sum: swift {swift['lossSum']} numpy {loss}")
    if swift["targets"] != int(scored.sum()) or swift["correct"] != correct:
        failures.append(f"counts: swift {swift['targets']}/{swift['correct']} numpy {int(scored.sum())}/{correct}")
    if failures:
        print("; ".join(failures))
        return 1
    print(f"numpy reference agrees ({head}, {layers} layers, {int(scored.sum())} targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
