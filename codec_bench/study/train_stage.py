"""The training stage of a fold: the base model with its speech-token rows or projector, the prompt encoder, and
``llm.train`` on the training prompts (resumed from its checkpoints), its checkpoint chosen on validation."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from ..codecs.base import FeatureFrontEnd
from ..config import RunConfig
from ..core import ui
from ..core.errors import CodecBenchError
from ..core.finished import check_done, disk_guard
from ..data.manifest import Manifest
from ..evaluation.metrics import apply_thresholds, label_matrix, multi_label_metrics, tune_thresholds
from ..evaluation.scoring import score_label_questions, score_multi_label, score_single_label
from ..formats import RunFolder, TrainDone
from ..llm import vocab
from ..llm.encoder import codec_vocabulary, prompt_encoder
from ..llm.model import load_llm
from ..llm.patching import patch_frames
from ..llm.projector import attach_projector
from ..llm.train import train
from ..prompts import ExampleFile
from .fold import FoldContext


def train_model(fold: FoldContext) -> Path:
    """Fine-tune (or resume) and return the folder of the trained model."""
    config, run_dir, codec = fold.config, fold.run_dir, fold.codec
    files = RunFolder(run_dir)
    if check_done(files.train_done) is None:
        check_same_recipe(files.train_done, config)
        return files.model
    model, tokenizer = load_llm(fold.base_model(), config.model.dtype, config.model.offline)
    n_codes, added = codec_vocabulary(codec), []
    missing = vocab.missing_speech_tokens(tokenizer, n_codes) if config.model.add_speech_tokens else []
    if missing:
        ui.say(f"adding {vocab.add_speech_tokens(model, tokenizer, n_codes, config.train.seed)} speech-token rows")
        added = vocab.token_ids(tokenizer, missing)
    if fold.units is not None:  # acoustic BPE: a row per merged unit, the mean of the rows it spells
        added += vocab.add_unit_tokens(model, tokenizer, fold.units)
    trainable = vocab.trainable_token_indices(model, added) if added else None
    if isinstance(codec, FeatureFrontEnd):
        patch = config.codec.patch  # the projector reads patch frames concatenated (llm.patching)
        patched = (patch_frames(np.asarray(fold.codes[e.id]).T, patch).T for e in fold.examples["train"])
        attach_projector(model, codec.feature_dim * patch, patched, config.train.seed)
    encoder = prompt_encoder(tokenizer, codec, fold.codes, config.codec.codebooks, config.codec.patch, fold.units)
    if fold.asks_questions:
        encoder.questions = tuple(fold.manifest.classes)
    examples = fold.examples
    ui.say(f"training {fold.model_name} ({config.train.method}) on {len(examples['train'])} prompts", ui.VERBOSE)
    metric = validation_metric(fold.manifest, encoder, examples["validation"]) if config.train.select_by == "metric" else None
    with disk_guard(run_dir, "training", checkpoint_estimate(model, config.train.method)):
        return train(model, tokenizer, encoder, examples["train"], examples["validation"], run_dir, config.train,
                     trainable_tokens=trainable, report_to=config.report_to, run_name=tracked_name(run_dir),
                     task_metric=metric)


VALIDATION_METRIC_CLIPS = 1000  # model selection by metric scores at most this many validation clips per epoch


def validation_metric(manifest: Manifest, encoder, examples: ExampleFile) -> Callable:
    """``model -> float``: what ``select_by: metric`` maximises, by label scoring on (the first
    ``VALIDATION_METRIC_CLIPS`` of) the validation split: accuracy for single-label tasks and question answering,
    micro-F1 for multi-label ones (per-label thresholds tuned on the same clips: a selection signal, not a reported
    figure; the evaluation chooses its rule by cross-fitting). Scored inside the training stage, it adds to the
    training's progress line."""
    chosen = [examples[i] for i in range(min(len(examples), VALIDATION_METRIC_CLIPS))]

    def metric(model) -> float:
        if manifest.task == "multi_label":
            truth = label_matrix([e.answer_items for e in chosen], manifest.classes)
            score = score_label_questions if encoder.questions else score_multi_label
            scores = score(model, encoder, chosen, manifest.classes)
            return multi_label_metrics(truth, scores, apply_thresholds(scores, tune_thresholds(truth, scores)))["micro_f1"]
        index = {c: i for i, c in enumerate(manifest.classes)}
        truth = np.array([index.get(e.answer_items[0], -1) for e in chosen])
        return float(np.mean(score_single_label(model, encoder, chosen, manifest.classes).argmax(1) == truth))
    return metric


def tracked_name(run_dir: Path) -> str:
    """A run's name in the experiment tracker: ``<manifest name>/<run folder>``."""
    return f"{run_dir.parent.name}/{run_dir.name}"


NOT_RECIPE = ("name", "num_workers")  # settings that do not change what is trained


def check_same_recipe(marker: Path, config: RunConfig) -> None:
    """Refuse to reuse a trained model whose recipe differs from this run's (the run folder is named by the recipe's
    name, not its settings): one line naming the differences and the way out."""
    trained = TrainDone.from_file(marker).config or {}
    wanted = asdict(config.train)
    differs = [f"{k}={trained[k]!r} (this run: {wanted[k]!r})" for k in wanted
               if k in trained and k not in NOT_RECIPE and trained[k] != wanted[k]]
    if differs:
        raise CodecBenchError(f"{marker.parent}: trained with {', '.join(differs)}; give this recipe another name (a "
                              "study's recipes: name:) or another --out, or delete that run folder to train it again")


def checkpoint_estimate(model, method: str) -> int:
    """Bytes the Trainer writes at most: two checkpoints (weights and AdamW's two moments of what is trained,
    float32) and the final model."""
    total = sum(p.numel() for p in model.parameters())
    trained = total if method == "full" else max(1, total // 100)  # LoRA: adapters are about 1 % of the model
    return 4 * 7 * trained  # 2 checkpoints x (weights + 2 moments) + the final weights
