"""`pack --normalize` checked from outside against numpy: the statistics in /normalization, the
z-scores written, `--like` reusing them, a target that is a later value of a feature sharing its
statistics, truncation, and a model trained on a series near 1000 whose `predict` and
`evaluate` give original units (scripts/lstm_numpy.py as the reference).

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


def series(steps, seed, offset=1000.0, scale=50.0):
    """Columns level (offset + scale * a two-tone wave + noise), constant, other (small)."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    level = offset + scale * (np.sin(t / 6.0) + 0.5 * np.sin(t / 17.0)) + rng.normal(0, 0.5, steps)
    return np.stack([level, np.full(steps, 7.0), 0.01 * rng.normal(size=steps)], axis=1)


def write_csv(path, values):
    with open(path, "w") as f:
        f.write("level,constant,other\n")
        for row in values:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def statistics(path):
    with h5py.File(path, "r") as f:
        return {name: f[f"normalization/{name}"][...] for name in f["normalization"]}


def valid_steps(path, name, dataset=None):
    """The values of /inputs, /targets (or /predictions, with the `dataset` they were made
    from) at valid timesteps, in row order, [n, width]."""
    with h5py.File(path, "r") as f:
        values = f[name][...]
    with h5py.File(dataset or path, "r") as f:
        lengths, padding = f["lengths"][...], f.attrs["padding"]
    L = values.shape[1]
    rows = [values[i, L - n:] if padding == "pre" else values[i, :n] for i, n in enumerate(lengths)]
    return np.concatenate(rows).reshape(sum(lengths), -1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A forecasting series near 1000 (std about 38), packed with --normalize and trained."""
    folder = tmp_path_factory.mktemp("normalized")
    raw = series(1600, seed=1)
    write_csv(folder / "train.csv", raw)
    data = folder / "train.h5"
    run("pack", folder / "train.csv", "--target", "level", "--horizon", "1", "--features", "level,constant,other",
        "--length", "50", "--normalize", "--out", data)
    run("train", data, "--hidden", "16", "--slots", "4", "--window", "25", "--epochs", "12", "--lr", "0.01",
        "--checkpoint-dir", folder / "ckpt")
    checkpoint = sorted((folder / "ckpt").glob("ckpt-*.h5"))[-1]
    return folder, raw, data, checkpoint


def test_statistics_are_numpys_over_the_valid_timesteps_and_the_target_shares_its_features(trained):
    _, raw, data, _ = trained
    inputs = raw[:-1]  # --horizon 1: the last line is only a target
    found = statistics(data)
    assert found["inputs_mean"].dtype == np.float64
    np.testing.assert_allclose(found["inputs_mean"], inputs.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(found["inputs_std"][[0, 2]], inputs.std(axis=0)[[0, 2]], rtol=1e-10)
    assert found["inputs_std"][1] == 1.0, "a constant column gets std 1"
    # The target is level one step later: it shares level's statistics, not its own.
    assert found["targets_mean"][0] == found["inputs_mean"][0] and found["targets_std"][0] == found["inputs_std"][0]
    assert abs(raw[1:, 0].mean() - found["targets_mean"][0]) > 1e-6

    z = (inputs - found["inputs_mean"]) / found["inputs_std"]
    np.testing.assert_allclose(valid_steps(data, "inputs"), z, atol=2e-6)
    target_z = (raw[1:, :1] - found["targets_mean"]) / found["targets_std"]
    np.testing.assert_allclose(valid_steps(data, "targets"), target_z, atol=2e-6)


def test_like_reuses_the_training_statistics(trained):
    folder, _, data, _ = trained
    other = series(300, seed=2, offset=900.0, scale=20.0)
    write_csv(folder / "valid.csv", other)
    valid = folder / "valid.h5"
    result = run("pack", folder / "valid.csv", "--target", "level", "--horizon", "1", "--features", "level,constant,other",
                 "--length", "50", "--like", data, "--out", valid)
    assert "normalised" in result.stdout
    train_stats, valid_stats = statistics(data), statistics(valid)
    for name in train_stats:
        np.testing.assert_array_equal(valid_stats[name], train_stats[name])
    z = (other[:-1] - train_stats["inputs_mean"]) / train_stats["inputs_std"]
    np.testing.assert_allclose(valid_steps(valid, "inputs"), z, atol=2e-6)


def test_statistics_count_only_the_timesteps_truncation_keeps(tmp_path):
    rng = np.random.default_rng(3)
    lines = [(rng.normal(100, 10, (n, 2)), rng.normal(-5, 3, (n, 1))) for n in (3, 9, 6, 12)]
    with open(tmp_path / "seq.jsonl", "w") as f:
        for x, y in lines:
            f.write(json.dumps({"x": x.tolist(), "y": y.tolist()}) + "\n")
    for truncating in ("pre", "post"):
        out = tmp_path / f"{truncating}.h5"
        run("pack", tmp_path / "seq.jsonl", "--maxlen", "5", "--truncating", truncating, "--normalize", "--out", out)
        kept = [(x[-5:], y[-5:]) if truncating == "pre" else (x[:5], y[:5]) for x, y in lines]
        x = np.concatenate([k[0] for k in kept])
        y = np.concatenate([k[1] for k in kept])
        found = statistics(out)
        np.testing.assert_allclose(found["inputs_mean"], x.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(found["inputs_std"], x.std(axis=0), rtol=1e-10)
        np.testing.assert_allclose(found["targets_mean"], y.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(found["targets_std"], y.std(axis=0), rtol=1e-10)
        np.testing.assert_allclose(valid_steps(out, "inputs"), (x - x.mean(axis=0)) / x.std(axis=0), atol=2e-6)


def test_a_series_near_1000_trains_and_predict_gives_original_units(trained):
    folder, raw, data, checkpoint = trained
    with h5py.File(checkpoint, "r") as f:
        copied = {name: f[f"normalization/{name}"][...] for name in f["normalization"]}
    for name, values in statistics(data).items():
        np.testing.assert_array_equal(copied[name], values)

    evaluation = json.loads(run("evaluate", checkpoint, data, "--json").stdout)["train"]
    assert evaluation["mse"] < 0.05, f"the normalised series did not train: {evaluation}"

    run("predict", checkpoint, data, "--out", folder / "predictions.h5")
    with h5py.File(folder / "predictions.h5", "r") as f:
        ours = f["predictions"][...]
    reference = lstm_numpy.predict(*lstm_numpy.load_checkpoint(checkpoint), data)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-3)

    # In original units, so against the raw series: near 1000, and mse_original is their error.
    predicted = valid_steps(folder / "predictions.h5", "predictions", data)
    assert 900 < predicted.mean() < 1100
    mse_original = float(np.mean((predicted[:, 0] - raw[1:, 0]) ** 2))
    assert evaluation["mse_original"] == pytest.approx(mse_original, rel=1e-4)
    assert evaluation["mse_original"] == pytest.approx(evaluation["mse"] * statistics(data)["targets_std"][0] ** 2, rel=1e-6)


def test_a_dataset_normalised_otherwise_is_refused(trained):
    folder, raw, _, checkpoint = trained
    write_csv(folder / "shifted.csv", raw + np.array([5.0, 0.0, 0.0]))
    for name, extra in (("renormalised.h5", ["--normalize"]), ("raw.h5", [])):
        run("pack", folder / "shifted.csv", "--target", "level", "--horizon", "1", "--features", "level,constant,other",
            "--length", "50", *extra, "--out", folder / name)
        for command in (["evaluate", checkpoint, folder / name], ["predict", checkpoint, folder / name, "--out", folder / "p.h5", "--force"]):
            result = run(*command, expect=None)
            assert result.returncode != 0
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: ") and "normali" in lines[0], result.stderr
