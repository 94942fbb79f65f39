"""One folder, one run (docs/checkpoints.md): a fresh run refuses a folder that holds another
run's checkpoints and touches none of its files; pruning and best.h5 are the run's own; a resume
keeps the run id (and a checkpoint from before run ids adopts the folder's unlabelled files);
`--resume PATH` writes beside PATH; `--validation none` turns validation off on resume; a
malformed `config` attribute is named in one line.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import hashlib
import json
import re

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

from lstm_cli import run  # noqa: E402

ROWS, LENGTH = 24, 4


def write_dataset(path, seed):
    """Binary per-row labels of random features, written with h5py."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, LENGTH, 2)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["inputs"] = x
        f["lengths"] = np.full(ROWS, LENGTH, np.int32)
        f["targets"] = (x.sum(axis=(1, 2)) > 0).astype(np.int32)
        f.attrs.update(format="lstm-dist dataset", version=1, padding="pre", target_kind="row", task="binary",
                       num_classes=2, stream="independent", source=path.name)
    return path


@pytest.fixture
def data(tmp_path):
    return tmp_path, write_dataset(tmp_path / "a.h5", 0), write_dataset(tmp_path / "b.h5", 1)


def train(dataset, folder, *options, expect=0):
    return run("train", dataset, "--hidden", "4", "--slots", "4", "--checkpoint-dir", folder, *options, expect=expect)


def digests(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def run_id(path):
    with h5py.File(path, "r") as f:
        return f.attrs.get("run_id")


def printed_checkpoint(result):
    return re.search(r"^checkpoint: (.+)$", result.stdout, re.M).group(1)


def test_a_fresh_run_refuses_a_folder_with_another_runs_checkpoints_and_leaves_them_byte_for_byte(data):
    tmp, a, b = data
    folder = tmp / "ck"
    train(a, folder, "--epochs", "3", "--checkpoint-every", "2", "--validation", a, "--keep-best")
    before = digests(folder)
    assert "best.h5" in before and len(before) == 4, before
    refused = train(b, folder, "--max-steps", "2", expect=None)
    assert refused.returncode != 0
    assert refused.stderr.count("Error:") == 1 and refused.stderr.startswith("Error:"), refused.stderr
    assert str(folder) in refused.stderr and "--resume latest" in refused.stderr and "--checkpoint-dir" in refused.stderr
    assert digests(folder) == before, "the other run's files are untouched"

    # best.h5 alone is a run's too.
    alone = tmp / "best-only"
    alone.mkdir()
    (alone / "best.h5").write_bytes((folder / "best.h5").read_bytes())
    assert train(b, alone, expect=None).returncode != 0

    elsewhere = train(b, tmp / "other", "--max-steps", "2")
    path = printed_checkpoint(elsewhere)
    resumed = run("train", b, "--resume", path, "--max-steps", "3")
    assert (tmp / "other" / "ckpt-00000003.h5").exists(), "--resume PATH writes into PATH's folder\n" + resumed.stdout
    assert run_id(tmp / "other" / "ckpt-00000003.h5") == run_id(path), "a resume keeps the run id"
    assert re.fullmatch(r"[0-9a-f]{32}", run_id(path))
    assert digests(folder) == before


def test_pruning_and_best_touch_only_the_runs_own_files_and_adopt_unlabelled_ones(data):
    tmp, a, _ = data
    folder = tmp / "ck"
    train(a, folder, "--max-steps", "4", "--checkpoint-every", "1", "--keep", "10")
    # A checkpoint written by another run, copied in by hand with a higher step.
    foreign = folder / "ckpt-00000099.h5"
    foreign.write_bytes((folder / "ckpt-00000001.h5").read_bytes())
    with h5py.File(foreign, "r+") as f:
        f.attrs["run_id"] = "f" * 32
    foreign_digest = hashlib.sha256(foreign.read_bytes()).hexdigest()
    # --resume PATH, since latest would take the foreign file's higher step.
    result = train(a, folder, "--resume", folder / "ckpt-00000004.h5", "--max-steps", "8", "--keep", "2")
    assert sorted(p.name for p in folder.iterdir()) == ["ckpt-00000007.h5", "ckpt-00000008.h5", "ckpt-00000099.h5"]
    assert hashlib.sha256(foreign.read_bytes()).hexdigest() == foreign_digest
    assert printed_checkpoint(result) == str(folder / "ckpt-00000008.h5"), "the printed checkpoint is one that was kept"

    # A checkpoint from before run ids: the resume draws an id and adopts unlabelled files.
    old = tmp / "old"
    train(a, old, "--max-steps", "3", "--checkpoint-every", "1", "--keep", "10")
    for path in old.iterdir():
        with h5py.File(path, "r+") as f:
            del f.attrs["run_id"]
    train(a, old, "--resume", "latest", "--max-steps", "5", "--keep", "2")
    assert sorted(p.name for p in old.iterdir()) == ["ckpt-00000004.h5", "ckpt-00000005.h5"]
    assert run_id(old / "ckpt-00000005.h5") == run_id(old / "ckpt-00000004.h5") is not None


def test_validation_none_turns_validation_keep_best_and_patience_off_on_resume(data):
    tmp, a, b = data
    folder = tmp / "ck"
    train(a, folder, "--epochs", "1", "--validation", b, "--patience", "3")
    resumed = train(a, folder, "--resume", "latest", "--epochs", "2", "--validation", "none")
    assert "| validation:" not in resumed.stdout, resumed.stdout
    with h5py.File(folder / "ckpt-00000012.h5", "r") as f:
        config = json.loads(f.attrs["config"])
        assert "val_loss" not in f.attrs
    assert "validation" not in config and "patience" not in config and config["keep_best"] is False
    refused = train(a, folder, "--resume", "latest", "--epochs", "3", "--validation", "none", "--keep-best", expect=None)
    assert refused.returncode != 0 and "--validation none" in refused.stderr


@pytest.mark.parametrize("change, named", [
    (lambda c: c["shape"].pop("hidden"), "shape.hidden is missing"),
    (lambda c: c["shape"].update(hidden="four"), "shape.hidden is not an integer"),
    (lambda c: c["shape"].update(optimizer="rmsprop"), "shape.optimizer is not a known value"),
    (lambda c: c.update(epochs=0), "epochs is 0, expected a positive integer"),
])
def test_a_malformed_config_is_named_in_one_line(data, change, named):
    tmp, a, _ = data
    folder = tmp / "ck"
    train(a, folder, "--max-steps", "1")
    path = folder / "ckpt-00000001.h5"
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["config"])
        change(config)
        f.attrs["config"] = json.dumps(config)
    for result in (run("evaluate", path, a, expect=None), train(a, folder, "--resume", "latest", expect=None)):
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:") and f"attribute config: {named}" in lines[0], result.stderr
