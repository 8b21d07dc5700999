"""Multi-label tagging: label questions trained and scored as a tree, decision rules fitted on validation, mixtures
of training clips, model selection on the task metric."""


import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from codec_bench.data.augment import augmented_clips, render
from codec_bench.data.manifest import Clip
from codec_bench.evaluation import decisions
from codec_bench.evaluation.metrics import tune_thresholds
from codec_bench.evaluation.scoring import score_label_questions
from codec_bench.llm.batches import LeftPadCollator, tree_attention, tree_inputs
from codec_bench.llm.callbacks import Selection
from codec_bench.llm.encoder import PromptEncoder
from codec_bench.llm.loss import answer_span, shifted_answer_loss
from codec_bench.llm.model import additive_mask
from codec_bench.prompts import build_example

CLASSES = ("cat", "dog bark", "siren")


def _encoder(tiny_lm, lengths=(9, 4)):
    _, tokenizer = tiny_lm
    rng = np.random.default_rng(0)
    encoder = PromptEncoder(tokenizer, 16, {str(i): rng.integers(0, 16, (1, n)) for i, n in enumerate(lengths)})
    encoder.questions = CLASSES
    examples = [build_example("0", "Which sounds?", ["cat", "siren"]), build_example("1", "Which sounds?", ["dog bark"])]
    return encoder, examples


def test_tree_positions_and_mask():
    # one row: 1 pad, prompt of 2, answer of 2, question 1 of 2 tokens
    mask, positions = tree_inputs([{"branch": [-1, -1, 0, 0, 1, 1]}], 7)
    assert positions.tolist() == [[0, 0, 1, 2, 3, 2, 3]]
    allowed = mask[0, 0].int().tolist()
    assert allowed[0] == [1, 0, 0, 0, 0, 0, 0]  # padding sees itself only
    assert allowed[4] == [0, 1, 1, 1, 1, 0, 0]  # the answer: prompt + its own earlier tokens
    assert allowed[6] == [0, 1, 1, 0, 0, 1, 1]  # the question: prompt + itself, never the answer


def test_tree_after_a_cached_prompt_counts_positions_from_it():
    # scoring after the prompt is in the KV cache: two branches only, positions after the 5 cached tokens
    allowed, positions = tree_attention(torch.tensor([[0, 0, 1, 1, 1]]), start=5)
    assert positions.tolist() == [[5, 6, 5, 6, 7]]
    assert allowed[0, 1].int().tolist() == [1, 1, 0, 0, 0]
    assert allowed[0, 4].int().tolist() == [0, 0, 1, 1, 1]


def test_label_questions_train_as_a_tree_equal_to_separate_sequences(tiny_lm):
    model, _ = tiny_lm
    encoder, examples = _encoder(tiny_lm)
    features = [encoder.training_features(e) for e in examples]
    assert [len(f["input_ids"]) for f in features] == [encoder.length(e) for e in examples]
    yes, no = encoder.yes_no_ids
    batch = LeftPadCollator(encoder.pad_id)(features)
    labels = batch.pop("labels")
    batch["attention_mask"] = additive_mask(batch["attention_mask"], model.dtype)
    logits = model(**batch).logits
    width = logits.shape[1]
    losses, count = [], 0
    for row, (f, example) in enumerate(zip(features, examples)):
        ids, branch = np.array(f["input_ids"]), np.array(f["branch"])
        offset = width - len(ids)
        prompt = ids[branch == -1]
        for b in sorted(set(branch.tolist()) - {-1}):
            seq = np.concatenate([prompt, ids[branch == b]])
            alone = model(input_ids=torch.tensor([seq])).logits[0]
            where = offset + np.flatnonzero(branch == b)
            torch.testing.assert_close(logits[row, where], alone[len(prompt):], rtol=1e-4, atol=1e-4)
            seq_labels = torch.tensor([[-100] * len(prompt) + [f["labels"][i] for i in np.flatnonzero(branch == b)]])
            if b > 0:  # a question: only its yes/no is a target, and it says whether the label is in the answer
                assert (seq_labels[0] != -100).sum() == 1
                assert seq_labels[0, -1] == (yes if CLASSES[b - 1] in example.answer_items else no)
            losses.append(F.cross_entropy(alone[:-1], seq_labels[0, 1:], ignore_index=-100, reduction="sum"))
            count += int((seq_labels[0, 1:] != -100).sum())
    # the training loss of the tree is the mean over the answers' tokens and the questions' yes/no
    tree_loss = shifted_answer_loss(logits[:, -answer_span(labels):], labels)
    torch.testing.assert_close(tree_loss, sum(losses) / count, rtol=1e-4, atol=1e-5)


