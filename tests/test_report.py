"""Report writer: fold and seed aggregation, the pinned markdown table, the baseline line, run comparisons,
results files (cells ok / failed / half-written / other version), valid PNGs, the self-contained HTML, all files."""

from __future__ import annotations

import json
import re

import pytest

from codec_bench.core.errors import CodecBenchError
from codec_bench.core.io import write_jsonl
from codec_bench.formats import Record
from codec_bench.report.aggregate import aggregate, compare_runs, per_class_f1
from codec_bench.report.figures import confusion_figure, radar_plot, save_figure
from codec_bench.report.html import write_html_report
from codec_bench.report.results import load_results
from codec_bench.report.significance import comparisons_with_tests, reference_checks
from codec_bench.report.tables import comparison_markdown, grid_markdown, markdown_table, reference_lines
from codec_bench.report.write import write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DOMAINS = {"esc50": "sound", "instruments": "music", "commands": "speech", "birds": "sound"}


def record(dataset: str, method: str, value: float, fold: str | None = None, codec: str = "embedded-4f630c4c0024",
           predictions: str | None = None, split: str = "test", model: str = "tiny-llama") -> dict:
    """A record as written before seeds existed (no "seed" key); ``seeded`` adds one."""
    return {"dataset": dataset, "task": "single_label", "domain": DOMAINS[dataset], "protocol": "official",
            "fold": fold, "codec": codec, "model": model, "method": method, "split": split, "n_clips": 40,
            "metrics": {"accuracy": value, "macro_f1": value - 0.05}, "headline": "accuracy",
            "predictions": predictions}


def typed(records: list[dict]) -> list[Record]:
    """The records as a results file reads them back (a record without a seed gets seed 0)."""
    return [Record.from_json(r) for r in records]


def seeded(seed: int, **kwargs) -> dict:
    return {**record(**kwargs), "seed": seed}


def assert_png(path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 10_000  # a real rendered figure, not an empty canvas
    assert not list(path.parent.glob("*.tmp-*"))


def small_case() -> list[dict]:
    # instruments: LLM folds 0.8, 0.9, 1.0 -> 90.0 ± 10.0 beats the baseline's 85.0
    # esc50: LLM 0.70 loses to the baseline's 0.75
    return [record("instruments", "llm_scoring", v, fold=str(i)) for i, v in enumerate([0.8, 0.9, 1.0], 1)] + [
        record("instruments", "baseline_logmel_logreg", 0.85),
        record("esc50", "llm_scoring", 0.70),
        record("esc50", "baseline_logmel_logreg", 0.75),
    ]


def test_aggregate_mean_and_sample_std_over_folds():
    rows = aggregate(small_case())
    llm = next(r for r in rows if r["dataset"] == "instruments" and r["method"] == "llm_scoring")
    assert llm["metrics"]["accuracy"] == {"mean": pytest.approx(0.9), "std": pytest.approx(0.1)}
    assert llm["metrics"]["macro_f1"]["mean"] == pytest.approx(0.85)
    assert (llm["n_folds"], llm["n_clips"], llm["folds"]) == (3, 120, ["1", "2", "3"])
    assert len(rows) == 4


def test_aggregate_refuses_a_fold_counted_twice():
    with pytest.raises(CodecBenchError, match="duplicate fold"):
        aggregate([record("esc50", "llm_scoring", 0.7, fold="1"), record("esc50", "llm_scoring", 0.8, fold="1")])


def test_markdown_table_pinned():
    assert markdown_table(aggregate(small_case())) == (
        "| dataset | metric | llm_scoring | baseline_logmel_logreg |\n"
        "|---|---|---|---|\n"
        "| esc50 | accuracy | 70.0 | 75.0 |\n"  # sound before music
        "| instruments | accuracy | 90.0 ± 10.0 | 85.0 |\n"
    )


def test_markdown_table_names_the_codec_when_runs_differ_in_it():
    records = [record("esc50", "llm_scoring", 0.7, codec="a"), record("esc50", "llm_scoring", 0.6, codec="b")]
    header = markdown_table(aggregate(records)).splitlines()[0]
    assert header == "| dataset | metric | llm_scoring · a | llm_scoring · b |"
    assert "_No results" in markdown_table(aggregate(records), split="validation")


@pytest.mark.parametrize(("llm", "baseline", "loses"), [(0.70, 0.75, True), (0.75, 0.75, False), (0.80, 0.75, False)])
def test_baseline_line_appears_exactly_when_llm_loses(llm, baseline, loses):
    aggregated = aggregate([record("esc50", "llm_scoring", llm), record("esc50", "baseline_logmel_logreg", baseline)])
    lines = reference_lines(reference_checks(aggregated, {}))
    [line] = lines
    relation = "below" if loses else "equal" if llm == baseline else "above"
    assert (
        line
        == f"**esc50**: llm_scoring ({100 * llm:.1f}) vs baseline_logmel_logreg (75.0): {relation}, "
        "cannot tell (no prediction files)"
    )


@pytest.mark.parametrize("n_datasets", [1, 2, 4])
def test_radar_plot_writes_png(tmp_path, n_datasets):
    datasets = ["esc50", "instruments", "commands", "birds"][:n_datasets]
    records = [record(d, m, 0.5 + 0.1 * i) for i, d in enumerate(datasets)
               for m in ("llm_scoring", "baseline_logmel_logreg")]
    path = radar_plot(aggregate(records), tmp_path / "radar.png")
    assert_png(path)


def test_confusion_figure_keeps_unknown_answers_in_an_other_column(tmp_path):
    figure = confusion_figure(["dog", "cat", "cat"], ["dog", "dog", "a cat?"], ["cat", "dog"], "t")
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "(other)"]
    # rows: true cat -> half dog, half "(other)"; true dog -> all dog
    assert ax.images[0].get_array().tolist() == [[0.0, 0.5, 0.5], [0.0, 1.0, 0.0]]
    assert_png(save_figure(figure, tmp_path / "c.png"))


