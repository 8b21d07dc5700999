"""`codec-bench run NAME --root PATH` on every corpus, from a tiny fake tree in its official layout, with the
tiny LM's defaults (log-mel frames for a classification corpus; one training step: this checks the stages connect,
not accuracy)."""

import _fake_corpora_sound as sound
import _fake_corpora_speech as speech
import pytest
from typer.testing import CliRunner

from codec_bench.cli import app
from codec_bench.core import io


def jamendo(subset: str, prefix: str):
    """The genre fake tree rewritten as another MTG-Jamendo subset (same tracks, that subset's tag prefix)."""
    def build(root):
        sound.mtg_jamendo(root)
        for path in sorted((root / "data" / "splits" / "split-0").glob("autotagging_genre-*.tsv")):
            path.with_name(path.name.replace("genre", subset)).write_text(path.read_text().replace("genre---", prefix))
        return root
    return build


CORPORA = {
    "esc50": sound.esc50, "urbansound8k": sound.urbansound8k, "fsd50k": sound.fsd50k, "arca23k_fsd": sound.arca23k_fsd,
    "vivae": sound.vivae, "fma_small": sound.fma_small, "magnatagatune": sound.magnatagatune, "irmas": sound.irmas,
    "medley_solos_db": sound.medley_solos_db, "gtzan": sound.gtzan, "mtg_jamendo_genre": sound.mtg_jamendo,
    "mtg_jamendo_instrument": jamendo("instrument", "instrument---"),
    "mtg_jamendo_moodtheme": jamendo("moodtheme", "mood/theme---"), "flusense": sound.flusense,
    "folder": sound.folder, "ravdess": speech.ravdess, "crema_d": speech.crema_d, "audio_mnist": speech.audio_mnist,
    "emovo": speech.emovo, "slurp": speech.slurp, "timit": speech.timit, "vctk": speech.vctk,
}
runner = CliRunner()


def test_every_registered_corpus_is_covered():
    from codec_bench.data import DATASETS

    assert set(DATASETS) - set(CORPORA) == {"csv", "instruments", "mixtures", "clotho_aqa"}


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_run_with_the_embedded_default(name, tmp_path):
    root = CORPORA[name](tmp_path / "corpus")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", name, "--root", str(root), "--out", str(out), "--folds", "1", "--epochs", "1",
                                 "--no-generation"] if _has_folds(name) else
                           ["run", name, "--root", str(root), "--out", str(out), "--epochs", "1", "--no-generation"])
    assert result.exit_code == 0, result.output
    records = io.read_json(out / "results.json")["records"]
    assert {r["method"] for r in records} == {"llm_scoring", "baseline_logmel_logreg"}
    assert all(r["dataset"] == name and r["n_clips"] > 0 for r in records)


def _has_folds(name):
    from codec_bench.data import DATASETS

    spec = DATASETS[name]
    return bool(spec.folds.get(spec.protocols[0]))


@pytest.mark.parametrize("codec", ["embedded", "logmel"])
def test_question_answering_runs_with_the_question_in_the_prompt(tmp_path, codec):
    root = speech.clotho_aqa(tmp_path / "corpus")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "clotho_aqa", "--root", str(root), "--out", str(out), "--epochs", "1", "--codec", codec])
    assert result.exit_code == 0, result.output
    records = io.read_json(out / "results.json")["records"]
    assert {r["method"] for r in records} == {"llm_scoring", "llm_generation", "baseline_blind_llm", "baseline_majority_by_form"}
    test = next(r for r in records if r["method"] == "llm_scoring" and r["split"] == "test")
    assert {"accuracy", "any_annotator_accuracy"} <= set(test["metrics"]) and test["headline"] == "accuracy"
    run_dir = next((out / "clotho_aqa").glob(f"{codec}-*"))
    prompt = io.read_jsonl(run_dir / "prompts" / "test.jsonl")[0]["prompt"]
    assert "Question: " in prompt and "?" in prompt
