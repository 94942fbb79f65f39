#!/usr/bin/env python3
"""Random inputs for `lstm-dist pack`, and the comparison of what pack wrote with
scripts/pack_model.py (SPEC.md section 2 and Keras' pad_sequences).

  pack_fuzz.py generate DIR --seed S --count N   writes DIR/cNNNNN.{csv,jsonl,txt} and
                                                 DIR/manifest.json (each case's options)
  pack_fuzz.py check DIR [--show 10]             compares DIR/cNNNNN.h5 (or DIR/cNNNNN.err: pack
                                                 refused, its message inside) with the model

The packing in between is Tests/StorageTests/PackReferenceTests.swift (in-process, every case of
the manifest) or anything that writes those files. check exits 1 and prints the first
differences (case, options, file, dataset, row, timestep, values) when there are any.

Tolerances: parsed numbers are exact (pack and the model both round each decimal to the nearest
float32, once); z-scores (--normalize) may differ by 1e-5 * (1 + |z|) (float32 results of float64
arithmetic done in another order, a few float32 ulps), and the float64 statistics by 1e-9 of
|mean| + std (sums in another order). Padded timesteps of /inputs must hold --value exactly (token
inputs: only an integral --value is compared); padded timesteps of /targets may hold anything
(SPEC: padding may hold anything) and are not compared.
"""
import argparse
import json
import os
import random
import sys
import time
from decimal import Decimal, localcontext

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pack_model  # noqa: E402

# --- generation --------------------------------------------------------------------------------


class Numbers:
    """Random number texts in the shapes people write them."""

    def __init__(self, rng):
        self.rng = rng

    def real(self, scale):
        """A non-integer number (its text has a fraction or an exponent and its value too)."""
        rng = self.rng
        while True:
            v = rng.uniform(-scale, scale)
            shape = rng.random()
            if shape < 0.45:
                text = f"{v:.{rng.randint(1, 6)}f}"
            elif shape < 0.7:
                text = f"{v:.{rng.randint(0, 5)}{rng.choice('eE')}}"
            elif shape < 0.85:
                text = repr(v)
            elif shape < 0.97:
                text = f"{v:.{rng.randint(1, 9)}g}"
            else:
                text = self.tie()
            if "." not in text and "e" not in text.lower():
                continue
            if not float(text).is_integer() and float(text) != 0:
                return text

    def tie(self):
        """A decimal just beside a float32 midpoint: the nearest double is the midpoint itself,
        so rounding decimal -> double -> float32 can land on the wrong float32."""
        rng = self.rng
        f = np.float32(rng.uniform(0.5, 1000)) * np.float32(rng.choice([1, -1]))
        g = np.nextafter(f, np.float32(np.inf))
        with localcontext() as context:
            context.prec = 80
            middle = (Decimal(float(f)) + Decimal(float(g))) / 2
            nudge = Decimal(10) ** (middle.adjusted() - 30) * rng.choice([1, -1])
            return format(middle + nudge, "f")

    def integer(self, low, high):
        return str(self.rng.randint(low, high))

    def feature(self, scale, integral=False):
        return self.integer(-int(scale) - 3, int(scale) + 3) if integral or self.rng.random() < 0.08 else self.real(scale)


def random_lengths(rng, count, low=1):
    top = rng.choice([3, 6, 12, 25])
    lengths = [rng.randint(low, top) for _ in range(count)]
    if rng.random() < 0.3:
        lengths[rng.randrange(count)] = max(low, 1)
    return lengths


def shaping(rng, options, longest, maxlen_allowed=True):
    if maxlen_allowed and rng.random() < 0.55:
        options["maxlen"] = rng.randint(1, longest + 2)
    for key in ("padding", "truncating"):
        pick = rng.choice([None, "pre", "post"])
        if pick:
            options[key] = pick
    if rng.random() < 0.6:
        options["value"] = rng.choice([0.0, -1.0, 2.5, -0.75, 7.0, -3.0, 1e3])


