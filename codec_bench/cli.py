"""Command line: each command maps its options onto a config and calls one public function; no logic here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from .core.errors import CodecBenchError

app = typer.Typer(help="Classify audio with a speech LLM over neural-codec tokens: encode, prompt, fine-tune, score, report.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()

OUT = typer.Option(Path("runs"), "--out", help="Output folder: manifests, token cache, runs, report.")
ROOT = typer.Option(None, "--root", help="Folder of the unpacked corpus in its official layout (see `codec-bench datasets`).")
PROTOCOL = typer.Option(None, "--protocol", help="Split protocol (default: the dataset's first; see `codec-bench datasets`).")
CODEC_MODEL = typer.Option(None, "--codec-model", help="Codec checkpoint: hub id or local path (xcodec2 default hf-audio/xcodec2; encodec, dac, mimi, xcodec their own).")
OFFLINE = typer.Option(False, "--offline", help="Never contact the hub; ids must be in the local cache (or pass paths).")
CACHE = typer.Option(None, "--cache", help="Token cache folder (default OUT/cache).")
SOURCE = typer.Option("local", "--source", help="local (official layout under --root) or hub (the known Hugging Face mirror).")
CODEC_DTYPE = typer.Option("float32", "--codec-dtype", help="Codec precision: float32 (exact), bfloat16 (faster, changes codes; ~11% for XCodec2 on an H200) or, XCodec2 only, tf32 (~1%).")
MAX_SECONDS = typer.Option(30.0, "--max-seconds", help="Clips longer than this many seconds are truncated before encoding (a count is printed).")
CODEC = typer.Option("embedded", "--codec", help="embedded (CPU, fitted on the training split), xcodec2, encodec, dac, mimi or xcodec; or a "
                     "continuous front-end read through a trained projector: logmel, xcodec2-latents.")
ENCODE_BATCH = typer.Option(16, "--encode-batch-size", help="Clips per codec batch.")
QUIET = typer.Option(False, "--quiet", "-q", help="Warnings, errors and the results only (for scripts).")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Also the training log (always written to <run>/train_log.jsonl) and details.")
WORKERS = typer.Option(None, "--workers", help="DataLoader workers decoding audio for the codec (default: min(4, cores - 1); never more than the cores).")


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()




def _run_config(dataset: str, *, root=None, out=Path("runs"), protocol=None, fold=None, codec="embedded", codec_model=None,
                codec_dtype="float32", model="tiny", method=None, epochs=None, learning_rate=None, batch_size=16,
                grad_accum=1, encode_batch_size=16, workers=None, max_seconds=30.0, offline=False, bf16=False,
                gradient_checkpointing=False, generation=True, cache=None, source="local", seed=0, stage="all",
                probes=False, zero_shot=False, add_speech_tokens=False, codebooks="interleave"):
    """Command-line options -> RunConfig; the defaults depend on the model (tiny: full training from scratch)."""
    from .core.parallel import usable_workers
    from .config import CodecConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig

    from .codecs import CODECS, options_of

    flags = {"dtype": codec_dtype, "max_seconds": max_seconds, "model_id": codec_model, "offline": True if offline else None}
    accepted = options_of(codec) if codec in CODECS else {}  # each codec takes the flags its constructor names
    codec_options = {key: value for key, value in flags.items() if key in accepted and value is not None}
    tiny = model == "tiny"
    train = TrainConfig(method=method or ("full" if tiny else "lora"), epochs=epochs if epochs is not None else (15 if tiny else 3),
                        learning_rate=learning_rate if learning_rate is not None else (1e-3 if tiny else 2e-4),
                        batch_size=batch_size, grad_accum=grad_accum, bf16=bf16, gradient_checkpointing=gradient_checkpointing, seed=seed)
    return RunConfig(
        dataset=dataset, out=out, root=root, protocol=protocol, folds=fold or None, cache_root=cache,
        codec=CodecConfig(codec, codec_options, encode_batch_size, usable_workers(workers), max_seconds, codebooks=codebooks),
        model=ModelConfig(model, dtype="bfloat16" if bf16 else "auto", offline=offline, add_speech_tokens=add_speech_tokens), train=train,
        eval=EvalConfig(generation=generation), source=source, probes=probes, zero_shot=zero_shot,
    )


@app.command()
def demo(out: Path = typer.Option(Path("codec-bench-demo"), "--out", help="Output folder."),
         quick: bool = typer.Option(False, "--quick", help="A smaller, faster demo (for smoke tests)."),
         quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Run the whole pipeline offline on generated data (embedded codec + tiny LM) and print the results table."""
    from .core import ui

    ui.set_verbosity(quiet, verbose)
    _quiet_libraries()
    from .config import TrainConfig
    from .study.demo import DEMO_TRAIN, run_demo

    sizes = {"train": 120, "validation": 40, "test": 40} if quick else None
    train = TrainConfig(epochs=2, learning_rate=DEMO_TRAIN["mixtures"].learning_rate) if quick else None
    paths = run_demo(out, sizes, train)
    _print_summary(paths["report"])
    ui.say(f"{ui.timings()}; {paths['seconds']:.0f} s in all")


