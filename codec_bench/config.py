"""Settings of one run, one dataclass per stage; the CLI and YAML only fill in values. Also the naming rules
derived from them (how a codec, a model and a recipe are named in folders, results and reports). Light: no
torch, so that the command line checks its inputs before anything heavy is imported."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

EMBEDDED_MODEL = "tiny"
CODEBOOK_MODES = ("interleave", "sum")  # several codebooks: one token each, or one position per frame


@dataclass
class TrainConfig:
    """One training recipe. ``method`` is "full" or "lora"."""

    method: str = "full"
    epochs: float = 15
    learning_rate: float = 1e-3
    batch_size: int = 16
    grad_accum: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    lora_rank: int = 16
    lora_alpha: int = 32
    bf16: bool = False
    gradient_checkpointing: bool = False
    seed: int = 0
    num_workers: int = 0
    max_steps: int = -1


@dataclass
class CodecConfig:
    """Which codec and how: ``name`` from ``codecs.CODECS``; ``options`` go to its constructor. ``label``: its name
    in results, reports and study cell files (default: the codec name, plus its precision when not float32); two
    entries of one codec with other options need distinct labels (``encodec-1.5kbps``, ``encodec-6kbps``)."""

    name: str = "embedded"
    options: dict = field(default_factory=dict)
    batch_size: int = 16
    num_workers: int = 0
    max_seconds: float | None = 30.0
    label: str | None = None
    codebooks: str = "interleave"  # several codebooks: "interleave" (one token each) or "sum" (one position per frame)


@dataclass
class ModelConfig:
    """``name``: "tiny" (the embedded LM, built and trained from scratch) or a hub id / local path.
    ``add_speech_tokens``: add Llasa's markers and ``<|s_k|>`` rows when the tokenizer lacks them (see ``vocab``).
    ``label``: its name in results, run folders and cell files (default: the last part of ``name``)."""

    name: str = EMBEDDED_MODEL
    dtype: str = "auto"
    offline: bool | None = None
    tiny_sizes: dict | None = None
    add_speech_tokens: bool = False
    label: str | None = None


@dataclass
class EvalConfig:
    splits: tuple[str, ...] = ("validation", "test")
    generation: bool = True
    generation_batch_size: int = 16


@dataclass
class RunConfig:
    """One dataset under one protocol (all its folds, or the ones listed), one codec, one model, one recipe."""

    dataset: str
    out: Path
    root: Path | None = None
    protocol: str | None = None
    folds: list[str] | None = None
    cache_root: Path | None = None
    codec: CodecConfig = field(default_factory=CodecConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    baseline: bool = True
    probes: bool = False  # linear-probe and kNN rows on codec vectors and base-LLM hidden states (ARCH's protocol)
    zero_shot: bool = False  # the base LLM scored without fine-tuning
    progress: bool = True
    dataset_options: dict = field(default_factory=dict)
    source: str = "local"  # "local": the official layout under root; "hub": the known Hugging Face mirror
    recipe: str | None = None  # name of the training recipe in results (default: the training method)

    @property
    def run_name(self) -> str:
        """``<recipe>`` plus ``-seed<N>`` for seeds other than 0: one run folder per recipe and seed."""
        name = self.recipe or self.train.method
        return name if self.train.seed == 0 else f"{name}-seed{self.train.seed}"

    @property
    def cache_folder(self) -> Path:
        return self.cache_root or Path(self.out) / "cache"


# --- names derived from the settings -------------------------------------------------------------------------

def model_tag(name: str) -> str:
    return "tiny-llama" if name == EMBEDDED_MODEL else re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name or name)


def model_label(model: ModelConfig) -> str:
    """The model in results and folder names: its ``label``, else :func:`model_tag` of its name."""
    return model.label or model_tag(model.name)


def codec_label(codec, label: str | None = None, codebooks: str = "interleave") -> str:
    """The codec as results name it (the cache key is not used: a fitted codec has a new key per fold, and folds
    must aggregate); see :func:`codec_name`."""
    return codec_name(codec.name, getattr(codec, "dtype", "float32"), label, codebooks)


def codec_name(name: str, dtype: str = "float32", label: str | None = None, codebooks: str = "interleave") -> str:
    """``label`` when given, else the registry name plus the precision when not the exact float32 and ``-sum`` for
    summed codebooks: the codec's name in results, reports and study cell files."""
    if label:
        return label
    name = name if dtype == "float32" else f"{name}-{dtype}"
    return f"{name}-sum" if codebooks == "sum" else name
