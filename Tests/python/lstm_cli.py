"""The built `lstm-dist` binary as the Python tests run it: LSTM_DIST_BIN (scripts/test.sh sets
it to the release build), default .build/debug/lstm-dist, run from the repository root."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / os.environ.get("LSTM_DIST_BIN", ".build/debug/lstm-dist")  # a relative path: from ROOT


def run(*arguments, expect=0, ranks=None, timeout=None, env=None):
    """Runs the binary (under `mpirun -n RANKS` when given, oversubscribed and allowed as root)
    and returns the finished process; asserts its exit code is `expect` unless that is None.
    `env`: variables set for this command only (a value of None unsets one)."""
    assert BINARY.exists(), f"{BINARY} is not built (swift build, or set LSTM_DIST_BIN)"
    command = [str(BINARY), *map(str, arguments)]
    environment = None
    if ranks:
        command = ["mpirun", "-n", str(ranks), *command]
        environment = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1")
        if os.getuid() == 0:
            environment.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if env:
        environment = dict(environment or os.environ)
        for name, value in env.items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=environment)
    if expect is not None:
        assert result.returncode == expect, result.stdout + result.stderr
    return result
