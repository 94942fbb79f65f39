"""An independent model of `lstm-dist pack`, written from SPEC.md section 2, docs/datasets.md
and Keras' `pad_sequences` (not from the Swift code): input file + options in, the datasets and
attributes the dataset file must hold out, or `Refused(reason)` when pack must refuse.

It holds everything in memory and favours plain code over speed: it is the reference
scripts/pack_fuzz.py compares pack with, not a packer for real data (scripts/pack_reference.py
is the streaming CSV baseline of bench-pack.sh).

Decisions where SPEC leaves room (say so when changing one):
- rows cut from one stream (text, CSV without --id) are then padded like any sequences: L is the
  longest row, so a stream shorter than --length gives one row of its own length;
- task, num_classes and vocab_size are inferred from every target / token in the input, kept or
  truncated by --maxlen (they describe the data); --normalize statistics only from the valid
  timesteps (SPEC says so);
- a sequence of H timesteps or fewer under --horizon H is refused (naming its line), not kept
  empty: no target could be learned from it;
- x of non-negative integers is tokens; with a negative integer it is one feature (token ids
  are never negative);
- JSON Lines whose first y is a list, as long as x on some lines but not all, is refused
  without --target-kind (SPEC reads it per row; pack asks, as a per-timestep file with one
  wrong line would otherwise be misread as vectors per row: PackBadInputTests keeps that);
- an empty x is refused, like a sequence --horizon leaves empty;
- text with one distinct character is refused (num_classes would be 1, which SPEC forbids);
- z-scores are (value - mean) / std in float64 from the decimal's float64 value, then rounded
  to float32 (one rounding, like every other value);
- --normalize statistics are over the numbers' float64 values (the decimals as written, not
  their float32 roundings): they are float64 and describe the data;
- CSV's "every other numeric column": numeric on the first data line;
- a number is an integer (a class id, a token) when its text is one (no '.', no exponent).
"""
import csv
import io
import json
import os
from decimal import Decimal
from fractions import Fraction

import numpy as np


class Refused(Exception):
    """pack must refuse this input (the reason is for the reader of a difference, not compared)."""


# --- numbers -----------------------------------------------------------------------------------

def float32_of(text):
    """The float32 nearest to decimal `text` (ties to even), rounding once: float(text) is the
    nearest double, and only a double lying exactly halfway between two float32 can make the
    second rounding differ from rounding the decimal itself, so that case goes through Fraction."""
    text = text.strip()
    try:
        double = float(text)
    except ValueError:
        raise Refused(f"not a number: {text!r}")
    if text.lower().lstrip("+-") in ("inf", "infinity", "nan") or not text or text[0] == "+" or text[0] == ".":
        raise Refused(f"not a plain decimal: {text!r}")
    with np.errstate(over="ignore"):
        single = np.float32(double)
    if not np.isfinite(single):
        raise Refused(f"out of float32 range: {text!r}")
    if float(single) != double:
        # Float32 neighbours are exact in float64, and so is their midpoint.
        below = np.nextafter(single, np.float32(-np.inf)) if float(single) > double else single
        above = np.nextafter(below, np.float32(np.inf))
        middle = (float(below) + float(above)) / 2
        if double == middle:
            exact = Fraction(Decimal(text))
            if exact != Fraction(middle):
                single = below if exact < Fraction(middle) else above
    return single


def is_integer_text(text):
    text = text.strip()
    digits = text[1:] if text.startswith("-") else text
    return digits.isdigit()


class Number:
    """A number as read: its text (for correct float32 rounding) and whether it is an integer."""
    __slots__ = ("text", "integer", "single")

    def __init__(self, text, integer):
        self.text, self.integer, self.single = text, integer, None

    def f32(self):
        if self.single is None:
            self.single = float32_of(self.text)
        return self.single

    def value(self):
        return int(self.text) if self.integer else float(self.text)


# --- Keras pad_sequences -----------------------------------------------------------------------

def kept(sequence, maxlen, truncating):
    """The part of `sequence` pad_sequences keeps."""
    if len(sequence) <= maxlen:
        return sequence
    return sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen]


