"""A study: datasets x folds x codecs x models x training recipes x seeds, from one YAML file, resumable.

Every combination is a *cell*, an independent job that runs one fold through ``pipeline.run_fold`` and writes one
result file, ``OUT/results/<dataset>-<protocol>-fold<k>__<codec>__<model>__<recipe>__seed<n>.json``. A rerun
skips cells whose file says ``status: ok``; a failed cell records its error and the study goes on. Cells run one
after another (``engine: serial``) or as Ray tasks or submitit jobs; each job writes its own file, so the parent
only waits. The YAML holds values only; every name and key is checked before anything runs.
"""

from __future__ import annotations

import difflib
import importlib
import platform
import re
import subprocess
import time
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Callable

import yaml

from .. import __version__, data
from ..core import io, ui
from ..codecs import CODECS, check_codec, is_front_end
from ..core.parallel import build_lock
from ..config import (
    CODEBOOK_MODES,
    EMBEDDED_MODEL,
    CodecConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    codec_name,
    model_label,
)
from ..core.errors import CodecBenchError
from ..core.hub import check_reference

FORMAT_VERSION = 1
SOURCES = ("local", "hub")
RECIPE_KEYS = ["name"] + [f.name for f in fields(TrainConfig) if f.name != "seed"]  # seeds come from `seeds`
DATASET_KEYS = ["name", "root", "protocol", "folds", "options", "source"]
CODEC_KEYS = [f.name for f in fields(CodecConfig)]
MODEL_KEYS = [f.name for f in fields(ModelConfig)]
STUDY_KEYS = ["name", "out", "datasets", "codecs", "models", "recipes", "seeds", "baseline", "probes", "zero_shot", "generation", "engine",
              "engine_options"]


@dataclass
class DatasetEntry:
    """One dataset of the study; ``folds`` None means every fold of ``protocol``; ``options`` go to its loader."""

    name: str
    root: Path | None = None
    protocol: str | None = None
    folds: list[str] | None = None
    options: dict = field(default_factory=dict)
    source: str = "local"


@dataclass
class StudyConfig:
    """What a study YAML holds, checked. ``recipes`` are ``{"name": ..., **TrainConfig fields}``."""

    name: str
    out: Path
    datasets: list[DatasetEntry]
    codecs: list[CodecConfig]
    models: list[ModelConfig]
    recipes: list[dict]
    seeds: list[int] = field(default_factory=lambda: [0])
    baseline: bool = True
    probes: bool = False  # linear-probe and kNN reference rows (ARCH's protocol)
    zero_shot: bool = False  # the base LLM scored without fine-tuning
    generation: bool = True
    engine: str = "serial"
    engine_options: dict = field(default_factory=dict)


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


