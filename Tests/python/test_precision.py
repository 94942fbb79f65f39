"""`--precision fp32|bf16` (issue 27): the flag of train, evaluate, predict, generate and forecast,
the checkpoint's root attribute `precision`, what a resume does with it, and the one-line refusal
on a CPU without AVX512_BF16 (or with LSTM_DIST_KERNELS=avx2), alone and under mpirun.

These tests check the plumbing, not bf16 arithmetic: LSTM_DIST_KERNELS=reference runs bf16 on any
CPU (plain loops, so the models here are tiny), and whether its products are really rounded to bf16
is the Model tests' business.

Runs the built binary: LSTM_DIST_BIN, default .build/debug/lstm-dist (from the repository root).
"""
import json
from pathlib import Path

import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (scripts/install-deps.sh makes .venv with it)")

from lstm_cli import ROOT, run  # noqa: E402

REFERENCE = {"LSTM_DIST_KERNELS": "reference"}
DEFAULT = {"LSTM_DIST_KERNELS": None}  # the best path for this CPU, whatever the caller's environment
MODEL = ["--hidden", "8", "--embedding", "8", "--window", "10", "--slots", "4"]


def cpu_has_avx512_bf16():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return "avx512_bf16" in line.split(":", 1)[1].split()
    pytest.skip("no flags line in /proc/cpuinfo")


@pytest.fixture
def without_bf16():
    if cpu_has_avx512_bf16():
        pytest.skip("this CPU has AVX512_BF16: --precision bf16 is not refused here")


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    """A small character dataset (100 rows of 40), and an fp32 checkpoint of two steps on it."""
    folder = tmp_path_factory.mktemp("precision")
    (folder / "text.txt").write_text((ROOT / "data" / "text.txt").read_text()[:4001])
    run("pack", folder / "text.txt", "--length", "40", "--out", folder / "text.h5")
    run("train", folder / "text.h5", *MODEL, "--max-steps", "2", "--checkpoint-dir", folder / "fp32", env=DEFAULT)
    return folder


def newest(folder):
    return sorted(Path(folder).glob("ckpt-*.h5"))[-1]


def recorded(path):
    """The checkpoint's root attribute `precision` (None when absent) and its config's."""
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["config"])
        assert "precision" not in config["shape"], config["shape"]
        return f.attrs.get("precision"), config.get("precision")


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def assert_refused_in_one_line(result, *fragments):
    assert result.returncode != 0, result.stdout + result.stderr
    assert len(error_lines(result)) == 1, result.stderr
    assert result.stderr.startswith("Error:"), result.stderr
    assert "Fatal error" not in result.stderr and "Backtrace" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in error_lines(result)[0], result.stderr


def test_every_command_that_runs_the_model_takes_precision_and_help_says_what_bf16_needs():
    for command in ("train", "evaluate", "predict", "generate", "forecast"):
        help_text = " ".join(run(command, "--help").stdout.split())
        assert "--precision <fp32|bf16>" in help_text, (command, help_text)
        assert "AVX512_BF16" in help_text and "summed in fp32" in help_text and "AMD Zen 4" in help_text, (command, help_text)
    assert "--precision" not in run("export", "--help").stdout


def test_an_unknown_precision_is_refused_in_one_line(text):
    result = run("train", text / "text.h5", "--precision", "fp16", "--checkpoint-dir", text / "fp16", expect=None)
    assert result.returncode != 0
    assert len(error_lines(result)) == 1 and "'fp16'" in error_lines(result)[0], result.stderr
    assert not (text / "fp16").exists()


def test_a_fresh_run_records_fp32_by_default_as_a_root_attribute_and_in_its_config(text):
    assert recorded(newest(text / "fp32")) == ("fp32", "fp32")
    summary = run("inspect", newest(text / "fp32")).stdout
    assert "  precision   fp32; weights and optimizer state fp32" in summary, summary
    assert json.loads(run("inspect", newest(text / "fp32"), "--json").stdout)["precision"] == "fp32"


def test_bf16_is_refused_on_this_cpu_before_any_work(text, without_bf16):
    folder = text / "refused"
    result = run("train", text / "text.h5", *MODEL, "--precision", "bf16", "--checkpoint-dir", folder,
                 expect=None, env=DEFAULT)
    assert_refused_in_one_line(result, "--precision bf16 needs AVX512_BF16", "this CPU does not have")
    assert result.stdout == "" and not folder.exists()


def test_bf16_is_refused_in_one_line_on_two_ranks_without_hanging(text, without_bf16):
    result = run("train", text / "text.h5", *MODEL, "--precision", "bf16", "--checkpoint-dir", text / "refused-2",
                 ranks=2, expect=None, timeout=120, env=DEFAULT)
    assert_refused_in_one_line(result, "--precision bf16 needs AVX512_BF16")
    assert not (text / "refused-2").exists()
    result = run("evaluate", newest(text / "fp32"), text / "text.h5", "--precision", "bf16",
                 ranks=2, expect=None, timeout=120, env=DEFAULT)
    assert_refused_in_one_line(result, "--precision bf16 needs AVX512_BF16")