def overrides(rng, options, classes):
    """Sometimes --task / --num-classes over integer targets (of up to `classes` classes)."""
    if classes is None or rng.random() > 0.12:
        return
    pick = rng.choice(["regression", "multiclass", "binary", "more classes"])
    if pick == "more classes":
        options["num_classes"] = classes + rng.randint(0, 3)
    else:
        options["task"] = pick


def generate_csv(rng, numbers, path):
    options = {}
    with_id = rng.random() < 0.8
    mode = rng.choice(["label", "target", "vector", "horizon"]) if with_id else rng.choice(["target", "vector", "horizon"])
    features = [f"f{i}" for i in range(rng.randint(1, 3))]
    scales = {name: rng.choice([1, 10, 1000, 0.01]) for name in features}
    constant = {name: numbers.real(scales[name]) for name in features if rng.random() < 0.1}
    extra_targets, chosen = [], []
    if mode == "target":
        extra_targets = ["t0"]
    elif mode == "vector":
        extra_targets = [f"t{i}" for i in range(rng.randint(2, 3))]
    elif mode == "horizon":
        pool = features + (["t0"] if rng.random() < 0.3 else [])
        extra_targets = [t for t in pool if t.startswith("t")]
        options["horizon"] = rng.randint(1, 3)
        chosen = rng.sample(pool, rng.randint(1, len(pool)))
        if rng.random() < 0.1:  # a class column H timesteps ahead: classification, no horizon attribute
            extra_targets, chosen = ["t0"], ["t0"]
    target_classes = rng.choice([None, 2, 5]) if mode in ("label", "target") or chosen == ["t0"] and mode == "horizon" and rng.random() < 0.5 else None
    columns = features + extra_targets + (["label"] if mode == "label" else [])
    if with_id:
        columns.insert(rng.randint(0, len(columns)), "id")
    if rng.random() < 0.2 and len(features) > 1:
        options["features"] = rng.sample(features, rng.randint(1, len(features)))

    sequences = rng.randint(1, 10) if with_id else 1
    lengths = random_lengths(rng, sequences) if with_id else [rng.randint(1, 60)]
    horizon = options.get("horizon", 0)
    if horizon and rng.random() < 0.95:  # else a sequence of H timesteps or fewer: refused
        lengths = [max(n, horizon + 1) for n in lengths]
    elif horizon and max(lengths) <= horizon:
        lengths[0] = horizon + rng.randint(1, 4)
    lines = [",".join(columns)]
    string_ids = rng.random() < 0.5
    ids = []
    for s, n in enumerate(lengths):
        # An id may come back after another one: consecutive lines group, not equal ids.
        ids.append(ids[s - 2] if s >= 2 and rng.random() < 0.2 else (f"s{s}" if string_ids else str(100 + s)))
        label = numbers.integer(0, target_classes - 1) if target_classes else numbers.real(5)
        if mode == "label" and target_classes is None and rng.random() < 0.3:
            label = numbers.integer(-5, 5)
        for _ in range(n):
            values = {"id": ids[s], "label": label}
            for name in features:
                values[name] = constant.get(name) or numbers.feature(scales[name])
            for name in extra_targets:
                values[name] = numbers.integer(0, target_classes - 1) if target_classes else numbers.real(rng.choice([1, 100]))
            lines.append(",".join(values[c] for c in columns))
    if mode == "label":
        options["id"], options["label"] = "id", "label"
    else:
        if with_id:
            options["id"] = "id"
        options["target"] = extra_targets if mode != "horizon" else chosen
        if mode == "horizon" and "features" in options and rng.random() < 0.5:
            options["features"] = [f for f in options["features"] if f not in chosen] or options["features"]
    if not with_id and rng.random() < 0.8:
        options["length"] = rng.randint(1, 20)
    if rng.random() < 0.3:
        options["normalize"] = True
    shaping(rng, options, max(lengths), maxlen_allowed=with_id)
    overrides(rng, options, target_classes)
    invalid = rng.random() < 0.05
    if invalid:
        trick = rng.choice(["bad number", "label changes", "maxlen without id", "label without id"])
        if trick == "bad number":
            row = rng.randrange(1, len(lines))
            fields = lines[row].split(",")
            column = rng.choice([i for i, c in enumerate(columns) if c != "id"])
            fields[column] = rng.choice(["1.2.3", "abc", "--1", "1e", "nan", "inf"])
            lines[row] = ",".join(fields)
        elif trick == "label changes" and mode == "label" and lengths[0] > 1:
            fields = lines[2].split(",")
            fields[columns.index("label")] = "7.5"
            lines[2] = ",".join(fields)
        elif trick == "maxlen without id" and not with_id:
            options["maxlen"] = 3
        elif trick == "label without id":
            options.pop("id", None)
            options.pop("target", None)
            options["label"] = columns[-1] if columns[-1] != "id" else columns[0]
    if with_id and rng.random() < 0.1:  # quoted ids, with the separator inside
        at = columns.index("id")
        lines = [lines[0]] + [",".join(f'"{v},x"' if i == at else v for i, v in enumerate(line.split(","))) for line in lines[1:]]
    end = "\r\n" if rng.random() < 0.1 else "\n"
    with open(path, "w", newline="") as handle:
        handle.write(end.join(lines) + (end if rng.random() < 0.9 else ""))
    return options


