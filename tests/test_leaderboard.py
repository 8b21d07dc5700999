"""What a token stream uses (codebook utilisation and entropy, pinned on hand-made codes) and the leaderboard across
study folders: ranks with intervals, ties with the best (paired tests, Holm), cost columns, md/html/csv, and the
one-line refusal of folders that ran a dataset differently. Hand-made folders for the marks; two tiny studies for
the command end to end."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import TINY_LM
from typer.testing import CliRunner

from codec_bench.cli import app
from codec_bench.codecs.usage import codebook_counts, codebook_usage, corpus_usage
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.formats import Record, ResultsFile
from codec_bench.report.leaderboard import leaderboard
from codec_bench.study import benchmark

CLIPS = [f"c{i:02d}" for i in range(60)]
LABELS = ["cat", "dog"]


def test_codebook_utilisation_and_entropy_pinned_on_hand_made_codes():
    codes = [np.array([[0, 0, 1, 1], [2, 2, 2, 2]]), np.array([[0, 3], [2, 2]])]  # 2 codebooks of 4 entries
    assert codebook_counts(codes, 4).tolist() == [[3, 2, 0, 1], [0, 0, 6, 0]]
    usage = codebook_usage(codes, 4)
    assert usage["utilisation"] == [0.75, 0.25] and usage["tokens"] == 12 and usage["codebook_size"] == 4
    h = -(0.5 * math.log2(0.5) + (2 / 6) * math.log2(2 / 6) + (1 / 6) * math.log2(1 / 6))  # codebook 0: 3/6, 2/6, 1/6
    assert usage["entropy_bits"] == pytest.approx([h, 0.0]) and usage["entropy_bits"][1] == 0.0
    uniform = codebook_usage([np.arange(16)[None, :]], 16)  # every entry once: all used, log2(16) bits per token
    assert uniform["utilisation"] == [1.0] and uniform["entropy_bits"] == pytest.approx([4.0])
    assert codebook_usage([], 8) == {"utilisation": [], "entropy_bits": [], "tokens": 0, "codebook_size": 8}


def test_corpus_usage_is_counted_once_per_cache_and_clip_set(tmp_path):
    codes = {"a": np.array([[0, 1]]), "b": np.array([[1, 1]]), "c": np.array([[3, 3]])}
    first = corpus_usage(tmp_path, codes, ["b", "a", "missing"], 4)  # clips not in the cache are not counted
    assert first["clips"] == 2 and first["utilisation"] == [0.5] and len(list(tmp_path.glob("usage-*.json"))) == 1

    class Unread(dict):
        def __getitem__(self, key):
            raise AssertionError("counted twice")

    assert corpus_usage(tmp_path, Unread(codes), ["a", "b"], 4) == first  # same clips: read from the file
    assert corpus_usage(tmp_path, codes, ["a", "b", "c"], 4)["utilisation"] == [0.75]
    assert len(list(tmp_path.glob("usage-*.json"))) == 2


# --- the leaderboard on hand-made folders: results.json and prediction files ------------------------------------

def _predictions(folder: Path, name: str, right: int, clips: list[str]) -> str:
    """A predictions file where the first ``right`` clips are right; returns its path relative to ``folder``."""
    rows = []
    for i, clip in enumerate(clips):
        truth = LABELS[i % 2]
        guess = truth if i < right else LABELS[1 - i % 2]
        other = LABELS[1 - LABELS.index(guess)]
        rows.append({"id": clip, "labels": [truth], "prediction": [guess], "probabilities": {guess: 0.9, other: 0.1}})
    io.write_jsonl(folder / f"{name}.jsonl", rows)
    return f"{name}.jsonl"


def _record(folder: Path, codec: str, right: int, protocol: str = "official", clips: list[str] = CLIPS,
            costs: dict | None = None) -> Record:
    return Record("pets", "single_label", "sound", protocol, None, 0, codec, "tiny/full", "llm_scoring", "test", len(clips),
                  {"accuracy": right / len(clips)}, "accuracy", _predictions(folder, codec, right, clips), costs=costs or {})


def _folder(path: Path, entries: list[tuple], protocol: str = "official") -> Path:
    path.mkdir(parents=True)
    records = [_record(path, codec, right, protocol, costs=rest[0] if rest else None) for codec, right, *rest in entries]
    ResultsFile(records).to_file(path / "results.json")
    return path


COSTS = {"bitrate_bps": 800.0, "tokens_per_second": 100.0, "positions_per_second": 100.0,
         "codebook_utilisation": [0.5, 0.25], "codebook_entropy_bits": [3.0, 1.0], "usage_clips": 60, "patch": 1}


def test_leaderboard_ranks_marks_ties_with_the_best_and_adds_cost_columns(tmp_path):
    a = _folder(tmp_path / "lab-a", [("good", 60, COSTS), ("close", 58)])
    b = _folder(tmp_path / "lab-b", [("poor", 30)])
    paths = leaderboard([a, b], tmp_path / "board")
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [(r["codec"], r["source"], r["rank"], r["mark"]) for r in rows] == [
        ("good", "lab-a", "1", "best"), ("close", "lab-a", "2", "tied"), ("poor", "lab-b", "3", "below")]
    close, poor = rows[1], rows[2]
    assert close["test"] == "exact McNemar" and float(close["p_holm"]) == pytest.approx(0.5)  # 2 discordant clips, x1
    assert float(poor["p"]) < 1e-8 and float(poor["p_holm"]) == pytest.approx(2 * float(poor["p"]))  # Holm over 2 rows
    assert float(poor["difference_pp"]) == pytest.approx(-50.0)
    assert float(rows[0]["ci_low"]) == 1.0 and float(poor["ci_low"]) < 0.5 < float(poor["ci_high"])
    assert rows[0]["codebook_utilisation"] == "37.5" and rows[0]["codebook_entropy_bits"] == "2.0"
    assert rows[0]["tokens_per_second"] == "100.0" and rows[1]["tokens_per_second"] == ""
    md = paths["md"].read_text()
    best = "| 1 | ★ | good | tiny/full | llm_scoring | lab-a | 100.0 ± 0.0 [100.0, 100.0] | – | 1 × 1 | 60 | 800 | 100.0 | "
    assert best + "100.0 | 37.5 | 2.00 | – | – |" in md and "-50.0, p < 0.001 (exact McNemar)" in md
    assert "| 2 | ≈ | close |" in md and "| 3 | ▽ | poor |" in md and "## pets (single_label, protocol official, accuracy)" in md
    page = paths["html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and "≈" in page
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")  # one file, nothing fetched


def test_leaderboard_cannot_tell_on_other_clips_and_refuses_another_protocol_in_one_line(tmp_path):
    a = _folder(tmp_path / "a", [("good", 60)])
    other_clips = tmp_path / "c"
    other_clips.mkdir()
    ResultsFile([_record(other_clips, "shifted", 55, clips=[f"x{i}" for i in range(60)])]).to_file(other_clips / "results.json")
    rows = list(csv.DictReader(leaderboard([a, other_clips], tmp_path / "board")["csv"].open()))
    assert rows[1]["mark"] == "untested" and rows[1]["why"] == "different test clips"
    b = _folder(tmp_path / "b", [("poor", 30)], protocol="fold-wise")
    with pytest.raises(CodecBenchError) as err:
        leaderboard([a, b], tmp_path / "refused")
    message = str(err.value)
    assert "\n" not in message and "differ in protocol for pets ('official' vs 'fold-wise')" in message
    assert str(a) in message and str(b) in message and not (tmp_path / "refused").exists()


# --- end to end: two tiny studies, joined by the command --------------------------------------------------------

def _study(folder: Path, codebook_size: int) -> Path:
    raw = {"name": "tiny", "out": str(folder / "out"),
           "datasets": [{"name": "instruments", "options": {"sizes": {"train": 24, "validation": 8, "test": 16}}}],
           "codecs": [{"name": "embedded", "options": {"codebook_size": codebook_size}}],
           "models": [{"name": "tiny", "tiny_sizes": TINY_LM}], "recipes": [{"name": "full", "epochs": 1, "batch_size": 8}],
           "generation": False}
    (folder / "study.yaml").write_text(yaml.safe_dump(raw))
    return benchmark.run_study(folder / "study.yaml")


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory):
    """The same tiny study (generated instruments, the embedded codec, a tiny LM) with 16 and 32 codebook entries."""
    return [_study(tmp_path_factory.mktemp(f"study-{k}"), k) for k in (16, 32)]


def test_the_command_joins_two_study_folders_with_tie_marks_and_cost_columns(two_studies, tmp_path):
    result = CliRunner().invoke(app, ["leaderboard", *map(str, two_studies), "--out", str(tmp_path / "board")])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "board" / "leaderboard.csv").open()))
    llm = [r for r in rows if r["method"] == "llm_scoring"]
    assert len(llm) == 2 and {r["source"] for r in rows} == {f"{p.parent.name}/out" for p in two_studies}
    assert {r["mark"] for r in rows} <= {"best", "tied", "below", "untested"} and rows[0]["mark"] == "best"
    assert all(r["test"] for r in rows[1:]) and all(r["p_holm"] for r in rows[1:])  # every row tested on the shared clips
    assert all(r["n_clips"] == "16" and r["ci_low"] for r in rows)
    for row in llm:  # the embedded codec: 50 frames/s, one codebook; its use and entropy measured on the corpus
        assert row["tokens_per_second"] == "50.0" and float(row["bitrate_bps"]) in (200.0, 250.0)
        assert 0 < float(row["codebook_utilisation"]) <= 100 and 0 < float(row["codebook_entropy_bits"]) <= 5
    md = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "★" in md and "codebook use %" in md and "bits/token" in md and "## Joined folders" in md
    assert (tmp_path / "board" / "leaderboard.html").read_text().count("<table>") == 2
    assert "leaderboard.md" in result.output


def test_the_command_refuses_folders_that_differ_in_protocol(two_studies, tmp_path):
    changed = tmp_path / "changed"
    shutil.copytree(two_studies[1], changed)
    for path in changed.glob("*/*/eval/records.json"):  # as if the study had run another protocol
        path.write_text(path.read_text().replace('"protocol": "official"', '"protocol": "other"'))
    result = CliRunner().invoke(app, ["leaderboard", str(two_studies[0]), str(changed), "--out", str(tmp_path / "board")])
    assert isinstance(result.exception, CodecBenchError)
    message = str(result.exception)
    assert "\n" not in message and "differ in protocol for instruments ('official' vs 'other')" in message
