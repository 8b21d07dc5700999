"""The blind reference rows of a question-answering fold (``evaluation.blind``): the run's LLM and recipe trained
and evaluated on the same prompts with the audio slot empty, in a run folder of its own (``blind__<run>``, resumed
and reused as any run folder), and the majority answer per question form (``OUT/<name>/baseline``, shared by every
run of the fold). ``blind: false`` turns both off; other tasks have none.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..codecs.base import FeatureFrontEnd
from ..data.augment import is_augmented_id
from ..data.clotho_aqa import is_keyword_id
from ..evaluation.blind import BLIND_METHOD, MAJORITY_METHOD, EmptyAudio, majority_answers
from ..evaluation.records import Record, RunName, cached_records, finish_records, scoring_records
from ..formats import OutFolder, blind_folder
from .evaluate_stage import evaluate_model
from .fold import FoldContext
from .train_stage import train_model


def wanted(fold: FoldContext) -> bool:
    """Whether this fold gets the blind rows: question answering with ``blind`` on."""
    return fold.config.blind and fold.manifest.task == "aqa"


def blind_fold(fold: FoldContext) -> FoldContext:
    """The fold as the blind LLM sees it: every clip's audio empty (zero positions, whatever the codec: no speech
    token, no frame), the same prompts and base model, its own run folder; scored by label scoring only."""
    dtype = np.float32 if isinstance(fold.codec, FeatureFrontEnd) else np.int64
    config = replace(fold.config, eval=replace(fold.config.eval, generation=False))
    return replace(fold, config=config, codes=EmptyAudio(fold.codes, fold.codec.rows, dtype),
                   run_dir=blind_folder(fold.run_dir).path, base_from=fold.run_dir)


def train_blind(fold: FoldContext) -> Path | None:
    """Train (or resume, or reuse) the blind LLM of ``fold``; its model folder, None when the fold has no blind row.
    Runs on every process, as training does; the caller holds the run folder (which the blind one belongs to)."""
    return train_model(blind_fold(fold)) if wanted(fold) else None


def blind_rows(fold: FoldContext, model_dir: Path | None) -> list[Record]:
    """The blind LLM's records (``baseline_blind_llm``) and the majority answer per question form's
    (``baseline_majority_by_form``); none without a blind row."""
    if model_dir is None:
        return []
    records = evaluate_model(blind_fold(fold), model_dir, method=BLIND_METHOD)
    folder = OutFolder(Path(fold.config.out)).baseline(fold.manifest.name).path
    splits = [s for s in fold.config.eval.evaluated() if fold.examples.get(s)]
    return records + cached_records(folder, "majority answers", lambda: _majority_records(fold, folder), splits)


def _majority_records(fold: FoldContext, folder: Path) -> list[Record]:
    manifest, examples = fold.manifest, fold.examples
    question = {c.id: c.extra.get("question") or "" for c in manifest.clips}
    train = [e for e in examples["train"] if not is_augmented_id(e.id) and not is_keyword_id(e.id)]
    index = {c: i for i, c in enumerate(manifest.classes)}
    scores, chosen = {}, {}
    for split in (s for s in fold.config.eval.evaluated() if examples.get(s)):
        chosen[split] = list(examples[split])
        answers = majority_answers([question[e.id] for e in train], [e.answer_items[0] for e in train],
                                   [question[e.id] for e in chosen[split]])
        scores[split] = np.eye(len(manifest.classes))[[index[a] for a in answers]]
    run = RunName("none", "majority-by-form", MAJORITY_METHOD)
    return finish_records(folder, scoring_records(manifest, scores, chosen, folder, run, Path(fold.config.out)), fold.config)