def generate_jsonl(rng, numbers, path):
    options = {}
    inputs = rng.choice(["tokens", "f1", "f2", "f3"])
    width = 1 if inputs in ("tokens", "f1") else int(inputs[1])
    targets = rng.choice(["row int", "row real", "row vector", "step int", "step real", "step vector"])
    classes = rng.choice([2, 2, 3, 7])
    target_width = rng.randint(1, 3) if targets == "step vector" else rng.randint(2, 3)
    scale = rng.choice([1, 10, 1000])
    vocab = rng.randint(1, 30)
    sequences = rng.randint(1, 12)
    lengths = random_lengths(rng, sequences, low=0 if rng.random() < 0.05 and targets.startswith("row") else 1)
    if max(lengths) == 0:
        lengths[0] = 1
    lines = []
    any_real = False
    for n in lengths:
        if inputs == "tokens":
            x = [numbers.integer(0, vocab - 1) for _ in range(n)]
        elif inputs == "f1":
            x = [numbers.feature(scale) for _ in range(n)]
        else:
            x = ["[" + ", ".join(numbers.feature(scale) for _ in range(width)) + "]" for _ in range(n)]
        any_real |= any("." in v or "e" in v.lower() for v in x)
        if targets == "row int":
            y = numbers.integer(0, classes - 1)
        elif targets == "row real":
            y = numbers.real(rng.choice([1, 100]))
        elif targets == "row vector":
            y = "[" + ", ".join(numbers.real(3) for _ in range(target_width)) + "]"
        elif targets == "step int":
            y = "[" + ", ".join(numbers.integer(0, classes - 1) for _ in range(n)) + "]"
        elif targets == "step real":
            y = "[" + ", ".join(numbers.real(50) for _ in range(n)) + "]"
        else:
            y = "[" + ", ".join("[" + ", ".join(numbers.real(2) for _ in range(target_width)) + "]" for _ in range(n)) + "]"
        x_text = "[" + rng.choice([", ", ",", " ,  "]).join(x) + "]"
        parts = [f'"x": {x_text}', f'"y": {y}']
        if rng.random() < 0.2:
            parts.reverse()
        if rng.random() < 0.1:
            parts.insert(1, '"note": "ignored \\u00e9 [1, 2]"')
        lines.append("{" + ", ".join(parts) + "}")
    if inputs == "f1" and not any_real:
        options["inputs"] = "features"
    elif inputs == "tokens" and rng.random() < 0.1:
        options["inputs"] = "tokens"
    if targets.startswith("row") and rng.random() < (0.9 if targets == "row vector" else 0.3):
        options["target_kind"] = "row"  # a vector y as long as some x is refused without it
    if targets.startswith("step") and rng.random() < 0.2:
        options["target_kind"] = "step"
    if rng.random() < 0.3:
        options["normalize"] = True
    shaping(rng, options, max(lengths))
    overrides(rng, options, classes if targets.endswith("int") else None)
    if rng.random() < 0.04:
        trick = rng.choice(["negative token", "string y", "widths differ"])
        if trick == "negative token" and inputs == "tokens" and lengths[0] > 0:
            lines[0] = lines[0].replace('"x": [', '"x": [-2, ', 1)
            if targets.startswith("step"):
                lines[0] = lines[0].replace('"y": [', '"y": [' + ("[0.5" + ", 0.5" * (target_width - 1) + "], " if targets == "step vector" else "1, "), 1)
        elif trick == "string y":
            lines[-1] = lines[-1].replace('"y": ', '"y": "cat", "z": ', 1)
        elif trick == "widths differ" and width > 1:
            lines[-1] = lines[-1].replace('"x": [[', '"x": [[0.25, ', 1)
    if rng.random() < 0.05:
        lines.insert(rng.randint(1, len(lines)), rng.choice(["", "  ", "\t"]))
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return options