@app.command()
def run(
    dataset: str = typer.Argument(..., help="Dataset name (`codec-bench datasets`), e.g. esc50, csv, instruments."),
    root: Optional[Path] = ROOT,
    out: Path = OUT,
    protocol: Optional[str] = PROTOCOL,
    fold: Optional[List[str]] = typer.Option(None, "--fold", help="Run only these folds (repeat the option); default all."),
    codec: str = CODEC,
    codec_model: Optional[str] = CODEC_MODEL,
    codec_dtype: str = CODEC_DTYPE,
    codebooks: str = typer.Option("interleave", "--codebooks", help="Several codebooks per frame: interleave (one speech token each) or sum (one position per frame, their token embeddings summed)."),
    model: str = typer.Option("tiny", "--model", help="tiny (embedded LM trained from scratch) or a hub id / local path, e.g. HKUSTAudio/Llasa-1B-Multilingual."),
    method: Optional[str] = typer.Option(None, "--method", help="full or lora (default: full for tiny, lora otherwise)."),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="Training epochs (default 15 for tiny, 3 otherwise)."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default 1e-3 tiny, 2e-4 otherwise)."),
    batch_size: int = typer.Option(16, "--batch-size", help="Training batch size per device."),
    grad_accum: int = typer.Option(1, "--grad-accum", help="Gradient accumulation steps."),
    encode_batch_size: int = ENCODE_BATCH,
    workers: Optional[int] = WORKERS,
    max_seconds: float = MAX_SECONDS,
    offline: bool = OFFLINE,
    bf16: bool = typer.Option(False, "--bf16", help="Train and evaluate the LLM in bfloat16 (GPU)."),
    gradient_checkpointing: bool = typer.Option(False, "--gradient-checkpointing", help="Trade compute for memory when training."),
    generation: bool = typer.Option(True, "--generation/--no-generation", help="Also evaluate by greedy generation (exact match)."),
    cache: Optional[Path] = CACHE,
    source: str = SOURCE,
    seed: int = typer.Option(0, "--seed", help="Training seed."),
    stage: str = typer.Option("all", "--stage", help="Stop after this stage: encode, train or all (evaluate + report)."),
    probes: bool = typer.Option(False, "--probes", help="Add linear-probe and kNN rows (codec vectors, base-LLM hidden states)."),
    zero_shot: bool = typer.Option(False, "--zero-shot", help="Add the base LLM scored without fine-tuning."),
    add_speech_tokens: bool = typer.Option(False, "--add-speech-tokens", help="Add <|s_N|> and marker rows to an LLM whose tokenizer lacks them (any causal LM)."),
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Run manifest -> tokens -> prompts -> training -> evaluation -> report on one dataset (every fold)."""
    from .core import ui

    ui.set_verbosity(quiet, verbose)
    config = _run_config(**{k: v for k, v in locals().items() if k not in ("quiet", "verbose", "ui")})
    loaded = _check_inputs(config, stage)  # every input error before torch is imported
    _quiet_libraries()
    from .report.write import report_folders
    from .study import pipeline

    pipeline.run(config, stop_after=stage, loaded=loaded)
    if stage == "all" and int(os.environ.get("RANK", 0)) == 0:
        with ui.stage("report", show=False):
            paths = report_folders([out])
        _print_summary(paths["report"])
    ui.say(ui.timings())


@app.command()
def encode(
    dataset: str = typer.Argument(..., help="Dataset name."),
    root: Optional[Path] = ROOT,
    out: Path = OUT,
    protocol: Optional[str] = PROTOCOL,
    codec: str = CODEC,
    codec_model: Optional[str] = CODEC_MODEL,
    codec_dtype: str = CODEC_DTYPE,
    encode_batch_size: int = ENCODE_BATCH,
    workers: Optional[int] = WORKERS,
    max_seconds: float = MAX_SECONDS,
    offline: bool = OFFLINE,
    cache: Optional[Path] = CACHE,
    source: str = SOURCE,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Fill the token cache only (resumable). Under torchrun / `accelerate launch` each process encodes its share."""
    from .core import ui

    ui.set_verbosity(quiet, verbose)
    config = _run_config(**{k: v for k, v in locals().items() if k not in ("quiet", "verbose", "ui")})
    loaded = _check_inputs(config, "encode")
    _quiet_libraries()
    from .study import pipeline

    pipeline.run(config, stop_after="encode", loaded=loaded)
    ui.say(ui.timings())


