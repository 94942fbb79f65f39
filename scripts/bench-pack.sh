#!/usr/bin/env bash
# Pack benchmark (issue 2): generates a numeric CSV (id column, 8 features with 5 decimals,
# sequences of 50 to 150 steps, a 0/1 label) in a temporary folder, packs it with the release
# build, then with the plain-Python equivalent (scripts/pack_reference.py), and prints MB/s,
# peak RSS and the ratio, against the previous run stored in scripts/bench-results.json.
# Targets: >= 100 MB/s, peak RSS < 256 MB, >= 5x Python.
#
# Usage: scripts/bench-pack.sh [SIZE_MB]   (default 1024; PYTHON defaults to .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
python=${PYTHON:-.venv/bin/python}

scripts/build.sh >/dev/null
binary=$PWD/.build/release/lstm-dist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" scripts/numeric_csv.py "$work/input.csv" "$size_mb"
input_mb=$(( $(stat -c %s "$work/input.csv") / 1000000 ))
echo "input: $input_mb MB ($(wc -l < "$work/input.csv") lines)"

# Runs a command, then sets $seconds and $peak_mb (maximum resident set size).
measure() {
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null
    read -r seconds peak_kb < "$work/time"
    peak_mb=$(( peak_kb / 1024 ))
}

measure "$binary" pack "$work/input.csv" --id id --label label --out "$work/swift.h5"
swift_seconds=$seconds swift_peak=$peak_mb
measure "$python" scripts/pack_reference.py "$work/input.csv" "$work/python.h5"
python_seconds=$seconds python_peak=$peak_mb

"$python" - "$work" "$input_mb" "$swift_seconds" "$swift_peak" "$python_seconds" "$python_peak" <<'PY'
import datetime, sys
import h5py, numpy as np
work, size, swift_s, swift_peak, python_s, python_peak = sys.argv[1:]
size, swift_s, python_s = float(size), float(swift_s), float(python_s)
with h5py.File(f"{work}/swift.h5") as a, h5py.File(f"{work}/python.h5") as b:
    for name in ("lengths", "targets"):
        assert np.array_equal(a[name][:], b[name][:]), f"/{name} differs from the Python reference"
    rows = a["inputs"].shape[0]
    for part in (slice(0, 100), slice(rows // 2, rows // 2 + 100), slice(rows - 100, rows)):
        assert np.array_equal(a["inputs"][part], b["inputs"][part]), f"/inputs rows {part} differ from the Python reference"
now = {"date": datetime.date.today().isoformat(), "input_mb": size, "mb_per_s": round(size / swift_s, 1),
       "peak_rss_mb": int(swift_peak), "python_mb_per_s": round(size / python_s, 1),
       "python_peak_rss_mb": int(python_peak), "ratio_to_python": round(python_s / swift_s, 1)}
print(f"lstm-dist pack: {swift_s:.1f} s, {now['mb_per_s']} MB/s, peak RSS {swift_peak} MB   (targets: >= 100 MB/s, < 256 MB)")
print(f"python reference: {python_s:.1f} s, {now['python_mb_per_s']} MB/s, peak RSS {python_peak} MB")
print(f"ratio: {now['ratio_to_python']}x faster than Python   (target: >= 5x); outputs agree")
sys.path.insert(0, "scripts")
from bench_figures import compare_and_store
compare_and_store(["pack"], now)
PY
