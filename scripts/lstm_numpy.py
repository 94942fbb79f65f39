#!/usr/bin/env python3
"""Loads an lstm-dist checkpoint with h5py and runs its model in plain numpy, reproducing
`lstm-dist predict` (the same stateful layout, masks and outputs) and `lstm-dist forecast`;
`continuation` gives `generate`'s next-character distributions from a slot's saved state.

    .venv/bin/python scripts/lstm_numpy.py CHECKPOINT DATA.h5 [--layout train|independent|interleaved]
                                          [--compare PREDICTIONS.h5] [--out PREDICTIONS.npy]
    .venv/bin/python scripts/lstm_numpy.py CHECKPOINT DATA.h5 --forecast STEPS [--compare FORECAST.h5]

The weights are Keras' LSTM layout (docs/checkpoints.md): kernel [I, 4H], recurrent_kernel [H, 4H],
bias [4H], gates in the order i, f, c (candidate), o. To use them elsewhere:

    Keras 3:  lstm_layer.set_weights([kernel, recurrent_kernel, bias]); dense.set_weights([k, b])
              (embedding: set_weights([embeddings])), with stateful=True and the same batch layout.
    PyTorch:  nn.LSTM gates are i, f, g, o too:  weight_ih_l0 = kernel.T, weight_hh_l0 =
              recurrent_kernel.T, bias_ih_l0 = bias, bias_hh_l0 = 0; nn.Linear weight = k.T.

The carried state of every global slot is in /state/h and /state/c, [layers, S, H].
"""
import argparse
import json
import sys

import h5py
import numpy as np


def load_checkpoint(path):
    """The model's weights by name (as float64), its configuration and its global slot count."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != "lstm-dist checkpoint":
            sys.exit(f"error: {path}: not an lstm-dist checkpoint")
        weights = {}
        f["model"].visititems(lambda name, item: weights.__setitem__(name, item[...].astype(np.float64))
                              if isinstance(item, h5py.Dataset) else None)
        config = json.loads(f.attrs["config"])
        slots = int(f.attrs["ranks"]) * int(f.attrs["slots_per_rank"])
        task = f.attrs["task"]
    return weights, config, slots, task


def load_state(path):
    """Every global slot's saved state: h and c, [layers, S, H] (as float64)."""
    with h5py.File(path, "r") as f:
        return f["state/h"][...].astype(np.float64), f["state/c"][...].astype(np.float64)


def sigmoid(x):
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def step(weights, x, h, c):
    """One timestep of every layer for one slot: x [I] -> the top layer's output [H]; h, c
    [layers, H] are advanced in place."""
    for layer in range(h.shape[0]):
        z = x @ weights[f"lstm_{layer}/kernel"] + h[layer] @ weights[f"lstm_{layer}/recurrent_kernel"] + weights[f"lstm_{layer}/bias"]
        i, f, g, o = np.split(z, 4)
        c[layer] = sigmoid(f) * c[layer] + sigmoid(i) * np.tanh(g)
        h[layer] = sigmoid(o) * np.tanh(c[layer])
        x = h[layer]
    return x


def continuation(weights, h, c, tokens):
    """`generate` from one slot's state h, c [layers, H]: the next-character distribution of the
    starting state (the head applied to its top h), then after each token fed, [len+1, V]."""
    h, c = h.copy(), c.copy()
    head = lambda top: softmax(top @ weights["dense/kernel"] + weights["dense/bias"])  # noqa: E731
    distributions = [head(h[-1])]
    for token in tokens:
        distributions.append(head(step(weights, weights["embedding/embeddings"][token], h, c)))
    return np.array(distributions)


def valid_steps(padding, length, valid_length):
    return range(length - valid_length, length) if padding == "pre" else range(valid_length)


def forecast(weights, config, slots, data_path, steps):
    """`/forecast` [N, steps, K]: each slot reads its rows in the training layout; at the end of
    every row its state is forked, the row's last targets go into their feature columns
    (/target_features), and `steps` predictions are rolled out, each fed back the same way."""
    with h5py.File(data_path, "r") as f:
        inputs, targets = f["inputs"][...].astype(np.float64), f["targets"][...].astype(np.float64)
        lengths, padding = f["lengths"][...].astype(int), f.attrs["padding"]
        target_features = f["target_features"][...].astype(int)
        # Normalised data (pack --normalize): rolled in z units, written in original units.
        scale = f["normalization/targets_std"][...] if "normalization/targets_std" in f else 1.0
        offset = f["normalization/targets_mean"][...] if "normalization/targets_mean" in f else 0.0
    targets = targets[..., None] if targets.ndim == 2 else targets
    rows, length = lengths.shape[0], inputs.shape[1]
    layers, hidden = config["shape"]["layers"], config["shape"]["hidden"]
    out = np.zeros((rows, steps, targets.shape[-1]), np.float32)
    for rows_of_slot in row_order("train", rows, slots):
        h, c = np.zeros((layers, hidden)), np.zeros((layers, hidden))
        for row in rows_of_slot:
            if config["shape"]["reset"] == "row":
                h[:], c[:] = 0, 0
            valid = valid_steps(padding, length, lengths[row])
            for t in valid:
                step(weights, inputs[row, t], h, c)
            if len(valid) == 0:
                continue
            x = inputs[row, valid[-1]].copy()
            x[target_features] = targets[row, valid[-1]]
            fork_h, fork_c = h.copy(), c.copy()
            for s in range(steps):
                y = step(weights, x, fork_h, fork_c) @ weights["dense/kernel"] + weights["dense/bias"]
                out[row, s] = y * scale + offset
                x[target_features] = y
    return out


