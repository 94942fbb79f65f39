#!/usr/bin/env bash
# The main job on the bundled sample: installs what is missing, builds lstm-dist in release
# mode, packs data/text.txt into an HDF5 dataset and trains a character-level stateful LSTM on
# it with 4 MPI ranks. Everything it writes goes to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/mpi-env.sh

scripts/build.sh   # .build/release/lstm-dist, runs without the Swift toolchain (README, several machines)
bin=.build/release/lstm-dist
mkdir -p out
"$bin" pack data/text.txt --out out/text.h5 --force
"$bin" inspect out/text.h5
# out/ is this script's own: a new run gets a new log and, since a checkpoint folder holds one
# run, a new folder.
rm -rf out/train-log.jsonl out/checkpoints
mpirun -n 4 "$bin" train out/text.h5 --window 50 --epochs 10 --lr 0.003 \
    --checkpoint-dir out/checkpoints --log out/train-log.jsonl
.venv/bin/python scripts/plot-log.py out/train-log.jsonl --out out/train-curves.png

# What to try next, with the paths this run wrote (the newest checkpoint is the last epoch's).
checkpoint=$(ls out/checkpoints/ckpt-*.h5 | tail -n 1)
cat <<EOF

Trained: checkpoints in out/checkpoints/, the log in out/train-log.jsonl, its curves in out/train-curves.png.
Next, from $PWD (in a new shell, source scripts/mpi-env.sh first, for mpirun):
  # write text from the trained model
  $bin generate $checkpoint --prime "Day 12. The " --length 300 --temperature 0.8
  # plot the log again (loss, accuracy, bits per character per step and epoch)
  .venv/bin/python scripts/plot-log.py out/train-log.jsonl --out out/train-curves.png
  # score the model in the training layout, beside the layouts that read the rows wrongly
  mpirun -n 4 $bin evaluate $checkpoint out/text.h5 --layout train,interleaved,independent
EOF
