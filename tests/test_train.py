"""The answer-only loss uses shifted next-token targets and equals the full-logits loss."""

import numpy as np
import torch
import torch.nn.functional as F

from codec_bench.llm.batches import LeftPadCollator
from codec_bench.llm.encoder import PromptEncoder
from codec_bench.llm.loss import answer_span, shifted_answer_loss
from codec_bench.prompts import build_example


def _features(tiny_lm, n=3):
    _, tokenizer = tiny_lm
    rng = np.random.default_rng(0)
    encoder = PromptEncoder(tokenizer, 16, {str(i): rng.integers(0, 16, (1, 5 + 4 * i)) for i in range(n)})
    labels = [["dog bark"], ["cat", "siren"], ["siren"]]
    return encoder, [encoder.training_features(build_example(str(i), "Which sound is this?", labels[i % 3])) for i in range(n)]


def test_left_padded_answer_only_loss_equals_full_logits_loss(tiny_lm):
    model, _ = tiny_lm
    encoder, features = _features(tiny_lm)
    batch = LeftPadCollator(encoder.pad_id)(features)
    labels = batch.pop("labels")
    fast = shifted_answer_loss(model(**batch, logits_to_keep=answer_span(labels)).logits, labels)
    # reference: each example alone, no padding, all logits, standard shifted cross-entropy
    losses, counts = [], []
    for f in features:
        ids, lab = torch.tensor([f["input_ids"]]), torch.tensor([f["labels"]])
        logits = model(input_ids=ids).logits
        losses.append(F.cross_entropy(logits[0, :-1], lab[0, 1:], ignore_index=-100, reduction="sum"))
        counts.append((lab[0, 1:] != -100).sum())
    torch.testing.assert_close(fast, sum(losses) / sum(counts), rtol=1e-4, atol=1e-5)
    # and the transformers loss of the same model (which shifts internally) agrees
    torch.testing.assert_close(fast, _hf_loss(model, features, encoder.pad_id), rtol=1e-4, atol=1e-5)


def _hf_loss(model, features, pad_id):
    total, count = 0.0, 0
    for f in features:
        out = model(input_ids=torch.tensor([f["input_ids"]]), labels=torch.tensor([f["labels"]]))
        n = sum(l != -100 for l in f["labels"][1:])
        total, count = total + out.loss * n, count + n
    return total / count


def test_a_model_that_copies_its_input_scores_badly():
    # inputs x_0..x_4, answer = last two tokens; "copy" puts all mass on the current token x_t,
    # "next" on x_{t+1}. Shifted targets give "copy" a large loss and "next" a small one.
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    labels = torch.tensor([[-100, -100, -100, 8, 9]])
    vocab, k = 12, answer_span(labels)
    assert k == 3
    copy = torch.full((1, 5, vocab), -20.0).scatter(2, ids[..., None], 20.0)[:, -k:]
    nxt = torch.full((1, 5, vocab), -20.0).scatter(2, torch.roll(ids, -1, 1)[..., None], 20.0)[:, -k:]
    assert shifted_answer_loss(copy, labels) > 30
    assert shifted_answer_loss(nxt, labels) < 1e-6


def test_collator_left_pads_and_counts_positions():
    batch = LeftPadCollator(0)([{"input_ids": [4, 5, 6], "labels": [-100, 5, 6]}, {"input_ids": [7], "labels": [7]}])
    assert batch["input_ids"].tolist() == [[4, 5, 6], [0, 0, 7]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch["position_ids"].tolist() == [[0, 1, 2], [0, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 5, 6], [-100, -100, 7]]


def test_training_on_a_cpu_runs_no_full_garbage_collection(tiny_lm_dir, tmp_path, monkeypatch):
    """accelerate's ``free_memory()`` at the start of the Trainer's loop runs ``gc.collect()`` before emptying a device
    cache that a CPU does not have; in a process holding many objects (a test session) that took 0.4-1.1 s a training."""
    import gc

    from codec_bench.config import TrainConfig
    from codec_bench.llm.model import load_llm
    from codec_bench.llm.train import train

    collected, collect = [], gc.collect
    monkeypatch.setattr(gc, "collect", lambda *args: collected.append(args) or collect(*args))
    model, tokenizer = load_llm(str(tiny_lm_dir), "float32")
    encoder = PromptEncoder(tokenizer, 16, {str(i): np.zeros((1, 4), np.int64) for i in range(8)})
    examples = [build_example(str(i), "Which sound is this?", [["cat"], ["siren"]][i % 2]) for i in range(8)]
    final = train(model, tokenizer, encoder, examples, examples[:2], tmp_path / "run", TrainConfig(epochs=1, batch_size=4))
    assert (final / "train_done.json").is_file() and collected == []
