"""The codec-comparison study: the GPU config parses, and its offline twin (configs/codec-comparison-smoke.yaml:
tiny random models of the same codec and LLM classes) runs every cell end to end into one report (CPU, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codec_bench.cli import app
from codec_bench.codecs import CODECS
from codec_bench.config import model_tag
from codec_bench.core import io
from codec_bench.evaluation.baseline import METHOD as BASELINE_METHOD
from codec_bench.study import benchmark, plan
from codec_bench.testing.tiny_models import TINY_MODELS, write_tiny_models

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
GPU_STUDY, SMOKE_STUDY = CONFIGS / "codec-comparison.yaml", CONFIGS / "codec-comparison-smoke.yaml"


def _token_codecs(study: plan.StudyConfig) -> list[str]:
    return [c.name for c in study.codecs if not getattr(CODECS[c.name], "continuous", False)]


def test_gpu_study_parses_with_three_token_codecs_and_two_llms():
    study = plan.load_study(GPU_STUDY)  # dataset roots are not checked for existence when parsing
    assert len(_token_codecs(study)) >= 3 and len(study.models) >= 2
    assert len(plan.study_cells(study)) == 5 * len(study.codecs) * len(study.models)  # ESC-50: 5 folds


def test_smoke_study_is_the_same_grid_on_tiny_models():
    gpu, smoke = plan.load_study(GPU_STUDY), plan.load_study(SMOKE_STUDY)
    assert [c.name for c in smoke.codecs] == [c.name for c in gpu.codecs]
    assert [m.add_speech_tokens for m in smoke.models] == [m.add_speech_tokens for m in gpu.models]
    for codec in smoke.codecs:  # every codec model is a local tiny one (no download)
        assert (codec.model or "runs/tiny-models/").startswith("runs/tiny-models/")
    assert all(m.name.startswith("runs/tiny-models/") for m in smoke.models)
    assert [r.method for r in smoke.recipes] == ["full"] and not smoke.generation and smoke.baseline
    assert [c.codebooks for c in smoke.codecs] == [c.codebooks for c in gpu.codecs]
    assert len(plan.study_cells(smoke)) == len(smoke.codecs) * len(smoke.models) == 16


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """``codec-bench tiny-models`` then the smoke study, from a fresh working directory (relative paths)."""
    cwd = tmp_path_factory.mktemp("codec-study")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        result = CliRunner().invoke(app, ["tiny-models"])
        assert result.exit_code == 0, result.output
        out = benchmark.run_study(SMOKE_STUDY)  # what `codec-bench benchmark` runs
        study = plan.load_study(SMOKE_STUDY)
        yield cwd, study, cwd / out


def test_tiny_models_are_the_real_classes_and_idempotent(smoke_run):
    cwd, _, _ = smoke_run
    folder = cwd / "runs" / "tiny-models"
    classes = {name: json.loads((folder / name / "config.json").read_text())["architectures"][0] for name in TINY_MODELS}
    assert classes == {"xcodec2": "Xcodec2Model", "encodec": "EncodecModel", "dac": "DacModel", "mimi": "MimiModel",
                       "xcodec": "XcodecModel", "llasa-tiny": "LlamaForCausalLM", "qwen2-tiny": "Qwen2ForCausalLM"}
    assert all(any((folder / n).glob("*.safetensors")) for n in TINY_MODELS)
    llasa, qwen = ((folder / n / "tokenizer.json").read_text() for n in ("llasa-tiny", "qwen2-tiny"))
    assert "<|s_65535|>" in llasa and "<|SPEECH_GENERATION_START|>" in llasa
    assert "<|s_0|>" not in qwen and "<|SPEECH_GENERATION_START|>" not in qwen  # added by add_speech_tokens
    stamp = (folder / "mimi" / "config.json").stat().st_mtime_ns
    assert write_tiny_models(folder) == {n: folder / n for n in TINY_MODELS}
    assert (folder / "mimi" / "config.json").stat().st_mtime_ns == stamp  # existing models are kept


def test_every_cell_of_the_smoke_study_succeeds(smoke_run):
    _, study, out = smoke_run
    for cell in plan.study_cells(study):
        result = io.read_json(out / "results" / f"{plan.cell_name(study, cell)}.json")
        assert result["status"] == "ok", (result["cell"]["name"], result["error"])
        assert {r["method"] for r in result["records"]} >= {"llm_scoring"}


def test_one_report_compares_every_codec_and_llm(smoke_run):
    _, study, out = smoke_run
    results = io.read_json(out / "results.json")
    assert results["failed_cells"] == []
    test_rows = [r for r in results["records"] if r["split"] == "test"]
    models = [model_tag(m.name) + "/full" for m in study.models]
    codecs = [plan.codec_tag(c) for c in study.codecs]  # mimi and mimi-sum
    scored = {(r["codec"], r["model"]) for r in test_rows if r["method"] == "llm_scoring"}
    assert scored == {(c, m) for c in codecs for m in models}  # 8 front-ends x 2 LLMs
    assert any(r["method"] == BASELINE_METHOD and r["model"] == "logmel-logreg" for r in test_rows)
    assert all(r["n_clips"] == 10 for r in test_rows)
    for row in test_rows:  # label scoring gives a distribution over the 10 classes for every clip
        for clip in io.read_jsonl(out / row["predictions"]):
            assert len(clip["probabilities"]) == 10 and abs(sum(clip["probabilities"].values()) - 1) < 1e-3
    report = (out / "report.md").read_text()
    grid = report.split("## Codecs x models")[1].split("## ")[0]  # one row per front-end, one column per LLM
    assert all(f"| {codec} | " in grid for codec in codecs) and all(model in grid for model in models)
    for name in codecs + [model_tag(m.name) for m in study.models]:
        assert name in report
    assert (out / "report.html").is_file()


def test_the_report_puts_fidelity_and_bitrate_beside_accuracy(smoke_run):
    _, study, out = smoke_run
    report = (out / "report.md").read_text()
    section = report.split("## Fidelity and bitrate")[1].split("\n## ")[0]
    decodable = ["xcodec2", "encodec", "dac", "mimi", "mimi-sum", "xcodec"]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in section.splitlines() if line.startswith("| ")}
    for codec in decodable:  # bitrate, SI-SDR / STFT / mel distance with intervals, decode cost, both LLMs' accuracy
        cells = rows[codec].strip("| ").split(" | ")
        assert len(cells) == 2 + 3 + 2 + len(study.models) and all("[" in c for c in cells[2:5]), rows[codec]
        assert cells[6] == "10"  # every test clip of the smoke task (fewer than fidelity_clips)
    assert rows["xcodec2"].split(" | ")[1] == "0.8" and rows["dac"].split(" | ")[1] == "0.8"  # 50 x 16 b, 100 x 2 x 4 b
    for codec in ("logmel", "xcodec2-latents"):
        assert f"- {codec}: not decodable (continuous frames, not codes: there is nothing to decode)" in section
    assert "![fidelity](fidelity.png)" in report and (out / "fidelity.png").stat().st_size > 10_000
    assert 'alt="fidelity"' in (out / "report.html").read_text()


def test_the_report_shows_each_token_codecs_codebook_utilisation_and_entropy(smoke_run):
    _, study, out = smoke_run
    report = (out / "report.md").read_text()
    section = report.split("## Accuracy against cost")[1].split("\n## ")[0]
    streams = section.split("| utilisation per codebook % |")[1]
    rows = {line.split(" | ")[1]: line.strip("| ").split(" | ") for line in streams.splitlines()[2:] if line.startswith("| ")}
    books = {"xcodec2": 1, "encodec": 1, "dac": 2, "mimi": 2, "mimi-sum": 2, "xcodec": 1}
    assert set(rows) == set(books)  # the continuous front-ends have no codebooks
    for codec, cells in rows.items():  # dataset, codec, tokens/s, positions/s, bits/s, utilisation, entropy, clips
        utilisation = [float(u) for u in cells[5].split(" · ")]
        entropy = [float(h) for h in cells[6].split(" (of ")[0].split(" · ")]
        assert len(utilisation) == len(entropy) == books[codec] and all(0 < u <= 100 for u in utilisation), cells
        most = float(cells[6].split(" (of ")[1].rstrip(")"))
        assert all(0 <= h <= most for h in entropy) and cells[7] == "40"  # every clip of the 20/10/10 smoke task
    assert rows["mimi"][5:7] == rows["mimi-sum"][5:7]  # the same codes, read two ways: counted once
    assert rows["xcodec2"][2] == "50.0" and rows["dac"][2] == "200.0"  # 50 x 1 and 100 x 2 codes per second
    costs = next(r["costs"] for r in io.read_json(out / "results.json")["records"]
                 if r["codec"] == "dac" and r["method"] == "llm_scoring" and r["split"] == "test")
    assert len(costs["codebook_utilisation"]) == len(costs["codebook_entropy_bits"]) == 2 and costs["tokens_per_second"] == 200
