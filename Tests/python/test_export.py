"""`lstm-dist export` read by the tools it exports for, from outside: Keras 3 loads the .keras
file (numpy backend: inference only, 36 ms a call here where JAX retraced the LSTM's scan on
every eager call, 2.2 s; Keras imports jax with either), onnxruntime runs the ONNX model one timestep at a time, and the
safetensors tensors (read with the safetensors package, no PyTorch) drive a numpy nn.LSTM. Each
must give what `lstm-dist predict` writes, at valid timesteps, to 1e-5.

Three datasets: tokens with per-timestep targets (text), padded features with a per-row binary
label, and a 2-layer regression with per-timestep targets, normalised (`pack --normalize`): the
exported models read and predict original units, as predict writes them.
Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
os.environ.setdefault("KERAS_BACKEND", "numpy")
keras = pytest.importorskip("keras", reason="keras is not installed (scripts/install-deps.sh --tests installs it into .venv)")
onnx = pytest.importorskip("onnx", reason="onnx is not installed (scripts/install-deps.sh --tests installs it into .venv)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (scripts/install-deps.sh --tests installs it into .venv)")
safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="safetensors is not installed (scripts/install-deps.sh --tests installs it into .venv)")
import numpy as np  # noqa: E402

from lstm_cli import ROOT, run  # noqa: E402
sys.path.insert(0, str(ROOT / "scripts"))
import lstm_forward  # noqa: E402
import lstm_numpy  # noqa: E402

TOLERANCE = 1e-5


def regression_lines(rows=48, seed=3):
    """Two features far from zero (packed with --normalize), two per-timestep targets, lengths
    5 to 12 (post padding)."""
    rng = np.random.default_rng(seed)
    for _ in range(rows):
        z = rng.normal(size=(int(rng.integers(5, 13)), 2))
        x = z * [3.0, 0.5] + [100.0, -20.0]
        y = np.stack([np.cumsum(z[:, 0]) * 4 + 50, z[:, 1] - 0.5 * z[:, 0]], axis=1)
        yield json.dumps({"x": x.round(3).tolist(), "y": y.round(3).tolist()})


class Trained:
    """A packed dataset, a checkpoint trained on it, and what `predict` writes for it."""

    def __init__(self, folder, data, checkpoint):
        self.folder, self.data, self.checkpoint = folder, data, checkpoint
        with h5py.File(data) as f:
            self.inputs, self.lengths = f["inputs"][...], f["lengths"][...].astype(int)
            self.padding, self.per_step = f.attrs["padding"], f.attrs["target_kind"] == "step"
            if "normalization/inputs_mean" in f:  # z units on disk; exported models read original units
                statistics = f["normalization"]
                self.inputs = (self.inputs * statistics["inputs_std"][...] + statistics["inputs_mean"][...]).astype(np.float32)
        self.weights, self.config, self.slots, self.task = lstm_numpy.load_checkpoint(checkpoint)
        self.rows, self.length = self.inputs.shape[:2]
        self.reset_per_row = self.config["shape"]["reset"] == "row"
        self.valid = (np.arange(self.length)[None, :] >= (self.length - self.lengths)[:, None] if self.padding == "pre"
                      else np.arange(self.length)[None, :] < self.lengths[:, None])

    def predictions(self, layout="train"):
        out = self.folder / f"predictions-{layout}.h5"
        if not out.exists():
            run("predict", self.checkpoint, self.data, "--layout", layout, "--out", out)
        with h5py.File(out) as f:
            return f["predictions"][...]

    def export(self, fmt, *options, name=None):
        model = self.folder / (name or f"model.{fmt}")
        run("export", self.checkpoint, "--format", fmt, "--out", model, "--force", *options)
        return model

    def compare(self, ours, layout="train"):
        """Largest difference from predict over valid timesteps (per row: the rows with one),
        relative to values above 1 in size (regression outputs in original units: float32's own
        spacing near 50 is 4e-6)."""
        theirs = self.predictions(layout)
        difference = np.abs(ours - theirs) / np.maximum(1, np.abs(theirs))
        if self.per_step:
            return np.where(self.valid[..., None], difference, 0).max()
        return difference[self.lengths > 0].max()

    def collect(self, rows, outputs, into):
        """Stores `outputs` [rows, L, K] of the whole padded rows as predict reports them."""
        if self.per_step:
            into[rows] = outputs
        else:
            last = self.length - 1 if self.padding == "pre" else np.maximum(self.lengths[rows] - 1, 0)
            into[rows] = outputs[np.arange(len(rows)), last]

    def empty_predictions(self):
        width = self.weights["dense/bias"].shape[0]
        return np.zeros((self.rows, self.length, width) if self.per_step else (self.rows, width), np.float32)


def written(path, text):
    path.write_text(text)
    return path


DATASETS = {
    "tokens-per-step": (lambda folder: written(folder / "text.txt", (ROOT / "data/text.txt").read_text()[:4000]),
                        ["--length", "40"], ["--hidden", "24", "--window", "10", "--slots", "8", "--max-steps", "30"]),
    "features-binary-row": (lambda folder: written(folder / "sequences.jsonl", "".join((ROOT / "data/sequences.jsonl").open().readlines()[:160])),
                            ["--maxlen", "30"], ["--hidden", "16", "--slots", "8", "--max-steps", "40"]),
    "regression-2-layers": (lambda folder: written(folder / "regression.jsonl", "\n".join(regression_lines()) + "\n"),
                            ["--padding", "post", "--normalize"], ["--hidden", "12", "--layers", "2", "--slots", "4", "--epochs", "3"]),
}


@pytest.fixture(scope="module", params=list(DATASETS))
def trained(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    source, pack_options, train_options = DATASETS[request.param]
    data = folder / "data.h5"
    run("pack", source(folder), *pack_options, "--out", data)
    run("train", data, "--checkpoint-dir", folder / "ckpt", "--epochs", "1", *train_options)
    return Trained(folder, data, sorted((folder / "ckpt").glob("ckpt-*.h5"))[-1])


def keras_model_inputs(trained, rows):
    """x and mask for whole padded rows; a slot past its rows (-1) is fully masked."""
    present = rows >= 0
    picked = np.where(present, rows, 0)
    x = trained.inputs[picked]
    x = x.astype("int32") if x.ndim == 2 else x.astype("float32")
    return x, trained.valid[picked] & present[:, None]


def lstm_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]


def run_training_layout(trained, step):
    """Feeds the training layout's rows, S slots at once, a whole row per call (windows only
    chain the state): `step(rows, reset)` returns outputs [S, L, K]."""
    order = lstm_numpy.row_order("train", trained.rows, trained.slots)
    out = trained.empty_predictions()
    for ordinal in range(max(len(o) for o in order)):
        rows = np.array([o[ordinal] if ordinal < len(o) else -1 for o in order])
        outputs = step(rows, reset=ordinal == 0 or trained.reset_per_row)
        present = rows >= 0
        trained.collect(rows[present], outputs[present], out)
    return out


# Keras

def test_keras_model_in_the_training_layout_equals_predict(trained):
    model = keras.saving.load_model(trained.export("keras"))
    assert [i.name for i in model.inputs] == ["x", "mask"]
    assert all(layer.stateful and layer.return_sequences for layer in lstm_layers(model))

    def step(rows, reset):
        if reset:
            for layer in lstm_layers(model):
                layer.reset_state()
        return np.asarray(model(list(keras_model_inputs(trained, rows))))

    assert trained.compare(run_training_layout(trained, step)) < TOLERANCE


def test_keras_batch_1_on_independent_rows_equals_predict_independent(trained):
    model = keras.saving.load_model(trained.export("keras", "--batch", "1", name="batch1.keras"))
    assert model.inputs[0].shape[0] == 1
    out = trained.empty_predictions()
    for row in range(trained.rows):
        for layer in lstm_layers(model):
            layer.reset_state()
        outputs = np.asarray(model(list(keras_model_inputs(trained, np.array([row])))))
        trained.collect(np.array([row]), outputs, out)
    assert trained.compare(out, "independent") < TOLERANCE


def test_state_file_continues_a_mid_epoch_checkpoint_in_keras(tmp_path):
    """Stopped mid-epoch, each slot is inside a row; with the state file loaded, Keras' next
    window equals a numpy LSTM continuing from the checkpoint's state."""
    text = written(tmp_path / "text.txt", (ROOT / "data/text.txt").read_text()[:4000])
    data = tmp_path / "text.h5"
    run("pack", text, "--length", "40", "--out", data)
    window, stop = 10, 7  # 4 windows per row: step 7 is window 3 of each slot's second row
    run("train", data, "--hidden", "16", "--window", window, "--slots", "4", "--max-steps", stop, "--checkpoint-dir", tmp_path / "ckpt")
    checkpoint = tmp_path / "ckpt" / "ckpt-00000007.h5"
    trained = Trained(tmp_path, data, checkpoint)
    model = keras.saving.load_model(trained.export("keras"))
    with h5py.File(tmp_path / "model.state.h5") as f:
        h, c = f["state/h"][...], f["state/c"][...]
    for layer, (hl, cl) in enumerate(zip(h, c)):
        lstm_layers(model)[layer].states[0].assign(hl)
        lstm_layers(model)[layer].states[1].assign(cl)

    windows = trained.length // window
    order = lstm_numpy.row_order("train", trained.rows, trained.slots)
    rows = np.array([o[stop // windows] for o in order])
    span = slice((stop % windows) * window, (stop % windows + 1) * window)
    x, mask = keras_model_inputs(trained, rows)
    ours = np.asarray(model([x[:, span], mask[:, span]]))

    # numpy: the same window from the checkpoint's state.
    hidden, cell = h.astype(np.float64), c.astype(np.float64)
    top = lstm_forward.forward(trained.weights, trained.inputs[rows, span], hidden, cell, trained.valid[rows, span])
    expected = lstm_forward.head(trained.weights, top, "multiclass")
    assert np.abs(np.where(mask[:, span, None], ours - expected, 0)).max() < TOLERANCE
    # Carrying the state matters here: from zero state the same window differs.
    for layer in lstm_layers(model):
        layer.reset_state()
    assert np.abs(np.asarray(model([x[:, span], mask[:, span]])) - expected).max() > 10 * TOLERANCE


# ONNX

def onnx_session(trained):
    path = trained.export("onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == 8 and [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def onnx_step(session, trained, x, state):
    """One timestep for a batch of streams; returns y and the new state [layers][h, c]."""
    feed = {"x": x.astype(np.int64) if x.ndim == 1 else x.astype(np.float32)}
    for layer, (h, c) in enumerate(state):
        feed[f"h_{layer}"], feed[f"c_{layer}"] = h, c
    y, *flat = session.run(None, feed)
    return y, [(flat[2 * layer], flat[2 * layer + 1]) for layer in range(len(state))]


def zero_state(trained, batch):
    hidden = trained.config["shape"]["hidden"]
    return [(np.zeros((batch, hidden), np.float32), np.zeros((batch, hidden), np.float32)) for _ in range(trained.config["shape"]["layers"])]


def test_onnx_batch_of_all_slots_carrying_state_equals_predict(trained):
    session = onnx_session(trained)
    state = zero_state(trained, trained.slots)

    def step(rows, reset):
        nonlocal state
        if reset:
            state = zero_state(trained, trained.slots)
        x, mask = keras_model_inputs(trained, rows)
        outputs = []
        for t in range(trained.length):
            y, new = onnx_step(session, trained, x[:, t], state)
            keep = mask[:, t, None]  # a padded timestep leaves the state as it was
            state = [(np.where(keep, nh, h), np.where(keep, nc, c)) for (nh, nc), (h, c) in zip(new, state)]
            outputs.append(y)
        return np.stack(outputs, axis=1)

    assert trained.compare(run_training_layout(trained, step)) < TOLERANCE


def test_onnx_batch_1_fed_each_slots_valid_timesteps_equals_predict(trained):
    session = onnx_session(trained)
    out = trained.empty_predictions()
    for rows in lstm_numpy.row_order("train", trained.rows, trained.slots):
        state = zero_state(trained, 1)
        for ordinal, row in enumerate(rows):
            if trained.reset_per_row and ordinal > 0:
                state = zero_state(trained, 1)
            outputs = np.zeros((1, trained.length, trained.weights["dense/bias"].shape[0]), np.float32)
            for t in np.flatnonzero(trained.valid[row]):
                y, state = onnx_step(session, trained, trained.inputs[row, t][None], state)
                outputs[0, t] = y[0]
            trained.collect(np.array([row]), outputs, out)
    assert trained.compare(out) < TOLERANCE


# safetensors

def test_safetensors_drive_a_numpy_nn_lstm_that_equals_predict(trained):
    path = trained.export("safetensors")
    tensors = {name: value.astype(np.float64) for name, value in safetensors_numpy.load_file(path).items()}
    layers = trained.config["shape"]["layers"]
    assert set(tensors) == {f"lstm.{kind}_l{layer}" for layer in range(layers) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")} \
        | {"head.weight", "head.bias"} | ({"embedding.weight"} if trained.inputs.ndim == 2 else set())
    with open(path, "rb") as f:
        metadata = json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]
    task = {"sigmoid": "binary", "softmax": "multiclass", "none": "regression"}[metadata["head_activation"]]
    # nn.LSTM's gates W_ih x + b_ih + W_hh h + b_hh (chunks i, f, g, o, Keras' order) are Keras'
    # x @ kernel + h @ recurrent_kernel + bias with kernel = W_ih.T, recurrent_kernel = W_hh.T and
    # bias = b_ih + b_hh.
    weights = {"dense/kernel": tensors["head.weight"].T, "dense/bias": tensors["head.bias"]}
    if "embedding.weight" in tensors:
        weights["embedding/embeddings"] = tensors["embedding.weight"]
    for layer in range(layers):
        weights[f"lstm_{layer}/kernel"] = tensors[f"lstm.weight_ih_l{layer}"].T
        weights[f"lstm_{layer}/recurrent_kernel"] = tensors[f"lstm.weight_hh_l{layer}"].T
        weights[f"lstm_{layer}/bias"] = tensors[f"lstm.bias_ih_l{layer}"] + tensors[f"lstm.bias_hh_l{layer}"]
    state = None

    def step(rows, reset):
        nonlocal state
        if reset:
            state = np.zeros((2, layers, trained.slots, trained.config["shape"]["hidden"]))
        x, mask = keras_model_inputs(trained, rows)
        return lstm_forward.head(weights, lstm_forward.forward(weights, x, *state, mask), task)

    assert trained.compare(run_training_layout(trained, step)) < TOLERANCE


# Refusals

def test_export_refuses_what_it_cannot_write_and_files_that_are_not_checkpoints(trained, tmp_path):
    model = tmp_path / "m.keras"
    assert "must end in .keras" in run("export", trained.checkpoint, "--format", "keras", "--out", tmp_path / "m.zip", expect=1).stderr
    assert "--format" in run("export", trained.checkpoint, "--format", "tflite", "--out", model, expect=64).stderr
    assert "not an lstm-dist checkpoint" in run("export", trained.data, "--format", "onnx", "--out", tmp_path / "m.onnx", expect=1).stderr
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(Path(trained.checkpoint).read_bytes()[:2000])
    result = run("export", damaged, "--format", "safetensors", "--out", tmp_path / "m.safetensors", expect=1)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    wrong = tmp_path / "wrong-statistics.h5"
    shutil.copy(trained.checkpoint, wrong)
    with h5py.File(wrong, "a") as f:
        if "normalization" in f:
            del f["normalization"]
        f["normalization/inputs_mean"], f["normalization/inputs_std"] = np.zeros(7), np.ones(7)
    assert "/normalization holds 7 input and" in run("export", wrong, "--format", "onnx", "--out", tmp_path / "m.onnx", expect=1).stderr
    assert not any(tmp_path.glob("m.*"))

    run("export", trained.checkpoint, "--format", "keras", "--out", model)
    (tmp_path / "m.state.h5").unlink()
    (tmp_path / "m.onnx").write_bytes(b"keep me")
    # The model name is free but its state file is taken, and the other way round.
    (tmp_path / "other.state.h5").write_bytes(b"keep me")
    assert "already exists" in run("export", trained.checkpoint, "--format", "onnx", "--out", tmp_path / "m.onnx", expect=1).stderr
    assert "other.state.h5: already exists" in run("export", trained.checkpoint, "--format", "onnx", "--out", tmp_path / "other.onnx", expect=1).stderr
    assert (tmp_path / "m.onnx").read_bytes() == b"keep me" and (tmp_path / "other.state.h5").read_bytes() == b"keep me"
    assert "--batch applies to --format keras only" in run("export", trained.checkpoint, "--format", "onnx", "--out", tmp_path / "b.onnx", "--batch", "2", expect=1).stderr
    assert "must be 1 or more" in run("export", trained.checkpoint, "--format", "keras", "--out", tmp_path / "b.keras", "--batch", "0", expect=1).stderr
    run("export", trained.checkpoint, "--format", "onnx", "--out", tmp_path / "m.onnx", "--force")
    assert [p.name for p in sorted(tmp_path.iterdir()) if p.name.startswith(".")] == []


def test_export_refuses_a_checkpoint_whose_weights_fail_their_checksum(trained, tmp_path):
    damaged = tmp_path / "damaged.h5"
    shutil.copy(trained.checkpoint, damaged)
    with h5py.File(damaged) as f:
        kernel = f["model/dense/kernel"]
        if not kernel.fletcher32:
            pytest.skip("this build writes checkpoints without Fletcher32 checksums")
        offset = kernel.id.get_chunk_info(0).byte_offset
    data = bytearray(damaged.read_bytes())
    data[offset] ^= 0x40
    damaged.write_bytes(bytes(data))
    result = run("export", damaged, "--format", "keras", "--out", tmp_path / "m.keras", expect=1)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1 and "checksum" in result.stderr, result.stderr
    assert str(damaged) in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.h5"]
