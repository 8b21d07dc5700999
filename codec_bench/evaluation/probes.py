"""Reference rows without fine-tuning (ARCH-style probes), on the same splits and metrics as the LLM.

Two kinds of clip vectors, each probed two ways:

- ``codec``: what the tokens carry by themselves, the codec's own ``probe_vector`` of a clip's codes (each codec
  says what that is: the embedded codec averages the k-means centroids of its codes; a codec with at most 4,096
  codes gives their normalised histogram; a larger one (XCodec2: 65,536 codes) the mean of the base LLM's
  input-embedding rows of its speech tokens ``<|s_N|>``).
- ``llm``: the base (not fine-tuned) LLM's last hidden states, averaged over the speech-token positions of the
  prompt (:func:`llm_hidden_states`). With the embedded tiny model the base is a random initialisation, so this
  row measures random features.

Probes: ``linear`` (standardised logistic regression, one per label for multi-label; ``baseline.fit_predict``)
and ``knn`` (cosine k-nearest-neighbour vote fractions), the regression's ``C`` and the vote's ``k`` chosen on the
validation split (``tuning``, in each row's ``choices``). Methods are named ``probe_<probe>_<vectors>``.
``zero_shot_records`` scores the base LLM exactly like the fine-tuned one (method ``zero_shot``).
Both cache their records in ``folder/records.json``, like the baseline row (``study.evaluate_stage.run_baseline``),
and take what they read beyond the data as one :class:`BaseRows` (not the run's whole settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from ..codecs.base import TokenCodec
from ..data.manifest import Manifest
from ..llm import vocab
from ..llm.encoder import PromptEncoder
from ..llm.model import for_inference, load_llm
from ..prompts import Example
from . import baseline, tuning
from .metrics import label_matrix
from .records import Record, RunName, cached_records, finish_records, label_scores, scoring_records


def speech_token_embeddings(model, encoder: PromptEncoder) -> torch.Tensor:
    """``(codebook_size, hidden)``: the input-embedding rows of ``<|s_0|>`` ... in code order (a view when the
    tokenizer numbers them consecutively, as Llasa's does; a copy otherwise)."""
    ids = encoder.speech_table
    weight = model.get_input_embeddings().weight.detach()
    if np.array_equal(ids, ids[0] + np.arange(len(ids))):
        return weight[int(ids[0]): int(ids[0]) + len(ids)]
    return weight[torch.from_numpy(ids).to(weight.device)]


@torch.inference_mode()
def llm_hidden_states(model, encoder: PromptEncoder, examples: Sequence[Example], layer: int = -1) -> np.ndarray:
    """``(n_examples, hidden) float32``: hidden states of ``layer`` averaged over each prompt's speech tokens
    (one prompt per forward pass, so no padding enters the mean)."""
    speech_ids = torch.from_numpy(encoder.speech_table)
    device = next(model.parameters()).device
    out = np.zeros((len(examples), model.config.hidden_size), dtype=np.float32)
    for row, example in enumerate(examples):
        ids = torch.tensor(encoder.prompt_ids(example))
        speech = torch.isin(ids, speech_ids).to(device)
        hidden = model(input_ids=ids[None].to(device), output_hidden_states=True, logits_to_keep=1).hidden_states[layer][0]
        out[row] = (hidden[speech] if speech.any() else hidden).float().mean(0).cpu().numpy()
    return out


def linear_probe(train_x: np.ndarray, train_labels: Sequence[Sequence[str]], eval_x: np.ndarray, task: str,
                 classes: Sequence[str], seed: int = 0, C: float = 1.0) -> np.ndarray:
    """``(n_eval, n_classes)`` probabilities of standardised logistic regression (one-vs-rest for multi-label, inverse
    regularisation ``C``) fitted on ``train_x: (n_train, dim)`` with each row's labels."""
    train = {str(i): x for i, x in enumerate(train_x)}
    labels = {str(i): list(l) for i, l in enumerate(train_labels)}
    return baseline.fit_predict(task, classes, train, labels, {str(i): x for i, x in enumerate(eval_x)}, seed, C)


def knn(train_x: np.ndarray, train_labels: Sequence[Sequence[str]], eval_x: np.ndarray, task: str,
        classes: Sequence[str], k: int = 10) -> np.ndarray:
    """``(n_eval, n_classes)``: the fraction of the ``k`` nearest training rows (cosine similarity) holding each
    label. Single-label rows sum to 1; multi-label entries are independent fractions. ``task`` only documents."""
    member = label_matrix(train_labels, classes)
    neighbours = NearestNeighbors(n_neighbors=min(k, len(train_x)), metric="cosine", algorithm="brute")
    nearest = neighbours.fit(np.asarray(train_x, dtype=np.float64)).kneighbors(np.asarray(eval_x, dtype=np.float64),
                                                                            return_distance=False)
    return member[nearest].mean(1)


PROBES: dict[str, Callable[..., np.ndarray]] = {"linear": linear_probe, "knn": knn}
# each probe's setting chosen on the validation split (``tuning``): its name, grid and default without validation
PROBE_SETTINGS: dict[str, tuple[str, tuple, float | int]] = {"linear": ("C", tuning.C_GRID, 1.0),
                                                             "knn": ("k", tuning.K_GRID, 10)}


@dataclass(frozen=True)
class BaseRows:
    """What the probe and zero-shot rows read beyond the data: the base LLM (``model_path``, loaded in ``dtype``,
    ``offline``; its speech-token rows added with ``seed`` when ``add_speech_tokens``), the names and seed their
    records carry, the ``splits`` evaluated and ``out``, the folder that prediction paths are relative to."""

    model_path: str
    model_name: str
    codec_name: str
    dtype: str = "auto"
    offline: bool | None = None
    add_speech_tokens: bool = False
    seed: int = 0
    splits: tuple[str, ...] = ("validation", "test")
    out: Path = Path(".")


def run_probes(rows: BaseRows, manifest: Manifest, codec: TokenCodec, codes: Mapping[str, np.ndarray],
               examples: dict[str, Sequence[Example]], folder: Path) -> list[Record]:
    """Probe records (``probe_{linear,knn}_{codec,llm}``) on the evaluated splits, trained on the training split;
    cached in ``folder/records.json`` (built once, under a lock: the recipes of one codec and model share it)."""
    folder = Path(folder)
    return cached_records(folder, "probe rows", lambda: _probe_records(rows, manifest, codec, codes, examples, folder),
                          [s for s in rows.splits if examples.get(s)])


def _probe_records(rows: BaseRows, manifest: Manifest, codec: TokenCodec, codes: Mapping[str, np.ndarray],
                   examples: dict[str, Sequence[Example]], folder: Path) -> list[Record]:
    splits = [s for s in rows.splits if examples.get(s)]
    read = [s for s in dict.fromkeys(["train", "validation"] + splits) if examples.get(s)]  # validation chooses C and k
    model, encoder = _base_llm(rows, codec, codes)
    table = speech_token_embeddings(model, encoder) if codec.needs_token_embeddings() else None
    vectors = {
        "codec": {s: np.stack([codec.probe_vector(codes[e.id], table) for e in examples[s]]) for s in read},
        "llm": {s: llm_hidden_states(model, encoder, examples[s]) for s in read},
    }
    del model, table
    train_labels = [e.answer_items for e in examples["train"]]
    validation_labels = [e.answer_items for e in examples["validation"]] if "validation" in read else []
    llm_name = rows.model_name + "/base"
    records: list[Record] = []
    for source, x in vectors.items():
        for name, probe in PROBES.items():
            def fitted(value, split: str, probe=probe, x=x, setting=PROBE_SETTINGS[name][0]) -> np.ndarray:
                return probe(x["train"], train_labels, x[split], manifest.task, manifest.classes, **{setting: value})
            choice = tuning.choose(*PROBE_SETTINGS[name], lambda value: fitted(value, "validation"), validation_labels,
                                   manifest.task, manifest.classes)
            scores = {s: fitted(choice.value, s) for s in splits}
            run = RunName(rows.codec_name, "none" if source == "codec" else llm_name, f"probe_{name}_{source}", rows.seed)
            split_examples = {s: examples[s] for s in splits}
            found = scoring_records(manifest, scores, split_examples, folder, run, rows.out)
            for record in found:
                record.choices = choice.choices() | record.choices
            records += found
    return finish_records(folder, records, rows)


def zero_shot_records(rows: BaseRows, manifest: Manifest, codec: TokenCodec, codes: Mapping[str, np.ndarray],
                      examples: dict[str, Sequence[Example]], folder: Path) -> list[Record]:
    """The base LLM, not fine-tuned, scored like the fine-tuned one (method ``zero_shot``); cached in
    ``folder/records.json`` (built once, under a lock)."""
    folder = Path(folder)
    return cached_records(folder, "zero-shot rows", lambda: _zero_shot(rows, manifest, codec, codes, examples, folder),
                          [s for s in rows.splits if examples.get(s)])


def _zero_shot(rows: BaseRows, manifest: Manifest, codec: TokenCodec, codes: Mapping[str, np.ndarray],
               examples: dict[str, Sequence[Example]], folder: Path) -> list[Record]:
    model, encoder = _base_llm(rows, codec, codes)
    splits = [s for s in rows.splits if examples.get(s)]
    scores, _ = label_scores(model, encoder, examples, splits, manifest, folder)
    run = RunName(rows.codec_name, rows.model_name + "/base", "zero_shot", rows.seed)
    records = scoring_records(manifest, scores, {s: examples[s] for s in splits}, folder, run, rows.out)
    return finish_records(folder, records, rows)


def _base_llm(rows: BaseRows, codec: TokenCodec, codes: Mapping[str, np.ndarray]):
    """The base model in eval mode (on the GPU when there is one) and its prompt encoder. A model that needs the
    speech tokens added (``add_speech_tokens``) gets them exactly as training starts with (same rows, same seed):
    untrained rows, so its zero-shot row shows what the LLM makes of the prompt text alone."""
    model, tokenizer = load_llm(rows.model_path, rows.dtype, rows.offline, attn_implementation="sdpa")
    n_codes = codec.speech_tokens
    if rows.add_speech_tokens:
        vocab.add_speech_tokens(model, tokenizer, n_codes, rows.seed)
    return for_inference(model), PromptEncoder(tokenizer, codec.codebook_size, codes, codec.num_codebooks)
