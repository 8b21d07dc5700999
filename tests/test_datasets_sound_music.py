"""Sound and music loaders on tiny fake corpora in their official layouts: labels, splits, folds, errors."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import _fake_corpora_sound as fake  # noqa: E402
import pytest  # noqa: E402

from codec_bench.core.errors import CodecBenchError  # noqa: E402
from codec_bench.data import DATASETS, prepare  # noqa: E402
from codec_bench.data.manifest import DOMAINS, SPLITS, TASKS, Manifest  # noqa: E402

SOUND_MUSIC = ["esc50", "urbansound8k", "fsd50k", "arca23k_fsd", "vivae", "flusense", "fma_small", "magnatagatune",
               "irmas", "medley_solos_db", "gtzan", "mtg_jamendo_genre", "mtg_jamendo_instrument",
               "mtg_jamendo_moodtheme", "folder"]


def ids(manifest: Manifest, split: str) -> set[str]:
    return {c.id for c in manifest.split(split)}


def sizes(manifest: Manifest) -> tuple[int, int, int]:
    return tuple(len(manifest.split(s)) for s in SPLITS)


def check_disjoint(manifest: Manifest) -> None:
    """Every clip in exactly one split, ids unique, paths absolute, every split non-empty."""
    assert len({c.id for c in manifest.clips}) == len(manifest.clips)
    assert all(c.split in SPLITS for c in manifest.clips)
    assert all(Path(c.path).is_absolute() for c in manifest.clips)
    assert all(manifest.split(s) for s in SPLITS)


# --- registry --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SOUND_MUSIC)
def test_spec_is_complete(name):
    spec = DATASETS[name]
    assert spec.name == name and spec.domain in DOMAINS and spec.task in TASKS
    assert spec.instruction.endswith(".") and "ROOT/" in spec.layout
    assert spec.domain in ("sound", "music")
    for protocol in spec.protocols:
        folds = spec.fold_names(protocol)
        assert folds == [None] or folds == [str(k) for k in range(1, len(folds) + 1)]


@pytest.mark.parametrize("name", SOUND_MUSIC)
def test_empty_root_shows_expected_layout(name, tmp_path):
    with pytest.raises(CodecBenchError) as err:
        DATASETS[name].load(tmp_path)
    assert DATASETS[name].layout in str(err.value)


# --- ESC-50 ----------------------------------------------------------------------------------------------------

def test_esc50_official_folds(tmp_path):
    root = fake.esc50(tmp_path)
    for fold in DATASETS["esc50"].folds["official"]:
        m = prepare("esc50", root, "official", fold)
        check_disjoint(m)
        k = int(fold)
        assert sizes(m) == (18, 6, 6)
        assert {c.id[6] for c in m.split("test")} == {str(k)}  # audio/{fold}-...
        assert {c.id[6] for c in m.split("validation")} == {str(k % 5 + 1)}
    assert m.classes == ["dog", "door wood knock", "rain"] and m.task == "single_label"
    assert m.name == "esc50-fold5"


def test_esc50_arch_protocol(tmp_path):
    m = prepare("esc50", fake.esc50(tmp_path), "arch", None)
    check_disjoint(m)
    assert m.fold == "1" and sizes(m) == (18, 6, 6)  # whole src_files of 2 clips
    assert {c.id[6] for c in m.split("test")} == {"1"}
    assert "1" not in {c.id[6] for c in m.split("validation")}
    again = prepare("esc50", tmp_path, "arch", "1")
    assert ids(again, "validation") == ids(m, "validation")  # seed 42, deterministic


def test_esc50_errors(tmp_path):
    root = fake.esc50(tmp_path)
    (root / "audio" / "1-1000-A-0.wav").unlink()
    m = prepare("esc50", root, "official", "1")
    assert len(m.skipped) == 1 and "1-1000-A-0.wav" in m.skipped[0]["path"]
    with pytest.raises(CodecBenchError, match="fold '6'"):
        DATASETS["esc50"].load(root, fold="6")
    (root / "meta" / "esc50.csv").unlink()
    with pytest.raises(CodecBenchError, match="missing: meta/esc50.csv") as err:
        prepare("esc50", root)
    assert DATASETS["esc50"].layout in str(err.value)


# --- UrbanSound8K ----------------------------------------------------------------------------------------------

def test_urbansound8k_validation_fold_never_in_training(tmp_path):
    root = fake.urbansound8k(tmp_path)
    for fold in DATASETS["urbansound8k"].folds["official"]:
        m = prepare("urbansound8k", root, "official", fold)
        check_disjoint(m)
        k = int(fold)
        fold_dirs = {s: {c.id.split("/")[1] for c in m.split(s)} for s in SPLITS}
        assert fold_dirs["test"] == {f"fold{k}"} and fold_dirs["validation"] == {f"fold{k % 10 + 1}"}
        assert not fold_dirs["train"] & (fold_dirs["test"] | fold_dirs["validation"])
        assert sizes(m) == (32, 4, 4)
    assert m.classes == ["car horn", "siren"]
    arch = prepare("urbansound8k", root, "arch", "10")
    check_disjoint(arch)
    assert sizes(arch) == (28, 8, 4) and {c.id.split("/")[1] for c in arch.split("test")} == {"fold10"}


def test_urbansound8k_missing_audio_is_counted(tmp_path):
    root = fake.urbansound8k(tmp_path)
    (root / "audio" / "fold3" / "301-1-0-0.wav").unlink()
    assert len(prepare("urbansound8k", root, "official", "1").skipped) == 1


# --- FSD50K and ARCA23K-FSD ------------------------------------------------------------------------------------

def test_fsd50k_multi_label_and_splits(tmp_path):
    m = prepare("fsd50k", fake.fsd50k(tmp_path))
    check_disjoint(m)
    assert m.task == "multi_label" and sizes(m) == (4, 2, 2)
    first = next(c for c in m.clips if c.id == "FSD50K.dev_audio/103.wav")
    assert first.labels == ("Accelerating and revving and vroom", "Vehicle")
    assert ids(m, "test") == {"FSD50K.eval_audio/201.wav", "FSD50K.eval_audio/202.wav"}
    car = next(c for c in m.clips if c.id.endswith("202.wav"))
    assert car.labels == ("Vehicle",)  # "Car passing by" never occurs in training: dropped, counted
    assert any("Car passing by" in s["reason"] for s in m.skipped)


def test_fsd50k_missing_ground_truth(tmp_path):
    root = fake.fsd50k(tmp_path)
    (root / "FSD50K.ground_truth" / "eval.csv").unlink()
    with pytest.raises(CodecBenchError, match="FSD50K.ground_truth/eval.csv"):
        prepare("fsd50k", root)


def test_arca23k_fsd_reads_fsd50k_audio(tmp_path):
    root = fake.arca23k_fsd(tmp_path)
    (root / "FSD50K.dev_audio" / "6.wav").unlink()
    m = prepare("arca23k_fsd", root)
    assert sizes(m) == (4, 1, 2) and len(m.skipped) == 1
    assert m.classes == ["Bass guitar", "Crumpling and crinkling"]
    assert all(c.id.startswith("FSD50K.eval_audio/") for c in m.split("test"))


# --- VIVAE -----------------------------------------------------------------------------------------------------

def test_vivae_leave_one_speaker_out(tmp_path):
    root = fake.vivae(tmp_path)
    folds = DATASETS["vivae"].folds["official"]
    assert folds == [str(k) for k in range(1, 12)]
    m = prepare("vivae", root, "official", "11")
    check_disjoint(m)
    speakers = {s: {c.speaker for c in m.split(s)} for s in SPLITS}
    assert speakers["test"] == {"S11"} and speakers["validation"] == {"S01"} and len(speakers["train"]) == 9
    assert sizes(m) == (18, 2, 2) and m.classes == ["achievement", "anger"]
    assert not any("core_set" in c.id for c in m.clips)


def test_vivae_unknown_emotion(tmp_path):
    root = fake.vivae(tmp_path)
    fake.audio(root / "full_set" / "S01_joy_low_02.wav")
    with pytest.raises(CodecBenchError, match="S01_joy_low_02.wav"):
        prepare("vivae", root)


# --- FMA-small -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flat", [False, True])
def test_fma_small_official_split(tmp_path, flat):
    m = prepare("fma_small", fake.fma_small(tmp_path, flat=flat), "official")
    check_disjoint(m)
    assert sizes(m) == (14, 3, 3) and m.classes == ["Hip-Hop", "Rock"]
    assert "099999" not in {c.id for c in m.clips} and "088888" not in {c.id for c in m.clips}
    assert all(Path(c.path).is_file() for c in m.clips)


def test_fma_small_arch_random_split(tmp_path):
    root = fake.fma_small(tmp_path)
    (root / "fma_small" / "000" / "000002.mp3").unlink()  # 19 existing files left
    m = prepare("fma_small", root, "arch")
    check_disjoint(m)
    assert sizes(m) == (15, 2, 2) and len(m.skipped) == 1
    assert ids(prepare("fma_small", root, "arch"), "test") == ids(m, "test")


def test_fma_small_missing_metadata(tmp_path):
    root = fake.fma_small(tmp_path)
    (root / "fma_metadata" / "tracks.csv").unlink()
    with pytest.raises(CodecBenchError, match="fma_metadata/tracks.csv"):
        prepare("fma_small", root)


# --- MagnaTagATune ---------------------------------------------------------------------------------------------

def test_magnatagatune_top50_and_folder_split(tmp_path):
    m = prepare("magnatagatune", fake.magnatagatune(tmp_path))
    check_disjoint(m)
    assert {c.id[0] for c in m.split("train")} == {"0", "1", "b"}
    assert {c.id[0] for c in m.split("validation")} == {"c"} and {c.id[0] for c in m.split("test")} == {"d", "f"}
    assert sizes(m) == (4, 1, 2)  # broken 35644 and the clip with only "singer" are out
    assert not any("35644" in c.id for c in m.clips) and not any("track_21" in c.id for c in m.clips)
    assert any("broken" in s["reason"] for s in m.skipped)
    labels = {c.id.split("-")[2]: c.labels for c in m.clips}
    assert labels["10"] == ("rock", "male vocal") and labels["31"] == ("guitar", "classical")
    assert m.task == "multi_label" and "singer" not in m.classes


# --- IRMAS -----------------------------------------------------------------------------------------------------

def test_irmas_train_validation_and_test_parts(tmp_path):
    m = prepare("irmas", fake.irmas(tmp_path))
    check_disjoint(m)
    assert sizes(m) == (11, 4, 4)  # validation: 2 whole recordings of 2 excerpts
    assert {c.labels for c in m.split("train")} == {("cello",), ("piano",), ("voice",)}
    test = {Path(c.path).stem: c.labels for c in m.split("test")}
    assert test == {"song a-1": ("piano", "voice"), "song a-2": ("cello",), "song b-1": ("voice",),
                    "song c-1": ("cello", "piano")}
    assert all(c.id.startswith("IRMAS-Training") for c in m.split("validation"))


def test_irmas_unknown_codes(tmp_path):
    root = fake.irmas(tmp_path)
    bad = fake.audio(root / "IRMAS-TrainingData" / "xyz" / "[xyz][cla]0001__1.wav")
    with pytest.raises(CodecBenchError, match=r"xyz.*unknown IRMAS instrument code 'xyz'"):
        prepare("irmas", root)
    bad.unlink()
    (root / "IRMAS-TestingData-Part3" / "Part3" / "song c-1.txt").write_text("pia\nbanjo\n")
    with pytest.raises(CodecBenchError, match="song c-1.txt: unknown IRMAS instrument code 'banjo'"):
        prepare("irmas", root)


def test_irmas_missing_test_part(tmp_path):
    root = fake.irmas(tmp_path)
    for path in sorted((root / "IRMAS-TestingData-Part2").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (root / "IRMAS-TestingData-Part2").rmdir()
    with pytest.raises(CodecBenchError, match="missing: IRMAS-TestingData-Part2"):
        prepare("irmas", root)


# --- Medley-solos-DB, GTZAN ------------------------------------------------------------------------------------

def test_medley_solos_db_official_subsets(tmp_path):
    root = fake.medley_solos_db(tmp_path)
    next((root / "audio").glob("Medley-solos-DB_test-7_*.wav")).unlink()
    m = prepare("medley_solos_db", root)
    assert sizes(m) == (6, 2, 1) and len(m.skipped) == 1
    assert m.classes == ["distorted electric guitar", "violin"]
    assert all(c.id.startswith("audio/Medley-solos-DB_training-") for c in m.split("train"))
    assert {c.speaker for c in m.split("train")} == {"10", "11", "70", "71"}


def test_gtzan_fault_filtered_lists_and_au_files(tmp_path):
    m = prepare("gtzan", fake.gtzan(tmp_path))
    check_disjoint(m)
    assert m.protocol == "fault_filtered" and m.fold is None and len(m.classes) == 10
    for split, position in zip(SPLITS, range(3)):
        expected = {f"genres/{g}/{g}.{n[position]:05d}.au" for g, n in fake.GTZAN_FAULT_FILTERED.items()}
        assert ids(m, split) == expected
    assert not any(fake.GTZAN_UNLISTED in c.id for c in m.clips)  # in no list: left out, not skipped
    assert len(m.skipped) == 930 - 30 and all("not found" in s["reason"] for s in m.skipped)
    assert all(c.path.endswith(".au") and c.labels[0] == Path(c.path).parent.name for c in m.clips)
    assert ids(prepare("gtzan", tmp_path / "genres"), "test") == {i.removeprefix("genres/") for i in ids(m, "test")}


def test_gtzan_random_ten_folds(tmp_path):
    root = fake.gtzan(tmp_path, per_genre=10)
    folds = DATASETS["gtzan"].folds["random"]
    assert folds == [str(k) for k in range(1, 11)]
    tests = [ids(prepare("gtzan", root, "random", fold), "test") for fold in folds]
    assert set.union(*tests) == {c.id for c in prepare("gtzan", root, "random", "1").clips}  # every clip tested once
    m = prepare("gtzan", root, "random", "3")
    check_disjoint(m)
    assert sizes(m) == (80, 10, 10) and m.name == "gtzan-random-fold3"
    for split in SPLITS:  # stratified: 8 / 1 / 1 of every genre
        assert set(Counter(c.labels[0] for c in m.split(split)).values()) == {8 if split == "train" else 1}
    assert ids(m, "validation") == tests[3]  # validation = the next fold


def test_gtzan_unknown_genre_folder(tmp_path):
    root = fake.gtzan(tmp_path)
    fake.audio(root / "genres" / "polka" / "polka.00000.au")
    with pytest.raises(CodecBenchError, match="polka.00000.au"):
        prepare("gtzan", root)


# --- MTG-Jamendo -----------------------------------------------------------------------------------------------

def test_mtg_jamendo_genre_tags_spill_over_columns(tmp_path):
    m = prepare("mtg_jamendo_genre", fake.mtg_jamendo(tmp_path))
    check_disjoint(m)
    assert sizes(m) == (4, 2, 2) and m.task == "multi_label" and m.classes == ["electronic", "pop", "rock"]
    track = next(c for c in m.clips if c.id == "track_0000948")
    assert track.labels == ("pop", "rock") and track.speaker == "artist_000087"
    assert track.path.endswith("audio/48/948.mp3")
    assert next(c for c in m.clips if c.id == "track_0003002").path.endswith("02/3002.low.mp3")


def test_mtg_jamendo_other_subset_needs_its_own_files(tmp_path):
    root = fake.mtg_jamendo(tmp_path)
    with pytest.raises(CodecBenchError, match="autotagging_moodtheme-train.tsv"):
        prepare("mtg_jamendo_moodtheme", root)
    (root / "audio" / "50" / "950.mp3").unlink()
    assert len(prepare("mtg_jamendo_genre", root).skipped) == 1


# --- FluSense, folder ------------------------------------------------------------------------------------------

def test_flusense_clip_level_labels(tmp_path):
    m = prepare("flusense", fake.flusense(tmp_path))
    check_disjoint(m)
    assert sizes(m) == (5, 2, 2) and m.protocol == "random"
    assert "quiet" not in {c.id for c in m.clips}
    assert [s["path"].endswith("noaudio.wav") for s in m.skipped] == [True]
    cough = next(c for c in m.clips if c.id.startswith("cough") and c.split == "train")
    assert cough.labels == ("cough", "throat clearing")
    assert cough.extra["segments"][0] == [0.0, 6.0, "cough"]
    assert m.classes == ["cough", "sneeze", "speech", "throat clearing"]


def test_folder_flat_layout(tmp_path):
    m = prepare("folder", fake.folder(tmp_path))
    check_disjoint(m)
    assert sizes(m) == (6, 2, 2) and m.classes == ["cat", "dog bark"]
    assert "dog_bark/sub/0.flac" in {c.id for c in m.clips}


def test_folder_split_layout_carves_validation(tmp_path):
    m = prepare("folder", fake.folder(tmp_path, splits=True))
    check_disjoint(m)
    assert sizes(m) == (6, 4, 2)
    assert all(c.id.startswith("train/") for c in m.split("validation"))
    assert all(c.id.startswith("test/") for c in m.split("test"))
