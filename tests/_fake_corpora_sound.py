"""Tiny fake sound and music corpora in their official layouts, for the loader tests.

Each builder writes a few 0.1-s noise clips (the loaders never decode them) plus metadata files with the real
column names and file-name patterns under ``root`` and returns ``root``.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from codec_bench.data.magnatagatune import TOP50


@lru_cache(maxsize=None)
def _encoded(fmt: str) -> bytes:
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, 1600).astype(np.float32)  # 0.1 s at 16 kHz
    buffer = io.BytesIO()
    sf.write(buffer, noise, 16000, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def audio(path: Path) -> Path:
    """A 0.1-s noise clip; ``.au`` is a real AU file, every other suffix gets WAV bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_encoded("AU" if path.suffix == ".au" else "WAV"))
    return path


def table(path: Path, header: list[str] | None, rows: list[list], delimiter: str = ",", quote_all: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        writer.writerows(([header] if header else []) + rows)
    return path


ESC50_CLASSES = {0: "dog", 10: "rain", 30: "door_wood_knock"}
ESC10_TARGETS = (0, 10)  # dog and rain are ESC-10 classes, door_wood_knock is not


def esc50(root: Path) -> Path:
    """5 folds x 3 classes x 2 takes = 30 clips; both takes of a (fold, class) are cut from one ``src_file``."""
    rows = []
    for fold in range(1, 6):
        for target, category in ESC50_CLASSES.items():
            for take in "AB":
                name = f"{fold}-{1000 * fold + target}-{take}-{target}.wav"
                audio(root / "audio" / name)
                rows.append([name, fold, target, category, target in ESC10_TARGETS, 1000 * fold + target, take])
    table(root / "meta" / "esc50.csv", ["filename", "fold", "target", "category", "esc10", "src_file", "take"], rows)
    return root


def urbansound8k(root: Path) -> Path:
    """10 fold folders x 2 classes x 2 slices = 40 clips; the 2 slices of a (fold, class) share one ``fsID``."""
    rows = []
    for fold in range(1, 11):
        for class_id, name in ((1, "car_horn"), (8, "siren")):
            for slice_id in range(2):
                fs_id = 100 * fold + class_id
                file = f"{fs_id}-{class_id}-0-{slice_id}.wav"
                audio(root / "audio" / f"fold{fold}" / file)
                rows.append([file, fs_id, 0.0, 1.0, 1, fold, class_id, name])
    header = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
    table(root / "metadata" / "UrbanSound8K.csv", header, rows)
    return root


FSD_DEV = [  # fname, labels, split
    (101, "Bark,Dog,Domestic_animals_and_pets,Animal", "train"),
    (102, "Bark,Dog,Domestic_animals_and_pets,Animal", "train"),
    (103, "Accelerating_and_revving_and_vroom,Vehicle", "train"),
    (104, "Accelerating_and_revving_and_vroom,Vehicle", "train"),
    (105, "Bark,Dog,Domestic_animals_and_pets,Animal", "val"),
    (106, "Accelerating_and_revving_and_vroom,Vehicle", "val"),
]
FSD_EVAL = [(201, "Bark,Dog,Domestic_animals_and_pets,Animal"), (202, "Vehicle,Car_passing_by")]


def fsd50k(root: Path) -> Path:
    for fname, _, _ in FSD_DEV:
        audio(root / "FSD50K.dev_audio" / f"{fname}.wav")
    for fname, _ in FSD_EVAL:
        audio(root / "FSD50K.eval_audio" / f"{fname}.wav")
    gt = root / "FSD50K.ground_truth"
    table(gt / "dev.csv", ["fname", "labels", "mids", "split"], [[f, l, "/m/0", s] for f, l, s in FSD_DEV], quote_all=True)
    table(gt / "eval.csv", ["fname", "labels", "mids"], [[f, l, "/m/0"] for f, l in FSD_EVAL], quote_all=True)
    table(gt / "vocabulary.csv", None, [[0, "Bark", "/m/05tny_"]])
    return root


def arca23k_fsd(root: Path) -> Path:
    """train 4, val 2, test 2 clips over 2 classes."""
    files = {"train": (1, 2, 3, 4), "val": (5, 6), "test": (7, 8)}
    for split, fnames in files.items():
        folder = "FSD50K.eval_audio" if split == "test" else "FSD50K.dev_audio"
        rows = [[f, "Bass_guitar" if f % 2 else "Crumpling_and_crinkling", "/m/0"] for f in fnames]
        for f in fnames:
            audio(root / folder / f"{f}.wav")
        table(root / "ARCA23K-FSD.ground_truth" / f"{split}.csv", ["fname", "label", "mid"], rows)
    return root


def vivae(root: Path) -> Path:
    """11 speakers x 2 emotions = 22 clips in full_set/, 1 in core_set/."""
    for speaker in range(1, 12):
        for emotion, intensity in (("achievement", "low"), ("anger", "peak")):
            audio(root / "full_set" / f"S{speaker:02d}_{emotion}_{intensity}_01.wav")
    audio(root / "core_set" / "S01_achievement_low_01.wav")
    return root


FMA_GENRES = ("Rock", "Hip-Hop")


def fma_small(root: Path, flat: bool = False) -> Path:
    """20 small tracks (14 training, 3 validation, 3 test) by 10 artists (2 tracks each), 1 medium track, 1 small
    track without a genre."""
    rows = []
    for i in range(20):
        track_id = 1000 * (i % 3) + i + 2
        split = "training" if i < 14 else "validation" if i < 17 else "test"
        rows.append([track_id, f"album {i}", 500 + i // 2, f"artist {i // 2}", split, "small", FMA_GENRES[i % 2],
                     f"title {i}"])
    rows.append([99999, "x", 1, "y", "training", "medium", "Rock", "z"])
    rows.append([88888, "x", 2, "y", "training", "small", "", "z"])
    for track_id, *_ in rows:
        name = f"{track_id:06d}.mp3"
        audio(root / "fma_small" / (name if flat else f"{name[:3]}/{name}"))
    (root / "fma_small" / "README.txt").write_text("fma_small\n")
    table(root / "fma_metadata" / "tracks.csv", None, [
        ["", "album", "artist", "artist", "set", "set", "track", "track"],
        ["", "title", "id", "name", "split", "subset", "genre_top", "title"],
        ["track_id", "", "", "", "", "", "", ""],
        *rows,
    ])
    return root


MTT_ROWS = [  # clip_id, folder, tags
    (2, "0", ("guitar", "classical")), (6, "0", ("guitar",)), (10, "1", ("rock", "male vocal")),
    (12, "b", ("classical", "rock")), (35644, "0", ("guitar",)), (20, "c", ("guitar",)),
    (21, "c", ("singer",)), (30, "d", ("rock",)), (31, "f", ("classical", "guitar")),
]


def magnatagatune(root: Path) -> Path:
    """9 rows: 1 broken clip id, 1 clip with only a non-top-50 tag; folders 0, 1, b (train), c (val), d, f (test)."""
    tags = [*TOP50, "singer"]
    rows = []
    for clip_id, folder, clip_tags in MTT_ROWS:
        mp3 = f"{folder}/artist-album-{clip_id:02d}-track_{clip_id}-0-29.mp3"
        audio(root / mp3)
        rows.append([clip_id, *[int(t in clip_tags) for t in tags], mp3])
    table(root / "annotations_final.csv", ["clip_id", *tags, "mp3_path"], rows, delimiter="\t", quote_all=True)
    return root


IRMAS_TEST = {  # part folder -> {name: txt content}
    "IRMAS-TestingData-Part1/Part1": {"song a-1": "pia\t\nvoi\t\n", "song a-2": "cel \n"},
    "IRMAS-TestingData-Part2/IRTestingData-Part2": {"song b-1": "voi\n"},
    "IRMAS-TestingData-Part3/Part3": {"song c-1": "pia\ncel\t\n"},
}


IRMAS_TRAIN = {  # instrument -> recording number -> excerpts; numbers run across folders, as in the corpus
    "cel": {1: 3, 2: 2}, "pia": {3: 3, 4: 2}, "voi": {5: 3, 6: 2},
}


def irmas(root: Path) -> Path:
    """Training: 3 instruments x 5 excerpts of 2 recordings (one name with a ``NNN__`` prefix); testing: 4 clips
    over the 3 parts, Part2 in its ``IRTestingData-Part2`` folder."""
    for code, recordings in IRMAS_TRAIN.items():
        for recording, excerpts in recordings.items():
            for k in range(1, excerpts + 1):
                prefix = "001__" if (code, k) == ("voi", 3) else ""
                audio(root / "IRMAS-TrainingData" / code / f"{prefix}[{code}][nod][cla]{recording:04d}__{k}.wav")
    for folder, clips in IRMAS_TEST.items():
        for name, txt in clips.items():
            audio(root / folder / f"{name}.wav")
            (root / folder / f"{name}.txt").write_text(txt)
    return root


def medley_solos_db(root: Path) -> Path:
    """2 instruments x (3 training, 1 validation, 1 test) clips in audio/."""
    rows = []
    for instrument_id, instrument in ((1, "distorted electric guitar"), (7, "violin")):
        for n, subset in enumerate(("training", "training", "training", "validation", "test")):
            uuid = f"{instrument_id}{n}aaaaaa-0000-4000-8000-000000000000"
            audio(root / "audio" / f"Medley-solos-DB_{subset}-{instrument_id}_{uuid}.wav")
            rows.append([subset, instrument, instrument_id, 10 * instrument_id + n % 2, uuid])
    table(root / "Medley-solos-DB_metadata.csv", ["subset", "instrument", "instrument_id", "song_id", "uuid4"], rows)
    return root


GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


GTZAN_FAULT_FILTERED = {  # per genre: one train, one valid, one test name of Kereliuk et al.'s lists
    "blues": (29, 0, 12), "classical": (30, 0, 11), "country": (19, 0, 30), "disco": (5, 0, 1),
    "hiphop": (2, 81, 0), "jazz": (0, 2, 73), "metal": (2, 0, 12), "pop": (2, 10, 0), "reggae": (0, 61, 34),
    "rock": (0, 38, 10),
}
GTZAN_UNLISTED = "jazz.00040"  # in no list (a fault): left out by fault_filtered


def gtzan(root: Path, per_genre: int | None = None) -> Path:
    """``.au`` files in genres/ plus a ``.mf`` list file: by default per genre the 3 names of
    ``GTZAN_FAULT_FILTERED`` and the unlisted ``GTZAN_UNLISTED`` (31 files); with ``per_genre`` the first
    ``per_genre`` numbers of every genre."""
    for genre in GTZAN_GENRES:
        numbers = range(per_genre) if per_genre else GTZAN_FAULT_FILTERED[genre]
        for n in numbers:
            audio(root / "genres" / genre / f"{genre}.{n:05d}.au")
    if not per_genre:
        audio(root / "genres" / "jazz" / f"{GTZAN_UNLISTED}.au")
    (root / "genres" / "bextract_single.mf").write_text("blues/blues.00000.au\tblues\n")
    return root


JAMENDO = {  # split -> rows of (track number, artist, tags)
    "train": [(948, 87, ("genre---rock", "genre---pop")), (950, 87, ("genre---rock",)),
              (1201, 12, ("genre---pop", "genre---electronic")), (1305, 13, ("genre---electronic",))],
    "validation": [(2001, 20, ("genre---rock",)), (2002, 20, ("genre---pop", "genre---electronic"))],
    "test": [(3001, 30, ("genre---electronic", "genre---rock")), (3002, 30, ("genre---pop",))],
}


def mtg_jamendo(root: Path) -> Path:
    """split-0 genre TSVs (8 tracks, tags spilling over columns); one track stored as ``.low.mp3``."""
    for split, rows in JAMENDO.items():
        lines = ["TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"]
        for number, artist, tags in rows:
            relpath = f"{number % 100:02d}/{number}.mp3"
            audio(root / "audio" / (relpath.replace(".mp3", ".low.mp3") if number == 3002 else relpath))
            lines.append("\t".join([f"track_{number:07d}", f"artist_{artist:06d}", "album_000001", relpath, "200.5", *tags]))
        path = root / "data" / "splits" / "split-0" / f"autotagging_genre-{split}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return root


def textgrid(intervals: list[tuple[float, float, str]]) -> str:
    """A Praat long-format TextGrid with one IntervalTier ``word``."""
    end = intervals[-1][1]
    head = (f'File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0 \nxmax = {end} \ntiers? <exists> \n'
            f'size = 1 \nitem []: \n    item [1]:\n        class = "IntervalTier" \n        name = "word" \n'
            f"        xmin = 0 \n        xmax = {end} \n        intervals: size = {len(intervals)} \n")
    body = "".join(f"        intervals [{i}]:\n            xmin = {a} \n            xmax = {b} \n"
                   f'            text = "{t}" \n' for i, (a, b, t) in enumerate(intervals, start=1))
    return head + body


FLUSENSE_VIDEO = "-4LOcUpXMzc"  # two excerpts of this YouTube video: they must share a split
FLUSENSE = {  # stem -> intervals; 6 cough-dominant, 3 speech-dominant, 1 with no label, 1 without audio
    **{f"cough{n}_0_000-10_000": [(0, 6, "cough"), (6, 7, "throat-clearing"), (7, 10, "silence")] for n in range(4)},
    **{f"{FLUSENSE_VIDEO}_{a}_000-{a + 10}_000": [(0, 4, "cough"), (4, 10, "etc")] for a in (30, 60)},
    **{f"speech{n}": [(0, 2, "etc"), (2, 3, "sneeze"), (3, 10, "speech")] for n in range(3)},
    "quiet": [(0, 5, "silence"), (5, 10, "etc")],
    "noaudio": [(0, 10, "cough")],
}


def flusense(root: Path) -> Path:
    for stem, intervals in FLUSENSE.items():
        path = root / "flusense_data" / f"{stem}.TextGrid"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textgrid(intervals))
        if stem != "noaudio":
            audio(root / "audio" / f"{stem}.wav")
    return root


def folder(root: Path, splits: bool = False) -> Path:
    """2 labels x 5 clips, flat (ROOT/<label>/) or in split folders (train 5 per label, test 1 per label)."""
    for label in ("dog_bark", "cat"):
        if splits:
            for n in range(5):
                audio(root / "train" / label / f"{n}.wav")
            audio(root / "test" / label / "t.wav")
        else:
            for n in range(5):
                audio(root / label / ("sub" if n == 0 else "") / f"{n}.flac")
    (root / "notes.txt").write_text("not audio\n")
    return root
