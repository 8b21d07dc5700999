"""Random-weight models of the real classes, for tests and benches (no download, deterministic for a seed).

Default initialisation (std 0.02) is too gentle for checks: an XCodec2 sends every frame to one code and a
Llama predicts near-uniform tokens, so an equality check would pass for almost any bug. These helpers rescale
weights to fan-in scale, which gives varied codes and peaked next-token distributions.
"""

from __future__ import annotations

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