def place(row_length, length, padding):
    """The slice of a padded row of `length` that `row_length` valid timesteps occupy."""
    return slice(length - row_length, length) if padding == "pre" else slice(0, row_length)


# --- the model ---------------------------------------------------------------------------------

class Sequences:
    """What every format reduces to: per sequence its timesteps' inputs (token ints, or lists of
    Numbers) and targets (one Number or list of Numbers per row, or one per timestep)."""

    def __init__(self):
        self.inputs, self.targets = [], []
        self.input_kind = "features"
        self.target_kind = "row"
        self.stream = "independent"
        self.vocab = None            # text: sorted code points
        self.fixed_classes = None    # text: every character is a class
        self.target_features = None  # CSV --target: per target column, feature index or -1
        self.horizon = 0
        self.features = None         # CSV: the feature count, even when every row is empty


def pack(path, options):
    """Returns {"datasets": {name: array}, "attrs": {name: value}} or raises Refused."""
    fmt = options.get("format") or {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl",
                                     "txt": "text", "text": "text"}.get(path.rsplit(".", 1)[-1].lower())
    if fmt is None:
        raise Refused("unknown format")
    maxlen = options.get("maxlen")
    if maxlen is not None and maxlen <= 0:
        raise Refused("--maxlen below 1")
    if options.get("length") is not None and options["length"] <= 0:
        raise Refused("--length below 1")
    reader = {"csv": read_csv, "jsonl": read_jsonl, "text": read_text}[fmt]
    sequences = reader(path, options)
    return assemble(sequences, path, options)


def read_text(path, options):
    for flag in ("id", "label", "target", "features", "maxlen"):
        if options.get(flag) not in (None, [], 0):
            raise Refused(f"--{flag} does not apply to text")
    if options.get("horizon"):
        raise Refused("--horizon does not apply to text")
    try:
        text = open(path, "rb").read().decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("not UTF-8")
    scalars = [ord(c) for c in text]
    if len(scalars) < 2:
        raise Refused("text too short for one target")
    vocab = sorted(set(scalars))
    if len(vocab) < 2:
        raise Refused("one distinct character: classes need two")
    ids = {c: i for i, c in enumerate(vocab)}
    tokens = [ids[c] for c in scalars]
    length = options.get("length") or 100
    s = Sequences()
    s.input_kind, s.target_kind, s.stream = "tokens", "step", "contiguous"
    s.vocab, s.fixed_classes = vocab, len(vocab)
    body = tokens[:-1]
    for start in range(0, len(body), length):
        s.inputs.append(body[start:start + length])
        s.targets.append([[Number(str(t), True)] for t in tokens[start + 1:start + 1 + length]])
    return s