def _fail(where: str, what: str, value: Any, choices: list[str]) -> None:
    """Raise the one-line error for a value outside ``choices``, with a "did you mean" hint."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise CodecBenchError(f"{where}: unknown {what} {value!r}; {hint}choose one of {', '.join(map(str, choices))}")


def _check_keys(where: str, entry: dict, allowed: list[str]) -> None:
    for key in entry:
        if key not in allowed:
            _fail(where, "key", key, allowed)


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
    _check_keys(where, entry, DATASET_KEYS)
    if entry["name"] not in data.DATASETS:
        _fail(str(path), "dataset", entry["name"], sorted(data.DATASETS))
    spec = data.DATASETS[entry["name"]]
    item = DatasetEntry(**entry)
    if item.source not in SOURCES:
        _fail(where, "source", item.source, list(SOURCES))
    if item.protocol is not None and item.protocol not in spec.protocols:
        _fail(where, "protocol", item.protocol, list(spec.protocols))
    valid = [str(f) for f in spec.fold_names(item.protocol or spec.protocols[0])]
    item.folds = None if item.folds is None else [str(f) for f in item.folds]
    for fold in item.folds or []:
        if fold not in valid:
            _fail(where, "fold", fold, valid)
    if spec.needs_root and item.source == "local" and item.root is None:
        raise CodecBenchError(f"{where}: needs `root`, the folder of the unpacked corpus (see `codec-bench datasets`)")
    item.root = Path(item.root) if item.root is not None else None
    return item


def _codec(path: Path, entry: dict) -> CodecConfig:
    _check_keys(f"{path}: codec {entry['name']}", entry, CODEC_KEYS)
    if entry["name"] not in CODECS:
        _fail(str(path), "codec", entry["name"], sorted(CODECS))
    _check_label(f"{path}: codec {entry['name']}", entry.get("label"))
    if entry.get("codebooks", "interleave") not in CODEBOOK_MODES:
        _fail(f"{path}: codec {entry['name']}", "codebooks", entry["codebooks"], list(CODEBOOK_MODES))
    check_codec(entry["name"], entry.get("options") or {}, f"{path}: codec {entry['name']}")
    if entry.get("codebooks") == "sum" and is_front_end(entry["name"]):
        raise CodecBenchError(f"{path}: codec {entry['name']} gives continuous features, not codebooks; drop `codebooks: sum`")
    return CodecConfig(**entry)


def _model(path: Path, entry: dict) -> ModelConfig:
    _check_keys(f"{path}: model {entry['name']}", entry, MODEL_KEYS)
    _check_label(f"{path}: model {entry['name']}", entry.get("label"))
    return ModelConfig(**entry)


def _check_label(where: str, label: Any) -> None:
    """A label names files: letters, digits, '.', '_' and '-' only."""
    if label is not None and not re.fullmatch(r"[A-Za-z0-9._-]+", str(label)):
        raise CodecBenchError(f"{where}: label {label!r} may hold only letters, digits, '.', '_' and '-'")


def _recipe(path: Path, entry: dict) -> dict:
    _check_keys(f"{path}: recipe {entry['name']}", entry, RECIPE_KEYS)
    if entry.get("method", "full") not in ("full", "lora"):
        _fail(f"{path}: recipe {entry['name']}", "method", entry["method"], ["full", "lora"])
    return dict(entry)


def parse_study(raw: Any, path: Path = Path("study.yaml")) -> StudyConfig:
    """Check a loaded YAML mapping and build the StudyConfig; any bad name or key raises a one-line error."""
    if not isinstance(raw, dict):
        raise CodecBenchError(f"{path}: expected a mapping of study settings ({', '.join(STUDY_KEYS)})")
    _check_keys(str(path), raw, STUDY_KEYS)
    study = StudyConfig(
        name=str(raw.get("name") or path.stem), out=Path(raw.get("out") or Path("runs") / path.stem),
        datasets=[_dataset(path, e) for e in _entries(path, raw, "datasets")],
        codecs=[_codec(path, e) for e in _entries(path, raw, "codecs", False)] or [CodecConfig()],
        models=[_model(path, e) for e in _entries(path, raw, "models", False)] or [ModelConfig()],
        recipes=[_recipe(path, e) for e in _entries(path, raw, "recipes")],
        seeds=[int(s) for s in raw.get("seeds") or [0]], baseline=bool(raw.get("baseline", True)),
        probes=bool(raw.get("probes", False)), zero_shot=bool(raw.get("zero_shot", False)),
        generation=bool(raw.get("generation", True)), engine=str(raw.get("engine", "serial")),
        engine_options=dict(raw.get("engine_options") or {}),
    )
    if study.engine not in ENGINES:
        _fail(str(path), "engine", study.engine, list(ENGINES))
    _check_unique(path, "recipe", [r["name"] for r in study.recipes])
    _check_unique(path, "codec", [codec_tag(c) for c in study.codecs])  # each needs its own label
    _check_unique(path, "model", [model_label(m) for m in study.models])
    return study


def _check_unique(path: Path, what: str, tags: list[str]) -> None:
    repeated = sorted({t for t in tags if tags.count(t) > 1})
    if repeated:
        raise CodecBenchError(f"{path}: {what} {repeated[0]!r} is listed twice; give each {what} entry a distinct `label`")


def load_study(path: str | Path, out: str | Path | None = None, seeds: list[int] | None = None,
               engine: str | None = None) -> StudyConfig:
    """Read and check a study YAML; ``out``, ``seeds`` and ``engine`` override its values."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CodecBenchError(f"{path}: study file not found") from None
    except yaml.YAMLError as err:
        raise CodecBenchError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    overrides = {k: v for k, v in {"out": out, "seeds": seeds, "engine": engine}.items() if v is not None}
    return parse_study({**(raw or {}), **overrides} if isinstance(raw, dict) else raw, path)


def codec_tag(codec: CodecConfig) -> str:
    """The codec in cell file names, as results name it (``config.codec_name``)."""
    return codec_name(codec.name, codec.options.get("dtype", "float32"), codec.label, codec.codebooks)


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
    """``<dataset>-<protocol>[-fold<k>]__<codec>__<model>__<recipe>__seed<n>`` (no fold part for a fixed split)."""
    where = f"{study.datasets[cell.dataset].name}-{cell.protocol}" + (f"-fold{cell.fold}" if cell.fold is not None else "")
    return "__".join([where, codec_tag(study.codecs[cell.codec]), model_label(study.models[cell.model]),
                      study.recipes[cell.recipe]["name"], f"seed{cell.seed}"])


