"""Studies: config checks before anything runs, one result file per cell, resume, failures, seeds, engines."""

import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY_LM

from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.formats import Record
from codec_bench.study import benchmark, engines, plan

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def study_yaml(folder: Path, **changes) -> Path:
    """A tiny study: a missing CSV corpus (fails) and generated instruments (runs), two recipes, one seed."""
    raw = {
        "name": "tiny", "out": str(folder / "out"),
        "datasets": [{"name": "csv", "root": str(folder / "missing")},
                     {"name": "instruments", "options": {"sizes": {"train": 24, "validation": 8, "test": 8}}}],
        "codecs": [{"name": "embedded", "options": {"codebook_size": 16}}],
        "models": [{"name": "tiny", "tiny_sizes": TINY_LM}],
        "recipes": [
            {"name": "lr1", "epochs": 1, "batch_size": 8},
            {"name": "lr2", "epochs": 1, "batch_size": 8, "learning_rate": 2e-3},
        ],
        "generation": False,
    } | changes
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = study_yaml(tmp_path_factory.mktemp("study"))
    out = benchmark.run_study(path)
    return path, out


@pytest.mark.parametrize("change, expected", [
    ({"seed": [0]}, "unknown key 'seed'; did you mean 'seeds'?"),
    ({"datasets": [{"name": "esc5", "root": "/x"}]}, "unknown dataset 'esc5'; did you mean 'esc50'?"),
    ({"codecs": [{"name": "xcodex"}]}, "unknown codec 'xcodex'; did you mean 'xcodec'?"),
    ({"recipes": [{"name": "r", "learning_rte": 1e-3}]}, "recipe r: unknown key 'learning_rte'; did you mean 'learning_rate'?"),
    ({"datasets": [{"name": "esc50", "root": "/x", "protocol": "archh"}]}, "unknown protocol 'archh'; did you mean 'arch'?"),
    ({"datasets": [{"name": "esc50", "root": "/x", "folds": [6]}]}, "unknown fold '6'"),
    ({"engine": "rey"}, "unknown engine 'rey'; did you mean 'ray'?"),
    ({"codecs": [{"name": "embedded"}, {"name": "embedded", "options": {"codebook_size": 64}}]},
     "codec 'embedded' is listed twice; give each codec entry a distinct `label`"),
    ({"codecs": [{"name": "embedded", "label": "k means/64"}]}, "label 'k means/64' may hold only letters"),
    ({"models": [{"name": "tiny"}, {"name": "tiny", "tiny_sizes": TINY_LM}]}, "model 'tiny-llama' is listed twice"),
    ({"codecs": [{"name": "embedded", "codebooks": "summ"}]}, "unknown codebooks 'summ'; did you mean 'sum'?"),
    ({"codecs": [{"name": "logmel", "codebooks": "sum"}]}, "logmel gives continuous features, not codebooks"),
])
def test_config_errors_are_one_line_before_anything_runs(tmp_path, change, expected):
    path = study_yaml(tmp_path, **change)
    with pytest.raises(CodecBenchError) as err:
        benchmark.run_study(path)
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_each_cell_writes_one_result_file_and_a_failing_cell_does_not_stop_the_study(study):
    _, out = study
    results = {p.stem: io.read_json(p) for p in (out / "results").glob("*.json")}
    assert sorted(results) == [
        f"{d}-official__embedded__tiny-llama__{r}__seed0" for d in ("csv", "instruments") for r in ("lr1", "lr2")
    ]
    for name, result in results.items():
        assert result["format_version"] == 2 and set(result["versions"]) == {"python", "torch", "transformers", "codec_bench"}
        if name.startswith("csv"):
            assert result["status"] == "failed" and result["error"].startswith("CodecBenchError: ") and not result["records"]
        else:
            assert result["status"] == "ok" and result["error"] is None
            assert {(r["model"], r["split"]) for r in result["records"] if r["method"] == "llm_scoring"} == {
                (f"tiny-llama/{result['cell']['recipe']['name']}", s) for s in ("validation", "test")}
    assert (out / "report.md").is_file()


