"""Untrusted and damaged files (docs/datasets.md, "What readers refuse" and "Checksums"): datasets
written by h5py that break one rule each go through train, evaluate, predict and
`inspect --check`, alone and under mpirun; checkpoints with one flipped byte; a bounded mutation
fuzz of packed files through the CLI. Each refusal is one `Error:` line naming the place, a
non-zero exit without a signal, and nothing left behind.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import functools
import os
import re
import random
import shutil
import subprocess

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

import lstm_cli  # noqa: E402

run = functools.partial(lstm_cli.run, expect=None, timeout=120)  # callers check the exit code
N, L, F = 8, 6, 2
LENGTHS = np.array([6, 3, 0, 5, 1, 6, 4, 2], dtype=np.int64)


def valid_steps(length):
    """Pre-padding: the valid timesteps are the last `length`."""
    return range(L - length, L)


def write_dataset(path, kind, change=None):
    """An h5py dataset in h5py's default types (int64 and float64, unchunked, no checksums) with
    garbage in the padding, which readers must ignore: NaN features, -1 tokens and class ids.
    `change(file, arrays, attrs)` breaks one rule before it is written."""
    rng = np.random.default_rng(0)
    attrs = dict(format="lstm-dist dataset", version=1, padding="pre", stream="independent", source="crafted")
    arrays = dict(lengths=LENGTHS.copy())
    if kind == "tokens":
        arrays["inputs"] = np.full((N, L), -1, dtype=np.int64)
        arrays["targets"] = np.full((N, L), -1, dtype=np.int64)
        for row, length in enumerate(LENGTHS):
            for t in valid_steps(length):
                arrays["inputs"][row, t] = rng.integers(0, 5)
                arrays["targets"][row, t] = rng.integers(0, 4)
        attrs.update(target_kind="step", task="multiclass", num_classes=4, vocab_size=5)
    else:
        arrays["inputs"] = np.full((N, L, F), np.nan)
        for row, length in enumerate(LENGTHS):
            arrays["inputs"][row, valid_steps(length)] = rng.normal(size=(length, F))
        if kind == "binary":
            arrays["targets"] = np.array([1, 0, -1, 1, 0, 1, 0, 1], dtype=np.int64)
            attrs.update(target_kind="row", task="binary", num_classes=2)
        else:
            arrays["targets"] = np.full((N, L, 1), np.nan)
            for row, length in enumerate(LENGTHS):
                arrays["targets"][row, valid_steps(length)] = rng.normal(size=(length, 1))
            attrs.update(target_kind="step", task="regression")
    if change:
        change(arrays, attrs)
    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            if value is not None:
                f[name] = value
        for name, value in attrs.items():
            if value is not None:
                f.attrs[name] = value
    return path


def setter(dataset, index, value):
    def change(arrays, _):
        arrays[dataset][index] = value
    return change


def attribute(name, value):
    def change(_, attrs):
        attrs[name] = value
    return change


def replace(dataset, value):
    def change(arrays, _):
        arrays[dataset] = value
    return change


# name: (base, change, what the one line must name). Row 5 has 6 valid timesteps, row 1 three
# (timesteps 3 to 5).
BROKEN = {
    "negative length": ("binary", setter("lengths", 3, -2), "dataset /lengths, row 3: length -2 is outside 0...6"),
    "length above L": ("binary", setter("lengths", 6, 7), "dataset /lengths, row 6: length 7 is outside 0...6"),
    "NaN feature": ("binary", setter("inputs", (5, 2, 1), np.nan), "dataset /inputs, row 5, timestep 2: feature 1 is nan"),
    "infinite feature": ("binary", setter("inputs", (1, 4, 0), np.inf), "dataset /inputs, row 1, timestep 4: feature 0 is inf"),
    "binary class 2": ("binary", setter("targets", 6, 2), "dataset /targets, row 6: class id 2 is not 0 or 1 (binary)"),
    "class id past num_classes": ("tokens", setter("targets", (5, 3), 4), "dataset /targets, row 5, timestep 3: class id 4 is outside 0..<4"),
    "token id past vocab_size": ("tokens", setter("inputs", (0, 1), 5), "dataset /inputs, row 0, timestep 1: token id 5 is outside 0..<5"),
    "negative token id": ("tokens", setter("inputs", (7, 5), -3), "dataset /inputs, row 7, timestep 5: token id -3"),
    "NaN target": ("regression", setter("targets", (3, 4, 0), np.nan), "dataset /targets, row 3, timestep 4: value 0 is nan"),
    "huge num_classes": ("tokens", attribute("num_classes", 1 << 40), "attribute num_classes: 1099511627776 is outside 2...1048576"),
    "one class": ("binary", attribute("num_classes", 1), "num_classes"),
    "vocab_size 0": ("tokens", attribute("vocab_size", 0), "attribute vocab_size: 0 is outside 1...2097152"),
    "missing /lengths": ("binary", replace("lengths", None), "dataset /lengths: not found"),
    "missing task": ("binary", attribute("task", None), "attribute task: missing"),
    "string inputs": ("binary", replace("inputs", np.array([[b"ab"] * L] * N)), "dataset /inputs holds strings"),
    "boolean targets": ("binary", replace("targets", np.ones(N, dtype=bool)), "dataset /targets holds values that are not numbers"),
    "zero rows": ("binary", lambda a, _: a.update(inputs=np.zeros((0, L, F)), lengths=np.zeros(0, np.int64), targets=np.zeros(0, np.int64)), "no rows"),
    "targets shape": ("binary", replace("targets", np.zeros(N - 1, np.int64)), "/targets has shape [7]"),
}


def assert_refused(result, fragment, ranks=None):
    """Non-zero exit, no signal, exactly one `Error:` line, naming the place."""
    assert result.returncode > 0, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stdout + result.stderr
    assert fragment in errors[0], errors[0]
    assert "Fatal error" not in result.stderr and "backtrace" not in result.stderr.lower(), result.stderr


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """One small checkpoint per base dataset, trained on the padding-with-garbage files: so
    padding that holds NaN and -1 is accepted."""
    folder = tmp_path_factory.mktemp("checkpoints")
    paths = {}
    for kind in ("binary", "tokens", "regression"):
        data = write_dataset(folder / f"{kind}.h5", kind)
        result = run("train", data, "--epochs", "1", "--hidden", "4", "--embedding", "3", "--slots", "2",
                     "--checkpoint-dir", folder / kind)
        assert result.returncode == 0, result.stdout + result.stderr
        paths[kind] = sorted((folder / kind).glob("ckpt-*.h5"))[-1]
        for command in (["evaluate", paths[kind], data], ["predict", paths[kind], data, "--out", folder / f"{kind}-p.h5"],
                        ["inspect", data, "--check"]):
            result = run(*command)
            assert result.returncode == 0, result.stdout + result.stderr
    return paths


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_dataset_breaking_one_rule_is_refused_by_every_reader(tmp_path, checkpoints, name):
    kind, change, fragment = BROKEN[name]
    data = write_dataset(tmp_path / "bad.h5", kind, change)
    out = tmp_path / "out"
    out.mkdir()
    checkpoint = checkpoints[kind]
    assert_refused(run("train", data, "--epochs", "1", "--hidden", "4", "--slots", "2", "--checkpoint-dir", out / "ckpt"), fragment)
    assert_refused(run("evaluate", checkpoint, data), fragment)
    assert_refused(run("predict", checkpoint, data, "--out", out / "p.h5"), fragment)
    assert_refused(run("inspect", data, "--check"), fragment)
    assert list(out.iterdir()) == [], "nothing is left behind"


@pytest.mark.parametrize("command", ["evaluate", "predict", "train"])
def test_under_mpirun_a_bad_value_in_one_ranks_shard_ends_the_job_with_one_line(tmp_path, checkpoints, command):
    # Rank 1 owns rows 4 to 7 of the checkpoint's 2 global slots... with 2 ranks x 1 slot.
    data = write_dataset(tmp_path / "bad.h5", "binary", setter("inputs", (6, 5, 0), np.nan))
    out = tmp_path / "out"
    out.mkdir()
    arguments = {
        "evaluate": ["evaluate", checkpoints["binary"], data],
        "predict": ["predict", checkpoints["binary"], data, "--out", out / "p.h5"],
        "train": ["train", data, "--epochs", "1", "--hidden", "4", "--slots", "1", "--checkpoint-dir", out / "ckpt"],
    }[command]
    assert_refused(run(*arguments, ranks=2), "dataset /inputs, row 6, timestep 5: feature 0 is nan")
    assert list(out.iterdir()) == []


def chunk_offset(path, dataset):
    with h5py.File(path, "r") as f:
        d = f[dataset]
        assert d.fletcher32, f"{dataset} has no Fletcher32 checksum"
        return d.id.get_chunk_info(0).byte_offset


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x40]))


def test_a_flipped_byte_in_a_checkpoint_tensor_is_refused_by_evaluate_predict_and_resume(tmp_path):
    data = write_dataset(tmp_path / "data.h5", "binary")
    folder = tmp_path / "ckpt"
    result = run("train", data, "--epochs", "2", "--hidden", "4", "--slots", "2", "--checkpoint-dir", folder)
    assert result.returncode == 0, result.stdout + result.stderr
    older, newest = sorted(folder.glob("ckpt-*.h5"))[-2:]
    flip_byte(newest, chunk_offset(newest, "/model/lstm_0/recurrent_kernel") + 5)
    fragment = f"checksum mismatch in /model/lstm_0/recurrent_kernel of {newest}"
    assert_refused(run("evaluate", newest, data), fragment)
    assert_refused(run("predict", newest, data, "--out", tmp_path / "p.h5"), fragment)
    assert not (tmp_path / "p.h5").exists()
    resumed = run("train", data, "--epochs", "3", "--checkpoint-dir", folder, "--resume", "latest")
    assert_refused(resumed, fragment)
    assert f"{older} reads cleanly: resume from it with --resume {older}" in resumed.stderr


def test_every_dataset_lstm_dist_writes_carries_fletcher32_in_the_1_10_format(tmp_path):
    data = tmp_path / "text.h5"
    assert run("pack", "data/text.txt", "--length", "40", "--out", data).returncode == 0
    result = run("train", data, "--max-steps", "1", "--hidden", "4", "--slots", "2", "--checkpoint-dir", tmp_path / "ckpt")
    assert result.returncode == 0, result.stderr
    checkpoint = next((tmp_path / "ckpt").glob("ckpt-*.h5"))
    assert run("predict", checkpoint, data, "--out", tmp_path / "p.h5").returncode == 0
    for path in (data, checkpoint, tmp_path / "p.h5"):
        with h5py.File(path, "r") as f:
            assert f.id.get_create_plist().get_version()[0] >= 2, f"{path}: superblock without a checksum"
            names = []
            f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
            assert names
            for name in names:
                assert f[name].fletcher32, f"{path}: {name} has no Fletcher32 checksum"


def test_mutated_packed_files_are_refused_or_read_unchanged(tmp_path):
    """About 20 seeded mutations through the CLI: no signal, no hang; an accepted file holds the
    same values as the original (the mutation hit no data)."""
    original = tmp_path / "data.h5"
    assert run("pack", "data/sequences.jsonl", "--out", original).returncode == 0
    with h5py.File(original, "r") as f:
        expected = {name: f[name][...] for name in ("inputs", "lengths", "targets")}
    size = original.stat().st_size
    rng = random.Random(11)
    refused = 0
    for case in range(20):
        mutated = tmp_path / f"m{case}.h5"
        shutil.copy(original, mutated)
        with open(mutated, "r+b") as f:
            for _ in range(rng.randint(1, 3)):
                f.seek(rng.randrange(size))
                f.write(bytes([rng.randrange(256)]))
        result = run("inspect", mutated, "--check", timeout=30)
        assert result.returncode in (0, 1), f"case {case}: exit {result.returncode}\n{result.stderr}"
        if result.returncode == 1:
            refused += 1
            assert len([l for l in result.stderr.splitlines() if l.startswith("Error:")]) == 1, result.stderr
            continue
        with h5py.File(mutated, "r") as f:
            for name, values in expected.items():
                np.testing.assert_array_equal(f[name][...], values, err_msg=f"case {case}: {name} changed silently")
    assert refused > 0


def test_a_global_heap_object_libhdf5_would_crash_on_is_one_line(tmp_path):
    """libhdf5 1.10.8 copies an object of the global heap (where variable-length string attributes
    live) by the size the file gives, unchecked: one damaged size byte made it read out of bounds
    and die of SIGSEGV (2 of 350 mutations in the fuzz above once did). Every command stops with
    one line naming the file instead."""
    original = tmp_path / "data.h5"
    assert run("pack", "data/sequences.jsonl", "--out", original).returncode == 0
    data = bytearray(original.read_bytes())
    heap = data.find(b"GCOL")
    assert heap >= 0, "no global heap: the dataset has no variable-length strings"
    # The collection's header is 16 bytes; its first object (the `format` string) starts with a
    # 2-byte index, a 2-byte reference count, 4 reserved bytes and an 8-byte little-endian size.
    data[heap + 16 + 8 + 5] = 0x8E  # the size grows by about 1.5e14 bytes
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(data)
    for command in (["inspect", damaged, "--check"],
                    ["train", damaged, "--epochs", "1", "--checkpoint-dir", tmp_path / "checkpoints"]):
        result = run(*command)
        assert result.returncode == 1, f"{command[0]}: exit {result.returncode}\n{result.stderr}"
        assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"Error: {damaged}"), result.stderr
    assert not (tmp_path / "checkpoints").exists()


@pytest.fixture
def small_filesystem(tmp_path):
    """Mounts tmpfs file systems under tmp_path (root only): `mount(name, size, read_only)`."""
    if os.getuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = []

    def mount(name, size, read_only=False):
        point = tmp_path / name
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)])


def test_a_full_disk_during_a_checkpoint_is_one_line_and_the_previous_checkpoint_resumes_exactly(tmp_path, small_filesystem):
    data = write_dataset(tmp_path / "data.h5", "binary")
    train = ["train", data, "--hidden", "24", "--slots", "2"]
    result = run(*train, "--epochs", "2", "--checkpoint-dir", tmp_path / "straight")
    assert result.returncode == 0, result.stderr
    straight = sorted((tmp_path / "straight").glob("ckpt-*.h5"))
    size = straight[-1].stat().st_size
    full = small_filesystem("full", (size * 3 // 2 // 4096 + 1) * 4096)  # room for one checkpoint

    result = run(*train, "--epochs", "2", "--checkpoint-dir", full)
    first = full / straight[0].name
    assert_refused(result, f"{full / straight[1].name}: cannot write: No space left on device; {first} is intact")
    assert sorted(p.name for p in full.iterdir()) == [first.name], "no temporary file is left"

    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copy(first, resumed)
    result = run(*train, "--epochs", "2", "--checkpoint-dir", resumed, "--resume", "latest")
    assert result.returncode == 0, result.stderr
    with h5py.File(straight[-1], "r") as a, h5py.File(resumed / straight[-1].name, "r") as b:
        names = []
        a.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        for name in names:
            np.testing.assert_array_equal(a[name][...], b[name][...], err_msg=name)


def test_an_output_in_a_read_only_folder_is_one_line_with_the_reason(tmp_path, small_filesystem, checkpoints):
    data = write_dataset(tmp_path / "data.h5", "binary")
    folder = small_filesystem("read-only", 65536, read_only=True)
    assert_refused(run("predict", checkpoints["binary"], data, "--out", folder / "p.h5"),
                   f"{folder / 'p.h5'}: cannot write: Read-only file system")
    assert_refused(run("pack", "data/sequences.jsonl", "--out", folder / "d.h5"), f"{folder / 'd.h5'}: cannot write: Read-only file system")


@pytest.mark.parametrize("form", ["onnx", "safetensors", "keras"])
def test_an_export_to_a_full_disk_is_one_line_naming_the_output_and_the_reason(tmp_path, small_filesystem, checkpoints, form):
    full = small_filesystem("full", 4096)
    out = full / f"model.{form}"
    result = run("export", checkpoints["tokens"], "--format", form, "--out", out)
    assert_refused(result, ": cannot write: No space left on device")
    # The model is written first; a small one fits, and then its state file does not.
    assert re.search(rf"Error: ({re.escape(str(out))}|{re.escape(str(full / 'model.state.h5'))}): cannot write", result.stderr), result.stderr
    assert list(full.iterdir()) == [], "neither the model, its state file nor a temporary file is left"


def test_pack_reports_a_malformed_value_as_its_only_line(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("id,x,label\n1,0.5,1\n1,abc,1\n2,0.1,0\n")
    result = run("pack", source, "--id", "id", "--label", "label", "--out", tmp_path / "b.h5")
    assert_refused(result, "bad.csv: line 3, column 'x': 'abc' is not a finite number")
    assert result.stdout == "", "nothing inferred is printed before the error"
    assert list(tmp_path.iterdir()) == [source]


@pytest.mark.parametrize("spelling", [["--value", "-1"], ["--value=-1"]])
def test_negative_option_values_are_taken_as_typed(tmp_path, spelling):
    out = tmp_path / "d.h5"
    result = run("pack", "data/sequences.jsonl", *spelling, "--out", out)
    assert result.returncode == 0, result.stderr
    with h5py.File(out, "r") as f:
        lengths, inputs = f["lengths"][...], f["inputs"][...]
    row = int(np.argmin(lengths))
    assert lengths[row] < inputs.shape[1]
    assert (inputs[row, : inputs.shape[1] - lengths[row]] == -1).all(), "pre-padding holds the value"
    refused = run("train", out, "--slots", "-2")
    assert_refused(refused, "--slots must be at least 1, got -2")


def test_sizes_beyond_the_machines_memory_are_refused_before_allocating(tmp_path, checkpoints):
    data = write_dataset(tmp_path / "data.h5", "binary")
    assert_refused(run("train", data, "--hidden", "3000000000", "--slots", "4", "--checkpoint-dir", tmp_path / "c"),
                   "--hidden 3000000000, --layers 1, --slots 4, --window 6 (1 output) on")
    assert_refused(run("train", data, "--slots", "4", "--window", "6", "--layers", "100000000", "--checkpoint-dir", tmp_path / "c"),
                   "GB of memory, more than this machine's")

    huge = tmp_path / "huge.h5"  # declared, never written: h5py allocates nothing
    with h5py.File(huge, "w") as f:
        f.create_dataset("inputs", shape=(4, 10**7, 10**5), dtype="f4", chunks=(1, 1, 1000))
        f["lengths"] = np.ones(4, np.int64)
        f["targets"] = np.zeros(4, np.int64)
        f.attrs.update(format="lstm-dist dataset", version=1, padding="pre", stream="independent", source="x",
                       target_kind="row", task="binary", num_classes=2)
    assert_refused(run("inspect", huge, "--check"), "one row of /inputs and /targets would need about 4000 GB")

    damaged = tmp_path / "ckpt.h5"
    shutil.copy(checkpoints["binary"], damaged)
    with h5py.File(damaged, "r+") as f:
        f.attrs["config"] = f.attrs["config"].replace('"hidden":4', '"hidden":4000000000')
    assert_refused(run("evaluate", damaged, data), f"{damaged}: its configuration (hidden 4000000000")
