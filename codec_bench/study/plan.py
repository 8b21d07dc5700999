"""A study file -> its checked settings and its cells: datasets x folds x codecs x models x recipes x seeds.

The YAML holds values only. Its keys and values are checked against the settings' dataclasses (``config``, through
``core.settings.from_mapping``: unknown keys with a "did you mean", types, choices), then what only the registries
know (dataset names, protocols, folds, codec names and options, labels that name files) - all before anything runs.
A recipe is a :class:`config.TrainConfig` with a ``name``; a recipe whose settings hold lists is a grid, expanded
into one recipe per combination (``grid``); ``select: validation`` makes the report keep each grid's best recipe on
validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from .. import data
from ..codecs import check_codec
from ..config import (
    BUILT_IN,
    COMMAND_LINE,
    STUDY_FILE,
    CodecConfig,
    DatasetLocation,
    EvalConfig,
    ModelConfig,
    Output,
    RunConfig,
    SharedSettings,
    TrainConfig,
    codec_name,
    model_label,
    resolve,
    run_settings,
)
from ..core.errors import CodecBenchError
from ..core.settings import build, fail, from_mapping, key_of, setting
from .engines import ENGINES, check_options
from .grid import expand_grid, is_grid


def _engine_names() -> list[str]:
    return list(ENGINES)


@dataclass(kw_only=True)
class DatasetEntry(DatasetLocation):
    """One dataset of the study: its name, where it is (root, protocol, folds, source) and its loader's options."""

    name: str = setting("", "Dataset name (`codec-bench datasets`).", key="dataset")
    options: dict = setting(help="Options of the dataset's loader.", factory=dict, key="dataset_options")


@dataclass(kw_only=True)
class StudyConfig(SharedSettings):
    """What a study YAML holds, checked. ``out`` and ``engine`` are also ``benchmark``'s options (they override the
    file's), ``seeds`` too (``config.Runs``)."""

    PANEL = "Output"

    name: str = setting("", "The study's name (default: the file's stem).", cli=False)
    out: Path = setting(Output.out, "Output folder (default: the study's `out`, else runs/<file stem>).", folder=True,
                        cli_default=None)
    datasets: list[DatasetEntry] = setting(help="Datasets (name, root, protocol, folds, options, source).", factory=list,
                                           cli=False)
    codecs: list[CodecConfig] = setting(help="Codecs (name, options, label, ...); default the embedded codec.",
                                        factory=list, cli=False)
    models: list[ModelConfig] = setting(help="LLMs (name, dtype, label, ...); default the embedded tiny LM.", factory=list,
                                        cli=False)
    recipes: list[TrainConfig] = setting(help="Training recipes, each with a name.", factory=list, cli=False)
    seeds: list[int] = setting(help="Training seeds; every cell runs once per seed.", factory=lambda: [0], cli=False,
                               minimum=0)
    generation: bool = setting(EvalConfig.generation, "Also evaluate by greedy generation (exact match).")
    generation_batch_size: int = setting(EvalConfig.generation_batch_size, "Prompts per generation batch.", minimum=1)
    engine: str = setting("serial", "How cells run: serial (default), ray or submitit (cells as independent jobs; default: "
                          "the study's `engine`).", choices=_engine_names, noun="engine", cli_default=None)
    engine_options: dict = setting(help="Options of the engine (see study.engines).", factory=dict, cli=False)
    select: str = setting("none", "validation: per dataset, fold, codec and model, report only the recipe of each grid "
                          "(a recipe with lists of values) with the best validation figure; none: report every recipe.",
                          choices=("none", "validation"), cli=False)
    grids: dict = setting(help="Grid name -> the names of its recipes, in order (from the recipes).", factory=dict, yaml=False,
                          cli=False)
    given: dict = setting(help="What the file and the command line gave, by source: {source: {'top': {key: value}, "
                          "'datasets'|'codecs'|'models'|'recipes': [entry, ...]}} (recipes expanded), so that each cell "
                          "resolves exactly as `run` does (``cell_config``).", factory=dict, yaml=False, cli=False)


