"""UrbanSound8K: 8,732 labelled urban sound excerpts (<= 4 s) in 10 classes, in 10 predefined folds.

- Source: J. Salamon, C. Jacoby, J. P. Bello, "A Dataset and Taxonomy for Urban Sound Research" (ACM MM 2014);
  zenodo.org/record/1203745 (``UrbanSound8K.tar.gz``).
- License: CC BY-NC 3.0 (stated in the corpus README; [uncertain] in DATASETS.md, not re-checked here).
- Layout: ``audio/fold1 .. fold10/{fsID}-{classID}-{occurrenceID}-{sliceID}.wav`` and
  ``metadata/UrbanSound8K.csv`` (``slice_file_name, fsID, start, end, salience, fold, classID, class``).
  The audio keeps each file's original rate, depth and channels; ``audio.py`` resamples and downmixes.
- Label: ``class`` made readable (``air_conditioner`` -> ``air conditioner``); single-label, 10 classes.
- Protocols (10 folds; the README asks for the predefined folds, never a reshuffle; fold k = test):
  ``official``: validation = the next fold (cyclic), train = the other 8 folds;
  ``arch``: ARCH's proportions: validation = a random 20 % of the other 9 folds (seed 42), drawn by whole
  ``fsID`` (the Freesound recording the slices were cut from), so no recording is in both train and
  validation; train = the rest. The predefined folds already keep each recording in one fold.
  The validation fold is never inside training (the original project's fold map had that bug for folds 2-10).
- Checked against the real ``UrbanSound8K.csv``: 8,732 rows, folds 1-10, the 10 class names.
- Assumed: the file path is ``audio/fold{fold}/{slice_file_name}`` with ``fold`` from the CSV (as ARCH reads it).
"""

from __future__ import annotations

from pathlib import Path

from .common import fold_number, keep_existing, kfold_split, read_table, readable, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "urbansound8k"
NUM_FOLDS = 10
INSTRUCTION = "Which urban sound is this? Answer with its name."
LAYOUT = """ROOT/                        (UrbanSound8K/)
  audio/
    fold1/ ... fold10/
      100032-3-0-0.wav         {fsID}-{classID}-{occurrenceID}-{sliceID}.wav
  metadata/
    UrbanSound8K.csv           slice_file_name,fsID,start,end,salience,fold,classID,class"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read UrbanSound8K from its official layout; ``fold`` "1".."10" is the test fold (None = "1")."""
    root = Path(root).resolve()
    meta = root / "metadata" / "UrbanSound8K.csv"
    require(root, NAME, LAYOUT, "metadata/UrbanSound8K.csv", "audio")
    test_fold = fold_number(fold, NUM_FOLDS, NAME)
    rows = read_table(meta, ["slice_file_name", "fsID", "fold", "class"])
    relpaths = {r["slice_file_name"]: f"audio/fold{int(r['fold'])}/{r['slice_file_name']}" for r in rows}
    sources = {r["slice_file_name"]: r["fsID"] for r in rows}
    split_of = kfold_split({r["slice_file_name"]: int(r["fold"]) for r in rows}, test_fold, NUM_FOLDS, protocol,
                           groups=sources)
    clips = [
        Clip(id=relpaths[r["slice_file_name"]], path=str(root / relpaths[r["slice_file_name"]]),
             labels=(readable(r["class"]),), split=split_of[r["slice_file_name"]], extra={"fsID": r["fsID"]})
        for r in rows
    ]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(meta))
    return finalize(Manifest(NAME, "single_label", "sound", INSTRUCTION, [], clips, protocol, str(test_fold), skipped))


FOLDS = [str(k) for k in range(1, NUM_FOLDS + 1)]
SPEC = DatasetSpec(
    name=NAME, domain="sound", task="single_label", instruction=INSTRUCTION, protocols=("official", "arch"),
    layout=LAYOUT, load=load, folds={"official": FOLDS, "arch": FOLDS}, num_classes=10,
    protocol_notes={
        "official": "official 10 folds (metadata/UrbanSound8K.csv `fold`, Salamon et al. 2014): test k, validation k+1",
        "arch": "ARCH (La Quatra et al. 2024): test fold k, validation random 20 % of the rest, by fsID",
    },
)
