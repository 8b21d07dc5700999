"""One fold of one run as the stages after the prompts see it: :class:`FoldContext`, built once by
``pipeline.run_fold`` and handed to training (``train_stage``), evaluation and the reference rows
(``evaluate_stage``); and the base model they start from."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from ..codecs.base import ClipEncoder
from ..config import EMBEDDED_MODEL, RunConfig, codec_label, model_label
from ..core import io, ui
from ..core.errors import CodecBenchError
from ..core.finished import files_in, mark_done, rebuild, reusable
from ..core.parallel import build_lock, is_main_process, wait_for_everyone
from ..data.clotho_aqa import KEYWORD_QUESTION, TAG_QUESTION, question_tags
from ..data.manifest import Manifest
from ..formats import RunFolder, UnitMerges
from ..llm.encoder import codec_vocabulary
from ..llm.model import build_tiny_llm
from ..llm.unit_bpe import UnitBPE, interleaved_units, learn_merges, training_digest
from ..prompts import ITEM_SEPARATOR, ExampleFile


@dataclass
class FoldContext:
    """A fold ready to train on: the run's settings, the fold's manifest, the (fitted) codec, the lazy ``{clip id:
    codes}`` of every clip, the prompts of every split and the run folder ``OUT/<name>/<run>``; ``base_from``: the run
    folder whose base model it starts from when not its own (the blind row of question answering, ``study.blind``)."""

    config: RunConfig
    manifest: Manifest
    codec: ClipEncoder
    codes: Mapping[str, np.ndarray]
    examples: dict[str, ExampleFile]
    run_dir: Path
    base_from: Path | None = None

    @property
    def codec_name(self) -> str:
        """The codec as the fine-tuned run's records name it (``config.codec_label``)."""
        return codec_label(self.codec, self.config.codec.label, self.config.codec.codebooks, self.config.codec.patch,
                           self.config.codec.bpe)

    @property
    def model_name(self) -> str:
        return model_label(self.config.model)

    @property
    def asks_questions(self) -> bool:
        """Whether the run trains (and scores) a yes/no question per label."""
        return self.config.train.label_questions and self.manifest.task == "multi_label"

    def base_model(self) -> str:
        """The model training and the reference rows start from (:func:`base_model`)."""
        return base_model(self.config, self.manifest, self.codec, self.base_from or self.run_dir)

    @functools.cached_property
    def units(self) -> UnitBPE | None:
        """The run's acoustic-BPE merges (``--bpe``, learned by :func:`learn_units`); None without BPE."""
        return read_units(self.run_dir) if self.config.codec.bpe else None


def read_units(run_dir: Path) -> UnitBPE:
    """The acoustic-BPE merges the ``--bpe`` run in ``run_dir`` learned, ready to apply."""
    path = RunFolder(run_dir).unit_merges
    if not path.is_file():
        raise CodecBenchError(f"{path}: this --bpe run's unit merges are missing; rerun `codec-bench run` to learn them")
    merges = UnitMerges.from_file(path)
    return UnitBPE(merges.units, merges.merges)


def learn_units(fold: FoldContext) -> None:
    """``--bpe N``: learn at most N unit merges on the fold's training clips, once (the main process, under a lock),
    into ``<run>/unit-merges.json``. Merges learned on other training clips are learned again, unless a model was
    trained with them (then one line says how to start over)."""
    bpe, files = fold.config.codec.bpe, RunFolder(fold.run_dir)
    if not bpe:
        return
    train = [e.id for e in fold.examples["train"]]
    digest = training_digest(train)
    if is_main_process():
        with build_lock(files.unit_merges, "unit merges"):
            found = UnitMerges.from_file(files.unit_merges) if files.unit_merges.is_file() else None
            if found is None or (found.trained_on, found.requested) != (digest, bpe):
                if found is not None and files.train_done.is_file():
                    raise CodecBenchError(f"{files.unit_merges}: learned on other training clips than this run's, and "
                                          f"a model was trained with them; delete {fold.run_dir} to train again")
                units = fold.codec.speech_tokens
                sequences = (interleaved_units(fold.codes[i], fold.codec.codebook_size) for i in train)
                merges = learn_merges(sequences, units, bpe)
                UnitMerges(units, bpe, merges, len(train), digest).to_file(files.unit_merges)
                merged = len({m[2] for m in merges})
                ui.say(f"unit merges: {merged} merged units learned on {len(train)} training clips (--bpe {bpe})")
    wait_for_everyone()


def instruction_for(manifest: Manifest, clip) -> str:
    """The prompt's instruction: the dataset's sentence, plus the question for audio question answering."""
    question = clip.extra.get("question") if manifest.task == "aqa" else None
    return f"{manifest.instruction} Question: {question}" if question else manifest.instruction


def prompt_texts(manifest: Manifest, clip, question_position: str = "before") -> tuple[str, str | None]:
    """(instruction, text after the audio) of the clip's prompt: a question-answering question joins the instruction
    (``before``, :func:`instruction_for`) or follows the audio (``after``: ``"Question: ..."``, ``prompts.build_prompt``)."""
    question = clip.extra.get("question") if manifest.task == "aqa" else None
    if question and question_position == "after":
        return manifest.instruction, f"Question: {question}"
    return instruction_for(manifest, clip), None


def base_model(config: RunConfig, manifest: Manifest, codec: ClipEncoder, run_dir: Path) -> str:
    """The model to start from: a hub id / path, or the embedded tiny LM written into the run folder (built once,
    under a lock, into a temporary folder renamed when complete)."""
    if config.model.name != EMBEDDED_MODEL:
        return config.model.name
    folder = RunFolder(run_dir).base_model
    if is_main_process():  # in a multi-process job rank 0 builds it (transformers saves from rank 0 only)
        with build_lock(folder, "base model"):
            if not reusable(folder / "done.json", "base model", folder):
                rebuild(folder)
                corpus = [manifest.instruction, ITEM_SEPARATOR.join(manifest.classes)] + list(manifest.classes) * 4
                corpus += [instruction_for(manifest, c) for c in manifest.split("train")[:5000] if manifest.task == "aqa"]
                if config.train.keywords and manifest.task == "aqa":  # the keyword examples' question and answers
                    train = manifest.split("train")[:5000]
                    corpus += [KEYWORD_QUESTION] + [", ".join(c.extra.get("keywords", ())) for c in train]
                if config.train.question_tags and manifest.task == "aqa":  # the question-tag examples' question and answers
                    corpus += [TAG_QUESTION] + [", ".join(tags) for tags in question_tags(manifest.split("train")).values()]
                with io.atomic_path(folder) as tmp:
                    build_tiny_llm(tmp, codec_vocabulary(codec), corpus, seed=config.train.seed, sizes=config.model.tiny_sizes)
                    mark_done(tmp / "done.json", files_in(tmp), model="embedded tiny Llama")
    wait_for_everyone()
    return str(folder)