@dataclass(frozen=True)
class Cell:
    """One job: a dataset fold, a codec, a model, a recipe and a seed (indices into the study's lists)."""

    dataset: int
    protocol: str
    fold: str | None
    codec: int
    model: int
    recipe: int
    seed: int


LISTS = ("datasets", "codecs", "models", "recipes")


def parse_study(raw: Any, path: Path = Path("study.yaml")) -> StudyConfig:
    """Check a loaded YAML mapping and build the StudyConfig; any bad name or key raises a one-line error."""
    if not isinstance(raw, dict):
        names = ", ".join(f.name for f in fields(StudyConfig))
        raise CodecBenchError(f"{path}: expected a mapping of study settings ({names})")
    values = from_mapping(StudyConfig, raw, str(path), skip=LISTS)
    _check_old_keys(path, raw)
    study = StudyConfig(**{"name": path.stem, "out": Path("runs") / path.stem} | values,
                        datasets=[_dataset(path, e) for e in _entries(path, raw, "datasets")],
                        codecs=[_codec(path, e) for e in _entries(path, raw, "codecs", False)] or [CodecConfig()],
                        models=[_model(path, e) for e in _entries(path, raw, "models", False)] or [ModelConfig()],
                        recipes=[_recipe(path, e) for entry in _entries(path, raw, "recipes") for e in expand_grid(entry)])
    study.grids = {e["name"]: [r["name"] for r in expand_grid(e)] for e in _entries(path, raw, "recipes") if is_grid(e)}
    checked = {key: [from_mapping(cls, e, str(path)) for e in _entries(path, raw, key, False)]
               for key, cls in (("datasets", DatasetEntry), ("codecs", CodecConfig), ("models", ModelConfig))}
    recipes = [from_mapping(TrainConfig, e, str(path)) for entry in _entries(path, raw, "recipes") for e in expand_grid(entry)]
    study.given = {STUDY_FILE: {"top": values} | checked | {"recipes": recipes}}
    if study.select == "validation" and not study.grids:
        raise CodecBenchError(f"{path}: `select: validation` chooses within recipe grids; give a recipe a list of values "
                              "(learning_rate: [1.0e-3, 3.0e-3])")
    _check_unique(path, "recipe", [r.name for r in study.recipes])
    _check_unique(path, "codec", [codec_tag(c) for c in study.codecs])  # each needs its own label
    _check_unique(path, "model", [model_label(m) for m in study.models])
    return study


# spellings a study file used before each setting had one name: (list, old place) -> the key to write instead
OLD_KEYS = {("codecs", "options.model_id"): "model", ("codecs", "options.dtype"): "dtype",
            ("codecs", "options.max_seconds"): "max_seconds"}


def _check_old_keys(path: Path, raw: dict) -> None:
    """One line for a key written as before it had its one name (``OLD_KEYS``)."""
    for (key, old), new in OLD_KEYS.items():
        place, name = old.split(".")
        for entry in raw.get(key) or []:
            if isinstance(entry, dict) and isinstance(entry.get(place), dict) and name in entry[place]:
                raise CodecBenchError(f"{path}: {key} entry {entry.get('name')}: `{old}` is now `{new}` (in the entry "
                                      f"itself, like the command line's --{key[:-1]}-{new.replace('_', '-')}); move it")


def _entries(path: Path, raw: dict, key: str, required: bool = True) -> list[dict]:
    """A list of mappings under ``key``; a bare string stands for ``{name: string}``."""
    items = raw.get(key)
    if not items:
        if required:
            raise CodecBenchError(f"{path}: `{key}` is missing or empty; list at least one entry")
        return []
    if not isinstance(items, list):
        raise CodecBenchError(f"{path}: `{key}` must be a list of entries, got {type(items).__name__}")
    entries = [{"name": item} if isinstance(item, str) else item for item in items]
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "name" not in entry:
            raise CodecBenchError(f"{path}: {key}[{i}] needs a `name`")
    return entries


