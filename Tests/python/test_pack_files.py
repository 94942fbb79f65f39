"""Checks the files `lstm-dist pack` writes from outside, with h5py: every dataset and
attribute docs/datasets.md names, on the committed samples; and that a dataset written by
h5py with its default types is read by `lstm-dist inspect`.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import json
import functools
from pathlib import Path

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (make a venv: python3 -m venv .venv && .venv/bin/pip install numpy h5py pytest)")
import numpy as np  # noqa: E402  (h5py depends on numpy)

from lstm_cli import ROOT  # noqa: E402
import lstm_cli  # noqa: E402

run = functools.partial(lstm_cli.run, expect=None)  # callers check the exit code

SAMPLES = {
    "text": (["data/text.txt"], dict(inputs="tokens", task="multiclass", target_kind="step", stream="contiguous")),
    "sequences": (["data/sequences.jsonl"], dict(inputs="features", task="binary", target_kind="row", stream="independent")),
    "sensors": (["data/sensors.csv", "--target", "demand", "--horizon", "1"],
                dict(inputs="features", task="regression", target_kind="step", stream="contiguous")),
}


def pack(tmp_path, name):
    arguments, _ = SAMPLES[name]
    out = tmp_path / f"{name}.h5"
    result = run("pack", *arguments, "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def string_attribute(file, name):
    value = file.attrs[name]
    assert h5py.check_string_dtype(file.attrs.get_id(name).dtype).encoding == "utf-8", f"{name} is not a UTF-8 string"
    return value


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_packs_into_every_dataset_and_attribute_of_the_spec(tmp_path, name):
    out, report = pack(tmp_path, name)
    expected = SAMPLES[name][1]
    assert f"task: {expected['task']}" in report
    with h5py.File(out, "r") as file:
        assert string_attribute(file, "format") == "lstm-dist dataset"
        assert file.attrs["version"] == 1 and file.attrs["version"].dtype == np.int64
        for attribute in ("padding", "target_kind", "task", "stream", "source"):
            string_attribute(file, attribute)
        assert file.attrs["padding"] == "pre"
        assert file.attrs["task"] == expected["task"]
        assert file.attrs["target_kind"] == expected["target_kind"]
        assert file.attrs["stream"] == expected["stream"]
        assert file.attrs["source"] == Path(SAMPLES[name][0][0]).name

        inputs, lengths, targets = file["inputs"], file["lengths"], file["targets"]
        rows, length = inputs.shape[:2]
        assert lengths.dtype == np.int32 and lengths.shape == (rows,)
        assert 1 <= lengths[:].min() and lengths[:].max() <= length
        for dataset in (inputs, lengths, targets):
            assert dataset.chunks is not None and dataset.shuffle and dataset.compression == "gzip"
            assert dataset.compression_opts == 1

        if expected["inputs"] == "tokens":
            assert inputs.dtype == np.int32 and inputs.ndim == 2
            vocab = file["vocab"][:]
            assert vocab.dtype == np.int32 and list(vocab) == sorted(set(vocab))
            assert file.attrs["vocab_size"] == len(vocab) == file.attrs["num_classes"]
            assert inputs[:].max() < len(vocab)
        else:
            assert inputs.dtype == np.float32 and inputs.ndim == 3
            assert "vocab" not in file and "vocab_size" not in file.attrs

        step = expected["target_kind"] == "step"
        if expected["task"] == "regression":
            assert targets.dtype == np.float32
            assert targets.shape == ((rows, length, 1) if step else (rows, 1))
            assert "num_classes" not in file.attrs
        else:
            assert targets.dtype == np.int32
            assert targets.shape == ((rows, length) if step else (rows,))
            assert 0 <= targets[:].min() and targets[:].max() < file.attrs["num_classes"]
        if expected["task"] == "binary":
            assert file.attrs["num_classes"] == 2

        # Pre-padding: a row's valid timesteps are its last `length` ones, the rest pad value 0.
        shortest = int(np.argmin(lengths[:]))
        padded = length - lengths[shortest]
        if padded:
            assert not np.any(inputs[shortest, :padded])


def test_text_targets_are_the_next_character_across_rows(tmp_path):
    out, _ = pack(tmp_path, "text")
    text = (ROOT / "data/text.txt").read_text()
    with h5py.File(out, "r") as file:
        vocab = [chr(code) for code in file["vocab"][:]]
        first_rows = "".join(vocab[token] for token in file["inputs"][:3].ravel())
        following = "".join(vocab[token] for token in file["targets"][:3].ravel())
    assert first_rows == text[:300]
    assert following == text[1:301]


def test_sequences_sample_keeps_each_line_in_order(tmp_path):
    out, _ = pack(tmp_path, "sequences")
    first = json.loads((ROOT / "data/sequences.jsonl").read_text().splitlines()[0])
    with h5py.File(out, "r") as file:
        length = file["inputs"].shape[1]
        steps = len(first["x"])
        assert file["lengths"][0] == steps
        np.testing.assert_allclose(file["inputs"][0, length - steps:], np.array(first["x"], dtype=np.float32))
        assert file["targets"][0] == first["y"]


def test_inspect_reads_a_dataset_written_by_h5py_with_default_types(tmp_path):
    path = tmp_path / "h5py.h5"
    with h5py.File(path, "w") as file:
        file["inputs"] = np.arange(12, dtype=np.float64).reshape(2, 3, 2)  # float64, contiguous
        file["lengths"] = np.array([3, 1])  # int64
        file["targets"] = np.array([0.5, -2.0])  # [N] regression reads as K = 1
        file.attrs.update({"format": "lstm-dist dataset", "version": 1, "padding": "post",
                           "target_kind": "row", "task": "regression", "stream": "independent", "source": "hand"})
    result = run("inspect", path, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["rows"], summary["length"], summary["features"]) == (2, 3, 2)
    assert summary["lengths"] == {"min": 1, "mean": 2.0, "max": 3}
    assert (summary["task"], summary["target_width"], summary["padding"]) == ("regression", 1, "post")


def test_bad_input_exits_non_zero_with_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,a,label\n1,0.5,0\n1,0.5\n")
    out = tmp_path / "out.h5"
    result = run("pack", bad, "--id", "id", "--label", "label", "--out", out)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert f"{bad}: line 3: 2 fields, expected 3" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_inspect_describes_a_packed_sample_for_people_and_for_scripts(tmp_path):
    out, _ = pack(tmp_path, "sequences")
    text = run("inspect", out)
    assert text.returncode == 0, text.stderr
    for expected in ("rows (N)    1000", "length (L)  40", "3 features per timestep", "lengths     min 5, mean ",
                     "padding     pre", "per row: binary, 2 classes", "stream      independent", "source      sequences.jsonl"):
        assert expected in text.stdout
    summary = json.loads(run("inspect", out, "--json").stdout)
    assert summary["format"] == "lstm-dist dataset"
    assert (summary["rows"], summary["length"], summary["features"], summary["num_classes"]) == (1000, 40, 3, 2)
    assert (summary["lengths"]["min"], summary["lengths"]["max"]) == (5, 40)
    assert (summary["task"], summary["target_kind"], summary["stream"]) == ("binary", "row", "independent")
