#!/usr/bin/env python3
"""The PyTorch side of scripts/bench-quality.sh: the same character model as lstm-dist's run
(embedding, one LSTM, a dense softmax head; dropout on the LSTM's inputs and on the head's),
trained the same stateful way (the training text as `--streams` contiguous streams, each
window's state carried into the next, zero state at every epoch start, truncated BPTT of
`--window`), with Adam, for a wall-clock budget. Then scores the validation and test texts in
the same layout from zero state and prints one JSON object: bits per character, steps, epochs.

    python bench_quality_torch.py TRAIN.txt VALID.txt TEST.txt --lr 0.002 --dropout 0.1 --minutes 10
"""
import argparse
import json
import math
import time

import numpy as np
import torch
from torch import nn


class CharModel(nn.Module):
    def __init__(self, vocabulary, embedding, hidden, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embedding, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, tokens, state):
        outputs, state = self.lstm(self.drop(self.embedding(tokens)), state)
        return self.head(self.drop(outputs)), state


def streams(ids, count):
    """Inputs and next-character targets as `count` contiguous streams, [count, length]."""
    length = (len(ids) - 1) // count
    inputs = ids[:count * length].reshape(count, length)
    targets = ids[1:count * length + 1].reshape(count, length)
    return torch.from_numpy(inputs), torch.from_numpy(targets)


def zero_state(model, count):
    shape = (1, count, model.lstm.hidden_size)
    return torch.zeros(shape), torch.zeros(shape)


def bits_per_character(model, ids, count, window):
    """Mean cross-entropy in bits over every next-character target, streams from zero state."""
    inputs, targets = streams(ids, count)
    model.eval()
    total, state = 0.0, zero_state(model, count)
    with torch.no_grad():
        for start in range(0, inputs.shape[1], window):
            logits, state = model(inputs[:, start:start + window], state)
            total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 targets[:, start:start + window].reshape(-1), reduction="sum").item()
    return total / targets.numel() / math.log(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("train")
    parser.add_argument("valid")
    parser.add_argument("test")
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    texts = [open(path, encoding="utf-8").read() for path in (args.train, args.valid, args.test)]
    vocabulary = sorted(set(texts[0]))  # by code point, as lstm-dist's
    index = {character: i for i, character in enumerate(vocabulary)}
    ids = [np.array([index[c] for c in text], dtype=np.int64) for text in texts]

    model = CharModel(len(vocabulary), args.embedding, args.hidden, args.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    inputs, targets = streams(ids[0], args.streams)
    deadline = time.monotonic() + 60 * args.minutes
    steps = epochs = 0
    while time.monotonic() < deadline:
        model.train()
        state = zero_state(model, args.streams)
        for start in range(0, inputs.shape[1], args.window):
            if time.monotonic() >= deadline:
                break
            logits, state = model(inputs[:, start:start + args.window], state)
            state = tuple(s.detach() for s in state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets[:, start:start + args.window].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
        else:
            epochs += 1
    print(json.dumps({
        "valid_bpc": bits_per_character(model, ids[1], args.streams, args.window),
        "test_bpc": bits_per_character(model, ids[2], args.streams, args.window),
        "steps": steps, "epochs": epochs, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
