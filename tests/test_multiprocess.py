"""Several processes really started (torchrun, gloo on the CPU): multi-process encode and DDP training on the
embedded default, a rank killed mid-run, and processes racing for one cache or one run folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_wave

from codec_bench.codecs.cached_codes import CachedCodes
from codec_bench.core import io

ENV = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """24 one-second clips of three tones, 15 train / 3 validation / 6 test."""
    root = tmp_path_factory.mktemp("csv24")
    rows = ["path,label,split"]
    for i in range(24):
        label, freq = [("low", 220), ("mid", 660), ("high", 1760)][i % 3]
        write_wave(root / "clips" / f"c{i:02d}.wav", seconds=1.0, freq=freq * (1 + 0.02 * (i // 3)), seed=i)
        rows.append(f"clips/c{i:02d}.wav,{label},{'train' if i < 15 else 'validation' if i < 18 else 'test'}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def cli(*args: str, processes: int = 1, log_dir: Path | None = None, **popen) -> subprocess.Popen:
    """``codec-bench ARGS`` in a new process, or under ``torchrun --standalone`` with ``processes`` ranks."""
    command = [sys.executable, "-m", "codec_bench.cli", *args]
    if processes > 1:
        logs = ["--log-dir", str(log_dir), "--redirects", "3"] if log_dir else []
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *logs,
                   "-m", "codec_bench.cli", *args]
    return subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def finish(process: subprocess.Popen, timeout: float = 300) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def cache_ids_per_shard(out: Path, pattern: str = "shard-*.parquet") -> list[str]:
    import pyarrow.parquet as pq

    shards = sorted((out / "cache" / "csv").glob(f"embedded-*/{pattern}"))
    return [i for shard in shards for i in pq.read_table(shard, columns=["id"]).column("id").to_pylist()]


def cached(out: Path) -> CachedCodes:
    return CachedCodes(sorted((out / "cache" / "csv").glob("embedded-*/shard-*.parquet")))


def rank_logs(log_dir: Path, rank: int, name: str = "stdout.log") -> str:
    return "".join(p.read_text() for p in log_dir.rglob(f"attempt_*/{rank}/{name}"))


def test_two_process_encode_equals_one_process_and_reruns_encode_nothing(corpus, tmp_path):
    encode = ["encode", "csv", "--root", str(corpus), "--codec", "embedded", "--codec-num-workers", "0"]
    finish(cli(*encode, "--out", str(tmp_path / "one")))
    finish(cli(*encode, "--out", str(tmp_path / "two"), processes=2))
    ids = cache_ids_per_shard(tmp_path / "two")
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 24  # every clip encoded exactly once, by one rank
    by_rank = [cache_ids_per_shard(tmp_path / "two", f"shard-r{r}-*.parquet") for r in (0, 1)]
    assert len(by_rank[0]) + len(by_rank[1]) == 24 and min(map(len, by_rank)) > 0  # both ranks worked
    one, two = cached(tmp_path / "one"), cached(tmp_path / "two")
    assert set(one) == set(two)
    for clip_id in one:
        np.testing.assert_array_equal(one[clip_id], two[clip_id])
    shards = sorted(p.name for p in (tmp_path / "two" / "cache").rglob("shard-*.parquet"))
    finish(cli(*encode, "--out", str(tmp_path / "two"), processes=2))
    assert sorted(p.name for p in (tmp_path / "two" / "cache").rglob("shard-*.parquet")) == shards


def test_ddp_training_matches_one_process_and_only_rank_zero_evaluates(corpus, tmp_path):
    """Same global batch (1 x 8 vs 2 x 4), same seed. The losses differ only through the batch composition of
    the length-grouped sampler and summation order: measured on this corpus, the first step's loss is equal, the
    mean training loss 2.771 vs 2.731 (1.5 %), the final validation loss 1.455 vs 1.394 (4.2 %, 3 clips); the
    test allows 10 %."""
    run = ["run", "csv", "--root", str(corpus), "--epochs", "10", "--no-generation", "--codec", "embedded"]
    finish(cli(*run, "--out", str(tmp_path / "one"), "--batch-size", "8"))
    finish(cli(*run, "--out", str(tmp_path / "two"), "--batch-size", "4", processes=2, log_dir=tmp_path / "logs"))
    one, two = (io.read_json(next((tmp_path / o / "csv").glob("*/model/train_done.json"))) for o in ("one", "two"))
    assert one["steps"] == two["steps"] == 20
    assert two["train_loss"] == pytest.approx(one["train_loss"], rel=0.10)
    assert two["best_validation_loss"] == pytest.approx(one["best_validation_loss"], rel=0.10)
    models = list((tmp_path / "two" / "csv").glob("*/model/model.safetensors"))
    assert len(models) == 1  # one model written
    records = io.read_json(next((tmp_path / "two" / "csv").glob("*/eval/records.json")))["records"]
    assert {r["split"] for r in records} == {"validation", "test"}
    assert "# codec-bench results" in rank_logs(tmp_path / "logs", 0) and "# codec-bench results" not in rank_logs(
        tmp_path / "logs", 1
    )


def _rank_pid(out: Path, rank: int) -> int | None:
    """The pid of the torchrun worker of ``rank`` whose command line names ``out``."""
    for proc in Path("/proc").iterdir():
        try:
            if (
                str(out) in (proc / "cmdline").read_bytes().decode()
                and f"RANK={rank}\0" in (proc / "environ").read_bytes().decode()
            ):
                return int(proc.name)
        except (OSError, ValueError):
            continue
    return None


def test_a_rank_killed_mid_training_resumes_on_rerun(corpus, tmp_path):
    out = tmp_path / "out"
    run = ["run", "csv", "--root", str(corpus), "--out", str(out), "--epochs", "60", "--batch-size", "4", "--stage", "train",
           "--codec", "embedded"]
    job = cli(*run, processes=2)
    deadline = time.time() + 240
    while time.time() < deadline and not any(out.glob("csv/*/checkpoints/checkpoint-*/trainer_state.json")):
        time.sleep(0.05)
    pid = _rank_pid(out, 1)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    output, _ = job.communicate(timeout=120)
    assert job.returncode != 0, output[-2000:]
    run_dir = next(out.glob("csv/*__full"))
    assert not (run_dir / "model" / "train_done.json").exists()
    finish(cli(*run, processes=2))
    done = io.read_json(run_dir / "model" / "train_done.json")
    assert done["steps"] == 120 and done["resumed_from_step"] >= 2


RACE = """
import json, sys
import numpy as np
from codec_bench.codecs.cache import TokenCache
from codec_bench.codecs.base import TokenCodec
from codec_bench.data.manifest import Clip


