"""The lstm-dist model's forward pass in plain numpy: the one LSTM that scripts/lstm_numpy.py and
the Python tests (Tests/python) check lstm-dist and its exports against.

Weights are named as in a checkpoint's /model (docs/checkpoints.md): embedding/embeddings [V, E]
(token inputs), lstm_N/kernel [I, 4H], lstm_N/recurrent_kernel [H, 4H], lstm_N/bias [4H] for
each layer N, dense/kernel [H, K], dense/bias [K]. Gates in Keras' order i, f, c (candidate), o:
i, f, o = sigmoid, g = tanh, c' = f*c + i*g, h' = o*tanh(c').

numpy only, no h5py: Tests/python/lstm_reference.py runs wherever numpy alone is installed.
"""
import numpy as np


def sigmoid(x):
    # tanh's form cannot overflow, as exp(-x) does for large negative x.
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def forward(weights, inputs, h, c, valid):
    """Every layer over a window of B streams: inputs are tokens [B, T] (looked up in the
    embedding) or features [B, T, I]; h and c [layers, B, H] are advanced in place; valid [B, T]
    is False at padded timesteps, which keep h and c as they were. Returns the top layer's
    outputs [B, T, H]."""
    x = weights["embedding/embeddings"][inputs] if inputs.ndim == 2 else inputs.astype(np.float64)
    for layer in range(h.shape[0]):
        kernel, recurrent, bias = (weights[f"lstm_{layer}/{name}"] for name in ("kernel", "recurrent_kernel", "bias"))
        hl, cl = h[layer], c[layer]
        outputs = np.zeros(x.shape[:2] + hl.shape[-1:])
        for t in range(x.shape[1]):
            i, f, g, o = np.split(x[:, t] @ kernel + hl @ recurrent + bias, 4, axis=-1)
            new_c = sigmoid(f) * cl + sigmoid(i) * np.tanh(g)
            new_h = sigmoid(o) * np.tanh(new_c)
            keep = valid[:, t, None]
            cl, hl = np.where(keep, new_c, cl), np.where(keep, new_h, hl)
            outputs[:, t] = hl
        h[layer], c[layer] = hl, cl
        x = outputs
    return x


def step(weights, x, h, c):
    """One timestep of one stream: x is a token or features [I]; h and c [layers, H] are advanced
    in place. Returns the top layer's output [H]."""
    # h[:, None] is a view: forward's in-place update reaches h.
    return forward(weights, np.asarray(x)[None, None], h[:, None], c[:, None], np.ones((1, 1), bool))[0, 0]


def head(weights, top, task):
    """The dense head on top-layer outputs [..., H], as a checkpoint's `task` reads it:
    probabilities (binary: one sigmoid, multiclass: softmax) or regression values, still in the
    units the model was trained in (see lstm_numpy.target_units)."""
    logits = top @ weights["dense/kernel"] + weights["dense/bias"]
    if task == "binary":
        return sigmoid(logits)
    if task == "multiclass":
        return softmax(logits)
    return logits
