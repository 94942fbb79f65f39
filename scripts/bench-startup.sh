#!/usr/bin/env bash
# Start-up against the dataset's size (docs/datasets.md, "The fingerprint"): `train --max-steps 1`
# and `train --resume latest --max-steps 2`, wall seconds and peak RSS (/usr/bin/time), on
#   small  data/text.txt repeated 15 times (4.5M characters),
#   big    data/text.txt repeated REPEAT times (default 940: 282M characters, the size of issue 28's
#          KJV x 64), both packed with `--format text --length 64`,
#   big without dataset_fingerprint: a copy whose attribute h5py deleted, as a file packed before
#          pack recorded it (fingerprinted from its lengths and targets when training starts).
# One rank, default model; best of ROUNDS (default 2) per case. The files live in a temporary
# folder (about 200 MB per big file), removed at the end. Also prints `lstm-bench sha256`.
#
# Usage: scripts/bench-startup.sh [REPEAT] [ROUNDS]   (BIN=path overrides the built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-940}
rounds=${2:-2}
if [[ -z ${BIN:-} ]]; then
    scripts/build.sh >/dev/null
    scripts/build.sh lstm-bench >/dev/null
    BIN=.build/release/lstm-dist
    .build/release/lstm-bench sha256 --gigabytes 2
fi
python=.venv/bin/python
[[ -x $python ]] || { echo "error: no $python (scripts/install-deps.sh makes it, with h5py)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" - "$work" "$repeat" <<'EOF'
import sys
folder, repeat = sys.argv[1], int(sys.argv[2])
text = open("data/text.txt", encoding="utf-8").read()
open(f"{folder}/small.txt", "w", encoding="utf-8").write(text * 15)
open(f"{folder}/big.txt", "w", encoding="utf-8").write(text * repeat)
EOF
for name in small big; do
    "$BIN" pack "$work/$name.txt" --format text --length 64 --out "$work/$name.h5" >/dev/null
    rm "$work/$name.txt"
done
cp "$work/big.h5" "$work/big-unrecorded.h5"
"$python" -c "
import sys, h5py
with h5py.File(sys.argv[1], 'a') as f:
    if 'dataset_fingerprint' in f.attrs: del f.attrs['dataset_fingerprint']
" "$work/big-unrecorded.h5"

# One case: the best wall time and the peak RSS of a fresh start and of a resume.
measure() {
    local data=$1 best_fresh= best_resume= rss=0
    for ((round = 0; round < rounds; round++)); do
        rm -rf "$work/ck"
        for phase in fresh resume; do
            local args=(--max-steps 1)
            [[ $phase == resume ]] && args=(--resume latest --max-steps 2)
            /usr/bin/time -f "%e %M" -o "$work/time" "$BIN" train "$data" "${args[@]}" --checkpoint-dir "$work/ck" >/dev/null
            read -r wall kb <"$work/time"
            (( kb > rss )) && rss=$kb
            if [[ $phase == fresh ]]; then
                best_fresh=$(awk -v a="$wall" -v b="${best_fresh:-$wall}" 'BEGIN { print (a < b ? a : b) }')
            else
                best_resume=$(awk -v a="$wall" -v b="${best_resume:-$wall}" 'BEGIN { print (a < b ? a : b) }')
            fi
        done
    done
    printf '%-26s rows %9s  train --max-steps 1 %6.2f s  resume %6.2f s  peak RSS %4d MB\n' \
        "$(basename "$data")" "$("$python" -c "import h5py, sys; print(h5py.File(sys.argv[1], 'r')['lengths'].shape[0])" "$data")" \
        "$best_fresh" "$best_resume" $((rss / 1024))
}
for data in "$work/small.h5" "$work/big.h5" "$work/big-unrecorded.h5"; do measure "$data"; done
