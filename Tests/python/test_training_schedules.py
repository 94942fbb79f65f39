"""`train`'s weight decay, learning-rate schedules, early stopping and dropout, checked from
outside: one decayed step against numpy, the logged `lr` of every step against the formulas of
docs/commands.md, plateau halving and early stopping against the rule applied to the logged
losses, resumes that continue them, and predictions of a dropout-trained model that the numpy
reference reproduces (no dropout outside training).

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import json
import math
import sys

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

from lstm_cli import ROOT, run  # noqa: E402
sys.path.insert(0, str(ROOT / "scripts"))
import lstm_numpy  # noqa: E402

ROWS, LENGTH, FEATURES = 32, 6, 3
SLOTS = 4  # 8 steps per epoch: one window per row, 8 rows per slot


def write_dataset(path, sign=1.0):
    """Regression per row, written with h5py: the target is sign x the sum of the inputs."""
    x = np.random.default_rng(0).normal(size=(ROWS, LENGTH, FEATURES)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["inputs"] = x
        f["lengths"] = np.full(ROWS, LENGTH, np.int32)
        f["targets"] = (sign * x.sum(axis=(1, 2)) / 4).astype(np.float32)[:, None]
        f.attrs.update(format="lstm-dist dataset", version=1, padding="pre", target_kind="row",
                       task="regression", stream="independent", source="schedules")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schedules")
    # The validation set's targets have the opposite sign: its loss rises as training learns.
    return folder, write_dataset(folder / "train.h5"), write_dataset(folder / "anti.h5", sign=-1.0)


def train(data, name, *options):
    folder, dataset, _ = data
    log = folder / f"{name}.jsonl"
    result = run("train", dataset, "--hidden", "8", "--slots", SLOTS, "--checkpoint-dir", folder / name,
                 "--log", log, *options)
    return result, folder / name, log


def log_lines(log):
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [line for line in lines if "event" not in line], [line for line in lines if line.get("event") == "epoch"]


def weights(checkpoint):
    with h5py.File(checkpoint, "r") as f:
        found = {}
        f["model"].visititems(lambda name, item: found.__setitem__(name, item[...]) if isinstance(item, h5py.Dataset) else None)
    return found


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_step_of_weight_decay_is_numpys_decoupled_update(data, optimizer):
    lr, decay = np.float32(0.1), np.float32(0.5)
    common = ["--optimizer", optimizer, "--max-steps", "1"]
    _, start, _ = train(data, f"{optimizer}-start", *common, "--lr", "0")
    _, plain, _ = train(data, f"{optimizer}-plain", *common, "--lr", lr)
    _, decayed, _ = train(data, f"{optimizer}-decayed", *common, "--lr", lr, "--weight-decay", decay)
    w0, w1, w2 = (weights(directory / "ckpt-00000001.h5") for directory in (start, plain, decayed))
    for name, before in w0.items():
        update = w1[name] - before  # the optimizer's step, which neither SGD nor Adam takes from w
        if name.endswith("bias"):
            np.testing.assert_array_equal(w2[name], w1[name], err_msg=f"{name}: biases are not decayed")
        else:
            expected = (before - before * decay * lr) + update  # Keras 3: w - w * wd * lr, then the update
            np.testing.assert_allclose(w2[name], expected, rtol=0, atol=2e-6, err_msg=name)
            assert np.abs(w2[name] - w1[name]).max() > 1e-3, f"{name} was not decayed"


def test_logged_rates_follow_the_warmup_and_cosine_formulas(data):
    base, minimum, warmup, epochs = 0.02, 0.002, 6, 5
    _, _, log = train(data, "cosine", "--epochs", epochs, "--lr", base, "--min-lr", minimum, "--warmup", warmup,
                      "--lr-schedule", "cosine")
    steps, _ = log_lines(log)
    total = epochs * ROWS // SLOTS
    assert [s["global_step"] for s in steps] == list(range(1, total + 1))

    def formula(i):
        if i < warmup:
            return base * (i + 1) / warmup
        return minimum + (base - minimum) * (1 + math.cos(math.pi * (i - warmup) / (total - warmup))) / 2

    logged = np.array([s["lr"] for s in steps])
    np.testing.assert_allclose(logged, [formula(i) for i in range(total)], rtol=1e-12)
    # The points the issue names: the end of warm-up, the middle of the cosine, the last step.
    assert logged[warmup - 1] == pytest.approx(base, rel=1e-12)
    middle = warmup + (total - warmup) // 2
    assert logged[middle] == pytest.approx((base + minimum) / 2, rel=1e-12)
    assert minimum < logged[-1] < minimum + 0.01 * (base - minimum)  # one step short of the minimum


def plateau_rates(monitored, base, minimum):
    """The rate of each epoch by the plateau rule of docs/commands.md, from the epochs' monitored losses."""
    rates, rate, best = [], base, math.inf
    for loss in monitored:
        rates.append(rate)
        if loss < best:
            best = loss
        else:
            rate = max(minimum, rate / 2)
    return rates