def result_path(study: StudyConfig, cell: Cell) -> Path:
    """``OUT/results/<cell name>.json``."""
    return Path(study.out) / "results" / f"{cell_name(study, cell)}.json"


def cell_config(study: StudyConfig, cell: Cell) -> RunConfig:
    """The RunConfig of one cell: one fold, the recipe's TrainConfig with the cell's seed."""
    entry, recipe = study.datasets[cell.dataset], study.recipes[cell.recipe]
    root = entry.root
    if root is None and not data.DATASETS[entry.name].needs_root:  # generated data lives with the study
        root = Path(study.out) / "data" / entry.name
    train = TrainConfig(**{k: v for k, v in recipe.items() if k != "name"}, seed=cell.seed)
    return RunConfig(dataset=entry.name, out=Path(study.out), root=root, protocol=cell.protocol,
                     folds=None if cell.fold is None else [cell.fold], codec=replace(study.codecs[cell.codec]),
                     model=replace(study.models[cell.model]), train=train, eval=EvalConfig(generation=study.generation),
                     baseline=study.baseline, probes=study.probes, zero_shot=study.zero_shot,
                     dataset_options=dict(entry.options), source=entry.source,
                     recipe=recipe["name"])


def run_cell(study: StudyConfig, cell: Cell) -> list[dict]:
    """Run one cell through the pipeline (manifest, tokens, prompts, training, evaluation); returns its records."""
    config = cell_config(study, cell)
    from . import pipeline  # heavy (torch, transformers): only where a cell runs

    manifest = pipeline.manifests_for(config)[0]
    pipeline.save_manifest(config, manifest)
    return pipeline.run_fold(config, manifest)


def is_finished(path: Path) -> bool:
    """True when ``path`` is a readable result of this format with status ok; anything else is rerun."""
    if not path.is_file():
        return False
    try:
        result = io.read_json(path)
        if result.get("format_version") != FORMAT_VERSION:
            ui.warn(f"{path.name}: format_version {result.get('format_version')!r}, not {FORMAT_VERSION}; rerunning")
            return False
        return result.get("status") == "ok"
    except (ValueError, OSError, AttributeError) as err:
        ui.warn(f"{path.name}: unreadable result ({type(err).__name__}); rerunning the cell")
        return False


def execute_cell(study: StudyConfig, cell: Cell) -> dict:
    """Run one cell and write its result file, ok or failed; never raises for a failing cell. The cell is held under
    a file lock: a second study process on the same OUT waits for it, then reuses its result."""
    path = result_path(study, cell)
    with build_lock(path, "study cell"):
        if is_finished(path):
            return io.read_json(path)
        start = time.time()
        result: dict = {"format_version": FORMAT_VERSION, "cell": describe(study, cell), "status": "ok", "records": [], "error": None}
        try:
            result["records"] = run_cell(study, cell)
        except Exception as err:  # one cell's failure is recorded; the study goes on
            first_line = (str(err).strip().splitlines() or [""])[0]
            result.update(status="failed", error=f"{type(err).__name__}: {first_line}")
        result.update(wall_seconds=round(time.time() - start, 2), versions=versions(), git_revision=git_revision())
        io.write_json(path, result)
    return result


def describe(study: StudyConfig, cell: Cell) -> dict:
    """The cell as its result file names it."""
    entry, codec = study.datasets[cell.dataset], study.codecs[cell.codec]
    return {"name": cell_name(study, cell), "dataset": entry.name, "protocol": cell.protocol, "fold": cell.fold,
            "source": entry.source, "codec": codec.name, "codec_options": codec.options,
            "model": study.models[cell.model].name, "recipe": study.recipes[cell.recipe], "seed": cell.seed}


