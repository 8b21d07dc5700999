"""The reference rows' own settings chosen on validation (``evaluation.tuning``): the rule and its ties, the
log-mel regression's C and the record of the choice, and test labels that change no choice."""

import doctest

import numpy as np
import pytest
from conftest import write_wave

from codec_bench.config import RunConfig
from codec_bench.evaluation import baseline, tuning
from codec_bench.study.evaluate_stage import run_baseline
from codec_bench.study.pipeline import manifests_for


def test_docstring_examples_hold():
    assert doctest.testmod(tuning).failed == 0


def test_the_best_validation_figure_wins_ties_go_to_the_earlier_value_and_no_validation_keeps_the_default():
    labels = [("a",), ("b",), ("a",), ("b",)]
    good, half = np.eye(2)[[0, 1, 0, 1]], np.eye(2)[[0, 0, 0, 0]]
    choice = tuning.choose("C", (0.1, 1.0, 10.0), 1.0, lambda C: good if C >= 1.0 else half, labels, "single_label", ["a", "b"])
    assert choice.value == 1.0 and choice.choices() == {"C": 1.0, "C_validation": {"0.1": 0.5, "1": 1.0, "10": 1.0},
                                                        "C_chosen_by": "validation accuracy"}
    empty = tuning.choose("k", tuning.K_GRID, 10, lambda k: pytest.fail("nothing to score"), [], "single_label", ["a"])
    assert empty.value == 10 and empty.choices()["k_chosen_by"] == "default: no validation split"
    # multi-label: mAP, which needs no threshold; a class without a positive is left out of it
    truth = [("x",), ("x", "y"), ()]
    ranked, flat = np.array([[0.9, 0.8], [0.8, 0.9], [0.1, 0.1]]), np.array([[0.1, 0.1], [0.1, 0.1], [0.9, 0.9]])
    choice = tuning.choose("k", (5, 1), 10, lambda k: ranked if k == 1 else flat, truth, "multi_label", ["x", "y"])
    assert choice.value == 1 and choice.metric == "map"


def test_the_regression_keeps_the_model_fitted_on_train_with_the_chosen_c():
    rng = np.random.default_rng(0)
    centres = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

    def points(n: int, offset: int) -> tuple[dict, list]:
        labels = [("a",), ("b",)] * (n // 2)
        x = np.stack([centres[i % 2] + rng.normal(0, 0.8, 3) for i in range(n)])
        return {f"{offset + i}": row for i, row in enumerate(x)}, labels

    train, train_labels = points(40, 0)
    validation, validation_labels = points(20, 100)
    by_id = dict(zip(train, train_labels))
    predict, choice = baseline.fit_on_validation("single_label", ["a", "b"], train, by_id, validation, validation_labels)
    assert list(choice.validation) == [f"{C:g}" for C in tuning.C_GRID] and choice.value in tuning.C_GRID
    best = max(v for v in choice.validation.values())
    assert choice.validation[f"{choice.value:g}"] == best
    assert all(choice.validation[f"{C:g}"] < best for C in tuning.C_GRID[:tuning.C_GRID.index(choice.value)])
    x = np.stack(list(validation.values()))
    np.testing.assert_allclose(predict(x), baseline.fit("single_label", ["a", "b"], train, by_id, C=choice.value)(x))


def _csv_folder(root, test_labels: list[str] | None = None):
    """Two classes, 16 training, 8 validation and 8 test clips; ``test_labels`` deal the test clips' labels."""
    rows, tests = ["path,label,split"], iter(test_labels or [])
    for i in range(32):
        label = ["dog bark", "siren"][i % 2]
        split = ["train", "train", "validation", "test"][(i // 2) % 4]
        written = next(tests) if split == "test" and test_labels else label
        rows.append(f"{label.replace(' ', '_')}/{i}.wav,{written},{split}")
        write_wave(root / label.replace(" ", "_") / f"{i}.wav", seconds=0.3, freq=300 if label == "siren" else 900, seed=i)
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def _baseline(tmp_path, test_labels=None):
    config = RunConfig(dataset="csv", root=_csv_folder(tmp_path / "data", test_labels), out=tmp_path / "out")
    [manifest] = manifests_for(config)
    return run_baseline(config, manifest, tmp_path / "out" / "csv" / "baseline")


def test_the_baseline_records_its_c_and_test_labels_change_no_choice(tmp_path):
    records = _baseline(tmp_path / "plain")
    assert {r.split for r in records} == {"validation", "test"}
    choices = records[0].choices
    assert choices["C"] in tuning.C_GRID and choices["C_chosen_by"] == "validation accuracy"
    assert all(r.choices == choices for r in records)
    # every test clip relabelled to one class (a derangement of the balance): the same C, the same validation figures
    dealt = _baseline(tmp_path / "dealt", ["siren"] * 8)
    assert [r.choices for r in dealt] == [r.choices for r in records]
    assert [r.metrics for r in dealt if r.split == "validation"] == [r.metrics for r in records if r.split == "validation"]
    assert [r.metrics for r in dealt if r.split == "test"] != [r.metrics for r in records if r.split == "test"]


def test_the_report_shows_each_reference_rows_choice():
    from codec_bench.report.tables import choices_markdown

    row = {"dataset": "d", "codec": "none", "model": "logmel-logreg", "method": "baseline_logmel_logreg", "fold": None,
           "seed": 0, "split": "test", "choices": tuning.GridChoice("C", 0.1, {"0.1": 0.8333, "1": 0.5}, "accuracy").choices()}
    knn = row | {"method": "probe_knn_codec", "choices": tuning.GridChoice("k", 10, {}, "accuracy").choices()}
    table = choices_markdown([row, knn])
    assert "| C = 0.1 (validation 83.3) |" in table and "| k = 10 (default) |" in table
