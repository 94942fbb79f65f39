"""`train --init-from CKPT` (fine-tuning): a new run from another run's weights. A zero-effect
update leaves the weights as they were; a split of the bundled text packed `--like` the
training file learns faster from the trained weights than from random ones; the checkpoint
records where it started, and resumes keep it; a conflicting flag or other data is refused.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import json

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

from lstm_cli import ROOT, run  # noqa: E402

MODEL = ["--hidden", "32", "--embedding", "16", "--window", "25", "--slots", "8"]


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    """The bundled text cut in two: the first part trains a model, the last part is new data
    packed --like the first (the same vocabulary ids)."""
    folder = tmp_path_factory.mktemp("fine-tuning")
    characters = (ROOT / "data" / "text.txt").read_text()
    cut = len(characters) * 4 // 5
    (folder / "old.txt").write_text(characters[:cut])
    (folder / "new.txt").write_text(characters[cut:])
    run("pack", folder / "old.txt", "--length", "50", "--out", folder / "old.h5")
    run("pack", folder / "new.txt", "--length", "50", "--like", folder / "old.h5", "--out", folder / "new.h5")
    run("train", folder / "old.h5", *MODEL, "--epochs", "2", "--lr", "0.01", "--checkpoint-dir", folder / "old")
    return folder, sorted((folder / "old").glob("ckpt-*.h5"))[-1]


def model_tensors(path):
    with h5py.File(path, "r") as f:
        names = []
        f["model"].visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        return {name: f["model"][name][...] for name in names}


def epoch_losses(log):
    return [line["loss"] for line in map(json.loads, log.read_text().splitlines()) if line.get("event") == "epoch"]


def test_a_zero_effect_update_leaves_the_checkpoints_weights(text):
    folder, trained = text
    run("train", folder / "new.h5", "--init-from", trained, "--slots", "8", "--window", "25", "--optimizer", "sgd",
        "--lr", "1e-12", "--max-steps", "1", "--checkpoint-dir", folder / "zero")
    before, after = model_tensors(trained), model_tensors(folder / "zero" / "ckpt-00000001.h5")
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_allclose(after[name], before[name], rtol=0, atol=1e-6, err_msg=name)
    with h5py.File(folder / "zero" / "ckpt-00000001.h5", "r") as f, h5py.File(trained, "r") as source:
        assert f.attrs["init_from_run_id"] == source.attrs["run_id"]
        assert f.attrs["init_from_step"] == source.attrs["global_step"]
        assert f.attrs["run_id"] != source.attrs["run_id"] and f.attrs["iterations"] == 1


def test_fine_tuning_learns_the_new_text_faster_than_random_weights_and_a_resume_keeps_its_origin(text):
    folder, trained = text
    common = ["train", folder / "new.h5", "--slots", "8", "--window", "25", "--lr", "0.01", "--epochs", "1"]
    tuned = run(*common, "--init-from", trained, "--checkpoint-dir", folder / "tuned", "--log", folder / "tuned.jsonl")
    assert f"starting from the weights of {trained}" in tuned.stdout
    run(*common, "--hidden", "32", "--embedding", "16", "--checkpoint-dir", folder / "random", "--log", folder / "random.jsonl")
    tuned_loss, random_loss = epoch_losses(folder / "tuned.jsonl")[0], epoch_losses(folder / "random.jsonl")[0]
    assert tuned_loss < random_loss, (tuned_loss, random_loss)

    run("train", folder / "new.h5", "--resume", "latest", "--epochs", "2", "--checkpoint-dir", folder / "tuned")
    with h5py.File(sorted((folder / "tuned").glob("ckpt-*.h5"))[-1], "r") as f, h5py.File(trained, "r") as source:
        assert f.attrs["epoch"] == 2 and f.attrs["init_from_step"] == source.attrs["global_step"]


@pytest.mark.parametrize("flags, message", [
    (["--hidden", "64"], "--hidden 64 conflicts with --init-from's 32"),
    (["--resume", "latest"], "--init-from starts a new run and --resume continues one"),
])
def test_a_flag_that_contradicts_the_checkpoint_is_refused_in_one_line(text, flags, message):
    folder, trained = text
    result = run("train", folder / "new.h5", "--init-from", trained, *flags, "--checkpoint-dir", folder / "refused", expect=None)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr, result.stderr
    assert not (folder / "refused").exists()


def test_data_with_another_vocabulary_is_refused_naming_the_difference(text, tmp_path):
    folder, trained = text
    (tmp_path / "other.txt").write_text("abcabc" * 100)
    run("pack", tmp_path / "other.txt", "--length", "50", "--out", tmp_path / "other.h5")
    result = run("train", tmp_path / "other.h5", "--init-from", trained, "--checkpoint-dir", tmp_path / "ck", expect=None)
    assert result.returncode != 0 and "vocabulary" in result.stderr and result.stderr.count("Error:") == 1, result.stderr