def versions() -> dict[str, str]:
    """Library versions that results depend on."""
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "codec_bench": __version__}


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """``git rev-parse HEAD`` of the folder holding the codec_bench package, or None outside a checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


# --- engines: name -> function(cells, run_fn, study); each job writes its own result file -----------------------

def run_serial(cells: list[Cell], run_fn: Callable[[Cell], dict], study: StudyConfig) -> None:
    """One cell after another in this process, a progress line per cell."""
    for i, cell in enumerate(cells, start=1):
        ui.say(f"[bold]cell {i}/{len(cells)}[/] {cell_name(study, cell)}")
        _report(study, cell, run_fn(cell))


def run_ray(cells: list[Cell], run_fn: Callable[[Cell], dict], study: StudyConfig) -> None:
    """One Ray task per cell. ``engine_options``: ``gpus_per_cell`` (default 1 on a CUDA machine, else 0) and
    ``cpus_per_cell`` (default 1) size each task; the rest go to ``ray.init`` (``address: auto`` joins a running
    cluster; without it a local instance is started, e.g. ``num_cpus: 8``)."""
    ray = _import_engine("ray")
    options = dict(study.engine_options)
    gpus, cpus = options.pop("gpus_per_cell", None), options.pop("cpus_per_cell", 1)
    if gpus is None:
        import torch

        gpus = 1 if torch.cuda.is_available() else 0
    options.setdefault("include_dashboard", False)
    options.setdefault("log_to_driver", False)  # one line per cell from the driver; a cell's errors are in its result file
    options.setdefault("logging_level", "warning")
    ray.init(**options)
    try:
        task = ray.remote(num_gpus=gpus, num_cpus=cpus)(_call)  # ray.remote takes a plain function, not a partial
        pending = {task.remote(run_fn, cell): cell for cell in cells}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            _report(study, pending.pop(done[0]), ray.get(done[0]))
    finally:
        ray.shutdown()


def _call(run_fn: Callable[[Cell], dict], cell: Cell) -> dict:
    ui.set_verbosity(quiet=True)  # the driver prints one line per cell; a cell's own lines would come back prefixed
    return run_fn(cell)


def run_submitit(cells: list[Cell], run_fn: Callable[[Cell], dict], study: StudyConfig) -> None:
    """One submitit job per cell (a job array); ``engine_options``: ``cluster`` (``slurm``, or ``local`` for jobs as
    processes on this machine; default: slurm when ``sbatch`` is found) goes to AutoExecutor, the rest (e.g.
    ``slurm_partition``, ``gpus_per_node``, ``cpus_per_task``, ``timeout_min``) to ``update_parameters``. Job logs go
    to ``OUT/submitit/``."""
    submitit = _import_engine("submitit")
    options = dict(study.engine_options)
    executor = submitit.AutoExecutor(folder=Path(study.out) / "submitit", cluster=options.pop("cluster", None))
    executor.update_parameters(**options)
    jobs = executor.map_array(run_fn, cells)
    for job, cell in zip(jobs, cells):
        _report(study, cell, job.result())


def _report(study: StudyConfig, cell: Cell, result: dict) -> None:
    colour = "green" if result["status"] == "ok" else "red"
    ui.say(f"[{colour}]{result['status']}[/] {cell_name(study, cell)} ({result.get('wall_seconds', 0):.0f} s)"
           + (f": {result['error']}" if result.get("error") else ""), ui.QUIET if result["status"] != "ok" else ui.NORMAL)


ENGINE_EXTRAS = {"ray": "ray", "submitit": "slurm"}  # the optional extra that installs each engine


def _import_engine(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        extra = ENGINE_EXTRAS.get(name, name)
        raise CodecBenchError(f"engine {name} needs `pip install 'codec-bench[{extra}]'` (or `pip install -e \".[{extra}]\"` "
                              "in a checkout; or use engine: serial)") from None


ENGINES: dict[str, Callable[[list[Cell], Callable[[Cell], dict], StudyConfig], None]] = {
    "serial": run_serial, "ray": run_ray, "submitit": run_submitit,
}


def run_study(config_path: str | Path, out: str | Path | None = None, seeds: list[int] | None = None,
              engine: str | None = None) -> Path:
    """Run every unfinished cell of the study, then write the report over OUT; returns OUT."""
    study = load_study(config_path, out, seeds, engine)
    for model in study.models:  # a model folder that does not exist fails now, not in every cell
        if model.name != EMBEDDED_MODEL:
            check_reference(model.name, f"{config_path}: model")
    cells = study_cells(study)
    todo = [c for c in cells if not is_finished(result_path(study, c))]
    ui.say(f"[bold]{study.name}[/]: {len(cells)} cells, {len(cells) - len(todo)} finished, {len(todo)} to run ({study.engine})")
    if todo:
        ENGINES[study.engine](todo, partial(execute_cell, study), study)
    failed = [cell_name(study, c) for c in cells if not is_finished(result_path(study, c))]
    if failed:
        ui.warn(f"{len(failed)} of {len(cells)} cells failed (errors in {Path(study.out) / 'results'}), e.g. {failed[0]}")
    if len(failed) == len(cells):
        raise CodecBenchError(f"{config_path}: every cell failed; see the error in {result_path(study, cells[0])}")
    from ..report.write import report_folders

    report_folders([study.out])
    return Path(study.out)
