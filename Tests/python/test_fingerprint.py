"""The dataset fingerprint (docs/datasets.md, "Fingerprint"), checked from outside with h5py and
hashlib: `pack` records `dataset_fingerprint`, equal to the SHA-256 of docs/checkpoints.md
computed here in Python; train writes it into checkpoints; a copy whose attribute h5py deleted
(as a file packed before pack recorded it) resumes those checkpoints; a resume on other data is
refused with and without the attribute; `inspect --check` reports a file h5py changed after
packing in one `Error:` line.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import hashlib
import shutil

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

import lstm_cli  # noqa: E402

TEXT = "the quick brown fox jumps over the lazy dog; the dog sleeps and the fox runs far away. " * 3
OTHER_TEXT = "a stateful lstm carries its state across windows, row after row, slot by slot. " * 3
CSV = "id,a,b,y\n1,0.5,1,0.25\n1,0.7,2,0.5\n1,0.8,2,1.5\n2,0.1,3,1\n2,0.2,4,1.25\n3,1,1,0\n3,2,1,0\n"
PACKS = {
    "text": ("t.txt", TEXT, ["--length", "8", "--padding", "post"]),
    "csv": ("s.csv", CSV, ["--id", "id", "--target", "a,y", "--horizon", "1", "--normalize"]),
    "jsonl": ("j.jsonl", '{"x": [1, 2, 3, 4], "y": 1}\n{"x": [2, 5], "y": 0}\n{"x": [3, 3, 1], "y": 2}\n', ["--maxlen", "3"]),
}


def run(*arguments, expect=0):
    return lstm_cli.run(*map(str, arguments), expect=expect, timeout=120)


def pack(tmp_path, name, content, *flags, out="data.h5"):
    (tmp_path / name).write_text(content)
    run("pack", tmp_path / name, "--out", tmp_path / out, "--force", *flags)
    return tmp_path / out


def train(dataset, folder, *options, expect=0):
    return run("train", dataset, "--hidden", "4", "--embedding", "2", "--slots", "2", "--checkpoint-dir", folder, *options,
               expect=expect)


def attribute(path, name):
    with h5py.File(path, "r") as f:
        value = f.attrs.get(name)
    return value.decode() if isinstance(value, bytes) else value


def without_fingerprint(source, copy):
    """A copy of `source` as pack wrote it before it recorded the fingerprint."""
    shutil.copy(source, copy)
    with h5py.File(copy, "a") as f:
        del f.attrs["dataset_fingerprint"]
    return copy


def fingerprint(path):
    """docs/checkpoints.md's SHA-256, written again here: the header's fields as text, then
    /lengths, /targets, /vocab (int32 or float32 little-endian) and /normalization (float64)."""
    with h5py.File(path, "r") as f:
        a = {key: (value.decode() if isinstance(value, bytes) else value) for key, value in f.attrs.items()}
        inputs, targets = f["inputs"], f.get("targets")
        tokens = inputs.ndim == 2 and inputs.dtype.kind in "iu"
        rows, length = inputs.shape[:2]
        task = a["task"]
        classes = task in ("binary", "multiclass")
        if targets is None:
            width = 0
        elif classes:
            width = 1 if task == "binary" else int(a["num_classes"])
        else:
            width = 1 if targets.ndim == (1 if a["target_kind"] == "row" else 2) else targets.shape[-1]
        vocab = f["vocab"][()].astype("<i4") if "vocab" in f else np.zeros(0, "<i4")
        text = (f"rows={rows};length={length};inputs={'tokens' if tokens else 'features'};"
                f"features={0 if tokens else (inputs.shape[2] if inputs.ndim == 3 else 1)};"
                f"vocab_size={int(a.get('vocab_size', len(vocab))) if tokens else 0};"
                + (f"target_kind={a['target_kind']};" if targets is not None else "")
                + f"task={task};num_classes={int(a['num_classes']) if classes else 0};target_width={width};"
                f"padding={a['padding']};stream={a.get('stream', 'independent')};")
        if "horizon" in a:
            text += f"horizon={int(a['horizon'])};target_features={[int(v) for v in f['target_features'][()]]};"
        digest = hashlib.sha256(text.encode())
        digest.update(f["lengths"][()].astype("<i4").tobytes())
        if targets is not None:
            digest.update(targets[()].astype("<i4" if classes else "<f4").tobytes())
        digest.update(vocab.tobytes())
        if "normalization" in f:
            digest.update(b"normalization;")
            for name in ("inputs_mean", "inputs_std", "targets_mean", "targets_std"):
                if name in f["normalization"]:
                    digest.update(f["normalization"][name][()].astype("<f8").tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("case", sorted(PACKS))
def test_pack_records_the_fingerprint_the_spec_defines(tmp_path, case):
    name, content, flags = PACKS[case]
    dataset = pack(tmp_path, name, content, *flags)
    recorded = attribute(dataset, "dataset_fingerprint")
    assert recorded == fingerprint(dataset)
    assert f"fingerprint {recorded}" in " ".join(run("inspect", dataset).stdout.split())
    run("inspect", dataset, "--check")


def test_checkpoints_carry_the_recorded_value_and_resume_on_a_copy_without_it(tmp_path):
    dataset = pack(tmp_path, "t.txt", TEXT, "--length", "8")
    train(dataset, tmp_path / "ck", "--max-steps", "2")
    checkpoint = tmp_path / "ck" / "ckpt-00000002.h5"
    assert attribute(checkpoint, "dataset_fingerprint") == attribute(dataset, "dataset_fingerprint")
    old = without_fingerprint(dataset, tmp_path / "old.h5")
    resumed = train(old, tmp_path / "ck", "--resume", "latest", "--max-steps", "4")
    assert "Error" not in resumed.stderr
    assert attribute(tmp_path / "ck" / "ckpt-00000004.h5", "dataset_fingerprint") == attribute(dataset, "dataset_fingerprint")


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "computed"])
def test_a_resume_on_other_data_is_refused(tmp_path, recorded):
    dataset = pack(tmp_path, "t.txt", TEXT, "--length", "8")
    train(dataset, tmp_path / "ck", "--max-steps", "2")
    other = pack(tmp_path, "o.txt", OTHER_TEXT, "--length", "8", out="other.h5")
    if not recorded:
        other = without_fingerprint(other, tmp_path / "other-old.h5")
    refused = train(other, tmp_path / "ck", "--resume", "latest", expect=None)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "another dataset" in lines[0], refused.stderr
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["ckpt-00000002.h5"]


@pytest.mark.parametrize("change", ["targets", "lengths", "vocab"])
def test_inspect_check_reports_a_file_changed_after_packing(tmp_path, change):
    dataset = pack(tmp_path, "t.txt", TEXT, "--length", "8")
    with h5py.File(dataset, "a") as f:
        if change == "targets":
            f["targets"][3, 2] = (f["targets"][3, 2] + 1) % int(f.attrs["num_classes"])  # still a valid class
        elif change == "lengths":
            f["lengths"][0] = f["lengths"][0] - 1
        else:
            f["vocab"][0] = f["vocab"][0] - 1  # still sorted, another character
    run("inspect", dataset)  # the header alone is fine
    result = run("inspect", dataset, "--check", expect=None)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    assert "dataset_fingerprint" in lines[0] and "changed after it was packed" in lines[0]
    assert attribute(dataset, "dataset_fingerprint") in lines[0] and fingerprint(dataset) in lines[0]
    assert result.stdout == ""