class Peak(TokenCodec):
    name, sample_rate_hz, frame_rate_hz, num_codebooks, codebook_size = "peak", 16000, 50.0, 1, 8
    def encode_preprocessed(self, items):
        return [np.minimum(np.abs(w[: len(w) // 320 * 320]).reshape(-1, 320).max(1) * 8, 7).astype(np.int64)[None] for w in items]
    def identity(self):
        return {"codec": "peak"}

clips = [Clip(f"c{i:02d}", sys.argv[2] + f"/clips/c{i:02d}.wav", ("x",), "train") for i in range(24)]
print(json.dumps(TokenCache(sys.argv[1], "race", Peak()).build(clips, batch_size=4)))
"""


def test_four_processes_racing_for_one_cache_encode_it_once(corpus, tmp_path):
    script = tmp_path / "race.py"
    script.write_text(RACE)
    racers = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), str(corpus)], env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    counts = []
    for racer in racers:
        out, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err[-2000:]
        counts.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(c["encoded"] for c in counts) == [0, 0, 0, 24]  # one built it, the others waited and reused it
    assert sorted(c["cached"] for c in counts) == [0, 24, 24, 24]
    folder = next((tmp_path / "cache" / "race").iterdir())
    reference = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "fresh"), str(corpus)], env=ENV, capture_output=True, text=True
    )
    assert reference.returncode == 0, reference.stderr
    shared, alone = (
        CachedCodes(sorted(f.glob("shard-*.parquet"))) for f in (folder, next((tmp_path / "fresh" / "race").iterdir()))
    )
    assert len(shared) == 24 and all(np.array_equal(shared[i], alone[i]) for i in alone)


def test_two_identical_runs_on_one_out(corpus, tmp_path):
    """Both finish, or the second stops at once naming the run folder in use; the results equal a single run's."""
    run = ["run", "csv", "--root", str(corpus), "--epochs", "3", "--no-generation", "--codec", "embedded"]
    first, second = cli(*run, "--out", str(tmp_path / "shared")), cli(*run, "--out", str(tmp_path / "shared"))
    outputs = [p.communicate(timeout=300)[0] for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes in ([0, 0], [0, 2]), outputs
    if codes == [0, 2]:
        failed = outputs[[first.returncode, second.returncode].index(2)]
        assert "run folder in use by another codec-bench job" in " ".join(failed.split()), failed
    finish(cli(*run, "--out", str(tmp_path / "alone")))
    shared, alone = (io.read_json(next((tmp_path / o / "csv").glob("*__full/eval/records.json")))["records"]
                     for o in ("shared", "alone"))
    assert [r["metrics"] for r in shared] == [r["metrics"] for r in alone]


def test_a_killed_lock_holder_does_not_block(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from codec_bench.core.parallel import build_lock\n"
        f"with build_lock({str(tmp_path / 'thing')!r}):\n    print('held', flush=True); time.sleep(600)")],
        env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    from codec_bench.core.errors import CodecBenchError
    from codec_bench.core.parallel import holder as who
    from codec_bench.core.parallel import run_folder_lock

    assert f"pid {holder.pid}" in who(tmp_path / "thing")
    with pytest.raises(CodecBenchError, match=f"thing: run folder in use by another codec-bench job \\(pid {holder.pid}"):
        with run_folder_lock(tmp_path / "thing"):
            pass
    holder.kill()
    holder.wait()
    start = time.time()
    with run_folder_lock(tmp_path / "thing"):  # the kernel dropped the dead process's lock
        assert time.time() - start < 2
