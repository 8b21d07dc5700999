"""ARCA23K-FSD: the single-label, 70-class subset of FSD50K (clean twin of the noisy ARCA23K).

- Source: T. Iqbal et al., "ARCA23K: An Audio Dataset for Investigating Open-Set Label Noise" (DCASE 2021);
  ground truth at zenodo.org/record/5117901, companion code github.com/tqbl/arca23k-dataset. The audio is
  FSD50K's (zenodo.org/record/4060432): unpack both into one ROOT.
- License: ground truth CC BY 4.0 [uncertain, assumed to follow FSD50K]; clips keep their Freesound licenses.
- Layout: ``ARCA23K-FSD.ground_truth/{train,val,test}.csv`` with columns ``fname, label, mid``; train and val
  clips are ``FSD50K.dev_audio/{fname}.wav``, test clips ``FSD50K.eval_audio/{fname}.wav``.
- Label: ``label`` made readable (``Bass_guitar`` -> ``Bass guitar``). Single-label, 70 classes: FSD50K clips
  whose labels all lie on one leaf's ancestor path, kept for classes with enough clips per split.
- Protocol ``official``: the three ground-truth files (they inherit FSD50K's train / val / eval).
"""

from __future__ import annotations

from pathlib import Path

from .common import keep_existing, read_table, readable, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "arca23k_fsd"
INSTRUCTION = "Which sound event is this? Answer with its name."
GROUND_TRUTH = "ARCA23K-FSD.ground_truth"
# ground-truth file -> (split, FSD50K audio folder)
FILES = {"train": ("train", "FSD50K.dev_audio"), "val": ("validation", "FSD50K.dev_audio"),
         "test": ("test", "FSD50K.eval_audio")}
LAYOUT = """ROOT/
  ARCA23K-FSD.ground_truth/
    train.csv            fname,label,mid
    val.csv
    test.csv
  FSD50K.dev_audio/      {fname}.wav   (train and val clips)
  FSD50K.eval_audio/     {fname}.wav   (test clips)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read ARCA23K-FSD ground truth and FSD50K audio (one protocol, no folds)."""
    root = Path(root).resolve()
    require(root, NAME, LAYOUT, *[f"{GROUND_TRUTH}/{f}.csv" for f in FILES], "FSD50K.dev_audio", "FSD50K.eval_audio")
    clips = []
    for file, (split, folder) in FILES.items():
        for row in read_table(root / GROUND_TRUTH / f"{file}.csv", ["fname", "label"]):
            relpath = f"{folder}/{row['fname']}.wav"
            clips.append(Clip(id=relpath, path=str(root / relpath), labels=(readable(row["label"]),), split=split))
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(root / GROUND_TRUTH))
    return finalize(Manifest(NAME, "single_label", "sound", INSTRUCTION, [], clips, protocol, None, skipped))


SPEC = DatasetSpec(
    name=NAME, domain="sound", task="single_label", instruction=INSTRUCTION, protocols=("official",),
    layout=LAYOUT, load=load, num_classes=70,
    protocol_notes={"official": "official ARCA23K-FSD.ground_truth train/val/test.csv (Iqbal et al. 2021), "
                                "FSD50K's own splits"},
)
