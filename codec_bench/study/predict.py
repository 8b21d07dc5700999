"""Use a finished run on new audio: files or folders in, the most probable labels out.

Everything comes from the run folder: ``run.json`` (``formats.RunCard``: codec, its options and fitted state,
``max_seconds``, the instruction, classes and task, written by ``pipeline.write_run_card``) and ``model/`` (the
fine-tuned weights or LoRA adapter). Clips are decoded, encoded and prompted exactly as in training, then scored exactly as in
evaluation:

- single-label: ``score_single_label``, probabilities over the classes (they sum to 1);
- multi-label: per-label probabilities (each in [0, 1], independent) from the method the run chose on its
  validation split (``eval/multi_label_scoring.json``; label sets from ``prompts/train.jsonl``), else item scoring,
  calibrated when the run's decision rule calibrates (``eval/calibration.json``); ``labels`` holds the labels at or
  above the thresholds fitted on its validation split (``eval/thresholds.json``), the rule its reported F1 used.

A file that cannot be decoded gives a row with its ``error`` and no labels; it never stops the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from rich.table import Table

from ..codecs import make_codec
from ..codecs.base import ClipEncoder
from ..core import io, ui
from ..core.errors import AudioError, CodecBenchError
from ..data.audio import load_audio
from ..data.augment import is_augmented_id
from ..data.common import AUDIO_SUFFIXES, audio_files
from ..evaluation.decisions import platt_apply
from ..evaluation.records import multi_label_scorer
from ..evaluation.scoring import score_single_label
from ..formats import Calibration, RunCard, RunFolder, ScoringChoice, Thresholds
from ..llm.encoder import prompt_encoder
from ..llm.model import for_inference, load_trained
from ..prompts import Example, build_prompt
from .fold import read_units


def predict(run_dir: Path, inputs: Sequence[Path], top_k: int = 5, batch_size: int = 16, dtype: str = "auto",
            offline: bool | None = None) -> list[dict]:
    """Label every audio file in ``inputs`` (files, or folders searched recursively) with the run in ``run_dir``.

    Returns one row per file, in input order (a folder's files sorted): ``{"path": str, "top": [{"label": str,
    "probability": float}, ...] (at most top_k, most probable first), "error": None}`` (multi-label rows also
    hold ``"labels"``, the predicted label set), or ``"top": []`` and
    ``"error": message`` for a file that cannot be decoded.
    """
    run_dir = Path(run_dir)
    card = read_run_card(run_dir)
    codec = load_codec(card, run_dir)
    paths = expand_inputs(inputs)
    rows: dict[int, dict] = {}
    decoded: list[tuple[int, np.ndarray]] = []
    for index, path in enumerate(paths):
        try:
            decoded.append((index, load_audio(path, codec.sample_rate_hz, card.codec.max_seconds)))
        except AudioError as err:
            rows[index] = {"path": str(path), "top": [], "error": str(err)}
    examples: list[tuple[int, Example]] = []
    audio: dict[str, np.ndarray] = {}  # codes (or frames) by example id: they fill the prompt's audio slot
    for start in range(0, len(decoded), batch_size):
        batch = decoded[start: start + batch_size]
        for (index, _), codes in zip(batch, codec.encode([wave for _, wave in batch])):
            examples.append((index, Example(str(paths[index]), build_prompt(card.instruction), ())))
            audio[str(paths[index])] = codes
    if examples:
        probabilities = score_run(run_dir, card, codec, [e for _, e in examples], dtype, offline, audio)
        thresholds = label_thresholds(run_dir, card)
        for (index, _), p in zip(examples, probabilities):
            rows[index] = {"path": str(paths[index]), "top": top_labels(p, card.classes, top_k), "error": None}
            if thresholds is not None:
                rows[index]["labels"] = [c for c, q in zip(card.classes, p) if q >= thresholds[c]]
    return [rows[i] for i in range(len(paths))]


def label_thresholds(run_dir: Path, card: RunCard) -> dict[str, float] | None:
    """A multi-label run's per-label thresholds, tuned on its validation split (``eval/thresholds.json``); None for
    single-label runs, or 0.5 for every label when the run had no validation split."""
    if card.task != "multi_label":
        return None
    path = RunFolder(run_dir).eval.thresholds
    return Thresholds.from_file(path).by_label if path.is_file() else {c: 0.5 for c in card.classes}


def read_run_card(run_dir: Path) -> RunCard:
    """``run_dir/run.json``, after checking that the folder holds a finished run."""
    files = RunFolder(run_dir)
    if not files.run_card.is_file():
        raise CodecBenchError(f"{run_dir}: no run.json here; pass a run folder (OUT/<dataset>/<codec>__<model>__<recipe>) "
                              "written by `codec-bench run`")
    model_dir = files.model
    if not ((model_dir / "config.json").is_file() or (model_dir / "adapter_config.json").is_file()):
        raise CodecBenchError(f"{run_dir}: no trained model in {model_dir}; finish training with `codec-bench run` first")
    return RunCard.from_file(files.run_card)


def load_codec(card: RunCard, run_dir: Path) -> ClipEncoder:
    """The run's codec with its options, and its fitted state where it has one."""
    codec = make_codec(card.codec.name, **card.codec.options)
    if codec.needs_fit:
        state = card.codec_state(run_dir)
        if not state.is_file():
            raise CodecBenchError(
                f"{state}: the fitted codec state of this run is missing; rerun `codec-bench run` to rewrite it"
            )
        codec.load(state)
    return codec