def test_plateau_halves_after_each_epoch_without_improvement_and_a_resume_continues_it(data):
    folder, _, anti = data
    options = ["--epochs", "6", "--lr", "0.01", "--min-lr", "0.002", "--lr-schedule", "plateau", "--validation", anti]
    _, _, log = train(data, "plateau", *options)
    steps, epochs = log_lines(log)
    expected = plateau_rates([e["val_loss"] for e in epochs], 0.01, 0.002)
    assert len(set(expected)) >= 3, f"the constructed validation set should stop improving: {epochs}"
    logged = [[s["lr"] for s in steps if s["epoch"] == e] for e in range(6)]
    for epoch, (rates, rate) in enumerate(zip(logged, expected)):
        assert rates == [pytest.approx(rate, rel=1e-12)] * len(rates), f"epoch {epoch}"

    # Stopped mid-epoch after a halving and resumed: the same rates, step for step.
    train(data, "plateau-resumed", *options, "--max-steps", "29")
    with h5py.File(folder / "plateau-resumed" / "ckpt-00000029.h5", "r") as f:
        assert f.attrs["lr"] == steps[29]["lr"], "lr records the rate of the next step"
    _, _, resumed_log = train(data, "plateau-resumed", "--resume", "latest")
    assert [s["lr"] for s in log_lines(resumed_log)[0]] == [s["lr"] for s in steps]


def test_patience_stops_when_validation_stops_improving_keeps_the_best_and_a_resume_has_nothing_to_do(data):
    folder, _, anti = data
    result, directory, log = train(data, "patience", "--epochs", "30", "--lr", "0.01", "--validation", anti, "--patience", "2")
    _, epochs = log_lines(log)
    losses = [e["val_loss"] for e in epochs]
    # The rule, replayed on the logged losses: stop at the first run of 2 epochs without a new best.
    best, without, stop = math.inf, 0, None
    for epoch, loss in enumerate(losses):
        best, without = (loss, 0) if loss < best else (best, without + 1)
        if without == 2:
            stop = epoch
            break
    assert stop is not None and stop == len(losses) - 1 < 29, f"expected an early stop: {losses}"
    assert "stopped early" in result.stdout

    with h5py.File(directory / "best.h5", "r") as f:
        assert f.attrs["val_loss"] == min(losses)
        assert f.attrs["epoch"] == losses.index(min(losses)) + 1
    last = sorted(directory.glob("ckpt-*.h5"))[-1]
    with h5py.File(last, "r") as f:
        assert f.attrs["early_stopped"] == 1 and f.attrs["epochs_without_improvement"] == 2
        assert f.attrs["best_monitored_loss"] == min(losses)

    files = sorted(p.name for p in directory.iterdir())
    resumed = run("train", folder / "train.h5", "--checkpoint-dir", directory, "--resume", "latest")
    assert "nothing left to do" in resumed.stdout
    assert sorted(p.name for p in directory.iterdir()) == files, "a resume with nothing to do writes nothing"


def test_predict_of_a_dropout_trained_model_is_the_undropped_numpy_reference(data):
    folder, dataset, _ = data
    _, directory, _ = train(data, "dropout", "--dropout", "0.5", "--layers", "2", "--epochs", "2")
    checkpoint = sorted(directory.glob("ckpt-*.h5"))[-1]
    run("predict", checkpoint, dataset, "--out", folder / "dropout-predictions.h5")
    with h5py.File(folder / "dropout-predictions.h5", "r") as f:
        ours = f["predictions"][...]
    np.testing.assert_allclose(ours, lstm_numpy.predict(*lstm_numpy.load_checkpoint(checkpoint), dataset), atol=1e-5)