def read_csv(path, options):
    with open(path, newline="", encoding="utf-8") as handle:
        records = [r for r in csv.reader(handle) if r and any(field != "" for field in r)]
    if not records:
        raise Refused("empty CSV")
    header, lines = records[0], records[1:]
    if not lines:
        raise Refused("no lines")
    if any(len(r) != len(header) for r in lines):
        raise Refused("a line with another number of fields")
    column = {name: i for i, name in enumerate(header)}

    def index(name):
        if name not in column:
            raise Refused(f"no column {name}")
        return column[name]

    id_name, label, targets = options.get("id"), options.get("label"), options.get("target")
    horizon = options.get("horizon") or 0
    if label and targets:
        raise Refused("--label and --target")
    if not label and not targets:
        raise Refused("no targets")
    if label and not id_name:
        raise Refused("--label needs --id")
    if label and horizon:
        raise Refused("--horizon needs --target")
    if not id_name and options.get("maxlen") is not None:
        raise Refused("--maxlen without --id")
    if id_name and options.get("length") is not None:
        raise Refused("--length with --id")
    id_index = index(id_name) if id_name else None
    target_indices = [index(t) for t in targets] if targets else []
    label_index = index(label) if label else None
    if options.get("features") is not None:
        features = [index(f) for f in options["features"]]
    else:
        excluded = {id_index, label_index} | (set() if horizon > 0 else set(target_indices))
        features = [i for i in range(len(header)) if i not in excluded and numeric_column(lines, i)]
    if not features:
        raise Refused("no features")

    def numbers(record, indices):
        out = []
        for i in indices:
            number = Number(record[i].strip(), is_integer_text(record[i]))
            number.f32()  # refuses what is not a number
            out.append(number)
        return out

    groups = []
    if id_name:
        previous = object()
        for record in lines:
            if record[id_index] != previous:
                previous = record[id_index]
                groups.append([])
            groups[-1].append(record)
    else:
        groups = [lines]

    s = Sequences()
    s.target_kind = "row" if label else "step"
    s.features = len(features)
    s.horizon = horizon
    if targets:
        s.target_features = [features.index(t) if t in features else -1 for t in target_indices]
    for group in groups:
        steps = [numbers(r, features) for r in group]
        if label:
            values = [r[label_index].strip() for r in group]
            if any(v != values[0] for v in values):
                raise Refused("label not constant within a sequence")
            s.inputs.append(steps)
            s.targets.append(numbers(group[0], [label_index]))
        else:
            step_targets = [numbers(r, target_indices) for r in group]
            if len(steps) <= horizon:
                raise Refused("a sequence of --horizon timesteps or fewer")
            kept_steps = len(steps) - horizon
            s.inputs.append(steps[:kept_steps])
            s.targets.append(step_targets[horizon:horizon + kept_steps])
    if not id_name:
        s.stream = "contiguous"
        length = options.get("length") or 100
        series_in, series_out = s.inputs[0], s.targets[0]
        s.inputs = [series_in[i:i + length] for i in range(0, len(series_in), length)]
        s.targets = [series_out[i:i + length] for i in range(0, len(series_in), length)]
    return s


def numeric_column(lines, i):
    """Whether column i is numeric: its value on the first data line is a number (a bad value
    further down is then an error, not a reason to drop the column)."""
    try:
        float(lines[0][i])
        return True
    except ValueError:
        return False


def read_jsonl(path, options):
    for flag in ("id", "label", "target", "features", "length"):
        if options.get(flag) not in (None, []):
            raise Refused(f"--{flag} does not apply to JSON Lines")
    if options.get("horizon"):
        raise Refused("--horizon does not apply to JSON Lines")
    xs, ys = [], []
    with open(path, encoding="utf-8") as handle:
        for text in handle:
            if not text.strip():
                continue
            try:
                line = json.loads(text, parse_float=lambda t: Number(t, False), parse_int=lambda t: Number(t, True))
            except json.JSONDecodeError:
                raise Refused("not JSON")
            if not isinstance(line, dict) or "x" not in line or "y" not in line:
                raise Refused("a line without x or y")
            xs.append(line["x"])
            ys.append(line["y"])
    if not xs:
        raise Refused("no sequences")
    for x in xs:
        if not isinstance(x, list) or not x:
            raise Refused("x is not a non-empty list")
    nested = [isinstance(v, list) for x in xs for v in x]
    if any(nested) and not all(nested):
        raise Refused("x mixes numbers and lists")
    if any(nested):
        width = {len(v) for x in xs for v in x}
        if len(width) != 1 or 0 in width:
            raise Refused("feature lists of different widths")
        if any(not isinstance(n, Number) for x in xs for v in x for n in v):
            raise Refused("a feature that is not a number")
        kind = options.get("inputs") or "features"
        if kind == "tokens":
            raise Refused("--inputs tokens with feature lists")
        inputs = [[list(v) for v in x] for x in xs]
    else:
        if any(not isinstance(v, Number) for x in xs for v in x):
            raise Refused("x holds something else than numbers")
        all_integers = all(v.integer for x in xs for v in x)
        naturals = all_integers and all(v.value() >= 0 for x in xs for v in x)
        kind = options.get("inputs") or ("tokens" if naturals else "features")
        if kind == "tokens":
            if not all_integers:
                raise Refused("--inputs tokens with non-integers")
            if any(v.value() < 0 for x in xs for v in x):
                raise Refused("a negative token")
            inputs = [[v.value() for v in x] for x in xs]
        else:
            for x in xs:
                for v in x:
                    v.f32()
            inputs = [[[v] for v in x] for x in xs]

    def is_number(v):
        return isinstance(v, Number)

    def check_number(v):
        if not is_number(v):
            raise Refused("a target that is not a number")
        v.f32()
        return v

    per_step = all(isinstance(y, list) and len(y) == len(x) for x, y in zip(xs, ys))
    kind_override = options.get("target_kind")
    if kind_override is None and not per_step and isinstance(ys[0], list) \
            and any(isinstance(y, list) and len(y) == len(x) for x, y in zip(xs, ys)):
        raise Refused("y as long as x on some lines only: ambiguous without --target-kind")
    target_kind = kind_override or ("step" if per_step else "row")
    targets = []
    if target_kind == "step":
        if not per_step:
            raise Refused("--target-kind step with y not as long as x")
        for y in ys:
            row = []
            for v in y:
                row.append([check_number(n) for n in v] if isinstance(v, list) else [check_number(v)])
            targets.append(row)
        nested_y = {isinstance(v, list) for y in ys for v in y}
    else:
        for y in ys:
            targets.append([check_number(n) for n in y] if isinstance(y, list) else [check_number(y)])
        nested_y = {isinstance(y, list) for y in ys}
    if len(nested_y) > 1:
        raise Refused("y mixes scalars and vectors")
    widths = {len(t) for row in targets for t in (row if target_kind == "step" else [row])}
    if len(widths) > 1 or 0 in widths:
        raise Refused("target vectors of different widths")
    s = Sequences()
    s.input_kind = kind
    s.target_kind = target_kind
    s.inputs, s.targets = inputs, targets
    s.vector_targets = nested_y == {True}
    return s