def test_label_question_scores_equal_separate_forwards(tiny_lm):
    model, _ = tiny_lm
    encoder, examples = _encoder(tiny_lm)  # prompts of two lengths: the tree's positions move with them
    scores = score_label_questions(model, encoder, examples, CLASSES)
    yes, no = encoder.yes_no_ids
    for i, example in enumerate(examples):
        for k, label in enumerate(CLASSES):
            seq = encoder.prefix(model, example) + encoder.question_ids(label)
            last = model(input_ids=torch.tensor([seq])).logits[0, -1]
            assert scores[i, k] == pytest.approx(float(torch.sigmoid(last[yes] - last[no])), abs=1e-5)


def _separable(n=120, seed=0):
    """Per label, positives score above negatives, but around a label-specific offset: no global threshold on the
    raw scores separates them, a per-label calibration does."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, 3)) < 0.4).astype(int)
    truth[0], truth[1] = 1, 0
    logits = 3 * (truth - 0.5) + np.array([-3.0, 0.0, 3.0]) + rng.normal(0, 0.3, truth.shape)
    return truth, 1 / (1 + np.exp(-logits))


def test_per_label_rule_is_tuned_thresholds():
    truth, scores = _separable()
    np.testing.assert_array_equal(decisions.fit("per_label", truth, scores).thresholds, tune_thresholds(truth, scores))


def test_calibration_lets_one_threshold_serve_every_label():
    truth, scores = _separable()
    test_truth, test_scores = _separable(seed=1)
    decision = decisions.fit("calibrated_global", truth, scores)
    assert len(set(decision.thresholds.tolist())) == 1
    assert (decision.calibration[:, 0] > 0).all()  # slopes: a higher score stays more likely positive
    np.testing.assert_array_equal(decision.predict(test_scores), test_truth)
    # the raw scores under any single threshold get some label wrong
    raw = max(decisions.f1_score(test_truth, (test_scores >= t).astype(int), average="micro") for t in np.unique(test_scores))
    assert raw < 0.95
    # a label with one class among the clips keeps its scores
    assert decisions.platt_fit(np.c_[truth[:, :1], np.zeros(len(truth), int)], scores[:, :2])[1].tolist() == [1.0, 0.0]


def test_choice_is_cross_fitted_and_deterministic():
    truth, scores = _separable()
    first, second = decisions.choose(truth, scores), decisions.choose(truth, scores)
    assert first.rule == second.rule and first.cross_fitted_f1 == second.cross_fitted_f1
    assert set(first.cross_fitted_f1) == set(decisions.RULES)
    assert first.cross_fitted_f1[first.rule] == max(first.cross_fitted_f1.values())
    # cross-fitting never sees the fold it predicts: a rule fitted on noise scores near chance there
    rng = np.random.default_rng(3)
    noise_truth = (rng.random((200, 4)) < 0.3).astype(int)
    noise = rng.random((200, 4))
    in_sample = decisions.f1_score(noise_truth, decisions.fit("per_label", noise_truth, noise).predict(noise), average="micro")
    assert decisions.cross_fitted_micro_f1("per_label", noise_truth, noise) < in_sample - 0.02


def _clips(tmp_path, n=6):
    clips = []
    for i in range(n):
        path = tmp_path / f"{i}.wav"
        sf.write(path, np.full(1600, 0.1 * (i + 1), np.float32), 16_000)
        clips.append(Clip(id=f"c{i}", path=str(path), labels=(CLASSES[i % 3],), split="train"))
    return clips


def test_mixtures_are_drawn_deterministically_with_united_labels(tmp_path):
    clips = _clips(tmp_path)
    mixes = augmented_clips(clips, mix=1.5, shift=0.5, seed=0)
    assert len(mixes) == 9 + 3
    assert [c.id for c in mixes] == [c.id for c in augmented_clips(list(reversed(clips)), mix=1.5, shift=0.5, seed=0)]
    assert [c.id for c in mixes] != [c.id for c in augmented_clips(clips, mix=1.5, shift=0.5, seed=1)]
    by_id = {c.id: c for c in clips}
    for clip in mixes:
        sources = [by_id[i] for i in clip.extra["from"]]
        assert clip.split == "train" and clip.id.startswith("aug-")
        assert clip.labels == tuple(sorted({label for s in sources for label in s.labels}))
    assert all(len(c.extra["sources"]) == 2 for c in mixes[:9]) and all(len(c.extra["sources"]) == 1 for c in mixes[9:])


def test_a_mixture_renders_as_the_sum_of_its_gained_shifted_sources(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    ramp = np.linspace(0, 0.4, 1000, dtype=np.float32)
    sf.write(a, ramp, 16_000)
    sf.write(b, np.full(1000, 0.2, np.float32), 16_000)
    clip = Clip(
        id="m",
        path="augment:m",
        labels=("x",),
        split="train",
        extra={"sources": [{"path": str(a), "gain_db": -6.0, "shift": 0.0}, {"path": str(b), "gain_db": 0.0, "shift": 0.25}]},
    )
    expected = ramp * 10 ** (-6 / 20) + 0.2
    np.testing.assert_allclose(render(clip), expected, atol=1e-4)
    loud = Clip(id="l", path="augment:l", labels=("x",), split="train",
                extra={"sources": [{"path": str(b), "gain_db": 14.0, "shift": 0.0}]})
    assert np.abs(render(loud)).max() == pytest.approx(0.99, abs=1e-4)  # kept below full scale


def _epochs(*figures):
    history = []
    for epoch, (loss, metric) in enumerate(figures, 1):
        history.append({"epoch": float(epoch), "step": 10 * epoch, "eval_loss": loss})
        history.append({"epoch": float(epoch), "step": 10 * epoch, "eval_task_metric": metric})
    return history


class _State:
    def __init__(self, history):
        self.log_history, self.epoch, self.global_step, self.is_world_process_zero = history, None, 0, True


def test_selection_keeps_the_best_epoch_by_the_chosen_figure_and_stops_after_patience():
    class Control:
        should_training_stop = False

    history = _epochs((1.0, 0.5), (0.8, 0.7), (0.7, 0.6), (0.6, 0.65))
    by_metric, by_loss = Selection("metric", 2, None, None), Selection("loss", 2, None, None)
    assert by_metric.summary(_State(history))["best_epoch"] == 2.0
    assert by_metric.summary(_State(history))["best_validation_metric"] == 0.7
    assert by_loss.summary(_State(history))["best_epoch"] == 4.0
    tied = _epochs((1.0, 0.5), (0.8, 0.7), (0.6, 0.7), (0.9, 0.7))  # equal metrics: the lower loss wins
    assert by_metric.summary(_State(tied))["best_epoch"] == 3.0
    control = Control()
    by_metric.on_evaluate(None, _State(history), control)  # two epochs since the best metric: stop
    assert control.should_training_stop and by_metric.summary(_State(history))["stopped_early"]
    control = Control()
    by_loss.on_evaluate(None, _State(history), control)  # the loss still improves
    assert not control.should_training_stop


def test_mix_is_refused_for_single_label_datasets(tmp_path):
    from codec_bench.config import RunConfig, TrainConfig
    from codec_bench.core.errors import CodecBenchError
    from codec_bench.study.inputs import check_run

    rows = "path,label\n" + "".join(f"{i}.wav,{c}\n" for i, c in enumerate(("x", "y") * 3))
    for i in range(6):
        sf.write(tmp_path / f"{i}.wav", np.zeros(160, np.float32), 16_000)
    (tmp_path / "metadata.csv").write_text(rows)
    config = RunConfig(dataset="csv", root=str(tmp_path), out=str(tmp_path / "out"), train=TrainConfig(mix=1.0))
    with pytest.raises(CodecBenchError, match="only multi-label"):
        check_run(config)



def test_a_run_with_mixtures_questions_and_selection_by_metric(tmp_path):
    from conftest import TINY_LM

    from codec_bench.config import EvalConfig, ModelConfig, RunConfig, TrainConfig
    from codec_bench.core import io
    from codec_bench.core.errors import CodecBenchError
    from codec_bench.study.pipeline import run
    from codec_bench.study.predict import predict

    sizes = {"train": 24, "validation": 8, "test": 8}

    def config(**train):
        return RunConfig(dataset="mixtures", out=tmp_path, root=tmp_path / "data", dataset_options={"sizes": sizes},
                         model=ModelConfig(dtype="float32", tiny_sizes=TINY_LM),
                         train=TrainConfig(epochs=2, batch_size=8, **train), eval=EvalConfig(generation=False),
                         baseline=False)

    records = run(config(mix=0.5, label_questions=True, select_by="metric", patience=3))
    run_dir = next((tmp_path / "mixtures").glob("embedded-*"))
    train_rows = io.read_jsonl(run_dir / "prompts" / "train.jsonl")
    mixtures = [r for r in train_rows if r["id"].startswith("aug-")]
    assert len(train_rows) == 24 + 12 and len(mixtures) == 12
    assert io.read_json(run_dir / "prompts" / "done.json")["augmented"] == sorted(r["id"] for r in mixtures)

    done = io.read_json(run_dir / "model" / "train_done.json")
    assert done["selected_by"] == "metric" and not done["stopped_early"] and len(done["validation"]) == 2
    metrics = [e["metric"] for e in done["validation"]]
    assert None not in metrics and done["best_validation_metric"] == max(metrics)
    best = max(done["validation"], key=lambda e: (e["metric"], -e["loss"]))  # equal metrics: the lower loss
    assert done["best_epoch"] == best["epoch"]

    choice = io.read_json(run_dir / "eval" / "multi_label_scoring.json")
    assert {"label_sets", "label_sets_normalised", "item_path", "label_questions"} <= set(choice["validation_micro_f1"])
    assert choice["method"] in choice["validation_micro_f1"] and set(choice["rules"][choice["method"]]) == {
        "per_label",
        "calibrated_global",
    }

    test = next(r for r in records if r.split == "test" and r.method == "llm_scoring")
    assert test.choices == {
        "scoring": choice["method"],
        "decision_rule": io.read_json(run_dir / "eval" / "llm_scoring_decision.json")["rule"],
        "best_epoch": done["best_epoch"],
        "epochs": 2,
        "selected_by": "metric",
        "stopped_early": False,
        "validation_loss": done["best_validation_loss"],
    }
    from codec_bench.report.write import report_folders

    report = report_folders([tmp_path])["report"].read_text()
    assert f"| {done['best_epoch']:g} of 2 (validation metric) | {choice['method']} | {test.choices['decision_rule']} |" in report
    evaluated = io.read_jsonl(tmp_path / test.predictions)[:3]
    clips = {c["id"]: c["path"] for c in io.read_jsonl(tmp_path / "mixtures" / "manifest" / "clips.jsonl")}
    rows = predict(run_dir, [clips[r["id"]] for r in evaluated], top_k=6)
    assert [row["labels"] for row in rows] == [r["prediction"] for r in evaluated]  # predict decides as the evaluation did

    with pytest.raises(CodecBenchError, match="trained with mix=0.5"):  # same run folder, another recipe: refused
        run(config(label_questions=True, select_by="metric", patience=3))


def _tagging_folder(root, n=12):
    rng = np.random.default_rng(0)
    rows = ["path,labels,split"]
    for i in range(n):
        sf.write(root / f"{i}.wav", rng.normal(0, 0.1, 3200).astype(np.float32), 16_000)
        rows.append(f"{i}.wav,{['a;b', 'b', 'a;c'][i % 3]},{['train', 'train', 'validation', 'test'][i % 4]}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def _cached_codecs(out):
    return {p.name.split("-")[0] for p in (out / "cache" / "csv").iterdir() if p.is_dir()}


def test_a_multi_label_corpus_defaults_to_log_mel_frames_and_mixtures_with_the_tiny_lm(tmp_path):
    from typer.testing import CliRunner

    from codec_bench.cli import app

    root = _tagging_folder(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["run", "csv", "--root", str(root), "--out", str(tmp_path / "auto"), "--stage", "encode"])
    assert result.exit_code == 0, result.output
    assert "multi-label dataset with the tiny LM: --codec logmel --mix 3 by default" in " ".join(result.output.split())
    assert "give --codec embedded --mix 0 to override" in " ".join(result.output.split())
    assert _cached_codecs(tmp_path / "auto") == {"logmel"}
    result = runner.invoke(app, ["run", "csv", "--root", str(root), "--out", str(tmp_path / "tokens"), "--stage", "encode",
                                 "--codec", "embedded", "--mix", "0"])
    assert result.exit_code == 0 and "by default" not in result.output
    assert _cached_codecs(tmp_path / "tokens") == {"embedded"}


def test_a_command_line_value_outside_its_choices_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from codec_bench.cli import app

    root = _tagging_folder(tmp_path)
    for flags, message in ((["--select-by", "best"], "--select-by: unknown value 'best'; choose one of loss, metric"),
                           (["--report-to", "tensorbord"], "did you mean 'tensorboard'?")):
        result = CliRunner().invoke(app, ["run", "csv", "--root", str(root), "--out", str(tmp_path / "out"), *flags])
        assert result.exit_code != 0 and message in " ".join(str(result.exception).split())
        assert not (tmp_path / "out" / "csv").exists()  # refused before anything ran