def _dataset(path: Path, entry: dict) -> DatasetEntry:
    where = f"{path}: dataset {entry['name']}"
    if entry["name"] not in data.DATASETS:
        fail(str(path), "dataset", entry["name"], sorted(data.DATASETS))
    item = build(DatasetEntry, entry, where)
    spec = data.DATASETS[item.name]
    if item.protocol is not None and item.protocol not in spec.protocols:
        fail(where, "protocol", item.protocol, spec.protocols)
    valid = [str(f) for f in spec.fold_names(item.protocol or spec.protocols[0])]
    for fold in item.folds or []:
        if fold not in valid:
            fail(where, "fold", fold, valid)
    if spec.needs_root and item.source == "local" and item.root is None:
        raise CodecBenchError(f"{where}: needs `root`, the folder of the unpacked corpus (see `codec-bench datasets`)")
    return item


def _codec(path: Path, entry: dict) -> CodecConfig:
    where = f"{path}: codec {entry['name']}"
    codec = build(CodecConfig, entry, where)
    check_codec(codec.name, codec.options, where)
    _check_label(where, codec.label)
    return codec


def _model(path: Path, entry: dict) -> ModelConfig:
    where = f"{path}: model {entry['name']}"
    model = build(ModelConfig, entry, where)
    _check_label(where, model.label)
    return model


def _recipe(path: Path, entry: dict) -> TrainConfig:
    return build(TrainConfig, entry, f"{path}: recipe {entry['name']}")


def _check_label(where: str, label: Any) -> None:
    """A label names files: letters, digits, '.', '_' and '-' only."""
    if label is not None and not re.fullmatch(r"[A-Za-z0-9._-]+", str(label)):
        raise CodecBenchError(f"{where}: label {label!r} may hold only letters, digits, '.', '_' and '-'")


def _check_unique(path: Path, what: str, tags: list[str]) -> None:
    repeated = sorted({t for t in tags if tags.count(t) > 1})
    if repeated:
        raise CodecBenchError(f"{path}: {what} {repeated[0]!r} is listed twice; give each {what} entry a distinct `label`")


def load_study(path: str | Path, out: str | Path | None = None, seeds: list[int] | None = None,
               engine: str | None = None, overrides: dict | None = None) -> StudyConfig:
    """Read and check a study YAML; ``out``, ``seeds``, ``engine`` and ``overrides`` (the command line's top-level
    settings by key: probes, blind, ...) override its values."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CodecBenchError(f"{path}: study file not found") from None
    except yaml.YAMLError as err:
        raise CodecBenchError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    given = {k: v for k, v in {"out": out, "seeds": seeds, "engine": engine}.items() if v is not None} | (overrides or {})
    study = parse_study({**(raw or {}), **given} if isinstance(raw, dict) else raw, path)
    if given:
        study.given[STUDY_FILE]["top"] = {k: v for k, v in study.given[STUDY_FILE]["top"].items() if k not in given}
        study.given[COMMAND_LINE] = {"top": from_mapping(StudyConfig, given, "the command line")}
    return study


def codec_tag(codec: CodecConfig) -> str:
    """The codec in cell file names, as results name it (``config.codec_name``)."""
    return codec_name(codec.name, codec.options.get("dtype", codec.dtype), codec.label, codec.codebooks, codec.patch,
                      codec.bpe)


def study_cells(study: StudyConfig) -> list[Cell]:
    """Every (dataset fold, codec, model, recipe, seed), dataset-major so a dataset's cells share warm caches."""
    cells = []
    for d, entry in enumerate(study.datasets):
        spec = data.DATASETS[entry.name]
        protocol = entry.protocol or spec.protocols[0]
        folds = entry.folds or (spec.fold_names(protocol) if entry.source == "local" else [None])
        cells += [Cell(d, protocol, None if fold is None else str(fold), c, m, r, seed) for fold in folds
                  for c in range(len(study.codecs)) for m in range(len(study.models))
                  for r in range(len(study.recipes)) for seed in study.seeds]
    return cells


