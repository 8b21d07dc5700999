"""Settings of a run and of a study: one dataclass per stage, the single source of every setting's name, type,
default, choices and help (``core.settings.setting``), each under one name, its key (the flag is the key with dashes).
The command line's options (``cli``), the study YAML's checks (``study.plan``) and the settings reference
(``reference``) are derived from these fields; :func:`resolve` gives every entry point the same defaults
(:func:`defaults_for`) and says where each value came from. Also the naming rules derived from the settings (how a
codec, a model and a recipe are named in folders, results and reports). Light: no torch, so that the command line
checks its inputs before anything heavy is imported.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core.errors import CodecBenchError
from .core.settings import is_setting, key_of, setting

EMBEDDED_MODEL = "tiny"
CODEBOOK_MODES = ("interleave", "sum")  # several codebooks: one token each, or one position per frame
SOURCES = ("local", "hub")
TRACKERS = ("none", "tensorboard", "wandb", "mlflow")
SELECTIONS = ("loss", "metric")  # which validation figure picks the kept checkpoint
QUESTION_POSITIONS = ("before", "after")  # question answering: the question before the audio or after it
STAGES = ("encode", "train", "all")  # where `run --stage` stops
HELD_OUT = ("auto", "validation", "all")  # `run --splits`: the held-out splits evaluated and reported


def _codec_names() -> list[str]:
    from .codecs import CODECS

    return sorted(CODECS)


# --- defaults that depend on the model and the task: the single source of these values ------------------------
RECIPE_DEFAULTS = {  # by kind of model; the embedded recipe is also TrainConfig's own default
    "embedded": {"method": "full", "epochs": 15, "learning_rate": 1e-3},  # a tiny LM trained from scratch can afford a high rate
    "pretrained": {"method": "lora", "epochs": 3, "learning_rate": 2e-4},
}
# for every model on every task not in TASK_DEFAULTS
OTHER_DEFAULTS = {"codec": "embedded", "patch": 1, "mix": 0.0, "question_position": "before", "keywords": 0.0}
TASK_DEFAULTS = {  # on top, for one kind of model on one task: the codec and recipe measured best there
    # k-means units (one per frame) cannot spell two instruments at once: on rendered real instruments log-mel
    # frames + 3 mixtures per clip beat the log-mel logistic regression, tokens lose to it (docs/performance.md)
    ("embedded", "multi_label"): {"codec": "logmel", "mix": 3.0},
    # chosen on the real-audio suite's validation splits (instruments, voices, reverberant instruments): log-mel
    # frames lift the reverberant set, 25 epochs the spoken digits (docs/performance.md, "Real-audio suite")
    ("embedded", "single_label"): {"codec": "logmel", "epochs": 25},
    # chosen on the validation split of a real-audio AQA set (bench/real_audio_aqa.py): tokens answer like the blind
    # row; log-mel frames with the question after the audio count, and the keywords lift the presence questions
    # above chance (docs/performance.md, "Audio question answering on real audio")
    # at 1e-3 the voice-words training collapsed; 3e-4 had the higher validation accuracy on all three sets; 4 frames
    # per position and 30 epochs lifted all three sets' validation accuracy 15-40 points, far above the blind row
    ("embedded", "aqa"): {"codec": "logmel", "patch": 4, "question_position": "after", "keywords": 1.0,
                          "learning_rate": 3e-4, "epochs": 30},
}
# a pretrained LLM reads the tokens of the codec it was trained with: a model whose name (its last part, for a hub id or
# a folder) starts with a key here defaults to that codec; any other pretrained LLM to the built-in default codec,
# which it has never seen either way (give --codec)
MODEL_CODECS = {"llasa": "xcodec2"}
_KINDS = {"embedded": "the tiny LM", "pretrained": "a pretrained LLM"}
_TINY = RECIPE_DEFAULTS["embedded"]


def model_kind(model_name: str) -> str:
    """``embedded`` for the tiny LM, ``pretrained`` for any other model."""
    return "embedded" if model_name == EMBEDDED_MODEL else "pretrained"


BUILT_IN, MODEL_DEFAULT, TASK_DEFAULT = "built-in default", "model default", "task default"  # where a value comes from
STUDY_FILE, COMMAND_LINE = "study file", "command line"
TUNE = "run --tune"  # --tune evaluates validation only unless --splits says otherwise


def model_codec(model_name: str) -> str | None:
    """The codec a pretrained LLM was trained with (:data:`MODEL_CODECS`), else None."""
    last = Path(str(model_name).rstrip("/")).name.lower()
    return next((codec for prefix, codec in MODEL_CODECS.items() if last.startswith(prefix)), None)


def defaults_for(model_name: str, task: str | None = None) -> dict[str, tuple[Any, str]]:
    """The one source of the defaults that depend on the model and the task, for every entry point (``run``,
    ``encode``, study cells, ``--tune``): setting key -> (value, source). A pretrained LLM takes the LoRA recipe
    (``RECIPE_DEFAULTS``) and the codec it was trained with (:func:`model_codec`); then, once the corpus's task is
    known, ``TASK_DEFAULTS`` for its kind of model."""
    kind = model_kind(model_name)
    values = {key: (value, BUILT_IN) for key, value in (OTHER_DEFAULTS | RECIPE_DEFAULTS["embedded"]).items()}
    if kind == "pretrained":
        values |= {key: (value, MODEL_DEFAULT) for key, value in RECIPE_DEFAULTS["pretrained"].items()}
        if model_codec(model_name):
            values["codec"] = (model_codec(model_name), MODEL_DEFAULT)
    return values | {key: (value, TASK_DEFAULT) for key, value in TASK_DEFAULTS.get((kind, task), {}).items()}


def auto_defaults(model_name: str, task: str | None = None) -> dict:
    """:func:`defaults_for` without the sources: what the "auto" settings mean for this model and task."""
    return {key: value for key, (value, _) in defaults_for(model_name, task).items()}


def defaults_text(key: str) -> str:
    """``(default: full for the tiny LM, lora otherwise)``: a setting's "auto" default, read from the tables above
    for the help text."""
    def text(value) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    if key in _TINY:
        said = f"{text(_TINY[key])} for {_KINDS['embedded']}, {text(RECIPE_DEFAULTS['pretrained'][key])} otherwise"
    elif key == "codec":
        said = text(OTHER_DEFAULTS[key]) + "".join(f"; {codec} for a {prefix.title()} model" for prefix, codec in
                                                   MODEL_CODECS.items())
    else:
        said = text(OTHER_DEFAULTS[key])
    tasks: dict[tuple[str, str], list[str]] = {}  # (value, kind) -> the tasks that take it, said once
    for (kind, task), values in TASK_DEFAULTS.items():
        if key in values:
            tasks.setdefault((text(values[key]), kind), []).append(task.replace("_", "-"))
    for (value, kind), names in tasks.items():
        article = "an" if names[0][0] in "aeiou" else "a"
        said += f"; {value} for {article} {' or '.join(names)} dataset with {_KINDS[kind]}"
    return f"(default: {said})"


@dataclass
class TrainConfig:
    """One training recipe (a study's ``recipes`` entry; ``name`` names it in results and run folders, default
    the method). Its defaults are the embedded tiny LM's recipe; on the command line, method, epochs and learning
    rate default by model (``RECIPE_DEFAULTS``), and mix and epochs also by task (``TASK_DEFAULTS``)."""

    PANEL = "Training"

    name: str | None = setting(None, "Recipe name in results and run folders (default: the method).", key="recipe")
    method: str = setting(_TINY["method"], lambda: f"Fine-tuning method {defaults_text('method')}.",
                          choices=("full", "lora"), cli_default=None)
    epochs: float = setting(_TINY["epochs"], lambda: f"Training epochs {defaults_text('epochs')}.", cli_default=None,
                            above=0)
    learning_rate: float = setting(_TINY["learning_rate"], lambda: f"Peak learning rate {defaults_text('learning_rate')}.",
                                   cli_default=None, above=0)
    batch_size: int = setting(16, "Training batch size per process (the effective batch is x grad-accum x processes).",
                              minimum=1)
    grad_accum: int = setting(1, "Gradient accumulation steps.", minimum=1)
    warmup_ratio: float = setting(0.1, "Share of the steps spent warming the learning rate up.", minimum=0,
                                  maximum=1)
    weight_decay: float = setting(0.01, "AdamW weight decay.", minimum=0)
    lora_rank: int = setting(16, "LoRA rank (method lora).", minimum=1)
    lora_alpha: int = setting(32, "LoRA alpha (method lora).", minimum=1)
    bf16: bool = setting(False, "Train and evaluate the LLM in bfloat16 (GPU).")
    gradient_checkpointing: bool = setting(False, "Trade compute for memory when training.")
    label_questions: bool = setting(False, "Multi-label: also train a yes/no question \"<label>?\" per label, every "
                                    "question in the same forward as the answer (a tree after the prompt); scored as the "
                                    "label_questions method.")
    mix: float = setting(OTHER_DEFAULTS["mix"], lambda: "Multi-label: extra training clips, per training clip, that sum "
                         "two training clips (gains -6..0 dB and an offset drawn per mixture, labels united); encoded "
                         f"once and cached {defaults_text('mix')}.", cli_default=None, minimum=0)
    shift: float = setting(0.0, "Extra training clips, per training clip, that copy one shifted in time (circularly) "
                           "with a gain of -6..+3 dB; encoded once and cached.", minimum=0)
    question_position: str = setting(OTHER_DEFAULTS["question_position"], lambda: "Question answering: where the "
                                     "question sits in the prompt: before the audio (after the instruction) or after it, "
                                     "in a text block of its own just before the answer, so that its words attend to the "
                                     f"audio {defaults_text('question_position')}.", choices=QUESTION_POSITIONS,
                                     cli_default=None)
    keywords: float = setting(OTHER_DEFAULTS["keywords"], lambda: "Question answering: keyword examples per training "
                              "audio file, each asking which keywords describe the sound and answered by the file's "
                              "keywords (clotho_aqa_metadata.csv): a tagging objective shared with the questions, trained, "
                              f"never evaluated; 0: none {defaults_text('keywords')}.", cli_default=None, minimum=0)
    # off until 3 seeds on the validation splits of the real-audio AQA sets choose it (docs/aqa-without-keywords.md)
    question_tags: float = setting(0.0, "Question answering without keywords: tag examples per training audio file, "
                                   "each asking what can be heard and answered by what the file's training questions "
                                   "say is heard (the subject of each question answered yes, each open answer named in "
                                   "its question; data.clotho_aqa.question_tags): the keyword examples' tagging "
                                   "objective from the questions alone, trained, never evaluated; 0: none.", minimum=0)
    select_by: str = setting("loss", "Which epoch's checkpoint is kept: loss (lowest validation loss) or metric (highest "
                             "validation accuracy, or micro-F1 for multi-label, by label scoring after every epoch; ties: "
                             "the lower validation loss).", choices=SELECTIONS)
    patience: int | None = setting(None, "Stop training after this many epochs without a better validation loss or "
                                   "metric (whichever --select-by names); default: train every epoch.", minimum=1)
    seed: int = setting(0, "Training seed (a study: its `seeds`; several on the command line: --seeds).", yaml=False,
                       minimum=0)  # a study's seeds come from `seeds`
    num_workers: int = setting(0, "DataLoader workers building training batches.", minimum=0)
    max_steps: int = setting(-1, "Stop after this many optimizer steps (-1: train for --epochs).", minimum=-1)


@dataclass
class CodecConfig:
    """Which codec and how. ``options`` go to its constructor (``codecs.options_of`` lists them); ``model`` (its
    ``model_id``), ``dtype`` and ``max_seconds`` are given to the codecs that take them (``resolve``). ``label``: its
    name in results, reports and study cell files (default: the codec name, plus its precision when not float32);
    two entries of one codec with other options need distinct labels (``encodec-1.5kbps``, ``encodec-6kbps``)."""

    PANEL = "Codec"

    name: str = setting(OTHER_DEFAULTS["codec"], lambda: "Codec: embedded (CPU, fitted on the training split), xcodec2, "
                        "encodec, dac, mimi, xcodec; or a continuous front-end read through a trained projector: logmel, "
                        f"xcodec2-latents {defaults_text('codec')}.", choices=_codec_names, noun="codec", key="codec",
                        cli_default=None)
    options: dict = setting(help="Other options of the codec's constructor (`codecs.options_of`), e.g. bandwidth, "
                            "num_quantizers.", factory=dict, key="codec_options", cli=False)
    model: str | None = setting(None, "Codec checkpoint: hub id or local folder (codecs with a model_id option; each "
                                "has its default).", key="codec_model")
    dtype: str = setting("float32", "Codec precision, for codecs with a dtype option: float32 (exact), bfloat16 (faster, "
                         "changes codes) or, XCodec2 only, tf32; speed and agreement in docs/performance.md.",
                         key="codec_dtype")
    batch_size: int = setting(16, "Clips per codec batch.", key="codec_batch_size", minimum=1)
    num_workers: int | None = setting(None, "DataLoader workers decoding audio for the codec (default: min(4, cores - 1) "
                                      "with a GPU, 0 without; never more than the cores).", key="codec_num_workers",
                                      minimum=0)
    max_seconds: float | None = setting(30.0, "Clips longer than this many seconds are cut before encoding (a count is "
                                        "printed).", above=0)
    label: str | None = setting(None, "The codec's name in results (default: its name).", key="codec_label")
    codebooks: str = setting("interleave", "Several codebooks per frame: interleave (one speech token each) or sum (one "
                             "position per frame, their token embeddings summed).", choices=CODEBOOK_MODES)
    patch: int = setting(OTHER_DEFAULTS["patch"], lambda: "Consecutive frames read as one LLM position: their "
                         "speech-token embeddings summed (token codecs) or their feature frames concatenated into the "
                         "projector (front-ends); fewer positions per second (llm.patching; measured in "
                         f"docs/performance.md; with --bpe always 1) {defaults_text('patch')}.", minimum=1,
                         cli_default=None)
    bpe: int = setting(0, "Acoustic BPE: merge frequent runs of codec units into at most this many new tokens, learned "
                       "on the training split (token codecs read as interleaved speech tokens; 0: off; llm.unit_bpe; "
                       "measured in docs/performance.md).", minimum=0)

    def __post_init__(self) -> None:
        from .codecs import CODECS, is_front_end

        front_end = self.name in CODECS and is_front_end(self.name)
        if self.codebooks == "sum" and front_end:
            raise CodecBenchError(f"{self.name} gives continuous features, not codebooks; drop codebooks: sum")
        if self.bpe and (front_end or self.codebooks == "sum" or self.patch > 1):
            reason = (f"{self.name} gives continuous features, not units" if front_end else
                      "it merges speech tokens, which summed codebooks and patches do not give")
            raise CodecBenchError(f"bpe works on interleaved speech tokens only: {reason}; drop bpe or "
                                  f"{'the codec' if front_end else 'codebooks: sum / patch'}")


@dataclass
class ModelConfig:
    """The LLM: "tiny" (the embedded LM, built and trained from scratch) or a hub id / local folder.
    ``add_speech_tokens``: add Llasa's markers and ``<|s_k|>`` rows when the tokenizer lacks them (see ``llm.vocab``).
    ``label``: its name in results, run folders and cell files (default: the last part of ``name``)."""

    PANEL = "Model"

    name: str = setting(EMBEDDED_MODEL, "tiny (embedded LM trained from scratch) or a hub id / local folder, e.g. "
                        "HKUSTAudio/Llasa-1B-Multilingual.", key="model")
    dtype: str = setting("auto", "The LLM's weights' dtype when loaded (default: bfloat16 with --bf16, else auto).",
                         choices=("auto", "float32", "bfloat16", "float16"), key="model_dtype")
    offline: bool | None = setting(None, "Never contact the hub; ids must be in the local cache (or pass folders).",
                                   cli_default=False)
    tiny_sizes: dict | None = setting(None, "Sizes of the embedded tiny LM (LlamaConfig fields, e.g. hidden_size, "
                                      "num_hidden_layers).", cli=False)
    add_speech_tokens: bool = setting(False, "Add <|s_N|> and marker rows to an LLM whose tokenizer lacks them (any "
                                      "causal LM).")
    label: str | None = setting(None, "The model's name in results (default: the last part of its name).",
                                key="model_label")


@dataclass
class EvalConfig:
    """How the held-out splits are evaluated: by label scoring always, by greedy generation too."""

    PANEL = "Evaluation"

    splits: str = setting("auto", "Held-out splits evaluated and reported: validation (for choosing: no test figure is "
                          "computed, written or shown; rerun the same command with --splits all to evaluate test, reusing "
                          "the trained models), all (validation and test) or auto (validation with --tune, else all).",
                          choices=HELD_OUT, yaml=False)
    generation: bool = setting(True, "Also evaluate by greedy generation (exact match).")
    generation_batch_size: int = setting(16, "Prompts per generation batch.", minimum=1)

    def evaluated(self) -> tuple[str, ...]:
        """The held-out splits evaluated: ``("validation",)`` under ``splits: validation``, else validation and test."""
        return ("validation",) if self.splits == "validation" else ("validation", "test")


@dataclass(kw_only=True)
class SharedSettings:
    """What a run and a study both set: the rows a reader compares the fine-tuned LLM with, and where training and
    evaluation are tracked."""

    PANEL = "Evaluation"

    baseline: bool = setting(True, "Add the log-mel logistic-regression reference row.")
    probes: bool = setting(False, "Add linear-probe and kNN rows on codec vectors and base-LLM hidden states (ARCH's "
                           "protocol).")
    zero_shot: bool = setting(False, "Add the base LLM scored without fine-tuning.")
    blind: bool = setting(True, "Question answering: add the blind reference rows, the same LLM and recipe trained and "
                          "evaluated with the audio slot empty (run folder blind__<run>) and the majority answer per "
                          "question form, and test the LLM against them.")
    fidelity: bool = setting(False, "Decode a seeded sample of the test clips with the codec (those that can decode) and "
                             "score the audio against its input: SI-SDR, STFT and mel distances, and on speech STOI and "
                             "PESQ (the `fidelity` extra); in the report beside accuracy and bitrate.")
    fidelity_clips: int = setting(32, "Test clips decoded and scored per dataset fold and codec (--fidelity).", minimum=1)
    report_to: str = setting("none", "Experiment tracking of training losses and evaluation metrics, named by the run "
                             "folder: none, tensorboard (event files in <run>/tensorboard), wandb or mlflow (their own "
                             "settings from the environment).", choices=TRACKERS, panel="Output")
    cache_root: Path | None = setting(None, "Token and feature cache folder (default OUT/cache).", folder=True,
                                      panel="Output")


@dataclass(kw_only=True)
class DatasetLocation:
    """Where a dataset's corpus is and which of its folds run: ``prepare``'s options, a run's and a study's
    ``datasets`` entries."""

    PANEL = "Data"

    root: Path | None = setting(None, "Folder of the unpacked corpus in its official layout (see `codec-bench "
                                "datasets`; not needed for generated data or a hub mirror).")
    protocol: str | None = setting(None, "Split protocol (default: the dataset's first; see `codec-bench datasets`).")
    folds: list[str] | None = setting(None, "Folds to run (repeat the option; default: every fold of the protocol; "
                                      "`prepare` writes one, default the first).")
    source: str = setting("local", "local (official layout under the root) or hub (the known Hugging Face mirror).",
                          choices=SOURCES)


@dataclass(kw_only=True)
class Output:
    """Where a command writes."""

    PANEL = "Output"

    out: Path = setting(Path("runs"), "Output folder: manifests, token and feature caches, runs, report.", folder=True)


@dataclass(kw_only=True)
class RunConfig(SharedSettings, DatasetLocation, Output):
    """One dataset under one protocol (all its folds, or the ones listed), one codec, one model, one recipe."""

    PANEL = "Output"

    dataset: str = setting(help="Dataset name (`codec-bench datasets`): the argument of `run`, a study's `datasets` "
                           "entry's `name`.", cli=False, yaml=False)
    dataset_options: dict = setting(help="Options of the dataset's loader (a study's `datasets` entry's `options`).",
                                    factory=dict, cli=False, yaml=False)
    codec: CodecConfig = dataclasses.field(default_factory=CodecConfig)  # the parts: settings of their own
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    sources: dict = dataclasses.field(default_factory=dict, compare=False)  # setting key -> where its value came from

    @property
    def run_name(self) -> str:
        """``<recipe>`` plus ``-seed<N>`` for seeds other than 0: one run folder per recipe and seed."""
        name = self.train.name or self.train.method
        return name if self.train.seed == 0 else f"{name}-seed{self.train.seed}"

    @property
    def cache_folder(self) -> Path:
        return self.cache_root or Path(self.out) / "cache"


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


# flags renamed to their setting's one name (the study file's key with dashes): each stops with one line naming the new one
RENAMED_FLAGS = {"--lr": "--learning-rate", "--fold": "--folds", "--workers": "--codec-num-workers",
                 "--encode-batch-size": "--codec-batch-size", "--cache": "--cache-root"}
RUN_PARTS = {"": RunConfig, "codec": CodecConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig}


def run_settings() -> dict[str, tuple[str, dataclasses.Field]]:
    """Every setting of a run by its one name (:func:`core.settings.key_of`): key -> (part of RunConfig, field)."""
    found = {}
    for part, cls in RUN_PARTS.items():
        for field in dataclasses.fields(cls):
            if is_setting(field):
                found[key_of(field)] = (part, field)
    return found


def _default(field: dataclasses.Field) -> Any:
    return field.default_factory() if field.default is dataclasses.MISSING else field.default


def resolve(layers: list[tuple[str, dict]], task: str | None = None) -> RunConfig:
    """The one resolution of a run's settings, for every entry point: ``layers`` are (source, {setting key: value})
    pairs, later ones winning (a study file, then the command line); a setting none gives takes its default for the
    model and, given the corpus's ``task``, for the task (:func:`defaults_for`), else its field's default. Also:
    ``bf16`` loads the LLM in bfloat16 unless ``model_dtype`` is given; ``bpe`` reads unpatched tokens (patch 1) unless
    ``patch`` is given; the codec gets the options its constructor takes among ``codec_model`` (its ``model_id``),
    ``codec_dtype``, ``max_seconds`` and ``offline``. ``RunConfig.sources`` says where each value came from. Pure: the
    same layers and task give the same settings."""
    from .codecs import CODECS, is_front_end, options_of

    given, sources = {}, {}
    for source, values in layers:
        for key, value in values.items():
            if value is not None or key not in _AUTO:  # None on the command line: "decided by the model and task"
                given[key], sources[key] = value, source
    defaults = defaults_for(given.get("model", EMBEDDED_MODEL), task)
    if "bf16" in given and given["bf16"] and "model_dtype" not in given:
        defaults["model_dtype"] = ("bfloat16", sources["bf16"])
    if given.get("bpe") and "patch" not in given:  # acoustic BPE merges unpatched tokens
        defaults["patch"] = (1, sources["bpe"])
    parts: dict[str, dict] = {part: {} for part in RUN_PARTS}
    for key, (part, field) in run_settings().items():
        if key in given:
            value = given[key]
        elif key in defaults:
            value, sources[key] = defaults[key]
        else:
            value, sources[key] = _default(field), BUILT_IN
        parts[part][field.name] = value
    codec_name, bpe = parts["codec"]["name"], parts["codec"]["bpe"]
    if bpe and "codec" not in given and codec_name in CODECS and is_front_end(codec_name):
        raise CodecBenchError(f"--bpe {bpe}: merges codec units, but the default codec of a "
                              f"{str(task).replace('_', '-')} dataset with {_KINDS[model_kind(parts['model']['name'])]} is "
                              f"{codec_name} (continuous features, no units); pass --codec embedded (or another token codec) "
                              "with --bpe")
    codec = CodecConfig(**parts["codec"])
    model = ModelConfig(**parts["model"])
    flags = {"dtype": codec.dtype, "max_seconds": codec.max_seconds, "model_id": codec.model,
             "offline": True if model.offline else None}
    accepted = options_of(codec.name) if codec.name in CODECS else {}
    codec.options = dict(codec.options) | {k: v for k, v in flags.items() if k in accepted and v is not None}
    return RunConfig(**parts[""], codec=codec, model=model, train=TrainConfig(**parts["train"]),
                     eval=EvalConfig(**parts["eval"]), sources=sources)


_AUTO = {key for key, (_, field) in run_settings().items() if field.metadata.get("cli_default") is None}


def settings_table(config: RunConfig) -> dict[str, dict]:
    """Every setting of a run with its value and where it came from: key -> {"value", "source"} (JSON values), as
    ``--dry-run`` prints it and ``run.json`` keeps it."""
    parts = {"": config, "codec": config.codec, "model": config.model, "train": config.train, "eval": config.eval}
    table = {}
    for key, (part, field) in run_settings().items():
        value = getattr(parts[part], field.name)
        table[key] = {"value": _json_value(value), "source": config.sources.get(key, BUILT_IN)}
    return table


def _json_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


# --- names derived from the settings -------------------------------------------------------------------------

def model_tag(name: str) -> str:
    return "tiny-llama" if name == EMBEDDED_MODEL else re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name or name)


def model_label(model: ModelConfig) -> str:
    """The model in results and folder names: its ``label``, else :func:`model_tag` of its name."""
    return model.label or model_tag(model.name)


def codec_label(codec, label: str | None = None, codebooks: str = "interleave", patch: int = 1, bpe: int = 0) -> str:
    """The codec as results name it (the cache key is not used: a fitted codec has a new key per fold, and folds
    must aggregate); see :func:`codec_name`."""
    return codec_name(codec.name, getattr(codec, "dtype", "float32"), label, codebooks, patch, bpe)


def codec_name(name: str, dtype: str = "float32", label: str | None = None, codebooks: str = "interleave",
               patch: int = 1, bpe: int = 0) -> str:
    """``label`` when given, else the registry name plus the precision when not the exact float32, then how the LLM
    reads the codes (:func:`reading_tag`): the codec's name in results, reports and study cell files."""
    if label:
        return label
    name = name if dtype == "float32" else f"{name}-{dtype}"
    return name + reading_tag(codebooks, patch, bpe)


def reading_tag(codebooks: str = "interleave", patch: int = 1, bpe: int = 0) -> str:
    """How the LLM reads the codes, in run folder names: ``-sum`` for summed codebooks, ``-p<k>`` for k frames per
    position, ``-bpe<n>`` for n merged units (empty for the default), so runs that read the same cache differently
    never share a model."""
    return ("-sum" if codebooks == "sum" else "") + (f"-p{patch}" if patch > 1 else "") + (f"-bpe{bpe}" if bpe else "")
