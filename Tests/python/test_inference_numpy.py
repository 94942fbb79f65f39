"""`lstm-dist forecast` from outside: scripts/lstm_numpy.py reproduces /forecast from the
checkpoint and the dataset alone, and on a noiseless two-tone wave a trained model's 50-step
forecasts beat persistence (the last value held) by a wide margin. Both datasets are packed with
--normalize: the model rolls in z units, the forecasts come out in the series' own units.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import json
import sys

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

from lstm_cli import ROOT, run  # noqa: E402
sys.path.insert(0, str(ROOT / "scripts"))
import lstm_numpy  # noqa: E402


def train_and_forecast(tmp_path, csv, pack_options, train_options, steps):
    data = tmp_path / "data.h5"
    run("pack", csv, *pack_options, "--out", data)
    run("train", data, "--checkpoint-dir", tmp_path / "ckpt", *train_options)
    checkpoint = sorted((tmp_path / "ckpt").glob("ckpt-*.h5"))[-1]
    run("forecast", checkpoint, data, "--steps", steps, "--out", tmp_path / "forecast.h5")
    with h5py.File(tmp_path / "forecast.h5") as f:
        return data, checkpoint, f["forecast"][...]


def test_numpy_reproduces_forecast_of_normalised_independent_post_padded_rows_with_a_held_feature(tmp_path):
    rng = np.random.default_rng(5)
    lines = ["id,level,season,noise"]
    for series in range(14):
        for t in range(int(rng.integers(6, 23))):
            lines.append(f"{series},{np.sin(t / 4 + series):.4f},{np.cos(t / 3):.4f},{rng.normal():.4f}")
    csv = tmp_path / "series.csv"
    csv.write_text("\n".join(lines) + "\n")
    # Windows of 5 over rows of up to 21: a post-padded row's last input is often in an earlier window.
    data, checkpoint, theirs = train_and_forecast(
        tmp_path, csv, ["--id", "id", "--target", "level,season", "--horizon", "1", "--padding", "post", "--normalize"],
        ["--hidden", "12", "--layers", "2", "--window", "5", "--slots", "3", "--epochs", "3"], steps=7)
    with h5py.File(data) as f, h5py.File(checkpoint) as c:
        assert f.attrs["horizon"] == 1 and list(f["target_features"][...]) == [0, 1]
        assert c.attrs["horizon"] == 1 and list(c["target_features"][...]) == [0, 1]
    for path in (data, checkpoint):
        described = json.loads(run("inspect", path, "--json").stdout)
        assert (described["horizon"], described["target_features"]) == (1, [0, 1]), path
    ours = lstm_numpy.forecast(*lstm_numpy.load_checkpoint(checkpoint)[:3], data, 7)
    assert theirs.shape == ours.shape == (14, 7, 2)
    assert np.abs(ours - theirs).max() < 1e-5


def test_a_trained_model_forecasts_a_two_tone_wave_with_a_quarter_of_persistences_error(tmp_path):
    t = np.arange(3000)
    wave = np.round(np.sin(2 * np.pi * t / 25) + 0.5 * np.sin(2 * np.pi * t / 7.3), 6)
    csv = tmp_path / "wave.csv"
    csv.write_text("y\n" + "\n".join(f"{v:.6f}" for v in wave) + "\n")
    data, checkpoint, forecast = train_and_forecast(
        tmp_path, csv, ["--target", "y", "--horizon", "1", "--length", "50", "--normalize"],
        ["--hidden", "32", "--slots", "4", "--epochs", "12", "--lr", "0.01"], steps=50)
    ours = lstm_numpy.forecast(*lstm_numpy.load_checkpoint(checkpoint)[:3], data, 50)
    assert np.abs(ours - forecast).max() < 1e-5

    # One series cut into rows of 50 inputs: row r's last target is wave[50 r + 50], and its
    # forecast step h (from 1) is wave[50 r + 50 + h]. Rows whose 50 steps stay inside the wave
    # are a rolling-origin backtest.
    origins = [50 * r + 50 for r in range(forecast.shape[0]) if 50 * r + 100 < len(wave)]
    truth = np.array([wave[o + 1:o + 51] for o in origins])
    model = np.mean((forecast[:len(origins), :, 0] - truth) ** 2)
    persistence = np.mean((wave[origins][:, None] - truth) ** 2)
    assert model <= persistence / 4, f"forecast MSE {model:.4f}, persistence {persistence:.4f}"
