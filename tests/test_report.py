"""Report writer: fold aggregation, the pinned markdown table, the baseline line, valid PNGs, all files."""

from __future__ import annotations

import json

import pytest

from codec_bench.errors import CodecBenchError
from codec_bench.io import write_jsonl
from codec_bench.report import (aggregate, confusion_plot, markdown_table, per_class_f1, radar_plot,
                                write_report)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DOMAINS = {"esc50": "sound", "instruments": "music", "commands": "speech", "birds": "sound"}


def record(dataset: str, method: str, value: float, fold: str | None = None, codec: str = "embedded-4f630c4c0024",
           predictions: str | None = None, split: str = "test") -> dict:
    return {"dataset": dataset, "task": "single_label", "domain": DOMAINS[dataset], "protocol": "official",
            "fold": fold, "codec": codec, "model": "tiny-llama", "method": method, "split": split, "n_clips": 40,
            "metrics": {"accuracy": value, "macro_f1": value - 0.05}, "headline": "accuracy",
            "predictions": predictions}


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
        "\n"
        "**esc50**: llm_scoring (70.0) is below baseline_logmel_logreg (75.0)\n"
    )


def test_markdown_table_names_the_codec_when_runs_differ_in_it():
    records = [record("esc50", "llm_scoring", 0.7, codec="a"), record("esc50", "llm_scoring", 0.6, codec="b")]
    header = markdown_table(aggregate(records)).splitlines()[0]
    assert header == "| dataset | metric | llm_scoring · a | llm_scoring · b |"
    assert "_No results" in markdown_table(aggregate(records), split="validation")


@pytest.mark.parametrize(("llm", "baseline", "loses"), [(0.70, 0.75, True), (0.75, 0.75, False), (0.80, 0.75, False)])
def test_baseline_line_appears_exactly_when_llm_loses(llm, baseline, loses):
    table = markdown_table(aggregate([record("esc50", "llm_scoring", llm),
                                      record("esc50", "baseline_logmel_logreg", baseline)]))
    assert ("is below" in table) == loses


@pytest.mark.parametrize("n_datasets", [1, 2, 4])
def test_radar_plot_writes_png(tmp_path, n_datasets):
    datasets = ["esc50", "instruments", "commands", "birds"][:n_datasets]
    records = [record(d, m, 0.5 + 0.1 * i) for i, d in enumerate(datasets)
               for m in ("llm_scoring", "baseline_logmel_logreg")]
    path = radar_plot(aggregate(records), tmp_path / "radar.png")
    assert_png(path)


def test_confusion_plot_writes_png_and_keeps_unknown_answers(tmp_path):
    path = confusion_plot(["dog", "cat", "cat"], ["dog", "dog", "a cat?"], ["cat", "dog"], tmp_path / "c.png", "t")
    assert_png(path)


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
    paths = write_report(records, tmp_path, {"esc50": ["cat", "dog"]})
    assert set(paths) == {"results", "report", "radar", "confusion_esc50_llm_scoring"}
    results = json.loads(paths["results"].read_text())
    assert results["format_version"] == 1 and results["records"] == records and len(results["aggregated"]) == 2
    report = paths["report"].read_text()
    assert "**esc50**: llm_scoring (67.0) is below baseline_logmel_logreg (90.0)" in report
    assert "![radar](radar.png)" in report and "(confusion_esc50_llm_scoring.png)" in report
    assert "- **esc50**: 40–80 (differs between runs) test clips" in report
    assert_png(paths["radar"])
    assert_png(paths["confusion_esc50_llm_scoring"])


def test_write_report_names_a_missing_predictions_file(tmp_path):
    records = [record("esc50", "llm_scoring", 0.7, predictions="predictions/missing.jsonl")]
    with pytest.raises(CodecBenchError, match="missing.jsonl"):
        write_report(records, tmp_path, {"esc50": ["cat", "dog"]})
