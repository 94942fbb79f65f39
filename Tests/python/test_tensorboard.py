"""`train --tensorboard DIR` (docs/commands.md): TensorBoard's own reader
(tensorboard.backend.event_processing) finds in DIR every value the `--log` lines hold (the last
line for a step: a resumed run writes again the steps a killed one did past its last
checkpoint), each step once, through a stop and resume and through a kill -9 and resume; every
file opens with file_version "brain.Event:2", then a SessionLog START (at 0, or at a resumed run's
first step);
the configuration is a text summary.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import json
import os
import signal
import subprocess
import time

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")
pytest.importorskip("tensorboard", reason="tensorboard is not installed (scripts/install-deps.sh puts it in .venv)")
import numpy as np  # noqa: E402
from tensorboard.backend.event_processing import event_accumulator, event_file_loader  # noqa: E402
from tensorboard.backend.event_processing import plugin_event_accumulator  # noqa: E402
from tensorboard.compat.proto import event_pb2  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

from lstm_cli import BINARY, ROOT, run  # noqa: E402

# The step line's fields that are not figures.
KEYS = {"epoch", "step", "global_step", "event"}


@pytest.fixture
def text(tmp_path):
    """A small text dataset: per-timestep targets, so the log has accuracy and bits_per_char."""
    rng = np.random.default_rng(0)
    source = tmp_path / "text.txt"
    source.write_text("".join(rng.choice(list("abcdefgh \n"), size=4001)))
    run("pack", source, "--length", "20", "--out", tmp_path / "text.h5")
    return tmp_path / "text.h5"


def train(dataset, folder, *options, expect=0):
    return run("train", dataset, "--hidden", "8", "--embedding", "4", "--slots", "4", "--window", "10",
               "--checkpoint-dir", folder / "ck", "--log", folder / "log.jsonl", *options, expect=expect)


def read_log(path):
    """{global_step: the last step line}, and {epoch: (global_step that ends it, last epoch line)}."""
    steps, epochs, last_step = {}, {}, 0
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "epoch":
            epochs[record["epoch"]] = (last_step, record)
        else:
            last_step = record["global_step"]
            steps[last_step] = record
    return steps, epochs


def expected_scalars(log):
    """{tag: {step: value}} as TensorBoard should show the log."""
    steps, epochs = read_log(log)
    expected = {}
    for global_step, record in steps.items():
        for key, value in record.items():
            if key not in KEYS:
                expected.setdefault("train/" + key, {})[global_step] = value
    for global_step, record in epochs.values():
        for key, value in record.items():
            if key in KEYS:
                continue
            tag = "val/" + key[4:] if key.startswith("val_") else "epoch/" + key
            expected.setdefault(tag, {})[global_step] = value
    return expected


def check_agrees_with_log(folder):
    expected = expected_scalars(folder / "log.jsonl")
    assert {"train/loss", "train/accuracy", "train/bits_per_char", "train/lr", "train/tokens_per_s",
            "train/allreduce_share", "epoch/loss", "epoch/accuracy", "epoch/tokens_per_s"} <= expected.keys()

    accumulator = event_accumulator.EventAccumulator(str(folder / "tb"), size_guidance={"scalars": 0, "tensors": 0}).Reload()
    assert set(accumulator.Tags()["scalars"]) == set(expected)
    for tag, values in expected.items():
        shown = accumulator.Scalars(tag)
        assert [event.step for event in shown] == sorted(values), tag  # each step once, in order
        for event in shown:
            logged = values[event.step]
            if logged is None:  # JSON's null: not finite
                assert not np.isfinite(event.value), (tag, event.step)
            else:
                assert event.value == float(np.float32(logged)), (tag, event.step, event.value, logged)

    # The reader TensorBoard's UI uses (scalars as tensors) shows the same steps.
    plugin = plugin_event_accumulator.EventAccumulator(str(folder / "tb"), size_guidance={"tensors": 0}).Reload()
    for tag, values in expected.items():
        shown = plugin.Tensors(tag)
        assert [event.step for event in shown] == sorted(values), tag
        assert [float(tensor_util.make_ndarray(event.tensor_proto)) for event in shown] == \
            [event.value for event in accumulator.Scalars(tag)], tag

    # The configuration, a text summary at step 0 (and at each resumed run's first step).
    assert "config" in accumulator.PluginTagToContent("text")
    configs = accumulator.Tensors("config")
    assert configs[0].step == 0
    markdown = tensor_util.make_ndarray(configs[0].tensor_proto).item().decode()
    assert markdown.startswith("```json\n") and markdown.endswith("\n```")
    config = json.loads(markdown[len("```json\n"):-len("\n```")])  # the checkpoint's `config`
    assert config["tensorboard"] == str(folder / "tb") and config["shape"]["hidden"] > 0
    return accumulator


def events(path):
    return list(event_file_loader.EventFileLoader(str(path)).Load())


def event_files(folder):
    return sorted((folder / "tb").iterdir())


def checkpoint_step(path):
    with h5py.File(path, "r") as f:
        return int(f.attrs["global_step"])


def test_tensorboard_agrees_with_the_log_through_a_stop_and_a_resume(text, tmp_path):
    # 200 rows / 4 slots x 2 windows = 100 steps per epoch; stop at 130, mid-epoch.
    train(text, tmp_path, "--epochs", "3", "--max-steps", "130", "--validation", text, "--tensorboard", tmp_path / "tb")
    # The resume keeps the run's --tensorboard, as it keeps --log.
    train(text, tmp_path, "--resume", "latest", "--epochs", "3")
    accumulator = check_agrees_with_log(tmp_path)
    assert [event.step for event in accumulator.Scalars("train/loss")] == list(range(1, 301))
    assert [event.step for event in accumulator.Scalars("val/loss")] == [100, 200, 300]

    first, second = event_files(tmp_path)
    assert first.name.startswith("events.out.tfevents.") and second.name > first.name
    opened = events(first)
    assert opened[0].file_version == "brain.Event:2" and opened[0].step == 0
    assert opened[1].session_log.status == event_pb2.SessionLog.START and opened[1].step == 0
    resumed = events(second)
    assert resumed[0].file_version == "brain.Event:2"
    assert resumed[1].session_log.status == event_pb2.SessionLog.START and resumed[1].step == 131
    assert [event.step for event in accumulator.Tensors("config")] == [0, 131]

    # Nothing left to do: no new file.
    train(text, tmp_path, "--resume", "latest")
    assert len(event_files(tmp_path)) == 2


def test_what_a_run_wrote_past_its_last_checkpoint_shows_once_with_the_resumed_runs_values(text, tmp_path):
    """As a kill after step 130 leaves it, deterministically: the checkpoint at 130 removed."""
    train(text, tmp_path, "--epochs", "2", "--max-steps", "130", "--checkpoint-every", "40", "--tensorboard", tmp_path / "tb")
    (tmp_path / "ck" / "ckpt-00000130.h5").unlink()
    latest = max((tmp_path / "ck").glob("ckpt-*.h5"), key=checkpoint_step)
    assert checkpoint_step(latest) == 120
    train(text, tmp_path, "--resume", "latest", "--epochs", "2")
    accumulator = check_agrees_with_log(tmp_path)
    assert [event.step for event in accumulator.Scalars("train/loss")] == list(range(1, 201))
    assert events(event_files(tmp_path)[1])[1].step == 121


def test_a_run_killed_past_its_last_checkpoint_and_resumed_shows_each_step_once(tmp_path):
    # 2400 rows of 20 over 8 slots: 300 steps of a few milliseconds, a checkpoint every 100.
    rng = np.random.default_rng(1)
    source = tmp_path / "text.txt"
    source.write_text("".join(rng.choice(list("abcdefgh \n"), size=48001)))
    run("pack", source, "--length", "20", "--out", tmp_path / "text.h5")
    options = ["train", tmp_path / "text.h5", "--hidden", "64", "--embedding", "32", "--slots", "8",
               "--checkpoint-dir", tmp_path / "ck", "--log", tmp_path / "log.jsonl", "--epochs", "1",
               "--checkpoint-every", "100", "--tensorboard", tmp_path / "tb"]
    process = subprocess.Popen([str(BINARY), *map(str, options)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        # Killed once its event file shows steps past the first checkpoint (well before the second).
        while time.monotonic() < deadline and process.poll() is None:
            files = list((tmp_path / "tb").glob("*tfevents*"))
            if files and (tmp_path / "ck" / "ckpt-00000100.h5").exists() and max(e.step for e in events(files[0])) > 110:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be killed: " + process.stderr.read().decode()
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    latest = max(checkpoint_step(path) for path in (tmp_path / "ck").glob("ckpt-*.h5"))
    killed = max(event.step for event in events(event_files(tmp_path)[0]))
    assert killed > latest, "the killed run wrote nothing past its last checkpoint"

    run(*options[:-2], "--resume", "latest")
    accumulator = check_agrees_with_log(tmp_path)
    assert [event.step for event in accumulator.Scalars("train/loss")] == list(range(1, 301))
    assert events(event_files(tmp_path)[1])[1].step == latest + 1


@pytest.mark.parametrize("ranks", [None, 2])
def test_a_fresh_run_refuses_a_folder_with_another_runs_events(text, tmp_path, ranks):
    (tmp_path / "tb").mkdir()
    (tmp_path / "tb" / "events.out.tfevents.1.host").write_bytes(b"")
    # Under mpirun, rank 0 alone opens the folder: its refusal must reach the other rank, which
    # once went on into the first step's allreduce and hung the job.
    result = run("train", text, "--hidden", "8", "--embedding", "4", "--slots", "2", "--window", "10",
                 "--checkpoint-dir", tmp_path / "ck", "--epochs", "1", "--tensorboard", tmp_path / "tb",
                 expect=None, ranks=ranks, timeout=60)
    assert result.returncode != 0
    assert result.stderr.count("Error:") == 1 and "already holds another run's events" in result.stderr, result.stderr
    assert [path.name for path in event_files(tmp_path)] == ["events.out.tfevents.1.host"]
