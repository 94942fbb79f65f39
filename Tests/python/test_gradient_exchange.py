"""Gradients exchanged in buckets while backward runs, and `train --exchange bf16`, checked from
outside under real `mpirun`: overlap changes no result (LSTM_DIST_OVERLAP=off is the comparison),
2 ranks x B slots with bf16 exchange give the first update of 1 rank x 2B slots within the bound
docs/commands.md states, and the setting is recorded in the checkpoint and may change on resume.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import json

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

from lstm_cli import ROOT, run  # noqa: E402

# Two layers, so three buckets (head, lstm_1, lstm_0 with the embedding).
NETWORK = ["--hidden", "32", "--layers", "2", "--embedding", "16", "--window", "16"]


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exchange")
    run("pack", ROOT / "data" / "text.txt", "--length", "32", "--out", folder / "text.h5")
    return folder, folder / "text.h5"


def train(text, name, *options, ranks=None):
    folder, dataset = text
    return run("train", dataset, *NETWORK, "--checkpoint-dir", folder / name, "--log", folder / f"{name}.jsonl",
               *options, ranks=ranks), folder / name


def model(checkpoint):
    with h5py.File(checkpoint, "r") as f:
        names = []
        f["model"].visit(lambda name: names.append(name) if isinstance(f["model"][name], h5py.Dataset) else None)
        return {name: f["model"][name][()].astype(np.float64) for name in sorted(names)}


def attribute(checkpoint, name):
    with h5py.File(checkpoint, "r") as f:
        value = f.attrs[name]
        return value.decode() if isinstance(value, bytes) else value


def relative(a, b):
    """||a - b|| / ||b|| over every tensor together."""
    difference = sum(float(np.sum((a[k] - b[k]) ** 2)) for k in b)
    return (difference / sum(float(np.sum(b[k] ** 2)) for k in b)) ** 0.5


def first_update(text, name, *options, ranks=None):
    """The first step's update: weights after one SGD step minus the initial ones (a step at lr 0)."""
    _, before = train(text, name + "-lr0", "--optimizer", "sgd", "--lr", "0", "--max-steps", "1", *options, ranks=ranks)
    _, after = train(text, name, "--optimizer", "sgd", "--lr", "1", "--max-steps", "1", *options, ranks=ranks)
    start, end = model(before / "ckpt-00000001.h5"), model(after / "ckpt-00000001.h5")
    return {k: end[k] - start[k] for k in start}


def test_bf16_exchange_gives_the_first_update_of_one_rank_within_its_bound(text):
    one = first_update(text, "one", "--slots", "8")
    fp32 = first_update(text, "fp32", "--slots", "4", ranks=2)
    bf16 = first_update(text, "bf16", "--slots", "4", "--exchange", "bf16", ranks=2)
    assert all(np.any(one[k] != 0) for k in one), "every tensor takes a step"
    fp32_error, bf16_error = relative(fp32, one), relative(bf16, one)
    # fp32: only the order of the float sums differs. bf16: each rank's gradient rounded to 8
    # significant bits (relative error <= u = 2^-8 each) and their sum rounded once more: at most
    # u (1 + kappa)(1 + u) norm-wise, kappa = || |g_1| + |g_2| || / ||g_1 + g_2|| >= 1 (docs/commands.md),
    # and SGD's update is the gradient scaled; the issue asks 1e-2.
    assert fp32_error < 1e-5, fp32_error
    assert bf16_error < 1e-2, bf16_error
    # The bf16 exchange did round: its error is far above fp32's and of bf16's order.
    assert bf16_error > 100 * fp32_error and bf16_error > 2 ** -12, (bf16_error, fp32_error)
    print(f"first update, norm-wise relative to 1 rank x 8 slots: fp32 exchange {fp32_error:.2e}, bf16 exchange {bf16_error:.2e}")


@pytest.mark.parametrize("exchange", ["fp32", "bf16"])
def test_overlapping_the_exchange_with_backward_changes_no_bit(text, monkeypatch, exchange):
    options = ["--slots", "4", "--epochs", "1", "--max-steps", "12", "--exchange", exchange, "--dropout", "0.1"]
    _, overlapped = train(text, f"overlap-{exchange}", *options, ranks=2)
    monkeypatch.setenv("LSTM_DIST_OVERLAP", "off")
    _, blocking = train(text, f"blocking-{exchange}", *options, ranks=2)
    a, b = model(overlapped / "ckpt-00000012.h5"), model(blocking / "ckpt-00000012.h5")
    for name in b:
        assert np.array_equal(a[name], b[name]), name
    # The log reports the exposed wait, in ms as well as its share of the step.
    folder, _ = text
    for line in (folder / f"overlap-{exchange}.jsonl").read_text().splitlines():
        step = json.loads(line)
        if "event" not in step:
            assert 0 <= step["allreduce_share"] <= 1 and step["allreduce_ms"] >= 0, step


def test_the_exchange_is_recorded_and_a_resume_may_change_it(text):
    _, folder = train(text, "resumed", "--slots", "4", "--max-steps", "3", "--exchange", "bf16", ranks=2)
    assert attribute(folder / "ckpt-00000003.h5", "exchange") == "bf16"
    train(text, "resumed", "--resume", "latest", "--max-steps", "5", ranks=2)
    assert attribute(folder / "ckpt-00000005.h5", "exchange") == "bf16", "kept by a resume without the flag"
    train(text, "resumed", "--resume", "latest", "--max-steps", "7", "--exchange", "fp32", ranks=2)
    assert attribute(folder / "ckpt-00000007.h5", "exchange") == "fp32", "changed by a resume with it"


def test_a_bad_exchange_or_overlap_setting_is_one_error_line(text, monkeypatch):
    folder, dataset = text
    bad = run("train", dataset, "--exchange", "fp16", "--checkpoint-dir", folder / "bad", expect=None)
    assert bad.returncode != 0 and "fp16" in bad.stderr, bad.stderr
    assert len([line for line in bad.stderr.splitlines() if line.startswith("Error:")]) == 1, bad.stderr
    monkeypatch.setenv("LSTM_DIST_OVERLAP", "maybe")
    refused = run("train", dataset, "--slots", "2", "--max-steps", "1", "--checkpoint-dir", folder / "bad-overlap", expect=None, ranks=2)
    assert refused.returncode != 0 and "LSTM_DIST_OVERLAP must be on or off" in refused.stdout + refused.stderr, refused.stdout + refused.stderr
