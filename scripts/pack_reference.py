#!/usr/bin/env python3
"""The plain-Python equivalent of `lstm-dist pack INPUT --id ID --label LABEL --out OUT` for a
numeric CSV (csv module, numpy, h5py), as scripts/bench-pack.sh's baseline. Two passes like
pack (lengths and labels, then rows), so it too runs in bounded memory; same datasets and
attributes, same chunking and compression.

Usage: pack_reference.py INPUT OUT [--id id] [--label label] [--compression 1]
"""
import argparse
import csv
import os

import h5py
import numpy as np

CHUNK_BYTES = 1 << 20


def survey(path, id_column, label_column):
    lengths, labels, previous = [], [], None
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        id_index, label_index = header.index(id_column), header.index(label_column)
        for row in reader:
            if row[id_index] != previous:
                previous = row[id_index]
                lengths.append(0)
                labels.append(int(row[label_index]))
            lengths[-1] += 1
    features = [i for i in range(len(header)) if i not in (id_index, label_index)]
    return header, features, id_index, np.array(lengths, dtype=np.int32), np.array(labels, dtype=np.int32)


def pack(path, out, id_column, label_column, compression):
    header, features, id_index, lengths, labels = survey(path, id_column, label_column)
    rows, length, width = len(lengths), int(lengths.max()), len(features)
    rows_per_chunk = min(rows, max(1, CHUNK_BYTES // (length * width * 4)))
    options = dict(compression="gzip", compression_opts=compression, shuffle=True) if compression else {}
    with h5py.File(out, "w") as file:
        inputs = file.create_dataset("inputs", (rows, length, width), dtype="float32",
                                     chunks=(rows_per_chunk, length, width), **options)
        file.create_dataset("lengths", data=lengths, chunks=(min(rows, CHUNK_BYTES // 4),), **options)
        file.create_dataset("targets", data=labels, chunks=(rows_per_chunk,), **options)
        for name, value in [("format", "lstm-dist dataset"), ("version", 1), ("padding", "pre"),
                            ("target_kind", "row"), ("task", "binary" if labels.max() <= 1 else "multiclass"),
                            ("num_classes", max(2, int(labels.max()) + 1)), ("stream", "independent"),
                            ("source", os.path.basename(path))]:
            file.attrs[name] = value
        block_rows = rows_per_chunk * 4
        block = np.zeros((block_rows, length, width), dtype=np.float32)
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            row, start, step, previous = -1, 0, 0, None
            for record in reader:
                if record[id_index] != previous:
                    previous = record[id_index]
                    row += 1
                    step = length - lengths[row]  # pre-padding
                    if row - start == block_rows:
                        inputs[start:row] = block
                        block[:] = 0
                        start = row
                block[row - start, step] = [float(record[i]) for i in features]
                step += 1
            inputs[start:rows] = block[: rows - start]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("out")
    parser.add_argument("--id", default="id")
    parser.add_argument("--label", default="label")
    parser.add_argument("--compression", type=int, default=1)
    arguments = parser.parse_args()
    pack(arguments.input, arguments.out, arguments.id, arguments.label, arguments.compression)


if __name__ == "__main__":
    main()