def test_rerun_skips_finished_cells_and_reruns_failed_and_half_written_ones(study):
    path, out = study
    files = sorted((out / "results").glob("*.json"))
    half = out / "results" / "instruments-official__embedded__tiny-llama__lr2__seed0.json"
    half.write_text('{"format_version": 1, "cell": {"na')
    before = {p.name: p.stat().st_mtime_ns for p in files}
    benchmark.run_study(path)
    after = {p.name: p.stat().st_mtime_ns for p in files}
    changed = {name for name in before if after[name] != before[name]}
    assert changed == {half.name} | {p.name for p in files if p.name.startswith("csv")}
    assert io.read_json(half)["status"] == "ok"


def test_seeds_override_doubles_the_cells_and_engines_dispatch(study, monkeypatch):
    path, out = study
    dispatched = []

    def fake_engine(jobs, run_fn, options, out):
        dispatched.extend(name for name, _ in jobs)
        for _, cell in jobs:
            run_fn(cell)

    monkeypatch.setitem(engines.ENGINES, "fake", fake_engine)
    fake = {"dataset": "instruments", "task": "single_label", "domain": "music", "protocol": "official", "fold": None,
            "codec": "embedded", "model": "tiny-llama/lr1", "method": "llm_scoring", "split": "test", "n_clips": 2,
            "metrics": {"accuracy": 0.5}, "headline": "accuracy", "predictions": None}
    monkeypatch.setattr(benchmark, "run_cell", lambda config, cell: [Record.from_json(fake | {"seed": cell.seed})])
    one = plan.study_cells(plan.load_study(path))
    two = plan.study_cells(plan.load_study(path, seeds=[0, 1]))
    assert len(two) == 2 * len(one) == 8
    benchmark.run_study(path, seeds=[0, 1], engine="fake")
    # finished seed-0 instrument cells are skipped; failed csv cells and every seed-1 cell go to the engine
    assert len(dispatched) == 6 and all("instruments" not in n or n.endswith("seed1") for n in dispatched)
    assert [
        r["seed"]
        for r in io.read_json(out / "results" / "instruments-official__embedded__tiny-llama__lr1__seed1.json")["records"]
    ] == [1]


def test_missing_engine_package_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(CodecBenchError, match=r"engine ray needs `pip install 'codec-bench\[ray\]'`"):
        engines.run_ray([], lambda cell: {}, {}, tmp_path)


def test_shipped_configs_validate_without_the_data():
    demo = plan.load_study(CONFIGS / "demo.yaml")
    assert len(plan.study_cells(demo)) == 4  # 2 tasks x 2 recipes x 1 seed
    arch = plan.load_study(CONFIGS / "arch.yaml")
    assert len(arch.datasets) == 12 and [r.name for r in arch.recipes] == ["lora", "full"]
    assert {d.protocol for d in arch.datasets if d.name in ("esc50", "ravdess", "emovo", "audio_mnist")} == {"arch"}
    assert not any(d.root.exists() for d in arch.datasets)  # placeholders: checking names needs no data


def test_labels_keep_two_settings_of_one_codec_apart(tmp_path):
    path = study_yaml(
        tmp_path,
        datasets=[{"name": "instruments", "options": {"sizes": {"train": 24, "validation": 8, "test": 8}}}],
        codecs=[
            {"name": "embedded", "label": "units16", "options": {"codebook_size": 16}},
            {"name": "embedded", "label": "units32", "options": {"codebook_size": 32}},
        ],
        models=[{"name": "tiny", "label": "tiny-a", "tiny_sizes": TINY_LM}],
        recipes=[{"name": "r", "epochs": 1, "batch_size": 8}],
    )
    out = benchmark.run_study(path)
    names = sorted(p.name for p in (out / "results").glob("*.json"))
    assert names == [
        "instruments-official__units16__tiny-a__r__seed0.json",
        "instruments-official__units32__tiny-a__r__seed0.json",
    ]
    records = io.read_json(out / "results.json")["records"]
    assert {(r["codec"], r["model"]) for r in records if r["method"] == "llm_scoring"} == {
        ("units16", "tiny-a/r"),
        ("units32", "tiny-a/r"),
    }