def test_the_avx2_kernels_refuse_bf16_naming_what_is_missing(text):
    result = run("train", text / "text.h5", *MODEL, "--precision", "bf16", "--checkpoint-dir", text / "avx2",
                 expect=None, env={"LSTM_DIST_KERNELS": "avx2"})
    # With AVX512_BF16 the AVX2 kernels are what is missing it; without, the CPU is.
    missing = "LSTM_DIST_KERNELS=avx2 forces the AVX2 ones" if cpu_has_avx512_bf16() else "needs AVX512_BF16"
    assert_refused_in_one_line(result, missing, "--precision fp32")
    assert not (text / "avx2").exists()


@pytest.mark.parametrize("command", ["evaluate", "predict", "generate"])
def test_the_inference_commands_refuse_bf16_on_this_cpu_in_one_line(text, command, without_bf16):
    checkpoint = newest(text / "fp32")
    arguments = {"evaluate": [checkpoint, text / "text.h5"],
                 "predict": [checkpoint, text / "text.h5", "--out", text / "refused-predictions.h5"],
                 "generate": [checkpoint, "--length", "5"]}[command]
    result = run(command, *arguments, "--precision", "bf16", expect=None, env=DEFAULT)
    assert_refused_in_one_line(result, "--precision bf16 needs AVX512_BF16")
    assert result.stdout == "" and not (text / "refused-predictions.h5").exists()


@pytest.fixture(scope="module")
def bf16(text):
    """Two bf16 steps on the reference path, then a resume to step 4 without --precision."""
    folder = text / "bf16"
    first = run("train", text / "text.h5", *MODEL, "--precision", "bf16", "--max-steps", "2", "--checkpoint-dir", folder,
                env=REFERENCE)
    resumed = run("train", text / "text.h5", "--resume", "latest", "--max-steps", "4", "--checkpoint-dir", folder,
                  env=REFERENCE)
    return folder, first, resumed


def test_bf16_trains_on_the_reference_path_and_is_recorded(bf16):
    folder, first, _ = bf16
    assert "  precision: bf16\n" in first.stdout, first.stdout
    assert recorded(folder / "ckpt-00000002.h5") == ("bf16", "bf16")
    with h5py.File(folder / "ckpt-00000002.h5", "r") as f:
        assert f["model/lstm_0/kernel"].dtype == "float32" and f["optimizer/m/lstm_0/kernel"].dtype == "float32"
        assert f.attrs["global_step"] == 2


def test_a_resume_keeps_the_checkpoints_precision_unless_given(bf16):
    folder, _, resumed = bf16
    assert "  precision: bf16\n" in resumed.stdout and "was" not in resumed.stdout.split("precision:")[1].splitlines()[0]
    assert recorded(folder / "ckpt-00000004.h5") == ("bf16", "bf16")


def test_a_resume_that_changes_the_precision_says_so(text, bf16):
    folder, _, _ = bf16
    back = text / "back-to-fp32"
    result = run("train", text / "text.h5", "--resume", folder / "ckpt-00000004.h5", "--precision", "fp32",
                 "--max-steps", "5", "--checkpoint-dir", back, env=DEFAULT)
    assert "  precision: fp32 (was bf16 in the checkpoint)\n" in result.stdout, result.stdout
    assert recorded(back / "ckpt-00000005.h5") == ("fp32", "fp32")

    up = text / "up-to-bf16"
    result = run("train", text / "text.h5", "--resume", newest(text / "fp32"), "--precision", "bf16",
                 "--max-steps", "3", "--checkpoint-dir", up, env=REFERENCE)
    assert "  precision: bf16 (was fp32 in the checkpoint)\n" in result.stdout, result.stdout
    assert recorded(up / "ckpt-00000003.h5") == ("bf16", "bf16")


def test_resuming_a_bf16_checkpoint_on_this_cpu_is_refused_unless_fp32_is_given(text, bf16, without_bf16):
    folder, _, _ = bf16
    result = run("train", text / "text.h5", "--resume", folder / "ckpt-00000004.h5", "--max-steps", "6",
                 "--checkpoint-dir", text / "kept-bf16", expect=None, env=DEFAULT)
    assert_refused_in_one_line(result, f"{folder / 'ckpt-00000004.h5'} was trained with --precision bf16",
                               "--precision fp32")
    assert not (text / "kept-bf16").exists()


def test_a_two_rank_bf16_run_records_it_and_a_two_rank_resume_keeps_it(text):
    folder = text / "bf16-2"
    result = run("train", text / "text.h5", *MODEL, "--precision", "bf16", "--max-steps", "2", "--checkpoint-dir", folder,
                 ranks=2, timeout=300, env=REFERENCE)
    assert "  precision: bf16\n" in result.stdout, result.stdout
    run("train", text / "text.h5", "--resume", "latest", "--max-steps", "3", "--checkpoint-dir", folder,
        ranks=2, timeout=300, env=REFERENCE)
    assert recorded(folder / "ckpt-00000003.h5") == ("bf16", "bf16")
    with h5py.File(folder / "ckpt-00000003.h5", "r") as f:
        assert f.attrs["ranks"] == 2


