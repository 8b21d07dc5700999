"""The LLM side: load a causal LM and its tokenizer, turn prompt text into ids, add LoRA.

Two ways to get a model, one loading path (``from_pretrained(id_or_path)``):

- the paper's setup: ``HKUSTAudio/Llasa-1B-Multilingual`` (hub id or local path), whose tokenizer is Llama-3's
  plus Llasa's markers and ``<|s_0|>`` ... ``<|s_65535|>``;
- the embedded default: :func:`build_tiny_llm` writes a small byte-level BPE tokenizer with the same marker and
  speech-token strings and a randomly initialised tiny ``LlamaForCausalLM`` into a folder, trained from scratch.

Token ids are only ever found by looking up their strings in the tokenizer.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from ..core.errors import CodecBenchError
from ..core.hub import looks_like_path, offline_mode
from ..prompts import (
    AUDIO_SLOT,
    ITEM_SEPARATOR,
    MARKERS,
    TEXT_GENERATION_END,
    Example,
    speech_token,
)

LLASA_ID = "HKUSTAudio/Llasa-1B-Multilingual"
BOS, EOS, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# width 128 matched or beat width 192 on both demo tasks' validation splits at 0.6x the training time (docs/performance.md)
TINY_SIZES = {"hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 4, "num_attention_heads": 4,
              "num_key_value_heads": 2}


def build_tiny_llm(folder: str | Path, codebook_size: int, corpus: Sequence[str], seed: int = 0,
                   text_vocab_size: int = 600, sizes: dict | None = None) -> Path:
    """Write a tokenizer with Llasa's token strings and a random tiny Llama into ``folder``; returns it.

    The text part is a byte-level BPE trained on ``corpus`` (instructions and label names), so any text still
    tokenizes (bytes) while the words the task uses are single tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = Path(folder)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=text_vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(list(corpus), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    tokenizer.add_special_tokens({"additional_special_tokens": list(MARKERS)})
    tokenizer.add_tokens([speech_token(i) for i in range(codebook_size)], special_tokens=True)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), max_position_embeddings=4096, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        **(sizes or TINY_SIZES),
    )
    model = LlamaForCausalLM(config)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def load_tokenizer(model_id: str, offline: bool | None = None):
    try:
        return AutoTokenizer.from_pretrained(model_id, local_files_only=offline_mode(offline))
    except (OSError, ValueError) as err:
        raise _unreachable(model_id, err) from err


def load_llm(model_id: str, dtype: str = "auto", offline: bool | None = None, attn_implementation: str | None = None):
    """Load ``(model, tokenizer)`` from a hub id or local path; safetensors only, no remote code."""
    tokenizer = load_tokenizer(model_id, offline)
    torch_dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    try:
        model = AutoModelForCausalLM.from_pretrained(
            model_id, dtype=torch_dtype, local_files_only=offline_mode(offline), use_safetensors=True,
            attn_implementation=attn_implementation or default_attention(),
        )
    except (OSError, ValueError) as err:
        raise _unreachable(model_id, err) from err
    return model, tokenizer


def default_attention() -> str:
    """flash-attention 2 when installed and on a GPU, else PyTorch SDPA."""
    installed = importlib.util.find_spec("flash_attn") is not None
    return "flash_attention_2" if installed and torch.cuda.is_available() else "sdpa"


def _unreachable(model_id: str, err: Exception) -> CodecBenchError:
    first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
    if Path(model_id).expanduser().exists():
        return CodecBenchError(f"{model_id}: cannot load the model from this folder ({first}); it needs config.json, safetensors weights and the tokenizer files")
    if looks_like_path(model_id):
        return CodecBenchError(f"{model_id}: no such folder; pass an existing local model folder or a hub id such as {LLASA_ID}")
    return CodecBenchError(
        f"{model_id}: cannot load from the Hugging Face hub ({first}); on a machine with network run "
        f"`huggingface-cli download {model_id} --local-dir DIR`, then pass --model DIR"
    )


def apply_lora(model, rank: int = 16, alpha: int = 32, dropout: float = 0.05, targets: Sequence[str] = LORA_TARGETS,
               trainable_tokens: dict | None = None):
    """Wrap ``model`` with peft LoRA adapters on the attention and MLP projections (rank 16 by default);
    ``trainable_tokens`` (peft ``trainable_token_indices``) also trains those embedding rows (added tokens); an
    ``audio_projector`` (continuous features) is trained whole."""
    from peft import LoraConfig, get_peft_model

    trained_whole = ["audio_projector"] if hasattr(model, "audio_projector") else None  # continuous features' projector
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets), task_type="CAUSAL_LM",
                        trainable_token_indices=trainable_tokens or None, modules_to_save=trained_whole)
    return get_peft_model(model, config)


