"""Crashes, truncated files and full disks: a rerun says what was broken, rebuilds it and ends where an uninterrupted
run ends; nothing half-written is taken as finished."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_LM, write_wave
from test_pipeline import _csv_folder

from codec_bench.config import EvalConfig, ModelConfig, RunConfig, TrainConfig
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.study.pipeline import run

ENV = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


def config_for(root: Path, out: Path) -> RunConfig:
    return RunConfig(dataset="csv", out=out, root=root, model=ModelConfig(tiny_sizes=TINY_LM),
                     train=TrainConfig(epochs=3, batch_size=4), eval=EvalConfig(generation=False))


def results(out: Path) -> list:
    """What must not depend on interruptions: every finished record and every prediction row."""
    found = []
    for path in sorted(out.glob("csv/*/records.json")) + sorted(out.glob("csv/*/eval/records.json")):
        for record in io.read_json(path)["records"]:
            found.append((record["method"], record["split"], record["metrics"], io.read_jsonl(out / record["predictions"])))
    return found


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished")
    root = _csv_folder(folder / "data")
    run(config_for(root, folder / "out"))
    return root, folder / "out"


def rerun_after(finished, tmp_path, damage) -> tuple[list, str]:
    """Copy the finished run, ``damage(out, run folder)``, rerun it; returns its results and what it said."""
    from codec_bench.core import ui

    root, out = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    damage(copy, next(copy.glob("csv/embedded-*__full")))
    said = []
    original = ui.warn
    ui.warn = said.append
    try:
        run(config_for(root, copy))
    finally:
        ui.warn = original
    return results(copy), " ".join(said)


def cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda out, run: cut(
                run / "prompts" / "test.jsonl", len((run / "prompts" / "test.jsonl").read_text().split("\n")[0]) + 1
            ),
            "prompts not reused (test.jsonl has",
        ),
        (lambda out, run: cut(run / "eval" / "records.json", 30), "evaluation not reused (records.json has"),
        (lambda out, run: cut(run / "model" / "model.safetensors", 100), "trained model not reused (model.safetensors has"),
        (lambda out, run: cut(next((out / "cache" / "csv").glob("embedded-fit-*.safetensors")), 50), "codec fit not reused"),
        (
            lambda out, run: [
                (run / "base_model" / "model.safetensors").unlink(),
                shutil.rmtree(run / "model"),
                shutil.rmtree(run / "eval"),
            ],
            "base model not reused (model.safetensors is missing)",
        ),
        (lambda out, run: cut(next((out / "csv").glob("baseline/*_predictions.jsonl")), 10), "baseline not reused"),
    ],
)
def test_a_damaged_artefact_is_named_and_rebuilt(finished, tmp_path, damage, message):
    found, said = rerun_after(finished, tmp_path, damage)
    assert message in said
    assert found == results(finished[1])


def test_a_checkpoint_killed_while_saved_is_moved_aside_and_training_resumes(finished, tmp_path):
    def half_saved(out, run):
        (run / "model" / "train_done.json").unlink()
        newest = max((run / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
        for name in os.listdir(newest):
            if name not in ("config.json", "generation_config.json"):
                (newest / name).unlink()
        shutil.rmtree(run / "eval")

    found, said = rerun_after(finished, tmp_path, half_saved)
    assert "incomplete (killed while it was saved)" in said
    assert found == results(finished[1])
    run_dir = next((tmp_path / "out").glob("csv/embedded-*__full"))
    assert list((run_dir / "checkpoints" / "incomplete").iterdir())
    assert io.read_json(run_dir / "model" / "train_done.json")["train_loss"] == pytest.approx(
        io.read_json(next(finished[1].glob("csv/embedded-*__full")) / "model" / "train_done.json")["train_loss"], rel=1e-6)


def test_a_full_disk_is_one_line_and_the_rerun_on_space_finishes(finished, tmp_path, monkeypatch):
    from codec_bench.llm.train import AnswerOnlyTrainer

    root, out = finished

    def no_space(self, output_dir=None, _internal_call=False):
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        (Path(output_dir) / "config.json").write_text("{}")  # what a full disk leaves: a file, then nothing
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(output_dir) / "model.safetensors"))

    monkeypatch.setattr(AnswerOnlyTrainer, "save_model", no_space)
    with pytest.raises(CodecBenchError) as err:
        run(config_for(root, tmp_path / "out"))
    message = str(err.value)
    assert "no space left on the device while training" in message and "free" in message and "needed" in message
    assert "\n" not in message and str(tmp_path / "out") in message
    monkeypatch.undo()
    run(config_for(root, tmp_path / "out"))  # the half-written model folder is not taken as finished
    assert results(tmp_path / "out") == results(out)


def test_a_real_full_disk(finished, tmp_path):
    """A 3 MB tmpfs as --out (root and a kernel that allows the mount; skipped otherwise)."""
    disk = tmp_path / "small"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        command = [sys.executable, "-m", "codec_bench.cli", "run", "csv", "--root", str(finished[0]), "--out", str(disk),
                   "--epochs", "1", "--codec", "embedded"]
        done = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stdout + done.stderr
        line = " ".join(done.stderr.split())
        assert "no space left on the device" in line and "Traceback" not in done.stderr
        assert not list(disk.rglob("train_done.json"))
    finally:
        subprocess.run(["umount", str(disk)])


def test_killed_at_random_points_the_rerun_ends_where_an_uninterrupted_run_ends(finished, tmp_path):
    """Four SIGKILLs at seeded random moments of `codec-bench run` (manifest, encode, training, evaluation or the
    report), then a run to the end: same records and predictions as the uninterrupted run."""
    root, reference = finished
    out = tmp_path / "out"
    command = [sys.executable, "-m", "codec_bench.cli", "run", "csv", "--root", str(root), "--out", str(out), "--epochs", "3",
               "--batch-size", "4", "--no-generation", "--quiet", "--codec", "embedded"]
    reference_run = subprocess.run(
        [*command[:8], str(tmp_path / "reference"), *command[9:]], env=ENV, capture_output=True, text=True
    )
    assert reference_run.returncode == 0, reference_run.stderr
    rng = random.Random(7)
    for _ in range(4):
        process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 12.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = subprocess.run(command, env=ENV, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr[-3000:]
    assert results(out) == results(tmp_path / "reference")


def test_weak_inputs_get_clear_messages(tmp_path):
    from typer.testing import CliRunner

    from codec_bench.cli import app

    root = _csv_folder(tmp_path / "data")
    write_wave(root / "long.wav", seconds=2.0)
    rows = (root / "metadata.csv").read_text().replace(",", ";")
    rows += "long.wav;siren;train\nmissing.wav;siren;train\nlonely.wav;owl;train\n"
    write_wave(root / "lonely.wav", seconds=0.3, freq=2000)
    (root / "metadata.csv").write_text(rows)
    result = CliRunner().invoke(app, ["run", "csv", "--root", str(root), "--out", str(tmp_path / "out"), "--epochs", "1",
                                      "--no-generation", "--max-seconds", "1", "--stage", "encode", "--codec", "embedded"])
    said = "".join(result.output.split())  # rich wraps long paths anywhere: compare without whitespace
    assert result.exit_code == 0, result.output
    for expected in ("metadata.csv: read as semicolon-separated",
                     "1 clips longer than 1 s were cut to 1 s before encoding (--max-seconds)",
                     f"1 clips skipped, e.g. {root / 'missing.wav'}: audio file listed in", "manifest/info.json",
                     "2 classes have no validation clip (trained on, never validated): owl, siren",
                     "2 classes have no test clip (trained on, never tested): dog bark, owl"):
        assert "".join(expected.split()) in said, (expected, result.output)


def test_a_label_without_training_clips_is_no_candidate():
    from codec_bench.data.manifest import Clip, Manifest, coverage_warnings, finalize

    clips = [Clip("a", "a.wav", ("cat",), "train"), Clip("b", "b.wav", ("cat",), "test"), Clip("c", "c.wav", ("dog",), "test")]
    manifest = finalize(Manifest("toy", "single_label", "sound", "?", ["cat", "dog"], clips))
    assert manifest.classes == ["cat"] and manifest.dropped_classes == ["dog"] and [c.id for c in manifest.clips] == ["a", "b"]
    assert coverage_warnings(manifest) == ["1 labels have no training clip and are not candidates: dog"]


def test_a_path_like_model_that_does_not_exist_and_predict_without_any_result(tmp_path, finished):
    from typer.testing import CliRunner

    from codec_bench.cli import app

    result = CliRunner().invoke(app, ["run", "csv", "--root", str(finished[0]), "--model", "/path/that/does/not/exist"])
    assert result.exit_code != 0 and "/path/that/does/not/exist: no such folder (--model)" in " ".join(
        str(result.exception).split()
    )
    run_dir = next(finished[1].glob("csv/embedded-*__full"))
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    result = CliRunner().invoke(app, ["predict", str(run_dir), str(tmp_path / "bad.wav")])
    assert result.exit_code != 0 and "none of the 1 inputs could be predicted" in str(result.exception)


def test_workers_never_exceed_the_cores():
    from codec_bench.core.parallel import available_cores, usable_workers

    assert usable_workers(10 * available_cores()) == available_cores()
    assert usable_workers(None) == 0  # no GPU here: workers would compete with the codec for the cores


def test_a_damaged_records_file_is_one_line_and_the_report_covers_the_rest(finished, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from codec_bench.cli import app
    from codec_bench.core import ui

    copy = tmp_path / "out"
    shutil.copytree(finished[1], copy)
    damaged = next(copy.glob("csv/embedded-*__full")) / "eval" / "records.json"
    cut(damaged, 30)
    said: list[str] = []
    monkeypatch.setattr(ui, "warn", said.append)
    result = CliRunner().invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    [line] = [s for s in said if str(damaged) in s]
    assert "\n" not in line and "damaged (records.json has 30 bytes" in line
    assert f"codec-bench run ... --out {copy}" in line  # the command that rebuilds it
    report = (copy / "report.md").read_text()
    assert "baseline_logmel_logreg" in report and f"skipped (not valid JSON): {damaged}" in report
