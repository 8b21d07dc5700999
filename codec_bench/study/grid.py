"""Recipe grids: a recipe whose settings hold lists of values -> one named recipe per combination.

In a study file any recipe setting may be a list (``learning_rate: [1.0e-3, 3.0e-3]``, ``epochs: [5, 10]``); the
entry stands for the cartesian product of its lists, in a fixed order (keys in the entry's order, the last one
varying fastest), each recipe named by the grid and the values it varies::

    >>> [e["name"] for e in expand_grid({"name": "full", "learning_rate": [1e-3, 3e-3], "epochs": [5, 10]})]
    ['full-lr0.001-ep5', 'full-lr0.001-ep10', 'full-lr0.003-ep5', 'full-lr0.003-ep10']

``run --tune`` trains the small default grid of :data:`TUNE_GRIDS` for its model. With ``select: validation`` (a
study) or ``--tune`` the report keeps, per dataset, fold, codec and model, the grid's recipe with the best
validation figure (``report.selection``).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..config import TrainConfig, model_kind
from ..core.errors import CodecBenchError
from ..core.settings import is_number
from ..formats import GridsFile, OutFolder

SHORT = {"learning_rate": "lr", "epochs": "ep", "lora_rank": "rank", "lora_alpha": "alpha", "batch_size": "bs",
         "weight_decay": "wd", "warmup_ratio": "warmup", "grad_accum": "accum", "method": "", "select_by": "by-"}

TUNE_GRID = "tune"  # the grid's name in run folders (tune-lr0.001-ep15) and in the report (<model>/tune-chosen)
TUNE_GRIDS: dict[str, dict[str, list]] = {  # run --tune, per kind of model; epochs as multiples of the run's epochs
    "embedded": {"learning_rate": [1e-3, 3e-3], "epochs": [1, 2]},  # the tiny LM from scratch: 4 runs, 6x one run's time
    "pretrained": {"learning_rate": [1e-4, 2e-4, 5e-4]},  # LoRA on a pretrained LLM: the usual range, 3 runs
}


def is_grid(entry: dict) -> bool:
    """Whether a recipe entry holds a list of values anywhere (none of a recipe's settings is a list)."""
    return any(isinstance(value, list) for key, value in entry.items() if key != "name")


def value_text(value: Any) -> str:
    """A value as a recipe name shows it: ``0.001``, ``10``, ``lora``, ``true``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str) and is_number(value):  # 1e-3 in a study file (YAML 1.1 text) names what 1.0e-3 names
        value = float(value)
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def expand_grid(entry: dict) -> list[dict]:
    """One recipe entry per combination of the entry's lists, named ``<name>-<short key><value>...`` (only the
    varied keys); an entry without lists comes back as it is, alone."""
    varied = {key: value for key, value in entry.items() if key != "name" and isinstance(value, list)}
    empty = [key for key, value in varied.items() if not value]
    if empty:
        raise CodecBenchError(f"recipe {entry.get('name')}: `{empty[0]}` is an empty list; give it one value or more")
    if not varied:
        return [entry]
    expanded = []
    for values in itertools.product(*varied.values()):
        combination = dict(zip(varied, values))
        suffix = "-".join(f"{SHORT.get(key, key + '-')}{value_text(value)}" for key, value in combination.items())
        expanded.append(entry | combination | {"name": f"{entry['name']}-{suffix}"})
    return expanded


def tune_recipes(train: TrainConfig, model_name: str) -> list[TrainConfig]:
    """``run --tune``: the run's recipe over :data:`TUNE_GRIDS` of its kind of model (epochs scaled), each named."""
    grid = dict(TUNE_GRIDS[model_kind(model_name)])
    if "epochs" in grid:
        grid["epochs"] = [factor * train.epochs for factor in grid["epochs"]]
    entries = expand_grid({"name": TUNE_GRID} | grid)
    return [replace(train, **entry) for entry in entries]


def tune_help() -> str:
    """The grid of ``--tune`` in words, for ``--help``."""
    def words(grid: dict) -> str:
        return " x ".join(f"{key} {', '.join(value_text(v) + ('x' if key == 'epochs' else '') for v in values)}"
                          for key, values in grid.items())
    return (f"Train a small grid of recipes and report the one with the best validation figure (never test): the tiny "
            f"LM over {words(TUNE_GRIDS['embedded'])} (epochs as multiples of --epochs); a pretrained LLM over "
            f"{words(TUNE_GRIDS['pretrained'])}. Each recipe gets a run folder of its own (tune-...). Validation figures "
            "only unless --splits all: rerun with it, once the choice is made, to evaluate the chosen recipe on test.")


def candidates(recipes: list[TrainConfig]) -> list[dict]:
    """A grid's recipes as ``report.selection`` reads them: name and settings (no seed), in the grid's order."""
    return [{"name": r.name, "settings": {k: v for k, v in asdict(r).items() if k not in ("name", "seed")}} for r in recipes]


def write_grids(out: str | Path, grids: dict[str, list[TrainConfig]], select: str, merge: bool = False) -> None:
    """``OUT/grids.json`` (``formats.GridsFile``): the grids' recipes and whether the report selects within them;
    ``merge`` keeps the grids already there (``run --tune`` on another dataset of the same OUT)."""
    GridsFile(select, {name: candidates(recipes) for name, recipes in grids.items()}).to_file(OutFolder(Path(out)).grids, merge)
