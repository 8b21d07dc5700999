"""A permutation test with power: the test split's labels dealt otherwise, every choice made on validation the same.

Everything a run chooses (the kept epoch, the recipe of a grid, the multi-label scoring method, decision rule,
thresholds and calibration, the reference rows' C and k, ...) must come from the training and validation splits.
So a run on a copy of the data whose test labels are dealt otherwise must choose exactly the same, while its test
figures change. The dealing has power only if a selector that read test would see something else:
:func:`deal_other_labels` gives every test clip a label other than its own (a derangement: each class moves to the
next in a cycle, "yes" and "no" swap) and the class balance changes with it (refused where it could not: a split
whose classes are equally frequent keeps its balance under any cycle). With two classes every clip's prediction
flips from right to wrong or back, so a test figure ``p`` becomes ``1 - p``: on an odd number of test clips no
figure read from test can stay the same.

:func:`relabel_csv_test` and :func:`relabel_clotho_test` rewrite a ``csv`` folder's and a Clotho-AQA layout's test
labels in place; :func:`choices_under` collects every choice of an output folder (each record's ``choices``, the
grid selection, the decision and scoring files), to compare two runs with :func:`differences`.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Sequence

from ..formats import RecordsFile

YES_NO = ("yes", "no")
CHOICE_FILES = ("thresholds.json", "calibration.json", "*_decision.json", "multi_label_scoring.json")


def cycle(classes: Sequence[str]) -> dict[str, str]:
    """Each label -> the label it is dealt: "yes" <-> "no" when both occur, every other one the next in sorted order
    (the last the first). A permutation of ``classes`` with no fixed point where two or more labels move.

    >>> sorted(cycle(["b", "a", "no", "c", "yes"]).items())
    [('a', 'b'), ('b', 'c'), ('c', 'a'), ('no', 'yes'), ('yes', 'no')]
    """
    names = sorted(set(classes))
    both = all(a in names for a in YES_NO)
    rest = [c for c in names if not (both and c in YES_NO)]
    mapping = {c: rest[(i + 1) % len(rest)] for i, c in enumerate(rest)}
    return mapping | ({"yes": "no", "no": "yes"} if both else {})


def deal_other_labels(label_sets: Sequence[Sequence[str]], classes: Sequence[str]) -> list[tuple[str, ...]]:
    """The label sets with every label moved by :func:`cycle`: a single label always becomes another, and the
    per-class counts change. Raises ``ValueError`` where they would not (equally frequent classes: the dealing would
    keep the balance, and a selector that read test could still pass)."""
    mapping = cycle(classes)
    dealt = [tuple(sorted(mapping.get(label, label) for label in labels)) for labels in label_sets]
    before, after = Counter(l for s in label_sets for l in s), Counter(l for s in dealt for l in s)
    if before == after:
        raise ValueError(f"dealing the test labels keeps their balance ({dict(before)}): make the test classes unequally "
                         "frequent so that the permutation has power")
    return dealt


def relabel_csv_test(root: Path) -> tuple[Counter, Counter]:
    """Deal the test rows' ``label`` (or ``;``-separated ``labels``) of ``root/metadata.csv`` otherwise, in place;
    returns the test label counts before and after."""
    path = Path(root) / "metadata.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    column = "label" if "label" in rows[0] else "labels"
    test = [r for r in rows if r.get("split") == "test"]
    classes = sorted({l for r in rows for l in r[column].split(";") if l})
    dealt = deal_other_labels([r[column].split(";") for r in test], classes)
    before = Counter(l for r in test for l in r[column].split(";"))
    for row, labels in zip(test, dealt):
        row[column] = ";".join(labels)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return before, Counter(l for labels in dealt for l in labels)


def relabel_clotho_test(root: Path, test_file: str = "clotho_aqa_test.csv") -> tuple[Counter, Counter]:
    """Deal every annotator's answer in a Clotho-AQA layout's test CSV otherwise (:func:`cycle` over the answers
    of every split, so a question's majority moves with its votes), in place; returns the answer counts before and
    after."""
    root = Path(root)
    answers = sorted({r["answer"].strip().lower() for p in root.glob("clotho_aqa_*.csv") if p.name != "clotho_aqa_metadata.csv"
                      for r in _read(p)})
    rows = _read(root / test_file)
    dealt = deal_other_labels([[r["answer"].strip().lower()] for r in rows], answers)
    before = Counter(r["answer"].strip().lower() for r in rows)
    for row, (answer,) in zip(rows, dealt):
        row["answer"] = answer
    with open(root / test_file, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return before, Counter(a for (a,) in dealt)


def _read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def choices_under(out: Path) -> dict[str, object]:
    """Every choice made under the output folder ``out``: each ``records.json`` record's ``choices`` (keyed by its
    folder under ``out``, method, split and seed), the grid ``selection`` of ``results.json`` when there is one, and
    every decision, threshold, calibration and scoring-method file (keyed by its path under ``out``)."""
    out = Path(out)
    results = out / "results.json"
    found: dict[str, object] = {"selection": json.loads(results.read_text(encoding="utf-8")).get("selection", [])
                                if results.is_file() else []}
    for path in sorted(out.rglob("records.json")):
        for r in (record.to_json() for record in RecordsFile.from_file(path).records):
            key = "|".join([str(path.parent.relative_to(out)), r["method"], r["split"], str(r.get("seed"))])
            found[key] = r.get("choices", {})
    for pattern in CHOICE_FILES:
        for path in sorted(out.rglob(pattern)):
            found[str(path.relative_to(out))] = json.loads(path.read_text(encoding="utf-8"))
    return found


def differences(a: dict[str, object], b: dict[str, object]) -> list[str]:
    """The keys of two :func:`choices_under` whose choices differ (or that only one has), sorted."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
