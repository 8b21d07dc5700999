"""`run --seeds` on the demo's generated data (aggregated over seeds, as a study is) and `--report-to tensorboard`
(event files read back: the training loss per step and the evaluation metrics of the records)."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from codec_bench.cli import app
from codec_bench.config import parse_seeds
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.data.generated import generate


def test_parse_seeds():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,4,7") == [0, 4, 7]
    assert parse_seeds("5,") == [5]
    for bad in ("0", "a", "1,1", "-1,2"):
        with pytest.raises(CodecBenchError, match="--seeds"):
            parse_seeds(bad)


def test_run_with_seeds_aggregates_them_and_writes_readable_tensorboard_events(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = generate("instruments", tmp_path / "data", {"train": 60, "validation": 20, "test": 20})
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "csv", "--root", str(root), "--out", str(out), "--epochs", "2", "--no-generation",
                                      "--seeds", "2", "--report-to", "tensorboard", "--quiet", "--codec", "embedded"])
    assert result.exit_code == 0, result.output
    results = io.read_json(out / "results.json")
    llm = [r for r in results["records"] if r["method"] == "llm_scoring" and r["split"] == "test"]
    assert sorted(r["seed"] for r in llm) == [0, 1]
    [row] = [r for r in results["aggregated"] if r["method"] == "llm_scoring" and r["split"] == "test"]
    assert (row["n_seeds"], row["n_units"]) == (2, 2)
    low, high = row["metrics"]["accuracy"]["ci"]
    assert 0 <= low <= row["metrics"]["accuracy"]["mean"] <= high <= 1
    assert " ± " in (out / "report.md").read_text()  # two units: mean ± std [interval]
    for record in llm:
        run_dir = out / record["predictions"]  # <out>/<name>/<run>/eval/<file>
        events = EventAccumulator(str(run_dir.parent.parent / "tensorboard")).Reload()
        losses = [e.value for e in events.Scalars("train/loss")]
        steps = io.read_json(run_dir.parent.parent / "model" / "train_done.json")["steps"]
        assert len(losses) == steps and all(math.isfinite(v) for v in losses)
        [logged] = events.Scalars("eval/test/llm_scoring/accuracy")
        assert logged.value == pytest.approx(record["metrics"]["accuracy"], abs=1e-6) and logged.step == steps
    seed1 = [r for r in llm if r["seed"] == 1][0]
    assert "-seed1" in seed1["predictions"]


def test_a_tracker_that_is_not_installed_stops_the_run_at_once(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    result = CliRunner().invoke(app, ["run", "instruments", "--out", str(tmp_path), "--report-to", "wandb"])
    assert result.exit_code != 0
    assert "the wandb package is not installed; pip install wandb" in str(result.exception)
    assert not (tmp_path / "instruments").exists()  # nothing started