def test_per_class_f1():
    rows = [{"labels": ["cat"], "prediction": ["cat"]}, {"labels": ["cat"], "prediction": ["dog"]},
            {"labels": ["dog"], "prediction": ["dog"]}]
    # cat: TP 1, FN 1 -> 2/3; dog: TP 1, FP 1 -> 2/3; bird: never true nor predicted -> nan
    scores = per_class_f1(rows, ["cat", "dog", "bird"])
    assert scores["cat"] == pytest.approx(2 / 3) and scores["dog"] == pytest.approx(2 / 3)
    assert scores["bird"] != scores["bird"]


def test_write_report_writes_every_file(tmp_path):
    rows = [{"id": f"clip{i}", "labels": [label], "prediction": [pred], "probabilities": {label: 0.6, pred: 0.4}}
            for i, (label, pred) in enumerate([("cat", "cat"), ("dog", "cat"), ("dog", "dog")])]
    for fold in ("1", "2"):
        write_jsonl(tmp_path / "predictions" / f"esc50_{fold}.jsonl", rows)
    records = [record("esc50", "llm_scoring", 0.67, fold=f, predictions=f"predictions/esc50_{f}.jsonl")
               for f in ("1", "2")] + [record("esc50", "baseline_logmel_logreg", 0.9)]
    paths = write_report(typed(records), tmp_path, {"esc50": ["cat", "dog"]})
    assert set(paths) == {"results", "report", "html", "radar", "confusion_esc50_llm_scoring", "reliability_esc50"}
    results = json.loads(paths["results"].read_text())
    assert results["format_version"] == 2 and results["records"] == [r.to_json() for r in typed(records)]
    assert len(results["aggregated"]) == 2
    assert set(results["statistics"]) == {"bootstrap", "comparisons", "reference_checks", "calibration"}
    report = paths["report"].read_text()
    # the LLM's interval comes from its prediction files; the baseline has none, so no interval and no test
    assert re.search(r"\*\*esc50\*\*: llm_scoring \(67\.0 \[\d+\.\d, \d+\.\d\]\) vs baseline_logmel_logreg "
                     r"\(90\.0\): below, cannot tell \(no prediction files\)", report)
    assert "![radar](radar.png)" in report and "(confusion_esc50_llm_scoring.png)" in report
    assert "(reliability_esc50.png)" in report and "| esc50 | llm_scoring | " in report  # calibration table
    assert "- **esc50**: 40–80 (differs between runs) test clips" in report
    assert "## Per-class F1" in report and "| cat | 66.7 |" in report  # folds pooled: cat TP 2, FP 2 -> 4/6
    assert_png(paths["radar"])
    assert_png(paths["confusion_esc50_llm_scoring"])


