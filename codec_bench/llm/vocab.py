"""Give any causal LM Llasa's token strings: the 8 markers and ``<|s_0|>`` ... ``<|s_{N-1}|>`` (and, for acoustic
BPE, ``<|bpe_k|>`` per merged unit: :func:`add_unit_tokens`).

A Llasa checkpoint already has them (nothing is added); any other hub LM (Llama-3.2, Qwen2.5, SmolLM2, ...) gets
them as special tokens and new embedding rows, which are then trained (full fine-tuning: with everything; LoRA:
only the new rows, through peft's ``trainable_token_indices``).

Initialisation of the new rows: the mean of the model's existing rows plus Gaussian noise with 1% of the existing
rows' per-dimension standard deviation, for the input embedding and, when not tied, the output projection
(``lm_head``) likewise. The mean keeps the new tokens' logits and hidden states at the scale of real tokens (so
the first steps neither explode nor ignore them, as argued by Hewitt 2021, "Initializing new word embeddings");
the small noise breaks the symmetry between the N codec tokens so they can become distinguishable.

The embedding matrix keeps at least its current number of rows: some models (Qwen2.5) have unused padding rows
past ``len(tokenizer)``, and new tokens then take those ids; their rows are re-initialised the same way.
:func:`embedding_rows` gives the size, so evaluation can rebuild the trained model's shape from the saved
tokenizer.
"""

from __future__ import annotations

import torch

from ..prompts import MARKERS, speech_token
from .unit_bpe import UnitBPE, unit_token

NOISE_SCALE = 0.01


def speech_token_strings(n: int) -> list[str]:
    """The 8 markers and the ``n`` codec tokens, in the order they are added."""
    return list(MARKERS) + [speech_token(i) for i in range(n)]


def missing_speech_tokens(tokenizer, n: int) -> list[str]:
    """The markers and ``<|s_k|>`` (k < n) that ``tokenizer`` lacks, in order."""
    vocab = tokenizer.get_vocab()
    return [t for t in speech_token_strings(n) if t not in vocab]


def token_ids(tokenizer, tokens: list[str]) -> list[int]:
    return [int(i) for i in tokenizer.convert_tokens_to_ids(tokens)]


def embedding_rows(model, tokenizer) -> int:
    """Rows the embedding needs for ``tokenizer``: never fewer than the model has now."""
    return max(model.get_input_embeddings().weight.shape[0], len(tokenizer))


def embedding_layers(model) -> list:
    """The layers with a row per token: the input embedding and, when not tied to it, the output projection."""
    layers = [model.get_input_embeddings()]
    output = model.get_output_embeddings()
    if output is not None and output.weight is not layers[0].weight:
        layers.append(output)
    return layers


def add_speech_tokens(model, tokenizer, n: int, seed: int = 0) -> int:
    """Add the missing markers and speech tokens to ``tokenizer`` (as special tokens), resize ``model``'s
    embeddings and initialise the new rows (see the module doc). Returns how many tokens (rows) were added."""
    missing = missing_speech_tokens(tokenizer, n)
    if not missing:
        return 0
    old_rows = model.get_input_embeddings().weight.shape[0]
    old_len = len(tokenizer)
    tokenizer.add_tokens(missing, special_tokens=True)
    new_ids = token_ids(tokenizer, missing)
    model.resize_token_embeddings(embedding_rows(model, tokenizer), mean_resizing=False)
    # rows that held real tokens before: ids below the old tokenizer length and the old matrix size
    known = min(old_len, old_rows)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in embedding_layers(model):
            weight = layer.weight
            existing = weight[:known].float()
            mean, std = existing.mean(0), existing.std(0)
            noise = torch.randn((len(new_ids), weight.shape[1]), generator=generator) * std * NOISE_SCALE
            weight[new_ids] = (mean + noise).to(weight.dtype)
            bias = getattr(layer, "bias", None)
            if bias is not None and bias.shape[0] == weight.shape[0]:
                bias[new_ids] = bias[:known].float().mean().to(bias.dtype)
    model.config.vocab_size = model.get_input_embeddings().weight.shape[0]
    return len(new_ids)


def add_unit_tokens(model, tokenizer, units: UnitBPE) -> list[int]:
    """Add ``<|bpe_k|>`` for each merged unit of acoustic BPE (``unit_bpe``) that ``tokenizer`` lacks, resize
    ``model``'s embeddings and start each new row as the mean of the rows of the speech tokens ``<|s_u|>`` it spells
    (input embedding and, when untied, the output projection): a merged unit begins as what it stands for. Returns
    the ids of every merged unit's token (for LoRA's trainable rows)."""
    tokens = [unit_token(k) for k in range(units.merged_units)]
    vocabulary = tokenizer.get_vocab()
    missing = {k: t for k, t in enumerate(tokens) if t not in vocabulary}
    if missing:
        tokenizer.add_tokens(list(missing.values()), special_tokens=True)
        model.resize_token_embeddings(embedding_rows(model, tokenizer), mean_resizing=False)
        layers = embedding_layers(model)
        with torch.no_grad():
            for k, token in missing.items():
                spelled = token_ids(tokenizer, [speech_token(u) for u in units.spelling(units.units + k)])
                row = token_ids(tokenizer, [token])[0]
                for layer in layers:
                    layer.weight[row] = layer.weight[spelled].float().mean(0).to(layer.weight.dtype)
        model.config.vocab_size = model.get_input_embeddings().weight.shape[0]
    return token_ids(tokenizer, tokens)


def trainable_token_indices(model, ids: list[int]) -> dict[str, list[int]]:
    """peft ``trainable_token_indices`` for the new rows: the input embedding and, when untied, the output
    projection (peft ties the output itself for tied weights)."""
    names = {m: name.rsplit(".", 1)[-1] for name, m in model.named_modules()}
    out = {names[model.get_input_embeddings()]: list(ids)}
    output = model.get_output_embeddings()
    if output is not None and output.weight is not model.get_input_embeddings().weight and output in names:
        out[names[output]] = list(ids)
    return out
