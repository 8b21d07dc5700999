"""The evaluation stage of a fold and the rows a reader compares it with: the fine-tuned model scored (and asked
to generate) on the held-out splits, the zero-shot and probe rows of its base model, and the log-mel
logistic-regression baseline. Each writes ``records.json`` with its prediction files under a done-marker; a trained
run's evaluation also leaves its model card ``<run>/README.md``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..codecs.cache import TokenCache
from ..config import RunConfig, codec_label
from ..core import ui
from ..data import manifest as manifests
from ..data.manifest import Manifest
from ..evaluation import baseline
from ..evaluation.probes import BaseRows
from ..evaluation.records import (
    Record,
    RunName,
    cached_records,
    finish_records,
    finished_records,
    generation_record,
    label_scores,
    scoring_records,
)
from ..evaluation.scoring import generate_answers
from ..formats import ModelCard, RecordsFile, RunCard, RunFolder, TrainDone, reference_folder
from ..llm.encoder import embeds_audio, prompt_encoder
from ..llm.model import for_inference, load_trained
from ..llm.tracking import log_metrics
from ..prompts import Example
from .costs import run_costs, stream_usage
from .fold import FoldContext
from .stale import set_aside
from .train_stage import tracked_name


def evaluate_model(fold: FoldContext, model_dir: Path, method: str = "llm_scoring") -> list[Record]:
    """Score (and generate) on the held-out splits; write predictions and records to ``<run>/eval`` (one progress
    line); ``method``: the label-scoring records' method (the blind row's is its own)."""
    folder, config = RunFolder(fold.run_dir).eval.path, fold.config
    found = finished_records(folder, "evaluation", [s for s in config.eval.evaluated() if fold.examples.get(s)])
    if found is not None:
        return found
    with ui.stage("evaluate", unit="clips"):
        records = _evaluate(fold, model_dir, folder, method)
    if config.report_to != "none":
        metrics = {f"eval/{r.split}/{r.method}/{name}": value for r in records for name, value in r.metrics.items()}
        steps = TrainDone.from_file(RunFolder(model_dir.parent).train_done).steps or 0  # evaluated after training: it exists
        log_metrics(config.report_to, folder.parent / "tensorboard", tracked_name(folder.parent), metrics, steps)
    return records


def _evaluate(fold: FoldContext, model_dir: Path, folder: Path, method: str) -> list[Record]:
    config, manifest, examples = fold.config, fold.manifest, fold.examples
    model, tokenizer = load_trained(model_dir, config.model.dtype, config.model.offline)
    model = for_inference(model)
    encoder = prompt_encoder(tokenizer, fold.codec, fold.codes, config.codec.codebooks, config.codec.patch, fold.units)
    run = RunName(fold.codec_name, f"{fold.model_name}/{config.train.name or config.train.method}", method,
                  config.train.seed)
    splits = [s for s in config.eval.evaluated() if examples.get(s)]
    started = time.perf_counter()
    scores, choice = label_scores(model, encoder, examples, splits, manifest, folder, questions=fold.asks_questions)
    scoring_seconds = time.perf_counter() - started
    records = scoring_records(manifest, scores, examples, folder, run, config.out)
    if config.eval.generation:
        for split in scores:
            answers = generate_answers(model, encoder, examples[split], batch_size=config.eval.generation_batch_size,
                                       split_items=manifest.task == "multi_label")
            records.append(generation_record(manifest, split, examples[split], answers, folder, run, config.out))
    trained = TrainDone.from_file(RunFolder(model_dir.parent).train_done)
    chosen = trained.choices() | ({"scoring": choice.method} if choice else {})
    evaluated = [e for s in splits for e in examples[s]]
    corpus = [c.id for s in ("train", *splits) for c in manifest.split(s)]  # the training and evaluated clips
    usage = stream_usage(fold.codec, fold.codes, config.cache_folder, manifest.dataset, config.codec.max_seconds, corpus)
    costs = run_costs(fold.codec, encoder, evaluated, config.codec, trained, scoring_seconds, len(evaluated), usage)
    for record in records:
        record.choices = chosen | record.choices
        record.costs = costs
    return finish_records(folder, records, config)


def write_model_card(run_dir: Path) -> Path:
    """``<run>/README.md``: the run's evaluation (``eval/records.json``, with the versions that produced it) as a
    Hugging Face model card with ``model-index`` metadata (``formats.model_card``); no network. Returns its path."""
    files = RunFolder(run_dir)
    evaluated = RecordsFile.from_file(files.eval.records)
    ModelCard(files.path.name, RunCard.from_file(files.run_card), evaluated.records, evaluated.versions,
              evaluated.git_revision).to_file(files.model_card)
    return files.model_card


def reference_rows(fold: FoldContext) -> list[Record]:
    """Zero-shot and probe rows, when asked for; shared by every recipe of one codec and model."""
    config, codec = fold.config, fold.codec
    if not (config.probes or config.zero_shot):
        return []
    if embeds_audio(codec, config.codec.codebooks):  # probes and zero-shot read token prompts
        ui.warn(f"{fold.codec_name} does not give token prompts: no probe or zero-shot rows for it")
        return []
    from ..evaluation import probes

    rows = BaseRows(fold.base_model(), fold.model_name, codec_label(codec, config.codec.label), config.model.dtype,
                    config.model.offline, config.model.add_speech_tokens, config.train.seed, config.eval.evaluated(),
                    Path(config.out))
    shared = f"{codec.cache_key()}__{fold.model_name}"
    inputs = (fold.manifest, codec, fold.codes, fold.examples)
    records = []
    if config.probes:
        records += probes.run_probes(rows, *inputs, reference_folder(fold.run_dir, "probes", shared).path)
    if config.zero_shot:
        records += probes.zero_shot_records(rows, *inputs, reference_folder(fold.run_dir, "zero_shot", shared).path)
    return records


def run_baseline(config: RunConfig, manifest: Manifest, folder: Path) -> list[Record]:
    """The log-mel logistic-regression reference row on the same splits; its per-clip features are cached once per
    dataset (``baseline.LogMelStats``), shared by every fold and run."""
    cache = TokenCache(config.cache_folder, manifest.dataset, baseline.LogMelStats(), config.codec.max_seconds)
    set_aside(config.out, manifest.dataset, None, cache.changed(manifest.clips))
    splits = [s for s in config.eval.evaluated() if manifest.split(s)]
    return cached_records(folder, "baseline", lambda: _baseline_records(config, manifest, folder), splits)


def _baseline_records(config: RunConfig, manifest: Manifest, folder: Path) -> list[Record]:
    cache = TokenCache(config.cache_folder, manifest.dataset, baseline.LogMelStats(), config.codec.max_seconds)
    cache.build(manifest.clips, config.codec.batch_size, config.codec.num_workers, all_clips=True, stage="baseline")
    features = {clip_id: vector[:, 0].copy() for clip_id, vector in cache.load(c.id for c in manifest.clips)[0].items()}
    by_split = {s: [c for c in manifest.split(s) if c.id in features] for s in manifests.SPLITS}
    train_labels = {c.id: c.labels for c in by_split["train"]}
    train = {c.id: features[c.id] for c in by_split["train"]}
    validation = {c.id: features[c.id] for c in by_split["validation"]}  # chooses C; test never does
    predict, choice = baseline.fit_on_validation(manifest.task, manifest.classes, train, train_labels, validation,
                                                 [c.labels for c in by_split["validation"]])
    scores, examples = {}, {}
    for split in config.eval.evaluated():
        if by_split.get(split):
            scores[split] = predict(np.stack([features[c.id] for c in by_split[split]]))
            examples[split] = [Example(c.id, "", tuple(sorted(c.labels))) for c in by_split[split]]
    records = scoring_records(manifest, scores, examples, folder, RunName("none", "logmel-logreg", baseline.METHOD), config.out)
    for record in records:
        record.choices = choice.choices() | record.choices
    return finish_records(folder, records, config)
