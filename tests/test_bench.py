"""Every bench script runs at its tiny size, from the repository root the way docs/performance.md runs it, and
prints its table. Nothing is timed or compared: this only keeps bench/ from rotting (each script measures on a
real machine by hand; see docs/performance.md).

``bench/gpu.sh --tiny`` runs ``encode.py``, ``train_step.py`` and ``score.py`` with ``--tiny`` on the CPU, so
those three are checked through it, together with its summary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # as bench/rendered_instruments.py reads it
# script -> (arguments after --tiny, with {tmp} for a fresh folder; the first line of its table)
SCRIPTS = {
    "bootstrap.py": ([], "| test set | metric | 1000 replicates, codec-bench |"),
    "decode.py": ([], "| codec | decode s / audio s | x real time |"),
    "embedded.py": ([], "step "),
    "scale.py": (["--out", "{tmp}"], "| clips | stage | seconds | peak RSS (MB) |"),
    "train_throughput.py": ([], "| share of the matmul rate (training stage) |"),
    "speed_guard.py": ([], "| import codec_bench | "),
    "multilabel.py": (["{tmp}"], "| option | micro-F1 | mAP |"),
    "patching.py": (["{tmp}"], "| task | codec | reading | positions/s |"),
    "rendered_instruments.py": (["{tmp}/rendered"], "clips train=8 validation=4 test=4 |"),
    "real_audio_suite.py": (["{tmp}/suite"], "instruments: train=16 validation=8 test=8"),
    "real_audio_aqa.py": (["{tmp}/aqa", "--sets", "instrument-mix", "--run", "{tmp}/runs", "--table", "{tmp}/runs",
                           "--args", "--epochs 1 --no-generation"], "| instrument-mix (18 q.) | default | llm_scoring |"),
}
SOUNDFONT_SCRIPTS = ("rendered_instruments.py", "real_audio_suite.py", "real_audio_aqa.py")
THROUGH_GPU_SH = {"encode.py": "XCodec2 encode:", "train_step.py": "Training step:", "score.py": "Scoring:"}


def bench_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env or bench_env(), capture_output=True, text=True, timeout=300)


def test_every_bench_script_has_a_tiny_check_here():
    """A new script in bench/ must be added to this file, with a tiny size."""
    assert {p.name for p in BENCH.glob("*.py")} == set(SCRIPTS) | set(THROUGH_GPU_SH)
    for name in [*SCRIPTS, *THROUGH_GPU_SH, "gpu.sh"]:
        assert "--tiny" in (BENCH / name).read_text(), name


def test_no_bench_module_shadows_the_standard_library():
    """``python bench/x.py`` puts bench/ first on sys.path: a bench/statistics.py once hid the stdlib's."""
    assert not {p.stem for p in BENCH.glob("*.py")} & set(sys.stdlib_module_names)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_bench_script_runs_at_its_tiny_size(script, tmp_path):
    if script in SOUNDFONT_SCRIPTS and (shutil.which("fluidsynth") is None or not SOUNDFONT.is_file()):
        pytest.skip(f"needs fluidsynth and {SOUNDFONT} (apt-get install -y fluidsynth fluid-soundfont-gm)")
    if script in ("real_audio_suite.py", "real_audio_aqa.py") and not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.skip("needs espeak-ng and sox (apt-get install -y espeak-ng sox)")
    arguments, table = SCRIPTS[script]
    done = run([sys.executable, f"bench/{script}", "--tiny", *(a.format(tmp=tmp_path) for a in arguments)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert table in done.stdout, done.stdout[-3000:]


def test_gpu_sh_runs_its_benches_at_their_tiny_size(tmp_path):
    """``bash bench/gpu.sh --tiny``: encode, train step and scoring run on the CPU, and its summary shows each table."""
    env = dict(bench_env(), OUT=str(tmp_path), PYTHON=sys.executable)
    done = run(["bash", "bench/gpu.sh", "--tiny"], env)
    for script, heading in THROUGH_GPU_SH.items():
        log = tmp_path / f"{Path(script).stem}.log"
        assert log.is_file() and heading in log.read_text(), f"{script}: {log.read_text()[-3000:] if log.is_file() else 'no log'}"
    assert done.returncode == 0, done.stdout[-3000:]
    summary = (tmp_path / "summary.txt").read_text()
    assert all(heading in summary for heading in THROUGH_GPU_SH.values()), summary
