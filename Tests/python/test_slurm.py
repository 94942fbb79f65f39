"""The README's Slurm batch script, run by a real Slurm.

A one-node cluster on this machine: Debian's munged, slurmctld and slurmd on localhost (2 CPUs),
their configuration, keys, sockets, state and logs in a temporary folder, on free ports. The
README's script is submitted through sbatch with `/shared/` replaced by that folder and
`--nodes=1` on sbatch's command line (one node here, 2 tasks on it), and it is checked that:
the job trains with 2 tasks under srun and ends with a checkpoint; `scancel --signal=USR1`
makes the running job checkpoint and exit 0; a second sbatch of the same script resumes with
`--resume latest` and ends with a checkpoint byte-identical to the uninterrupted run's.

Needs root (it installs Slurm and MUNGE with scripts/install-deps.sh --slurm, and runs the
daemons as root); skipped otherwise. Every daemon it starts is stopped by its PID at the end,
whatever happened. Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist.
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")

from lstm_cli import BINARY, ROOT  # noqa: E402
if not BINARY.is_absolute():
    BINARY = ROOT / BINARY

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: installs Debian's Slurm and MUNGE and runs munged, slurmctld and slurmd as root")

# What the jobs train: 1000 sequences of up to 40 timesteps, windows of 10, 2 tasks x 16 slots.
TRAIN = ["--epochs", "40", "--window", "10", "--hidden", "32"]
JOB_TIMEOUT = 240
# The README's example network between nodes; here the only one between the 2 tasks is loopback.
README_SUBNET = "10.0.0.0/24"


def readme_batch_script():
    """The first code block of the README's Slurm section, exactly as a user would copy it."""
    section = (ROOT / "README.md").read_text().split("\n### Slurm\n", 1)[1]
    script = re.search(r"```\n(.*?)```", section, re.S).group(1)
    assert script.startswith("#!/bin/bash") and "srun --mpi=" in script and "--resume latest" in script, script
    return script


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """munged, slurmctld and slurmd, all in the foreground of processes this class started."""

    def __init__(self, folder):
        self.folder = folder
        self.daemons = []
        self.environment = dict(os.environ, SLURM_CONF=str(folder / "slurm.conf"),
                                PATH=f"{BINARY.parent}:{os.environ['PATH']}:/usr/sbin:/sbin")

    def start(self):
        folder, host = self.folder, socket.gethostname().split(".")[0]
        secret = folder / "munge-key"      # munged insists on a folder only its owner can write
        secret.mkdir(mode=0o700)
        for name in ("state", "spool", "tmp"):
            (folder / name).mkdir()
        socket_path = folder / "munge.socket"
        self.run("mungekey", "--create", "--keyfile", secret / "munge.key")
        self.daemons.append(self.spawn("munged", "--foreground", "--force", f"--socket={socket_path}",
                                       f"--key-file={secret / 'munge.key'}", f"--pid-file={folder / 'munged.pid'}",
                                       f"--log-file={folder / 'munged.log'}", f"--seed-file={folder / 'munged.seed'}"))
        self.wait_for(lambda: socket_path.exists(), "munged's socket", self.daemons[-1])
        (folder / "slurm.conf").write_text(f"""\
ClusterName=lstmdisttest
FirstJobId={random.randrange(1000, 1000000)}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={socket_path}
CredType=cred/munge
StateSaveLocation={folder / 'state'}
SlurmdSpoolDir={folder / 'spool'}
TmpFS={folder / 'tmp'}
SlurmctldPidFile={folder / 'slurmctld.pid'}
SlurmdPidFile={folder / 'slurmd.pid'}
SlurmctldLogFile={folder / 'slurmctld.log'}
SlurmdLogFile={folder / 'slurmd.log'}
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=local Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        self.daemons.append(self.spawn("slurmctld", "-D", "-i"))
        self.daemons.append(self.spawn("slurmd", "-D", "-N", host))
        self.wait_for(lambda: self.run("sinfo", "--noheader", "--format=%t", check=False).stdout.strip() == "idle",
                      "the node to be idle", *self.daemons)

    def stop(self):
        """Cancels what still runs, then stops each daemon by its PID (SIGKILL if it lingers)."""
        if len(self.daemons) == 3:
            self.run("scancel", "--full", "--partition=local", check=False)
            try:
                self.wait_for(lambda: not self.run("squeue", "--noheader", check=False).stdout.strip(), "no jobs", timeout=60)
            except AssertionError:
                pass
        for daemon in reversed(self.daemons):
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        self.daemons = []

    def spawn(self, program, *arguments):
        log = open(self.folder / f"{program}.out", "w")
        return subprocess.Popen([program, *map(str, arguments)], env=self.environment, cwd=self.folder,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def run(self, program, *arguments, check=True):
        result = subprocess.run([program, *map(str, arguments)], env=self.environment, cwd=self.folder,
                                capture_output=True, text=True, timeout=60)
        assert not check or result.returncode == 0, f"{program} {' '.join(map(str, arguments))}: {result.stdout}{result.stderr}"
        return result

    def wait_for(self, condition, what, *daemons, timeout=60):
        deadline = time.monotonic() + timeout
        while not condition():
            for daemon in daemons:
                assert daemon.poll() is None, f"{daemon.args[0]} exited ({daemon.returncode}) waiting for {what}: {self.logs()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.logs()}"
            time.sleep(0.3)

    def logs(self):
        return "".join(f"\n--- {path.name}\n{path.read_text()[-3000:]}" for path in sorted(self.folder.glob("*.log")) + sorted(self.folder.glob("*.out")))

    def submit(self, script, *arguments):
        """sbatch's job id; the job's output goes to job-<id>.out in the cluster's folder."""
        return self.run("sbatch", "--parsable", "--nodes=1", f"--output={self.folder}/job-%j.out",
                        script, *arguments).stdout.strip().split(";")[0]

    def job(self, job_id):
        """scontrol's fields of the job (kept for MinJobAge, 300 s, after it ends)."""
        line = self.run("scontrol", "--oneliner", "show", "job", job_id).stdout
        return dict(field.split("=", 1) for field in line.split() if "=" in field)

    def wait_until_done(self, job_id):
        self.wait_for(lambda: self.job(job_id)["JobState"] not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING"),
                      f"job {job_id} to end", *self.daemons, timeout=JOB_TIMEOUT)
        return self.job(job_id), (self.folder / f"job-{job_id}.out").read_text()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    install = subprocess.run([ROOT / "scripts/install-deps.sh", "--slurm"], capture_output=True, text=True)
    assert install.returncode == 0, install.stdout + install.stderr
    folder = tmp_path_factory.mktemp("slurm")
    folder.chmod(0o755)
    cluster = Cluster(folder)
    try:
        cluster.start()
        listed = cluster.run("srun", "--mpi=list")
        plugins = listed.stdout + listed.stderr
        mpi = re.search(r"srun --mpi=(\w+)", readme_batch_script()).group(1)
        assert re.search(rf"^\s*{mpi}$", plugins, re.M), f"the README's --mpi={mpi} is not among this Slurm's plugins:\n{plugins}"
        script = folder / "train.sbatch"
        script.write_text(readme_batch_script().replace("/shared/", f"{folder}/").replace(README_SUBNET, "127.0.0.0/8"))
        subprocess.run([BINARY, "pack", ROOT / "data/sequences.jsonl", "--out", folder / "data.h5"], check=True, capture_output=True)
        cluster.script = script
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def uninterrupted(cluster):
    """The README's job run to its end; its checkpoints are moved to straight/ afterwards."""
    job, output = cluster.wait_until_done(cluster.submit(cluster.script, *TRAIN))
    shutil.move(cluster.folder / "ckpt", cluster.folder / "straight")
    return job, output


@pytest.fixture(scope="module")
def signalled(cluster, uninterrupted):
    """The same job, sent `scancel --signal=USR1` as soon as it reports its first step (an idle
    machine runs the whole job in seconds)."""
    job_id = cluster.submit(cluster.script, *TRAIN)
    output = cluster.folder / f"job-{job_id}.out"
    cluster.wait_for(lambda: output.exists() and "epoch 1/40  step " in output.read_text(), f"job {job_id} to train",
                     timeout=JOB_TIMEOUT)
    cluster.run("scancel", "--signal=USR1", job_id)
    return cluster.wait_until_done(job_id)


def checkpoints(folder):
    return sorted(path.name for path in folder.glob("ckpt-*.h5"))


def contents(path):
    """Every dataset's bytes, dtype and shape and every attribute, by HDF5 path; but `run_id`,
    which two runs draw apart by design (one folder, one run)."""
    found = {}
    with h5py.File(path, "r") as file:
        found["/"] = {name: value for name, value in file.attrs.items() if name != "run_id"}
        def visit(name, item):
            found[name] = dict(item.attrs)
            if isinstance(item, h5py.Dataset):
                found[name + " data"] = (item.dtype.str, item.shape, item[()].tobytes())
        file.visititems(visit)
    return found


def file_bytes(path):
    """The file's bytes with its run id zeroed: the two runs drew theirs apart."""
    with h5py.File(path, "r") as file:
        run_id = file.attrs["run_id"].encode()
    data = path.read_bytes()
    assert data.count(run_id) == 1, path
    return data.replace(run_id, b"0" * len(run_id))


def test_the_readme_script_trains_with_two_tasks_under_srun_and_ends_with_a_checkpoint(cluster, uninterrupted):
    job, output = uninterrupted
    assert (job["JobState"], job["ExitCode"], job["NumTasks"]) == ("COMPLETED", "0:0", "2"), output
    assert "2 ranks x 16 slots = 32 global slots" in output, output
    assert "training finished after" in output, output
    final = checkpoints(cluster.folder / "straight")[-1]
    with h5py.File(cluster.folder / "straight" / final, "r") as file:
        assert (file.attrs["ranks"], file.attrs["slots_per_rank"], file.attrs["epoch"]) == (2, 16, 40)


def test_scancel_signal_usr1_makes_the_job_checkpoint_and_exit_0(cluster, uninterrupted, signalled):
    job, output = signalled
    assert (job["JobState"], job["ExitCode"]) == ("COMPLETED", "0:0"), output
    assert "stopped on request" in output and "--resume latest" in output, output
    stopped_at = checkpoints(cluster.folder / "ckpt")[-1]
    assert stopped_at < checkpoints(cluster.folder / "straight")[-1], f"the job stopped early: {stopped_at}"


def test_a_second_sbatch_resumes_from_latest_and_ends_byte_identical_to_the_uninterrupted_run(cluster, uninterrupted, signalled):
    stopped_at = checkpoints(cluster.folder / "ckpt")[-1]
    job, output = cluster.wait_until_done(cluster.submit(cluster.script, *TRAIN))
    assert (job["JobState"], job["ExitCode"]) == ("COMPLETED", "0:0"), output
    assert f"resuming from {cluster.folder}/ckpt/{stopped_at}" in output, output
    final = checkpoints(cluster.folder / "straight")[-1]
    assert checkpoints(cluster.folder / "ckpt")[-1] == final
    expected, actual = contents(cluster.folder / "straight" / final), contents(cluster.folder / "ckpt" / final)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert actual[name] == expected[name], f"{final}: {name} differs"
    assert file_bytes(cluster.folder / "straight" / final) == file_bytes(cluster.folder / "ckpt" / final), \
        f"{final}: every dataset and attribute is equal, yet the files' bytes differ"
