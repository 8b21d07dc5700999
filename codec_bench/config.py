"""Settings of a run and of a study: one dataclass per stage, the single source of every setting's name, type,
default, choices and help (``core.settings.setting``). The command line's options (``cli``) and the study YAML's
checks (``study.benchmark``) are derived from these fields. Also the naming rules derived from the settings (how a
codec, a model and a recipe are named in folders, results and reports). Light: no torch, so that the command line
checks its inputs before anything heavy is imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .core.errors import CodecBenchError
from .core.settings import setting

EMBEDDED_MODEL = "tiny"
CODEBOOK_MODES = ("interleave", "sum")  # several codebooks: one token each, or one position per frame
SOURCES = ("local", "hub")
TRACKERS = ("none", "tensorboard", "wandb", "mlflow")
SELECTIONS = ("loss", "metric")  # which validation figure picks the kept checkpoint


def _codec_names() -> list[str]:
    from .codecs import CODECS

    return sorted(CODECS)


RECIPE_DEFAULTS = {  # the command line's defaults by model: what "auto" (None) means for these TrainConfig fields
    "embedded": {"method": "full", "epochs": 15, "learning_rate": 1e-3},  # the tiny LM trains from scratch
    "pretrained": {"method": "lora", "epochs": 3, "learning_rate": 2e-4},
}
TASK_DEFAULTS = {  # on top, for one kind of model on one task: the codec and recipe measured best there
    # k-means units (one per frame) cannot spell two instruments at once: on rendered real instruments log-mel
    # frames + 3 mixtures per clip beat the log-mel logistic regression, tokens lose to it (docs/performance.md)
    ("embedded", "multi_label"): {"codec": "logmel", "mix": 3.0},
}


def auto_defaults(model_name: str, task: str | None = None) -> dict:
    """What the command line's "auto" settings (codec, method, epochs, learning rate, mix) mean for this model and,
    once the corpus is read, its task."""
    kind = "embedded" if model_name == EMBEDDED_MODEL else "pretrained"
    return {"codec": "embedded", "mix": 0.0} | RECIPE_DEFAULTS[kind] | TASK_DEFAULTS.get((kind, task), {})


@dataclass
class TrainConfig:
    """One training recipe (a study's ``recipes`` entry; ``name`` names it in results and run folders, default
    the method). On the command line, method, epochs and learning rate default by model: the embedded tiny LM
    trains in full from scratch (15 epochs, 1e-3), a pretrained LLM with LoRA (3 epochs, 2e-4)."""

    name: str | None = setting(None, "Recipe name in results and run folders (default: the method).", cli=False)
    method: str = setting("full", "Fine-tuning method (default: full for tiny, lora otherwise).", choices=("full", "lora"),
                          cli_default=None)
    epochs: float = setting(15, "Training epochs (default 15 for tiny, 3 otherwise).", cli_default=None)
    learning_rate: float = setting(1e-3, "Peak learning rate (default 1e-3 for tiny, 2e-4 otherwise).", flag="--lr",
                                   cli_default=None)
    batch_size: int = setting(16, "Training batch size per process (the effective batch is x grad-accum x processes).")
    grad_accum: int = setting(1, "Gradient accumulation steps.")
    warmup_ratio: float = setting(0.1, "Share of the steps spent warming the learning rate up.", cli=False)
    weight_decay: float = setting(0.01, "AdamW weight decay.", cli=False)
    lora_rank: int = setting(16, "LoRA rank.", cli=False)
    lora_alpha: int = setting(32, "LoRA alpha.", cli=False)
    bf16: bool = setting(False, "Train and evaluate the LLM in bfloat16 (GPU).")
    gradient_checkpointing: bool = setting(False, "Trade compute for memory when training.")
    label_questions: bool = setting(False, "Multi-label: also train a yes/no question \"<label>?\" per label, every question "
                                    "in the same forward as the answer (a tree after the prompt); scored as the "
                                    "label_questions method.")
    mix: float = setting(0.0, "Multi-label: extra training clips, per training clip, that sum two training clips (gains "
                         "-6..0 dB and an offset drawn per mixture, labels united); encoded once and cached (default "
                         "3 with the tiny LM, 0 otherwise).", cli_default=None)
    shift: float = setting(0.0, "Extra training clips, per training clip, that copy one shifted in time (circularly) with "
                           "a gain of -6..+3 dB; encoded once and cached.")
    select_by: str = setting("loss", "Which epoch's checkpoint is kept: loss (lowest validation loss) or metric (highest "
                             "validation accuracy, or micro-F1 for multi-label, by label scoring after every epoch; ties: the "
                             "lower validation loss).",
                             choices=SELECTIONS)
    patience: int | None = setting(None, "Stop training after this many epochs without a better validation loss or "
                                   "metric (whichever --select-by names); default: train every epoch.")
    seed: int = setting(0, "Training seed.", yaml=False)  # a study's seeds come from `seeds`
    num_workers: int = setting(0, "DataLoader workers building training batches.", cli=False)
    max_steps: int = setting(-1, "Stop after this many optimizer steps (-1: train for `epochs`).", cli=False)


@dataclass
class CodecConfig:
    """Which codec and how. ``options`` go to its constructor (``codecs.options_of`` lists them). ``label``: its name
    in results, reports and study cell files (default: the codec name, plus its precision when not float32); two
    entries of one codec with other options need distinct labels (``encodec-1.5kbps``, ``encodec-6kbps``)."""

    name: str = setting("embedded", "Codec: embedded (CPU, fitted on the training split), xcodec2, encodec, dac, mimi, "
                        "xcodec; or a continuous front-end read through a trained projector: logmel, xcodec2-latents "
                        "(default: embedded; logmel for a multi-label dataset with the tiny LM).",
                        choices=_codec_names, flag="--codec", cli_default=None)
    options: dict = setting(help="Options of the codec's constructor.", factory=dict, cli=False)
    batch_size: int = setting(16, "Clips per codec batch.", flag="--encode-batch-size")
    num_workers: int | None = setting(None, "DataLoader workers decoding audio for the codec (default: min(4, cores - 1) "
                                      "with a GPU, 0 without; never more than the cores).", flag="--workers")
    max_seconds: float | None = setting(30.0, "Clips longer than this many seconds are cut before encoding (a count is "
                                        "printed).")
    label: str | None = setting(None, "The codec's name in results (default: its name).", cli=False)
    codebooks: str = setting("interleave", "Several codebooks per frame: interleave (one speech token each) or sum (one "
                             "position per frame, their token embeddings summed).", choices=CODEBOOK_MODES)


@dataclass
class ModelConfig:
    """The LLM: "tiny" (the embedded LM, built and trained from scratch) or a hub id / local folder.
    ``add_speech_tokens``: add Llasa's markers and ``<|s_k|>`` rows when the tokenizer lacks them (see ``llm.vocab``).
    ``label``: its name in results, run folders and cell files (default: the last part of ``name``)."""

    name: str = setting(EMBEDDED_MODEL, "tiny (embedded LM trained from scratch) or a hub id / local folder, e.g. "
                        "HKUSTAudio/Llasa-1B-Multilingual.", flag="--model")
    dtype: str = setting("auto", "Weights' dtype when loaded (--bf16 sets bfloat16).",
                         choices=("auto", "float32", "bfloat16", "float16"), cli=False)
    offline: bool | None = setting(None, "Never contact the hub; ids must be in the local cache (or pass folders).",
                                   cli_default=False)
    tiny_sizes: dict | None = setting(None, "Sizes of the embedded tiny LM (LlamaConfig fields).", cli=False)
    add_speech_tokens: bool = setting(False, "Add <|s_N|> and marker rows to an LLM whose tokenizer lacks them (any "
                                      "causal LM).")
    label: str | None = setting(None, "The model's name in results (default: the last part of its name).", cli=False)


@dataclass
class EvalConfig:
    """How the held-out splits are evaluated: by label scoring always, by greedy generation too."""

    splits: tuple[str, ...] = setting(("validation", "test"), "Splits evaluated.", cli=False, yaml=False)
    generation: bool = setting(True, "Also evaluate by greedy generation (exact match).")
    generation_batch_size: int = setting(16, "Prompts per generation batch.", cli=False)


@dataclass(kw_only=True)
class SharedSettings:
    """What a run and a study both set: the rows a reader compares the fine-tuned LLM with, and where training and
    evaluation are tracked."""

    baseline: bool = setting(True, "Add the log-mel logistic-regression reference row.", cli=False)
    probes: bool = setting(False, "Add linear-probe and kNN rows on codec vectors and base-LLM hidden states (ARCH's "
                           "protocol).")
    zero_shot: bool = setting(False, "Add the base LLM scored without fine-tuning.")
    report_to: str = setting("none", "Experiment tracking of training losses and evaluation metrics, named by the run "
                             "folder: none, tensorboard (event files in <run>/tensorboard), wandb or mlflow (their own "
                             "settings from the environment).", choices=TRACKERS)


@dataclass(kw_only=True)
class RunConfig(SharedSettings):
    """One dataset under one protocol (all its folds, or the ones listed), one codec, one model, one recipe."""

    dataset: str
    out: Path
    root: Path | None = setting(None, "Folder of the unpacked corpus in its official layout (see `codec-bench datasets`).")
    protocol: str | None = setting(None, "Split protocol (default: the dataset's first; see `codec-bench datasets`).")
    folds: list[str] | None = setting(None, "Run only these folds (repeat the option); default all.", flag="--fold")
    cache_root: Path | None = setting(None, "Token cache folder (default OUT/cache).", flag="--cache")
    codec: CodecConfig = setting(factory=CodecConfig, cli=False)
    model: ModelConfig = setting(factory=ModelConfig, cli=False)
    train: TrainConfig = setting(factory=TrainConfig, cli=False)
    eval: EvalConfig = setting(factory=EvalConfig, cli=False)
    progress: bool = setting(True, "Show progress lines.", cli=False)
    dataset_options: dict = setting(help="Options of the dataset's loader.", factory=dict, cli=False)
    source: str = setting("local", "local (official layout under --root) or hub (the known Hugging Face mirror).",
                          choices=SOURCES)

    @property
    def run_name(self) -> str:
        """``<recipe>`` plus ``-seed<N>`` for seeds other than 0: one run folder per recipe and seed."""
        name = self.train.name or self.train.method
        return name if self.train.seed == 0 else f"{name}-seed{self.train.seed}"

    @property
    def cache_folder(self) -> Path:
        return self.cache_root or Path(self.out) / "cache"


# --- names derived from the settings -------------------------------------------------------------------------

def parse_seeds(text: str) -> list[int]:
    """``--seeds``: a count (``3`` -> seeds 0, 1, 2) or a comma-separated list (``0,4,7``; ``5,`` is seed 5 alone)."""
    try:
        if "," in text:
            seeds = [int(part) for part in text.split(",") if part.strip()]
        else:
            seeds = list(range(int(text)))
    except ValueError:
        raise CodecBenchError(f"--seeds {text!r}: give a count (3 -> seeds 0, 1, 2) or a comma-separated list (0,4,7)") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise CodecBenchError(f"--seeds {text!r}: give at least one seed, each once, none negative")
    return seeds


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
