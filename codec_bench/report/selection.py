"""Recipes chosen on validation: per dataset, protocol, fold, codec and model, the recipe of a grid with the best
validation figure, and only its records reported.

A grid (``study.grid``) is a list of named recipes; ``OUT/grids.json`` (``formats.GridsFile``) names a folder's
grids and whether the report selects within them (``select: validation`` in a study, ``run --tune``). The choice reads
validation records only: the label-scoring run's headline metric (``evaluation.metrics.HEADLINE``: accuracy,
micro-F1, ...), the mean over seeds; ties go to the lower validation loss (the kept epoch's, ``choices
["validation_loss"]``), then the cheaper recipe (:func:`recipe_cost`), then the grid's order. The chosen recipe's
records (every split and method, every seed) are reported as ``<model>/<grid>-chosen`` with ``choices["recipe"]``
naming it; the other recipes' records are left out, so the tables and tests compare chosen against chosen. A grid
whose validation records are missing is not chosen: its recipes' records are kept, each under its own name, and the
console says why and how to rebuild them (:func:`selection_lines`), as it says each choice made.

A tiny input and output (the test figures are never read; the chosen recipe's test record is the one kept)::

    >>> from codec_bench.formats import Record
    >>> def row(recipe, split, accuracy):
    ...     return Record("d", "single_label", "sound", "p", "1", 0, "c", f"tiny-llama/{recipe}", "llm_scoring", split,
    ...                   10, {"accuracy": accuracy}, "accuracy", "")
    >>> records = [row("g-lr1", "validation", 0.6), row("g-lr2", "validation", 0.8), row("g-lr1", "test", 0.9),
    ...            row("g-lr2", "test", 0.7)]
    >>> kept, choices = select_records(records, {"g": [{"name": "g-lr1"}, {"name": "g-lr2"}]})
    >>> choices[0]["chosen"], choices[0]["validation"]
    ('g-lr2', 0.8)
    >>> [(r.model, r.split, r.metrics["accuracy"], r.choices["recipe"]) for r in kept]
    [('tiny-llama/g-chosen', 'validation', 0.8, 'g-lr2'), ('tiny-llama/g-chosen', 'test', 0.7, 'g-lr2')]
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..evaluation.blind import BLIND_METHOD
from ..evaluation.metrics import HEADLINE
from ..formats import GridsFile, OutFolder, Record

SELECTED_BY = "llm_scoring"  # whose validation figure chooses (label scoring; generation follows the same recipe)
CHOSEN = "-chosen"  # <model>/<grid>-chosen: the chosen recipe's records in the report


def grids_of(out: str | Path) -> dict[str, list[dict]]:
    """The grids the report of folder ``out`` selects within (none unless its grids.json says ``select:
    validation``)."""
    return GridsFile.from_file(OutFolder(Path(out)).grids).selected()


def recipe_cost(settings: dict) -> tuple[float, int]:
    """What a recipe costs to train, to break ties: epochs x (1 + mix + shift) (the training clips seen), then LoRA
    before full fine-tuning."""
    epochs = float(settings.get("epochs") or 0)
    seen = epochs * (1 + float(settings.get("mix") or 0) + float(settings.get("shift") or 0))
    return seen, 0 if settings.get("method") == "lora" else 1


def _recipe(record: Record, grid_of: dict[str, str]) -> tuple[str, str, str] | None:
    """``(model tag, recipe, grid)`` of an LLM record (or its blind row's) whose recipe is in a grid, else None."""
    if not (record.method.startswith("llm_") or record.method == BLIND_METHOD) or "/" not in record.model:
        return None
    tag, recipe = record.model.rsplit("/", 1)
    return (tag, recipe, grid_of[recipe]) if recipe in grid_of else None


def _group(record: Record, tag: str, grid: str) -> tuple:
    return record.dataset, record.protocol, record.fold, record.codec, tag, grid


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def choose(records: list[Record], grids: dict[str, list[dict]]) -> list[dict]:
    """One choice per (dataset, protocol, fold, codec, model, grid) with validation records: ``{"dataset",
    "protocol", "fold", "codec", "model", "grid", "metric", "chosen", "validation", "validation_loss",
    "candidates": [{"recipe", "validation", "validation_loss", "seeds", "cost"}]}`` (means over seeds; no test
    record is read)."""
    grid_of = {c["name"]: grid for grid, members in grids.items() for c in members}
    order = {c["name"]: (i, c.get("settings", {})) for members in grids.values() for i, c in enumerate(members)}
    found: dict[tuple, dict[str, dict]] = defaultdict(dict)
    metric_of: dict[tuple, str] = {}
    for record in records:
        parts = _recipe(record, grid_of)
        if parts is None or record.split != "validation" or record.method != SELECTED_BY:
            continue
        tag, recipe, grid = parts
        key = _group(record, tag, grid)
        metric_of[key] = HEADLINE.get(record.task) or record.headline
        entry = found[key].setdefault(recipe, {"values": [], "losses": [], "seeds": []})
        entry["values"].append(record.metrics.get(metric_of[key], math.nan))
        entry["losses"].append((record.choices or {}).get("validation_loss"))
        entry["seeds"].append(record.seed or 0)
    choices = []
    for key, by_recipe in found.items():
        candidates = []
        for recipe in sorted(by_recipe, key=lambda name: order[name][0]):
            entry = by_recipe[recipe]
            losses = [loss for loss in entry["losses"] if loss is not None]
            candidates.append({"recipe": recipe, "validation": _mean(entry["values"]),
                               "validation_loss": _mean(losses) if len(losses) == len(entry["losses"]) else None,
                               "seeds": sorted(entry["seeds"]), "cost": list(recipe_cost(order[recipe][1]))})
        best = min(candidates, key=lambda c: _rank(c, order[c["recipe"]][0]))
        choices.append(dict(zip(("dataset", "protocol", "fold", "codec", "model", "grid"), key))
                       | {"metric": metric_of[key], "chosen": best["recipe"], "validation": best["validation"],
                          "validation_loss": best["validation_loss"], "candidates": candidates})
    return choices


def _rank(candidate: dict, index: int) -> tuple:
    """Smaller is better: the higher validation figure, the lower validation loss, the lower cost, the grid's order."""
    value, loss = candidate["validation"], candidate["validation_loss"]
    return (-value if not math.isnan(value) else math.inf, loss if loss is not None and not math.isnan(loss) else math.inf,
            tuple(candidate["cost"]), index)


def select_records(records: list[Record], grids: dict[str, list[dict]]) -> tuple[list[Record], list[dict]]:
    """The records a report shows and the choices (:func:`choose`): records outside a grid as they are; of a grid,
    only the chosen recipe's, renamed ``<model>/<grid>-chosen`` with ``choices["recipe"]`` and ``["grid"]``. A grid
    with records but no validation figure (validation records deleted or never written) cannot be chosen: its
    records are kept as they are (each recipe its own row, unchosen) and its entry in the choices has ``chosen``
    None and ``missing`` (:func:`without_validation`); a chosen grid's recipes without one are its ``missing``."""
    if not grids:
        return records, []
    grid_of = {c["name"]: grid for grid, members in grids.items() for c in members}
    choices = choose(records, grids)
    chosen = {_key(c): c["chosen"] for c in choices}
    missing = without_validation(records, grids)
    for choice in choices:
        choice["missing"] = missing.pop(_key(choice), [])
    choices += [dict(zip(("dataset", "protocol", "fold", "codec", "model", "grid"), key))
                | {"metric": None, "chosen": None, "validation": None, "validation_loss": None, "candidates": [],
                   "missing": recipes} for key, recipes in missing.items()]
    kept = []
    for record in records:
        parts = _recipe(record, grid_of)
        if parts is None or _group(record, parts[0], parts[2]) not in chosen:
            kept.append(record)
        elif chosen[_group(record, parts[0], parts[2])] == parts[1]:
            tag, recipe, grid = parts
            made = (record.choices or {}) | {"recipe": recipe, "grid": grid}
            kept.append(replace(record, model=f"{tag}/{grid}{CHOSEN}", choices=made))
    return kept, choices


def _key(choice: dict) -> tuple:
    return tuple(choice[k] for k in ("dataset", "protocol", "fold", "codec", "model", "grid"))


def without_validation(records: list[Record], grids: dict[str, list[dict]]) -> dict[tuple, list[dict]]:
    """Per (dataset, protocol, fold, codec, model, grid) with records, the recipes that have records but no validation
    record of label scoring, so the choice cannot see them: ``[{"recipe", "records"}]``, ``records`` the folder of
    the recipe's records (its ``eval/``, from the predictions' path), in the grid's order."""
    grid_of = {c["name"]: grid for grid, members in grids.items() for c in members}
    order = {c["name"]: i for members in grids.values() for i, c in enumerate(members)}
    seen: dict[tuple, dict[str, str]] = defaultdict(dict)
    validated: set[tuple] = set()
    for record in records:
        parts = _recipe(record, grid_of)
        if parts is None:
            continue
        tag, recipe, grid = parts
        key = _group(record, tag, grid)
        seen[key].setdefault(recipe, str(Path(record.predictions).parent) if record.predictions else "")
        if record.split == "validation" and record.method == SELECTED_BY:
            validated.add((key, recipe))
    out = {}
    for key, recipes in seen.items():
        lacking = [{"recipe": r, "records": recipes[r]} for r in sorted(recipes, key=order.__getitem__)
                   if (key, r) not in validated]
        if lacking:
            out[key] = lacking
    return out


def selection_lines(choices: list[dict], out: str | Path) -> tuple[list[str], list[str]]:
    """What the console says of the choices of folder ``out``: ``(said, warnings)``, a line per chosen grid (the
    recipe and its validation figure) and a warning per grid that could not be chosen, or was chosen without some
    of its recipes, naming why and how to rebuild the missing validation records."""
    said, warnings = [], []
    for c in choices:
        fold = f" fold {c['fold']}" if c["fold"] else ""
        where = f"{c['dataset']}{fold}, {c['codec']}, {c['model']}"
        if c["chosen"] is not None:
            said.append(f"{where}: chose [bold]{c['chosen']}[/] of grid {c['grid']} on validation ({c['metric']} "
                        f"{_percent(c['validation'], False)} %, of {len(c['candidates'])} recipes)")
        missing = c.get("missing") or []
        if missing:
            names = ", ".join(m["recipe"] for m in missing[:3]) + (", ..." if len(missing) > 3 else "")
            folders = ", ".join(str(Path(out) / m["records"]) for m in missing[:2] if m["records"])
            outcome = (f"chosen among the other {len(c['candidates'])}" if c["chosen"] is not None
                       else "not chosen: its rows are shown unchosen, one per recipe")
            warnings.append(f"{where}: grid {c['grid']}: {len(missing)} recipe(s) without a validation record of label "
                            f"scoring ({names}; records in {folders or 'their eval/ folders'}), {outcome}. To rebuild "
                            "them, remove those runs' eval/ folders (and, in a study, their OUT/results/*.json cells) and "
                            "rerun the command that wrote them (`codec-bench benchmark STUDY.yaml` or `codec-bench run ... "
                            f"--tune`), then `codec-bench report {out}`")
    return said, warnings


def selection_markdown(choices: list[dict]) -> str:
    """One table per grid: a row per dataset, fold, codec and model, a column per recipe (the validation figure in
    percent, the mean over seeds), the chosen one in bold and marked ✓; a recipe without a validation record reads
    "no validation", and a grid none of whose recipes has one is "not chosen" (its rows are shown unchosen)."""
    blocks = []
    for grid in dict.fromkeys(c["grid"] for c in choices):
        mine = [c for c in choices if c["grid"] == grid]
        recipes = list(dict.fromkeys(r for c in mine for r in [cand["recipe"] for cand in c["candidates"]]
                                     + [m["recipe"] for m in c.get("missing", [])]))
        lines = [f"**{grid}**", "", "| dataset | fold | codec | model | metric | " + " | ".join(recipes) + " | chosen |",
                 "|---|---|---|---|---|" + "---|" * (len(recipes) + 1)]
        for c in mine:
            values = {cand["recipe"]: cand["validation"] for cand in c["candidates"]}
            lacking = {m["recipe"] for m in c.get("missing", [])}
            cells = [_percent(values[r], r == c["chosen"]) if r in values else "no validation" if r in lacking else "–"
                     for r in recipes]
            lines.append(f"| {c['dataset']} | {c['fold'] or '–'} | {c['codec']} | {c['model']} | {c['metric'] or '–'} | "
                         + " | ".join(cells) + f" | {c['chosen'] or 'not chosen (no validation record)'} |")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _percent(value: float, chosen: bool) -> str:
    text = "n/a" if math.isnan(value) else f"{100 * value:.1f}"
    return f"**{text}** ✓" if chosen else text
