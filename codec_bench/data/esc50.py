"""ESC-50: environmental sound classification, 2,000 five-second clips in 50 classes.

- Source: K. J. Piczak, "ESC: Dataset for Environmental Sound Classification" (ACM MM 2015);
  github.com/karolpiczak/ESC-50 (``archive/master.zip`` unpacks to ``ESC-50-master/``; ARCH renames it ``esc50/``).
- License: CC BY-NC 3.0 (the ESC-10 subset CC BY), per the corpus README.
- Layout: ``audio/{fold}-{freesound id}-{take}-{target}.wav`` (flat) and ``meta/esc50.csv`` with columns
  ``filename, fold, target, category, esc10, src_file, take``.
- Label: ``category`` made readable (``dog_bark`` -> ``dog bark``); single-label, 50 classes x 40 clips.
- Protocols (5 folds, clips from one source recording share a fold; fold k = test):
  ``official``: validation = the next fold (cyclic), train = the other 3 folds;
  ``arch``: validation = a random 20 % of the other 4 folds (seed 42, not stratified), train = the rest.
- Caveat (README): class-dependent band-limiting of some source recordings may leak.
"""

from __future__ import annotations

from pathlib import Path

from .common import fold_number, keep_existing, kfold_split, read_table, readable, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "esc50"
NUM_FOLDS = 5
INSTRUCTION = "Which environmental sound is this? Answer with its name."
LAYOUT = """ROOT/                      (ESC-50-master/ or esc50/)
  audio/
    1-100032-A-0.wav         {fold}-{freesound id}-{take}-{target}.wav, 2000 files
    ...
  meta/
    esc50.csv                filename,fold,target,category,esc10,src_file,take"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read ESC-50 from its official layout; ``fold`` "1".."5" is the test fold (None = "1")."""
    root = Path(root).resolve()
    require(root, NAME, LAYOUT, "meta/esc50.csv", "audio")
    test_fold = fold_number(fold, NUM_FOLDS, NAME)
    rows = read_table(root / "meta" / "esc50.csv", ["filename", "fold", "category"])
    split_of = kfold_split({r["filename"]: int(r["fold"]) for r in rows}, test_fold, NUM_FOLDS, protocol)
    clips = [
        Clip(id=f"audio/{r['filename']}", path=str(root / "audio" / r["filename"]),
             labels=(readable(r["category"]),), split=split_of[r["filename"]])
        for r in rows
    ]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(root / "meta" / "esc50.csv"))
    return finalize(Manifest(NAME, "single_label", "sound", INSTRUCTION, [], clips, protocol, str(test_fold), skipped))


FOLDS = [str(k) for k in range(1, NUM_FOLDS + 1)]
SPEC = DatasetSpec(
    name=NAME, domain="sound", task="single_label", instruction=INSTRUCTION, protocols=("official", "arch"),
    layout=LAYOUT, load=load, folds={"official": FOLDS, "arch": FOLDS}, num_classes=50,
)
