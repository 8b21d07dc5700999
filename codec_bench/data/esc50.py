"""ESC-50: environmental sound classification, 2,000 five-second clips in 50 classes (and its ESC-10 subset).

- Source: K. J. Piczak, "ESC: Dataset for Environmental Sound Classification" (ACM MM 2015);
  github.com/karolpiczak/ESC-50 (``archive/master.zip`` unpacks to ``ESC-50-master/``; ARCH renames it ``esc50/``).
- License: CC BY-NC 3.0 (the ESC-10 subset CC BY), per the corpus README.
- Layout: ``audio/{fold}-{freesound id}-{take}-{target}.wav`` (flat) and ``meta/esc50.csv`` with columns
  ``filename, fold, target, category, esc10, src_file, take``.
- Label: ``category`` made readable (``dog_bark`` -> ``dog bark``); single-label, 50 classes x 40 clips.
- Protocols (5 folds; the README: clips cut from one source recording, ``src_file``, share a fold; fold k = test):
  ``official``: validation = the next fold (cyclic), train = the other 3 folds;
  ``arch``: ARCH's proportions: validation = a random 20 % of the other 4 folds (seed 42, not stratified), drawn by
  whole ``src_file`` so no source recording has clips in both train and validation (a per-clip draw, as ARCH
  does, left 98 of the 1,524 recordings of fold 1's training folds on both sides);
  ``esc10``: the ESC-10 subset (``esc10`` column True: 400 clips, 10 classes), same folds as ``official``.
- Checked against the real ``esc50.csv``: 2,000 rows, 5 folds of 400, 50 categories, 400 ``esc10`` rows.
- Caveat (README): class-dependent band-limiting of some source recordings may leak.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import CodecBenchError
from .common import fold_number, keep_existing, kfold_split, read_table, readable, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "esc50"
NUM_FOLDS = 5
PROTOCOLS = ("official", "arch", "esc10")
INSTRUCTION = "Which environmental sound is this? Answer with its name."
LAYOUT = """ROOT/                      (ESC-50-master/ or esc50/)
  audio/
    1-100032-A-0.wav         {fold}-{freesound id}-{take}-{target}.wav, 2000 files
    ...
  meta/
    esc50.csv                filename,fold,target,category,esc10,src_file,take"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read ESC-50 (or ESC-10) from its official layout; ``fold`` "1".."5" is the test fold (None = "1")."""
    root = Path(root).resolve()
    require(root, NAME, LAYOUT, "meta/esc50.csv", "audio")
    if protocol not in PROTOCOLS:
        raise CodecBenchError(f"{NAME}: unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    test_fold = fold_number(fold, NUM_FOLDS, NAME)
    meta = root / "meta" / "esc50.csv"
    rows = read_table(meta, ["filename", "fold", "category", "esc10", "src_file"])
    if protocol == "esc10":
        rows = [r for r in rows if _is_esc10(meta, r)]
    folds = {r["filename"]: int(r["fold"]) for r in rows}
    sources = {r["filename"]: r["src_file"] for r in rows}
    split_of = kfold_split(folds, test_fold, NUM_FOLDS, "arch" if protocol == "arch" else "official", groups=sources)
    clips = [
        Clip(id=f"audio/{r['filename']}", path=str(root / "audio" / r["filename"]),
             labels=(readable(r["category"]),), split=split_of[r["filename"]], extra={"src_file": r["src_file"]})
        for r in rows
    ]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(meta))
    return finalize(Manifest(NAME, "single_label", "sound", INSTRUCTION, [], clips, protocol, str(test_fold), skipped))


def _is_esc10(meta: Path, row: dict) -> bool:
    if row["esc10"] not in ("True", "False"):
        raise CodecBenchError(f"{meta}: {row['filename']} has esc10 {row['esc10']!r}, not True or False; "
                              "use the original meta/esc50.csv")
    return row["esc10"] == "True"


FOLDS = [str(k) for k in range(1, NUM_FOLDS + 1)]
SPEC = DatasetSpec(
    name=NAME, domain="sound", task="single_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, folds={p: FOLDS for p in PROTOCOLS}, num_classes=50,
    protocol_notes={
        "official": "official 5 folds (meta/esc50.csv `fold`, Piczak 2015): test fold k, validation fold k+1",
        "arch": "ARCH (La Quatra et al. 2024): test fold k, validation random 20 % of the rest, by src_file",
        "esc10": "ESC-10 subset (meta/esc50.csv `esc10`, 400 clips, 10 classes), official folds",
    },
)
