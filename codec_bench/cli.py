"""Command line: each command maps its options onto a config and calls one public function; no logic here.

The options of ``run`` and ``encode`` are the command-line fields of the settings' dataclasses (``config``): their
flags, help and defaults are written there once (``settings_options``)."""

from __future__ import annotations

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

from .config import CodecConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig, auto_defaults, parse_seeds
from .core.errors import CodecBenchError
from .core.settings import cli_options, split_options
from .study.grid import tune_help

app = typer.Typer(help="Classify audio with a speech LLM over neural-codec tokens: encode, prompt, fine-tune, score, report.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()

OUT = typer.Option(Path("runs"), "--out", help="Output folder: manifests, token cache, runs, report.")
SEEDS = typer.Option(None, "--seeds", help="Train and evaluate once per seed: a count (3 -> seeds 0, 1, 2) or a list "
                     "(0,4,7); replaces --seed. Run folders of seeds other than 0 end in -seed<N>.")
QUIET = typer.Option(False, "--quiet", "-q", help="Warnings, errors and the results only (for scripts).")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Also the training log (always written to <run>/train_log.jsonl) and details.")
CODEC_MODEL = typer.Option(None, "--codec-model", help="Codec checkpoint: hub id or local folder (codecs with a model_id option; "
                           "each has its default).")
CODEC_DTYPE = typer.Option("float32", "--codec-dtype", help="Codec precision, for codecs with a dtype option: float32 (exact), "
                           "bfloat16 (faster, changes codes; ~11% for XCodec2 on an H200) or, XCodec2 only, tf32 (~1%).")
SECTIONS = {"": RunConfig, "codec_": CodecConfig, "model_": ModelConfig, "train_": TrainConfig, "eval_": EvalConfig}


def settings_options(sections: dict[str, type], exclude: tuple[str, ...] = ()):
    """Give a command the command-line fields of ``sections`` (prefix -> settings dataclass) as options: flags, help and
    defaults come from the dataclasses (``core.settings``); the command receives them as one dict ``settings``."""
    def decorate(func):
        own = [p for p in inspect.signature(func).parameters.values() if p.name != "settings"]
        hints = typing.get_type_hints(func)
        own = [p.replace(annotation=hints[p.name]) for p in own]
        derived = [p for prefix, cls in sections.items() for p in cli_options(cls, prefix) if p.name not in exclude]

        @functools.wraps(func)
        def command(**values):
            settings = {p.name: values.pop(p.name) for p in derived}
            return func(settings=settings, **values)

        command.__signature__ = inspect.Signature(own + derived)
        command.__annotations__ = {p.name: p.annotation for p in own + derived}
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


def run_config(dataset: str, out: Path, settings: dict, codec_model: str | None = None, codec_dtype: str = "float32",
               task: str | None = None) -> RunConfig:
    """Command-line values -> RunConfig. The codec, method, epochs, learning rate and mix default by model and, given
    the corpus's ``task``, by task (``config.auto_defaults``);
    ``--bf16`` also loads the LLM in bfloat16; the codec gets the flags its constructor takes (``--codec-model`` as
    ``model_id``, ``--codec-dtype`` as ``dtype``, ``--max-seconds``, ``--offline``)."""
    from .codecs import CODECS, options_of

    parts = split_options(settings, SECTIONS)
    model = ModelConfig(**parts["model_"])
    defaults = auto_defaults(model.name, task)
    train = TrainConfig(**{k: defaults[k] if v is None and k in defaults else v for k, v in parts["train_"].items()})
    if train.bf16:
        model.dtype = "bfloat16"
    codec = CodecConfig(**(parts["codec_"] | {"name": parts["codec_"].get("name") or defaults["codec"]}))
    flags = {"dtype": codec_dtype, "max_seconds": codec.max_seconds, "model_id": codec_model, "offline": True if model.offline else None}
    accepted = options_of(codec.name) if codec.name in CODECS else {}
    codec.options = {key: value for key, value in flags.items() if key in accepted and value is not None}
    return RunConfig(dataset=dataset, out=out, **parts[""], codec=codec, model=model, train=train, eval=EvalConfig(**parts["eval_"]))


def with_task_defaults(config: RunConfig, loaded: list, configure) -> RunConfig:
    """The run's settings once the corpus is read: ``configure(task)`` gives them with the task's defaults
    (``config.TASK_DEFAULTS``, for settings left to "auto"); a change is announced in one line and checked."""
    from .codecs import check_codec
    from .core import ui

    if not loaded:
        return config
    resolved = configure(loaded[0].task)
    changed = {}
    if resolved.codec.name != config.codec.name:
        changed["codec"] = (resolved.codec.name, config.codec.name)
        check_codec(resolved.codec.name, resolved.codec.options)
    if resolved.train.mix != config.train.mix:
        changed["mix"] = (f"{resolved.train.mix:g}", f"{config.train.mix:g}")
    if changed:
        ui.say(f"{loaded[0].task.replace('_', '-')} dataset with the {config.model.name} LM: "
               f"{' '.join(f'--{k} {new}' for k, (new, _) in changed.items())} by default (measured best there, "
               f"docs/performance.md); give {' '.join(f'--{k} {old}' for k, (_, old) in changed.items())} to override")
    return resolved


def _print_summary(report: Path) -> None:
    """The report's headline (its table and the lines about the reference row) and where the rest is."""
    from .core import ui

    ui.print_markdown(report.read_text(encoding="utf-8").split("\n## ")[0].strip(), console)
    console.print(f"\nfull report: {report} (and report.html beside it)")


@app.command()
def demo(out: Path = typer.Option(Path("codec-bench-demo"), "--out", help="Output folder."),
         quick: bool = typer.Option(False, "--quick", help="A smaller, faster demo (for smoke tests)."),
         quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Run the whole pipeline offline on generated data (embedded codec + tiny LM) and print the results table."""
    from .core import ui

    ui.set_verbosity(quiet, verbose)
    _quiet_libraries()
    from .study.demo import DEMO_TRAIN, run_demo

    sizes = {"train": 120, "validation": 40, "test": 40} if quick else None
    train = TrainConfig(epochs=2, learning_rate=DEMO_TRAIN["mixtures"].learning_rate) if quick else None
    paths = run_demo(out, sizes, train)
    _print_summary(paths["report"])
    ui.say(f"{ui.timings()}; {paths['seconds']:.0f} s in all")


@app.command()
@settings_options(SECTIONS)
def run(dataset: str = typer.Argument(..., help="Dataset name (`codec-bench datasets`), e.g. esc50, csv, instruments."),
        out: Path = OUT, codec_model: Optional[str] = CODEC_MODEL, codec_dtype: str = CODEC_DTYPE,
        stage: str = typer.Option("all", "--stage", help="Stop after this stage: encode, train or all (evaluate + report)."),
        seeds: Optional[str] = SEEDS, tune: bool = typer.Option(False, "--tune", help=tune_help()),
        quiet: bool = QUIET, verbose: bool = VERBOSE, settings: dict | None = None) -> None:
    """Run manifest -> tokens -> prompts -> training -> evaluation -> report on one dataset (every fold; with --seeds,
    every fold once per training seed, the report's mean ± std and intervals taken over folds and seeds)."""
    from .core import ui
    from .study.grid import TUNE_GRID, tune_recipes, write_grids
    from .study.inputs import check_run

    ui.set_verbosity(quiet, verbose)
    if tune and settings.get("train_learning_rate") is not None:
        raise CodecBenchError("--tune chooses the learning rate on validation; drop --lr")
    config = run_config(dataset, out, settings, codec_model, codec_dtype)
    training_seeds = parse_seeds(seeds) if seeds is not None else [config.train.seed]
    loaded = check_run(config, stage)  # every input error before torch is imported
    config = with_task_defaults(config, loaded, lambda task: run_config(dataset, out, settings, codec_model, codec_dtype, task))
    _quiet_libraries()
    from .report.write import report_folders
    from .study import pipeline

    recipes = tune_recipes(config.train, config.model.name) if tune else [config.train]
    for recipe in recipes:
        for seed in training_seeds:
            if len(training_seeds) > 1 or tune:
                ui.say(f"[bold]{f'{recipe.name}, ' if tune else ''}training seed {seed}[/] ({training_seeds.index(seed) + 1} of "
                       f"{len(training_seeds)})")
            pipeline.run(replace(config, train=replace(recipe, seed=seed)), stop_after=stage, loaded=loaded)
    if tune and int(os.environ.get("RANK", 0)) == 0:  # the report keeps the recipe chosen on validation
        write_grids(out, {TUNE_GRID: recipes}, "validation", merge=True)
    if stage == "all" and int(os.environ.get("RANK", 0)) == 0:
        with ui.stage("report", show=False):
            paths = report_folders([out])
        _print_summary(paths["report"])
    ui.say(ui.timings())


ENCODE_SECTIONS = {"": RunConfig, "codec_": CodecConfig}


@app.command()
@settings_options(ENCODE_SECTIONS, exclude=("probes", "zero_shot"))
def encode(dataset: str = typer.Argument(..., help="Dataset name."), out: Path = OUT, codec_model: Optional[str] = CODEC_MODEL,
           codec_dtype: str = CODEC_DTYPE,
           offline: bool = typer.Option(False, "--offline", help="Never contact the hub; ids must be in the local cache."),
           quiet: bool = QUIET, verbose: bool = VERBOSE, settings: dict | None = None) -> None:
    """Fill the token cache only (resumable). Under torchrun / `accelerate launch` each process encodes its share."""
    from .core import ui
    from .study.inputs import check_run

    ui.set_verbosity(quiet, verbose)
    settings = settings | {"model_offline": offline}
    config = run_config(dataset, out, settings, codec_model, codec_dtype)
    loaded = check_run(config, "encode")
    config = with_task_defaults(config, loaded, lambda task: run_config(dataset, out, settings, codec_model, codec_dtype, task))
    _quiet_libraries()
    from .study import pipeline

    pipeline.run(config, stop_after="encode", loaded=loaded)
    ui.say(ui.timings())


@app.command("datasets")
def list_datasets() -> None:
    """List the registered datasets: domain, task, classes, split protocols and expected layout."""
    from .data import DATASETS

    table = Table(show_lines=True)
    for column in ("name", "domain", "task", "classes", "protocols (folds): what each follows and its source", "expected root layout"):
        table.add_column(column, overflow="fold")
    for name, spec in sorted(DATASETS.items()):
        protocols = "\n".join(f"{p}{f' ({len(spec.folds[p])} folds)' if p in spec.folds else ''}{', default' if i == 0 else ''}: "
                               f"{spec.protocol_notes.get(p, '')}" for i, p in enumerate(spec.protocols))
        table.add_row(name, spec.domain, spec.task, str(spec.num_classes or "from data"), protocols, spec.layout)
    console.print(table)


@app.command()
def prepare(dataset: str = typer.Argument(..., help="Dataset name."),
            root: Optional[Path] = typer.Option(None, "--root", help="Folder of the unpacked corpus in its official layout."),
            out: Path = OUT, protocol: Optional[str] = typer.Option(None, "--protocol", help="Split protocol (default: the dataset's first)."),
            fold: Optional[str] = typer.Option(None, "--fold", help="Fold (default: the first)."),
            source: str = typer.Option("local", "--source", help="local (official layout under --root) or hub (the known mirror).")) -> None:
    """Validate a corpus layout (or fetch its hub mirror) and write its manifest with per-split and per-class counts."""
    from . import data
    from .data import manifest as manifests

    if source == "hub":
        from .data.hub import load_mirror

        manifest = load_mirror(dataset, Path(out) / "hub")
    else:
        manifest = data.prepare(dataset, root, protocol, fold)
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
def benchmark(config: Path = typer.Argument(..., help="Study YAML: datasets x codecs x models x recipes (see configs/)."),
              out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the config's `out`)."),
              seeds: Optional[str] = typer.Option(None, "--seeds", help="Training seeds: a count (3 -> 0, 1, 2) or a list "
                                                  "(0,4,7); default the config's `seeds`."),
              engine: Optional[str] = typer.Option(None, "--engine", help="serial (default), ray or submitit: cells as independent jobs."),
              dry_run: bool = typer.Option(False, "--dry-run", help="Check the config and list the cells, run nothing."),
              quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Run a whole study, every fold of every dataset x codec x model x recipe (x seed), resumably, then the report."""
    from .core import ui
    from .study.benchmark import run_study
    from .study.plan import cell_name, load_study, study_cells

    ui.set_verbosity(quiet, verbose)
    seed_list = parse_seeds(seeds) if seeds is not None else None
    study = load_study(config, out, seed_list, engine)  # every config error before torch is imported
    if dry_run:
        for cell in study_cells(study):
            console.print(cell_name(study, cell))
        return
    _quiet_libraries()
    folder = run_study(config, out, seed_list, engine)
    _print_summary(folder / "report.md")


@app.command("tiny-models")
def tiny_models(folder: Path = typer.Argument(Path("runs/tiny-models"), metavar="DIR", help="Where to write one sub-folder per model.")) -> None:
    """Write tiny random-weight models of the real codec and LLM classes (XCodec2, EnCodec, DAC, Mimi, X-Codec; a
    Llasa-layout Llama and a Qwen2 without speech tokens) for smoke-testing studies offline on a CPU, e.g. then
    `codec-bench benchmark configs/codec-comparison-smoke.yaml`. Their numbers mean nothing; existing ones are kept."""
    from .testing.tiny_models import write_tiny_models

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
            as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Top-k labels with probabilities for new audio, from a trained run."""
    import json

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
                                        "and test them against each other, e.g. runs of two studies.")) -> None:
    """Aggregate finished runs (folds and seeds -> mean ± std and 95 % bootstrap intervals) into results.json, report.md,
    report.html (self-contained), radar, confusion and reliability plots, per-class F1, calibration and a comparison of
    runs with paired significance tests (exact McNemar / paired bootstrap, Holm-corrected over datasets)."""
    from .report.write import report_folders

    paths = report_folders(results, out, compare)
    _print_summary(paths["report"])


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