def cell_name(study: StudyConfig, cell: Cell) -> str:
    """``<dataset>-<protocol>[-fold<k>]__<codec>__<model>__<recipe>__seed<n>`` (no fold part for a fixed split), the
    codec, model and recipe as the cell resolves them (:func:`cell_config`)."""
    return run_cell_name(cell_config(study, cell), cell)


def run_cell_name(config: RunConfig, cell: Cell) -> str:
    where = f"{config.dataset}-{cell.protocol}" + (f"-fold{cell.fold}" if cell.fold is not None else "")
    return "__".join([where, codec_tag(config.codec), model_label(config.model), config.train.name,
                      f"seed{cell.seed}"])


def result_path(study: StudyConfig, cell: Cell) -> Path:
    """``OUT/results/<cell name>.json``."""
    return Path(study.out) / "results" / f"{cell_name(study, cell)}.json"


def static_task(dataset: str) -> str | None:
    """The task of a registered dataset when its spec fixes it (a CSV corpus's comes from its labels: None)."""
    task = data.DATASETS[dataset].task
    return task if task in ("single_label", "multi_label", "aqa") else None


def cell_config(study: StudyConfig, cell: Cell, task: str | None = None) -> RunConfig:
    """The RunConfig of one cell, resolved exactly as ``run`` resolves its command line (``config.resolve``): what the
    study file and the command line gave (``StudyConfig.given``), the cell's fold and seed, and for the rest the
    defaults of the cell's model and, ``task`` (default: the dataset's, when its spec fixes it), its task."""
    entry = study.datasets[cell.dataset]
    root = entry.root
    if root is None and not data.DATASETS[entry.name].needs_root:  # generated data lives with the study
        root = Path(study.out) / "data" / entry.name
    cell_values = {"dataset": entry.name, "out": Path(study.out), "root": root}
    layers = [(BUILT_IN, cell_values)] + [(source, _flat(given, cell)) for source, given in study.given.items()]
    fold = {"folds": None if cell.fold is None else [cell.fold]}  # the cell's own fold, of the listed ones or all
    layers.append((STUDY_FILE if entry.folds else BUILT_IN, fold))
    seeds_from = [source for source, given in study.given.items() if "seeds" in given.get("top", {})]
    layers.append((seeds_from[-1] if seeds_from else BUILT_IN, {"seed": cell.seed}))  # the cell's own seed
    return resolve(layers, task or static_task(entry.name))


def _flat(given: dict, cell: Cell) -> dict:
    """What one source gave for ``cell``, by setting key: the study's top-level settings and the cell's dataset,
    codec, model and recipe entries."""
    keys = run_settings()
    values = {key: value for key, value in given.get("top", {}).items() if key in keys}
    for name, cls, index in (("datasets", DatasetEntry, cell.dataset), ("codecs", CodecConfig, cell.codec),
                             ("models", ModelConfig, cell.model), ("recipes", TrainConfig, cell.recipe)):
        entries = given.get(name) or []
        if index < len(entries):
            entry = entries[index]
            fields_by_name = {f.name: f for f in fields(cls)}
            values |= {key_of(fields_by_name[k]): v for k, v in entry.items() if k in fields_by_name}
    return {key: value for key, value in values.items() if key in keys}


def check_engine_options(study: StudyConfig) -> None:
    """``benchmark --dry-run``: the study's ``engine_options`` against what its engine takes (the engine imported)."""
    check_options(study.engine, study.engine_options, f"{study.name}: engine_options")
