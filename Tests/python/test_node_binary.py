"""One binary for every node (README, "Running on several machines"): the release build links the
Swift runtime and Foundation in (scripts/build.sh, --static-swift-stdlib), so a node needs no Swift
toolchain. Checked the direct way: the Swift toolchain's folder is hidden under an empty tmpfs in a
private mount namespace (`unshare --mount`, so nothing outside this test sees it), and there the
binary packs a dataset, trains on 2 ranks under mpirun, stops, and resumes to the same weights as
an uninterrupted run. Takes seconds.

The run with the toolchain hidden needs root (mounting, even in a private namespace); it is
skipped otherwise, saying why. The `ldd` check runs as anyone. Runs the built
binary: LSTM_DIST_BIN (scripts/test.sh sets it to the release build), from the repository root.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
import numpy as np  # noqa: E402

from lstm_cli import BINARY, ROOT  # noqa: E402
if not BINARY.is_absolute():
    BINARY = ROOT / BINARY

needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: hides the Swift toolchain by mounting over its folder in a private mount namespace")

# Row-labelled sequences (1000 rows of up to 40 steps): 2 ranks x 4 slots, 125 steps per epoch.
TRAIN = ["--hidden", "8", "--slots", "4", "--window", "40", "--epochs", "2"]
HIDDEN_MARK = 97  # the namespace's shell exits with this when the mount fails


def toolchain_folder():
    """The Swift toolchain's `usr` folder (the parent of the `bin` that holds `swift`), as
    `dirname $(dirname $(readlink -f $(which swift)))` gives it. Skips unless LSTM_DIST_BIN names
    the binary: lstm_cli's default, the debug build, loads the toolchain's libraries by design."""
    if "LSTM_DIST_BIN" not in os.environ:
        pytest.skip("LSTM_DIST_BIN is not set: the node binary is the release build scripts/build.sh makes (scripts/test.sh sets it)")
    swift = shutil.which("swift")
    if swift is None:
        pytest.skip("no `swift` on PATH: no toolchain here to hide")
    folder = Path(swift).resolve().parent.parent
    if folder in (Path("/"), Path("/usr")):
        pytest.skip(f"the toolchain lives in {folder} with the system's own programs; it cannot be hidden alone")
    return folder


def hidden(toolchain, *command, timeout=180):
    """Runs `command` from the repository root in a new mount namespace where `toolchain` is an
    empty, read-only tmpfs. mpirun is allowed as root, oversubscribed, one BLAS thread per rank."""
    if shutil.which("unshare") is None:
        pytest.skip("no `unshare` (util-linux) to make a private mount namespace")
    script = f'mount -t tmpfs -o size=64k,mode=0755,ro lstm-dist-no-toolchain "$1" || exit {HIDDEN_MARK}; shift; exec "$@"'
    environment = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                       OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(toolchain),
                             *map(str, command)], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            env=environment)
    if result.returncode == HIDDEN_MARK:
        pytest.skip(f"cannot mount over {toolchain} in a private mount namespace here: {result.stderr.strip()}")
    return result


def tensors(path):
    with h5py.File(path, "r") as f:
        names = []
        f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        return {name: f[name][...] for name in names}


def test_the_release_binary_loads_no_library_from_the_toolchain_folder():
    toolchain = toolchain_folder()
    linked = subprocess.run(["ldd", str(BINARY)], capture_output=True, text=True, check=True).stdout
    from_toolchain = [line.strip() for line in linked.splitlines() if f"{toolchain}/" in line]
    assert from_toolchain == [], (f"{BINARY} loads these from the toolchain, so a node without it cannot run it "
                                  f"(build it with scripts/build.sh, which links the Swift runtime in):\n" + "\n".join(from_toolchain))


@needs_root
def test_pack_train_on_two_ranks_and_resume_run_with_the_toolchain_hidden(tmp_path):
    toolchain = toolchain_folder()
    # The namespace really hides it: the toolchain's own driver is gone there.
    swift = hidden(toolchain, "swift", "--version")
    assert swift.returncode != 0, f"swift still runs with {toolchain} hidden:\n{swift.stdout}"
    linked = hidden(toolchain, "ldd", BINARY)
    assert linked.returncode == 0 and "not found" not in linked.stdout, linked.stdout + linked.stderr

    version = hidden(toolchain, BINARY, "--version")
    assert version.returncode == 0 and version.stdout.startswith("lstm-dist "), version.stdout + version.stderr

    data = tmp_path / "sequences.h5"
    packed = hidden(toolchain, BINARY, "pack", "data/sequences.jsonl", "--out", data)
    assert packed.returncode == 0, packed.stdout + packed.stderr

    straight = hidden(toolchain, "mpirun", "-n", "2", BINARY, "train", data, *TRAIN, "--checkpoint-dir", tmp_path / "straight")
    assert straight.returncode == 0, straight.stdout + straight.stderr
    assert "2 ranks x 4 slots" in straight.stdout, straight.stdout

    stopped = hidden(toolchain, "mpirun", "-n", "2", BINARY, "train", data, *TRAIN, "--max-steps", "100",
                     "--checkpoint-dir", tmp_path / "resumed")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    resumed = hidden(toolchain, "mpirun", "-n", "2", BINARY, "train", data, "--resume", "latest",
                     "--checkpoint-dir", tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming from " in resumed.stdout and "global step 100" in resumed.stdout, resumed.stdout

    last = sorted((tmp_path / "straight").glob("ckpt-*.h5"))[-1]
    expected, actual = tensors(last), tensors(tmp_path / "resumed" / last.name)
    assert sorted(actual) == sorted(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(actual[name], values, err_msg=name)