TEXT_POOLS = [
    "abcdefghij",
    "the quick brown fox jumps over the lazy dog\n",
    "aé中😀ß\u0301 \n\t,.!",
    "AB",
    "0123456789+-=",
]


def generate_text(rng, numbers, path):
    options = {}
    pool = rng.choice(TEXT_POOLS)
    size = rng.choice([2, 3, rng.randint(2, 40), rng.randint(40, 400)])
    text = "".join(rng.choice(pool) for _ in range(size))
    if rng.random() < 0.8:
        options["length"] = rng.randint(1, 30)
    shaping(rng, options, 1, maxlen_allowed=False)
    data = text.encode("utf-8")
    if rng.random() < 0.04:
        trick = rng.choice(["maxlen", "one character", "not utf-8"])
        if trick == "maxlen":
            options["maxlen"] = 5
        elif trick == "one character":
            data = "é".encode()
        else:
            data = data[:1] + b"\xff\xfe" + data[1:]
    with open(path, "wb") as handle:
        handle.write(data)
    return options


def generate(folder, seed, count):
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    numbers = Numbers(rng)
    cases = []
    for i in range(count):
        fmt = rng.choices(["csv", "jsonl", "text"], weights=[45, 40, 15])[0]
        name = f"c{i:05d}"
        extension = {"csv": "csv", "jsonl": rng.choice(["jsonl", "ndjson"]), "text": rng.choice(["txt", "text"])}[fmt]
        path = os.path.join(folder, f"{name}.{extension}")
        options = {"csv": generate_csv, "jsonl": generate_jsonl, "text": generate_text}[fmt](rng, numbers, path)
        if rng.random() < 0.2:
            options["format"] = fmt
        cases.append({"name": name, "input": os.path.basename(path), "options": options})
    with open(os.path.join(folder, "manifest.json"), "w") as handle:
        json.dump({"seed": seed, "count": count, "cases": cases}, handle, indent=0)


# --- comparison --------------------------------------------------------------------------------


def read_file(path):
    import h5py
    datasets, attrs = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, item):
            if isinstance(item, h5py.Dataset):
                datasets[name] = item[()]
        f.visititems(visit)
        for key, value in f.attrs.items():
            attrs[key] = value.decode() if isinstance(value, bytes) else value
    return datasets, attrs


SPEC_ATTRIBUTES = ["format", "version", "padding", "target_kind", "task", "num_classes", "vocab_size", "stream",
                   "source", "horizon"]