def _print_summary(report: Path) -> None:
    """The report's headline (its table and the lines about the reference row) and where the rest is."""
    text = report.read_text(encoding="utf-8")
    console.print(text.split("\n## ")[0].strip())
    console.print(f"\nfull report: {report} (and report.html beside it)")


def _check_inputs(config, stage: str) -> list:
    """Everything that can be checked without a model: stage, codec and model names, the corpus and its
    metadata (read into the folds' manifests, which are returned)."""
    from . import data
    from .codecs import CODECS
    from .config import EMBEDDED_MODEL
    from .core.hub import check_reference

    stages = ("encode", "train", "all")
    if stage not in stages:
        raise CodecBenchError(f"unknown stage {stage!r}; choose one of {', '.join(stages)}")
    if config.codec.name not in CODECS:
        raise CodecBenchError(f"unknown codec {config.codec.name!r}; choose one of {', '.join(sorted(CODECS))}")
    if config.model.name != EMBEDDED_MODEL:
        check_reference(config.model.name, "--model")
    if "model_id" in config.codec.options:
        check_reference(config.codec.options["model_id"], "--codec-model")
    return data.load_manifests(config.dataset, config.root, config.protocol, config.folds, config.source,
                               config.dataset_options, config.out)


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
def prepare(dataset: str = typer.Argument(..., help="Dataset name."), root: Optional[Path] = ROOT, out: Path = OUT,
            protocol: Optional[str] = PROTOCOL, fold: Optional[str] = typer.Option(None, "--fold", help="Fold (default: the first)."),
            source: str = SOURCE) -> None:
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
              seeds: Optional[List[int]] = typer.Option(None, "--seeds", help="Training seeds (repeat: --seeds 0 --seeds 1); default the config's."),
              engine: Optional[str] = typer.Option(None, "--engine", help="serial (default), ray or submitit: cells as independent jobs."),
              dry_run: bool = typer.Option(False, "--dry-run", help="Check the config and list the cells, run nothing."),
              quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Run a whole study, every fold of every dataset x codec x model x recipe (x seed), resumably, then the report."""
    from .core import ui
    from .study.benchmark import cell_name, load_study, run_study, study_cells

    ui.set_verbosity(quiet, verbose)
    study = load_study(config, out, seeds or None, engine)  # every config error before torch is imported
    if dry_run:
        for cell in study_cells(study):
            console.print(cell_name(study, cell))
        return
    _quiet_libraries()
    folder = run_study(config, out, seeds or None, engine)
    _print_summary(folder / "report.md")


@app.command("tiny-models")
def tiny_models(folder: Path = typer.Argument(Path("runs/tiny-models"), metavar="DIR", help="Where to write one sub-folder per model.")) -> None:
    """Write tiny random-weight models of the real codec and LLM classes (XCodec2, EnCodec, DAC, Mimi, X-Codec; a
    Llasa-layout Llama and a Qwen2 without speech tokens) for smoke-testing studies offline on a CPU, e.g. then
    `codec-bench benchmark configs/codec-comparison-smoke.yaml`. Their numbers mean nothing; existing ones are kept."""
    from .study.tiny_models import write_tiny_models

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

    from .study.predict import format_table, predict as predict_files

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
           out: Optional[Path] = typer.Option(None, "--out", help="Where to write the report (default: the first folder).")) -> None:
    """Aggregate finished runs (folds and seeds -> mean ± std) into results.json, report.md, report.html (self-contained),
    radar and confusion plots, per-class F1 and a comparison of runs."""
    from .report.write import report_folders

    paths = report_folders(results, out)
    _print_summary(paths["report"])


def main() -> None:
    try:
        app()
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
