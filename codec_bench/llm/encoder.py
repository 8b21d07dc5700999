"""Prompts -> the LLM's inputs: token ids with the audio slot filled, for every way a clip's audio reaches the LLM.

- :class:`PromptEncoder`: speech tokens ``<|s_N|>`` for a token codec's codes (several codebooks interleaved);
- :class:`SummedCodesPromptEncoder`: one position per frame, the sum of its codebooks' speech-token embeddings;
- :class:`ContinuousPromptEncoder`: a front-end's feature frames through the trained projector (``projector``);
- :class:`UnitBpePromptEncoder`: speech tokens after acoustic BPE (``unit_bpe``): merged units as ``<|bpe_k|>``.

Each but the first can read ``patch`` consecutive frames as one position (``patching``: token embeddings summed,
feature frames concatenated), so a clip takes ``ceil(frames / patch)`` audio positions.

:func:`prompt_encoder` picks the one a codec needs. Token ids are only ever found by looking their strings up in the
tokenizer. Answers are tokenized item by item, the same way for training, scoring and generation.
"""

from __future__ import annotations

import functools
from typing import Mapping, Sequence

import numpy as np
import torch

from ..codecs.base import ClipEncoder, FeatureFrontEnd, TokenCodec
from ..core.errors import CodecBenchError
from ..prompts import AUDIO_SLOT, ITEM_SEPARATOR, MARKERS, NO, QUESTION_MARK, TEXT_GENERATION_END, YES, Example, speech_token
from .patching import patch_frames, patch_token_ids, patched_length
from .projector import embed_with_audio
from .unit_bpe import UnitBPE, interleaved_units, unit_token


