"""Adding Llasa's markers and speech tokens to an LM that lacks them, and LoRA training with the new rows."""

import pytest
import torch
from conftest import CORPUS, TINY_LM
from test_pipeline import _csv_folder
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from codec_bench.config import EvalConfig, ModelConfig, RunConfig, TrainConfig
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.llm.encoder import PromptEncoder
from codec_bench.llm.model import BOS, EOS, PAD, load_llm, load_trained
from codec_bench.llm.vocab import add_speech_tokens, missing_speech_tokens
from codec_bench.prompts import MARKERS, build_example, speech_token
from codec_bench.study.pipeline import run


def _plain_lm(folder, tied: bool):
    """A tiny Llama whose byte-level BPE tokenizer has no markers and no speech tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=4096, tie_word_embeddings=tied,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **TINY_LM)
    tokenizer.save_pretrained(folder)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.mark.parametrize("tied", [True, False])
def test_add_speech_tokens_adds_rows_near_the_mean(tmp_path, tied):
    model, tokenizer = load_llm(str(_plain_lm(tmp_path / "lm", tied)), "float32")
    with pytest.raises(CodecBenchError, match="--add-speech-tokens"):
        PromptEncoder(tokenizer, 16)
    old = len(tokenizer)
    before_in = model.get_input_embeddings().weight[:old].detach().clone()
    before_out = model.get_output_embeddings().weight[:old].detach().clone()
    assert len(missing_speech_tokens(tokenizer, 16)) == 8 + 16
    assert add_speech_tokens(model, tokenizer, 16) == 8 + 16
    assert len(tokenizer) == old + 24 and model.get_input_embeddings().weight.shape[0] == old + 24
    assert model.get_output_embeddings().weight.shape[0] == old + 24 and model.config.vocab_size == old + 24
    for layer, before in ((model.get_input_embeddings(), before_in), (model.get_output_embeddings(), before_out)):
        weight = layer.weight.detach()
        assert torch.equal(weight[:old], before)  # existing rows untouched
        new = weight[old:]
        assert (new - before.mean(0)).norm(dim=1).max() < 0.1 * before.norm(dim=1).mean()
        assert not torch.allclose(new[0], new[1])  # noise breaks the symmetry
    assert missing_speech_tokens(tokenizer, 16) == [] and add_speech_tokens(model, tokenizer, 16) == 0
    encoder = PromptEncoder(tokenizer, 16, {"a": torch.randint(0, 16, (1, 5)).numpy()})
    assert encoder.token_id(speech_token(15)) == tokenizer.convert_tokens_to_ids(speech_token(15)) >= old
    example = build_example("a", "Which sound is this?", ["cat"])
    features = encoder.training_features(example)
    ids = set(features["input_ids"])
    assert {tokenizer.convert_tokens_to_ids(m) for m in MARKERS[:6]} <= ids
    assert tokenizer.tokenize(speech_token(3) + speech_token(12)) == [speech_token(3), speech_token(12)]
    with torch.no_grad():
        logits = model(torch.tensor([features["input_ids"]])).logits
    assert logits.shape[-1] == old + 24 and torch.isfinite(logits).all()


def _config(tmp_path, lm, add: bool, method: str = "lora"):
    return RunConfig(dataset="csv", out=tmp_path / "out", root=_csv_folder(tmp_path / "data"),
                     model=ModelConfig(name=str(lm), dtype="float32", add_speech_tokens=add),
                     train=TrainConfig(method=method, max_steps=2, batch_size=4, learning_rate=1e-2),
                     eval=EvalConfig(generation=False), baseline=False)


@pytest.mark.parametrize("tied", [False, True])
def test_pipeline_lora_with_added_speech_tokens(tmp_path, tied):
    lm = _plain_lm(tmp_path / "lm", tied=tied)
    with pytest.raises(CodecBenchError, match="pass --add-speech-tokens to add them"):
        run(_config(tmp_path / "without", lm, add=False))
    config = _config(tmp_path, lm, add=True)
    records = run(config)
    assert {(r.method, r.split) for r in records} == {("llm_scoring", "validation"), ("llm_scoring", "test")}
    run_dir = next((tmp_path / "out" / "csv").glob("*__lora"))
    model_dir = run_dir / "model"
    assert (model_dir / "adapter_model.safetensors").is_file()
    assert io.read_json(model_dir / "adapter_config.json")["trainable_token_indices"]
    from safetensors import safe_open

    with safe_open(model_dir / "adapter_model.safetensors", "pt") as f:  # the new rows, not whole embedding matrices
        assert not [k for k in f.keys() if k.endswith(("embed_tokens.weight", "lm_head.weight"))]
    # the new rows trained: the merged model's speech rows differ from a fresh rebuild of the base vocabulary
    model, tokenizer = load_trained(model_dir, config.model.dtype, config.model.offline)
    assert not hasattr(model, "peft_config")
    assert missing_speech_tokens(tokenizer, 256) == []  # the embedded codec: 256 codes
    base, base_tok = load_llm(str(lm), "float32")
    rows = base.get_input_embeddings().weight.shape[0]
    assert add_speech_tokens(base, base_tok, 256) == 8 + 256
    assert model.get_input_embeddings().weight.shape == base.get_input_embeddings().weight.shape
    end = tokenizer.convert_tokens_to_ids(MARKERS[5])  # TEXT_GENERATION_END: in every answer
    for get in ("get_input_embeddings", "get_output_embeddings"):
        trained, fresh = getattr(model, get)().weight.detach(), getattr(base, get)().weight.detach()
        assert torch.allclose(trained[:rows], fresh[:rows])  # old rows frozen under LoRA
        assert not torch.allclose(trained[end], fresh[end])  # new rows trained


def test_pipeline_full_fine_tuning_saves_the_resized_model(tmp_path):
    lm = _plain_lm(tmp_path / "lm", tied=True)
    config = _config(tmp_path, lm, add=True, method="full")
    config.probes = config.zero_shot = True  # the base model gets the same added rows for its reference rows
    records = run(config)
    assert {r.method for r in records} == {"llm_scoring", "zero_shot", "probe_linear_codec", "probe_knn_codec",
                                              "probe_linear_llm", "probe_knn_llm"}
    assert {r.model for r in records if r.method in ("zero_shot", "probe_knn_llm")} == {"lm/base"}
    model_dir = next((tmp_path / "out" / "csv").glob("*__full")) / "model"
    model, tokenizer = load_trained(model_dir, config.model.dtype, config.model.offline)
    assert missing_speech_tokens(tokenizer, 256) == [] and model.get_input_embeddings().weight.shape[0] == len(tokenizer)


def test_qwen2_layout_without_bos_and_with_pad_equal_to_eos(tmp_path):
    """Qwen2.5's tokenizer has no BOS and pads with its EOS; its embedding has unused rows past the tokenizer."""
    from transformers import AutoTokenizer

    from codec_bench.testing.tiny_models import tiny_qwen2

    lm = tiny_qwen2(tmp_path / "qwen", CORPUS)
    tokenizer = AutoTokenizer.from_pretrained(lm)
    tokenizer.bos_token, tokenizer.pad_token = None, tokenizer.eos_token
    tokenizer.save_pretrained(lm)
    config = _config(tmp_path, lm, add=True, method="lora")
    config.eval.generation = True
    records = run(config)
    assert {r.method for r in records} == {"llm_scoring", "llm_generation"}
    model, tokenizer = load_trained(
        next((tmp_path / "out" / "csv").glob("*__lora")) / "model", config.model.dtype, config.model.offline
    )
    encoder = PromptEncoder(tokenizer, 256)
    assert encoder.bos == [] and encoder.pad_id == tokenizer.eos_token_id
    assert model.get_input_embeddings().weight.shape[0] >= len(tokenizer)