def compare(expected, path, options):
    """The differences between the model's `expected` and the file at `path`, as strings."""
    datasets, attrs = read_file(path)
    problems = []
    for key in SPEC_ATTRIBUTES:
        want, have = expected["attrs"].get(key), attrs.get(key)
        if isinstance(have, np.generic):
            have = have.item()
        if want != have:
            problems.append(f"attribute {key}: pack {have!r}, reference {want!r}")
    names = set(expected["datasets"])
    if set(datasets) != names:
        problems.append(f"datasets: pack {sorted(datasets)}, reference {sorted(names)}")
    lengths = expected["lengths"]
    value = np.float32(options.get("value") or 0)
    padding = expected["attrs"]["padding"]
    for name in sorted(names & set(datasets)):
        want, have = expected["datasets"][name], datasets[name]
        if want.dtype != have.dtype or want.shape != have.shape:
            problems.append(f"/{name}: pack {have.dtype}{list(have.shape)}, reference {want.dtype}{list(want.shape)}")
            continue
        if name.startswith("normalization/"):
            scale = np.abs(expected["datasets"][name.replace("_std", "_mean")]) + expected["datasets"][name.replace("_mean", "_std")]
            bad = np.abs(have - want) > 1e-9 * scale
            for k in np.flatnonzero(bad)[:3]:
                problems.append(f"/{name}[{k}]: pack {have[k]!r}, reference {want[k]!r}")
            continue
        if name in ("inputs", "targets") and want.ndim >= 2 and (name == "inputs" or expected["step"]):
            length = want.shape[1]
            steps = np.arange(length)[None, :]
            rows = lengths.astype(np.int64)[:, None]
            valid = steps >= length - rows if padding == "pre" else steps < rows
            if options.get("normalize") and want.dtype == np.float32:
                off = np.abs(have.astype(np.float64) - want) > 1e-5 * (1 + np.abs(want.astype(np.float64)))
            else:
                off = have != want
            if off.ndim > 2:
                off = off.any(axis=tuple(range(2, off.ndim)))
            off &= valid
            if name == "inputs" and (not expected["tokens"] or float(value).is_integer()):
                pad = have != (int(value) if expected["tokens"] else value)
                if pad.ndim > 2:
                    pad = pad.any(axis=tuple(range(2, pad.ndim)))
                off |= pad & ~valid
            for row, t in np.argwhere(off)[:4]:
                kind = "valid" if valid[row, t] else "padded"
                problems.append(f"/{name} row {row} timestep {t} ({kind}, length {lengths[row]}): "
                                f"pack {have[row, t].tolist()}, reference {want[row, t].tolist()}")
            continue
        if want.dtype.kind == "f" and options.get("normalize"):
            bad = np.abs(have.astype(np.float64) - want) > 1e-5 * (1 + np.abs(want.astype(np.float64)))
        else:
            bad = have != want
        for index in np.argwhere(bad)[:3]:
            index = tuple(index)
            problems.append(f"/{name}{list(index)}: pack {have[index].tolist()}, reference {want[index].tolist()}")
    return problems


def check(folder, show):
    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    started = time.time()
    failures, packed, refused = [], 0, 0
    for case in manifest["cases"]:
        name, options = case["name"], case["options"]
        input_path = os.path.join(folder, case["input"])
        output, error = os.path.join(folder, name + ".h5"), os.path.join(folder, name + ".err")
        try:
            expected, reason = pack_model.pack(input_path, options), None
        except pack_model.Refused as refusal:
            expected, reason = None, str(refusal)
        pack_refused = os.path.exists(error)
        if not pack_refused and not os.path.exists(output):
            problems = ["pack left neither an output nor an error"]
        elif expected is None and pack_refused:
            refused += 1
            problems = []
        elif expected is None:
            problems = [f"pack wrote a file; the reference refuses: {reason}"]
        elif pack_refused:
            problems = [f"pack refused ({open(error).read().strip()}); the reference writes a file"]
        else:
            packed += 1
            problems = compare(expected, output, options)
        if problems:
            failures.append((case, problems))
    for case, problems in failures[:show]:
        print(f"DIFFERENT {case['name']} ({case['input']}) options {json.dumps(case['options'])}")
        for problem in problems[:6]:
            print(f"    {problem}")
    total = len(manifest["cases"])
    print(f"pack_fuzz: seed {manifest['seed']}: {total} cases ({packed} packed, {refused} refused by both), "
          f"{len(failures)} different; checked in {time.time() - started:.1f} s")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    g = commands.add_parser("generate")
    g.add_argument("folder")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--count", type=int, default=2000)
    c = commands.add_parser("check")
    c.add_argument("folder")
    c.add_argument("--show", type=int, default=10)
    arguments = parser.parse_args()
    if arguments.command == "generate":
        generate(arguments.folder, arguments.seed, arguments.count)
    else:
        sys.exit(check(arguments.folder, arguments.show))


if __name__ == "__main__":
    main()
