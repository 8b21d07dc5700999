"""Random-weight models of the real classes, for tests and benches (no download, deterministic for a seed).

Default initialisation (std 0.02) is too gentle for checks: an XCodec2 sends every frame to one code and a
Llama predicts near-uniform tokens, so an equality check would pass for almost any bug. These helpers rescale
weights to fan-in scale, which gives varied codes and peaked next-token distributions.

:func:`write_tiny_models` saves tiny random models of every codec and LLM class a codec comparison uses
(``codec-bench tiny-models``), so ``configs/codec-comparison-smoke.yaml`` runs the study's grid offline on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Xcodec2Config, Xcodec2Model

# Llasa-1B's shape (hidden 2048, 16 layers, 32 heads, 8 KV heads, vocab 193,800, tied embeddings)
LLASA_1B_SHAPE = {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
                  "num_key_value_heads": 8, "vocab_size": 193_800}
SMALL_LLAMA_SHAPE = {"hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4, "num_attention_heads": 4,
                     "num_key_value_heads": 2, "vocab_size": 32_000}


def random_llama(real_size: bool, device: torch.device | str = "cpu", seed: int = 0, **config) -> LlamaForCausalLM:
    """A Llama of Llasa-1B's shape (``real_size``) or a small one, with fan-in scaled random weights."""
    torch.manual_seed(seed)
    shape = LLASA_1B_SHAPE if real_size else SMALL_LLAMA_SHAPE
    llama_config = LlamaConfig(**shape, tie_word_embeddings=True, max_position_embeddings=4096, **config)
    with torch.device(device):
        model = LlamaForCausalLM(llama_config)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module.weight is not model.model.embed_tokens.weight:
                module.weight.normal_(0, module.in_features ** -0.5)
        model.model.embed_tokens.weight.normal_(0, 3 * model.config.hidden_size ** -0.5)  # tied: logits std ~3
    return model


def small_xcodec2_config(hidden: int = 128, semantic: int = 128, kernel: int = 31) -> Xcodec2Config:
    """The real 50 Hz frame rate (hop 320) and 65,536 FSQ codes; widths and depths cut for a CPU."""
    semantic_config = {"model_type": "wav2vec2-bert", "hidden_size": semantic, "num_hidden_layers": 2,
                       "num_attention_heads": max(1, semantic // 32), "intermediate_size": 2 * semantic,
                       "output_hidden_size": semantic, "conv_depthwise_kernel_size": kernel}
    return Xcodec2Config(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=1, num_attention_heads=hidden // 32,
                         num_key_value_heads=hidden // 32, head_dim=32, encoder_hidden_size=4,
                         semantic_model_config=semantic_config, quantization_dim=hidden + semantic)


def random_xcodec2(config: Xcodec2Config | None = None, device: torch.device | str = "cpu", seed: int = 0) -> Xcodec2Model:
    """An XCodec2 (default: the real 629M-parameter config) with fan-in scaled random weights, in eval mode."""
    torch.manual_seed(seed)
    with torch.device(device):
        model = Xcodec2Model(config or Xcodec2Config())
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv1d)):
                module.weight.normal_(0, module.weight[0].numel() ** -0.5)
        model.quantizer.project_in.weight.mul_(3)
    return model.eval()


# ----- tiny EnCodec / DAC / Mimi / X-Codec -----

TINY_CODEC_SR = 800  # tiny codecs run at 800 Hz; hop 8 (EnCodec, DAC, X-Codec) or 16 (Mimi), 16 codes per codebook
TINY_CODEC_FAMILIES = ("encodec", "dac", "mimi", "xcodec")


