"""Getting an LLM: load a causal LM and its tokenizer (or a fine-tuned run's), build the embedded tiny one, add LoRA.

Two ways to get a model, one loading path (``from_pretrained(id_or_path)``):

- the paper's setup: ``HKUSTAudio/Llasa-1B-Multilingual`` (hub id or local path), whose tokenizer is Llama-3's
  plus Llasa's markers and ``<|s_0|>`` ... ``<|s_65535|>``;
- the embedded default: :func:`build_tiny_llm` writes a small byte-level BPE tokenizer with the same marker and
  speech-token strings and a randomly initialised tiny ``LlamaForCausalLM`` into a folder, trained from scratch.

Turning prompts into ids is ``encoder``'s.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from ..core import io
from ..core.errors import CodecBenchError
from ..loading import looks_like_path, offline_mode
from ..prompts import MARKERS, speech_token
from . import vocab
from .projector import load_projector

LLASA_ID = "HKUSTAudio/Llasa-1B-Multilingual"
BOS, EOS, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# width 128: chosen on both demo tasks' validation splits against width 192 (the comparison: docs/performance.md)
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
    trainer = trainers.BpeTrainer(
        vocab_size=text_vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
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
        return CodecBenchError(
            f"{model_id}: cannot load the model from this folder ({first}); it needs config.json, safetensors weights and the "
            "tokenizer files"
        )
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


def parameter_count(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


def load_trained(model_dir: Path, dtype: str = "auto", offline: bool | None = None):
    """Load a fine-tuned model from ``model_dir``: full weights, or a LoRA adapter merged into its base model (with
    the trained vocabulary of added speech tokens), and a continuous front-end's projector."""
    if (model_dir / "adapter_config.json").is_file():
        from peft import PeftModel

        base_id = io.read_json(model_dir / "adapter_config.json")["base_model_name_or_path"]
        model, tokenizer = load_llm(base_id, dtype, offline, attn_implementation="sdpa")
        if (model_dir / "tokenizer_config.json").is_file():  # the trained vocabulary (added speech tokens)
            tokenizer = load_tokenizer(str(model_dir), offline)
            if vocab.embedding_rows(model, tokenizer) != model.get_input_embeddings().weight.shape[0]:
                model.resize_token_embeddings(vocab.embedding_rows(model, tokenizer), mean_resizing=False)
        load_projector(model, model_dir)  # the adapter's trained copy replaces it, then it is reloaded below
        model = PeftModel.from_pretrained(model, str(model_dir)).merge_and_unload()
    else:  # scoring passes a 4-D tree mask, which SDPA takes and flash-attention does not
        model, tokenizer = load_llm(str(model_dir), dtype, offline, attn_implementation="sdpa")
    load_projector(model, model_dir)
    return model, tokenizer


def for_inference(model):
    """``model`` in eval mode, on the GPU when there is one (scoring, generation, probes, predict)."""
    model.eval()
    return model.cuda() if torch.cuda.is_available() else model


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean attention mask (True: may attend) as the additive float mask every attention implementation takes
    (0 where allowed, the dtype's minimum elsewhere); a boolean 4D mask works with sdpa only."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)
