"""PyTorch's side of scripts/bench-vs-pytorch.sh: the same training step as `lstm-bench model`
(embedding, stacked nn.LSTM on its fused CPU kernel, dense head, softmax cross-entropy over every
timestep, Adam), one thread, the state carried and detached per window. Prints one JSON object:
median tokens/s over timed windows per configuration, in thread CPU time as lstm-bench measures.
With --precision bf16, forward and loss run under torch.autocast("cpu", dtype=torch.bfloat16), as
a PyTorch user turns on mixed precision: fp32 master weights, fp32 Adam, the state carried in fp32.

    python scripts/bench_pytorch.py SECONDS [--precision fp32|bf16] CASE...      CASE: charlm or large
"""
import contextlib
import json
import statistics
import sys
import time

import torch
from torch import nn

CASES = {  # vocabulary, embedding, hidden, layers, window, slots: as lstm-bench's BenchCase
    "charlm": (96, 64, 256, 1, 64, 32),
    "large": (96, 128, 512, 2, 64, 64),
}


class CharLM(nn.Module):
    def __init__(self, vocabulary, embedding, hidden, layers):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding)
        self.lstm = nn.LSTM(embedding, hidden, layers)  # time-major [T, B, E]
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, tokens, state):
        outputs, state = self.lstm(self.embedding(tokens), state)
        return self.head(outputs), state


def measure(name, seconds, precision):
    vocabulary, embedding, hidden, layers, window, slots = CASES[name]
    torch.manual_seed(0)
    model = CharLM(vocabulary, embedding, hidden, layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = nn.CrossEntropyLoss()
    tokens = torch.randint(0, vocabulary, (window, slots))
    targets = torch.randint(0, vocabulary, (window, slots))
    state = tuple(torch.zeros(layers, slots, hidden) for _ in range(2))

    def autocast():
        if precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step(state):
        state = tuple(s.detach().float() for s in state)
        with autocast():
            logits, state = model(tokens, state)
            loss = loss_function(logits.reshape(-1, vocabulary), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return state

    state = step(state)  # warm up
    durations, start = [], time.thread_time()
    while time.thread_time() - start < seconds or len(durations) < 5:
        begin = time.thread_time()
        state = step(state)
        durations.append(time.thread_time() - begin)
    return {"tokens_per_s": window * slots / statistics.median(durations), "windows": len(durations)}


def main():
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    seconds, names, precision = float(sys.argv[1]), sys.argv[2:], "fp32"
    if names[:1] == ["--precision"]:
        precision, names = names[1], names[2:]
    assert precision in ("fp32", "bf16"), f"--precision {precision}: fp32 or bf16"
    figures = {"torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available(), "precision": precision,
               "mkldnn_bf16": torch.ops.mkldnn._is_mkldnn_bf16_supported()}
    for name in names:
        figures[name] = measure(name, seconds, precision)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
