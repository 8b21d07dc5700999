"""Audio question answering: intervals over audio clips (a clip's questions drawn together), the yes/no and open
split recomputed from the prediction files, question forms and their majority answers, and the blind rows of a
run end to end (the same tiny LM trained with the audio slot empty, its paired test in the report)."""

from __future__ import annotations

import _fake_corpora_speech as speech
import numpy as np
import pytest
from typer.testing import CliRunner

from codec_bench.cli import app
from codec_bench.core import io
from codec_bench.data.clotho_aqa import audio_of
from codec_bench.evaluation import paired_tests
from codec_bench.evaluation import statistics as stats
from codec_bench.evaluation.blind import EmptyAudio, majority_answers, question_form
from codec_bench.evaluation.metrics import aqa_metrics
from codec_bench.evaluation.statistics import Unit

ANSWERS = ["yes", "no", "two", "three", "flute", "harp"]


def questions(n_clips: int, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``n_clips`` clips of 6 questions (ids ``clip<k>.wav#q<n>``); each clip's yes/no answers drawn at random, so
    how many "no" answers a clip has varies across clips. Returns ids, truth (indices into ``ANSWERS``) and the
    predictions of a model that answers "no" to every yes/no question and "three" to every open one."""
    rng = np.random.default_rng(seed)
    ids, truth = [], []
    for k in range(n_clips):
        for n, answer in enumerate(list(rng.choice(["yes", "no"], 4)) + [str(rng.choice(["two", "three"])), "flute"], 1):
            ids.append(f"clip{k}.wav#q{n}")
            truth.append(ANSWERS.index(answer))
    truth = np.array(truth)
    yes_no = truth < 2
    return ids, truth, np.where(yes_no, ANSWERS.index("no"), ANSWERS.index("three"))


def aqa_unit(ids, truth, predicted, seed: int = 0) -> Unit:
    return Unit("1", seed, ids, truth, predicted, len(ANSWERS), None, stats.group_codes([audio_of(i) for i in ids]),
                truth < 2)


def test_one_answer_per_form_gets_a_real_interval_over_clips():
    ids, truth, predicted = questions(50)
    grouped = aqa_unit(ids, truth, predicted)
    low, high = stats.interval(stats.bootstrap("accuracy", [[grouped]], key="aqa")[0])
    assert high - low > 0.02 and low < stats.value("accuracy", [grouped]) < high
    # drawn within each answer (the old draw) the same model has no variance at all
    stratified = Unit("1", 0, ids, truth, predicted, len(ANSWERS))
    low, high = stats.interval(stats.bootstrap("accuracy", [[stratified]], key="aqa")[0])
    assert high == low


def test_grouped_draws_keep_a_clips_questions_together():
    ids, truth, predicted = questions(30)
    unit = aqa_unit(ids, truth, predicted)
    weights = next(stats._draws(unit, 200, 0, "aqa"))
    by_clip = weights.reshape(len(weights), 30, 6)
    assert np.all(by_clip == by_clip[:, :, :1])  # every question of a clip drawn as often as the clip
    assert np.all(weights.sum(1) == len(ids))  # 30 clips drawn per replicate, 6 questions each
    assert stats.group_codes(["b", "a", "b", "c"]).tolist() == [0, 1, 0, 2]


def test_yes_no_and_open_accuracy_equal_the_recorded_ones():
    ids, truth, predicted = questions(20, seed=1)
    unit = aqa_unit(ids, truth, predicted)
    recorded = aqa_metrics([ANSWERS[t] for t in truth], [ANSWERS[p] for p in predicted], [[ANSWERS[t]] for t in truth])
    for name in ("yes_no_accuracy", "open_accuracy"):
        assert stats.supported(name, [unit])
        assert stats.value(name, [unit]) == pytest.approx(recorded[name])
        low, high = stats.interval(stats.bootstrap(name, [[unit]], key="aqa")[0])
        assert low <= recorded[name] <= high
    assert not stats.supported("yes_no_accuracy", [Unit("1", 0, ids, truth, predicted, len(ANSWERS))])


def test_paired_test_of_question_answering_is_the_paired_bootstrap_over_clips():
    ids, truth, blind = questions(60, seed=2)
    heard = np.where(np.arange(len(ids)) % 6 < 4, truth, blind)  # right on every yes/no question
    result = paired_tests.paired_test("accuracy", [aqa_unit(ids, truth, blind)], [aqa_unit(ids, truth, heard)], key="aqa")
    assert result.test == "paired bootstrap" and result.p < 0.01 and result.difference > 0
    assert result.low > 0 and result.n_clips == len(ids)


def test_question_forms_and_their_majority_answers():
    assert [question_form(q) for q in ("Are birds singing?", "Does it rain", "What plays?", "How many voices?", "")] == [
        "yes/no", "yes/no", "what", "how many", ""]
    train = ["Is it loud?", "Is it wet?", "Is it far?", "How many birds?", "How many cars?", "Which, a or b?"]
    answers = ["no", "no", "yes", "two", "two", "a"]
    assert majority_answers(train, answers, ["Are we there?", "How many dogs?", "Which, c or d?", "Why?"]) == [
        "no", "two", "a", "no"]


def test_empty_audio_fills_the_slot_with_nothing(tiny_lm):
    from codec_bench.llm.encoder import PromptEncoder
    from codec_bench.prompts import build_example, render

    _, tokenizer = tiny_lm
    example = build_example("c.wav#q1", "Is there a bird?", ["yes"])
    blind = PromptEncoder(tokenizer, 16, EmptyAudio({"c.wav#q1": np.ones((1, 5))}, rows=1))
    assert blind.audio_positions(example.id) == 0
    assert blind.prompt_ids(example) == PromptEncoder(tokenizer, 16, {example.id: np.zeros((1, 0), int)}).prompt_ids(example)
    assert blind.prompt_ids(example) == [tokenizer.bos_token_id] + tokenizer(render(example.prompt, np.zeros((1, 0), int), 16),
                                                                            add_special_tokens=False)["input_ids"]
    with pytest.raises(KeyError):
        EmptyAudio({}, rows=1)["other"]


runner = CliRunner()


def test_every_question_answering_run_gets_its_blind_rows_and_their_test(tmp_path):
    root = speech.clotho_aqa(tmp_path / "corpus")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "clotho_aqa", "--root", str(root), "--out", str(out), "--epochs", "1",
                                 "--no-generation"])
    assert result.exit_code == 0, result.output
    assert "--keywords 1: no training audio file has keywords" in result.output  # the default, said when it has none
    records = io.read_json(out / "results.json")["records"]
    assert {r["method"] for r in records} == {"llm_scoring", "baseline_blind_llm", "baseline_majority_by_form"}
    blind = next(r for r in records if r["method"] == "baseline_blind_llm")
    llm = next(r for r in records if r["method"] == "llm_scoring")
    assert (blind["codec"], blind["model"]) == (llm["codec"], llm["model"])  # the same LLM and recipe
    run_dir = next((out / "clotho_aqa").glob("logmel-*"))  # the tiny LM's AQA default: log-mel frames
    assert (out / "clotho_aqa" / f"blind__{run_dir.name}" / "model").is_dir()
    assert not (out / "clotho_aqa" / f"blind__{run_dir.name}" / "base_model").exists()  # the run's base model
    report = (out / "report.md").read_text()
    line = next(x for x in report.splitlines() if x.startswith("**clotho_aqa**: llm_scoring (") and "baseline_blind_llm (" in x)
    assert "questions (paired bootstrap" in line or "significantly" in line
    assert "audio clips whole with all their questions" in report and "No prediction files" not in report
    statistics = io.read_json(out / "results.json")["statistics"]
    blind_checks = [c for c in statistics["reference_checks"] if c["reference"] == "baseline_blind_llm"]
    assert len(blind_checks) == 1 and blind_checks[0]["test"]["test"] == "paired bootstrap"
    # rerun: the blind model reused; --no-blind: no blind row
    marker = out / "clotho_aqa" / f"blind__{run_dir.name}" / "model" / "train_done.json"
    before = marker.stat().st_mtime_ns
    again = runner.invoke(app, ["run", "clotho_aqa", "--root", str(root), "--out", str(out), "--epochs", "1",
                                "--no-generation"])
    assert again.exit_code == 0 and marker.stat().st_mtime_ns == before
    off = tmp_path / "off"
    result = runner.invoke(app, ["run", "clotho_aqa", "--root", str(root), "--out", str(off), "--epochs", "1",
                                 "--no-generation", "--no-blind"])
    assert result.exit_code == 0, result.output
    assert {r["method"] for r in io.read_json(off / "results.json")["records"]} == {"llm_scoring"}


def test_the_question_sits_before_or_after_the_audio_and_a_change_rewrites_the_prompts(tmp_path):
    """``question_position``: before, the question joins the instruction; after, it has a text block of its own after
    the audio slot. Prompts written for one position are written again for the other."""
    from codec_bench.data.clotho_aqa import load
    from codec_bench.study.pipeline import write_prompts

    manifest = load(speech.clotho_aqa(tmp_path / "corpus"))
    codes = {c.id: np.zeros((1, 3), np.int64) for c in manifest.clips}
    for position in ("before", "after", "before"):
        examples = write_prompts(manifest, codes, tmp_path / "prompts", question_position=position)
        assert io.read_json(tmp_path / "prompts" / "done.json")["question_position"] == position
        for example in examples["validation"]:
            question = next(c.extra["question"] for c in manifest.clips if c.id == example.id)
            before, after = example.prompt.split("<|AUDIO_FEATURES|>")
            assert (f"Question: {question}" in before) == (position == "before")
            assert (f"Question: {question}" in after) == (position == "after")


def test_keyword_examples_come_from_the_metadata_and_are_trained_never_evaluated(tmp_path):
    """``--keywords``: one example per training audio file with keywords (clotho_aqa_metadata.csv), asking which
    keywords describe the sound; in the training prompts only."""
    from codec_bench.data.clotho_aqa import KEYWORD_QUESTION, is_keyword_id, keyword_clips, load

    root = speech.clotho_aqa(tmp_path / "corpus")
    (root / "clotho_aqa_metadata.csv").write_text("file_name,keywords\nbirds a.wav,Birds; morning;birds\n"
                                                  "rain.wav,rain\n", encoding="utf-8")
    manifest = load(root)
    assert {c.extra.get("keywords") and tuple(c.extra["keywords"]) for c in manifest.clips if "birds a" in c.id} == {
        ("birds", "morning")}
    extra = keyword_clips(manifest.split("train"), 2)
    assert [(c.id, c.labels, c.extra["question"]) for c in extra] == [
        (f"birds a.wav#keywords{k}", ("birds", "morning"), KEYWORD_QUESTION) for k in (1, 2)]
    assert keyword_clips(manifest.split("train"), 0) == [] and all(is_keyword_id(c.id) for c in extra)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "clotho_aqa", "--root", str(root), "--out", str(out), "--epochs", "1",
                                 "--no-generation", "--keywords", "1", "--question-position", "after"])
    assert result.exit_code == 0, result.output
    prompts = next((out / "clotho_aqa").glob("logmel-*__full")) / "prompts"
    keyword_rows = {s: [r for r in io.JsonlFile(prompts / f"{s}.jsonl") if is_keyword_id(r["id"])] for s in ("train", "test")}
    assert [r["answer_items"] for r in keyword_rows["train"]] == [["birds", "morning"]] and not keyword_rows["test"]
    assert f"Question: {KEYWORD_QUESTION}" in keyword_rows["train"][0]["prompt"]


def test_a_run_asks_its_questions_after_the_audio_and_keeps_its_model_to_that_recipe(tmp_path):
    root = speech.clotho_aqa(tmp_path / "corpus")
    options = ["run", "clotho_aqa", "--root", str(root), "--out", str(tmp_path / "out"), "--epochs", "1",
               "--no-generation", "--no-blind", "--stage", "train"]
    result = runner.invoke(app, [*options, "--question-position", "after"])
    assert result.exit_code == 0, result.output
    run_dir = next((tmp_path / "out" / "clotho_aqa").glob("logmel-*__full"))
    prompt = next(iter(io.JsonlFile(run_dir / "prompts" / "train.jsonl")))["prompt"]
    assert prompt.split("<|AUDIO_FEATURES|>")[1].startswith("<|SPEECH_UNDERSTANDING_END|><|TEXT_UNDERSTANDING_START|>Question: ")
    again = runner.invoke(app, [*options, "--question-position", "before"])
    assert again.exit_code != 0 and "question_position='after'" in str(again.exception)


def test_question_answering_on_a_llasa_layout_model_with_lora(tmp_path):
    """The AQA path of the README's GPU recipe (``--model <Llasa> --method lora``) on a tiny Llama whose tokenizer has
    Llasa's markers and ``<|s_N|>`` strings, given as a model folder: the blind row starts from the same folder with the
    same adapter recipe. 256 speech tokens for the embedded codec (given: a Llasa model defaults to XCodec2, whose
    65,536 tokens are run by ``test_pipeline``; their tokenizer takes ~7 s per load, too slow to repeat here)."""
    from conftest import CORPUS, TINY_LM

    from codec_bench.llm.model import build_tiny_llm

    lm = build_tiny_llm(tmp_path / "llasa-tiny", 256, CORPUS, sizes=TINY_LM, text_vocab_size=300)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "clotho_aqa", "--root", str(speech.clotho_aqa(tmp_path / "corpus")), "--out",
                                 str(out), "--model", str(lm), "--codec", "embedded", "--method", "lora", "--epochs", "1",
                                 "--no-generation"])
    assert result.exit_code == 0, result.output
    records = io.read_json(out / "results.json")["records"]
    assert {(r["method"], r["model"]) for r in records if r["split"] == "test"} == {
        ("llm_scoring", "llasa-tiny/lora"), ("baseline_blind_llm", "llasa-tiny/lora"),
        ("baseline_majority_by_form", "majority-by-form")}
    run_dir = next((out / "clotho_aqa").glob("embedded-*"))
    for folder in (run_dir, run_dir.parent / f"blind__{run_dir.name}"):
        assert (folder / "model" / "adapter_config.json").is_file() and not (folder / "base_model").exists()
    report = (out / "report.md").read_text()
    assert any(x.startswith("**clotho_aqa**: llm_scoring (") and "baseline_blind_llm (" in x for x in report.splitlines())


TAGGED = {  # split -> audio file -> its (question, answer) pairs: a hand-made question file
    "train": {"a.wav": [("Is there a flute playing?", "yes"), ("Is there a harp playing?", "no"),
                        ("Can you hear a French horn?", "yes"), ("Which instrument plays, the flute or the harp?", "flute"),
                        ("How many instruments are playing?", "two"), ("Does someone say apple?", "yes")],
              "b.wav": [("Is there a harp playing?", "no"), ("What is making noise?", "car")]},
    "val": {"c.wav": [("Is there a cello playing?", "yes"), ("Is there a flute playing?", "no")]},
    "test": {"d.wav": [("Is a marimba present?", "yes"), ("Which plays, the harp or the cello?", "harp")]},
}


def tagged_corpus(root):
    """The Clotho-AQA layout of :data:`TAGGED`: three identical annotator rows per question."""
    for split, files in TAGGED.items():
        rows = [[f, q, a, "yes"] for f, asked in files.items() for q, a in asked for _ in range(3)]
        speech._csv(root / f"clotho_aqa_{split}.csv", ["file_name", "QuestionText", "answer", "confidence"], rows)
        for f in files:
            speech.audio(root / "audio_files" / f)
    return root


def test_question_tags_are_what_the_training_questions_say_is_heard(tmp_path):
    """``question_tags``: the subject of each question answered yes and each open answer named in its question, per
    training audio file; "no" answers, counts and answers the question does not name give none; validation and test
    questions are never read, even when passed."""
    from codec_bench.data.clotho_aqa import TAG_QUESTION, is_keyword_id, load, question_tags, tag_clips

    manifest = load(tagged_corpus(tmp_path / "corpus"))
    expected = {"a.wav": ["flute", "french horn", "apple"]}
    assert question_tags(manifest.split("train")) == expected
    assert question_tags(manifest.clips) == expected  # the other splits' clips are ignored
    extra = tag_clips(manifest.split("train"), 2)
    assert [(c.id, c.labels, c.split, c.extra["question"]) for c in extra] == [
        (f"a.wav#tags{k}", ("flute", "french horn", "apple"), "train", TAG_QUESTION) for k in (1, 2)]
    assert extra[0].path == next(c.path for c in manifest.clips if c.id.startswith("a.wav#q"))
    assert tag_clips(manifest.split("train"), 0) == [] and len(tag_clips(manifest.split("train"), 0.2)) == 1
    assert all(is_keyword_id(c.id) for c in extra) and not is_keyword_id("a.wav#q1")


def test_a_run_with_question_tags_trains_them_and_evaluates_the_questions_only(tmp_path):
    from codec_bench.data.clotho_aqa import TAG_QUESTION

    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "clotho_aqa", "--root", str(tagged_corpus(tmp_path / "corpus")), "--out", str(out),
                                 "--epochs", "1", "--no-generation", "--question-tags", "1"])
    assert result.exit_code == 0, result.output
    run_dir = next((out / "clotho_aqa").glob("logmel-*__full"))
    rows = {s: list(io.JsonlFile(run_dir / "prompts" / f"{s}.jsonl")) for s in ("train", "validation", "test")}
    tagged = [r for r in rows["train"] if "#tags" in r["id"]]
    assert [(r["id"], r["answer_items"]) for r in tagged] == [("a.wav#tags1", ["apple", "flute", "french horn"])]
    assert f"Question: {TAG_QUESTION}" in tagged[0]["prompt"]
    assert not any("#tags" in r["id"] for s in ("validation", "test") for r in rows[s])
    records = io.read_json(out / "results.json")["records"]
    assert {r["method"] for r in records} == {"llm_scoring", "baseline_blind_llm", "baseline_majority_by_form"}
    assert {r["n_clips"] for r in records if r["split"] == "test"} == {2}  # the test questions, no tag example
    assert io.read_json(run_dir / "model" / "train_done.json")["config"]["question_tags"] == 1.0


def test_question_tags_say_so_when_no_training_question_names_what_is_heard(tmp_path):
    root = tagged_corpus(tmp_path / "corpus")
    only_no = [["a.wav", "Is there a harp playing?", "no", "yes"]] * 3 + [["a.wav", "How many instruments?", "two", "yes"]] * 3
    speech._csv(root / "clotho_aqa_train.csv", ["file_name", "QuestionText", "answer", "confidence"], only_no)
    result = runner.invoke(app, ["run", "clotho_aqa", "--root", str(root), "--out", str(tmp_path / "out"), "--stage", "encode",
                                 "--question-tags", "2"])
    assert result.exit_code == 0, result.output
    assert "--question-tags 2: no training question names what is heard" in " ".join(result.output.split())


def _unseen_answer_corpus(root):
    """The fake Clotho-AQA with one more test question whose answer ("zebra") no training question has."""
    root = speech.clotho_aqa(root)
    with open(root / "clotho_aqa_test.csv", "a", encoding="utf-8") as f:
        f.write("park.wav,What animal is it?,zebra,yes\npark.wav,What animal is it?,zebra,yes\n"
                "park.wav,What animal is it?,horse,yes\n")
    return root


def test_an_answer_unseen_in_training_is_no_candidate_is_scored_wrong_and_counted(tmp_path):
    from codec_bench.data import manifest as manifests
    from codec_bench.data.clotho_aqa import load
    from codec_bench.evaluation.records import RunName, scoring_records
    from codec_bench.prompts import Example

    manifest = load(_unseen_answer_corpus(tmp_path / "corpus"))
    assert "zebra" not in manifest.classes and set(manifest.classes) == {"yes", "car"}  # the training answers only
    assert manifest.unseen_answers == {"validation": 0, "test": 1} and "zebra" in manifest.dropped_classes
    assert any("1 of 3 test questions have an answer no training question has" in w
               for w in manifests.coverage_warnings(manifest))
    assert manifests.load(manifests.save(manifest, tmp_path / "m")).unseen_answers == manifest.unseen_answers
    test = manifest.split("test")
    examples = {"test": [Example(c.id, "", c.labels) for c in test]}
    first = np.zeros((len(test), len(manifest.classes)))
    first[:, 0] = 1.0  # every question answered with the first candidate: an all-zero truth row would match it
    [record] = scoring_records(manifest, {"test": first}, examples, tmp_path, RunName("c", "m", "llm_scoring"), tmp_path)
    right = sum(c.labels[0] == manifest.classes[0] for c in test)
    assert record.metrics["accuracy"] == pytest.approx(right / len(test))
    assert record.metrics["unseen_answer_rate"] == pytest.approx(1 / 3)


def test_a_question_answering_run_reports_its_unseen_answers(tmp_path):
    root = _unseen_answer_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "clotho_aqa", "--root", str(root), "--out", str(out), "--epochs", "1",
                                 "--no-generation", "--no-blind", "--keywords", "0"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "1 of 3 test questions have an answer no training question has" in " ".join(result.output.split())
    [test] = [r for r in io.read_json(out / "results.json")["records"] if r["split"] == "test"]
    assert test["metrics"]["unseen_answer_rate"] == pytest.approx(1 / 3)
    predicted = [row["prediction"][0] for row in io.read_jsonl(out / test["predictions"])]
    assert "zebra" not in predicted and "zebra" not in io.read_jsonl(out / test["predictions"])[0]["probabilities"]
    report = " ".join((out / "report.md").read_text().split())
    assert "3 test clips over 1 fold(s) × 1 seed(s)" not in report
    assert "(1 of them with an answer no training question has: never a candidate, scored wrong)" in report