def test_write_report_names_a_missing_predictions_file(tmp_path):
    records = [record("esc50", "llm_scoring", 0.7, predictions="predictions/missing.jsonl")]
    with pytest.raises(CodecBenchError, match="missing.jsonl"):
        write_report(typed(records), tmp_path, {"esc50": ["cat", "dog"]})


def seeds_case() -> list[dict]:
    # (fold, seed) units 0.6, 0.7, 0.8, 0.9 -> mean 0.75, sample std sqrt(0.05 / 3) = 0.1291
    values = {("1", 0): 0.6, ("1", 1): 0.7, ("2", 0): 0.8, ("2", 1): 0.9}
    return [seeded(seed, dataset="esc50", method="llm_scoring", value=v, fold=fold) for (fold, seed), v in values.items()]


def test_aggregate_mean_and_sample_std_over_fold_seed_units():
    [row] = aggregate(seeds_case())
    assert row["metrics"]["accuracy"] == {"mean": pytest.approx(0.75), "std": pytest.approx((0.05 / 3) ** 0.5)}
    assert (row["n_folds"], row["folds"], row["n_seeds"], row["seeds"]) == (2, ["1", "2"], 2, [0, 1])
    assert (row["n_units"], row["n_clips"]) == (4, 80)  # a fold's clips are counted once, not once per seed
    assert markdown_table([row]).splitlines()[2] == "| esc50 | accuracy | 75.0 ± 12.9 |"


def test_aggregate_refuses_a_fold_seed_unit_counted_twice():
    records = seeds_case() + [seeded(1, dataset="esc50", method="llm_scoring", value=0.5, fold="2")]
    with pytest.raises(CodecBenchError, match=r"duplicate fold and seed.*\('2', 1\)"):
        aggregate(records)
    with pytest.raises(CodecBenchError, match="duplicate fold"):  # a record without "seed" has seed 0
        aggregate([record("esc50", "llm_scoring", 0.7, fold="1"), seeded(0, dataset="esc50", method="llm_scoring",
                                                                         value=0.8, fold="1")])


def test_aggregate_reads_records_without_seed_as_seed_0():
    llm = next(r for r in aggregate(small_case()) if r["dataset"] == "instruments" and r["method"] == "llm_scoring")
    assert (llm["n_seeds"], llm["seeds"], llm["n_units"]) == (1, [0], 3)


def comparison_case() -> list[dict]:
    # codec a vs b (same model and recipe) on esc50 and instruments; lora vs full with codec a on esc50 only;
    # codec b + full differs from codec a + lora in two parts, and baselines are never compared
    llm = dict(method="llm_scoring", model="tiny-llama/lora")
    return [record("esc50", value=0.70, codec="a", **llm), record("esc50", value=0.80, codec="b", **llm),
            record("instruments", value=0.90, codec="a", **llm), record("instruments", value=0.85, codec="b", **llm),
            record("esc50", "llm_scoring", 0.60, codec="a", model="tiny-llama/full"),
            record("esc50", "baseline_logmel_logreg", 0.75, codec="none", model="logmel-logreg")]