def expand_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Files as given, folders replaced by their audio files (suffixes in ``AUDIO_SUFFIXES``, recursive, sorted)."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = audio_files(item)
            if not found:
                raise CodecBenchError(f"{item}: no audio files here (looked for {', '.join(AUDIO_SUFFIXES)})")
            paths += found
        else:
            paths.append(item)  # a missing or broken file becomes an error row
    return paths


def score_run(run_dir: Path, card: RunCard, codec: ClipEncoder, examples: list[Example], dtype: str = "auto",
              offline: bool | None = None, audio: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """``(n_examples, n_classes)`` probabilities from the run's trained model, scored as its evaluation did
    (``audio``: the codes or a continuous front-end's frames, by example id)."""
    files = RunFolder(run_dir)
    model, tokenizer = load_trained(files.model, dtype, offline)
    model = for_inference(model)
    encoder = prompt_encoder(tokenizer, codec, audio or {}, card.codec.codebooks, card.codec.patch,
                             read_units(run_dir) if card.codec.bpe else None)
    with ui.stage("predict", show=False):  # no progress line of its own: the table follows at once
        return _scores(files, card, model, encoder, examples)


def _scores(files: RunFolder, card: RunCard, model, encoder, examples: list[Example]) -> np.ndarray:
    classes = card.classes
    if card.task != "multi_label":
        return score_single_label(model, encoder, examples, classes)
    choice = files.eval.scoring_choice
    method = ScoringChoice.from_file(choice).method if choice.is_file() else "item_path"
    label_sets = []
    if method.startswith("label_sets"):
        label_sets = sorted({tuple(r["answer_items"]) for r in io.JsonlFile(files.prompt_file("train"))
                             if not is_augmented_id(r["id"])})
    scores = multi_label_scorer(method, model, encoder, classes, label_sets)(examples)
    calibration = files.eval.calibration
    if calibration.is_file():  # the decision rule calibrated the scores before its thresholds
        scores = platt_apply(scores, Calibration.from_file(calibration).matrix(classes))
    return scores


def top_labels(probabilities: np.ndarray, classes: Sequence[str], top_k: int) -> list[dict]:
    """The ``top_k`` most probable classes, most probable first (ties keep the class order)."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:top_k]
    return [{"label": classes[i], "probability": round(float(probabilities[i]), 6)} for i in order]


def format_table(rows: list[dict]) -> Table:
    """A rich table of ``predict`` rows: file, its labels with probabilities, (multi-label) the labels above
    their thresholds, and the error if any."""
    multi = any("labels" in row for row in rows)
    table = Table("file", "labels (probability)", *(["predicted labels"] if multi else []), "error")
    for row in rows:
        labels = ", ".join(f"{t['label']} ({t['probability']:.3f})" for t in row["top"])
        table.add_row(row["path"], labels, *([", ".join(row.get("labels", []))] if multi else []), row["error"] or "")
    return table
