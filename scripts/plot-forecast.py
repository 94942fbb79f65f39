#!/usr/bin/env python3
"""Plots `lstm-dist forecast` output against its dataset as a PNG, one panel per target column.

One long series (stream contiguous): the series, the forecast past its end (the last row's,
thick), and the rolling-origin forecasts of the other rows (thin) against what followed; it
prints each column's backtest mean squared error beside persistence's (the last value held).
Independent rows: the first --rows rows, each with its forecast continuing it.

usage: .venv/bin/python scripts/plot-forecast.py DATA.h5 FORECAST.h5 [--out PNG] [--last N] [--rows R]

Values are in original units: a dataset packed with --normalize is de-normalised with its
/normalization statistics (forecasts already are).
"""
import argparse
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(data_path, forecast_path):
    """Per target column k, each row's known values (its inputs of the feature k continues,
    then its last target) in original units; and the forecasts [N, H, K]."""
    with h5py.File(data_path, "r") as f:
        if "target_features" not in f:
            sys.exit(f"error: {data_path}: no /target_features (not packed with --target ... --horizon 1)")
        inputs, targets = f["inputs"][...].astype(np.float64), f["targets"][...].astype(np.float64)
        lengths, padding, stream = f["lengths"][...].astype(int), f.attrs["padding"], f.attrs["stream"]
        features = f["target_features"][...].astype(int)
        norm = f["normalization"] if "normalization" in f else None
        inputs_mean, inputs_std = (norm["inputs_mean"][...], norm["inputs_std"][...]) if norm else (0.0, 1.0)
        targets_mean, targets_std = (norm["targets_mean"][...], norm["targets_std"][...]) if norm else (0.0, 1.0)
    with h5py.File(forecast_path, "r") as f:
        forecast = f["forecast"][...]
    targets = targets[..., None] if targets.ndim == 2 else targets
    inputs, targets = inputs * inputs_std + inputs_mean, targets * targets_std + targets_mean
    length = inputs.shape[1]
    rows = []
    for row, valid_length in enumerate(lengths):
        valid = np.arange(length - valid_length, length) if padding == "pre" else np.arange(valid_length)
        rows.append([np.append(inputs[row, valid, f], targets[row, valid[-1], k]) if len(valid) else np.zeros(0)
                     for k, f in enumerate(features)])
    return rows, forecast, stream


def plot_series(axis, rows, forecast, k, last):
    """The rows joined into one series; row r's forecast starts after its last target."""
    series = np.concatenate([rows[0][k]] + [r[k][1:] for r in rows[1:] if len(r[k])])
    origins = np.cumsum([max(len(r[k]) - 1, 0) for r in rows])  # index of each row's last known value
    steps = forecast.shape[1]
    start = 0 if last == 0 else max(0, len(series) - last)
    axis.plot(np.arange(start, len(series)), series[start:], color="black", linewidth=1, label="series")
    backtest = [(o, r) for r, o in enumerate(origins[:-1]) if o + steps < len(series) and len(rows[r][k])]
    for n, (origin, row) in enumerate(backtest):
        if origin + steps >= start:
            axis.plot(np.arange(origin + 1, origin + 1 + steps), forecast[row, :, k], color="tab:blue", linewidth=0.8,
                      alpha=0.7, label="rolling-origin forecasts" if n == len(backtest) - 1 else None)
    end = origins[-1]
    axis.plot(np.arange(end + 1, end + 1 + steps), forecast[-1, :, k], color="tab:red", linewidth=2, label="forecast")
    model = np.mean([(forecast[r, :, k] - series[o + 1:o + 1 + steps]) ** 2 for o, r in backtest]) if backtest else float("nan")
    persistence = np.mean([(series[o] - series[o + 1:o + 1 + steps]) ** 2 for o, _ in backtest]) if backtest else float("nan")
    return model, persistence, len(backtest)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("forecast")
    parser.add_argument("--out", help="PNG to write (default: FORECAST with .png)")
    parser.add_argument("--last", type=int, default=600, help="timesteps of a long series to show (0: all)")
    parser.add_argument("--rows", type=int, default=4, help="independent rows to show")
    args = parser.parse_args()

    rows, forecast, stream = load(args.dataset, args.forecast)
    columns = forecast.shape[2]
    figure, axes = plt.subplots(columns, 1, figsize=(11, 3.2 * columns), squeeze=False)
    for k, axis in enumerate(axes[:, 0]):
        if stream == "contiguous":
            model, persistence, origins = plot_series(axis, rows, forecast, k, args.last)
            summary = f"backtest over {origins} origins: MSE {model:.4g}, persistence {persistence:.4g}"
            print(f"column {k}: {summary}")
            axis.set_title(f"target column {k}: {summary}", fontsize=10)
        else:
            for row in range(min(args.rows, len(rows))):
                known = rows[row][k]
                line, = axis.plot(np.arange(len(known)), known, linewidth=1, label=f"row {row}")
                axis.plot(np.arange(len(known), len(known) + forecast.shape[1]), forecast[row, :, k], "--", color=line.get_color())
            axis.set_title(f"target column {k}: rows and their forecasts (dashed)", fontsize=10)
        axis.set_xlabel("timestep")
        axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    out = args.out or args.forecast.rsplit(".", 1)[0] + ".png"
    figure.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
