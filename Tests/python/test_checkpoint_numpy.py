"""A checkpoint read from outside: scripts/lstm_numpy.py loads it with h5py and reproduces what
`lstm-dist predict` writes, for every layout, per-row and per-timestep targets.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import sys

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

from lstm_cli import ROOT, run  # noqa: E402
sys.path.insert(0, str(ROOT / "scripts"))
import lstm_numpy  # noqa: E402


@pytest.mark.parametrize("sample, pack_options, train_options", [
    ("data/sequences.jsonl", [], ["--hidden", "16", "--layers", "2", "--slots", "8"]),
    ("data/text.txt", ["--length", "40"], ["--hidden", "24", "--window", "10", "--slots", "8", "--max-steps", "30"]),
])
@pytest.mark.parametrize("layout", ["train", "independent", "interleaved"])
def test_numpy_reproduces_predict_from_the_checkpoint_alone(tmp_path, sample, pack_options, train_options, layout):
    data = tmp_path / "data.h5"
    run("pack", sample, *pack_options, "--out", data)
    run("train", data, "--epochs", "1", "--checkpoint-dir", tmp_path / "ckpt", *train_options)
    checkpoint = sorted((tmp_path / "ckpt").glob("ckpt-*.h5"))[-1]
    run("predict", checkpoint, data, "--layout", layout, "--out", tmp_path / "predictions.h5")

    ours = lstm_numpy.predict(*lstm_numpy.load_checkpoint(checkpoint), data, layout)
    with h5py.File(tmp_path / "predictions.h5") as f:
        theirs = f["predictions"][...]
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < 1e-5
