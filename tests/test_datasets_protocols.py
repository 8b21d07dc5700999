"""Split protocols as the corpora and the literature define them: no source recording on both sides of a random
cut, ESC-10, GTZAN's fault-filtered lists, SLURP's scenario_action labels, Clotho-AQA's three annotators, and a
protocol note for every registered protocol."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import csv  # noqa: E402
import json  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import _fake_corpora_sound as sound  # noqa: E402
import _fake_corpora_speech as speech  # noqa: E402
import pytest  # noqa: E402

from codec_bench.core.errors import CodecBenchError  # noqa: E402
from codec_bench.data import DATASETS, clotho_aqa, flusense, gtzan_splits, prepare, slurp  # noqa: E402
from codec_bench.data.common import random_validation, stratified_split  # noqa: E402
from codec_bench.data.manifest import Manifest  # noqa: E402


def sides(manifest: Manifest, group_of) -> dict[str, set[str]]:
    """group -> the splits its clips are in."""
    out: dict[str, set[str]] = defaultdict(set)
    for clip in manifest.clips:
        out[group_of(clip)].add(clip.split)
    return out


def assert_groups_whole(manifest: Manifest, group_of) -> None:
    straddling = {g: s for g, s in sides(manifest, group_of).items() if len(s) > 1}
    assert not straddling


# --- the registry states every protocol's definition and source ---

@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_protocol_has_a_note(name):
    spec = DATASETS[name]
    assert set(spec.protocol_notes) == set(spec.protocols)
    assert all(note.strip() and "\n" not in note for note in spec.protocol_notes.values())


# --- shared helpers ---

def test_stratified_split_keeps_groups_whole_and_stratifies():
    keys = [f"{label}-{g}-{i}" for label in "ab" for g in range(10) for i in range(2)]
    strata = [k[0] for k in keys]
    groups = [k.rsplit("-", 1)[0] for k in keys]
    split = stratified_split(keys, strata, (0.8, 0.1, 0.1), seed=3, groups=groups)
    assert split == stratified_split(keys, strata, (0.8, 0.1, 0.1), seed=3, groups=groups)
    by_group = defaultdict(set)
    for key, group in zip(keys, groups):
        by_group[group].add(split[key])
    assert all(len(s) == 1 for s in by_group.values())
    assert Counter((k[0], split[k]) for k in keys) == {(l, s): n for l in "ab" for s, n in
                                                     (("train", 16), ("validation", 2), ("test", 2))}
    assert stratified_split(keys, strata, seed=3) == stratified_split(keys, strata, seed=3, groups=keys)


def test_random_validation_draws_whole_groups():
    keys = [f"k{i}" for i in range(20)]
    groups = {k: f"g{int(k[1:]) // 3}" for k in keys}
    chosen = random_validation(keys, 0.2, seed=42, groups=groups)
    assert len(chosen) >= 4 and all({k for k in keys if groups[k] == groups[c]} <= chosen for c in chosen)
    assert random_validation(keys, 0.2, seed=42) == random_validation(keys, 0.2, 42)  # ungrouped unchanged


# --- ESC-50 / ESC-10, UrbanSound8K: the arch validation never splits a source recording ---

@pytest.mark.parametrize("fold", ["1", "3"])
def test_esc50_arch_validation_by_src_file(tmp_path, fold):
    m = prepare("esc50", sound.esc50(tmp_path), "arch", fold)
    assert_groups_whole(m, lambda c: c.extra["src_file"])
    assert len(m.split("validation")) >= round(0.2 * 24)


def test_esc10_subset(tmp_path):
    root = sound.esc50(tmp_path)
    m = prepare("esc50", root, "esc10", "2")
    assert m.classes == ["dog", "rain"] and len(m.clips) == 5 * 2 * 2
    assert {c.id[6] for c in m.split("test")} == {"2"} and {c.id[6] for c in m.split("validation")} == {"3"}
    assert DATASETS["esc50"].folds["esc10"] == ["1", "2", "3", "4", "5"]
    meta = root / "meta" / "esc50.csv"
    meta.write_text(meta.read_text().replace(",True,", ",yes,", 1))
    with pytest.raises(CodecBenchError, match="esc50.csv: .* has esc10 'yes', not True or False"):
        prepare("esc50", root, "esc10", "1")


def test_urbansound8k_arch_validation_by_fsid(tmp_path):
    root = sound.urbansound8k(tmp_path)
    for fold in ("1", "10"):
        assert_groups_whole(prepare("urbansound8k", root, "arch", fold), lambda c: c.extra["fsID"])


# --- IRMAS, FMA-small, FluSense: recordings, artists, videos ---

def test_irmas_validation_by_recording(tmp_path):
    m = prepare("irmas", sound.irmas(tmp_path))
    train_side = [c for c in m.clips if c.split != "test"]
    assert_groups_whole(Manifest("irmas", m.task, m.domain, "", [], train_side), lambda c: c.speaker)
    prefixed = next(c for c in m.clips if Path(c.path).name.startswith("001__"))
    assert prefixed.speaker == "0005" and prefixed.labels == ("voice",)
    sound.audio(tmp_path / "IRMAS-TrainingData" / "cel" / "[cel][cla]take.wav")
    with pytest.raises(CodecBenchError, match=r"take.wav: not an IRMAS training name"):
        prepare("irmas", tmp_path)


def test_fma_small_arch_by_artist(tmp_path):
    root = sound.fma_small(tmp_path)
    m = prepare("fma_small", root, "arch")
    assert_groups_whole(m, lambda c: c.speaker)
    assert {c.speaker for c in m.clips} == {str(500 + i) for i in range(10)}
    tracks = root / "fma_metadata" / "tracks.csv"
    rows = list(csv.reader(tracks.open()))
    rows[1][2] = "handle"  # (artist, id) renamed
    with tracks.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(CodecBenchError, match="tracks.csv: missing column.* artist.id"):
        prepare("fma_small", root, "arch")


def test_flusense_excerpts_of_one_video_share_a_split(tmp_path):
    m = prepare("flusense", sound.flusense(tmp_path))
    same_video = {c.split for c in m.clips if c.id.startswith(sound.FLUSENSE_VIDEO)}
    assert len([c for c in m.clips if c.id.startswith(sound.FLUSENSE_VIDEO)]) == 2 and len(same_video) == 1
    assert_groups_whole(m, lambda c: flusense.video_id(c.id))
    assert flusense.video_id("-BdPW1c_3_8_0_000-10_000") == "-BdPW1c_3_8"
    assert flusense.video_id("--U7joUcTCo") == "--U7joUcTCo"


# --- GTZAN: Kereliuk et al.'s lists ---

def test_gtzan_fault_filtered_lists_are_whole():
    lists = [gtzan_splits.names(part) for part in (gtzan_splits.TRAIN, gtzan_splits.VALID, gtzan_splits.TEST)]
    assert [len(names) for names in lists] == [443, 197, 290]
    assert len(set().union(*lists)) == 930 == len(gtzan_splits.fault_filtered())
    assert lists[0][0] == "blues.00029" and lists[2][-1] == "rock.00090"
    assert gtzan_splits.fault_filtered()["hiphop.00081"] == "validation"


# --- SLURP: scenario_action, as its scorer ---

def test_slurp_labels_follow_the_scorer_not_the_intent_field(tmp_path):
    root = speech.slurp(tmp_path)
    test_rows = map(json.loads, (root / "dataset" / "slurp" / "test.jsonl").read_text().splitlines())
    bare = [r for r in test_rows if r["intent"] == r["action"]]
    assert bare  # the fake tree carries the quirk
    m = slurp.load(root)
    assert not {"query", "music", "set", "recipe"} & set(m.classes)
    assert len(m.split("validation")) == 8 and len(m.skipped) == 4  # only the cooking recipe clips (unseen)


# --- Clotho-AQA: three annotators per question ---

def test_clotho_aqa_repeated_question_gives_two_samples(tmp_path):
    root = speech.clotho_aqa(tmp_path)
    train = root / "clotho_aqa_train.csv"
    rows = list(csv.reader(train.open()))
    rows += [["street.wav", "Is there a bird?", a, "yes"] for a in ("no", "no", "yes")]  # asked again
    with train.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    m = clotho_aqa.load(root)
    asked = [c for c in m.clips if c.id.startswith("street.wav") and c.extra["question"] == "Is there a bird?"]
    assert [c.extra["answers"] for c in asked] == [["yes", "yes", "no"], ["no", "no", "yes"]]
    assert [c.labels for c in asked] == [("yes",), ("no",)] and len({c.id for c in asked}) == 2


# --- csv: a speaker column keeps its clips together when the split is made here ---

def test_csv_random_split_by_speaker(tmp_path):
    rows = [[f"{s}-{i}.wav", "dog" if s % 2 else "cat", f"spk{s}"] for s in range(10) for i in range(3)]
    for rel, *_ in rows:
        sound.audio(tmp_path / rel)
    sound.table(tmp_path / "metadata.csv", ["path", "label", "speaker"], rows)
    m = prepare("csv", tmp_path)
    assert_groups_whole(m, lambda c: c.speaker)
    assert all(m.split(s) for s in ("train", "validation", "test"))
