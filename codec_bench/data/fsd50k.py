"""FSD50K: 51,197 Freesound clips (0.3-30 s) with human-verified, multi-label sound-event annotations, 200 classes.

- Source: E. Fonseca et al., "FSD50K: an Open Dataset of Human-Labeled Sound Events" (TASLP 2022);
  zenodo.org/record/4060432. The split zips are merged before unpacking (``zip -s 0 ... --out unsplit.zip``).
- License: the dataset CC BY 4.0; each clip carries its own Freesound license (CC0, CC BY, CC BY-NC, Sampling+).
- Layout: ``FSD50K.dev_audio/{fname}.wav``, ``FSD50K.eval_audio/{fname}.wav`` and
  ``FSD50K.ground_truth/{dev,eval,vocabulary}.csv``. ``dev.csv``: ``fname, labels, mids, split`` with ``split``
  in {train, val}; ``eval.csv`` the same without ``split``.
- Label: ``labels`` is a quoted comma-separated list, already propagated up the AudioSet ontology; each one made
  readable (``Accelerating_and_revving_and_vroom`` -> ``Accelerating and revving and vroom``). Multi-label,
  200 classes (144 leaves + 56 intermediate nodes).
- Protocol ``official`` (= ARCH's): train / validation from ``dev.csv`` ``split`` (36,796 / 4,170 clips);
  test = ``eval.csv`` (10,231). Nothing is drawn at random here: the dev train/val split is the corpus's own,
  which its paper describes as made with the Freesound uploader in mind [uncertain: not re-read here], and
  dev and eval come from different uploads.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import CodecBenchError
from .common import keep_existing, read_table, readable, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "fsd50k"
INSTRUCTION = "Which sound events occur in this clip? Answer with their names."
LAYOUT = """ROOT/
  FSD50K.dev_audio/      {fname}.wav (40,966 clips)
  FSD50K.eval_audio/     {fname}.wav (10,231 clips)
  FSD50K.ground_truth/
    dev.csv              fname,labels,mids,split   (split: train | val)
    eval.csv             fname,labels,mids
    vocabulary.csv"""
DEV_SPLITS = {"train": "train", "val": "validation"}


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read FSD50K from its official layout (one protocol, no folds)."""
    root = Path(root).resolve()
    gt = root / "FSD50K.ground_truth"
    require(root, NAME, LAYOUT, "FSD50K.ground_truth/dev.csv", "FSD50K.ground_truth/eval.csv",
            "FSD50K.dev_audio", "FSD50K.eval_audio")
    clips = [_clip(root, "FSD50K.dev_audio", r, _dev_split(gt / "dev.csv", r)) for r in
             read_table(gt / "dev.csv", ["fname", "labels", "split"])]
    clips += [_clip(root, "FSD50K.eval_audio", r, "test") for r in read_table(gt / "eval.csv", ["fname", "labels"])]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(gt))
    return finalize(Manifest(NAME, "multi_label", "sound", INSTRUCTION, [], clips, protocol, None, skipped))


def _dev_split(source: Path, row: dict) -> str:
    if row["split"] not in DEV_SPLITS:
        raise CodecBenchError(f"{source}: clip {row['fname']} has split {row['split']!r}, not train or val; "
                              "re-extract FSD50K.ground_truth.zip")
    return DEV_SPLITS[row["split"]]


def _clip(root: Path, folder: str, row: dict, split: str) -> Clip:
    relpath = f"{folder}/{row['fname']}.wav"
    labels = tuple(sorted({readable(l) for l in row["labels"].split(",") if l.strip()}))
    return Clip(id=relpath, path=str(root / relpath), labels=labels, split=split)


SPEC = DatasetSpec(
    name=NAME, domain="sound", task="multi_label", instruction=INSTRUCTION, protocols=("official",),
    layout=LAYOUT, load=load, num_classes=200,
    protocol_notes={"official": "official FSD50K.ground_truth: dev.csv `split` train/val, eval.csv as test "
                                "(Fonseca et al. 2022; = ARCH)"},
)
