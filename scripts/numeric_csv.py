"""The benchmarks' numeric CSV (scripts/bench-pack.sh, scripts/bench-checks.sh): an id column,
8 features with 5 decimals, sequences of 50 to 150 steps, a 0/1 label per sequence.

    python scripts/numeric_csv.py PATH SIZE_MB

A block of at most 32 MB of random sequences, repeated up to the size: ids restart in each copy,
but a group is only consecutive lines, so every copy adds new sequences.
"""
import random
import sys


def main():
    path, size = sys.argv[1], int(sys.argv[2]) << 20
    rng = random.Random(0)
    lines, total, sequence = [], 0, 0
    while total < min(size, 32 << 20):
        label = rng.randint(0, 1)
        for _ in range(rng.randint(50, 150)):
            line = f"{sequence}," + ",".join(f"{rng.gauss(0, 1):.5f}" for _ in range(8)) + f",{label}\n"
            lines.append(line)
            total += len(line)
        sequence += 1
    block = "".join(lines)
    with open(path, "w") as out:
        out.write("id," + ",".join(f"f{i}" for i in range(8)) + ",label\n")
        for _ in range(max(1, size // len(block))):
            out.write(block)


if __name__ == "__main__":
    main()