def test_compare_runs_pinned():
    comparisons = compare_runs(aggregate(comparison_case()))
    assert [(c["differs"], c["a"], c["b"]) for c in comparisons] == [
        ("codec", "llm_scoring · a · tiny-llama/lora", "llm_scoring · b · tiny-llama/lora"),
        ("recipe", "llm_scoring · a · tiny-llama/lora", "llm_scoring · a · tiny-llama/full")]
    assert comparisons[0]["per_dataset"] == {"esc50": pytest.approx(10.0), "instruments": pytest.approx(-5.0)}
    assert comparisons[0]["mean"] == pytest.approx(2.5)
    assert comparisons[1]["per_dataset"] == {"esc50": pytest.approx(-10.0)}
    tested = comparisons_with_tests(aggregate(comparison_case()), {})  # no prediction files: nothing to test on
    assert comparison_markdown(tested, ["esc50", "instruments"]) == (
        "| differs in | run A | run B | esc50 (B − A) | instruments (B − A) | mean |\n"
        "|---|---|---|---|---|---|\n"
        "| codec | llm_scoring · a · tiny-llama/lora | llm_scoring · b · tiny-llama/lora | +10.0 | -5.0 | +2.5 |\n"
        "| recipe | llm_scoring · a · tiny-llama/lora | llm_scoring · a · tiny-llama/full | -10.0 | – | -10.0 |\n"
        "\n"
        "- **esc50** (codec): llm_scoring · b · tiny-llama/lora vs llm_scoring · a · tiny-llama/lora: +10.0 points, "
        "cannot tell (no prediction files)\n"
        "- **instruments** (codec): llm_scoring · b · tiny-llama/lora vs llm_scoring · a · tiny-llama/lora: -5.0 points, "
        "cannot tell (no prediction files)\n"
        "- **esc50** (recipe): llm_scoring · a · tiny-llama/full vs llm_scoring · a · tiny-llama/lora: -10.0 points, "
        "cannot tell (no prediction files)\n"
    )


def write_cell(path, status: str, records: list[dict], error: str | None = None, version: int = 1) -> None:
    cell = {"dataset": "esc50", "codec": "a", "model": "tiny-llama", "recipe": "lora", "seed": 0}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format_version": version, "status": status, "records": records, "cell": cell,
                                "error": error}))


def test_load_results_reads_cells_lists_failures_and_skips_half_written_files(tmp_path):
    records = seeds_case()
    write_cell(tmp_path / "results" / "ok.json", "ok", records)
    write_cell(tmp_path / "results" / "failed.json", "failed", [],
               "Traceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError: CUDA out of memory\n")
    (tmp_path / "results" / "half.json").write_text('{"format_version": 1, "status": "ok", "records": [{"data')
    with pytest.warns(UserWarning, match="half.json"):
        loaded = load_results([tmp_path])
    assert loaded.records == typed(records)
    assert loaded.skipped_files == [tmp_path / "results" / "half.json"]
    assert [(f["cell"]["dataset"], f["error"]) for f in loaded.failed_cells] == [("esc50", "RuntimeError: CUDA out of memory")]
    paths = write_report(loaded.records, tmp_path, {}, loaded.failed_cells, loaded.skipped_files)
    report = paths["report"].read_text()
    assert "## Failed cells" in report
    assert "- dataset=esc50, codec=a, model=tiny-llama, recipe=lora, seed=0: `RuntimeError: CUDA out of memory`" in report
    assert "half.json" in report and "Failed cells" in paths["html"].read_text()
    again = load_results(paths["results"])  # a report's results.json reads back, failures included
    assert again.records == typed(records) and again.failed_cells == loaded.failed_cells


def test_load_results_refuses_another_format_version(tmp_path):
    write_cell(tmp_path / "results" / "future.json", "ok", [], version=3)
    with pytest.raises(CodecBenchError, match=r"future\.json.*format_version 3.*reads format_version 1 and 2"):
        load_results(tmp_path)


def test_html_report_is_self_contained(tmp_path):
    records = comparison_case()
    path = write_html_report(aggregate(records), records, tmp_path)
    page = re.sub(r">\s+<", "><", path.read_text())  # markdown's HTML puts each cell on a line of its own
    assert path == tmp_path / "report.html" and page.startswith("<!DOCTYPE html>")
    assert "data:image/png;base64," in page
    assert 'src="http' not in page and "href=" not in page and "<link" not in page and "<script" not in page
    assert "<th>dataset</th><th>metric</th>" in page and "<td>70.0</td>" in page
    assert "<h2>Comparison of runs</h2>" in page and "<td>+2.5</td>" in page


def test_codec_by_model_grid_pinned():
    rows = [record("esc50", "llm_scoring", value, fold=fold, codec=codec, model=model)
            for codec, model, value in [("dac", "llasa/lora", 0.5), ("dac", "qwen/lora", 0.6), ("mimi", "llasa/lora", 0.7)]
            for fold in ("1", "2")]
    rows += [record("esc50", "baseline_logmel_logreg", 0.4, fold=f, codec="none", model="logmel-logreg") for f in ("1", "2")]
    assert grid_markdown(aggregate(rows)) == (
        "**esc50**, llm_scoring, accuracy:\n\n| codec | llasa/lora | qwen/lora |\n|---|---|---|\n"
        "| dac | 50.0 ± 0.0 | 60.0 ± 0.0 |\n| mimi | 70.0 ± 0.0 | – |\n")
    assert grid_markdown(aggregate([r for r in rows if r["model"] != "qwen/lora"])) == ""  # one model: no grid


