"""Command line: each command maps its options onto a config and calls one public function; no logic here.

The options of ``run``, ``encode``, ``prepare`` and ``benchmark`` are the command-line fields of the settings'
dataclasses (``config``, ``study.plan``): their flags (each setting's one name, the study file's key with dashes),
help, defaults, bounds and help panels are written there once (``settings_options``); a command receives only the
settings given on its command line, and ``config.resolve`` gives the rest their defaults. A flag renamed to its
setting's one name stops with one line naming the new flag (``config.RENAMED_FLAGS``)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import sys
import typing
from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .config import (
    RENAMED_FLAGS,
    CodecConfig,
    DatasetLocation,
    EvalConfig,
    ModelConfig,
    Output,
    RunConfig,
    SharedSettings,
    TrainConfig,
)
from .core.errors import CodecBenchError
from .core.settings import check_folder, cli_options, key_of, split_options
from .study.inputs import Runs
from .study.plan import StudyConfig

app = typer.Typer(help="Classify audio with a speech LLM over neural-codec tokens: encode, prompt, fine-tune, score, report.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()

PANELS = (None, "Data", "Codec", "Model", "Training", "Evaluation", "Output")  # the groups of `--help`, in this order
QUIET = typer.Option(False, "--quiet", "-q", help="Warnings, errors and the results only (for scripts).",
                     rich_help_panel="Output")
VERBOSE = typer.Option(False, "--verbose", "-v", rich_help_panel="Output", help="More detail.")
VERBOSE_TRAINING = typer.Option(False, "--verbose", "-v", rich_help_panel="Output",
                                help="Also the training log (always written to <run>/train_log.jsonl) and details.")
DRY_RUN = typer.Option(False, "--dry-run", rich_help_panel="Output", help="Print every resolved setting with its source "
                       "(built-in default, model default, task default, study file, command line) and stop: no data read, "
                       "no model loaded.")


def _version(value: bool) -> None:
    if value:
        print(f"codec-bench {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                              help="Print the version and exit.")) -> None:
    """Classify audio with a speech LLM over neural-codec tokens: encode, prompt, fine-tune, score, report."""


def settings_options(sections: list[type], exclude: tuple[str, ...] = ()):
    """Give a command the command-line fields of ``sections`` (settings dataclasses) as options, except the settings
    named in ``exclude``: flags, help, defaults and help panels come from the dataclasses (``core.settings``). The
    command receives, as one dict ``settings`` (setting key -> value), only the settings given on the command line,
    so that ``config.resolve`` knows which to default and where each value came from. A renamed flag
    (``RENAMED_FLAGS``) is a hidden option that stops with one line naming the new one."""
    def decorate(func):
        own = [p for p in inspect.signature(func).parameters.values() if p.name != "settings"]
        hints = typing.get_type_hints(func)
        own = [p.replace(annotation=hints[p.name]) for p in own]
        derived = [p for cls in sections for p in cli_options(cls) if p.name not in exclude]
        flags = {p.default.param_decls[0].split("/")[0] for p in derived}
        renamed = [inspect.Parameter(f"renamed_{old[2:].replace('-', '_')}", inspect.Parameter.KEYWORD_ONLY,
                                     annotation=Optional[str], default=typer.Option(None, old, hidden=True))
                   for old, new in RENAMED_FLAGS.items() if new in flags]

        @functools.wraps(func)
        def command(context: typer.Context, **values):
            for parameter in renamed:
                if values.pop(parameter.name) is not None:
                    old = parameter.default.param_decls[0]
                    raise CodecBenchError(f"{old} is now {RENAMED_FLAGS[old]} (each setting has one name, its study-file "
                                          "key with dashes; docs/settings.md)")
            given = {p.name for p in derived
                     if getattr(context.get_parameter_source(p.name), "name", None) in ("COMMANDLINE", "ENVIRONMENT")}
            settings = {p.name: values.pop(p.name) for p in derived}
            return func(settings=checked({key: value for key, value in settings.items() if key in given}), **values)

        def checked(given: dict) -> dict:
            """The given values parsed and checked against their fields' choices and bounds, by key again."""
            parts = split_options(given, dict(enumerate(sections)))
            return {key_of(field): parts[i][field.name] for i, cls in enumerate(sections)
                    for field in dataclasses.fields(cls) if field.name in parts[i]}

        ordered = sorted(own + derived, key=lambda p: PANELS.index(getattr(p.default, "rich_help_panel", None))) + renamed
        ordered = [inspect.Parameter("context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)] + ordered
        command.__signature__ = inspect.Signature([p.replace(kind=p.KEYWORD_ONLY) for p in ordered])
        command.__annotations__ = {p.name: p.annotation for p in ordered}
        del command.__wrapped__  # typer reads the signature above, not the wrapped function's
        return command
    return decorate


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()


def _print_summary(report: Path) -> None:
    """The report's headline (its table and the lines about the reference row) and where the rest is."""
    from .core import ui

    ui.print_markdown(report.read_text(encoding="utf-8").split("\n## ")[0].strip(), console)
    console.print(f"\nfull report: {report} (and report.html beside it)")


@app.command()
def demo(out: Path = typer.Option(Path("codec-bench-demo"), "--out", help="Output folder."),
         quick: bool = typer.Option(False, "--quick", help="A smaller, faster demo (for smoke tests)."),
         quiet: bool = QUIET, verbose: bool = VERBOSE_TRAINING) -> None:
    """Run the whole pipeline offline on generated data (embedded codec + tiny LM) and print the results table."""
    from .core import ui

    ui.set_verbosity(quiet, verbose)
    check_folder(out, "--out")
    _quiet_libraries()
    from .study.demo import DEMO_TRAIN, run_demo

    sizes = {"train": 120, "validation": 40, "test": 40} if quick else None
    train = TrainConfig(epochs=2, learning_rate=DEMO_TRAIN["mixtures"].learning_rate) if quick else None
    paths = run_demo(out, sizes, train)
    _print_summary(paths["report"])
    ui.say(f"{ui.timings()}; {paths['seconds']:.0f} s in all")


RUN_OPTIONS = [RunConfig, CodecConfig, ModelConfig, TrainConfig, EvalConfig, Runs]


@app.command()
@settings_options(RUN_OPTIONS)
def run(dataset: str = typer.Argument(..., help="Dataset name (`codec-bench datasets`), e.g. esc50, csv, instruments."),
        dry_run: bool = DRY_RUN, quiet: bool = QUIET, verbose: bool = VERBOSE_TRAINING,
        settings: dict | None = None) -> None:
    """Run manifest -> tokens -> prompts -> training -> evaluation -> report on one dataset (every fold; with --seeds,
    every fold once per training seed, the report's mean ± std and intervals taken over folds and seeds)."""
    from .core import ui
    from .study.grid import TUNE_GRID, tune_recipes, write_grids
    from .study.inputs import dry_run as resolve_only
    from .study.inputs import settle

    ui.set_verbosity(quiet, verbose)
    parts = split_options(settings, {"runs": Runs, "run": RunConfig})
    runs = Runs(**parts["runs"])
    values = {key: value for key, value in settings.items() if key not in ("seeds", "tune", "stage")} | {"dataset": dataset}
    if dry_run:
        config = resolve_only(values)
        _print_settings(config)
        console.print(f"seeds {runs.seeds or [config.train.seed]}, tune {runs.tune}, stage {runs.stage}")
        return
    config, loaded = settle(values, runs.tune)  # every input error before torch is imported
    _quiet_libraries()
    from .report.write import report_folders
    from .study import pipeline

    seeds = runs.seeds or [config.train.seed]
    recipes = tune_recipes(config.train, config.model.name) if runs.tune else [config.train]
    for recipe in recipes:
        for seed in seeds:
            if len(seeds) > 1 or runs.tune:
                ui.say(f"[bold]{f'{recipe.name}, ' if runs.tune else ''}training seed {seed}[/] ({seeds.index(seed) + 1} of "
                       f"{len(seeds)})")
            pipeline.run(replace(config, train=replace(recipe, seed=seed)), stop_after=runs.stage, loaded=loaded)
    if runs.tune and int(os.environ.get("RANK", 0)) == 0:  # the report keeps the recipe chosen on validation
        write_grids(config.out, {TUNE_GRID: recipes}, "validation", merge=True)
    if runs.stage == "all" and int(os.environ.get("RANK", 0)) == 0:
        with ui.stage("report", show=False):
            paths = report_folders([config.out], hide_test="test" not in config.eval.evaluated())
        _print_summary(paths["report"])
    ui.say(ui.timings())


def _print_settings(config: RunConfig, title: str | None = None) -> None:
    """Every setting of a run, its value and its source, as a table."""
    from .config import settings_table

    table = Table(title=title or f"{config.dataset}: resolved settings", show_edge=False)
    for column in ("setting", "value", "source"):
        table.add_column(column, overflow="fold")
    for key, row in settings_table(config).items():
        table.add_row(key, str(row["value"]), row["source"])
    console.print(table)


# encode fills a cache: no training, evaluation, tracking or reading (codebooks, patch, bpe) option
ENCODE_EXCLUDE = tuple(f.name for f in dataclasses.fields(SharedSettings) if f.name != "cache_root") + (
    "codebooks", "patch", "bpe", "add_speech_tokens", "model_dtype", "codec_label", "model_label")


@app.command()
@settings_options([RunConfig, CodecConfig, ModelConfig], exclude=ENCODE_EXCLUDE)
def encode(dataset: str = typer.Argument(..., help="Dataset name."), quiet: bool = QUIET, verbose: bool = VERBOSE,
           settings: dict | None = None) -> None:
    """Fill the token cache (a token codec) or the feature cache (a front-end such as logmel) only, resumable: the
    codec `run` would use for this --model and dataset, or --codec. Under torchrun / `accelerate launch` each process
    encodes its share."""
    from .codecs import is_front_end
    from .core import ui
    from .study.inputs import settle

    ui.set_verbosity(quiet, verbose)
    config, loaded = settle(settings | {"dataset": dataset})
    _quiet_libraries()
    from .study import pipeline

    pipeline.run(config, stop_after="encode", loaded=loaded)
    kind = "feature cache (a front-end's frames)" if is_front_end(config.codec.name) else "token cache"
    ui.say(f"{kind} of {config.codec.name} for {dataset} filled in {config.cache_folder}; {ui.timings()}")


@app.command("datasets")
def list_datasets(quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """List the registered datasets: domain, task, classes, split protocols and expected layout."""
    from .core import ui
    from .data import DATASETS

    ui.set_verbosity(quiet, verbose)
    table = Table(show_lines=True)
    for column in (
        "name",
        "domain",
        "task",
        "classes",
        "protocols (folds): what each follows and its source",
        "expected root layout",
    ):
        table.add_column(column, overflow="fold")
    for name, spec in sorted(DATASETS.items()):
        protocols = "\n".join(f"{p}{f' ({len(spec.folds[p])} folds)' if p in spec.folds else ''}{', default' if i == 0 else ''}: "
                               f"{spec.protocol_notes.get(p, '')}" for i, p in enumerate(spec.protocols))
        table.add_row(name, spec.domain, spec.task, str(spec.num_classes or "from data"), protocols, spec.layout)
    console.print(table)


@app.command()
@settings_options([DatasetLocation, Output])
def prepare(dataset: str = typer.Argument(..., help="Dataset name."), quiet: bool = QUIET, verbose: bool = VERBOSE,
            settings: dict | None = None) -> None:
    """Validate a corpus layout (or fetch its hub mirror) and write its manifest with per-split and per-class counts."""
    from . import data
    from .core import ui
    from .data import manifest as manifests

    ui.set_verbosity(quiet, verbose)
    parts = split_options(settings, {"where": DatasetLocation, "output": Output})
    where, out = DatasetLocation(**parts["where"]), Output(**parts["output"]).out
    if where.folds and len(where.folds) > 1:
        raise CodecBenchError(f"prepare writes the manifest of one fold; give one --folds, not {len(where.folds)}")
    if where.source == "hub":
        from .data.hub import load_mirror

        manifest = load_mirror(dataset, Path(out) / "hub")
    else:
        manifest = data.prepare(dataset, where.root, where.protocol, where.folds[0] if where.folds else None)
    folder = manifests.save(manifest, Path(out) / manifest.name / "manifest")
    counts = manifest.counts()
    table = Table(title=f"{manifest.name}: {len(manifest.classes)} classes, {counts['skipped']} skipped")
    table.add_column("class")
    for split in manifests.SPLITS:
        table.add_column(f"{split} ({counts['clips'][split]})", justify="right")
    for label in manifest.classes:
        table.add_row(label, *(str(counts["classes"][s].get(label, 0)) for s in manifests.SPLITS))
    console.print(table)
    for skip in manifest.skipped[:5]:
        console.print(f"[yellow]skipped[/] {skip['path']}: {skip['reason']}")
    console.print(f"manifest written to {folder}")


@app.command()
@settings_options([StudyConfig, Runs], exclude=("stage", "tune"))
def benchmark(config: Path = typer.Argument(..., help="Study YAML: datasets x codecs x models x recipes (see configs/)."),
              dry_run: bool = typer.Option(False, "--dry-run", help="Print every cell's settings with their sources, "
                                           "check the config, the datasets' roots and layouts and the options (no model "
                                           "loaded), run nothing."),
              quiet: bool = QUIET, verbose: bool = VERBOSE_TRAINING, settings: dict | None = None) -> None:
    """Run a whole study, every fold of every dataset x codec x model x recipe (x seed), resumably, then the report.
    Its options override the study file's settings."""
    from .core import ui
    from .study.benchmark import dry_run as dry_run_check
    from .study.benchmark import run_study
    from .study.plan import cell_config, cell_name, check_engine_options, load_study, study_cells

    ui.set_verbosity(quiet, verbose)
    study_settings = split_options(settings, {"study": StudyConfig})["study"]
    out, engine = study_settings.pop("out", None), study_settings.pop("engine", None)
    seed_list = split_options(settings, {"runs": Runs})["runs"].get("seeds")
    study = load_study(config, out, seed_list, engine, study_settings)  # every config error before torch is imported
    if dry_run:
        check_engine_options(study)
        for cell in study_cells(study):
            _print_settings(cell_config(study, cell), cell_name(study, cell))
        dry_run_check(study, config)  # roots, layouts and settings: one line per problem
        return
    _quiet_libraries()
    folder = run_study(config, out, seed_list, engine, study_settings)
    _print_summary(folder / "report.md")


@app.command("tiny-models")
def tiny_models(
    folder: Path = typer.Argument(Path("runs/tiny-models"), metavar="DIR", help="Where to write one sub-folder per model."),
    quiet: bool = QUIET, verbose: bool = VERBOSE,
) -> None:
    """Write tiny random-weight models of the real codec and LLM classes (XCodec2, EnCodec, DAC, Mimi, X-Codec; a
    Llasa-layout Llama and a Qwen2 without speech tokens) for smoke-testing studies offline on a CPU, e.g. then
    `codec-bench benchmark configs/codec-comparison-smoke.yaml`. Their numbers mean nothing; existing ones are kept."""
    from .core import ui
    from .testing.tiny_models import write_tiny_models

    ui.set_verbosity(quiet, verbose)
    _quiet_libraries()
    paths = write_tiny_models(folder)
    table = Table(title=f"tiny random-weight models in {folder}")
    table.add_column("name")
    table.add_column("folder", overflow="fold")
    for name, path in paths.items():
        table.add_row(name, str(path))
    console.print(table)


@app.command()
def predict(run_dir: Path = typer.Argument(..., help="A run folder (OUT/<dataset>/<run>/ with run.json and model/)."),
            inputs: List[Path] = typer.Argument(..., help="Audio files or folders of audio files."),
            top_k: int = typer.Option(5, "--top-k", help="Labels to show per file."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
            quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Top-k labels with probabilities for new audio, from a trained run (its settings from its run.json)."""
    import json

    from .core import ui

    ui.set_verbosity(quiet, verbose)
    from .study.predict import format_table
    from .study.predict import predict as predict_files

    _quiet_libraries()
    rows = predict_files(run_dir, inputs, top_k=top_k)
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        console.print(format_table(rows))
    if rows and all(row["error"] for row in rows):
        raise CodecBenchError(f"none of the {len(rows)} inputs could be predicted (first: {rows[0]['error']})")


@app.command()
def report(results: List[Path] = typer.Argument(..., help="Output folders of runs (OUT of `run` / `demo`)."),
           out: Optional[Path] = typer.Option(None, "--out", help="Where to write the report (default: the first folder)."),
           compare: bool = typer.Option(False, "--compare", help="Keep the folders' runs apart (named '<model> @ <folder>') "
                                        "and test them against each other, e.g. runs of two studies."),
           quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Aggregate finished runs (folds and seeds -> mean ± std and 95 % bootstrap intervals) into results.json, report.md,
    report.html (self-contained), radar, confusion and reliability plots, per-class F1, calibration and a comparison of
    runs with paired significance tests (exact McNemar / paired bootstrap, Holm-corrected over datasets)."""
    from .core import ui
    from .report.write import report_folders

    ui.set_verbosity(quiet, verbose)
    check_folder(out, "--out")
    paths = report_folders(results, out, compare)
    _print_summary(paths["report"])


@app.command()
def leaderboard(folders: List[Path] = typer.Argument(..., metavar="DIR", help="Study (or run) output folders to join."),
                out: Path = typer.Option(..., "--out", help="Where to write leaderboard.md, .html and .csv."),
                split: str = typer.Option("test", "--split", help="The split ranked.")) -> None:
    """Join study folders into one leaderboard: per dataset, codecs x models ranked with 95 % intervals, ties with the
    best marked (paired tests on the shared clips, Holm-corrected), each codec's cost columns; Markdown, one-file HTML
    and CSV. Folders that ran a dataset under another protocol, metric or classes are refused, in one line."""
    from .report.leaderboard import leaderboard as join

    check_folder(out, "--out")
    paths = join(folders, out, split)
    console.print(f"leaderboard: {paths['md']} (and {paths['html'].name}, {paths['csv'].name} beside it)", soft_wrap=True)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # the stage that was running said where it stopped (core.ui)
        sys.exit(130)
    except CodecBenchError as err:
        Console(stderr=True).print(f"[red]error:[/] {err}", highlight=False)
        sys.exit(2)
    except (OSError, RuntimeError) as err:  # disk full or not writable outside the guarded stages
        from .core.finished import os_error_message

        message = os_error_message(err)
        if message is None:
            raise
        Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