def test_the_inference_commands_run_bf16_on_the_reference_path(text, bf16):
    folder, _, _ = bf16
    checkpoint = folder / "ckpt-00000004.h5"
    with h5py.File(text / "text.h5", "r") as f:
        rows, length, vocabulary = f["inputs"].shape[0], f["inputs"].shape[1], int(f.attrs["vocab_size"])
        valid = int(f["lengths"][...].sum())
    for precision in ("fp32", "bf16"):
        out = text / f"predictions-{precision}.h5"
        run("predict", checkpoint, text / "text.h5", "--out", out, "--precision", precision, env=REFERENCE)
        with h5py.File(out, "r") as f:
            assert f["predictions"].shape == (rows, length, vocabulary)
        scores = json.loads(run("evaluate", checkpoint, text / "text.h5", "--json", "--precision", precision,
                                env=REFERENCE).stdout)
        assert scores["train"]["targets"] == valid and scores["train"]["bits_per_char"] > 0, scores
        generated = run("generate", checkpoint, "--prime", "In the", "--length", "20", "--precision", precision,
                        env=REFERENCE).stdout
        assert generated.startswith("In the") and len(generated) >= 26, generated
    result = run("evaluate", checkpoint, text / "text.h5", "--precision", "bf16", ranks=2, timeout=300, env=REFERENCE)
    assert "2 ranks" in result.stdout, result.stdout


def test_forecast_takes_precision(tmp_path):
    run("pack", ROOT / "data" / "sensors.csv", "--target", "temperature,demand", "--horizon", "1", "--normalize",
        "--length", "100", "--out", tmp_path / "sensors.h5")
    run("train", tmp_path / "sensors.h5", "--hidden", "8", "--window", "20", "--slots", "4", "--precision", "bf16",
        "--max-steps", "2", "--checkpoint-dir", tmp_path / "ck", env=REFERENCE)
    checkpoint = newest(tmp_path / "ck")
    assert recorded(checkpoint) == ("bf16", "bf16")
    run("forecast", checkpoint, tmp_path / "sensors.h5", "--steps", "3", "--out", tmp_path / "forecast.h5",
        "--precision", "bf16", env=REFERENCE)
    with h5py.File(tmp_path / "forecast.h5", "r") as f:
        assert f["forecast"].shape[1:] == (3, 2)
    if not cpu_has_avx512_bf16():
        result = run("forecast", checkpoint, tmp_path / "sensors.h5", "--steps", "3", "--out", tmp_path / "refused.csv",
                     "--precision", "bf16", expect=None, env=DEFAULT)
        assert_refused_in_one_line(result, "--precision bf16 needs AVX512_BF16")


def test_export_writes_a_bf16_checkpoint_as_its_fp32_weights(text, bf16):
    folder, _, _ = bf16
    checkpoint = folder / "ckpt-00000004.h5"
    out = text / "exported.safetensors"
    run("export", checkpoint, "--format", "safetensors", "--out", out, env=DEFAULT)
    assert out.stat().st_size > 0 and (text / "exported.state.h5").exists()


def test_a_checkpoint_written_before_precision_loads_as_fp32(text, tmp_path):
    old = tmp_path / "old" / "ckpt-00000002.h5"
    old.parent.mkdir()
    old.write_bytes(newest(text / "fp32").read_bytes())
    with h5py.File(old, "r+") as f:
        del f.attrs["precision"]
        config = json.loads(f.attrs["config"])
        del config["precision"]
        f.attrs["config"] = json.dumps(config)
    assert recorded(old) == (None, None)
    assert "  precision   fp32 (no precision attribute)" in run("inspect", old).stdout
    run("predict", old, text / "text.h5", "--out", tmp_path / "p.h5", env=DEFAULT)
    result = run("train", text / "text.h5", "--resume", old, "--max-steps", "3", env=DEFAULT)
    assert "  precision: fp32\n" in result.stdout, result.stdout
    assert recorded(old.parent / "ckpt-00000003.h5") == ("fp32", "fp32")


def test_an_attribute_that_contradicts_the_config_is_refused_in_one_line(text, tmp_path):
    edited = tmp_path / "ckpt-00000002.h5"
    edited.write_bytes(newest(text / "fp32").read_bytes())
    with h5py.File(edited, "r+") as f:
        f.attrs["precision"] = "bf16"
    result = run("predict", edited, text / "text.h5", "--out", tmp_path / "p.h5", expect=None, env=DEFAULT)
    assert_refused_in_one_line(result, "attribute precision bf16 disagrees with its config's fp32")
    with h5py.File(edited, "r+") as f:
        f.attrs["precision"] = "fp8"
    result = run("predict", edited, text / "text.h5", "--out", tmp_path / "p.h5", expect=None, env=DEFAULT)
    assert_refused_in_one_line(result, "attribute precision is missing or not a known value")
