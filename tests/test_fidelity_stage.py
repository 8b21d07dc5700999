"""The fidelity stage on a tiny generated dataset: decode a seeded sample of the test clips' cached codes, score them,
write the folder, resume after a stop, and say in one line why a codec cannot decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codec_bench.codecs import make_codec
from codec_bench.codecs.fit import fit_codec
from codec_bench.config import CodecConfig, RunConfig
from codec_bench.formats import FidelityFolder, FidelitySummary, fidelity_folders
from codec_bench.study import pipeline
from codec_bench.study.fidelity_stage import sample_clips, score_fidelity
from codec_bench.study.fold import FoldContext
from codec_bench.testing.tiny_models import tiny_codec_model

SIZES = {"train": 20, "validation": 2, "test": 8}


def _fold(tmp_path: Path, name: str, options: dict | None = None, clips: int = 5, batch: int = 2) -> FoldContext:
    config = RunConfig(dataset="instruments", out=tmp_path, root=tmp_path / "data", dataset_options={"sizes": SIZES},
                       codec=CodecConfig(name, options or {}, batch_size=batch), fidelity=True, fidelity_clips=clips)
    manifest = pipeline.manifests_for(config)[0]
    codec = make_codec(name, **config.codec.options)
    fit_codec(codec, manifest.split("train"), config.cache_folder / manifest.dataset)  # the embedded codec learns units
    codes = pipeline.encode_tokens(config, manifest, codec)
    return FoldContext(config, manifest, codec, codes, {}, tmp_path / "run")


@pytest.fixture
def mimi(tmp_path):
    tiny_codec_model("mimi").save_pretrained(tmp_path / "mimi")
    return {"model_id": str(tmp_path / "mimi"), "num_quantizers": 2}


def test_decodable_codec_is_scored_on_a_seeded_test_sample(tmp_path, mimi):
    fold = _fold(tmp_path, "mimi", mimi)
    summary = score_fidelity(fold)
    folder = FidelityFolder.of(tmp_path, fold.manifest.name, "mimi")
    assert fidelity_folders(tmp_path) == [folder] and FidelitySummary.from_file(folder.summary) == summary
    assert summary.decodable and summary.clips == 5 and summary.bitrate_bps == 50 * 2 * 4 and summary.sample_rate_hz == 800
    assert set(summary.metrics) == {"si_sdr", "stft_distance", "mel_distance"}  # music: no speech metrics
    for value in summary.metrics.values():
        assert value["n"] == 5 and value["low"] <= value["mean"] <= value["high"]
    rows = folder.read_clips()
    test_ids = [c.id for c in fold.manifest.split("test")]
    assert [r.id for r in rows] == [i for i in test_ids if i in {r.id for r in rows}]  # in the split's order
    assert [c.id for c in sample_clips(fold.manifest.split("test"), 5, fold.manifest.name)] == [r.id for r in rows]
    assert all(r.seconds > 0 and r.decode_seconds > 0 for r in rows) and not folder.partial.exists()
    reference = np.mean([r.metrics["mel_distance"] for r in rows])
    assert summary.metrics["mel_distance"]["mean"] == pytest.approx(reference)
    assert score_fidelity(fold) == summary  # finished: reused, nothing decoded again


def test_a_stopped_stage_resumes_after_its_last_batch(tmp_path, mimi, monkeypatch):
    fold = _fold(tmp_path, "mimi", mimi)
    first = score_fidelity(fold)
    folder = FidelityFolder.of(tmp_path, fold.manifest.name, "mimi")
    rows = folder.read_clips()
    for path in (folder.done, folder.summary, folder.clips):
        path.unlink()
    folder.append_partial(rows[:2])  # a stop after the first batch of two (and a line cut short)
    with open(folder.partial, "a", encoding="utf-8") as f:
        f.write('{"id": "cut')
    decoded = []
    real = fold.codec.decode
    monkeypatch.setattr(fold.codec, "decode", lambda codes: decoded.append(len(codes)) or real(codes))
    again = score_fidelity(fold)
    assert sum(decoded) == 3 and again.clips == 5
    assert again.metrics["si_sdr"]["mean"] == pytest.approx(first.metrics["si_sdr"]["mean"], rel=1e-5)


def test_codecs_that_cannot_decode_say_so_without_numbers(tmp_path):
    summary = score_fidelity(_fold(tmp_path, "logmel"))
    assert not summary.decodable and summary.metrics == {} and summary.clips == 0 and summary.bitrate_bps is None
    assert summary.note == "continuous frames, not codes: there is nothing to decode"


def test_off_by_default(tmp_path):
    assert RunConfig(dataset="instruments").fidelity is False
    fold = _fold(tmp_path, "logmel")
    fold.config.fidelity = False
    assert score_fidelity(fold) is None and fidelity_folders(tmp_path) == []


def test_report_section_lists_scores_and_what_cannot_decode(tmp_path, mimi):
    from codec_bench.report.fidelity import collect_fidelity, fidelity_figure, fidelity_sections, pareto_front

    score_fidelity(_fold(tmp_path, "mimi", mimi))
    score_fidelity(_fold(tmp_path, "embedded", {"codebook_size": 8}))
    found = collect_fidelity(tmp_path)
    assert sorted(f.codec for f in found) == ["embedded", "mimi"]
    rows = [{"dataset": "instruments", "codec": "mimi", "split": "test", "method": "llm_scoring", "model": "tiny/full",
             "headline": "accuracy", "metrics": {"accuracy": {"mean": 0.5, "std": 0.0}}, "n_folds": 1, "n_seeds": 1}]
    (heading, body), = fidelity_sections(rows, found)
    assert heading == "Fidelity and bitrate"
    assert "- embedded: not decodable (k-means units of log-mel frames: no decoder back to audio)" in body
    mimi_row = next(line for line in body.splitlines() if line.startswith("| mimi |"))
    assert mimi_row.split(" | ")[1] == "0.4" and mimi_row.rstrip(" |").endswith("50.0")  # kbit/s ... accuracy (%)
    embedded_row = next(line for line in body.splitlines() if line.startswith("| embedded |"))
    assert embedded_row.split(" | ")[1] == "0.15" and embedded_row.count("–") >= 4  # 50 x 3 bits; no numbers
    assert fidelity_figure(rows, found) is not None and fidelity_sections(rows, []) == []
    assert pareto_front([(1, 50), (2, 60), (3, 55), (0.5, 40)]) == [3, 0, 1]
