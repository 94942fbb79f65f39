"""What the binary prints about itself and about an epoch: `lstm-dist --version` (the version, the
commit it was built from, the kernel path a command would run), and the epoch summary line.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import os
import re
import subprocess

import pytest

from lstm_cli import BINARY, ROOT, run


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    pytest.skip("no flags line in /proc/cpuinfo")


def version(**environment):
    """`lstm-dist --version` with LSTM_DIST_KERNELS set as given (unset when None)."""
    env = {k: v for k, v in os.environ.items() if k != "LSTM_DIST_KERNELS"}
    env.update({k: v for k, v in environment.items() if v is not None})
    path = BINARY if BINARY.is_absolute() else ROOT / BINARY
    return subprocess.run([str(path), "--version"], cwd=ROOT, capture_output=True, text=True, timeout=30, env=env)


def test_version_names_the_release_the_commit_and_the_kernel_path_this_cpu_runs():
    result = version()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    assert re.fullmatch(r"lstm-dist \d+\.\d+\.\d+", lines[0]), lines[0]

    commit = re.fullmatch(r"commit (\S+)", lines[1])
    assert commit, lines[1]
    # "unknown" from a plain `swift build`; from scripts/build.sh a commit of this repository
    # (with -dirty when tracked files differed from it at build time).
    if commit.group(1) != "unknown":
        hash_ = re.fullmatch(r"([0-9a-f]{7,40})(-dirty)?", commit.group(1))
        assert hash_, commit.group(1)
        known = subprocess.run(["git", "cat-file", "-e", hash_.group(1) + "^{commit}"], cwd=ROOT, capture_output=True)
        if known.returncode != 0 and (ROOT / ".git").exists():
            pytest.fail(f"the binary says it was built from {hash_.group(1)}, which this repository does not hold")

    avx512 = {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"} <= cpu_flags()
    best = "avx512" if avx512 else "avx2"
    assert lines[2] == f"kernels {best} (the best this CPU runs; LSTM_DIST_KERNELS=avx512|avx2|reference forces one)", lines[2]


def test_version_says_when_lstm_dist_kernels_forces_a_path_and_refuses_a_bad_one():
    forced = version(LSTM_DIST_KERNELS="reference")
    assert forced.returncode == 0, forced.stderr
    assert re.search(r"^kernels reference \(forced by LSTM_DIST_KERNELS; this CPU's best is avx(512|2)\)$",
                     forced.stdout, re.M), forced.stdout
    bad = version(LSTM_DIST_KERNELS="sse")
    assert bad.returncode != 0 and bad.stderr.startswith("Error: LSTM_DIST_KERNELS=sse is not a kernel path"), bad.stderr


def test_the_epoch_summary_reads_done_in_then_the_metrics_without_a_colon_after_the_time(tmp_path):
    run("pack", "data/sequences.jsonl", "--out", tmp_path / "seq.h5")
    result = run("train", tmp_path / "seq.h5", "--hidden", "4", "--slots", "8", "--window", "40", "--epochs", "1",
                 "--checkpoint-dir", tmp_path / "ck")
    summary = [line for line in result.stdout.splitlines() if " done in " in line]
    assert len(summary) == 1, result.stdout
    assert re.fullmatch(r"epoch 1/1 done in \d+:\d\d  loss \d+\.\d{4}  accuracy \d+\.\d{4}  tokens_per_s \d+", summary[0]), summary[0]