class PromptEncoder:
    """Prompts and answers -> token ids for one tokenizer.

    A prompt's text holds one audio slot (``prompts.AUDIO_SLOT``); this encoder fills it with the clip's speech
    tokens: ``audio[example.id]`` is ``codes: (num_codebooks, frames)``, interleaved frame by frame, codebook k
    offset by k * ``codebook_size`` (the ids of ``<|s_N|>`` are looked up by string once). The ids equal those of
    the tokenizer on the rendered prompt text (``prompts.render``), built without ever writing that text.
    ``audio`` may be lazy (``codecs.cached_codes.CachedCodes``): a clip's codes are read when its batch is built.

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
        self.questions: tuple[str, ...] = ()  # labels asked about in training (multi-label ``label_questions``)

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
    @functools.lru_cache(maxsize=65536)  # labels and questions are tokenized once, not once per example
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
        return (len(before) + self.audio_positions(example.id) + len(after) + len(self.answer_ids(example.answer_items))
                + self._questions_length(self.questions))

    @functools.lru_cache(maxsize=8)
    def _questions_length(self, questions: tuple[str, ...]) -> int:
        """Tokens the label questions add to a training example: each "<label>?" and its yes or no."""
        return sum(len(self.question_ids(label)) + 1 for label in questions)

    @functools.cached_property
    def yes_no_ids(self) -> tuple[int, int]:
        """The ids a label question is answered with: the first tokens of "yes" and "no" (one token each in Llama-3's
        vocabulary; bytes in the tiny LM's)."""
        yes, no = self.text_ids(YES), self.text_ids(NO)
        if not yes or not no or yes[0] == no[0]:
            raise CodecBenchError(f"the tokenizer cannot tell {YES!r} from {NO!r} by their first token; train without "
                                  "label questions (label_questions: false)")
        return yes[0], no[0]

    def question_ids(self, label: str) -> list[int]:
        """A label question: the label's ids and the question mark's (``"<label>?"``)."""
        return list(self.text_ids(label)) + list(self.text_ids(QUESTION_MARK))

    def with_questions(self, features: dict, example: Example) -> dict:
        """Append a yes/no question per label in ``self.questions`` to training ``features`` (prompt + answer) as
        branches of a tree: ``branch`` is -1 on the prompt, 0 on the answer and k on question k; each branch sees the
        prompt and itself only and its positions restart after the prompt (the collator builds the mask and the
        positions), so one forward trains the answer and every question. Labels: the answer's ids, and on each
        question its yes or no (the question's own ids are not predicted)."""
        if not self.questions:
            return features
        prompt = sum(1 for label in features["labels"] if label == -100)
        branch = [-1] * prompt + [0] * (len(features["input_ids"]) - prompt)
        yes, no = self.yes_no_ids
        present = set(example.answer_items)
        ids, labels = list(features["input_ids"]), list(features["labels"])
        for k, label in enumerate(self.questions, 1):
            question = self.question_ids(label)
            answer = yes if label in present else no
            ids += question + [answer]
            labels += [-100] * len(question) + [answer]
            branch += [k] * (len(question) + 1)
        return features | {"input_ids": ids, "labels": labels, "branch": branch}

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
        return self.with_questions({"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer}, example)

    def decode(self, ids: Sequence[int]) -> str:
        ids = list(ids)
        if self.end_id in ids:
            ids = ids[: ids.index(self.end_id)]
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def speech_id_table(tokenizer, codebook_size: int) -> np.ndarray:
    """``(codebook_size,) int64``: the id of ``<|s_N|>`` for each code N, looked up by string."""
    ids = np.asarray(tokenizer.convert_tokens_to_ids([speech_token(i) for i in range(codebook_size)]), dtype=np.int64)
    if tokenizer.unk_token_id is not None and np.any(ids == tokenizer.unk_token_id):
        raise CodecBenchError(
            "the tokenizer lacks some speech tokens <|s_N|>; use a Llasa checkpoint or pass --add-speech-tokens to add them"
        )
    return ids


class ContinuousPromptEncoder(PromptEncoder):
    """Prompts whose audio is feature frames: ``features[example.id]`` is ``(feature_dim, frames)`` (a lazy
    ``codecs.cached_codes.CachedCodes`` or a dict). ``patch``: that many consecutive frames concatenated into one
    position (``(positions, patch * feature_dim)``, the projector's input; ``patching.patch_frames``)."""

    def __init__(self, tokenizer, features: Mapping[str, np.ndarray], patch: int = 1):
        super().__init__(tokenizer, codebook_size=0, audio=features)
        self.patch = patch

    def _frames(self, clip_id: str) -> np.ndarray:
        """``(positions, patch * feature_dim)`` in the cache's dtype (float16 storage stays float16 until batched)."""
        return patch_frames(np.asarray(self.audio[clip_id]).T, self.patch)

    def _streams(self, clip_id: str) -> int:
        """Positions per patch of frames (interleaved codebooks: one per codebook)."""
        return 1

    def audio_positions(self, clip_id: str) -> int:
        """One position per ``patch`` frames (and per stream)."""
        return patched_length(clip_frames(self.audio, clip_id), self.patch) * self._streams(clip_id)

    def training_features(self, example: Example) -> dict:
        """As for tokens, with one pad id per frame in ``input_ids`` and ``audio: (frames, dim)`` starting at
        ``audio_start``."""
        before, after = self.text_parts(example.prompt)
        frames = self._frames(example.id)
        prompt = list(before) + [self.pad_id] * len(frames) + list(after)
        answer = self.answer_ids(example.answer_items)
        return self.with_questions({"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer,
                                    "audio": frames, "audio_start": len(before)}, example)

    def prefix(self, model, example: Example) -> torch.Tensor:
        """The prompt's input embeddings ``(time, hidden)`` on the model's device."""
        before, after = self.text_parts(example.prompt)
        frames = self._frames(example.id)
        device = model.get_input_embeddings().weight.device
        ids = torch.tensor([list(before) + [self.pad_id] * len(frames) + list(after)], device=device)
        positions = torch.zeros_like(ids, dtype=torch.bool)
        positions[0, len(before): len(before) + len(frames)] = True
        return embed_with_audio(model, ids, torch.tensor(np.array(frames))[None].to(device), positions)[0]

    def generation_inputs(self, model, examples: Sequence[Example]) -> tuple[dict, int]:
        """Left-padded ``inputs_embeds`` and ``attention_mask``; generate() then returns new tokens only (0)."""
        prefixes = [self.prefix(model, e) for e in examples]
        length = max(len(p) for p in prefixes)
        embeds = prefixes[0].new_zeros((len(prefixes), length, prefixes[0].shape[1]))
        mask = torch.zeros((len(prefixes), length), dtype=torch.long, device=embeds.device)
        for row, prefix in enumerate(prefixes):
            embeds[row, length - len(prefix):] = prefix
            mask[row, length - len(prefix):] = 1
        return {"inputs_embeds": embeds, "attention_mask": mask}, 0


class SummedCodesPromptEncoder(ContinuousPromptEncoder):
    """Multi-codebook codes read one position per frame: the input embedding of a frame is the sum of its
    codebooks' speech-token embeddings (``<|s_{k * codebook_size + code_k}|>``, the same rows the interleaved
    prompt uses), as MusicGen and Moshi feed RVQ codes. ``codes[example.id]`` is ``(num_codebooks, frames)``.

    ``patch`` > 1: the ids of ``patch`` consecutive frames are summed into one position too, all codebooks together
    (``sum_codebooks``) or one position per codebook, interleaved (``patching.patch_token_ids``)."""

    def __init__(self, tokenizer, codes: Mapping[str, np.ndarray], codebook_size: int, num_codebooks: int,
                 patch: int = 1, sum_codebooks: bool = True):
        super().__init__(tokenizer, codes, patch)
        self.table = speech_id_table(tokenizer, codebook_size * num_codebooks)
        self.offsets = (np.arange(num_codebooks) * codebook_size)[:, None]
        self.sum_codebooks = sum_codebooks

    def _frames(self, clip_id: str) -> np.ndarray:
        """``(positions, ids per position)`` int64 speech-token ids, -1 where a short last patch has none."""
        return patch_token_ids(self.table[np.asarray(self.audio[clip_id]) + self.offsets], self.patch, self.sum_codebooks)

    def _streams(self, clip_id: str) -> int:
        if self.sum_codebooks:
            return 1
        return self.audio.num_codebooks(clip_id) if hasattr(self.audio, "num_codebooks") else len(self.audio[clip_id])


class UnitBpePromptEncoder(PromptEncoder):
    """Speech tokens after acoustic BPE: a clip's interleaved units (``unit_bpe.interleaved_units``) with the run's
    merges applied; a unit u is ``<|s_u|>``, the k-th merged unit ``<|bpe_k|>`` (both looked up by string). A clip's
    positions are known only after merging: counted once per clip."""

    def __init__(self, tokenizer, codebook_size: int, audio: Mapping[str, np.ndarray] | None, num_codebooks: int,
                 units: UnitBPE):
        super().__init__(tokenizer, codebook_size, audio, num_codebooks)
        if units.units != self.speech_tokens:
            raise CodecBenchError(f"unit merges learned on {units.units} units, this codec has {self.speech_tokens}; "
                                  "delete the run folder to learn them again")
        self.units = units
        self.unit_table = np.concatenate([self.speech_table, unit_id_table(tokenizer, units.merged_units)])
        self._positions: dict[str, int] = {}

    def unit_ids(self, codes: np.ndarray) -> np.ndarray:
        """``codes: (num_codebooks, frames)`` -> ``(positions,)`` unit and merged-unit ids (``UnitBPE.encode``)."""
        return self.units.encode(interleaved_units(codes, self.codebook_size))

    def speech_ids(self, codes: np.ndarray) -> list[int]:
        return self.unit_table[self.unit_ids(codes)].tolist()

    def audio_positions(self, clip_id: str) -> int:
        if clip_id not in self._positions:
            self._positions[clip_id] = len(self.unit_ids(self.audio[clip_id]))
        return self._positions[clip_id]


def unit_id_table(tokenizer, merged_units: int) -> np.ndarray:
    """``(merged_units,) int64``: the id of ``<|bpe_k|>`` for each merged unit k, looked up by string."""
    tokens = [unit_token(k) for k in range(merged_units)]
    ids = tokenizer.convert_tokens_to_ids(tokens)
    lacking = [t for t, i in zip(tokens, ids) if i is None or i == tokenizer.unk_token_id]
    if lacking:
        raise CodecBenchError(f"the tokenizer of {getattr(tokenizer, 'name_or_path', 'this model')} has no token "
                              f"{lacking[0]}: it was not trained with this run's unit merges (--bpe); train the run again")
    return np.asarray(ids, dtype=np.int64)


def clip_frames(audio: Mapping[str, np.ndarray], clip_id: str) -> int:
    """Frames of a clip's codes or features (last axis), without reading them when the lazy cache knows its lengths."""
    return audio.frames(clip_id) if hasattr(audio, "frames") else int(np.asarray(audio[clip_id]).shape[-1])


def codec_vocabulary(codec: ClipEncoder) -> int:
    """Speech tokens the LLM needs: ``num_codebooks * codebook_size`` (0 for continuous features)."""
    return codec.speech_tokens if isinstance(codec, TokenCodec) else 0


def prompt_encoder(tokenizer, codec: ClipEncoder, codes: Mapping[str, np.ndarray], codebooks: str = "interleave",
                   patch: int = 1, units: UnitBPE | None = None) -> PromptEncoder:
    """The encoder that fills a prompt's audio slot with ``codes[clip id]``: speech tokens, continuous features
    through the projector, or summed codebooks; ``patch`` frames per position; ``units``: the run's acoustic-BPE
    merges (``--bpe``)."""
    if isinstance(codec, FeatureFrontEnd):
        return ContinuousPromptEncoder(tokenizer, codes, patch)
    if units is not None:
        return UnitBpePromptEncoder(tokenizer, codec.codebook_size, codes, codec.num_codebooks, units)
    if codebooks == "sum" or patch > 1:
        return SummedCodesPromptEncoder(tokenizer, codes, codec.codebook_size, codec.num_codebooks, patch, codebooks == "sum")
    return PromptEncoder(tokenizer, codec.codebook_size, codes, codec.num_codebooks)


def embeds_audio(codec: ClipEncoder, codebooks: str = "interleave", patch: int = 1) -> bool:
    """Whether the LLM reads the audio as input embeddings (continuous frames through the projector, summed
    codebooks, patched frames) rather than as speech tokens."""
    return isinstance(codec, FeatureFrontEnd) or codebooks == "sum" or patch > 1
