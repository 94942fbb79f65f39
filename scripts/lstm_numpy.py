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

The carried state of every global slot is in /state/h and /state/c, [layers, S, H]. The forward
pass itself is scripts/lstm_forward.py, shared with the Python tests.
"""
import argparse
import json
import sys

import h5py
import numpy as np

from lstm_forward import forward, head, step


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


def continuation(weights, h, c, tokens):
    """`generate` from one slot's state h, c [layers, H]: the next-character distribution of the
    starting state (the head applied to its top h), then after each token fed, [len+1, V]."""
    h, c = h.copy(), c.copy()
    distributions = [head(weights, h[-1], "multiclass")]
    for token in tokens:
        distributions.append(head(weights, step(weights, token, h, c), "multiclass"))
    return np.array(distributions)


def target_units(f):
    """Scale and offset from a dataset's regression outputs to its original units: a normalised
    dataset (pack --normalize) holds z-scores."""
    scale = f["normalization/targets_std"][...] if "normalization/targets_std" in f else 1.0
    offset = f["normalization/targets_mean"][...] if "normalization/targets_mean" in f else 0.0
    return scale, offset


def valid_steps(padding, length, valid_length):
    return range(length - valid_length, length) if padding == "pre" else range(valid_length)


def forecast(weights, config, slots, data_path, steps, checkpoint=None):
    """`/forecast` [N, steps, K]: each slot reads its rows in the training layout; at the end of
    every row its state is forked, the row's last targets go into their feature columns
    (/target_features), and `steps` predictions are rolled out, each fed back the same way.
    A dataset without targets (task "none") needs `checkpoint`, whose /target_features and
    normalisation apply: the state after the row's last input is the origin, its output step 1."""
    with h5py.File(data_path, "r") as f:
        labelled = "targets" in f
        inputs, lengths, padding = f["inputs"][...].astype(np.float64), f["lengths"][...].astype(int), f.attrs["padding"]
        targets = f["targets"][...].astype(np.float64) if labelled else None
    # Normalised data (pack --normalize): rolled in z units, written in original units.
    with h5py.File(data_path if labelled else checkpoint, "r") as f:
        target_features = f["target_features"][...].astype(int)
        scale, offset = target_units(f)
    width = weights["dense/bias"].shape[0]
    targets = targets[..., None] if labelled and targets.ndim == 2 else targets
    rows, length = lengths.shape[0], inputs.shape[1]
    layers, hidden = config["shape"]["layers"], config["shape"]["hidden"]
    out = np.zeros((rows, steps, width), np.float32)
    for rows_of_slot in row_order("train", rows, slots):
        h, c = np.zeros((layers, hidden)), np.zeros((layers, hidden))
        for row in rows_of_slot:
            if config["shape"]["reset"] == "row":
                h[:], c[:] = 0, 0
            valid = valid_steps(padding, length, lengths[row])
            top = None
            for t in valid:
                top = step(weights, inputs[row, t], h, c)
            if len(valid) == 0:
                continue
            x = inputs[row, valid[-1]].copy()
            fork_h, fork_c = h.copy(), c.copy()
            if labelled:
                x[target_features] = targets[row, valid[-1]]
            else:
                y = head(weights, top, "regression")
                out[row, 0] = y * scale + offset
                x[target_features] = y
            for s in range(0 if labelled else 1, steps):
                y = head(weights, step(weights, x, fork_h, fork_c), "regression")
                out[row, s] = y * scale + offset
                x[target_features] = y
    return out


def row_order(layout, rows, slots):
    """For each global slot, the rows it reads in order (docs/layout.md)."""
    if layout == "interleaved":
        return [list(range(g, rows, slots)) for g in range(slots)]
    return [list(range(g * rows // slots, (g + 1) * rows // slots)) for g in range(slots)]


def predict(weights, config, slots, task, data_path, layout="train", checkpoint=None):
    """Predictions as `lstm-dist predict` writes them: [N, K] per row, [N, L, K] per timestep.
    A dataset without targets (task "none") needs `checkpoint`: its target kind and target
    statistics are the model's."""
    with h5py.File(data_path, "r") as f:
        inputs, lengths = f["inputs"][...], f["lengths"][...].astype(int)
        padding, labelled = f.attrs["padding"], "targets" in f
    # predict refuses a dataset whose normalisation differs from the checkpoint's, so a labelled
    # dataset's statistics are the model's.
    with h5py.File(data_path if labelled else checkpoint, "r") as f:
        per_step = f.attrs["target_kind"] == "step"
        scale, offset = target_units(f)
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
        state_h, state_c = h[:, active], c[:, active]
        values = head(weights, forward(weights, inputs[row], state_h, state_c, valid), task)
        h[:, active], c[:, active] = state_h, state_c
        if task == "regression":
            values = values * scale + offset
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
        name, predictions = "forecast", forecast(weights, config, slots, args.dataset, args.forecast, args.checkpoint)
        print(f"forecast {predictions.shape}")
    else:
        name, predictions = "predictions", predict(weights, config, slots, task, args.dataset, args.layout, args.checkpoint)
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
