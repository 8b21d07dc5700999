"""Ctrl-C: the progress line stays where the stage stopped, one line says where and that the same command resumes,
and the exit code is 130 with no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from test_pipeline import _csv_folder

from codec_bench.core import ui

ENV = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", COLUMNS="120")


@pytest.mark.parametrize("shown", [True, False])
def test_an_interrupted_stage_names_where_it_stopped(shown, monkeypatch):
    said = []
    monkeypatch.setattr(ui, "warn", said.append)
    monkeypatch.setenv(ui.ENV, str(ui.NORMAL))
    with ui.console.capture() as captured, pytest.raises(KeyboardInterrupt):
        with ui.stage("train", unit="steps", show=shown) as bar:
            bar.total(96)
            bar.advance(37)
            raise KeyboardInterrupt
    assert said == ["interrupted: train at 37 of 96 steps; run the same command again to resume (finished work is kept)"]
    assert "96/96" not in captured.get()
    if shown:
        assert "37/96" in captured.get()


def test_ctrl_c_during_training_exits_130_with_one_line_and_the_rerun_finishes(tmp_path):
    root = _csv_folder(tmp_path / "data")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "codec_bench.cli", "run", "csv", "--root", str(root), "--out", str(out), "--epochs", "40",
               "--batch-size", "2", "--no-generation", "--codec", "embedded"]
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # The first epoch's checkpoint says training has begun; 39 epochs are left, however fast the machine.
    while not list(out.rglob("checkpoints/checkpoint-*/trainer_state.json")) and time.monotonic() < deadline \
            and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    said = " ".join(stderr.split())
    assert "interrupted: train at" in said and "run the same command again to resume" in said, said[-1500:]
    step, _, total = said.split("interrupted: train at ")[1].split()[:3]
    assert 0 < int(step) < int(total)
    assert f"{step}/{total}" in said and f"{total}/{total}" not in said  # the bar stopped where it was
    final = subprocess.run(command + ["--quiet"], env=ENV, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr[-2000:]