def fake_run(out, dataset: str, right: int, n: int = 100, model: str = "tiny-llama/full", codec: str = "embedded") -> None:
    """A finished run folder as the pipeline leaves it: a manifest and eval/ with records, predictions and done.json;
    ``right`` of ``n`` test clips (half "cat", half "dog") answered correctly."""
    from codec_bench.core.io import write_json
    from codec_bench.evaluation.records import finish_records

    write_json(out / dataset / "manifest" / "info.json", {"dataset": dataset, "classes": ["cat", "dog"]})
    folder = out / dataset / f"{codec}__{model.replace('/', '__')}" / "eval"
    truth = ["cat", "dog"] * (n // 2)
    wrong = {"cat": "dog", "dog": "cat"}
    rows = [{"id": f"clip{i}", "labels": [t], "prediction": [t if i < right else wrong[t]],
             "probabilities": {t: 0.8 if i < right else 0.3, wrong[t]: 0.2 if i < right else 0.7}} for i, t in enumerate(truth)]
    write_jsonl(folder / "test_llm_scoring_predictions.jsonl", rows)
    record = Record(dataset=dataset, task="single_label", domain=DOMAINS[dataset], protocol="official", fold=None, seed=0,
                    codec=codec, model=model, method="llm_scoring", split="test", n_clips=n,
                    metrics={"accuracy": right / n}, headline="accuracy",
                    predictions=str((folder / "test_llm_scoring_predictions.jsonl").relative_to(out)))
    finish_records(folder, [record])


def test_report_compare_tests_two_folders_and_corrects_over_datasets(tmp_path):
    from typer.testing import CliRunner

    from codec_bench.cli import app

    for name, rights in (("A", (90, 52)), ("B", (60, 50))):  # esc50: 30 clips only A gets right; instruments: 2
        fake_run(tmp_path / name, "esc50", rights[0])
        fake_run(tmp_path / name, "instruments", rights[1])
    result = CliRunner().invoke(
        app, ["report", str(tmp_path / "A"), str(tmp_path / "B"), "--compare", "--out", str(tmp_path / "C")]
    )
    assert result.exit_code == 0, result.output
    report = (tmp_path / "C" / "report.md").read_text()
    assert "| dataset | metric | llm_scoring · tiny-llama/full @ A | llm_scoring · tiny-llama/full @ B |" in report
    assert re.search(r"\| esc50 \| accuracy \| 90\.0 \[8\d\.0, 9\d\.0\] \| 60\.0 \[5\d\.0, 6\d\.0\] \|", report)
    # exact McNemar: esc50 b = 30, c = 0 -> 2 / 2^30; instruments b = 2, c = 0 -> 0.5; Holm: x2 and x1 -> 0.5
    esc50 = 2 / 2 ** 30 * 2
    results = json.loads((tmp_path / "C" / "results.json").read_text())
    [comparison] = results["statistics"]["comparisons"]
    assert comparison["differs"] == "folder"
    assert comparison["tests"]["esc50"]["p_holm"] == pytest.approx(esc50)
    assert comparison["tests"]["instruments"]["p"] == pytest.approx(0.5)
    assert comparison["tests"]["instruments"]["p_holm"] == pytest.approx(0.5)
    assert ("- **esc50** (folder): llm_scoring · tiny-llama/full @ B vs llm_scoring · tiny-llama/full @ A: -30.0 points"
            in report)
    assert "significantly below (exact McNemar, Holm-adjusted over 2 datasets, p < 0.001)" in report
    assert "not distinguishable on 100 clips (exact McNemar, Holm-adjusted over 2 datasets, p = 0.500)" in report
    # without --compare the two folders' runs are one run counted twice: refused
    result = CliRunner().invoke(app, ["report", str(tmp_path / "A"), str(tmp_path / "B"), "--out", str(tmp_path / "D")])
    assert result.exit_code != 0 and "duplicate fold and seed" in str(result.exception or result.output)
