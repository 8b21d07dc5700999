"""Study engines really run: a local Ray instance and submitit's local executor give the serial engine's results.

Each engine runs the same small study (2 generated datasets x 2 recipes, tiny sizes) through the CLI in its own
process, one thread per process (as Ray and the job processes run), so the results must be equal value for value.
Skipped when the engine's extra is not installed (``pip install -e ".[ray]"`` / ``".[slurm]"``; CI installs both).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY_LM

from codec_bench.core import io

ENV = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", RAY_DEDUP_LOGS="0")
SIZES = {"train": 24, "validation": 8, "test": 8}


def study(folder: Path, engine: str, **options) -> Path:
    raw = {
        "name": "engines", "out": str(folder / engine),
        "datasets": [{"name": "instruments", "options": {"sizes": SIZES}}, {"name": "mixtures", "options": {"sizes": SIZES}}],
        "codecs": [{"name": "embedded", "options": {"codebook_size": 16}}],
        "models": [{"name": "tiny", "tiny_sizes": TINY_LM}],
        "recipes": [
            {"name": "a", "epochs": 2, "batch_size": 8},
            {"name": "b", "epochs": 2, "batch_size": 8, "learning_rate": 3e-3},
        ],
        "generation": False,
        "engine": engine,
        "engine_options": options,
    }
    path = folder / f"{engine}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_study(path: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "codec_bench.cli", "benchmark", str(path)], env=ENV, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return Path(yaml.safe_load(path.read_text())["out"])


def results(out: Path) -> dict[str, tuple]:
    """Cell name -> (status, records) of every result file: what must not depend on the engine."""
    found = {}
    for path in sorted((out / "results").glob("*.json")):
        result = io.read_json(path)
        found[path.name] = (result["status"], [_without_times(r) for r in result["records"]])
    return found


TIMES = ("train_seconds_per_epoch", "scoring_seconds_per_clip")  # wall clock: measured, not a result


def _without_times(record: dict) -> dict:
    costs = {k: v for k, v in (record.get("costs") or {}).items() if k not in TIMES}
    return record | ({"costs": costs} if "costs" in record else {})


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("engines")
    found = results(run_study(study(folder, "serial")))
    assert len(found) == 4 and all(status == "ok" for status, _ in found.values())
    return found


def test_ray_engine_on_a_local_instance_equals_serial(serial, tmp_path):
    pytest.importorskip("ray")
    out = run_study(study(tmp_path, "ray", num_cpus=2))
    assert results(out) == serial


def test_submitit_local_executor_equals_serial(serial, tmp_path):
    pytest.importorskip("submitit")
    out = run_study(study(tmp_path, "submitit", cluster="local", timeout_min=10))
    assert results(out) == serial
    assert list((out / "submitit").glob("*_result.pkl")) or list((out / "submitit").glob("*.out"))  # jobs really ran there