def assemble(s, path, options):
    maxlen = options.get("maxlen")
    padding = options.get("padding") or "pre"
    truncating = options.get("truncating") or "pre"
    value = np.float32(options.get("value") or 0)
    normalize = options.get("normalize", False)
    rows = len(s.inputs)
    if rows == 0:
        raise Refused("no sequences")
    raw_lengths = [len(x) for x in s.inputs]
    length = maxlen if maxlen is not None else max(raw_lengths)
    if length == 0:
        raise Refused("every sequence is empty")
    lengths = np.array([min(n, length) for n in raw_lengths], dtype=np.int32)

    # Task, from every target in the input.
    step = s.target_kind == "step"
    all_targets = [t for row in s.targets for t in (row if step else [row])]
    width = len(all_targets[0]) if all_targets else 1
    numbers = [n for t in all_targets for n in t]
    if s.fixed_classes is not None:
        if options.get("task") or options.get("num_classes"):
            raise Refused("--task with text")
        task, num_classes = "multiclass", s.fixed_classes
    else:
        integers = width == 1 and all(n.integer and 0 <= n.value() < 2**31 - 1 for n in numbers) \
            and not getattr(s, "vector_targets", False)
        inferred_classes = max(n.value() for n in numbers) + 1 if integers and numbers else 0
        inferred = "regression" if not integers else ("binary" if inferred_classes <= 2 else "multiclass")
        given_classes = options.get("num_classes")
        implied = None if given_classes is None else ("binary" if given_classes == 2 else "multiclass")
        task = options.get("task") or implied or inferred
        if given_classes is not None and (given_classes < 2 or (task == "binary" and given_classes != 2)):
            raise Refused("--num-classes disagrees")
        if task == "regression":
            num_classes = 0
        else:
            if not integers:
                raise Refused("classification of non-integer targets")
            num_classes = 2 if task == "binary" else (given_classes or max(inferred_classes, 2))
            if max(n.value() for n in numbers) >= num_classes:
                raise Refused("a class id outside the classes")

    # Inputs.
    tokens = s.input_kind == "tokens"
    if tokens:
        vocab_size = len(s.vocab) if s.vocab is not None else max(max(x) for x in s.inputs if x) + 1 \
            if any(s.inputs) else 1
        inputs = np.full((rows, length), int(value), dtype=np.int32)  # compared only for an integral --value
    else:
        features = s.features if s.features is not None else next(len(x[0]) for x in s.inputs if x)
        inputs = np.full((rows, length, features), value, dtype=np.float32)
    kept_inputs = [kept(x, length, truncating) for x in s.inputs]
    if step:
        kept_targets = [kept(t, length, truncating) for t in s.targets]

    # Normalisation statistics over the valid (kept) timesteps, from the parsed float32 values.
    statistics = None
    if normalize:
        if tokens and task != "regression":
            raise Refused("--normalize with tokens and classes")
        statistics = {}
        if not tokens:
            values = np.array([[float(n.text) for n in t] for x in kept_inputs for t in x], dtype=np.float64).reshape(-1, features)
            statistics["inputs"] = mean_std(values)
        if task == "regression":
            if step:
                values = [[float(n.text) for n in t] for row in kept_targets for t in row]
            else:
                values = [[float(n.text) for n in t] for t in s.targets]
            mean, std = mean_std(np.array(values, dtype=np.float64).reshape(-1, width))
            for k, f in enumerate(s.target_features or []):
                if f >= 0 and not tokens:
                    mean[k], std[k] = statistics["inputs"][0][f], statistics["inputs"][1][f]
            statistics["targets"] = (mean, std)

    for i, x in enumerate(kept_inputs):
        where = place(len(x), length, padding)
        if not x:
            continue
        if tokens:
            inputs[i, where] = x
        else:
            if statistics:
                block = np.array([[float(n.text) for n in t] for t in x])
                mean, std = statistics["inputs"]
                block = ((block - mean) / std).astype(np.float32)
            else:
                block = np.array([[n.f32() for n in t] for t in x], dtype=np.float32)
            inputs[i, where] = block

    regression = task == "regression"
    if step:
        targets = np.zeros((rows, length, width), np.float32) if regression else np.zeros((rows, length), np.int32)
        for i, t in enumerate(kept_targets):
            if not t:
                continue
            where = place(len(t), length, padding)
            if regression:
                if statistics:
                    mean, std = statistics["targets"]
                    block = ((np.array([[float(n.text) for n in v] for v in t]) - mean) / std).astype(np.float32)
                else:
                    block = np.array([[n.f32() for n in v] for v in t], dtype=np.float32)
                targets[i, where] = block
            else:
                targets[i, where] = [v[0].value() for v in t]
    else:
        if regression:
            if statistics:
                mean, std = statistics["targets"]
                values = np.array([[float(n.text) for n in t] for t in s.targets]).reshape(rows, width)
                targets = ((values - mean) / std).astype(np.float32)
            else:
                targets = np.array([[n.f32() for n in t] for t in s.targets], dtype=np.float32).reshape(rows, width)
        else:
            targets = np.array([t[0].value() for t in s.targets], dtype=np.int32)

    datasets = {"inputs": inputs, "lengths": lengths, "targets": targets}
    attrs = {"format": "lstm-dist dataset", "version": 1, "padding": padding, "target_kind": s.target_kind,
             "task": task, "stream": s.stream, "source": os.path.basename(path)}
    if task != "regression":
        attrs["num_classes"] = num_classes
    if tokens:
        attrs["vocab_size"] = vocab_size
    if s.vocab is not None:
        datasets["vocab"] = np.array(s.vocab, dtype=np.int32)
    if regression and step and s.target_features is not None:
        attrs["horizon"] = s.horizon
        datasets["target_features"] = np.array(s.target_features, dtype=np.int32)
    if statistics:
        if "inputs" in statistics:
            datasets["normalization/inputs_mean"], datasets["normalization/inputs_std"] = statistics["inputs"]
        if "targets" in statistics:
            datasets["normalization/targets_mean"], datasets["normalization/targets_std"] = statistics["targets"]
    return {"datasets": datasets, "attrs": attrs, "lengths": lengths, "step": step, "tokens": tokens}


def mean_std(values):
    """Population mean and standard deviation per column (float64), 1 for a constant column."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    constant = (values == values[:1]).all(axis=0) if len(values) else np.ones(values.shape[1], bool)
    std = np.where(constant | (std == 0), 1.0, std)
    if not len(values):
        mean = np.zeros(values.shape[1])
    return mean.astype(np.float64), std.astype(np.float64)