def row_order(layout, rows, slots):
    """For each global slot, the rows it reads in order (docs/layout.md)."""
    if layout == "interleaved":
        return [list(range(g, rows, slots)) for g in range(slots)]
    return [list(range(g * rows // slots, (g + 1) * rows // slots)) for g in range(slots)]


def predict(weights, config, slots, task, data_path, layout="train"):
    """Predictions as `lstm-dist predict` writes them: [N, K] per row, [N, L, K] per timestep."""
    with h5py.File(data_path, "r") as f:
        inputs, lengths = f["inputs"][...], f["lengths"][...].astype(int)
        padding, per_step = f.attrs["padding"], f.attrs["target_kind"] == "step"
        # A normalised dataset (pack --normalize; predict refuses one whose statistics differ from
        # the checkpoint's): regression outputs are z-scores, turned back into original units.
        scale = f["normalization/targets_std"][...] if "normalization/targets_std" in f else 1.0
        offset = f["normalization/targets_mean"][...] if "normalization/targets_mean" in f else 0.0
    rows, length = lengths.shape[0], inputs.shape[1]
    layers, hidden = config["shape"]["layers"], config["shape"]["hidden"]
    reset_per_row = {"train": config["shape"]["reset"] == "row", "independent": True, "interleaved": False}[layout]
    width = weights["dense/bias"].shape[0]
    out = np.zeros((rows, length, width) if per_step else (rows, width), np.float32)

    order = row_order(layout, rows, slots)
    h, c = np.zeros((layers, slots, hidden)), np.zeros((layers, slots, hidden))
    for ordinal in range(max(len(o) for o in order)):
        active = np.array([g for g in range(slots) if ordinal < len(order[g])])
        row = np.array([order[g][ordinal] for g in active])
        if reset_per_row:
            h[:, active] = 0
            c[:, active] = 0
        valid = np.arange(length)[None, :] >= (length - lengths[row])[:, None] if padding == "pre" \
            else np.arange(length)[None, :] < lengths[row][:, None]
        x = weights["embedding/embeddings"][inputs[row]] if inputs.ndim == 2 else inputs[row].astype(np.float64)
        for layer in range(layers):
            kernel, recurrent, bias = (weights[f"lstm_{layer}/{n}"] for n in ("kernel", "recurrent_kernel", "bias"))
            seq = np.zeros(x.shape[:2] + (hidden,))
            hl, cl = h[layer, active], c[layer, active]
            for t in range(length):
                z = x[:, t] @ kernel + hl @ recurrent + bias
                i, f, g, o = np.split(z, 4, axis=1)
                new_c = sigmoid(f) * cl + sigmoid(i) * np.tanh(g)
                new_h = sigmoid(o) * np.tanh(new_c)
                keep = valid[:, t:t + 1]  # padded steps leave the state as it was
                cl, hl = np.where(keep, new_c, cl), np.where(keep, new_h, hl)
                seq[:, t] = hl
            h[layer, active], c[layer, active] = hl, cl
            x = seq
        logits = x @ weights["dense/kernel"] + weights["dense/bias"]
        if task == "binary":
            values = sigmoid(logits)
        elif task == "multiclass":
            values = np.exp(logits - logits.max(axis=-1, keepdims=True))
            values /= values.sum(axis=-1, keepdims=True)
        else:
            values = logits * scale + offset
        if per_step:
            out[row] = np.where(valid[..., None], values, 0)
        else:
            last = np.where(padding == "pre", length - 1, lengths[row] - 1)
            out[row] = values[np.arange(len(row)), last]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("dataset")
    parser.add_argument("--layout", choices=["train", "independent", "interleaved"], default="train")
    parser.add_argument("--forecast", type=int, metavar="STEPS", help="reproduce `lstm-dist forecast --steps STEPS` instead")
    parser.add_argument("--compare", help="a /predictions (or /forecast) file written by lstm-dist with the same options")
    parser.add_argument("--out", help="save the predictions as .npy")
    args = parser.parse_args()

    weights, config, slots, task = load_checkpoint(args.checkpoint)
    if args.forecast:
        name, predictions = "forecast", forecast(weights, config, slots, args.dataset, args.forecast)
        print(f"forecast {predictions.shape}")
    else:
        name, predictions = "predictions", predict(weights, config, slots, task, args.dataset, args.layout)
        print(f"predictions {predictions.shape} in the {args.layout} layout")
    if args.out:
        np.save(args.out, predictions)
    if args.compare:
        with h5py.File(args.compare, "r") as f:
            theirs = f[name][...]
        difference = float(np.abs(theirs - predictions).max())
        print(f"largest difference from {args.compare}: {difference:.2e}")
        # float32 outputs in original units (pack --normalize) carry relative rounding.
        if difference > 1e-4 * max(1.0, float(np.abs(predictions).max())):
            sys.exit(1)


if __name__ == "__main__":
    main()
