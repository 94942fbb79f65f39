#!/usr/bin/env bash
# Packs random inputs and compares every file with scripts/pack_model.py (issue 25):
#   scripts/pack-fuzz.sh [--seed S] [--count N] [--keep DIR]
# It runs PackReferenceTests (the suite's fixed-seed test) with another seed and count: pack
# runs in-process through the Pack module, as in the suite, rather than the release binary once
# per case, which would spend most of 20,000 cases starting processes and measure the same code.
# --keep DIR leaves the inputs, manifest.json and outputs there, to look at a difference
# (then: python scripts/pack_fuzz.py check DIR). Needs the debug build with tests
# (swift build --build-tests) and a Python with numpy and h5py ($LSTM_DIST_PYTHON, else .venv's).
set -euo pipefail
cd "$(dirname "$0")/.."
seed=1 count=2000 keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed="$2"; shift 2 ;;
        --count) count="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        *) echo "usage: $0 [--seed S] [--count N] [--keep DIR]" >&2; exit 2 ;;
    esac
done
python="${LSTM_DIST_PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in "$PWD/.venv/bin/python" "$(git rev-parse --path-format=absolute --git-common-dir)/../.venv/bin/python"; do
        if [ -x "$candidate" ]; then python="$candidate"; break; fi
    done
fi
[ -n "$python" ] || { echo "pack-fuzz: set LSTM_DIST_PYTHON to a Python with numpy and h5py" >&2; exit 2; }
if [ -n "$keep" ]; then
    [ -e "$keep" ] && { echo "pack-fuzz: $keep exists; give a new folder" >&2; exit 2; }
    mkdir -p "$keep"
    keep="$(cd "$keep" && pwd)"
fi
started=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
LSTM_DIST_PYTHON="$python" PACK_FUZZ_SEED="$seed" PACK_FUZZ_COUNT="$count" PACK_FUZZ_DIR="$keep" \
    swift test --skip-build --filter PackReferenceTests/testPackAgreesWithTheReferenceOnRandomInputs >"$log" 2>&1 || status=$?
grep -E '^packed|^DIFFERENT|^    [/a-z]|pack_fuzz:|Skipped|skipped' "$log" | awk '!seen[$0]++' || true
echo "pack-fuzz: seed $seed, $count cases: $(( $(date +%s) - started )) s, $([ "$status" = 0 ] && echo "no difference" || echo "FAILED (swift test exit $status)")"
exit "$status"