class PromptEncoder:
    """Prompts and answers -> token ids for one tokenizer.

    A prompt's text holds one audio slot (``prompts.AUDIO_SLOT``); this encoder fills it with the clip's speech
    tokens: ``audio[example.id]`` is ``codes: (num_codebooks, frames)``, interleaved frame by frame, codebook k
    offset by k * ``codebook_size`` (the ids of ``<|s_N|>`` are looked up by string once). The ids equal those of
    the tokenizer on the rendered prompt text (``prompts.render``), built without ever writing that text.
    ``audio`` may be lazy (``cache.CachedCodes``): a clip's codes are read when its batch is built.

    Answers are tokenized item by item (items, separator and end marker separately), the same way for training,
    scoring and generation, so a candidate label always has the ids it was trained with.
    """

    def __init__(self, tokenizer, codebook_size: int, audio: Mapping[str, np.ndarray] | None = None, num_codebooks: int = 1):
        self.tokenizer = tokenizer
        self.codebook_size = codebook_size
        self.num_codebooks = num_codebooks
        self.speech_tokens = codebook_size * num_codebooks  # 0: continuous features, no speech tokens
        self.audio = audio if audio is not None else {}
        self.end_id = self.token_id(TEXT_GENERATION_END)
        for marker in MARKERS:
            self.token_id(marker)
        if self.speech_tokens:
            self.token_id(speech_token(0))
            self.token_id(speech_token(self.speech_tokens - 1))
        self.bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.separator = self.text_ids(ITEM_SEPARATOR)

    def token_id(self, token: str) -> int:
        """Id of one token string; fails if the tokenizer lacks it (for example no speech tokens)."""
        ids = self.tokenizer.convert_tokens_to_ids([token])
        unk = self.tokenizer.unk_token_id
        if not ids or ids[0] is None or (unk is not None and ids[0] == unk):
            raise CodecBenchError(
                f"the tokenizer of {getattr(self.tokenizer, 'name_or_path', 'this model')} has no token {token}; "
                "use a Llasa checkpoint (speech tokens <|s_0|>...<|s_65535|>) or the embedded tiny model, "
                "or pass --add-speech-tokens to add them"
            )
        return int(ids[0])

    @functools.lru_cache(maxsize=65536)
    def text_ids(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @functools.lru_cache(maxsize=4096)
    def text_parts(self, prompt: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The ids before the audio slot (BOS included) and after it."""
        if prompt.count(AUDIO_SLOT) != 1:
            raise CodecBenchError(f"a prompt has no single {AUDIO_SLOT} (written by an older codec-bench?); "
                                  "delete the run's prompts/ folder to rebuild it")
        before, after = prompt.split(AUDIO_SLOT)
        return tuple(self.bos) + self.text_ids(before), self.text_ids(after)

    @functools.cached_property
    def speech_table(self) -> np.ndarray:
        return speech_id_table(self.tokenizer, self.speech_tokens)

    def speech_ids(self, codes: np.ndarray) -> list[int]:
        """``codes: (num_codebooks, frames)`` -> the ids of their interleaved speech tokens."""
        codes = np.asarray(codes, dtype=np.int64)
        offsets = np.arange(codes.shape[0])[:, None] * self.codebook_size
        return self.speech_table[(codes + offsets).T.reshape(-1)].tolist()

    def audio_positions(self, clip_id: str) -> int:
        """How many positions the clip's audio takes in the prompt (codebooks x frames), without reading it when
        ``audio`` knows its lengths."""
        if hasattr(self.audio, "frames"):
            return self.audio.frames(clip_id) * self.audio.num_codebooks(clip_id)
        return int(np.asarray(self.audio[clip_id]).size)

    def prompt_ids(self, example: Example) -> list[int]:
        before, after = self.text_parts(example.prompt)
        return list(before) + self.speech_ids(self.audio[example.id]) + list(after)

    def length(self, example: Example) -> int:
        """``len(training_features(example)["input_ids"])``, computed without reading the audio."""
        before, after = self.text_parts(example.prompt)
        return len(before) + self.audio_positions(example.id) + len(after) + len(self.answer_ids(example.answer_items))

    def prefix(self, model, example: Example) -> list[int]:
        """What scoring runs before the candidates: the prompt's ids (embeddings for continuous features)."""
        return self.prompt_ids(example)

    def generation_inputs(self, model, examples: Sequence[Example]) -> tuple[dict, int]:
        """Left-padded ``input_ids`` and ``attention_mask`` for ``generate``, and where new tokens start."""
        prompts = [self.prompt_ids(e) for e in examples]
        length = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(prompts):
            ids[row, length - len(p):] = torch.tensor(p)
            mask[row, length - len(p):] = 1
        device = next(model.parameters()).device
        return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}, length

    @functools.lru_cache(maxsize=4096)
    def _answer_ids(self, items: tuple[str, ...]) -> tuple[int, ...]:
        ids: list[int] = []
        for i, item in enumerate(items):
            ids += (list(self.separator) if i else []) + list(self.text_ids(item))
        return tuple(ids + [self.end_id])

    def answer_ids(self, items: Sequence[str]) -> list[int]:
        return list(self._answer_ids(tuple(items)))

    def training_features(self, example: Example) -> dict:
        """``input_ids`` = prompt + answer; ``labels`` = -100 on the prompt, the answer ids on the answer
        (unshifted, as in transformers; the loss shifts them)."""
        prompt = self.prompt_ids(example)
        answer = self.answer_ids(example.answer_items)
        return {"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer}

    def decode(self, ids: Sequence[int]) -> str:
        ids = list(ids)
        if self.end_id in ids:
            ids = ids[: ids.index(self.end_id)]
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def speech_id_table(tokenizer, codebook_size: int) -> np.ndarray:
    """``(codebook_size,) int64``: the id of ``<|s_N|>`` for each code N, looked up by string."""
    ids = np.asarray(tokenizer.convert_tokens_to_ids([speech_token(i) for i in range(codebook_size)]), dtype=np.int64)
    if tokenizer.unk_token_id is not None and np.any(ids == tokenizer.unk_token_id):
        raise CodecBenchError("the tokenizer lacks some speech tokens <|s_N|>; use a Llasa checkpoint or pass --add-speech-tokens to add them")
    return ids


def parameter_count(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total
