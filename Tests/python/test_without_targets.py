"""Datasets without targets from outside (docs/datasets.md): a file h5py writes with no /targets
and task "none" (no target_kind) is a valid dataset for predict and forecast, whose outputs
scripts/lstm_numpy.py reproduces from the checkpoint (its target kind, target features and
statistics) and the inputs alone; a file that contradicts itself is refused in one line.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import sys

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

from lstm_cli import ROOT, run  # noqa: E402
sys.path.insert(0, str(ROOT / "scripts"))
import lstm_numpy  # noqa: E402

N, L, F = 10, 7, 2
LENGTHS = np.array([7, 3, 0, 5, 1, 7, 6, 2, 4, 7], dtype=np.int64)


def write(path, labelled, task="binary", **overrides):
    """An h5py dataset in h5py's default types (int64 and float64, unchunked, no checksums) with
    NaN in the padding; with `labelled`, binary targets per row, else no /targets and task none."""
    rng = np.random.default_rng(3)
    inputs = np.full((N, L, F), np.nan)
    for row, length in enumerate(LENGTHS):
        inputs[row, L - length:] = rng.normal(size=(length, F))
    attrs = dict(format="lstm-dist dataset", version=1, padding="pre", stream="independent", source="crafted")
    arrays = dict(inputs=inputs, lengths=LENGTHS)
    if labelled:
        arrays["targets"] = (np.arange(N) % 2).astype(np.int64)
        attrs.update(target_kind="row", task=task, num_classes=2)
    else:
        attrs.update(task="none")
    for name, value in overrides.items():
        (arrays if name in ("targets",) else attrs)[name] = value
    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            if value is not None:
                f[name] = value
        for name, value in attrs.items():
            if value is not None:
                f.attrs[name] = value
    return path


def assert_one_error(result, fragment):
    assert result.returncode > 0, result.stdout + result.stderr
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stdout + result.stderr


def test_an_h5py_file_without_targets_is_accepted_by_predict_as_its_labelled_twin(tmp_path):
    labelled = write(tmp_path / "labelled.h5", True)
    unlabelled = write(tmp_path / "unlabelled.h5", False)
    run("train", labelled, "--checkpoint-dir", tmp_path / "ckpt", "--hidden", "6", "--slots", "2", "--window", "3",
        "--max-steps", "8", "--lr", "0.05")
    checkpoint = sorted((tmp_path / "ckpt").glob("ckpt-*.h5"))[-1]
    assert "task        none" not in run("inspect", labelled).stdout
    assert "none (task none)" in run("inspect", unlabelled, "--check").stdout
    outputs = {}
    for name, data in (("labelled", labelled), ("unlabelled", unlabelled)):
        run("predict", checkpoint, data, "--out", tmp_path / f"predictions-{name}.h5")
        with h5py.File(tmp_path / f"predictions-{name}.h5") as f:
            outputs[name] = f["predictions"][...]
    assert outputs["unlabelled"].shape == (N, 1)
    assert outputs["unlabelled"].tobytes() == outputs["labelled"].tobytes()
    weights, config, slots, task = lstm_numpy.load_checkpoint(checkpoint)
    ours = lstm_numpy.predict(weights, config, slots, task, unlabelled, checkpoint=checkpoint)
    # (An empty row, row 2, is zeros in both files; the reference reads the head of its padding.)
    assert np.abs(ours - outputs["unlabelled"])[LENGTHS > 0].max() < 1e-5
    assert not outputs["unlabelled"][LENGTHS == 0].any()

    for command in (["evaluate", checkpoint, unlabelled], ["train", unlabelled, "--checkpoint-dir", tmp_path / "no"]):
        assert_one_error(run(*command, expect=None), f"{unlabelled}: no targets (task none), so {command[0]} cannot use it")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("name, labelled, overrides, fragment", [
    ("targets in a file without", False, dict(targets=np.zeros(N, np.int64)), "dataset /targets in a file whose task is 'none' (no targets)"),
    ("no targets, task binary", True, dict(targets=None), "no dataset /targets (a file without targets sets the attribute task to 'none')"),
    ("horizon without targets", False, dict(horizon=1), "attribute horizon without the dataset /target_features"),
])
def test_a_file_that_contradicts_itself_about_targets_is_refused_in_one_line(tmp_path, name, labelled, overrides, fragment):
    path = write(tmp_path / "bad.h5", labelled, **overrides)
    assert_one_error(run("inspect", path, expect=None), fragment)


def test_numpy_reproduces_forecast_of_an_unlabelled_normalised_series_with_a_held_feature(tmp_path):
    rng = np.random.default_rng(8)
    t = np.arange(173)
    csv = tmp_path / "series.csv"
    csv.write_text("level,season\n" + "\n".join(f"{np.sin(s / 5):.4f},{np.cos(s / 3) + rng.normal() / 10:.4f}" for s in t) + "\n")
    labelled, unlabelled = tmp_path / "labelled.h5", tmp_path / "unlabelled.h5"
    run("pack", csv, "--target", "level", "--horizon", "1", "--length", "30", "--normalize", "--out", labelled)
    said = run("pack", csv, "--no-targets", "--like", labelled, "--out", unlabelled).stdout
    assert "task: none" in said
    with h5py.File(unlabelled) as f:
        assert "targets" not in f and f.attrs["task"] == "none" and "target_kind" not in f.attrs
        assert list(f["lengths"][...]) == [30] * 5 + [23]
        assert "normalization/inputs_mean" in f and "normalization/targets_mean" not in f
    run("train", labelled, "--checkpoint-dir", tmp_path / "ckpt", "--hidden", "8", "--slots", "2", "--window", "10",
        "--max-steps", "12", "--lr", "0.02")
    checkpoint = sorted((tmp_path / "ckpt").glob("ckpt-*.h5"))[-1]
    result = run("forecast", checkpoint, unlabelled, "--steps", "6", "--out", tmp_path / "forecast.h5", ranks=2)
    assert "feature 1 is not forecast" in result.stdout
    with h5py.File(tmp_path / "forecast.h5") as f:
        theirs = f["forecast"][...]
    weights, config, slots, _ = lstm_numpy.load_checkpoint(checkpoint)
    ours = lstm_numpy.forecast(weights, config, slots, unlabelled, 6, checkpoint)
    assert theirs.shape == ours.shape == (6, 6, 1)
    assert np.abs(ours - theirs).max() < 1e-5
    # The labelled pack's reference still holds (its rows end one input earlier).
    with h5py.File(labelled) as f:
        assert list(f["lengths"][...]) == [30] * 5 + [22]