def tiny_codec_model(family: str) -> torch.nn.Module:
    """A tiny random ``EncodecModel``, ``DacModel``, ``MimiModel`` or ``XcodecModel`` at ``TINY_CODEC_SR`` Hz with
    16-code codebooks (seed 0); codebooks are randomised so codes vary (the classes start them as zeros)."""
    from transformers import (
        DacConfig,
        DacModel,
        EncodecConfig,
        EncodecModel,
        HubertConfig,
        MimiConfig,
        MimiModel,
        XcodecConfig,
        XcodecModel,
    )

    if family not in TINY_CODEC_FAMILIES:
        raise ValueError(f"unknown tiny codec family {family!r}; choose one of {', '.join(TINY_CODEC_FAMILIES)}")
    sr = TINY_CODEC_SR
    torch.manual_seed(0)
    if family == "encodec":  # 100 frames/s x 4 bits = 0.4 kbps per codebook: 0.4 -> 1 codebook, 0.8 -> 2
        model = EncodecModel(EncodecConfig(
            num_filters=4, hidden_size=8, upsampling_ratios=[4, 2], codebook_size=16, num_lstm_layers=1,
            target_bandwidths=[0.4, 0.8], sampling_rate=sr, kernel_size=3, last_kernel_size=3))
    elif family == "dac":
        model = DacModel(DacConfig(encoder_hidden_size=4, downsampling_ratios=[2, 4], decoder_hidden_size=8,
                                   n_codebooks=3, codebook_size=16, codebook_dim=4, sampling_rate=sr))
    elif family == "xcodec":  # 100 frames/s x 4 bits = 0.4 kbps per codebook: 0.4 -> 1, 0.8 -> 2, 1.6 -> 4
        model = XcodecModel(XcodecConfig(
            target_bandwidths=[0.4, 0.8, 1.6], sample_rate=sr, codebook_size=16, codebook_dim=8, channel_ratios=[1],
            strides=[1], block_dilations=[1],
            acoustic_model_config=dict(encoder_hidden_size=2, downsampling_ratios=[2, 4], upsampling_ratios=[4, 2],
                                       decoder_hidden_size=8, hidden_size=4, n_codebooks=1, codebook_size=4,
                                       codebook_dim=2, sampling_rate=sr),
            # HuBERT convs of strides 2 x 4 (= the hop), receptive field 10: on the clip padded by half a hop per side
            # they give the acoustic encoder's frame count (as HuBERT's 400 samples do for hop 320)
            semantic_model_config=HubertConfig(
                hidden_size=4, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8, conv_dim=(4, 4),
                conv_kernel=(4, 4), conv_stride=(2, 4), num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2,
                vocab_size=4)))
    else:
        model = MimiModel(MimiConfig(
            hidden_size=16, num_filters=4, upsampling_ratios=[4, 2], codebook_size=16, codebook_dim=8,
            num_quantizers=4, vector_quantization_hidden_dimension=8, num_semantic_quantizers=1, upsample_groups=16,
            num_hidden_layers=1, intermediate_size=16, num_attention_heads=2, num_key_value_heads=2,
            sampling_rate=sr, sliding_window=50, max_position_embeddings=200, kernel_size=3, last_kernel_size=3))
    with torch.no_grad():  # EnCodec/Mimi/X-Codec codebooks start as zeros (every code 0): make them random
        for name, buffer in model.named_buffers():
            if name.endswith((".embed", ".embed_sum")):
                buffer.normal_(std=0.05)
            elif name.endswith(".cluster_usage"):
                buffer.fill_(1.0)
        if family == "encodec":  # its encoder output barely varies over time: seed codebook 0 with real frames
            frames = model.encoder(0.3 * torch.randn(1, 1, 16 * 8, generator=torch.Generator().manual_seed(1)))
            model.quantizer.layers[0].codebook.embed.copy_(frames[0].T)
    return model


# ----- a folder of tiny models for smoke-testing studies -----

TINY_LLM_SIZES = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                  "num_key_value_heads": 1}
TINY_MODELS = ("xcodec2", *TINY_CODEC_FAMILIES, "llasa-tiny", "qwen2-tiny")
QWEN_BOS, QWEN_EOS, QWEN_PAD = "<|im_start|>", "<|endoftext|>", "<|im_end|>"


def _tiny_corpus() -> list[str]:
    """Instruction and label names of the generated ``instruments`` task: its words become single BPE tokens."""
    from ..data.generated import INSTRUCTIONS, INSTRUMENT_CLASSES
    from ..prompts import ITEM_SEPARATOR

    return [INSTRUCTIONS["instruments"], ITEM_SEPARATOR.join(INSTRUMENT_CLASSES)] + list(INSTRUMENT_CLASSES) * 4


def tiny_qwen2(folder: str | Path, corpus: list[str], seed: int = 0, sizes: dict | None = None) -> Path:
    """A tiny random ``Qwen2ForCausalLM`` with a byte-level BPE tokenizer that has no Llasa markers and no
    ``<|s_N|>`` tokens (as Qwen2.5: they must be added, ``add_speech_tokens``); its embedding has unused rows past
    the tokenizer (as Qwen2.5's 151,936 rows for 151,665 tokens)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    folder = Path(folder)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(list(corpus), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=QWEN_BOS, eos_token=QWEN_EOS, pad_token=QWEN_PAD)
    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=-(-len(tokenizer) // 64) * 64, max_position_embeddings=4096, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **(sizes or TINY_LLM_SIZES))
    tokenizer.save_pretrained(folder)
    Qwen2ForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


def write_tiny_models(folder: str | Path) -> dict[str, Path]:
    """Save tiny random-weight models of the real classes into ``folder/<name>`` (``save_pretrained``, safetensors),
    for smoke-testing studies offline on a CPU (``configs/codec-comparison-smoke.yaml``); their numbers mean nothing.

    Codecs: ``xcodec2`` (``Xcodec2Model``, 16 kHz, 65,536 codes), ``encodec``, ``dac``, ``mimi``, ``xcodec``
    (:func:`tiny_codec_model`, 800 Hz, 16 codes). LLMs: ``llasa-tiny`` (``LlamaForCausalLM`` whose tokenizer has
    Llasa's markers and ``<|s_0|>`` ... ``<|s_65535|>``) and ``qwen2-tiny`` (``Qwen2ForCausalLM`` without them).
    A model whose folder already has ``config.json`` is kept. Returns ``{name: folder}``.
    """
    from ..llm.model import build_tiny_llm

    folder = Path(folder)
    builders = {
        "xcodec2": lambda path: random_xcodec2(small_xcodec2_config(hidden=64, semantic=32, kernel=5)).save_pretrained(path),
        **{family: (lambda path, family=family: tiny_codec_model(family).save_pretrained(path))
           for family in TINY_CODEC_FAMILIES},
        "llasa-tiny": lambda path: build_tiny_llm(path, 65_536, _tiny_corpus(), text_vocab_size=400, sizes=TINY_LLM_SIZES),
        "qwen2-tiny": lambda path: tiny_qwen2(path, _tiny_corpus()),
    }
    paths = {}
    for name in TINY_MODELS:
        path = folder / name
        if not (path / "config.json").is_file():
            builders[name](path)
        paths[name] = path
    return paths
