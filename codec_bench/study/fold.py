"""One fold of one run as the stages after the prompts see it: :class:`FoldContext`, built once by
``pipeline.run_fold`` and handed to training (``train_stage``), evaluation and the reference rows
(``evaluate_stage``); and the base model they start from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from ..codecs.base import ClipEncoder
from ..config import EMBEDDED_MODEL, RunConfig, codec_label, model_label
from ..core import io
from ..core.finished import files_in, mark_done, rebuild, reusable
from ..core.parallel import build_lock, is_main_process, wait_for_everyone
from ..data.manifest import Manifest
from ..formats import RunFolder
from ..llm.encoder import codec_vocabulary
from ..llm.model import build_tiny_llm
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
        return codec_label(self.codec, self.config.codec.label, self.config.codec.codebooks, self.config.codec.patch)

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


def instruction_for(manifest: Manifest, clip) -> str:
    """The prompt's instruction: the dataset's sentence, plus the question for audio question answering."""
    question = clip.extra.get("question") if manifest.task == "aqa" else None
    return f"{manifest.instruction} Question: {question}" if question else manifest.instruction


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
                with io.atomic_path(folder) as tmp:
                    build_tiny_llm(tmp, codec_vocabulary(codec), corpus, seed=config.train.seed, sizes=config.model.tiny_sizes)
                    mark_done(tmp / "done.json", files_in(tmp), model="embedded tiny Llama")
    wait_for_everyone()
    return str(folder)
