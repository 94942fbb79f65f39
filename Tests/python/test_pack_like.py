"""`pack SPLIT --like TRAIN.h5` alone packs SPLIT as TRAIN.h5 was packed (its root attribute
`pack_options`, docs/datasets.md), checked from outside with h5py: every dataset and attribute but
`source` equals the split packed with the full flags; a contradicting flag is one `Error:` line;
a file whose record h5py deleted still needs and accepts the flags; `inspect` shows the record.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import json

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (make a venv: python3 -m venv .venv && .venv/bin/pip install numpy h5py pytest)")
import numpy as np  # noqa: E402

import lstm_cli  # noqa: E402

TRAIN_CSV = "id,a,b,y\n1,0.5,1,0\n1,0.7,2,0\n1,0.8,2,0\n2,0.1,3,1\n2,0.2,4,1\n3,1,1,0\n"
VALID_CSV = "id,a,b,y\n7,0.5,1,1\n7,0.9,2,1\n7,1.9,2,1\n8,0.1,3,0\n"
CASES = {
    "csv": ("train.csv", TRAIN_CSV, "valid.csv", VALID_CSV,
            ["--id", "id", "--label", "y", "--padding", "post", "--truncating", "post", "--maxlen", "2", "--normalize", "--value", "-1"]),
    "jsonl": ("train.jsonl", '{"x": [1, 2, 3, 4], "y": 1}\n{"x": [2, 5], "y": 0}\n{"x": [3, 3, 1], "y": 2}\n',
              "valid.jsonl", '{"x": [5, 4, 3, 2, 1], "y": 2}\n{"x": [1], "y": 0}\n',
              ["--maxlen", "3", "--padding", "post", "--truncating", "post", "--value", "9"]),
    "text": ("train.txt", "the quick brown fox jumps", "valid.txt", "the brown fox", ["--length", "7", "--padding", "post"]),
}


def run(*arguments, expect=0):
    return lstm_cli.run(*map(str, arguments), expect=expect)


def contents(path):
    """Every dataset and root attribute, `source` aside."""
    found = {}
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, item: found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
        found.update({f"@{key}": value for key, value in file.attrs.items() if key != "source"})
    return found


def assert_same(left, right):
    a, b = contents(left), contents(right)
    assert sorted(a) == sorted(b)
    for key in a:
        assert np.array_equal(np.asarray(a[key]), np.asarray(b[key])), key


def pack_train(tmp_path, case):
    train_name, train_text, _, _, flags = CASES[case]
    (tmp_path / train_name).write_text(train_text)
    train = tmp_path / "train.h5"
    run("pack", tmp_path / train_name, "--out", train, *flags)
    return train


@pytest.mark.parametrize("case", sorted(CASES))
def test_split_packed_with_like_alone_equals_the_full_flags(tmp_path, case):
    train = pack_train(tmp_path, case)
    _, _, valid_name, valid_text, flags = CASES[case]
    (tmp_path / valid_name).write_text(valid_text)
    run("pack", tmp_path / valid_name, "--like", train, "--out", tmp_path / "alone.h5")
    run("pack", tmp_path / valid_name, "--like", train, "--out", tmp_path / "flags.h5", *flags)
    assert_same(tmp_path / "alone.h5", tmp_path / "flags.h5")
    with h5py.File(train, "r") as file:
        record = json.loads(file.attrs["pack_options"])
    assert record["format"] == case and record["padding"] == "post"


def test_contradicting_flag_is_one_error_line_naming_both_values(tmp_path):
    train = pack_train(tmp_path, "csv")
    (tmp_path / "valid.csv").write_text(VALID_CSV)
    result = run("pack", tmp_path / "valid.csv", "--like", train, "--padding", "pre", "--out", tmp_path / "v.h5", expect=None)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "--padding pre" in lines[0] and "padding post" in lines[0] and str(train) in lines[0]
    assert not (tmp_path / "v.h5").exists()


def test_inspect_shows_the_record_and_a_file_without_it_needs_the_flags(tmp_path):
    train = pack_train(tmp_path, "csv")
    text = run("inspect", train).stdout
    assert 'packed with pack_options {"compression":1,"features":["a","b"],"format":"csv"' in text, text
    summary = json.loads(run("inspect", train, "--json").stdout)
    assert summary["pack_options"]["label"] == "y" and summary["pack_options"]["maxlen"] == 2
    assert summary["pack_options"]["value"] == -1 and summary["pack_options"]["normalize"] is True

    old = tmp_path / "old.h5"
    old.write_bytes(train.read_bytes())
    with h5py.File(old, "a") as file:
        del file.attrs["pack_options"]
    assert "pack_options" not in json.loads(run("inspect", old, "--json").stdout)
    assert "packed with" not in run("inspect", old).stdout
    (tmp_path / "valid.csv").write_text(VALID_CSV)
    alone = run("pack", tmp_path / "valid.csv", "--like", old, "--out", tmp_path / "a.h5", expect=None)
    assert alone.returncode != 0 and alone.stderr.count("\n") == 1, alone.stderr
    run("pack", tmp_path / "valid.csv", "--like", old, "--out", tmp_path / "flags.h5", *CASES["csv"][4])
    run("pack", tmp_path / "valid.csv", "--like", train, "--out", tmp_path / "record.h5")
    assert_same(tmp_path / "flags.h5", tmp_path / "record.h5")


@pytest.mark.parametrize("name,text,extra", [("t.txt", "hello world", []), ("s.csv", "a,b\n1,2\n3,4\n", [])])
def test_maxlen_is_refused_in_one_line_where_rows_are_cut_by_length(tmp_path, name, text, extra):
    (tmp_path / name).write_text(text)
    result = run("pack", tmp_path / name, "--maxlen", "3", "--out", tmp_path / "o.h5", *extra, expect=None)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --maxlen"), result.stderr
    assert "--length" in lines[0]
