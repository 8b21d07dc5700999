"""Everything about a run that can be checked without a model, before torch is imported: the codec and its options,
model folders, the corpus and its metadata (read into the folds' manifests, returned for the run); and the command
line's values settled into the run's settings once the corpus's task is known."""

from __future__ import annotations

from dataclasses import dataclass

from .. import data
from ..codecs import check_codec
from ..config import (
    COMMAND_LINE,
    EMBEDDED_MODEL,
    STAGES,
    TASK_DEFAULT,
    TUNE,
    RunConfig,
    parse_seeds,
    resolve,
    run_settings,
    settings_table,
)
from ..core import ui
from ..core.errors import CodecBenchError
from ..core.settings import fail, flag_of, setting
from ..data.manifest import Manifest
from ..llm.tracking import check_tracker
from ..loading import check_reference
from .plan import static_task


def check_run(config: RunConfig) -> list[Manifest]:
    """One-line errors for a bad codec, option or model folder, or a corpus that does not read; returns the
    manifests of the folds to run. (Choices and bounds of single settings were checked where they were read.)"""
    check_codec(config.codec.name, config.codec.options)
    if config.model.name != EMBEDDED_MODEL:
        check_reference(config.model.name, "--model")
    if "model_id" in config.codec.options:
        check_reference(config.codec.options["model_id"], "--codec-model")
    check_tracker(config.report_to)
    manifests = data.load_manifests(config.dataset, config.root, config.protocol, config.folds, config.source,
                                    config.dataset_options, config.out)
    if manifests:
        check_recipe(config, manifests[0].task)
    return manifests


def check_recipe(config: RunConfig, task: str) -> None:
    """The recipe's rules that depend on the corpus's task: mixtures unite labels (multi-label only)."""
    if config.train.mix and task != "multi_label":
        raise CodecBenchError(f"--mix {config.train.mix:g}: mixtures unite labels, which only multi-label datasets allow "
                              f"({config.dataset} is {task}); use --shift for time-shifted copies")


def _tune_help() -> str:
    from .grid import tune_help

    return tune_help()


@dataclass
class Runs:
    """What ``run`` repeats and where it stops, beyond one run's settings (``benchmark`` takes the seeds too)."""

    seeds: list[int] | None = setting(None, "Train and evaluate once per seed: a count (3 -> seeds 0, 1, 2) or a list "
                                      "(0,4,7); replaces --seed, or a study's `seeds`. Run folders of seeds other than 0 "
                                      "end in -seed<N>.", parse=parse_seeds, panel="Training")
    tune: bool = setting(False, _tune_help, panel="Training")
    stage: str = setting("all", "Stop after this stage: encode, train or all (evaluate + report).", choices=STAGES,
                         panel="Output")


def settle(values: dict, tune: bool = False) -> tuple[RunConfig, list[Manifest]]:
    """Command-line values (setting key -> value, only those given) -> the run's settings and its folds' manifests,
    every input checked: the settings not given take the model's defaults, then, once the corpus is read, its
    task's (``config.resolve``); every setting a task default changed is announced in one line (and a codec it brings
    checked). ``tune``: the learning rate is chosen on validation (``Runs.tune``), so none may be given, and the
    held-out splits left to "auto" are validation only (a choosing run shows no test figure; ``EvalConfig.splits``)."""
    if tune and values.get("learning_rate") is not None:
        raise CodecBenchError("--tune chooses the learning rate on validation; drop --learning-rate")
    if values.get("splits") == "auto":
        values = {k: v for k, v in values.items() if k != "splits"}
    layers = ([(TUNE, {"splits": "validation"})] if tune else []) + [(COMMAND_LINE, values)]
    config = resolve(layers)
    manifests = check_run(config)
    if not manifests:
        return config, manifests
    task = manifests[0].task
    resolved = resolve(layers, task)
    if resolved.codec.name != config.codec.name:
        check_codec(resolved.codec.name, resolved.codec.options)
    before, after = settings_table(config), settings_table(resolved)
    changed = {key: (after[key]["value"], before[key]["value"]) for key in after
               if after[key]["source"] == TASK_DEFAULT and after[key]["value"] != before[key]["value"]}
    if changed:
        flags = run_settings()
        new = " ".join(f"{flag_of(flags[key][1])} {_text(value)}" for key, (value, _) in changed.items())
        old = " ".join(f"{flag_of(flags[key][1])} {_text(value)}" for key, (_, value) in changed.items())
        ui.say(f"{task.replace('_', '-')} dataset with the {config.model.name} LM: {new} by default (measured best there, "
               f"docs/performance.md); give {old} to override")
    return resolved, manifests


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def dry_run(values: dict) -> RunConfig:
    """``run --dry-run``: the settings the command line resolves to, without reading the corpus or loading a model;
    the task defaults apply where the dataset's spec fixes its task (a CSV corpus's comes from its labels)."""
    dataset = values["dataset"]
    if dataset not in data.DATASETS:
        fail("run", "dataset", dataset, sorted(data.DATASETS))
    config = resolve([(COMMAND_LINE, values)], static_task(dataset))
    check_codec(config.codec.name, config.codec.options)
    return config
