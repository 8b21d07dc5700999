"""Speech loaders (and Clotho-AQA, the hub source) on tiny fake corpora in their official layouts."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import shutil
from pathlib import Path

import _fake_corpora_speech as fake
import numpy as np
import pytest
import soundfile as sf

from codec_bench.core.errors import CodecBenchError
from codec_bench.data import DATASETS, audio_mnist, clotho_aqa, crema_d, emovo, hub, prepare, ravdess, slurp, timit, vctk
from codec_bench.data.manifest import Manifest

SPEECH = ("ravdess", "crema_d", "audio_mnist", "emovo", "slurp", "timit", "vctk", "clotho_aqa")


def speakers(m: Manifest, split: str) -> set[str]:
    return {c.speaker for c in m.split(split)}


def assert_speaker_independent(m: Manifest) -> None:
    train, val, test = (speakers(m, s) for s in ("train", "validation", "test"))
    assert train and val and test
    assert not (train & val) and not (train & test) and not (val & test)


def test_registry_specs() -> None:
    for name in SPEECH:
        spec = DATASETS[name]
        assert spec.name == name and spec.layout and spec.instruction.endswith(".")
        assert spec.domain == ("sound" if name == "clotho_aqa" else "speech")
        for protocol, folds in spec.folds.items():
            assert protocol in spec.protocols and folds == [str(k) for k in range(1, len(folds) + 1)]


# --- RAVDESS ---

def test_ravdess_speaker_folds(tmp_path: Path) -> None:
    root = fake.ravdess(tmp_path)
    seen_test: set[str] = set()
    for fold in DATASETS["ravdess"].folds["speaker"]:
        m = prepare("ravdess", root, "speaker", fold)
        assert_speaker_independent(m)
        assert len(speakers(m, "test")) == 4 and len(speakers(m, "validation")) == 4
        assert {int(s) % 2 for s in speakers(m, "test")} == {0, 1}  # both genders in each fold
        seen_test |= speakers(m, "test")
    assert len(seen_test) == 24
    # the official class list; labels with no training clip in this tiny tree are no candidates (listed apart)
    assert sorted(m.classes + m.dropped_classes) == [
        "angry",
        "calm",
        "disgust",
        "fearful",
        "happy",
        "neutral",
        "sad",
        "surprised",
    ]
    assert {c.labels[0] for c in m.clips} == {"neutral", "happy", "angry"}
    assert all("03-02-" not in c.id for c in m.clips)  # the song file is not read
    assert ravdess.load(root).protocol == "speaker" and ravdess.load(root).fold == "1"


def test_ravdess_arch_split_is_random_64_16_20(tmp_path: Path) -> None:
    m = ravdess.load(fake.ravdess(tmp_path), "arch")
    n = len(m.clips)
    assert m.fold is None and n == 24 * 6
    assert len(m.split("test")) == round(0.2 * n) and len(m.split("validation")) == round(0.2 * (n - round(0.2 * n)))
    assert speakers(m, "train") & speakers(m, "test")  # speaker-overlapping, as documented
    assert [c.split for c in ravdess.load(tmp_path, "arch").clips] == [c.split for c in m.clips]


def test_ravdess_errors(tmp_path: Path) -> None:
    with pytest.raises(CodecBenchError, match="Actor_01"):
        ravdess.load(tmp_path)
    root = fake.ravdess(tmp_path / "r", actors=range(1, 13))
    fake.audio(root / "Actor_02" / "03-01-09-01-01-01-02.wav")
    with pytest.raises(CodecBenchError, match="03-01-09-01-01-01-02.wav: unknown emotion code '09'"):
        ravdess.load(root)
    with pytest.raises(CodecBenchError, match="unknown protocol"):
        ravdess.load(root, "random")


# --- CREMA-D ---

def test_crema_d_folds_and_skips(tmp_path: Path) -> None:
    root = fake.crema_d(tmp_path)
    (root / "AudioWAV" / "1003_IEO_SAD_XX.wav").unlink()  # listed in SentenceFilenames.csv, missing
    (root / "AudioWAV" / "1004_IEO_SAD_XX.wav").write_bytes(b"")  # empty file
    m = crema_d.load(root, fold="2")
    assert_speaker_independent(m)
    assert len(m.skipped) == 2 and {s["reason"][:5] for s in m.skipped} == {"audio", "empty"}
    assert {c.labels[0] for c in m.clips} == {"anger", "happy", "sad"} and len(m.classes + m.dropped_classes) == 6
    assert len(speakers(m, "test")) == 2 and m.fold == "2" and m.protocol == "speaker"


def test_crema_d_errors(tmp_path: Path) -> None:
    with pytest.raises(CodecBenchError, match="AudioWAV"):
        crema_d.load(tmp_path)
    root = fake.crema_d(tmp_path / "c", listing=False)
    fake.audio(root / "AudioWAV" / "1001_DFA_XYZ_XX.wav")
    with pytest.raises(CodecBenchError, match="1001_DFA_XYZ_XX.wav: unknown emotion code 'XYZ'"):
        crema_d.load(root)


# --- AudioMNIST ---

def test_audio_mnist_arch_folds(tmp_path: Path) -> None:
    root = fake.audio_mnist(tmp_path)
    for fold in range(1, 6):
        m = audio_mnist.load(root, "arch", str(fold))
        assert_speaker_independent(m)
        assert speakers(m, "test") == {f"{s:02d}" for s in audio_mnist.GROUPS[fold - 1][:2]}
        assert speakers(m, "validation") == {f"{s:02d}" for s in audio_mnist.GROUPS[fold % 5][:2]}
        assert len(m.split("train")) == 3 * 2 * 6
    assert {c.labels[0] for c in m.clips} == {"zero", "one", "seven"} and len(m.classes + m.dropped_classes) == 10
    with pytest.raises(CodecBenchError, match="fold '6'"):
        audio_mnist.load(root, fold="6")


def test_audio_mnist_errors(tmp_path: Path) -> None:
    with pytest.raises(CodecBenchError, match=r"missing: data\. Expected:\nROOT/"):
        audio_mnist.load(tmp_path)
    root = fake.audio_mnist(tmp_path / "a")
    fake.audio(root / "data" / "12" / "11_12_0.wav")
    with pytest.raises(CodecBenchError, match="11_12_0.wav: unknown digit code '11'"):
        audio_mnist.load(root)


# --- EMOVO ---

@pytest.mark.parametrize("protocol", ["speaker", "arch"])
def test_emovo_leave_one_speaker_out(tmp_path: Path, protocol: str) -> None:
    root = fake.emovo(tmp_path)
    for fold, speaker in enumerate(emovo.SPEAKERS, start=1):
        m = emovo.load(root, protocol, str(fold))
        assert speakers(m, "test") == {speaker}
        assert speaker not in speakers(m, "train") | speakers(m, "validation")
        if protocol == "speaker":
            assert_speaker_independent(m)
            assert speakers(m, "validation") == {emovo.SPEAKERS[fold % 6]}
        else:
            assert len(m.split("validation")) == round(0.1 * 5 * 20)
            assert len(speakers(m, "validation")) > 1
    assert {c.labels[0] for c in m.clips} == {"disgust", "joy", "neutral", "sadness"}


def test_emovo_layout_variants_and_errors(tmp_path: Path) -> None:
    assert len(emovo.load(fake.emovo(tmp_path / "d", base="Dataset")).clips) == 120
    with pytest.raises(CodecBenchError, match="missing: f1, f2"):
        emovo.load(tmp_path / "d" / "Dataset" / "f1")
    root = fake.emovo(tmp_path / "e")
    shutil.rmtree(root / "EMOVO" / "m3")
    with pytest.raises(CodecBenchError, match="missing: m3"):
        emovo.load(root)
    fake.emovo(root)
    fake.audio(root / "EMOVO" / "f2" / "xyz-f2-b1.wav")
    with pytest.raises(CodecBenchError, match="xyz-f2-b1.wav: unknown emotion code 'xyz'"):
        emovo.load(root)


# --- SLURP ---

def test_slurp_official_splits(tmp_path: Path) -> None:
    root = fake.slurp(tmp_path)
    missing = next((root / "slurp_real").glob("audio-101000-headset.flac"))
    missing.unlink()
    m = slurp.load(root)
    # union over splits of scenario_action; the bare actions in some devel/test `intent` fields are not classes
    assert m.classes == ["alarm set", "play music", "weather query"] and m.dropped_classes == ["cooking recipe"]
    assert len(m.split("train")) == 3 * 2 * 2 - 1 and len(m.split("validation")) == 2 * 2 * 2
    assert len(m.split("test")) == 2 * 2 * 2  # the 4 cooking-recipe recordings dropped: not in train
    reasons = [s["reason"] for s in m.skipped]
    assert sum("not found" in r for r in reasons) == 1 and sum("absent from the training" in r for r in reasons) == 4
    assert {c.extra["headset"] for c in m.clips} == {True, False}


def test_slurp_errors(tmp_path: Path) -> None:
    root = fake.slurp(tmp_path)
    (root / "dataset" / "slurp" / "devel.jsonl").unlink()
    with pytest.raises(CodecBenchError, match=r"missing: devel\.jsonl\. Expected:\nROOT/"):
        slurp.load(root)
    (root / "dataset" / "slurp" / "devel.jsonl").write_text('{"slurp_id": 1}\n')
    with pytest.raises(CodecBenchError, match="devel.jsonl, line 1: needs 'scenario', 'action'"):
        slurp.load(root)


# --- TIMIT ---

def test_timit_reads_nist_sphere(tmp_path: Path) -> None:
    path = fake.audio(tmp_path / "SA1.WAV", "NIST")
    assert path.read_bytes()[:7] == b"NIST_1A"
    samples, rate = sf.read(path)
    assert rate == 16000 and samples.shape == (1600,) and np.abs(samples).max() > 0


@pytest.mark.parametrize("upper", [True, False])
def test_timit_official_split(tmp_path: Path, upper: bool) -> None:
    root = fake.timit(tmp_path, upper=upper)
    m = timit.load(root)
    assert_speaker_independent(m)
    assert len(speakers(m, "validation")) == 3 and len(speakers(m, "train")) == 9 and len(speakers(m, "test")) == 6
    assert {c.labels[0] for c in m.clips} == {"New England", "Northern", "Southern"} and len(m.classes + m.dropped_classes) == 8
    assert len(m.clips) == (12 + 6) * 4
    no_sa = timit.load(root / "TIMIT", "no_sa")
    assert len(no_sa.clips) == (12 + 6) * 2 and no_sa.protocol == "no_sa"


def test_timit_duplicate_riff_and_errors(tmp_path: Path) -> None:
    root = fake.timit(tmp_path)
    speaker = next((root / "TIMIT" / "TRAIN" / "DR1").iterdir())
    fake.audio(speaker / "SA1.WAV.wav")  # a converted RIFF copy next to the SPHERE original
    clips = [c for c in timit.load(root).clips if c.speaker == speaker.name.lower()]
    assert len(clips) == 4 and any(c.path.endswith("SA1.WAV") for c in clips)
    fake.audio(root / "TIMIT" / "TEST" / "DR9" / "MABC0" / "SA1.WAV")
    with pytest.raises(CodecBenchError, match="DR9: unknown dialect region code 'dr9'"):
        timit.load(root)
    shutil.rmtree(root / "TIMIT" / "TEST")
    with pytest.raises(CodecBenchError, match="missing: train, test"):
        timit.load(root)


# --- VCTK ---

def test_vctk_v092_mics_and_split(tmp_path: Path) -> None:
    m = vctk.load(fake.vctk(tmp_path))
    assert m.classes == ["p225", "p226", "p280", "s5"] and all(c.path.endswith("_mic1.flac") for c in m.clips)
    for speaker in m.classes:
        counts = [sum(c.speaker == speaker for c in m.split(s)) for s in ("train", "validation", "test")]
        assert counts == [8, 1, 1]
    mic2 = vctk.load(tmp_path, "utterance_mic2")
    assert "p280" not in mic2.classes and all(c.path.endswith("_mic2.flac") for c in mic2.clips)


def test_vctk_v080_and_errors(tmp_path: Path) -> None:
    m = vctk.load(fake.vctk(tmp_path / "v80", version="0.80"))
    assert len(m.clips) == 40 and m.clips[0].path.endswith(".wav")
    with pytest.raises(CodecBenchError, match="no mic2"):
        vctk.load(tmp_path / "v80", "utterance_mic2")
    with pytest.raises(CodecBenchError, match=r"missing: wav48_silence_trimmed/ \(v0\.92\) or wav48/"):
        vctk.load(tmp_path)


# --- Clotho-AQA ---

def test_clotho_aqa_questions_and_majority(tmp_path: Path) -> None:
    root = fake.clotho_aqa(tmp_path)
    (root / "audio_files" / "park.wav").unlink()
    m = clotho_aqa.load(root)
    assert m.task == "aqa" and len(m.split("train")) == 4 and len(m.split("validation")) == 2
    assert len(m.split("test")) == 0 and len(m.skipped) == 2  # both questions on the missing file
    clip = next(c for c in m.clips if c.id == "birds a.wav#q1")
    assert clip.extra["question"] == "Is there a bird?" and clip.extra["answers"] == ["yes", "yes", "no"]
    assert clip.labels == ("yes",)
    assert next(c for c in m.clips if c.id == "birds a.wav#q2").labels == ("car",)  # no majority: first answer
    assert clotho_aqa.majority(["bus", "truck", "truck"]) == "truck"
    (root / "clotho_aqa_test.csv").unlink()
    with pytest.raises(CodecBenchError, match="missing: clotho_aqa_test.csv"):
        clotho_aqa.load(root)


# --- hub source ---

def _tiny_hub_dataset(folder: Path, as_parquet: bool) -> Path:
    import datasets

    features = datasets.Features({"audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
                                  "category": datasets.ClassLabel(names=["dog_bark", "rain"]),
                                  "speaker": datasets.Value("string")})
    wav, flac = fake._encoded("WAV"), fake._encoded("FLAC")
    rows = {"audio": [{"bytes": b, "path": f"{i}.x"} for i, b in enumerate([wav, flac, wav, flac] * 2)],
            "category": [0, 1] * 4, "speaker": [f"s{i % 3}" for i in range(8)]}
    ds = datasets.Dataset.from_dict(rows, features=features).cast_column("audio", datasets.Audio(decode=False))
    if not as_parquet:
        datasets.DatasetDict({"train": ds, "test": ds.select(range(4))}).save_to_disk(str(folder))
        return folder
    (folder / "data").mkdir(parents=True)
    ds.to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    ds.select(range(4)).to_parquet(str(folder / "data" / "test-00000-of-00001.parquet"))
    return folder


@pytest.mark.parametrize("as_parquet", [True, False])
def test_hub_source_offline(tmp_path: Path, as_parquet: bool) -> None:
    repo = _tiny_hub_dataset(tmp_path / "mirror", as_parquet)
    cache = tmp_path / "cache"
    m = hub.load_from_hub("esc50", str(repo), None, "category", cache_dir=cache, speaker_field="speaker",
                          validation_fraction=0.25)
    assert m.protocol == "hub" and m.task == "single_label" and m.classes == ["dog bark", "rain"]
    assert [len(m.split(s)) for s in ("train", "validation", "test")] == [6, 2, 4]
    assert {Path(c.path).suffix for c in m.clips} == {".wav", ".flac"} and m.clips[0].speaker == "s0"
    data, rate = sf.read(m.clips[1].path)
    assert rate == 16000 and data.shape == (1600,)
    assert (cache / "esc50" / "manifest" / "info.json").is_file()
    again = hub.load_from_hub("esc50", "no/such-repo", None, "category", cache_dir=cache)  # manifest reused
    assert [c.to_json() for c in again.clips] == [c.to_json() for c in m.clips]


def test_hub_errors_and_table(tmp_path: Path) -> None:
    assert hub.HUB_MIRRORS["esc50"] == ("ashraq/esc50", "category")
    assert set(SPEECH) - set(hub.HUB_MIRRORS) == {"vctk", "clotho_aqa"}  # no mirror in the original project
    repo = _tiny_hub_dataset(tmp_path / "mirror", True)
    with pytest.raises(CodecBenchError, match="no column 'label'"):
        hub.load_from_hub("x", str(repo), None, "label", cache_dir=tmp_path / "c")
    with pytest.raises(CodecBenchError, match="name the training split|names the training split"):
        hub.load_from_hub("x", str(repo), {"test": "test"}, "category", cache_dir=tmp_path / "c")
    with pytest.raises(CodecBenchError, match="cannot open the hub dataset"):
        hub.load_from_hub("x", "no-such-user/no-such-dataset", None, "label", cache_dir=tmp_path / "c")
    assert hub._label(3, None, hub.HUB_LABEL_MAPS["emovo"] | {"3": "fear"}) == "fear"
    assert hub._label("DR8", None, hub.HUB_LABEL_MAPS["timit"]) == "Army Brat"


def test_hub_known_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _tiny_hub_dataset(tmp_path / "mirror", True)
    monkeypatch.setitem(hub.HUB_MIRRORS, "ravdess", (str(repo), "category"))
    m = hub.load_mirror("ravdess", tmp_path / "cache")
    assert m.domain == "speech" and m.instruction == DATASETS["ravdess"].instruction
    with pytest.raises(CodecBenchError, match="no known hub mirror"):
        hub.load_mirror("clotho_aqa", tmp_path / "cache")
